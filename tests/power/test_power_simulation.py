"""power_simulation: recorded replicates, power with and without failed fits, tests, warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import alliancestats.power.engine as engine
from alliancestats.errors import (
    ConvergenceWarning,
    FormulaError,
    ObservedPowerWarning,
    ParameterError,
)
from alliancestats.models import lmm
from alliancestats.power import (
    clopper_pearson,
    power_simulation,
    simulation_spec,
)
from alliancestats.power.engine import make_template, run_chunk, simulate_response
from alliancestats.power.simulation import replicate_seeds

COLUMNS = ["replicate", "seed", "estimate", "se", "df", "statistic", "p", "converged",
           "singular", "warnings", "error", "significant"]


def test_every_replicate_is_recorded(small_spec):
    res = power_simulation(small_spec, nsim=8, seed=3, n_jobs=1)
    rep = res.replicates
    assert list(rep.columns) == COLUMNS
    assert rep["replicate"].tolist() == list(range(8))
    assert rep["seed"].nunique() == 8
    assert res.n_significant == int((rep["p"] < 0.05).sum())
    assert res.power == res.n_significant / 8
    assert (res.ci_low, res.ci_high) == clopper_pearson(res.n_significant, 8)
    assert rep["df"].between(1, 48).all()  # Satterthwaite df of a 12-patient design
    assert "session" in res.summary() and "all replicates" in res.summary()


def test_recorded_seed_reproduces_a_replicate(small_spec):
    res = power_simulation(small_spec, nsim=4, seed=9, n_jobs=1)
    t = make_template(small_spec, "session", "satterthwaite")
    again = run_chunk(t, [int(res.replicates["seed"].iloc[2])])[0]
    assert again["estimate"] == res.replicates["estimate"].iloc[2]
    y = simulate_response(t, np.random.default_rng(int(res.replicates["seed"].iloc[2])))
    data = small_spec.data.assign(pain=y)
    full = lmm(small_spec.formula, data).fixed.loc["session"]
    # the fast refit and a fresh lmm() fit of the same response agree to optimiser tolerance
    assert again["estimate"] == pytest.approx(full["estimate"], rel=1e-6)
    assert again["p"] == pytest.approx(full["p"], rel=1e-4)


def test_same_seed_same_result_and_seed_sequence(small_spec):
    a = power_simulation(small_spec, nsim=5, seed=11, n_jobs=1)
    b = power_simulation(small_spec, nsim=5, seed=np.random.SeedSequence(11), n_jobs=1)
    pd.testing.assert_frame_equal(a.replicates, b.replicates)
    assert a.entropy == 11
    assert replicate_seeds(np.random.SeedSequence(11), 5) == a.replicates["seed"].tolist()


def test_power_with_and_without_failed_and_singular_fits(small_spec, monkeypatch):
    # a patient SD of zero makes most fits singular; one replicate raises
    spec = simulation_spec(small_spec.formula, small_spec.data, fixed=small_spec.fixed,
                           random={"patient": {"sd": 0.0}}, sigma=1.0, term="session")
    real = engine.fit_replicate
    calls = {"n": 0}

    def flaky(t, y):
        calls["n"] += 1
        if calls["n"] == 2:
            raise FloatingPointError("simulated failure")
        return real(t, y)

    monkeypatch.setattr(engine, "fit_replicate", flaky)
    with pytest.warns(ConvergenceWarning, match="of 10 simulated fits failed"):
        res = power_simulation(spec, nsim=10, seed=5, backend="serial")
    rep = res.replicates
    assert rep.loc[1, "error"] == "FloatingPointError: simulated failure"
    assert not rep.loc[1, "significant"]
    assert res.n_failed >= 1 and res.n_singular >= 3
    clean = rep["converged"] & ~rep["singular"] & (rep["error"] == "")
    assert res.n_clean == int(clean.sum())
    assert res.power_clean == pytest.approx(rep.loc[clean, "significant"].mean())
    table = res.table()
    assert table["replicates"].tolist() == [10, res.n_clean]


def test_lrt_test(small_spec):
    res = power_simulation(small_spec, test="lrt", nsim=4, seed=2, n_jobs=1)
    rep = res.replicates
    assert (rep["statistic"] >= 0).all() and rep["p"].between(0, 1).all()
    assert (rep["df"] == 1).all()


def test_kenward_roger_test_uses_adjusted_se_and_df(small_spec):
    kr = power_simulation(small_spec, test="kr", nsim=4, seed=2, n_jobs=1)
    satt = power_simulation(small_spec, test="satterthwaite", nsim=4, seed=2, n_jobs=1)
    assert kr.test == "kenward-roger"
    a, b = kr.replicates, satt.replicates
    # same responses and refits: same estimates; Kenward-Roger's SE is never smaller
    np.testing.assert_allclose(a["estimate"], b["estimate"], rtol=1e-10)
    assert (a["se"] >= b["se"] * (1 - 1e-10)).all()
    assert (a["df"] > 0).all() and a["p"].between(0, 1).all()


def test_lrt_needs_a_formula_term():
    rows = pd.DataFrame({"patient": [f"P{i // 3}" for i in range(30)],
                         "arm": ["a", "b"] * 15, "session": [i % 3 for i in range(30)]})
    spec = simulation_spec("y ~ arm + (1 | patient)", rows, fixed={"(Intercept)": 0,
                           "armb": 0.5}, random={"patient": {"sd": 1}}, sigma=1, term="armb")
    with pytest.raises((ParameterError, FormulaError)):
        power_simulation(spec, test="lrt", nsim=2, n_jobs=1)


def test_effect_overrides_fixed_effect(small_spec):
    res = power_simulation(small_spec, nsim=6, seed=4, n_jobs=1, effect={"session": -2.0})
    # with a huge effect every test is significant and estimates sit near -2
    assert res.power == 1.0
    assert res.replicates["estimate"].mean() == pytest.approx(-2.0, abs=0.3)


def test_observed_power_warning_from_a_fit(small_spec):
    t = make_template(small_spec, "session", "satterthwaite")
    data = small_spec.data.assign(pain=simulate_response(t, np.random.default_rng(1)))
    fit = lmm("pain ~ session + (1 | patient)", data)
    with pytest.warns(ObservedPowerWarning, match="observed power"):
        res = power_simulation(fit, nsim=3, seed=1, n_jobs=1)
    assert res.term == "session"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ObservedPowerWarning)
        power_simulation(fit, nsim=3, seed=1, n_jobs=1, effect={"session": -0.2})


def test_spec_from_fit_uses_the_estimates(small_spec):
    from alliancestats.power.spec import spec_from_fit

    t = make_template(small_spec, "session", "satterthwaite")
    data = small_spec.data.assign(pain=simulate_response(t, np.random.default_rng(3)))
    fit = lmm("pain ~ session + (1 | patient)", data)
    spec = spec_from_fit(fit)
    assert spec.fixed["session"] == fit.fixed.loc["session", "estimate"]
    vc = fit.varcorr.set_index("grp")
    assert spec.covariances["patient"][0, 0] == pytest.approx(vc.loc["patient", "vcov"])
    assert spec.sigma == fit.sigma
    assert spec.nesting.patient == "patient"


@pytest.mark.parametrize("kwargs,match", [
    (dict(term="slope"), "not a fixed effect"),
    (dict(nsim=0), "nsim"),
    (dict(alpha=1.5), "alpha"),
    (dict(test="wald"), "test must be one of"),
    (dict(backend="threads"), "backend must be one of"),
    (dict(effect={"nope": 1.0}), "not a fixed effect"),
])
def test_bad_arguments(small_spec, kwargs, match):
    with pytest.raises(ParameterError, match=match):
        power_simulation(small_spec, **{"nsim": 2, "n_jobs": 1, **kwargs})


def test_spec_checks():
    rows = pd.DataFrame({"patient": ["a", "a", "b", "b"], "session": [0, 1, 0, 1]})
    base = dict(fixed={"(Intercept)": 0, "session": 1}, random={"patient": {"sd": 1}}, sigma=1)
    with pytest.raises(ParameterError, match="missing"):
        simulation_spec("y ~ session + (1 | patient)", rows, **dict(base, fixed={"session": 1}))
    with pytest.raises(ParameterError, match="random must give the terms"):
        simulation_spec("y ~ session + (1 | patient)", rows, **dict(base, random={}))
    with pytest.raises(ParameterError, match="not a valid covariance"):
        simulation_spec("y ~ session + (1 + session | patient)", rows,
                        **dict(base, random={"patient": [[1, 2], [2, 1]]}))
    with pytest.raises(FormulaError, match="plain column name"):
        simulation_spec("np.log(y) ~ session + (1 | patient)", rows, **base)
    with pytest.raises(ParameterError, match="nested in therapists"):
        simulation_spec("y ~ session + (1 | patient)",
                        rows.assign(therapist=["t1", "t2", "t1", "t1"]), therapist="therapist",
                        patient="patient", **base)
