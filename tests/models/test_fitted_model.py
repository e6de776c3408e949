"""The fitted-model interface behind MixedResult (result.model), for lmm() and glmm()."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import glmm, lmm
from alliancestats.models.fitted import FittedModel, Refit
from alliancestats.simulate import simulate_sessions


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    return simulate_sessions(n_therapists=8, seed=21).dropna(subset=["pain", "adhered"])


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def lin(sessions):
    return quiet(lmm, "pain ~ session + (1 + session | patient) + (1 | therapist)", sessions)


@pytest.fixture(scope="module")
def gen(sessions):
    return quiet(glmm, "adhered ~ session + (1 | patient)", sessions)


def test_both_engines_implement_the_interface(lin, gen):
    for fit in (lin, gen):
        m = fit.model
        assert isinstance(m, FittedModel)
        np.testing.assert_allclose(m.beta, fit.fixed["estimate"])
        np.testing.assert_allclose(m.vcov_beta(), fit.vcov.to_numpy())
        np.testing.assert_allclose(m.linear_predictor(random=False), fit.predict(random=False))
        covs = m.covariances()
        assert [c.group for c in covs] == [b.group for b in m.design.random]


def test_covariances_match_varcorr(lin):
    covs = lin.model.covariances()
    vc = lin.varcorr
    pat = covs[0]
    assert pat.group == "patient" and pat.colnames == ("(Intercept)", "session")
    var = vc[(vc.grp == "patient") & vc.var2.isna()]["vcov"].to_numpy()
    np.testing.assert_allclose(np.diag(pat.cov), var)


def test_refit_to_own_response_reproduces_the_fit(lin):
    m = lin.model
    r = m.refit(m.design.y)
    assert isinstance(r, Refit)
    # the same data from the fitted optimum: equal to optimiser tolerance
    np.testing.assert_allclose(r.beta, lin.fixed["estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(r.se, lin.fixed["se"], rtol=1e-4)
    np.testing.assert_allclose(r.df, lin.fixed["df"], rtol=1e-3)
    assert r.deviance == pytest.approx(lin.deviance, rel=1e-9)
    assert r.converged


def test_refit_equals_a_full_fit_on_simulated_data(lin, sessions):
    m = lin.model
    y_new = m.simulate(np.random.default_rng(7))
    r = m.refit(y_new)
    full = quiet(
        lmm,
        "y ~ session + (1 + session | patient) + (1 | therapist)",
        m.design.data.assign(y=y_new),
    )
    # two optimisations of one criterion from different starts: optimiser tolerance
    assert r.deviance == pytest.approx(full.deviance, rel=1e-7)
    np.testing.assert_allclose(r.beta, full.fixed["estimate"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r.df, full.fixed["df"], rtol=1e-2)
    np.testing.assert_allclose(r.p_values(), full.fixed["p"], rtol=2e-2, atol=1e-8)


def test_simulate_uses_the_given_fixed_effects(lin):
    m = lin.model
    beta = m.beta.copy()
    beta[1] = 0.0
    ys = np.array([m.simulate(np.random.default_rng(s), beta=beta) for s in range(30)])
    slope = np.polyfit(m.design.X[:, 1], ys.mean(axis=0), 1)[0]
    assert abs(slope) < 0.2 * abs(m.beta[1])


def test_glmm_refit_and_simulate(gen):
    m = gen.model
    y_new = m.simulate(np.random.default_rng(3))
    assert set(np.unique(y_new)) <= {0.0, 1.0}
    r = m.refit(y_new)
    assert np.isinf(r.df).all() and r.beta.shape == m.beta.shape
    assert m.contrast_df(np.array([0.0, 1.0])) == np.inf


@pytest.mark.parametrize(
    "random",
    [
        "(1 | patient) + (1 | therapist)",  # nested, compiled kernel
        "(1 | patient) + (1 | arm)",  # crossed scalar terms
        "(1 + session | patient) + (1 | arm)",  # crossed, general path
    ],
)
def test_refit_to_own_response_on_every_path(sessions, random):
    fit = quiet(lmm, f"pain ~ session + {random}", sessions)
    r = fit.model.refit(fit.model.design.y, ddf=False)
    # the same criterion from the fitted optimum: equal to optimiser tolerance
    assert r.deviance == pytest.approx(fit.deviance, rel=1e-9)
    np.testing.assert_allclose(r.beta, fit.fixed["estimate"], rtol=1e-6, atol=1e-8)
    assert np.isnan(r.df).all() and r.contrast_df is None


def test_glmm_publishes_response_weights_and_offset(sessions):
    d = sessions.assign(trials=np.where(np.arange(len(sessions)) % 2, 3.0, 1.0),
                        exposure=np.log(np.arange(len(sessions)) % 3 + 1.0))
    d["done"] = np.minimum(d["adhered"] * d["trials"], d["trials"])
    fit = quiet(glmm, "done ~ session + offset(exposure) + (1 | patient)", d, trials="trials",
                offset=np.full(len(d), 0.1))
    m = fit.model
    np.testing.assert_allclose(m.prior_weights, d["trials"].to_numpy())
    np.testing.assert_allclose(m.response_values, (d["done"] / d["trials"]).to_numpy())
    np.testing.assert_allclose(m.total_offset, d["exposure"].to_numpy() + 0.1)
    with pytest.raises(ValueError):
        m.prior_weights[0] = 2.0  # read-only


def test_lmm_publishes_response_weights_and_offset(lin, sessions):
    m = lin.model
    np.testing.assert_allclose(m.response_values, sessions.loc[lin.fitted.index, "pain"])
    np.testing.assert_array_equal(m.prior_weights, np.ones(lin.nobs))
    np.testing.assert_array_equal(m.total_offset, np.zeros(lin.nobs))
    with pytest.raises(ValueError):
        m.response_values[0] = 0.0


@pytest.mark.parametrize("engine", ["lmm", "glmm"])
def test_refit_covariances_follow_the_refit(lin, gen, engine):
    m = (lin if engine == "lmm" else gen).model
    y = m.simulate(np.random.default_rng(3))
    r = m.refit(y, ddf=False)
    assert [c.group for c in r.covariances] == [c.group for c in m.covariances()]
    # the refit's own θ and σ: a full fit to the same response gives the same matrices
    full = (quiet(lmm, lin.formula, lin.design.data.assign(pain=y)) if engine == "lmm"
            else quiet(glmm, gen.formula, gen.design.data.assign(adhered=y)))
    for ours, theirs in zip(r.covariances, full.model.covariances(), strict=True):
        np.testing.assert_allclose(ours.cov, theirs.cov, rtol=2e-3, atol=1e-6)


def test_refit_null_keeps_random_effects_and_offsets(lin, gen, sessions):
    null = lin.model.refit_null()
    direct = quiet(lmm, "pain ~ 1 + (1 + session | patient) + (1 | therapist)",
                   lin.design.data)
    assert list(null.fixed.index) == ["(Intercept)"]
    assert null.deviance == pytest.approx(direct.deviance, rel=1e-10)
    gnull = gen.model.refit_null()
    gdirect = quiet(glmm, "adhered ~ 1 + (1 | patient)", gen.design.data)
    assert gnull.loglik == pytest.approx(gdirect.loglik, rel=1e-8)
    y = gen.model.simulate(np.random.default_rng(4))
    assert gen.model.refit_null(y).nobs == gen.nobs
    with pytest.raises(ValueError, match="one value per fitted row"):
        lin.model.refit_null(np.zeros(3))
