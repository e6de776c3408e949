"""Regression tests from the review of the change helpers (RCI, clinical significance, MCID)."""

from __future__ import annotations

import pytest

from alliancestats.errors import InstrumentError
from alliancestats.instruments import clinical_significance, mcid_change, reliable_change


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
