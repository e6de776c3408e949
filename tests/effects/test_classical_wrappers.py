"""rm_corr, cronbach_alpha and intraclass_corr (pingouin) against R (tests/reference/effects)."""

from __future__ import annotations

import numpy as np
import pytest

import alliancestats as als
from alliancestats.errors import DataValidationError, DroppedRowsWarning

ITEMS = [f"wai_{i}" for i in range(1, 13)]


@pytest.fixture(scope="module")
def ref(effects_reference):
    return effects_reference("reliability_reference")


@pytest.fixture(scope="module")
def unbalanced(reference_data):
    return reference_data("data/wai_unbalanced.csv")


def test_rm_corr_matches_ancova(ref, unbalanced):
    res = als.rm_corr(unbalanced, "wai_1", "wai_2")
    want = ref["rm_corr"]
    assert res["r"] == pytest.approx(want["r"], rel=1e-10)  # same sums of squares
    assert res["dof"] == want["dof"]
    assert res["p"] == pytest.approx(want["p"], rel=1e-8)  # same F test
    assert res["ci_low"] < res["r"] < res["ci_high"]
    assert res["n_patients"] == unbalanced["patient"].nunique()


def test_rm_corr_reports_dropped_rows(unbalanced):
    d = unbalanced.copy()
    d.loc[[0, 5], "wai_1"] = np.nan
    with pytest.warns(DroppedRowsWarning, match="2 of"):
        res = als.rm_corr(d, "wai_1", "wai_2")
    assert res["n_rows"] == len(d) - 2


def test_cronbach_alpha_matches_psych(ref, unbalanced):
    res = als.cronbach_alpha(unbalanced, ITEMS)
    assert res["alpha"] == pytest.approx(ref["alpha"]["cronbach_all_sessions"]["raw_alpha"],
                                         rel=1e-10)  # identical covariance matrix
    first = unbalanced[unbalanced["session"] == unbalanced.groupby("patient")["session"]
                       .transform("min")]
    res1 = als.cronbach_alpha(first, ITEMS)
    assert res1["alpha"] == pytest.approx(ref["alpha"]["cronbach_first_session"]["raw_alpha"],
                                          rel=1e-10)
    assert res1["n_rows"] == ref["alpha"]["cronbach_first_session"]["n"]
    assert res["ci_low"] < res["alpha"] < res["ci_high"]


def test_intraclass_corr_matches_psych(ref, reference_data):
    balanced = reference_data("data/wai_balanced.csv")
    tab = als.intraclass_corr(balanced, "alliance")
    want = ref["icc_sessions"]
    assert list(tab.index) == want["type"]
    # identical ANOVA mean squares
    assert tab["icc"].to_numpy() == pytest.approx(want["icc"], rel=1e-10)
    assert tab["F"].to_numpy() == pytest.approx(want["F"], rel=1e-10)
    assert tab["df2"].to_numpy() == pytest.approx(want["df2"], rel=1e-12)
    assert tab["p"].to_numpy() == pytest.approx(want["p"], rel=1e-6)
    # pingouin rounds interval ends to two decimals
    assert tab["ci_low"].to_numpy() == pytest.approx(want["lower"], abs=0.006)
    assert tab["ci_high"].to_numpy() == pytest.approx(want["upper"], abs=0.006)


def test_intraclass_corr_needs_balanced_design(reference_data):
    with pytest.raises(DataValidationError, match="balanced"):
        als.intraclass_corr(reference_data("data/wai_unbalanced.csv"), "alliance")


def test_session_data_accepted(reference_data):
    balanced = reference_data("data/wai_balanced.csv")
    sessions = als.load_sessions(balanced, patient="patient", session="session",
                                 therapist="therapist", alliance="alliance", covariates=ITEMS)
    a = als.cronbach_alpha(sessions, ITEMS)
    assert a["alpha"] == pytest.approx(als.cronbach_alpha(balanced, ITEMS)["alpha"], rel=1e-12)


def test_bad_input(unbalanced):
    with pytest.raises(DataValidationError, match="two items"):
        als.cronbach_alpha(unbalanced, ["wai_1"])
    with pytest.raises(DataValidationError, match="not in the data"):
        als.rm_corr(unbalanced, "wai_1", "nope")
    with pytest.raises(TypeError):
        als.cronbach_alpha([1, 2, 3], ITEMS)
