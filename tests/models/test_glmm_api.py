"""glmm(): response forms, offsets, results API, diagnostics and error handling."""

from __future__ import annotations

import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    AllianceStatsWarning,
    DataValidationError,
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
    ParameterError,
    SeparationWarning,
    SingularFitWarning,
)
from alliancestats.models import MixedResult, lrt
from alliancestats.models.glmm import glmm

DATA = pathlib.Path(__file__).resolve().parents[1] / "reference" / "glmm" / "data"


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    d = pd.read_csv(DATA / "cbpp.csv")
    d["herd"] = d["herd"].astype(str)
    d["period"] = d["period"].astype(str)
    return d


@pytest.fixture(scope="module")
def adherence() -> pd.DataFrame:
    d = pd.read_csv(DATA / "adherence.csv")
    d["patient"] = d["patient"].astype(str)
    return d


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    return pd.read_csv(DATA / "adherence_counts.csv")


@pytest.fixture(scope="module")
def cbpp_fit(cbpp):
    return glmm("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)


def quiet(*args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return glmm(*args, **kwargs)


# ----------------------------------------------------------------------- response forms
def test_cbind_trials_and_weights_give_the_same_fit(cbpp, cbpp_fit):
    by_trials = glmm("incidence ~ period + (1 | herd)", cbpp, trials="size")
    prop = cbpp.assign(prop=cbpp["incidence"] / cbpp["size"])
    by_weights = glmm("prop ~ period + (1 | herd)", prop, weights="size")
    # identical likelihoods; differences only from optimiser stopping points
    for other in (by_trials, by_weights):
        assert other.loglik == pytest.approx(cbpp_fit.loglik, rel=1e-9)
        np.testing.assert_allclose(other.fixed["estimate"], cbpp_fit.fixed["estimate"], atol=1e-5)
    assert cbpp_fit.response == "cbind(incidence, size - incidence)"


def test_result_is_a_mixed_result_with_glmm_layout(cbpp_fit):
    assert isinstance(cbpp_fit, MixedResult)
    assert list(cbpp_fit.fixed.columns) == ["estimate", "se", "df", "z", "p", "ci_low", "ci_high"]
    assert cbpp_fit.method == "Laplace"
    assert cbpp_fit.family == "binomial" and cbpp_fit.link == "logit"
    assert list(cbpp_fit.varcorr.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert "Residual" not in set(cbpp_fit.varcorr["grp"])
    assert cbpp_fit.ranef["herd"].shape == (15, 1)
    assert cbpp_fit.cond_var["herd"].shape == (15, 1, 1)
    assert np.all(cbpp_fit.cond_var["herd"] > 0)
    text = cbpp_fit.summary()
    assert "Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)" in text
    assert "z value" in text
    assert cbpp_fit.optimizer["max_scaled_gradient"] < 1e-3


def test_fixed_exp_gives_odds_ratios(cbpp_fit):
    ors = cbpp_fit.fixed_exp()
    fx = cbpp_fit.fixed
    np.testing.assert_allclose(ors["odds_ratio"], np.exp(fx["estimate"]))
    np.testing.assert_allclose(ors["ci_low"], np.exp(fx["ci_low"]))
    np.testing.assert_allclose(ors["ci_high"], np.exp(fx["ci_high"]))
    wide = cbpp_fit.fixed_exp(level=0.99)
    assert np.all(wide["ci_low"] < ors["ci_low"])


def test_fixed_exp_refuses_probit(cbpp):
    f = glmm("incidence ~ period + (1 | herd)", cbpp, trials="size", link="probit")
    with pytest.raises(ModelSpecificationError, match="probit"):
        f.fixed_exp()


def test_predict_defaults(cbpp_fit):
    link = cbpp_fit.predict()
    resp = cbpp_fit.predict(type="response")
    np.testing.assert_allclose(1 / (1 + np.exp(-link)), resp, rtol=1e-12)
    np.testing.assert_allclose(resp, cbpp_fit.fitted, rtol=1e-10)
    with pytest.raises(ValueError, match="type"):
        cbpp_fit.predict(type="odds")


# ----------------------------------------------------------------------- offsets
def test_offset_column_equals_offset_term(counts):
    f_term = quiet(
        "exercises_done ~ session + alliance_within + offset(log(exercises_prescribed))"
        " + (1 | patient)",
        counts,
        family="poisson",
    )
    f_col = quiet(
        "exercises_done ~ session + alliance_within + (1 | patient)",
        counts,
        family="poisson",
        offset="log_prescribed",
    )
    f_arr = quiet(
        "exercises_done ~ session + alliance_within + (1 | patient)",
        counts,
        family="poisson",
        offset=np.log(counts["exercises_prescribed"].to_numpy()),
    )
    # the same likelihood three ways
    assert f_col.loglik == pytest.approx(f_term.loglik, rel=1e-9)
    assert f_arr.loglik == pytest.approx(f_term.loglik, rel=1e-9)
    rr = f_col.fixed_exp()
    assert rr.columns[0] == "rate_ratio"
    # predictions on new data carry the offset (from the formula or the column)
    new = counts.head(3)
    np.testing.assert_allclose(f_col.predict(new), f_term.predict(new), atol=1e-5)
    with pytest.raises(ModelSpecificationError, match="column name"):
        f_arr.predict(new)


def test_poisson_overdispersion_detected():
    rng = np.random.default_rng(11)
    g = np.repeat(np.arange(40), 10)
    mu = np.exp(1.0 + rng.normal(0, 0.3, 40)[g])
    y_nb = rng.negative_binomial(2, 2 / (2 + mu))  # extra-Poisson variation
    y_po = rng.poisson(mu)
    d = pd.DataFrame({"y_nb": y_nb, "y_po": y_po, "g": g.astype(str)})
    over = glmm("y_nb ~ 1 + (1 | g)", d, family="poisson").overdispersion
    fine = glmm("y_po ~ 1 + (1 | g)", d, family="poisson").overdispersion
    assert over["ratio"] > 1.5 and over["p"] < 1e-6
    assert 0.7 < fine["ratio"] < 1.3 and fine["p"] > 0.01


# ----------------------------------------------------------------------- diagnostics
def test_separation_warning_names_the_term(adherence):
    d = adherence.copy()
    rng = np.random.default_rng(3)
    d["booster"] = (rng.random(len(d)) < 0.05).astype(int)
    d.loc[d["booster"] == 1, "adhered"] = 1
    with pytest.warns(SeparationWarning, match="booster"):
        f = quiet_sep("adhered ~ session + booster + (1 | patient)", d)
    assert f.separation.separated and f.separation.terms == ["booster"]
    assert not f.separation.complete
    # the diverging coefficient shows as a huge SE
    assert f.fixed.loc["booster", "se"] > 10 * f.fixed.loc["session", "se"]


def quiet_sep(*args, **kwargs):
    """Fit letting only SeparationWarning through (huge SEs may also fail the gradient check)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        warnings.simplefilter("always", SeparationWarning)
        return glmm(*args, **kwargs)


def test_near_separation_is_not_flagged():
    d = pd.read_csv(DATA / "adherence_nearsep.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        f = glmm("adhered ~ session + booster + (1 | patient)", d)
    assert not f.separation.separated
    assert f.fixed.loc["booster", "estimate"] > 2


def test_separation_check_can_be_skipped(adherence):
    d = adherence.copy()
    d["booster"] = 0
    d.loc[d.index[:20], "booster"] = 1
    d.loc[d["booster"] == 1, "adhered"] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        warnings.simplefilter("error", SeparationWarning)
        f = glmm("adhered ~ booster + (1 | patient)", d, check_separation=False)
    assert not f.separation.separated


def test_singular_fit_warns():
    d = pd.read_csv(DATA / "adherence.csv")
    with pytest.warns(SingularFitWarning):
        f = glmm("adhered ~ session + alliance_within + (1 + session | patient)", d)
    assert f.singular
    assert "boundary (singular) fit" in f.summary()


def test_missing_rows_dropped_and_counted(adherence):
    d = adherence.copy()
    d.loc[d.index[:5], "alliance_within"] = np.nan
    with pytest.warns(DroppedRowsWarning):
        f = glmm("adhered ~ alliance_within + (1 | patient)", d)
    assert f.nobs == len(d) - 5 and f.n_dropped == 5
    d2 = adherence.copy()
    d2["tr"] = d2["exercises_prescribed"].astype(float)
    d2.loc[d2.index[:3], "tr"] = np.nan
    with pytest.warns(DroppedRowsWarning, match="trials"):
        f2 = glmm("exercises_done ~ alliance_within + (1 | patient)", d2, trials="tr")
    assert f2.n_dropped == 3


def test_lrt_between_nested_glmms(adherence):
    small = glmm("adhered ~ session + (1 | patient)", adherence)
    big = glmm("adhered ~ session + alliance_within + (1 | patient)", adherence)
    tab = lrt(small, big)
    assert tab["chisq"].iloc[1] == pytest.approx(2 * (big.loglik - small.loglik))
    assert tab["df"].iloc[1] == 1
    assert big.refit_ml() is big


# ----------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"family": "weibull"}, ModelSpecificationError, "family"),
        ({"link": "log"}, ModelSpecificationError, "link"),
        ({"nAGQ": 2.5}, ModelSpecificationError, "nAGQ"),
        (
            {"family": "poisson", "trials": "exercises_prescribed"},
            ModelSpecificationError,
            "trials",
        ),
        ({"trials": "nope"}, FormulaError, "nope"),
        ({"offset": [1.0, 2.0]}, DataValidationError, "rows"),
    ],
)
def test_argument_errors(adherence, kwargs, error, match):
    with pytest.raises(error, match=match):
        glmm("adhered ~ session + (1 | patient)", adherence, **kwargs)


def test_agq_needs_a_single_scalar_term(adherence):
    with pytest.raises(ModelSpecificationError, match="single scalar"):
        glmm("adhered ~ session + (1 | patient) + (1 | therapist)", adherence, nAGQ=5)
    with pytest.raises(ModelSpecificationError, match="single scalar"):
        glmm("adhered ~ session + (session | patient)", adherence, nAGQ=5)


def test_response_validation(adherence):
    with pytest.raises(DataValidationError, match="0/1"):
        glmm("exercises_done ~ session + (1 | patient)", adherence)
    with pytest.raises(DataValidationError, match="trials"):
        glmm("exercises_prescribed ~ session + (1 | patient)", adherence, trials="exercises_done")
    with pytest.raises(DataValidationError, match="whole counts"):
        glmm("alliance ~ session + (1 | patient)", adherence, family="poisson")
    with pytest.raises(FormulaError, match="random-effects"):
        glmm("adhered ~ session", adherence)
    with pytest.raises(FormulaError, match="sesion"):
        glmm("adhered ~ sesion + (1 | patient)", adherence)
    with pytest.raises(ParameterError, match="DataFrame"):
        glmm("adhered ~ session + (1 | patient)", adherence.to_dict())


def test_cbind_errors(cbpp):
    with pytest.raises(ModelSpecificationError, match="binomial"):
        glmm("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="poisson")
    with pytest.raises(ModelSpecificationError, match="trials"):
        glmm("cbind(incidence, size) ~ period + (1 | herd)", cbpp, trials="size")
    with pytest.raises(DataValidationError, match="negative"):
        glmm("cbind(incidence, incidence - size) ~ period + (1 | herd)", cbpp)
    with pytest.raises(FormulaError, match="two parts"):
        glmm("cbind(incidence) ~ period + (1 | herd)", cbpp)


def test_wald_confint_for_variance_components(cbpp_fit):
    ci = cbpp_fit.confint()
    assert list(ci.index) == ["sd_(Intercept)|herd", "(Intercept)", "period2", "period3", "period4"]
    sd = ci.loc["sd_(Intercept)|herd"]
    assert sd["estimate"] == pytest.approx(cbpp_fit.varcorr["sdcor"].iloc[0])
    assert 0 < sd["ci_low"] < sd["estimate"] < sd["ci_high"]
    # for a scalar term theta is the SD, so the Wald SE is sqrt(2 [H^-1]_theta,theta)
    se = np.sqrt(2 * np.linalg.inv(cbpp_fit.optimizer["hessian"])[0, 0])
    assert sd["ci_high"] - sd["estimate"] == pytest.approx(1.959963984540054 * se, rel=1e-6)
    np.testing.assert_allclose(ci.loc["period2", "ci_low"], cbpp_fit.fixed.loc["period2", "ci_low"])
    prof = cbpp_fit.confint(method="profile")
    assert prof.index[0] == "sd_(Intercept)|herd"
    p_sd = prof.loc["sd_(Intercept)|herd"]
    # the profile interval is asymmetric (longer upwards) around the same estimate
    assert p_sd["estimate"] == pytest.approx(sd["estimate"])
    assert p_sd["ci_high"] - p_sd["estimate"] > p_sd["estimate"] - p_sd["ci_low"] > 0


def test_wald_intervals_name_correlations(adherence):
    # profile intervals of random slopes: tests/models/test_profile_sdcor.py
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        f = glmm("adhered ~ session + (1 + session | patient)", adherence)
    assert "cor_session.(Intercept)|patient" in f.confint().index


def test_badly_scaled_predictor_gives_the_rescaled_fit(adherence):
    d = adherence.assign(session_k=adherence["session"] * 1000.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AllianceStatsWarning)  # no convergence warning
        big = glmm("adhered ~ session_k + alliance_within + (1 | patient)", d)
    ref = glmm("adhered ~ session + alliance_within + (1 | patient)", d)
    # the same model in other units: identical likelihood, coefficients scaled by 1000
    assert big.loglik == pytest.approx(ref.loglik, rel=1e-9)
    assert big.fixed.loc["session_k", "estimate"] * 1000 == pytest.approx(
        ref.fixed.loc["session", "estimate"], rel=1e-4
    )
    assert big.fixed.loc["session_k", "se"] * 1000 == pytest.approx(
        ref.fixed.loc["session", "se"], rel=1e-4
    )
    assert big.fixed.loc["session_k", "z"] == pytest.approx(ref.fixed.loc["session", "z"], rel=1e-4)


def test_predict_newdata_errors_are_clear(counts):
    f = glmm(
        "exercises_done ~ session + offset(log(exercises_prescribed)) + (1 | patient)",
        counts,
        family="poisson",
    )
    with pytest.raises(FormulaError, match="offset"):
        f.predict(counts[["session", "patient"]].head(2))
    with pytest.raises(FormulaError, match="random=False"):
        f.predict(counts[["session", "exercises_prescribed"]].head(2))
    pop = f.predict(counts[["session", "exercises_prescribed"]].head(2), random=False)
    np.testing.assert_allclose(pop, f.predict(random=False).iloc[:2])
    with pytest.raises(ParameterError, match="DataFrame"):
        f.predict(counts.head(2).to_dict())


def test_search_that_lands_on_zero_variance_is_restarted(monkeypatch, cbpp):
    """theta = 0 is a stationary point of the deviance by symmetry: a search started there
    stays there. Force stage 1 to return 0; the interior restart must recover lme4's optimum."""
    import importlib

    optim_module = importlib.import_module("alliancestats.models.glmm_optim")
    real = optim_module._stage1

    def zero_stage1(obj, beta0, *args, **kwargs):
        theta, beta = real(obj, beta0, *args, **kwargs)
        return np.zeros_like(theta), beta

    monkeypatch.setattr(optim_module, "_stage1", zero_stage1)
    f = glmm("incidence ~ period + (1 | herd)", cbpp, trials="size", link="probit")
    # lme4 1.1-31 (glmm_reference.json, cbpp_probit_laplace): logLik -92.6212, herd SD 0.338
    assert f.loglik == pytest.approx(-92.62122, abs=1e-4)
    assert not f.singular and f.optimizer["restarts"] >= 1


def test_lrt_refuses_mixed_quadrature(adherence):
    lap = glmm("adhered ~ session + (1 | patient)", adherence)
    agq = glmm("adhered ~ session + alliance_within + (1 | patient)", adherence, nAGQ=5)
    # lme4's nAGQ > 1 log-likelihood is on another scale for trials/Poisson data
    with pytest.raises(ModelSpecificationError):
        lrt(lap, agq)
