"""What glmm() accepts as data and how it refuses the rest."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import alliancestats as als
from alliancestats.errors import (
    AllianceStatsWarning,
    DataValidationError,
    ModelSpecificationError,
    ParameterError,
)
from alliancestats.models import glmm
from alliancestats.models.gee import gee
from alliancestats.simulate import simulate_sessions


def test_session_data_is_accepted_like_its_frame():
    raw = simulate_sessions(n_therapists=6, seed=2)
    sd = als.load_sessions(
        raw, patient="patient", session="session", therapist="therapist",
        outcomes=["pain"], covariates=["adhered"], strict=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        from_sd = glmm("adhered ~ session + (1 | patient)", sd)
        from_df = glmm("adhered ~ session + (1 | patient)", sd.data)
    np.testing.assert_allclose(from_sd.fixed["estimate"], from_df.fixed["estimate"])
    assert from_sd.nobs == from_df.nobs


@pytest.mark.parametrize("bad", [{"a": [1, 2]}, [1, 2, 3], None])
def test_other_data_types_get_one_error_class(bad):
    with pytest.raises(ParameterError, match="DataFrame or a SessionData"):
        glmm("adhered ~ session + (1 | patient)", bad)


REF_DIR = Path(__file__).parents[1] / "reference" / "glmm"


REF = json.loads((REF_DIR / "glmm_review_cases.json").read_text())


CASES = REF["cases"]


FORMULA = "status ~ session + alliance_within + (1 | patient)"


@pytest.fixture(scope="module")
def adherence() -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / "adherence.csv")


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
    with pytest.raises(ModelSpecificationError, match="Tweedie"):
        glmm("cnt ~ x + (1 | g)", small.assign(cnt=small["cnt"] + 1), family=sm.families.Tweedie())
    with pytest.raises(ModelSpecificationError, match="contradicts"):
        glmm("y ~ x + (1 | g)", small, family=sm.families.Binomial(), link="probit")


def test_glmm_separation_and_nagq_limits_stay_clear(small) -> None:
    sep = small.assign(y=np.where(small["f3"] == "c", 0, small["y"]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        glmm("y ~ x + f3 + (1 | g)", sep)
    assert any("f3c" in str(w.message) for w in caught)
    with pytest.raises(ModelSpecificationError, match="single scalar"):
        glmm("y ~ x + (x | g)", small, nAGQ=5)
    with pytest.raises(ModelSpecificationError, match="between 0 and"):
        glmm("y ~ x + (1 | g)", small, nAGQ=-1)


def test_non_integer_trials_and_non_numeric_arrays_are_refused(small) -> None:
    # before the review: trials = 2.5 with 1 success was fitted silently (k = 1 is a whole
    # number); a list of strings as offset crashed in numpy with a bare ValueError
    with pytest.raises(DataValidationError, match="non-integer"):
        glmm("k ~ x + (1 | g)", small.assign(k=1, t=2.5), trials="t")
    with pytest.raises(DataValidationError, match="offset values must be numeric"):
        glmm("y ~ x + (1 | g)", small, offset=["a"] * len(small))


def test_no_information_rows_are_refused(small) -> None:
    # before the review: LinAlgError "Singular matrix" from numpy
    with pytest.raises(DataValidationError, match="zero trials or zero weight"):
        glmm("k ~ x + (1 | g)", small.assign(k=0, t=0), trials="t")
    with pytest.raises(DataValidationError, match="zero trials or zero weight"):
        glmm("y ~ x + (1 | g)", small, weights=np.zeros(len(small)))
    w = np.where(small["f3"] == "c", 0.0, 1.0)  # level c only on zero-weight rows
    with pytest.raises(DataValidationError, match="do not identify"):
        glmm("y ~ x + f3 + (1 | g)", small, weights=w)
