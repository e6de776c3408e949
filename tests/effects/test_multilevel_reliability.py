"""Multilevel reliability and within/between alpha against psych 2.2.9 (tests/reference/effects)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.errors import DataValidationError, DroppedRowsWarning, ParameterError

ITEMS = [f"wai_{i}" for i in range(1, 13)]
COEFS = ["RkF", "R1R", "RkR", "Rc", "RkRn", "Rcn"]

# Shrout & Lane's toy data, as printed on psych's multilevel.reliability help page
SHROUT = pd.DataFrame({
    "Person": list(range(1, 6)) * 4,
    "Time": [t for t in range(1, 5) for _ in range(5)],
    "Item1": [2, 3, 6, 3, 7, 3, 5, 6, 3, 8, 4, 4, 7, 5, 6, 1, 5, 8, 8, 6],
    "Item2": [3, 4, 6, 4, 8, 3, 7, 7, 5, 8, 2, 6, 8, 6, 7, 3, 9, 9, 7, 8],
    "Item3": [6, 4, 5, 3, 7, 4, 7, 8, 9, 9, 5, 7, 9, 7, 8, 4, 7, 9, 9, 6],
})


def shrout(method: str):
    return als.multilevel_reliability(SHROUT, ["Item1", "Item2", "Item3"], patient="Person",
                                      session="Time", method=method)


@pytest.fixture(scope="module")
def ref(effects_reference):
    return effects_reference("reliability_reference")


def test_grid_is_complete(ref):
    assert sorted(ref["multilevel"]) == ["shrout", "shrout_lmer", "wai_balanced",
                                         "wai_balanced_lmer"]
    assert sorted(ref["alpha"]) == ["cronbach_all_sessions", "cronbach_first_session",
                                    "within_between_balanced", "within_between_unbalanced"]


def test_anova_estimator_matches_psych(ref):
    res = shrout("anova")
    want = ref["multilevel"]["shrout"]
    for name in COEFS[:4]:
        assert res.coefficients[name] == pytest.approx(want[name], rel=1e-9)  # closed form
    for name in COEFS[4:]:
        # psych reads the nlme variance components back from text with 7 significant digits
        assert res.coefficients[name] == pytest.approx(want[name], rel=1e-5)
    crossed = want["components"]["variance"][:7]
    assert res.components["variance"].to_numpy() == pytest.approx(crossed, rel=1e-9)
    nested = want["components"]["variance"][8:11]
    assert res.nested_components["variance"].to_numpy() == pytest.approx(nested, rel=1e-5)
    assert (res.n_persons, res.n_times, res.n_items) == (5, 4, 3)


def test_help_page_values_with_lmer(ref):
    """psych's help-page values come from its lmer estimator (RkF .967580 ...)."""
    res = shrout("lmm")
    printed = {"RkF": 0.967580, "R1R": 0.595431, "RkR": 0.854800, "Rc": 0.742157}
    want = ref["multilevel"]["shrout_lmer"]
    for name, value in printed.items():
        # lme4's BOBYQA stops ~1e-5 (relative) short of the REML optimum, which for this
        # balanced design equals the ANOVA estimates; alliancestats reaches it
        assert res.coefficients[name] == pytest.approx(value, rel=5e-5)
        assert res.coefficients[name] == pytest.approx(want[name], rel=5e-5)
        assert res.coefficients[name] == pytest.approx(shrout("anova").coefficients[name],
                                                       rel=1e-6)


def test_alpha_by_person(ref):
    want = ref["multilevel"]["shrout"]["alpha_by_person"]
    got = shrout("anova").alpha_by_person
    assert got["raw_alpha"].to_numpy() == pytest.approx(want["raw_alpha"], rel=1e-10)
    assert got["std_alpha"].to_numpy() == pytest.approx(want["std_alpha"], rel=1e-10)


@pytest.fixture(scope="module")
def wai_balanced(reference_data):
    return reference_data("data/wai_balanced.csv")


def test_wai_anova(ref, wai_balanced):
    res = als.multilevel_reliability(wai_balanced, ITEMS, method="anova")
    want = ref["multilevel"]["wai_balanced"]
    for name in COEFS:
        # closed form; RkRn and Rcn: nested REML fit (psych: nlme, rounded to 7 digits)
        assert res.coefficients[name] == pytest.approx(want[name], rel=1e-5)
    # psych reports the negative ANOVA estimate of the time x item component as it is
    assert res.components.loc["time x item", "variance"] < 0


@pytest.mark.slow
def test_wai_lmm(ref, wai_balanced):
    res = als.multilevel_reliability(wai_balanced, ITEMS, method="lmm")
    want = ref["multilevel"]["wai_balanced_lmer"]
    for name in COEFS:
        # two crossed components sit on the boundary (zero): optimisers agree to ~1e-5
        assert res.coefficients[name] == pytest.approx(want[name], rel=1e-4)
    assert (res.components["variance"] >= 0).all()
    assert "RkF" in res.summary()


def test_within_between_alpha(ref, reference_data):
    for name, path in (("within_between_unbalanced", "data/wai_unbalanced.csv"),
                       ("within_between_balanced", "data/wai_balanced.csv")):
        tab = als.within_between_alpha(reference_data(path), ITEMS)
        want = ref["alpha"][name]
        # identical sums of squares and products
        assert tab.loc["within", "raw_alpha"] == pytest.approx(want["within_raw"], rel=1e-10)
        assert tab.loc["between", "raw_alpha"] == pytest.approx(want["between_raw"], rel=1e-10)
        assert tab.loc["within", "std_alpha"] == pytest.approx(want["within_std"], rel=1e-10)
        assert tab.loc["between", "std_alpha"] == pytest.approx(want["between_std"], rel=1e-10)


def test_unbalanced_data_refused_by_anova(reference_data):
    with pytest.raises(DataValidationError, match="balanced"):
        als.multilevel_reliability(reference_data("data/wai_unbalanced.csv"), ITEMS,
                                   method="anova")


def test_missing_items_are_reported(wai_balanced):
    d = wai_balanced.copy()
    d.loc[3, "wai_2"] = np.nan
    with pytest.warns(DroppedRowsWarning, match="1 of 240"):
        tab = als.within_between_alpha(d, ITEMS)
    assert tab.loc["within", "n_rows"] == 239


def test_bad_input(wai_balanced):
    with pytest.raises(DataValidationError, match="two item"):
        als.multilevel_reliability(wai_balanced, ["wai_1"])
    with pytest.raises(DataValidationError, match="not in the data"):
        als.within_between_alpha(wai_balanced, ["wai_1", "nope"])
    with pytest.raises(ParameterError):
        als.multilevel_reliability(wai_balanced, ITEMS, method="glm")
    twice = pd.concat([wai_balanced, wai_balanced.head(1)])
    with pytest.raises(DataValidationError, match="more than once"):
        als.multilevel_reliability(twice, ITEMS, method="anova")


def test_session_data_input(wai_balanced):
    sessions = als.load_sessions(wai_balanced, patient="patient", session="session",
                                 therapist="therapist", covariates=ITEMS)
    a = als.within_between_alpha(sessions, ITEMS)
    b = als.within_between_alpha(wai_balanced, ITEMS)
    pd.testing.assert_frame_equal(a, b)
