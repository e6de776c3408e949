"""Egger-type regression, rank correlation and trim-and-fill against metafor 3.8-1.

Reference values: tests/reference/meta/bias.R -> bias.json (metafor run with a tight τ²
convergence threshold, so iterative values are the converged optimum).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats import meta
from alliancestats.errors import DataQualityWarning, MetaAnalysisError
from alliancestats.meta.bias import (
    EggerResult,
    RankTestResult,
    egger_test,
    rank_test,
    trim_and_fill,
)
from alliancestats.meta.rma import meta_analysis

REFERENCE = Path(__file__).parents[1] / "reference" / "meta" / "bias.json"

# Closed-form quantities (weighted least squares, Kendall's tau, exact/normal p, se of k0).
CLOSED = 1e-8
# Quantities that contain an iteratively estimated τ² (REML Fisher scoring).
ITERATIVE = 1e-5

# The reference grid this file consumes: (case, analysis) pairs.
GRID = {
    ("molloy2014", "regtest_rma"),
    ("molloy2014", "regtest_lm"),
    ("molloy2014", "ranktest"),
    ("molloy2014", "trimfill_L0"),
    ("molloy2014", "trimfill_R0"),
    ("bcg", "regtest_rma"),
    ("bcg", "regtest_lm"),
    ("bcg", "ranktest"),
    ("bcg", "trimfill_L0"),
    ("bcg", "trimfill_R0"),
    ("bcg_ablat", "regtest_rma"),
    ("bcg_ablat", "regtest_lm"),
    ("molloy2014_knha", "regtest_rma"),
    ("molloy2014_fe", "regtest_rma"),
    ("molloy2014_fe", "trimfill_L0"),
}
BIAS_KEYS = ("regtest_rma", "regtest_lm", "ranktest", "trimfill_L0", "trimfill_R0")


def test_reference_grid_is_complete(bias_cases):
    """Every bias analysis pinned in bias.json is checked here, and nothing is missing."""
    pinned = {(c, key) for c, v in bias_cases.items() for key in v if key in BIAS_KEYS}
    assert pinned == GRID
    assert bias_cases["molloy2014"]["trimfill_L0"]["k0"] == 2  # DOMAIN.md: two studies on the left


def test_reference_model_reproduced(bias_cases, fit_case):
    """Sanity: the base fits equal metafor's, so differences below come from the diagnostics."""
    for name in ("molloy2014", "bcg"):
        res = fit_case(name)
        ref = bias_cases[name]["model"]
        for ours, key in [(res.estimate, "estimate"), (res.se, "se"), (res.tau2, "tau2")]:
            assert ours == pytest.approx(ref[key], rel=ITERATIVE)  # iterative τ²


@pytest.mark.parametrize("case,key", sorted(k for k in GRID if k[1].startswith("regtest")))
def test_egger_matches_metafor(case, key, bias_cases, fit_case):
    ref = bias_cases[case][key]
    res = fit_case(case)
    eg = egger_test(res, model=ref["model"])
    assert isinstance(eg, EggerResult)
    # lm: closed-form WLS; rma: contains the iterative τ² of the meta-regression
    tol = CLOSED if ref["model"] == "lm" else ITERATIVE
    assert eg.statistic == pytest.approx(ref["statistic"], rel=tol)
    assert eg.p == pytest.approx(ref["p"], rel=tol)
    if ref["df"] is None:
        assert np.isnan(eg.df)
    else:
        assert eg.df == ref["df"]
    if ref["limit_estimate"] is None:  # model with moderators: no limit estimate
        assert np.isnan(eg.limit_estimate) and np.isnan(eg.ci_low)
    else:
        assert eg.limit_estimate == pytest.approx(ref["limit_estimate"], rel=tol)
        assert eg.ci_low == pytest.approx(ref["limit_ci_lb"], rel=tol)
        assert eg.ci_high == pytest.approx(ref["limit_ci_ub"], rel=tol)


@pytest.mark.parametrize("case", ["molloy2014", "bcg"])
def test_rank_test_matches_metafor(case, bias_cases, fit_case):
    ref = bias_cases[case]["ranktest"]
    rt = rank_test(fit_case(case))
    assert isinstance(rt, RankTestResult)
    assert rt.tau == pytest.approx(ref["tau"], rel=CLOSED)  # closed form
    assert rt.p == pytest.approx(ref["p"], rel=CLOSED)  # closed form (exact or normal)


def test_rank_test_uses_exact_p_without_ties_and_normal_with_ties(fit_case):
    # molloy2014 has tied variances (two studies with n = 65); bcg has none
    assert rank_test(fit_case("molloy2014")).exact is False
    assert rank_test(fit_case("bcg")).exact is True


@pytest.mark.parametrize("case,key", sorted(k for k in GRID if k[1].startswith("trimfill")))
def test_trim_and_fill_matches_metafor(case, key, bias_cases, fit_case):
    ref = bias_cases[case][key]
    estimator = ref["estimator"]
    tf = trim_and_fill(fit_case(case), estimator=estimator)
    assert tf.k0 == ref["k0"]
    assert tf.side == ref["side"]
    assert tf.estimator == estimator
    assert tf.se_k0 == pytest.approx(ref["se_k0"], rel=CLOSED)  # closed form given k0 and ranks
    if ref["p_k0"] is None:
        assert np.isnan(tf.p_k0)
    else:
        assert tf.p_k0 == pytest.approx(ref["p_k0"], rel=CLOSED)  # closed form
    assert tf.k == ref["k"]
    np.testing.assert_array_equal(tf.filled, np.asarray(ref["fill"], dtype=bool))
    assert list(tf.labels) == ref["labels"]
    # imputed effects mirror about an iteratively estimated pooled effect
    np.testing.assert_allclose(tf.yi, ref["yi"], rtol=ITERATIVE, atol=1e-12)
    np.testing.assert_allclose(tf.vi, ref["vi"], rtol=CLOSED)  # copied variances
    for attr, key in [
        ("estimate", "estimate"),
        ("se", "se"),
        ("tau2", "tau2"),
        ("ci_low", "ci_lb"),
        ("ci_high", "ci_ub"),
        ("q", "q"),
        ("i2", "i2"),
    ]:
        assert getattr(tf, attr) == pytest.approx(ref[key], rel=ITERATIVE), attr  # iterative τ²


def test_trim_and_fill_molloy_adds_two_left_studies_that_lower_the_estimate(fit_case):
    res = fit_case("molloy2014")
    tf = trim_and_fill(res)
    assert (tf.k0, tf.side) == (2, "left")
    assert tf.estimate < res.estimate
    imputed = tf.yi[tf.filled]
    assert np.all(imputed < res.estimate)  # mirrored to the left of the pooled effect
    assert res.k == 16 and not hasattr(res, "k0")  # the input model is not modified


def test_trim_and_fill_is_mirror_symmetric_and_side_can_be_forced(bias_cases):
    """Negating every effect moves the gap to the other side and negates the filled result."""
    d = bias_cases["molloy2014"]["data"]
    res = meta_analysis(yi=d["yi"], vi=d["vi"])
    neg = meta_analysis(yi=-np.asarray(d["yi"]), vi=d["vi"])
    tf, tf_neg = trim_and_fill(res), trim_and_fill(neg)
    assert (tf_neg.side, tf_neg.k0) == ("right", tf.k0)
    # both fits use the same iterative REML τ²
    assert tf_neg.estimate == pytest.approx(-tf.estimate, rel=ITERATIVE)
    forced = trim_and_fill(neg, side="left")
    assert forced.side == "left"
    assert forced.k0 == trim_and_fill(res, side="right").k0


def test_trim_and_fill_rejects_moderators_and_bad_arguments(fit_case):
    with pytest.raises(MetaAnalysisError, match="moderators"):
        trim_and_fill(fit_case("bcg_ablat"))
    res = fit_case("bcg")
    with pytest.raises(MetaAnalysisError, match="estimator"):
        trim_and_fill(res, estimator="Q1")
    with pytest.raises(MetaAnalysisError, match="side"):
        trim_and_fill(res, side="up")


def test_egger_result_series_and_text(fit_case):
    eg = egger_test(fit_case("molloy2014"), model="lm")
    s = eg.to_series()
    assert list(s.index) == [
        "model",
        "predictor",
        "statistic",
        "p",
        "df",
        "limit_estimate",
        "ci_low",
        "ci_high",
        "level",
    ]
    assert s["df"] == 14
    text = str(eg)
    assert "t(14)" in text and "limit estimate" in text
    assert "z =" in str(egger_test(fit_case("molloy2014")))


def test_egger_errors_are_actionable(fit_case):
    res = fit_case("molloy2014")
    with pytest.raises(MetaAnalysisError, match="model must be"):
        egger_test(res, model="glm")
    with pytest.raises(MetaAnalysisError, match="predictor"):
        egger_test(res, predictor="ni")
    tiny = meta_analysis(yi=[0.1, 0.2], vi=[0.01, 0.02])
    with pytest.raises(MetaAnalysisError, match="at least 3"):
        egger_test(tiny, model="lm")
    equal_se = meta_analysis(yi=[0.1, 0.2, 0.4, 0.3], vi=[0.02] * 4)
    with pytest.raises(MetaAnalysisError, match="collinear"):
        egger_test(equal_se, model="lm")


def test_rank_test_needs_three_studies():
    with pytest.raises(MetaAnalysisError, match="at least 3"):
        rank_test(meta_analysis(yi=[0.1, 0.2], vi=[0.01, 0.02]))


def test_egger_detects_simulated_small_study_effect():
    """Small studies with inflated effects: the regression test must flag the asymmetry."""
    rng = np.random.default_rng(7)
    n = rng.integers(20, 400, size=40)
    vi = 1.0 / (n - 3)
    yi = 0.2 + 2.5 * np.sqrt(vi) + rng.normal(0, np.sqrt(vi))
    res = meta_analysis(yi=yi, vi=vi)
    eg = egger_test(res, model="lm")
    assert eg.statistic > 0 and eg.p < 0.01
    assert abs(eg.limit_estimate - 0.2) < abs(res.estimate - 0.2)
    tf = trim_and_fill(res)
    assert tf.side == "left" and tf.k0 > 0


def test_public_names_are_exported_from_meta():
    import alliancestats.meta as meta

    assert meta.egger_test is egger_test
    assert meta.rank_test is rank_test
    assert meta.trim_and_fill is trim_and_fill


def test_trim_and_fill_keeps_knapp_hartung_settings(fit_case):
    res = fit_case("molloy2014_knha")
    tf = trim_and_fill(res)
    assert (tf.k0, tf.side) == (2, "left")  # k0 does not depend on the test
    assert tf.test == "knha" and "t" in tf.table.columns
    z_version = trim_and_fill(fit_case("molloy2014"))
    assert tf.estimate == pytest.approx(z_version.estimate, rel=1e-10)  # same centre and τ²
    assert tf.ci_high - tf.ci_low > z_version.ci_high - z_version.ci_low


def test_exact_kendall_p_agrees_with_an_independent_implementation():
    """Exact p-values (no ties) against scipy's exact Kendall test, including tiny tails."""
    from scipy import stats as sps

    from alliancestats.meta.bias import _kendall_test

    rng = np.random.default_rng(11)
    for n in (3, 4, 7, 12, 25, 45):
        x = rng.normal(size=n)
        y = x * rng.uniform(0.5, 3.0) + rng.normal(size=n)
        tau, p, exact = _kendall_test(x, y)
        ref = sps.kendalltau(x, y, method="exact")
        assert exact
        assert tau == pytest.approx(ref.statistic, rel=1e-12)  # closed form
        assert p == pytest.approx(ref.pvalue, rel=1e-10)  # exact distribution, both in floats


def test_reference_inputs_match_the_shared_metadat_tables(bias_cases):
    """bias.json carries the yi/vi metafor analysed; they equal effect sizes computed by
    alliancestats from the shared metadat exports (tests/reference/meta/data)."""
    from alliancestats.meta import effect_sizes

    data_dir = REFERENCE.parent / "data"
    molloy = pd.read_csv(data_dir / "molloy2014.csv")
    es = effect_sizes(molloy, r="ri", n="ni", measure="ZCOR")
    np.testing.assert_allclose(
        es["yi"], bias_cases["molloy2014"]["data"]["yi"], rtol=1e-12
    )  # atanh
    np.testing.assert_allclose(
        es["vi"], bias_cases["molloy2014"]["data"]["vi"], rtol=1e-12
    )  # 1/(n-3)
    bcg = pd.read_csv(data_dir / "bcg.csv")
    es = effect_sizes(bcg, ai="tpos", bi="tneg", ci="cpos", di="cneg", measure="RR")
    np.testing.assert_allclose(es["yi"], bias_cases["bcg"]["data"]["yi"], rtol=1e-12)  # log ratio
    np.testing.assert_allclose(es["vi"], bias_cases["bcg"]["data"]["vi"], rtol=1e-12)  # closed form
    np.testing.assert_allclose(bcg["ablat"], bias_cases["bcg_ablat"]["data"]["ablat"])


# metafor 3.8-1 values: tests/reference/meta/edge_cases.R -> edge_cases.json
EDGE_CASES = json.loads(
    (Path(__file__).parents[1] / "reference" / "meta" / "edge_cases.json").read_text()
)["cases"]

DIAGNOSTICS = [
    meta.egger_test,
    meta.rank_test,
    meta.trim_and_fill,
    meta.leave_one_out,
    meta.influence,
    meta.cumulative,
]


def test_trim_and_fill_equal_variances_asks_for_the_side():
    # used to fail with "The moderator design is not of full rank" from the side regression
    res = meta_analysis(yi=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], vi=[0.01] * 6)
    with pytest.raises(MetaAnalysisError, match="give side='left' or side='right'"):
        trim_and_fill(res)


def test_trim_and_fill_equal_variances_with_side_matches_metafor():
    # metafor 3.8-1: trimfill(rma(yi=c(.1,.2,.3,.4,.5,.6), vi=rep(.01,6)), side="left")
    ref = EDGE_CASES["trimfill_equal_variances_left"]
    res = meta_analysis(yi=ref["yi"], vi=ref["vi"], method=ref["method"])
    tf = trim_and_fill(res, side=ref["side"])
    assert tf.k0 == ref["k0"] == 1
    assert tf.k == ref["k"]
    assert tf.estimate == pytest.approx(ref["estimate"], rel=1e-5)  # iterative REML refit
    assert tf.se == pytest.approx(ref["se"], rel=1e-5)  # iterative REML refit
    assert tf.tau2 == pytest.approx(ref["tau2"], rel=1e-5)  # iterative REML refit
    # equally spaced effects give exact ties in |y - mu|; floating-point noise in mu decides
    # their rank order (R and numpy differ in the last bit), which moves raw k0 and hence its
    # SE slightly: metafor 1.805571, ours 1.809830 (2.4e-3 relative)
    assert tf.se_k0 == pytest.approx(ref["se_k0"], rel=5e-3)


def test_trim_and_fill_identical_effects_fills_nothing():
    res = meta_analysis(yi=[0.3] * 6, vi=[0.01] * 6)
    # all signed ranks are 0: the L0 variance formula is negative, so se_k0 is nan
    with pytest.warns(DataQualityWarning, match="standard error of k0 is undefined"):
        tf = trim_and_fill(res, side="left")
    assert tf.k0 == 0 and np.isnan(tf.se_k0)
    assert tf.estimate == pytest.approx(0.3, abs=1e-12)  # weighted mean of equal values


@pytest.mark.parametrize("func", DIAGNOSTICS)
@pytest.mark.parametrize("bad", [pd.DataFrame({"yi": [0.1], "vi": [0.1]}), [0.1, 0.2], None])
def test_diagnostics_refuse_objects_that_are_not_fitted_models(func, bad):
    # a DataFrame used to fail with AttributeError: 'DataFrame' object has no attribute 'vi'
    with pytest.raises(MetaAnalysisError, match="needs a fitted model from meta_analysis"):
        func(bad)


@pytest.mark.parametrize("func", [egger_test, rank_test, trim_and_fill])
def test_two_studies_are_too_few_for_bias_tests(func):
    res = meta_analysis(yi=[0.3, 0.5], vi=[0.01, 0.02])
    with pytest.raises(MetaAnalysisError, match="at least 3 studies"):
        func(res)
