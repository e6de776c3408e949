"""glmm(family="negative_binomial") against lme4::glmer.nb and glmmTMB(family = nbinom2).

References: tests/reference/glmm/glmm_nb.json, written by glmm_nb.R (lme4 1.1-31, glmmTMB
1.1.5, R 4.2.2) from the simulated overdispersed counts in data/nb_exercises.csv.

glmer.nb and alliancestats evaluate lme4's Laplace approximation, whose PIRLS weights are the
expected (Fisher) information; glmmTMB's Laplace approximation uses the observed information,
which differs for the non-canonical log link of the negative binomial. The two optima are
therefore close but not identical (theta 0.14%, log-likelihood 0.017 apart on these data):
glmer.nb is pinned tightly, glmmTMB to what that difference allows.
"""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning, DataValidationError
from alliancestats.models.glmm import glmm
from alliancestats.models.glmm_nb import theta_ml

REF_DIR = pathlib.Path(__file__).resolve().parents[1] / "reference" / "glmm"
REF = json.loads((REF_DIR / "glmm_nb.json").read_text())
CASES = REF["cases"]
DATA = pd.read_csv(REF_DIR / "data" / "nb_exercises.csv")
_FITS: dict[str, object] = {}


def fit_case(cid: str):
    if cid not in _FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AllianceStatsWarning)
            _FITS[cid] = glmm(CASES[cid]["formula"], DATA, family="negative_binomial")
    return _FITS[cid]


def test_reference_grid_is_complete():
    assert set(CASES) == {"nb_patient", "nb_nested"}
    assert REF["lme4_version"] == "1.1.31" and REF["glmmTMB_version"] == "1.1.5"
    for c in CASES.values():
        assert {"glmer_nb", "glmer_nb_tight", "glmmTMB"} <= set(c)


@pytest.mark.parametrize("cid", ["nb_patient", "nb_nested"])
def test_matches_glmer_nb(cid):
    g, gt = CASES[cid]["glmer_nb"], CASES[cid]["glmer_nb_tight"]
    f = fit_case(cid)
    # theta: glmer.nb stops its search at 5e-5 on log(theta); observed 7.5e-6 relative
    assert f.nb_theta["estimate"] == pytest.approx(gt["nb_theta"], rel=1e-4)
    assert f.nb_theta["estimate"] == pytest.approx(g["nb_theta"], rel=1e-4)
    # log-likelihood: same criterion; glmer's default PIRLS tolerance moves it by 2.6e-5
    assert f.loglik == pytest.approx(gt["loglik"], abs=1e-5)
    assert f.loglik == pytest.approx(g["loglik"], abs=1e-4)
    assert f.npar == g["npar"]  # theta counted, as lme4
    assert f.aic == pytest.approx(g["aic"], abs=2e-4)
    # fixed effects within 1e-5 (observed 7e-6), SEs at fixed theta 1e-4 relative (3.5e-6)
    assert list(f.fixed.index) == gt["terms"]
    np.testing.assert_allclose(f.fixed["estimate"], gt["estimate"], atol=1e-4)
    np.testing.assert_allclose(f.fixed["se"], gt["se"], rtol=1e-4)
    # random-effect SDs follow theta and beta (1e-4)
    np.testing.assert_allclose(f.varcorr["sdcor"], gt["sdcor"], atol=1e-4)
    np.testing.assert_allclose(f.fitted.to_numpy()[:8], gt["fitted_head"], rtol=1e-4)
    assert f.family == "negative_binomial" and "Negative Binomial(2.843" in f.summary()


@pytest.mark.parametrize("cid", ["nb_patient", "nb_nested"])
def test_theta_and_its_interval_match_glmmtmb(cid):
    tm = CASES[cid]["glmmTMB"]
    f = fit_case(cid)
    # Fisher- versus observed-information Laplace approximations (module docstring):
    # theta 0.14% apart, log-likelihood 0.017, SE of log(theta) 0.1%, interval ends 0.2%
    assert f.nb_theta["estimate"] == pytest.approx(tm["nb_theta"], rel=3e-3)
    assert f.loglik == pytest.approx(tm["loglik"], abs=0.03)
    assert f.nb_theta["se_log"] == pytest.approx(tm["se_log_theta"], rel=1e-2)
    np.testing.assert_allclose(f.nb_theta[["ci_low", "ci_high"]].to_numpy(float),
                               tm["confint_sigma"], rtol=5e-3)
    # the two approximations shift the intercept (observed 0.018 lower here, as glmer.nb);
    # slopes agree to 6.4e-4 and random-effect SDs to 1.3e-3
    np.testing.assert_allclose(f.fixed["estimate"].iloc[0], tm["estimate"][0], atol=2.5e-2)
    np.testing.assert_allclose(f.fixed["estimate"].iloc[1:], tm["estimate"][1:], atol=1e-3)
    np.testing.assert_allclose(f.varcorr["sdcor"], tm["sd"], atol=2e-3)
    # glmmTMB's fixed-effect SEs come from its joint Hessian (theta free): 0.54% apart
    np.testing.assert_allclose(f.fixed["se"], tm["se"], rtol=1e-2)
    assert not f.nb_theta["at_search_bound"]


def test_fixed_theta_and_r_spellings():
    from alliancestats.models.families import get_family

    fam = get_family("negative.binomial").with_nb_theta(2.843)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        f = glmm(CASES["nb_patient"]["formula"], DATA, family=fam)
    assert f.nb_theta is None  # a given theta is not estimated, and not counted
    assert f.npar == CASES["nb_patient"]["glmer_nb"]["npar"] - 1
    # at (nearly) glmer.nb's theta the log-likelihood is glmer.nb's (1e-3: theta rounded)
    assert f.loglik == pytest.approx(CASES["nb_patient"]["glmer_nb"]["loglik"], abs=1e-3)


def test_theta_ml_matches_a_closed_form_check():
    # with all means equal, theta.ml's score equation holds at its answer
    rng = np.random.default_rng(7)
    y = rng.negative_binomial(2.0, 2.0 / 6.0, size=3000).astype(float)
    mu = np.full(y.size, y.mean())
    th = theta_ml(y, mu, np.ones(y.size), eps=1e-10)
    from scipy import special

    score = np.sum(special.digamma(th + y) - special.digamma(th) + np.log(th) + 1
                   - np.log(th + mu) - (y + th) / (mu + th))
    assert abs(score) < 1e-6
    assert 1.7 < th < 2.3  # simulated with theta = 2


def test_non_count_responses_are_refused():
    with pytest.raises(DataValidationError, match="negative binomial"):
        glmm("y ~ session + (1 | patient)", DATA.assign(y=DATA["done"] + 0.5),
             family="negative_binomial")


def test_simulate_and_refit_keep_theta():
    f = fit_case("nb_patient")
    y = f.model.simulate(np.random.default_rng(3))
    assert y.shape == (f.nobs,) and np.all(y == np.rint(y)) and np.all(y >= 0)
    r = f.model.refit(y)
    assert r.beta.shape == (3,) and np.all(np.isfinite(r.se))


def test_all_fit_keeps_the_estimated_shape():
    from alliancestats.models.all_fit import all_fit

    f = fit_case("nb_patient")
    af = all_fit(f, ["bobyqa", "nelder_mead"])
    # refits at the estimated theta reach the same optimum (1e-4, as test_glmm_control)
    assert np.all(np.abs(af.table["loglik"] - f.loglik) < 1e-4)
    assert af.table["ok"].all()
