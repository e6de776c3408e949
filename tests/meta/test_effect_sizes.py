"""Effect-size computation and conversions (metafor escalc values live in test_reference_grid)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliancestats.errors import ApproximationWarning, DataValidationError, MetaAnalysisError
from alliancestats.meta import (
    beta_to_r,
    chi2_to_r,
    combine_dependent,
    d_to_r,
    effect_sizes,
    f_to_r,
    meta_analysis,
    odds_ratio_to_d,
    r_to_d,
    r_to_z,
    t_to_r,
    z_to_r,
)

# Closed-form conversions: only floating-point round-off separates the two sides.
EXACT = 1e-12


def test_zcor_and_cor_variances():
    es = effect_sizes(r=[0.3, -0.2], n=[50, 103])
    np.testing.assert_allclose(es["yi"], np.arctanh([0.3, -0.2]), rtol=EXACT)
    np.testing.assert_allclose(es["vi"], [1 / 47, 1 / 100], rtol=EXACT)
    assert es.attrs["measure"] == "ZCOR"
    cor = effect_sizes(r=[0.3], n=[50], measure="COR")
    np.testing.assert_allclose(cor["vi"], [(1 - 0.09) ** 2 / 49], rtol=EXACT)
    assert cor.attrs["measure"] == "COR"


def test_d_r_round_trip_with_group_sizes():
    r = d_to_r(0.8, 30, 70)
    a = 100**2 / (30 * 70)
    assert r == pytest.approx(0.8 / np.sqrt(0.64 + a), rel=EXACT)
    assert r_to_d(r, 30, 70) == pytest.approx(0.8, rel=EXACT)
    # equal (or unknown) group sizes: a = 4
    assert d_to_r(0.5) == pytest.approx(0.5 / np.sqrt(4.25), rel=EXACT)


@given(st.floats(-0.95, 0.95))
def test_fisher_z_round_trip(r):
    assert z_to_r(r_to_z(r)) == pytest.approx(r, abs=1e-12)


def test_statistic_conversions():
    assert t_to_r(-2.0, 36) == pytest.approx(-2 / np.sqrt(40), rel=EXACT)
    assert f_to_r(4.0, 36) == pytest.approx(2 / np.sqrt(40), rel=EXACT)
    assert f_to_r(4.0, 36, direction=-1) == pytest.approx(-2 / np.sqrt(40), rel=EXACT)
    assert chi2_to_r(4.0, 100) == pytest.approx(0.2, rel=EXACT)
    d, v = odds_ratio_to_d(np.e, 0.2)
    assert d == pytest.approx(np.sqrt(3) / np.pi, rel=EXACT)
    assert v == pytest.approx(0.2 * 3 / np.pi**2, rel=EXACT)
    with pytest.raises(MetaAnalysisError, match="positive"):
        odds_ratio_to_d(-1.0)
    with pytest.raises(MetaAnalysisError, match="non-negative"):
        f_to_r(-1.0, 10)


def test_beta_to_r_is_flagged_approximate():
    with pytest.warns(ApproximationWarning, match="Peterson"):
        r = beta_to_r([0.2, -0.1, 0.0])
    np.testing.assert_allclose(r, [0.25, -0.1, 0.05], rtol=EXACT)
    with pytest.warns(ApproximationWarning, match="outside its range"):
        beta_to_r([0.7])
    with pytest.warns(ApproximationWarning):
        es = effect_sizes(r=[0.3, np.nan], beta=[np.nan, 0.2], n=[60, 80])
    assert es["approximate"].tolist() == [False, True]
    assert es["source"].tolist() == ["r", "beta"]
    assert es["r"].iloc[1] == pytest.approx(0.25)


def test_mixed_sources_row_by_row():
    df = pd.DataFrame(
        {
            "r": [0.25, np.nan, np.nan, np.nan, np.nan],
            "t": [np.nan, 2.5, np.nan, np.nan, np.nan],
            "df": [np.nan, 48, 58, np.nan, np.nan],
            "F": [np.nan, np.nan, 6.0, np.nan, np.nan],
            "d": [np.nan, np.nan, np.nan, 0.4, np.nan],
            "n1": [np.nan, np.nan, np.nan, 40, np.nan],
            "n2": [np.nan, np.nan, np.nan, 60, np.nan],
            "chi2": [np.nan, np.nan, np.nan, np.nan, 5.0],
            "n": [80, np.nan, np.nan, np.nan, 120],
        }
    )
    es = effect_sizes(
        df, r="r", t="t", df="df", f="F", d="d", n1="n1", n2="n2", chi2="chi2", n="n",
        convert=True,
    )  # fmt: skip
    assert es["source"].tolist() == ["r", "t", "F", "d (converted)", "chi2"]
    expected_r = [
        0.25,
        2.5 / np.sqrt(2.5**2 + 48),
        np.sqrt(6 / 64),
        0.4 / np.sqrt(0.16 + 100**2 / 2400),
        np.sqrt(5 / 120),
    ]
    np.testing.assert_allclose(es["r"], expected_r, rtol=EXACT)
    np.testing.assert_allclose(es["n"], [80, 50, 60, 100, 120], rtol=EXACT)
    np.testing.assert_allclose(es["vi"], 1 / (es["n"] - 3), rtol=EXACT)
    # the user's columns are kept
    assert {"r", "t", "chi2"} <= set(es.columns)


def test_odds_ratio_to_r_via_d():
    es = effect_sizes(odds_ratio=[2.0], n1=[50], n2=[50], measure="COR", convert=True)
    d = np.log(2) * np.sqrt(3) / np.pi
    assert es["r"].iloc[0] == pytest.approx(d / np.sqrt(d**2 + 4), rel=EXACT)
    assert es["source"].iloc[0] == "odds_ratio (converted)"


@pytest.mark.parametrize("given", [{"d": [0.4]}, {"odds_ratio": [2.0]}])
def test_d_is_never_silently_converted_to_r(given):
    # effect_sizes(d=...) used to return correlations without a word
    with pytest.raises(MetaAnalysisError, match="convert=True"):
        effect_sizes(**given, n1=[50], n2=[50])
    g = effect_sizes(d=[0.4], n1i=[50], n2i=[50], measure="SMD")
    assert g["yi"].iloc[0] < 0.4  # Hedges' small-sample correction shrinks d


def test_attenuation_correction():
    es = effect_sizes(r=[0.3], n=[103], rxx=0.9, ryy=0.8, measure="COR")
    assert es["r"].iloc[0] == pytest.approx(0.3 / np.sqrt(0.72), rel=EXACT)
    assert es["r_observed"].iloc[0] == pytest.approx(0.3)
    assert es["vi"].iloc[0] == pytest.approx((1 - 0.09) ** 2 / 102 / 0.72, rel=EXACT)
    z = effect_sizes(r=[0.3], n=[103], rxx=0.9, ryy=0.8)
    assert z["yi"].iloc[0] == pytest.approx(np.arctanh(0.3 / np.sqrt(0.72)), rel=EXACT)
    assert z["vi"].iloc[0] == pytest.approx(1 / 100 / 0.72, rel=EXACT)
    with pytest.raises(MetaAnalysisError, match="Reliabilities"):
        effect_sizes(r=[0.3], n=[50], rxx=1.2)
    with pytest.raises(MetaAnalysisError, match="disattenuated"):
        effect_sizes(r=[0.6], n=[50], rxx=0.5, ryy=0.5)


def test_log_risk_ratio_adds_half_only_to_zero_tables():
    es = effect_sizes(measure="RR", ai=[0, 4], bi=[10, 6], ci=[3, 2], di=[7, 8])
    a, b, c, d = 0.5, 10.5, 3.5, 7.5
    assert es["yi"].iloc[0] == pytest.approx(np.log(a / (a + b)) - np.log(c / (c + d)), rel=EXACT)
    assert es["vi"].iloc[1] == pytest.approx(1 / 4 - 1 / 10 + 1 / 2 - 1 / 10, rel=EXACT)
    assert es.attrs["measure"] == "RR"


def test_generic_passthrough_and_meta_analysis_reads_measure():
    es = effect_sizes(yi=[0.1, 0.2, 0.4], vi=[0.01, 0.02, 0.03], measure="GEN")
    assert es.attrs["measure"] == "GEN"
    res = meta_analysis(effect_sizes(r=[0.1, 0.3, 0.2], n=[50, 60, 70]))
    assert res.measure == "ZCOR"


def test_combine_dependent_borenstein():
    df = pd.DataFrame(
        {"study": ["a", "a", "a", "b"], "yi": [0.1, 0.2, 0.3, 0.5], "vi": [0.01, 0.04, 0.09, 0.02]}
    )
    out = combine_dependent(df, "study", rho=0.6)
    s = np.sqrt([0.01, 0.04, 0.09])
    cov = 0.6 * (np.sum(np.outer(s, s)) - np.sum(s**2))
    assert out["yi"].iloc[0] == pytest.approx(0.2, rel=EXACT)
    assert out["vi"].iloc[0] == pytest.approx((0.14 + cov) / 9, rel=EXACT)
    assert out["m"].tolist() == [3, 1]
    # rho = 1 gives the variance of a single effect when variances are equal
    eq = pd.DataFrame({"s": [1, 1], "yi": [0.1, 0.3], "vi": [0.02, 0.02]})
    assert combine_dependent(eq, "s", rho=1.0)["vi"].iloc[0] == pytest.approx(0.02)
    with pytest.raises(MetaAnalysisError, match="rho"):
        combine_dependent(eq, "s", rho=1.5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"r": [1.2], "n": [50]}, "between -1 and 1"),
        ({"r": [0.2], "n": [3]}, "at least 4"),
        ({"r": [0.2]}, "Sample sizes"),
        ({"t": [2.0], "n": [40]}, "df"),
        ({"measure": "XYZ", "r": [0.1], "n": [10]}, "Unknown measure"),
        ({"measure": "RR", "ai": [1]}, "needs ci"),
        ({}, "at least one"),
    ],
)
def test_bad_input_raises_actionable_error(kwargs, message):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MetaAnalysisError, match=message):
            effect_sizes(**kwargs)


def test_missing_column_is_named():
    with pytest.raises(MetaAnalysisError, match="'rr'"):
        effect_sizes(pd.DataFrame({"r": [0.1]}), r="rr", n=10)


# ------------------------------------------------------------------ input handling
def test_effect_sizes_length_mismatch_is_an_error():
    # used to crash inside pandas ("Length of values (3) does not match length of index (2)")
    with pytest.raises(MetaAnalysisError, match="n has 3 values but the effect sizes have 2"):
        effect_sizes(r=[0.2, 0.3], n=[30, 40, 50])


def test_effect_sizes_scalar_n_applies_to_every_study():
    es = effect_sizes(r=[0.2, 0.3], n=53)
    np.testing.assert_allclose(es["vi"], [0.02, 0.02], rtol=1e-12)  # 1 / (53 - 3)


def test_effect_sizes_zero_group_size_is_an_error():
    # n1 = 0 used to give r = 0 with a valid-looking variance: a quietly wrong effect
    with pytest.raises(MetaAnalysisError, match="n1 must be positive"):
        effect_sizes(d=[0.5, 0.3], n1=[0, 20], n2=[10, 20], convert=True)


def test_effect_sizes_non_positive_df_is_an_error():
    with pytest.raises(MetaAnalysisError, match="df must be positive"):
        effect_sizes(t=[2.0, 1.0], df=[0, 20])


def test_effect_sizes_non_numeric_correlation_is_an_error():
    frame = pd.DataFrame({"r": ["0.2", "x"], "n": ["30", "40"]})
    with pytest.raises(DataValidationError, match="non-numeric"):
        effect_sizes(frame, r="r", n="n")


def test_effect_sizes_empty_input_says_so():
    with pytest.raises(MetaAnalysisError, match="empty"):
        effect_sizes(r=[], n=[])


@pytest.mark.parametrize("r", [1.0, -1.0])
def test_perfect_correlations_are_rejected(r):
    with pytest.raises(MetaAnalysisError, match="strictly between -1 and 1"):
        meta_analysis(r=[r, 0.2, 0.3], n=[50, 50, 50])


def test_fisher_z_needs_at_least_four_participants():
    with pytest.raises(MetaAnalysisError, match="at least 4"):
        meta_analysis(r=[0.1, 0.2, 0.3], n=[3, 50, 50])


def test_nullable_columns_in_effect_sizes_and_categorical_refused():
    frame = pd.DataFrame({"r": pd.array([0.2, 0.3], dtype="Float64"), "n": pd.array([30, 40], dtype="Int64")})
    es = effect_sizes(frame, r="r", n="n")
    np.testing.assert_allclose(es["yi"], np.arctanh([0.2, 0.3]), rtol=1e-12)
    # categorical numbers are refused, as by every numeric column check of the library
    with pytest.raises(DataValidationError, match="not numeric"):
        effect_sizes(frame.assign(r=pd.Categorical([0.2, 0.3])), r="r", n="n")


# ------------------------------------------------------------------ combine_dependent
def test_combine_dependent_refuses_missing_cluster_instead_of_dropping_it():
    # groupby used to drop the row with a missing study id silently
    frame = pd.DataFrame({"s": [1, np.nan], "yi": [0.1, 0.2], "vi": [0.1, 0.1]})
    with pytest.raises(MetaAnalysisError, match="missing"):
        combine_dependent(frame, "s")


def test_combine_dependent_refuses_missing_effect_instead_of_returning_nan():
    frame = pd.DataFrame({"s": [1, 1], "yi": [0.1, np.nan], "vi": [0.1, 0.1]})
    with pytest.raises(MetaAnalysisError, match="missing"):
        combine_dependent(frame, "s")


def test_combine_dependent_refuses_non_positive_variance():
    frame = pd.DataFrame({"s": [1, 1], "yi": [0.1, 0.2], "vi": [-0.1, 0.1]})
    with pytest.raises(MetaAnalysisError, match="positive"):
        combine_dependent(frame, "s")


def test_combine_dependent_empty_and_duplicate_index():
    with pytest.raises(MetaAnalysisError, match="no rows"):
        combine_dependent(pd.DataFrame({"s": [], "yi": [], "vi": []}), "s")
    frame = pd.DataFrame(
        {"s": ["b", "b", "a"], "yi": ["0.2", "0.4", "0.1"], "vi": [0.01, 0.01, 0.02]},
        index=[5, 5, 5],
    )
    out = combine_dependent(frame, "s", rho=0.5)
    assert out["s"].tolist() == ["b", "a"]
    # (0.01 + 0.01 + 2 * 0.5 * 0.01) / 4 = 0.0075, closed form
    np.testing.assert_allclose(out["vi"], [0.0075, 0.02], rtol=1e-12)
    np.testing.assert_allclose(out["yi"], [0.3, 0.1], rtol=1e-12)
