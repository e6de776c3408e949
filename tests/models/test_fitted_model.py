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
