"""Review edge cases of glmm() and gee(): odd responses, weights, offsets, families, clusters.

Numeric claims against lme4 come from tests/reference/glmm/glmm_review_cases.R (lme4 1.1-31,
R 4.2.2) -> glmm_review_cases.json.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from alliancestats.errors import DataValidationError, EstimationError, ModelSpecificationError
from alliancestats.models.gee import gee
from alliancestats.models.glmm import glmm

REF_DIR = Path(__file__).parents[1] / "reference" / "glmm"
REF = json.loads((REF_DIR / "glmm_review_cases.json").read_text())
CASES = REF["cases"]
FORMULA = "status ~ session + alliance_within + (1 | patient)"


@pytest.fixture(scope="module")
def adherence() -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / "adherence.csv")


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 300
    d = pd.DataFrame({"g": np.repeat([f"G{i}" for i in range(30)], 10), "x": rng.normal(size=n)})
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + 0.8 * d["x"])))).astype(int)
    d["cnt"] = rng.poisson(np.exp(0.5 + 0.3 * d["x"]))
    d["f3"] = np.tile(["a", "b", "c"], 100)
    d["s"] = np.tile(np.arange(10), 30)
    return d


def _compare(fit, ref) -> None:
    est = fit.fixed["estimate"]
    for term, value in ref["fixef"].items():
        # same tolerance as test_glmm_reference.py: glmer's PIRLS stops at 1e-7 relative
        assert est[term] == pytest.approx(value, abs=1e-3)
    for term, value in ref["se"].items():
        # glmer's finite-difference Hessian on an inexact Laplace deviance: ~1% in SEs
        assert fit.fixed.loc[term, "se"] == pytest.approx(value, rel=2e-2)
    sds = fit.varcorr.loc[fit.varcorr["var2"].isna(), "sdcor"].to_numpy()
    # variance components: 1e-2 as in the main reference tests
    assert sds == pytest.approx(np.atleast_1d(ref["sd"]), rel=1e-2)
    # log-likelihood: glmer's default PIRLS tolerance shifts it by up to ~3e-6 relative
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-5)
    assert fit.nobs == ref["nobs"]


def test_reference_grid_complete() -> None:
    assert set(CASES) == {"factor_no_yes", "factor_yes_no", "zero_trials"}
    assert REF["lme4"] == "1.1.31"


@pytest.mark.parametrize(
    ("case", "levels"), [("factor_no_yes", ["no", "yes"]), ("factor_yes_no", ["yes", "no"])]
)
def test_two_level_categorical_response_first_level_is_failure(adherence, case, levels) -> None:
    # before the review: FormulaError "response must be numeric"; R accepts a two-level factor
    d = adherence.assign(
        status=pd.Categorical(np.where(adherence["adhered"] == 1, "yes", "no"), categories=levels)
    )
    _compare(glmm(FORMULA, d), CASES[case])


def test_zero_trial_rows_carry_no_weight(adherence) -> None:
    z = adherence.copy()
    first = z["session"] == 1
    z.loc[first, "exercises_prescribed"] = 0
    z.loc[first, "exercises_done"] = 0
    fit = glmm("exercises_done ~ alliance_within + (1 | patient)", z, trials="exercises_prescribed")
    _compare(fit, CASES["zero_trials"])


def test_categorical_response_with_three_levels_or_poisson_is_refused(small) -> None:
    three = small.assign(y=pd.Categorical(np.where(small["x"] > 1, "c", small["y"].astype(str))))
    with pytest.raises(DataValidationError, match="exactly two categories"):
        glmm("y ~ x + (1 | g)", three)
    two = small.assign(y=pd.Categorical(small["y"]))
    with pytest.raises(DataValidationError, match="binomial family"):
        glmm("y ~ x + (1 | g)", two, family="poisson")


def test_categorical_response_with_missing_value_is_dropped(small) -> None:
    cat = pd.Categorical(small["y"].map({0: "no", 1: "yes"}), categories=["no", "yes"])
    d = small.assign(y=cat)
    d.loc[0, "y"] = np.nan
    with pytest.warns(Warning, match="1 of 300 rows dropped"):
        fit = glmm("y ~ x + (1 | g)", d)
    assert fit.nobs == 299


@pytest.mark.parametrize("what", ["weights", "trials"])
def test_infinite_weights_or_trials_are_refused(small, what) -> None:
    # before the review: EstimationError "PIRLS step halving failed" after RuntimeWarnings
    d = small.assign(w=np.where(small.index < 2, np.inf, 1.0))
    with pytest.raises(DataValidationError, match=f"{what} has 2 infinite"):
        glmm("y ~ x + (1 | g)", d, **{what: "w"})


def test_statsmodels_family_objects_are_translated(small) -> None:
    # before the review: ModelSpecificationError "family=<...Binomial object> is not supported"
    probit = sm.families.Binomial(link=sm.families.links.Probit())
    a = glmm("y ~ x + (1 | g)", small, family=probit)
    b = glmm("y ~ x + (1 | g)", small, link="probit")
    assert a.link == "probit"
    # the same model, fitted twice by the same code: identical up to rounding
    np.testing.assert_allclose(a.fixed["estimate"], b.fixed["estimate"], rtol=1e-10)
    p = glmm("cnt ~ x + (1 | g)", small, family=sm.families.Poisson())
    assert p.family == "poisson"
    ge = gee("y ~ x", small, groups="g", family=sm.families.Binomial())
    np.testing.assert_allclose(  # same statsmodels call underneath
        ge.fixed["estimate"], gee("y ~ x", small, groups="g").fixed["estimate"], rtol=1e-10
    )


def test_unsupported_or_contradictory_statsmodels_family(small) -> None:
    with pytest.raises(ModelSpecificationError, match="Gamma"):
        glmm("cnt ~ x + (1 | g)", small.assign(cnt=small["cnt"] + 1), family=sm.families.Gamma())
    with pytest.raises(ModelSpecificationError, match="contradicts"):
        glmm("y ~ x + (1 | g)", small, family=sm.families.Binomial(), link="probit")


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


def test_glmm_separation_and_nagq_limits_stay_clear(small) -> None:
    sep = small.assign(y=np.where(small["f3"] == "c", 0, small["y"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        glmm("y ~ x + f3 + (1 | g)", sep)
    assert any("f3c" in str(w.message) for w in caught)
    with pytest.raises(ModelSpecificationError, match="single scalar"):
        glmm("y ~ x + (x | g)", small, nAGQ=5)
    with pytest.raises(ModelSpecificationError, match="between 1 and"):
        glmm("y ~ x + (1 | g)", small, nAGQ=0)


def test_non_integer_trials_and_non_numeric_arrays_are_refused(small) -> None:
    # before the review: trials = 2.5 with 1 success was fitted silently (k = 1 is a whole
    # number); a list of strings as offset crashed in numpy with a bare ValueError
    with pytest.raises(DataValidationError, match="non-integer"):
        glmm("k ~ x + (1 | g)", small.assign(k=1, t=2.5), trials="t")
    with pytest.raises(DataValidationError, match="offset values must be numeric"):
        glmm("y ~ x + (1 | g)", small, offset=["a"] * len(small))


def test_gee_fixed_exp_refuses_a_level_outside_0_1(small) -> None:
    # before the review: level=95 gave a table of NaN intervals without a word
    with pytest.raises(ValueError, match="level"):
        gee("y ~ x", small, groups="g").fixed_exp(level=95)


def test_predict_matches_float_group_ids_to_integer_groups(small) -> None:
    # before the review: a patient id 1.0 in newdata (e.g. a float column) did not match the
    # fitted group 1 and silently got the population-level prediction
    d = small.assign(gi=small["g"].str[1:].astype(int))
    fit = glmm("y ~ x + (1 | gi)", d)
    as_int = fit.predict(pd.DataFrame({"x": [0.1], "gi": [1]}))
    as_float = fit.predict(pd.DataFrame({"x": [0.1], "gi": [1.0]}))
    population = fit.predict(pd.DataFrame({"x": [0.1], "gi": [1]}), random=False)
    assert as_float.iloc[0] == as_int.iloc[0]
    assert as_float.iloc[0] != population.iloc[0]
    d_float = d.assign(gi=d["gi"].astype(float))  # ids fitted as 1.0, 2.0, ...
    fit_f = glmm("y ~ x + (1 | gi)", d_float)
    assert fit_f.predict(pd.DataFrame({"x": [0.1], "gi": [1]})).iloc[0] == pytest.approx(
        fit_f.predict(pd.DataFrame({"x": [0.1], "gi": [1.0]})).iloc[0], rel=1e-12
    )  # the same group, the same number
    pop_f = fit_f.predict(pd.DataFrame({"x": [0.1], "gi": [1]}), random=False)
    assert fit_f.predict(pd.DataFrame({"x": [0.1], "gi": [1]})).iloc[0] != pop_f.iloc[0]


def test_no_information_rows_are_refused(small) -> None:
    # before the review: LinAlgError "Singular matrix" from numpy
    with pytest.raises(DataValidationError, match="zero trials or zero weight"):
        glmm("k ~ x + (1 | g)", small.assign(k=0, t=0), trials="t")
    with pytest.raises(DataValidationError, match="zero trials or zero weight"):
        glmm("y ~ x + (1 | g)", small, weights=np.zeros(len(small)))
    w = np.where(small["f3"] == "c", 0.0, 1.0)  # level c only on zero-weight rows
    with pytest.raises(DataValidationError, match="do not identify"):
        glmm("y ~ x + f3 + (1 | g)", small, weights=w)
