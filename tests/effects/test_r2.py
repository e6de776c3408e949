"""r2() against performance 0.10.2 ``r2_nakagawa`` (tests/reference/effects)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference_cases import ALL_CASES, PERFORMANCE_CASES, tolerance

import alliancestats as als
from alliancestats.errors import ParameterError


def test_grid_is_complete(effects_reference):
    assert sorted(effects_reference("variance_reference")["cases"]) == sorted(ALL_CASES)


@pytest.mark.parametrize("name", PERFORMANCE_CASES)
def test_r2_matches_performance(name, effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"][name]
    res = als.r2(reference_fit(case))
    tol = tolerance(case)
    assert res.conditional == pytest.approx(case["r2_conditional"], rel=tol)
    assert res.marginal == pytest.approx(case["r2_marginal"], rel=tol, abs=1e-12)


@pytest.mark.parametrize(
    ("name", "conditional", "marginal"),
    [("iris", 0.969409, 0.658462), ("sleepstudy", 0.799220, 0.278651),
     ("cbpp_logit", 0.187214, 0.085363)],
)
def test_published_values(name, conditional, marginal, effects_reference, reference_fit):
    """performance 0.10.2's printed values (6 decimals) on lme4's classic examples."""
    case = effects_reference("variance_reference")["cases"][name]
    res = als.r2(reference_fit(case))
    # 6 printed decimals; cbpp: glmer's default fit stops ~1e-4 (in R²) off the exact optimum
    tol = 5e-6 if case["family"] == "gaussian" else 2e-4
    assert res.conditional == pytest.approx(conditional, abs=tol)
    assert res.marginal == pytest.approx(marginal, abs=tol)


@pytest.mark.parametrize("name", ["grouseticks_tight", "adherence_counts_tight"])
def test_poisson_approximations_are_named(name, effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"][name]
    fit = reference_fit(case)
    table = als.r2(fit).approximations
    assert list(table.index) == ["lognormal", "delta", "trigamma"]
    for approx, ref in case["poisson"]["approximations"].items():
        # the null model is refitted in both programs (~1e-6 apart in its intercept)
        assert table.loc[approx, "marginal"] == pytest.approx(ref["marginal"], rel=1e-4)
        assert table.loc[approx, "conditional"] == pytest.approx(ref["conditional"], rel=1e-4)
        res = als.r2(fit, poisson=approx)
        assert approx in res.method
        assert res.marginal == pytest.approx(ref["marginal"], rel=1e-4)


def test_gaussian_and_binomial_have_no_poisson_table(effects_reference, reference_fit):
    cases = effects_reference("variance_reference")["cases"]
    assert als.r2(reference_fit(cases["iris"])).approximations is None
    res = als.r2(reference_fit(cases["cbpp_probit"]))
    assert res.approximations is None and res.method == "probit link: 1"


def test_components_reported(effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"]["sleepstudy"]
    res = als.r2(reference_fit(case))
    c = res.components
    total = c.fixed + c.random + c.residual
    assert res.marginal == pytest.approx(c.fixed / total, rel=1e-12)
    text = res.summary()
    for word in ("conditional", "marginal", "fixed", "random", "residual", "sigma^2"):
        assert word in text
    frame = res.to_frame()
    assert list(frame.index) == ["marginal", "conditional"]


@pytest.fixture(scope="module")
def dyestuff(reference_data):
    return als.lmm("Yield ~ 1 + (1 | Batch)", reference_data("../lmm/data/dyestuff.csv"))


def test_bootstrap_interval_is_reproducible(dyestuff):
    a = als.r2(dyestuff, ci=0.9, n_boot=6, seed=3)
    b = als.r2(dyestuff, ci=0.9, n_boot=6, seed=3, n_jobs=2)
    pd.testing.assert_frame_equal(a.ci, b.ci)  # same seed, same draws whatever n_jobs
    assert a.ci.attrs == {"level": 0.9, "n_boot": 6, "n_failed": 0}
    lo, hi = a.ci.loc["conditional", ["ci_low", "ci_high"]]
    assert 0 <= lo <= hi <= 1
    assert "bootstrap CI" in a.summary()


def test_bootstrap_replicates_follow_the_model():
    """Replicates from a model with a large ICC give conditional R² near the truth."""
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(30), 6)
    u = rng.normal(0, 2.0, 30)
    df = pd.DataFrame({"g": g.astype(str), "y": u[g] + rng.normal(0, 1.0, g.size)})
    fit = als.lmm("y ~ 1 + (1 | g)", df)
    res = als.r2(fit, ci=0.95, n_boot=8, seed=1)
    lo, hi = res.ci.loc["conditional", ["ci_low", "ci_high"]]
    assert lo <= hi
    assert 0.5 < lo and hi < 1  # true conditional R² is 4 / 5


def test_bad_arguments(dyestuff):
    with pytest.raises(ParameterError):
        als.r2(dyestuff, ci=95)
    with pytest.raises(ParameterError):
        als.r2(dyestuff, ci=0.95, n_boot=1)
    with pytest.raises(ParameterError):
        als.r2(dyestuff, poisson="exact")
