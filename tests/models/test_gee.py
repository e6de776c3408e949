"""gee(): tidy wrapper of statsmodels GEE (the reference; R's geepack is not installed)."""

from __future__ import annotations

import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from alliancestats.errors import (
    DataValidationError,
    DroppedRowsWarning,
    EstimationError,
    FormulaError,
    ModelSpecificationError,
)
from alliancestats.models import gee as gee_top
from alliancestats.models.gee import gee
from alliancestats.models.glmm import glmm

DATA = pathlib.Path(__file__).resolve().parents[1] / "reference" / "glmm" / "data"
FORMULA = "adhered ~ session + alliance_within + alliance_between"


@pytest.fixture(scope="module")
def adherence() -> pd.DataFrame:
    return pd.read_csv(DATA / "adherence.csv")


@pytest.fixture(scope="module")
def counts() -> pd.DataFrame:
    return pd.read_csv(DATA / "adherence_counts.csv")


def statsmodels_reference(formula, data, cov, family, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smf.gee(
            formula, groups="patient", data=data, cov_struct=cov, family=family, **kw
        ).fit(maxiter=100)


@pytest.mark.parametrize(
    ("cov_struct", "sm_cov"),
    [
        ("exchangeable", sm.cov_struct.Exchangeable()),
        ("independence", sm.cov_struct.Independence()),
        ("ar1", sm.cov_struct.Autoregressive(grid=False)),
    ],
)
def test_binary_matches_statsmodels(adherence, cov_struct, sm_cov):
    kw = {"time": "session"} if cov_struct == "ar1" else {}
    res = gee(FORMULA, adherence, groups="patient", cov_struct=cov_struct, **kw)
    ref_kw = {"time": adherence["session"].to_numpy(dtype=float)} if cov_struct == "ar1" else {}
    ref = statsmodels_reference(FORMULA, adherence, sm_cov, sm.families.Binomial(), **ref_kw)
    assert list(res.fixed.columns) == ["estimate", "se", "z", "p", "ci_low", "ci_high"]
    assert list(res.fixed.index) == [
        "(Intercept)",
        "session",
        "alliance_within",
        "alliance_between",
    ]
    # same estimator on the same data: agreement to solver precision
    np.testing.assert_allclose(res.fixed["estimate"], ref.params.to_numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(res.fixed["se"], ref.bse.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(res.fixed["p"], ref.pvalues.to_numpy(), rtol=1e-5, atol=1e-12)
    ci = ref.conf_int().to_numpy()
    np.testing.assert_allclose(res.fixed[["ci_low", "ci_high"]].to_numpy(), ci, rtol=1e-6)
    assert res.nobs == len(adherence) and res.ngroups == adherence["patient"].nunique()
    if cov_struct == "independence":
        glm = smf.glm(FORMULA, adherence, family=sm.families.Binomial()).fit()
        # independence GEE solves the GLM score equations
        np.testing.assert_allclose(res.fixed["estimate"], glm.params.to_numpy(), rtol=1e-6)
        assert res.working_correlation == 0.0
    else:
        assert 0 < res.working_correlation < 1


def test_poisson_with_offset_matches_statsmodels(counts):
    f = "exercises_done ~ session + alliance_within"
    res = gee(f, counts, groups="patient", family="poisson", offset="log_prescribed")
    ref = statsmodels_reference(
        f,
        counts,
        sm.cov_struct.Exchangeable(),
        sm.families.Poisson(),
        offset=counts["log_prescribed"].to_numpy(),
    )
    # same estimator: solver precision
    np.testing.assert_allclose(res.fixed["estimate"], ref.params.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(res.fixed["se"], ref.bse.to_numpy(), rtol=1e-6)
    res2 = gee(
        f + " + offset(log(exercises_prescribed))", counts, groups="patient", family="poisson"
    )
    np.testing.assert_allclose(res2.fixed["estimate"], res.fixed["estimate"], rtol=1e-8)
    rr = res.fixed_exp()
    np.testing.assert_allclose(rr["rate_ratio"], np.exp(res.fixed["estimate"]))


def test_marginal_effects_are_attenuated_relative_to_glmm(adherence):

    g = gee("adhered ~ alliance_within", adherence, groups="patient")
    m = glmm("adhered ~ alliance_within + (1 | patient)", adherence)
    # population-averaged logit slopes shrink towards 0 by ~1/sqrt(1 + 0.346 sigma^2)
    assert abs(g.fixed.loc["alliance_within", "estimate"]) < abs(
        m.fixed.loc["alliance_within", "estimate"]
    )


def test_summary_and_exports(adherence):
    res = gee(FORMULA, adherence, groups="patient")
    text = res.summary()
    assert "exchangeable" in text and "alliance_within" in text
    assert gee_top is gee
    assert "GeeResult" in repr(res)


def test_errors(adherence):
    with pytest.raises(ModelSpecificationError, match="time"):
        gee(FORMULA, adherence, groups="patient", cov_struct="ar1")
    with pytest.raises(ModelSpecificationError, match="cov_struct"):
        gee(FORMULA, adherence, groups="patient", cov_struct="unstructured")
    with pytest.raises(FormulaError, match="random-effect"):
        gee(FORMULA + " + (1 | patient)", adherence, groups="patient")
    with pytest.raises(FormulaError, match="groups"):
        gee(FORMULA, adherence, groups="clinic")
    with pytest.raises(DataValidationError, match="0/1"):
        gee("exercises_done ~ session", adherence, groups="patient")
    with pytest.raises(ModelSpecificationError, match="family"):
        gee(FORMULA, adherence, groups="patient", family="gamma")
    with pytest.raises(ModelSpecificationError, match="identity"):
        gee("alliance ~ session", adherence, groups="patient", family="gaussian", link="log")


def test_missing_groups_dropped(adherence):
    d = adherence.copy()
    d["patient"] = d["patient"].astype(object)
    d.loc[d.index[:4], "patient"] = None
    with pytest.warns(DroppedRowsWarning):
        res = gee(FORMULA, d, groups="patient")
    assert res.nobs == len(d) - 4 and res.n_dropped == 4


def test_gaussian_family(adherence):
    res = gee("alliance ~ session", adherence, groups="patient", family="gaussian")
    assert res.link == "identity"
    with pytest.raises(ModelSpecificationError, match="link"):
        res.fixed_exp()


def test_estimating_equations_and_sandwich_by_hand(adherence):
    """Independent check of the exchangeable GEE solution (Liang & Zeger 1986, eqs 2-3)."""
    res = gee(FORMULA, adherence, groups="patient")
    X = np.column_stack(
        [np.ones(len(adherence))]
        + [adherence[c].to_numpy(float) for c in ["session", "alliance_within", "alliance_between"]]
    )
    y = adherence["adhered"].to_numpy(float)
    beta = res.fixed["estimate"].to_numpy()
    rho = res.working_correlation
    mu = 1 / (1 + np.exp(-X @ beta))
    U = np.zeros(4)
    B = np.zeros((4, 4))
    M = np.zeros((4, 4))
    for _, idx in adherence.groupby("patient").indices.items():
        m = len(idx)
        a = mu[idx] * (1 - mu[idx])
        R = np.full((m, m), rho) + (1 - rho) * np.eye(m)
        V = np.sqrt(a)[:, None] * R * np.sqrt(a)[None, :]
        D = a[:, None] * X[idx]
        Vi = np.linalg.inv(V)
        r = y[idx] - mu[idx]
        U += D.T @ Vi @ r
        B += D.T @ Vi @ D
        g = D.T @ Vi @ r
        M += np.outer(g, g)
    # the estimating equations vanish at the solution (solver tolerance)
    assert np.max(np.abs(np.linalg.solve(B, U))) < 1e-5
    Binv = np.linalg.inv(B)
    se = np.sqrt(np.diag(Binv @ M @ Binv))
    # robust sandwich SEs recomputed by hand: same formula, rounding-level agreement
    np.testing.assert_allclose(res.fixed["se"], se, rtol=1e-5)


def test_gee_categorical_response_and_unsorted_string_groups(small) -> None:
    ref = gee("y ~ x", small, groups="g").fixed["estimate"]
    d = small.assign(y=pd.Categorical(small["y"].map({0: "no", 1: "yes"})))
    d = d.sample(frac=1.0, random_state=3)
    got = gee("y ~ x", d, groups="g").fixed["estimate"]
    # row order does not change the estimating equations; only rounding differs
    np.testing.assert_allclose(got, ref, rtol=1e-6)


def test_gee_rejects_bad_time_offset_and_single_cluster(small) -> None:
    # before the review these crashed inside statsmodels/scipy or gave SE = 0
    with pytest.raises(DataValidationError, match="time column 's' must be numeric"):
        gee("y ~ x", small.assign(s="a"), groups="g", cov_struct="ar1", time="s")
    with pytest.raises(DataValidationError, match="distinct 's' values"):
        gee("y ~ x", small.assign(s=0), groups="g", cov_struct="ar1", time="s")
    with pytest.raises(DataValidationError, match="infinite"):
        off = small.assign(o=np.where(small.index < 2, np.inf, 0.0))
        gee("cnt ~ x", off, groups="g", family="poisson", offset="o")
    with pytest.raises(DataValidationError, match="must be numeric"):
        gee("cnt ~ x", small.assign(o="a"), groups="g", family="poisson", offset="o")
    with pytest.raises(DataValidationError, match="fewer than two clusters"):
        gee("y ~ x", small.assign(g="A"), groups="g")


def test_gee_separation_is_an_error_not_nonsense(small) -> None:
    # before the review: estimates of -3.8e7 with SE 0 (separated factor) and an all-zero
    # response gave an intercept of -27.6 with SE 0.18, both without a warning
    sep = small.assign(y=np.where(small["f3"] == "a", 1, small["y"]))
    with pytest.raises(EstimationError, match="f3b"):
        gee("y ~ x + f3", sep, groups="g")
    with pytest.raises(EstimationError, match="complete separation"):
        gee("y ~ x", small.assign(y=0), groups="g")


def test_gee_fixed_exp_refuses_a_level_outside_0_1(small) -> None:
    # before the review: level=95 gave a table of NaN intervals without a word
    with pytest.raises(ValueError, match="level"):
        gee("y ~ x", small, groups="g").fixed_exp(level=95)
