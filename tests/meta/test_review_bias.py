"""Regression tests from the adversarial review of the bias and sensitivity functions."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from alliancestats import meta
from alliancestats.errors import MetaAnalysisError
from alliancestats.meta import egger_test, meta_analysis, rank_test, trim_and_fill

# metafor 3.8-1 values: tests/reference/meta/edge_cases.R -> edge_cases.json
EDGE = Path(__file__).parents[1] / "reference" / "meta" / "edge_cases.json"
EDGE_CASES = json.loads(EDGE.read_text())["cases"]

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
    tf = trim_and_fill(res, side="left")
    assert tf.k0 == 0
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
