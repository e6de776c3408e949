"""icc() against performance 0.10.2 and the nested-design formulas (tests/reference/effects)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest
from reference_cases import ALL_CASES, PERFORMANCE_CASES, tolerance

import alliancestats as als
from alliancestats.errors import ApproximationWarning, SingularFitWarning


def test_grid_is_complete(effects_reference):
    assert sorted(effects_reference("variance_reference")["cases"]) == sorted(ALL_CASES)


@pytest.mark.parametrize("name", PERFORMANCE_CASES)
def test_icc_matches_performance(name, effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"][name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ApproximationWarning)
        res = als.icc(reference_fit(case), by_level="icc_by_group" in case)
    tol = tolerance(case)
    assert res.adjusted == pytest.approx(case["icc_adjusted"], rel=tol)
    assert res.unadjusted == pytest.approx(case["icc_unadjusted"], rel=tol)
    if "icc_by_group" in case:
        ref = case["icc_by_group"]
        groups = ref["group"] if isinstance(ref["group"], list) else [ref["group"]]
        values = ref["icc"] if isinstance(ref["icc"], list) else [ref["icc"]]
        got = res.levels.set_index("group")["icc"]
        assert sorted(got.index) == sorted(groups)
        for g, v in zip(groups, values, strict=True):
            assert got[g] == pytest.approx(v, rel=tol)


def test_issue_values(effects_reference, reference_fit):
    """The values performance 0.10.2 prints for sleepstudy and Pastes (6 decimals)."""
    cases = effects_reference("variance_reference")["cases"]
    res = als.icc(reference_fit(cases["sleepstudy"]))
    assert res.adjusted == pytest.approx(0.721660, abs=5e-6)  # printed to 6 decimals
    assert res.unadjusted == pytest.approx(0.520569, abs=5e-6)
    shares = als.icc(reference_fit(cases["pastes"]), by_level=True).levels.set_index("group")
    assert shares.loc["cask:batch", "icc"] == pytest.approx(0.783, abs=5e-4)  # 3 decimals
    assert shares.loc["batch", "icc"] == pytest.approx(0.154, abs=5e-4)


def test_nested_correlations_and_design_effect(effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"]["sim_nested"]
    res = als.icc(reference_fit(case), by_level=True)
    ref = case["nested"]
    nested = res.nested.set_index("level")
    # variance components agree to ~1e-6 relative; the ratios inherit that
    assert nested.loc["patient:therapist", "mean_size"] == pytest.approx(ref["n1"], rel=1e-12)
    assert nested.loc["therapist", "mean_size"] / ref["n1"] == pytest.approx(ref["n2"], rel=1e-12)
    assert nested.loc["patient:therapist", "correlation"] == pytest.approx(
        ref["rho_same_lower"], rel=1e-5)
    assert nested.loc["therapist", "correlation"] == pytest.approx(ref["rho_same_upper"], rel=1e-5)
    assert res.design_effect == pytest.approx(ref["design_effect"], rel=1e-5)
    assert list(res.nested["description"]) == ["same patient", "same therapist, different patient"]


def test_two_level_design_effect_is_kish(effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"]["hsb82_null"]
    fit = reference_fit(case)
    res = als.icc(fit, by_level=True)
    m = fit.nobs / fit.ngroups["school"]
    assert res.design_effect == pytest.approx(1 + (m - 1) * res.adjusted, rel=1e-12)


def test_crossed_factors_have_no_nested_table(effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"]["penicillin"]
    res = als.icc(reference_fit(case), by_level=True)
    assert res.nested is None and res.design_effect is None
    assert len(res.levels) == 2


def test_random_slopes_by_level_warns(effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"]["sleepstudy"]
    with pytest.warns(ApproximationWarning, match="random slopes"):
        res = als.icc(reference_fit(case), by_level=True)
    assert res.nested is None


def test_singular_fit_warns(reference_fit):
    # lme4 estimates the therapist variance of these data as zero (singular fit)
    fit = reference_fit("../lmm/data/sim_arms.csv",
                        "pain ~ session + alliance_within + alliance_between + (1 | therapist/patient)")
    assert fit.singular
    with pytest.warns(SingularFitWarning, match="singular"):
        res = als.icc(fit)
    assert 0 < res.adjusted < 1


def test_summary_and_frame(effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"]["sim_nested"]
    res = als.icc(reference_fit(case), by_level=True)
    text = res.summary()
    assert "design effect" in text and "same therapist, different patient" in text
    frame = res.to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.columns) == ["group", "variance", "icc"]
    plain = als.icc(reference_fit(case)).to_frame()
    assert list(plain.columns) == ["icc_adjusted", "icc_unadjusted"]


def test_by_level_must_be_bool(effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"]["iris"]
    with pytest.raises(TypeError):
        als.icc(reference_fit(case), by_level="yes")
