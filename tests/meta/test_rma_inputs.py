"""meta_analysis() input handling: text cells, dtypes, missing values, variances, settings.

Each test pins one input that used to crash deep in numpy/pandas/formulaic, return a silent
NaN or a quietly wrong number, and now gives a specific error, a reported drop or the right
value; metafor 3.8-1 values come from tests/reference/meta/edge_cases.R.
"""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alliancestats.errors import (
    DataQualityWarning,
    DataValidationError,
    DroppedRowsWarning,
    MetaAnalysisError,
)
from alliancestats.meta import meta_analysis

YI = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15]
VI = [0.03, 0.03, 0.05, 0.01, 0.05, 0.02]

# metafor 3.8-1 values: tests/reference/meta/edge_cases.R -> edge_cases.json
EDGE = json.loads(
    (Path(__file__).parents[1] / "reference" / "meta" / "edge_cases.json").read_text()
)
EDGE_CASES = EDGE["cases"]
METHODS = ["REML", "ML", "DL", "PM", "EB", "HE", "SJ", "HS", "FE"]
TESTS = ["z", "knha"]
# where each case of edge_cases.json is checked
EDGE_CONSUMERS = {
    "trimfill_equal_variances_left": "test_bias.py",
    "extreme_variance_ratio": "test_rma_inputs.py",
    "extreme_variance_ratio_boundary": "test_rma_inputs.py",
    "identical_effects": "test_rma_inputs.py",
    "molloy2014_reml_r": "test_rma.py",
    "molloy2014_fe_r": "tests/test_datasets.py",
}


def test_edge_case_reference_grid_is_complete():
    assert EDGE["versions"]["metafor"] == "3.8.1"
    assert set(EDGE_CASES) == set(EDGE_CONSUMERS)
    fits = EDGE_CASES["identical_effects"]["fits"]
    assert set(fits) == {f"{m}_{t}" for m, t in itertools.product(METHODS, TESTS)}


# ------------------------------------------------------------------ meta_analysis
def test_nullable_string_moderator_is_coded_like_a_plain_string():
    # string[pyarrow] used to reach formulaic as raw text: ValueError "could not convert"
    base = pd.DataFrame({"yi": YI, "vi": VI, "g": list("ababab")})
    plain = meta_analysis(base, mods="~ g")
    for dtype in ("string[pyarrow]", "string[python]"):
        res = meta_analysis(base.astype({"g": dtype}), mods="~ g")
        assert res.mod_names == ["(Intercept)", "g[T.b]"]
        # same design and data, so the same numbers up to floating-point noise
        np.testing.assert_allclose(res.beta, plain.beta, rtol=1e-12)


def test_nullable_string_moderator_with_missing_value_is_dropped_and_reported():
    frame = pd.DataFrame(
        {"yi": YI, "vi": VI, "g": pd.array(["a", "b", None, "b", "a", "b"], "string[pyarrow]")}
    )
    with pytest.warns(DroppedRowsWarning, match="1 study"):
        res = meta_analysis(frame, mods="~ g")
    assert res.k == 5


def test_non_numeric_effect_size_is_an_error_not_a_missing_value():
    # "x" used to be coerced to NaN and reported as a "missing value" drop
    frame = pd.DataFrame({"yi": ["0.1", "0.2", "x", "0.4"], "vi": [0.1, 0.1, 0.1, 0.2]})
    with pytest.raises(DataValidationError, match=r"'yi' has non-numeric values.*'x'") as err:
        meta_analysis(frame)
    assert err.value.problems[["row", "value"]].values.tolist() == [[2, "x"]]


@pytest.mark.parametrize("code", ["NA", " na ", "n/a", "", "None", "#N/A", "."])
def test_missing_value_codes_in_effect_sizes_are_missing_as_in_the_loaders(code):
    # "NA" used to be a "non-numeric value" error while load_sessions reads it as missing:
    # both now follow the one list of missing-value codes
    frame = pd.DataFrame({"yi": ["0.1", code, "0.3", "0.4"], "vi": [0.1, 0.1, 0.1, 0.2]})
    with pytest.warns(DroppedRowsWarning, match="1 study"):
        res = meta_analysis(frame)
    assert res.k == 3
    direct = meta_analysis(yi=[0.1, 0.3, 0.4], vi=[0.1, 0.1, 0.2])
    assert res.estimate == pytest.approx(direct.estimate, rel=1e-12)  # same three studies


def test_missing_value_code_in_correlations_is_missing():
    with pytest.warns(DroppedRowsWarning, match="1 study"):
        res = meta_analysis(r=["0.2", "NA", 0.3, 0.25], n=[50, 60, 70, 80])
    assert res.k == 3


@pytest.mark.parametrize("vi0", [1e-20, 1e-21, 1e-300])
def test_effectively_zero_variance_is_a_clear_error(vi0):
    # vi <= 1e-20 next to ordinary variances used to raise a raw ZeroDivisionError
    with pytest.raises(MetaAnalysisError, match="effectively zero"):
        meta_analysis(yi=[0.1, 0.2, 0.4], vi=[vi0, 0.01, 0.02])


def test_uniformly_tiny_variances_are_fine():
    # the scale of the variances is not the problem, only their ratio: y -> c y, v -> c^2 v
    c = 1e-12
    res = meta_analysis(yi=[0.1 * c, 0.2 * c, 0.4 * c], vi=[c**2, 2 * c**2, c**2], method="DL")
    ref = meta_analysis(yi=[0.1, 0.2, 0.4], vi=[1.0, 2.0, 1.0], method="DL")
    assert res.estimate / c == pytest.approx(ref.estimate, rel=1e-9)  # equivariance, round-off only
    assert res.tau2 / c**2 == pytest.approx(ref.tau2, rel=1e-9)  # equivariance, round-off only


def test_knapp_hartung_with_identical_effects_warns_and_adhoc_adjusts():
    # se = 0, t = inf and a zero-width interval used to come without a word
    data = EDGE_CASES["identical_effects"]
    with pytest.warns(DataQualityWarning, match="Knapp-Hartung factor is 0.*test='adhoc'"):
        knha = meta_analysis(yi=data["yi"], vi=data["vi"], test="knha")
    assert knha.se == 0.0
    adhoc = meta_analysis(yi=data["yi"], vi=data["vi"], test="adhoc")
    z = meta_analysis(yi=data["yi"], vi=data["vi"])
    # max(1, s^2) = 1: the z standard error with a t quantile on k - 1 df
    assert adhoc.se == pytest.approx(z.se, rel=1e-12)
    assert adhoc.table["df"].iloc[0] == 4
    assert adhoc.ci_high - adhoc.estimate == pytest.approx(
        stats.t.ppf(0.975, 4) * z.se, rel=1e-12
    )  # closed form


def test_numeric_strings_and_nullable_dtypes_are_read_as_numbers():
    frame = pd.DataFrame(
        {
            "yi": pd.array([0.1, 0.2, 0.3, 0.4], dtype="Float64"),
            "vi": ["0.1", "0.1", "0.1", "0.2"],
        }
    )
    res = meta_analysis(frame)
    ref = meta_analysis(yi=[0.1, 0.2, 0.3, 0.4], vi=[0.1, 0.1, 0.1, 0.2])
    assert res.k == 4
    assert res.estimate == pytest.approx(ref.estimate, rel=1e-12)  # identical inputs


def test_non_finite_values_are_reported_as_such():
    with pytest.warns(DroppedRowsWarning, match="missing or non-finite"):
        res = meta_analysis(yi=[np.inf, 0.2, 0.3], vi=[0.1, 0.1, 0.1])
    assert res.k == 2


def test_negative_standard_error_is_rejected():
    # used to be squared silently into a valid-looking variance
    with pytest.raises(MetaAnalysisError, match="Standard errors"):
        meta_analysis(yi=[0.1, 0.2, 0.3], sei=[-0.1, 0.1, 0.1])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -0.1, "abc"])
def test_fixed_tau2_must_be_a_finite_non_negative_number(bad):
    # tau2=nan used to return a result made of NaN
    with pytest.raises(MetaAnalysisError, match="tau2"):
        meta_analysis(yi=YI, vi=VI, tau2=bad)


def test_two_dimensional_effect_sizes_are_rejected():
    # a 2 x 2 array used to be flattened silently into four studies
    with pytest.raises(MetaAnalysisError, match="one-dimensional"):
        meta_analysis(yi=[[0.1, 0.2], [0.3, 0.4]], vi=[0.1, 0.1, 0.1, 0.1])


def test_t_test_with_one_study_names_the_test_used():
    with pytest.raises(MetaAnalysisError, match=r"test='t' needs more studies"):
        meta_analysis(yi=[0.3], vi=[0.01], test="t")


def test_confint_without_residual_df_is_an_error():
    # k = 1 used to crash in scipy's root finder ("function value at x=0.0 is NaN")
    with pytest.raises(MetaAnalysisError, match="more studies than coefficients"):
        meta_analysis(yi=[0.1], vi=[0.01]).confint()


def test_confint_accepts_a_proportion_level():
    res = meta_analysis(yi=YI, vi=VI)
    pd.testing.assert_frame_equal(res.confint(0.9), res.confint(90))


def test_extreme_variance_ratio_warns_and_matches_metafor():
    # REML with vi spanning 13 orders of magnitude used to raise ZeroDivisionError in the
    # standard error of tau^2 (the p x p trace shortcut cancelled to exactly zero).
    # metafor 3.8-1: rma(yi=c(.1,.2,.3), vi=c(1e-14,.01,.1)) warns likewise.
    ref = EDGE_CASES["extreme_variance_ratio"]
    assert any("variance extremely large" in w for w in ref["warnings"])
    with pytest.warns(DataQualityWarning, match="times the smallest"):
        res = meta_analysis(yi=ref["yi"], vi=ref["vi"])
    assert res.tau2 == pytest.approx(ref["tau2"], rel=1e-5)  # iterative REML
    assert res.estimate == pytest.approx(ref["estimate"], rel=1e-5)  # depends on iterative tau2
    assert res.se_tau2 == pytest.approx(ref["se_tau2"], rel=1e-5)  # depends on iterative tau2


def test_reml_se_of_tau2_with_extreme_ratio_at_the_boundary_matches_metafor():
    # metafor 3.8-1: rma(yi=c(.1,.2,.3), vi=c(1e-10,1,.1)) gives tau2 = 0 and se.tau2
    ref = EDGE_CASES["extreme_variance_ratio_boundary"]
    assert ref["tau2"] == 0.0
    with pytest.warns(DataQualityWarning, match="times the smallest"):  # variances span 1e10
        res = meta_analysis(yi=ref["yi"], vi=ref["vi"])
    assert res.tau2 == 0.0
    # closed form at tau2 = 0, but weights spanning 1e10 cost digits: against the exact
    # 0.06868028205 (rational arithmetic) metafor is off by 5e-8 relative and we by 2e-8
    assert res.se_tau2 == pytest.approx(ref["se_tau2"], rel=1e-6)


def test_moderate_variance_ratio_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        meta_analysis(r=[0.1, 0.2, 0.3], n=[10, 100_000, 500])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", TESTS)
def test_identical_effects_give_zero_tau2_and_finite_results(method, test):
    data = EDGE_CASES["identical_effects"]
    ref = data["fits"][f"{method}_{test}"]
    args = {"yi": data["yi"], "vi": data["vi"], "method": method, "test": test}
    if method == "FE" and test == "knha":
        assert ref["warnings"]  # metafor warns too
        with pytest.warns(UserWarning, match="not meant for common-effect"):
            with pytest.warns(DataQualityWarning, match="Knapp-Hartung factor is 0"):
                res = meta_analysis(**args)
    elif test == "knha":
        assert ref["warnings"] == []  # metafor is silent; we warn about the zero-width interval
        with pytest.warns(DataQualityWarning, match="Knapp-Hartung factor is 0"):
            res = meta_analysis(**args)
    else:
        assert ref["warnings"] == []
        res = meta_analysis(**args)
    assert res.tau2 == 0.0 == ref["tau2"]
    assert res.estimate == pytest.approx(0.3, abs=1e-12)  # weighted mean of equal values
    summary = [res.se, res.ci_low, res.ci_high, res.pi_low, res.pi_high, res.i2, res.h2, res.q]
    assert np.all(np.isfinite(summary))
    # given tau2 = 0 everything below is closed form: floating-point round-off only
    closed = 1e-8
    assert res.se == pytest.approx(ref["se"], rel=closed)
    assert res.table["p"].iloc[0] == pytest.approx(ref["pval"], rel=closed)
    assert res.ci_low == pytest.approx(ref["ci_lb"], rel=closed)
    assert res.ci_high == pytest.approx(ref["ci_ub"], rel=closed)
    assert res.i2 == pytest.approx(ref["i2"], abs=1e-12)  # exactly 0 on both sides
    assert res.h2 == pytest.approx(ref["h2"], rel=closed)
    assert res.q == pytest.approx(ref["q"], abs=1e-12)  # exactly 0 on both sides
    if method != "FE":  # metafor gives no prediction interval or se.tau2 for FE
        assert res.pi_low == pytest.approx(ref["pi_lb"], rel=closed)
        assert res.pi_high == pytest.approx(ref["pi_ub"], rel=closed)
        assert res.se_tau2 == pytest.approx(ref["se_tau2"], rel=closed, abs=1e-15)  # SJ: 0
    if test == "knha" and method != "FE":
        # metafor: se 0, zval Inf, pval 0 - the weighted residual sum of squares is exactly 0
        assert ref["se"] == 0.0 and ref["zval_is_inf"] and ref["pval"] == 0.0
        assert res.se == 0.0
        assert res.table["p"].iloc[0] == 0.0


def test_duplicate_index_labels_keep_every_study():
    frame = pd.DataFrame({"yi": YI, "vi": VI, "x": [1, 2, 3, 4, 5, 6]}, index=[7] * 6)
    res = meta_analysis(frame, mods="~ x")
    assert res.k == 6
    assert list(res.labels) == ["7"] * 6


# ------------------------------------------------------------------ moderators, refit, predict
def test_single_level_categorical_moderator_is_an_error_not_a_silent_intercept_model():
    # used to fit an intercept-only model without a word (metafor refuses such a factor)
    frame = pd.DataFrame({"yi": YI, "vi": VI, "g": ["a"] * 6})
    with pytest.raises(MetaAnalysisError, match="add no column"):
        meta_analysis(frame, mods="~ g")
    # an explicit intercept-only formula stays allowed
    assert meta_analysis(frame, mods="~ 1").mod_names == ["(Intercept)"]


def test_text_moderator_array_is_an_error():
    # used to escape as ValueError: could not convert string to float
    with pytest.raises(MetaAnalysisError, match="mods='~ group'"):
        meta_analysis(yi=YI, vi=VI, mods=np.array(list("ababab")))


@pytest.mark.parametrize("subset", [[0, 99], ["a", "b"]])
def test_refit_with_bad_subset_is_an_error(subset):
    # used to raise IndexError / ValueError from numpy
    with pytest.raises(MetaAnalysisError, match="subset"):
        meta_analysis(yi=YI, vi=VI).refit(subset=subset)


def test_predict_newmods_on_an_intercept_only_model():
    with pytest.raises(MetaAnalysisError, match="no moderators"):
        meta_analysis(yi=YI, vi=VI).predict(newmods=[1, 2])


def test_predict_non_numeric_newmods():
    frame = pd.DataFrame({"yi": YI, "vi": VI, "x": [1, 2, 3, 4, 5, 6]})
    with pytest.raises(MetaAnalysisError, match=r"numeric values of the moderator columns \(x\)"):
        meta_analysis(frame, mods="~ x").predict(newmods=["high"])


@pytest.mark.parametrize("level", ["abc", None])
def test_non_numeric_level_is_an_error(level):
    # used to escape as ValueError/TypeError from float()
    with pytest.raises(MetaAnalysisError, match="level must be a number"):
        meta_analysis(yi=YI, vi=VI, level=level)


@pytest.mark.parametrize(
    ("control", "match"),
    [([1], "must be a dict"), ({"maxiter": "x"}, "maxiter"), ({"threshold": -1}, "threshold")],
)
def test_malformed_control_is_an_error(control, match):
    # a list used to raise TypeError in dict(); "x" a TypeError deep in the scoring loop
    with pytest.raises(MetaAnalysisError, match=match):
        meta_analysis(yi=YI, vi=VI, control=control)


def test_slab_naming_a_missing_column_is_an_error():
    # a 4-letter name used to become the labels 'n', 'o', 'p', 'e' of 4 studies
    with pytest.raises(MetaAnalysisError, match="slab='nope' is not a column"):
        meta_analysis(yi=YI[:4], vi=VI[:4], slab="nope")


def test_dates_given_as_effect_sizes_are_refused():
    # a datetime column used to become nanosecond counts through pandas.to_numeric
    frame = pd.DataFrame({"yi": pd.to_datetime(["2020-01-01", "2021-01-01"]), "vi": [0.1, 0.1]})
    with pytest.raises(DataValidationError, match="not numeric"):
        meta_analysis(frame)
