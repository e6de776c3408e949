"""Reliable change, clinical-significance cut-offs and MCID classification vs hand computation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import InstrumentError
from alliancestats.instruments import (
    clinical_cutoffs,
    clinical_significance,
    mcid_change,
    reliable_change,
)

EXACT = 1e-12  # closed-form formulas: only floating-point rounding


def test_rci_hand_computed():
    # se_diff = sqrt(2) * 7.5 * sqrt(1 - .9) = 3.3541019662496847 (computed by hand)
    res = reliable_change(
        [20.0, 20.0, 20.0], [10.0, 18.0, 27.0], sd_pre=7.5, reliability=0.9, higher_is_better=False
    )
    assert res["se_diff"].iloc[0] == pytest.approx(3.3541019662496847, abs=EXACT)
    assert res["rci"].tolist() == pytest.approx(
        [-2.9814239699997196, -0.5962847939999439, 2.0869967789998036], abs=EXACT
    )
    assert res["reliable"].tolist() == [True, False, True]
    assert res["category"].tolist() == ["improved", "unchanged", "deteriorated"]


def test_rci_uses_registry_reliability_and_direction():
    # WAI: r_xx = .92 (Hanson et al. 2002); se = sqrt(2) * 0.8 * sqrt(.08) = 0.32
    res = reliable_change(
        pd.Series([4.0, 4.0]), pd.Series([4.7, 3.0]), instrument="wai", sd_pre=0.8
    )
    assert res["se_diff"].iloc[0] == pytest.approx(0.32, abs=EXACT)
    assert res["rci"].tolist() == pytest.approx([2.1875, -3.125], abs=1e-9)  # 0.7/.32, -1/.32
    assert res["category"].tolist() == ["improved", "deteriorated"]
    assert res["reliability"].iloc[0] == 0.92
    with pytest.raises(InstrumentError, match="no sourced default reliability for 'wai_sr'"):
        reliable_change([3.0, 4.0], [4.0, 4.0], instrument="wai_sr")


def test_rci_default_sd_is_sample_sd_and_missing_values():
    pre = pd.Series([10.0, 14.0, 18.0, np.nan], index=list("abcd"))
    post = pd.Series([6.0, 14.0, 10.0, 5.0], index=list("abcd"))
    res = reliable_change(pre, post, instrument="odi", reliability=0.75)
    # sample SD of 10, 14, 18 = 4; se = sqrt(2) * 4 * sqrt(.25) = 2.8284271247461903
    assert res["sd_pre"].iloc[0] == pytest.approx(4.0, abs=EXACT)
    assert res.loc["a", "rci"] == pytest.approx(-4 / 2.8284271247461903, abs=EXACT)
    assert res.loc["c", "category"] == "improved"  # ODI: lower is better
    assert pd.isna(res.loc["d", "reliable"]) and pd.isna(res.loc["d", "category"])
    assert list(res.index) == list("abcd")


def test_rci_dataframe_is_long_and_per_measure():
    pre = pd.DataFrame({"pain": [6.0, 8.0], "odi": [40.0, 50.0]})
    post = pd.DataFrame({"pain": [2.0, 8.0], "odi": [40.0, 20.0]})
    res = reliable_change(
        pre, post, sd_pre={"pain": 2.0, "odi": 10.0}, reliability=0.8, higher_is_better=False
    )
    assert res["measure"].tolist() == ["pain", "pain", "odi", "odi"]
    se_pain = math.sqrt(2) * 2.0 * math.sqrt(0.2)
    assert res["rci"].iloc[0] == pytest.approx(-4 / se_pain, abs=EXACT)
    with pytest.raises(InstrumentError, match="no value for measures"):
        reliable_change(pre, post, sd_pre={"pain": 2.0}, reliability=0.8, higher_is_better=False)


def test_rci_argument_errors():
    with pytest.raises(InstrumentError, match="higher_is_better"):
        reliable_change([1.0], [2.0], sd_pre=1, reliability=0.8)
    with pytest.raises(InstrumentError, match="strictly between"):
        reliable_change([1.0], [2.0], sd_pre=1, reliability=1.0, higher_is_better=True)
    with pytest.raises(InstrumentError, match="sd_pre must be positive"):
        reliable_change([1.0], [2.0], sd_pre=0, reliability=0.8, higher_is_better=True)
    with pytest.raises(InstrumentError, match="at least 2 pre"):
        reliable_change([1.0], [2.0], reliability=0.8, higher_is_better=True)
    with pytest.raises(InstrumentError, match="numeric"):
        reliable_change(["a"], [2.0], sd_pre=1, reliability=0.8, higher_is_better=True)
    with pytest.raises(InstrumentError, match="rows"):
        reliable_change([1.0, 2.0], [2.0], sd_pre=1, reliability=0.8, higher_is_better=True)
    with pytest.raises(InstrumentError, match="different indexes"):
        reliable_change(
            pd.Series([1.0], index=[1]),
            pd.Series([1.0], index=[2]),
            sd_pre=1,
            reliability=0.8,
            higher_is_better=True,
        )


def test_cutoffs_hand_computed():
    cuts = clinical_cutoffs(30.0, 8.0, 10.0, 6.0)
    # a = 30 - 16; b = 10 + 12; c = (6*30 + 8*10) / 14 = 260 / 14
    assert cuts == pytest.approx({"a": 14.0, "b": 22.0, "c": 18.571428571428573}, abs=EXACT)
    up = clinical_cutoffs(2.5, 0.5, 4.0, 0.4, higher_is_better=True)
    # a = 2.5 + 1.0; b = 4.0 - 0.8; c = (0.4*2.5 + 0.5*4.0) / 0.9 = 3 / 0.9
    assert up == pytest.approx({"a": 3.5, "b": 3.2, "c": 3.3333333333333335}, abs=EXACT)
    only_a = clinical_cutoffs(30.0, 8.0)
    assert only_a["a"] == 14.0 and math.isnan(only_a["c"])
    with pytest.raises(InstrumentError, match="sd_dys must be positive"):
        clinical_cutoffs(30.0, 0.0)


def test_clinical_significance_classification():
    res = clinical_significance(
        [44, 44, 44, 30, 44],
        [12, 30, 42, 50, 22],
        m_dys=40,
        sd_dys=12,
        m_func=10,
        sd_func=8,
        instrument="odi",
        reliability=0.9,
    )
    assert res["cutoff"].iloc[0] == pytest.approx(22.0, abs=EXACT)
    # rci = (post - pre) / (sqrt(2) * 12 * sqrt(.1)); -22 / 5.366563... = -4.0994 (reliable)
    assert res["classification"].tolist() == [
        "recovered",
        "improved",
        "unchanged",
        "deteriorated",
        "improved",
    ]  # post exactly at the cut-off (22) has not passed it
    assert res["post_functional"].tolist() == [True, False, False, False, False]
    with_a = clinical_significance(
        [44], [25], m_dys=40, sd_dys=12, cutoff="a", instrument="odi", reliability=0.9
    )
    assert with_a["cutoff"].item() == 16.0 and with_a["classification"].item() == "improved"
    with pytest.raises(InstrumentError, match="functional norms"):
        clinical_significance([44], [25], m_dys=40, sd_dys=12, instrument="odi", reliability=0.9)
    with pytest.raises(InstrumentError, match="cutoff must be"):
        clinical_significance([44], [25], m_dys=40, sd_dys=12, cutoff="d", instrument="odi")


def test_clinical_significance_higher_is_better():
    # WAI-like: dysfunctional mean 3.0 (SD .5), functional 4.2 (SD .4); c = (0.4*3 + 0.5*4.2)/0.9
    res = clinical_significance(
        [3.0, 3.0],
        [4.5, 2.0],
        m_dys=3.0,
        sd_dys=0.5,
        m_func=4.2,
        sd_func=0.4,
        higher_is_better=True,
        reliability=0.92,
    )
    assert res["cutoff"].iloc[0] == pytest.approx(3.6666666666666665, abs=EXACT)
    assert res["classification"].tolist() == ["recovered", "deteriorated"]


def test_mcid_nrs_absolute_and_percent():
    res = mcid_change([8, 8, 5, 0, 4], [5, 7, 7, 2, 2], instrument="nrs", rule="either")
    assert res["improvement"].tolist() == [3, 1, -2, -2, 2]
    assert res["pct_improvement"].iloc[:3].tolist() == pytest.approx([37.5, 12.5, -40.0])
    assert pd.isna(res["pct_improvement"].iloc[3])  # no percent of a zero baseline
    assert res["meets_absolute"].tolist() == [True, False, False, False, True]
    assert res["classification"].tolist() == [
        "improved",
        "unchanged",
        "deteriorated",
        "deteriorated",
        "improved",
    ]
    pct_only = mcid_change([10, 10], [7, 8], instrument="nrs", rule="percent")
    assert pct_only["classification"].tolist() == ["improved", "unchanged"]  # 30% vs 20%
    both = mcid_change([10, 4], [8, 2], instrument="nrs", rule="both")
    assert both["classification"].tolist() == ["unchanged", "improved"]  # 20% fails; 50% ok


def test_mcid_direction_and_registry_thresholds():
    odi = mcid_change([40, 40], [30, 31], instrument="odi")
    assert odi["threshold"].iloc[0] == 10 and odi["percent_threshold"].iloc[0] == 30
    assert odi["classification"].tolist() == ["improved", "unchanged"]
    qd = mcid_change([50], [36], instrument="quickdash")
    assert qd["classification"].item() == "improved"
    psfs = mcid_change([3.0, 5.0], [5.0, 3.5], instrument="psfs")  # higher is better
    assert psfs["improvement"].tolist() == [2.0, -1.5]
    assert psfs["classification"].tolist() == ["improved", "unchanged"]
    assert mcid_change([4.7], [0.0], instrument="ndi")["classification"].item() == "improved"
    with pytest.raises(InstrumentError, match="pass threshold"):
        mcid_change([3.0], [4.0], instrument="wai_sr")
    ok = mcid_change([3.0], [4.0], instrument="wai_sr", threshold=0.5)
    assert ok["classification"].item() == "improved"
    with pytest.raises(InstrumentError, match="percent"):
        mcid_change([40.0], [20.0], instrument="vas", rule="percent")
    with pytest.raises(InstrumentError, match="rule must be"):
        mcid_change([40.0], [20.0], instrument="vas", rule="any")


def test_mcid_dataframe_long_and_missing():
    pre = pd.DataFrame({"nrs_back": [8.0, np.nan], "nrs_leg": [6.0, 6.0]})
    post = pd.DataFrame({"nrs_back": [4.0, 3.0], "nrs_leg": [6.0, 3.0]})
    res = mcid_change(pre, post, instrument="nrs")
    assert res["measure"].tolist() == ["nrs_back", "nrs_back", "nrs_leg", "nrs_leg"]
    assert res["classification"].iloc[0] == "improved"
    assert pd.isna(res["classification"].iloc[1]) and pd.isna(res["meets_absolute"].iloc[1])
    assert res["classification"].iloc[2:].tolist() == ["unchanged", "improved"]


# --------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize("flag", ["no", "False", 0, 1])
def test_higher_is_better_must_be_a_boolean(flag):
    # "no" used to count as True (bool("no")), flipping improved/deteriorated silently
    with pytest.raises(InstrumentError, match="higher_is_better must be True or False"):
        reliable_change([10, 20], [5, 10], sd_pre=5, reliability=0.9, higher_is_better=flag)


def test_reliability_given_as_text_is_read_or_refused():
    # "0.9" used to raise TypeError ('<' not supported between int and str)
    a = reliable_change([10, 20], [5, 10], sd_pre=5, reliability="0.9", higher_is_better=False)
    b = reliable_change([10, 20], [5, 10], sd_pre=5, reliability=0.9, higher_is_better=False)
    assert a["rci"].tolist() == b["rci"].tolist()
    with pytest.raises(InstrumentError, match="reliability must be a number"):
        reliable_change([10, 20], [5, 10], sd_pre=5, reliability="high", higher_is_better=False)


def test_mcid_percent_given_as_a_proportion_is_refused():
    # percent=0.3 used to mean a 0.3% threshold, so a 14% improvement "met" it
    with pytest.raises(InstrumentError, match="30 for a 30% improvement"):
        mcid_change([6, 7], [3, 6], instrument="nrs", percent=0.3, rule="percent")


def test_thresholds_given_as_text_are_read_or_refused():
    out = mcid_change([6, 7], [3, 6], threshold="2", higher_is_better=False)
    assert out["meets_absolute"].tolist() == [True, False]  # improvements 3 and 1 vs 2
    with pytest.raises(InstrumentError, match="threshold must be a number"):
        mcid_change([6, 7], [3, 6], threshold="two", higher_is_better=False)
    with pytest.raises(InstrumentError, match="sd_dys must be a number"):
        clinical_significance(
            [30, 40], [10, 35], m_dys=35, sd_dys="eight", reliability=0.9, higher_is_better=False
        )
