"""Rupture detectors: hand-worked series per rule, partial series, and recovery of planted events.

No reference software exists for rupture detection, so each rule is checked on series worked
out by hand and on simulated cohorts with planted ruptures of known sessions: sensitivity
(planted ruptures found at the planted session) and false-positive rate (ruptures found in
patients without a planted one, per 100 sessions). The bounds sit at least three binomial
standard errors (about 200 planted events per draw) below the observed sensitivity and above
the observed false-positive rate, so they hold for other seeds too.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.alliance.rupture_rules import METHODS
from alliancestats.errors import DataValidationError, ParameterError
from alliancestats.simulate import simulate_sessions

QUIET = dict(dropout_rate=0.0, missed_session_rate=0.0, missing_alliance_rate=0.0,
             missing_outcome_rate=0.0, telehealth_rate=0.0)
REL = dict(reliability=0.92)


def _series(values, sessions=None, patient="a"):
    sessions = list(range(1, len(values) + 1)) if sessions is None else sessions
    return pd.DataFrame({"patient": patient, "session": sessions, "alliance": values})


# ---------------------------------------------------------------------------------------------
# hand-worked series
# ---------------------------------------------------------------------------------------------
def test_stiles_and_strauss_v_shape():
    d = _series([4.0, 4.1, 4.0, 2.9, 4.0, 4.1, 4.2, 4.1])
    # patient SD of these 8 scores: 0.41; the dip is 1.2 below the mean of the others
    for method in ("stiles2004", "strauss2006"):
        r = als.ruptures(d, "alliance", method=method)
        assert len(r) == 1
        row = r.iloc[0]
        assert (row.start_session, row.trough_session, row.repair_session) == (4, 4, 5)
        assert row.reference_level == pytest.approx(np.mean([4.0, 4.1, 4.0, 4.0, 4.1, 4.2, 4.1]))
        assert row.depth == pytest.approx(row.reference_level - 2.9)
        k = METHODS[method].threshold_sd
        assert row.threshold == pytest.approx(k * np.std(d["alliance"], ddof=1))
        assert row.status == "repaired" and row.pattern == "V-shaped repair"
        assert row.decline_sessions == 1 and row.duration == 1
        assert "patient SD" in row.threshold_source


def test_strauss_finds_shallower_drops_than_stiles():
    d = _series([4.0, 4.5, 3.7, 4.4, 3.5, 4.2, 4.0, 4.4])
    # 3.5 lies 1.7 patient SDs below the mean of the other sessions, 3.7 lies 1.05
    assert len(als.ruptures(d, "alliance", method="stiles2004")) == 0
    strauss = als.ruptures(d, "alliance", method="strauss2006")
    assert strauss["trough_session"].tolist() == [3, 5]


def test_gumz_multi_session_decline_with_gradual_repair():
    d = _series([4.2, 4.1, 4.3, 3.9, 3.5, 3.0, 3.3, 3.7, 4.1, 4.2])
    r = als.ruptures(d, "alliance", method="gumz2012", sd=0.3)
    assert len(r) == 1
    row = r.iloc[0]
    assert (row.start_session, row.trough_session, row.decline_sessions) == (4, 6, 3)
    assert row.reference_level == 4.3 and row.depth == pytest.approx(1.3)
    # half the depth regained at 3.65: session 8 (3.7), two sessions after the trough
    assert row.repair_session == 8 and row.repair_sessions == 2
    assert row.pattern == "multi-session decline, gradual repair"
    assert row.threshold_source.startswith("1.00 x SD 0.300 (given)")
    # a decline longer than max_decline sessions is a trend, not a crisis
    assert len(als.ruptures(d, "alliance", method="gumz2012", sd=0.3, max_decline=2)) == 0


def test_gumz_uses_the_stricter_sd():
    flat = _series([4.0, 4.02, 3.98, 4.0, 3.9, 4.0, 4.01], patient="flat")
    wide = _series([2.0, 3.0, 4.0, 5.0, 2.0, 3.0, 4.0], patient="wide")
    both = pd.concat([flat, wide])
    r = als.ruptures(both, "alliance", method="gumz2012")
    # the flat patient's 0.1 dip is tiny against the sample SD, so only "wide" counts
    assert set(r["patient"]) == {"wide"}
    sample_sd = np.std(both["alliance"], ddof=1)
    own_sd = np.std(wide["alliance"], ddof=1)
    assert own_sd > sample_sd  # so the stricter SD of "wide" is its own
    assert r["threshold"].iloc[0] == pytest.approx(own_sd)
    assert "sample SD" in r["threshold_source"].iloc[0]
    assert len(als.ruptures(flat, "alliance", method="gumz2012", sd="patient")) == 1


def test_rci_step_rule():
    d = pd.concat([_series([4.0, 4.2, 3.0, 3.2, 3.1, 3.0], patient="a"),
                   _series([3.0, 3.5, 3.2, 3.4, 3.3, 3.6], patient="b")])
    r = als.ruptures(d, "alliance", method="rci", **REL)
    sd_first = np.std([4.0, 3.0], ddof=1)
    assert r["threshold"].iloc[0] == pytest.approx(1.96 * np.sqrt(2) * sd_first * np.sqrt(0.08))
    assert r[["patient", "start_session", "status", "pattern"]].values.tolist() == [
        ["a", 3, "unrepaired", "unrepaired drop"]]
    fixed = als.ruptures(d, "alliance", method="rci", cutoff=0.25)
    assert fixed["threshold_source"].iloc[0] == "cut-off 0.250 (given)"
    assert fixed[["patient", "trough_session"]].values.tolist() == [["a", 3], ["b", 3]]


def test_sudden_loss_and_sudden_gain_rules():
    d = _series([4.0, 4.1, 4.0, 2.9, 3.0, 2.8, 2.9, 4.0, 4.1, 4.0])
    loss = als.ruptures(d, "alliance", method="tang_derubeis", cutoff=0.8, pct=None)
    assert loss[["start_session", "trough_session", "status"]].values.tolist() == [
        [4, 4, "unrepaired"]]
    assert "window means" in loss["threshold_source"].iloc[0]
    gain = als.ruptures(d, "alliance", method="zilcha_mano2019", cutoff=0.8, pct=None)
    assert gain[["event", "start_session", "repair_session", "pattern"]].values.tolist() == [
        ["sudden_gain", 7, 8, "sudden alliance gain"]]
    assert gain["depth"].iloc[0] == pytest.approx(1.1)


def test_gaps_and_session_numbers_come_from_the_data():
    d = _series([4.0, 4.1, 4.0, 2.9, 4.0, 4.1], sessions=[2, 3, 5, 9, 10, 12])
    r = als.ruptures(d, "alliance", method="stiles2004")
    assert r["trough_session"].tolist() == [9] and r["repair_session"].tolist() == [10]
    shuffled = d.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(als.ruptures(shuffled, "alliance", method="stiles2004"), r)


def test_partial_series_for_monitoring():
    # the latest session is the drop: the rupture is open until the repair window has passed
    d = _series([4.0, 4.1, 4.0, 4.1, 2.9])
    r = als.ruptures(d, "alliance", method="gumz2012", sd=0.3)
    assert r[["trough_session", "status", "pattern"]].values.tolist() == [
        [5, "open", "open (series ends)"]]
    assert r["repair_session"].isna().all()
    # too short to judge with a patient SD: no rows, no error
    assert len(als.ruptures(_series([4.0, 3.0]), "alliance", method="stiles2004")) == 0
    later = _series([4.0, 4.1, 4.0, 4.1, 2.9, 3.0, 3.1, 2.9])
    closed = als.ruptures(later, "alliance", method="gumz2012", sd=0.3)
    assert closed["status"].tolist() == ["unrepaired"]


def test_output_states_the_rule_and_has_fixed_columns():
    d = _series([4.0, 4.1, 4.0, 4.1, 4.0, 4.1])
    for method in METHODS:
        # one patient has no sample SD: the reliable-change rules need it given
        kw = {**REL, "sd": 0.5} if METHODS[method].uses_reliability else {}
        r = als.ruptures(d, "alliance", method=method, **kw)
        assert list(r.columns[:3]) == ["patient", "method", "event"]
        assert r.attrs["method"] == method and r.attrs["citation"]
        assert r.attrs["n_patients"] == 1


def test_input_errors():
    d = _series([4.0, 4.1, 4.0, 2.9, 4.0, 4.1])
    with pytest.raises(ParameterError, match="method must be one of"):
        als.ruptures(d, "alliance", method="v_shape")
    with pytest.raises(ParameterError, match="needs reliability"):
        als.ruptures(d, "alliance", method="rci")
    with pytest.raises(ParameterError, match="reliability not used"):
        als.ruptures(d, "alliance", method="stiles2004", reliability=0.9)
    with pytest.raises(ParameterError, match="max_decline not used"):
        als.ruptures(d, "alliance", method="strauss2006", max_decline=3)
    with pytest.raises(ParameterError, match="sd must be one of"):
        als.ruptures(d, "alliance", method="rci", sd="patient", **REL)
    with pytest.raises(ParameterError, match="repair_fraction"):
        als.ruptures(d, "alliance", method="stiles2004", repair_fraction=1.5)
    with pytest.raises(DataValidationError, match="not in the data"):
        als.ruptures(d, "wai", method="stiles2004")


def test_session_data_and_wide_input_agree_with_long():
    long = als.read_sample("psychotherapy_cohort")
    sd = als.load_sessions(long, patient="patient", session="session", alliance="wai_sr",
                           warn=False)
    a = als.ruptures(long, "wai_sr", method="gumz2012")
    b = als.ruptures(sd, "alliance", method="gumz2012")
    pd.testing.assert_frame_equal(a.drop(columns="patient").reset_index(drop=True),
                                  b.drop(columns="patient").reset_index(drop=True))
    wide = long.pivot(index="patient", columns="session", values="wai_sr")
    wide.columns = [f"wai_s{s}" for s in wide.columns]
    c = als.ruptures(wide.reset_index(), "wai", method="gumz2012",
                     wide_pattern="{var}_s{session}")
    pd.testing.assert_frame_equal(a, c)


# ---------------------------------------------------------------------------------------------
# patterns (Larsson et al. 2018)
# ---------------------------------------------------------------------------------------------
def test_rupture_patterns_classes():
    d = pd.concat([
        _series([4.0, 4.1, 2.8, 4.0, 4.1, 4.0], patient="repaired"),
        _series([4.0, 4.1, 4.0, 4.1, 4.0, 4.1], patient="none"),
        _series([4.0, 4.1, 4.0, 2.8, 2.9, 2.8], patient="unrepaired"),
        _series([4.0, 3.0], patient="short"),
    ])
    p = als.rupture_patterns(d, "alliance", method="gumz2012", sd=0.3)
    got = dict(zip(p["patient"], p["pattern"].astype(object), strict=True))
    assert got["repaired"] == "rupture-repair" and got["none"] == "no rupture"
    assert got["unrepaired"] == "unrepaired rupture" and pd.isna(got["short"])
    assert p.set_index("patient").loc["short", "evaluable"] == np.False_
    assert p["patient"].tolist() == ["none", "repaired", "short", "unrepaired"]  # sorted IDs
    assert p["n_ruptures"].tolist() == [0, 1, 0, 1]
    assert p["n_repaired"].tolist() == [0, 1, 0, 0]
    with pytest.raises(ParameterError, match="sudden alliance gains"):
        als.rupture_patterns(d, "alliance", method="zilcha_mano2019", **REL)
    with pytest.raises(ParameterError, match="unknown argument"):
        als.rupture_patterns(d, "alliance", method="gumz2012", windw=3)


def test_rupture_patterns_enter_a_model():
    d = als.read_sample("psychotherapy_cohort")
    p = als.rupture_patterns(d, "wai_sr", method="stiles2004")
    assert p["pattern"].notna().sum() == p["evaluable"].sum() > 250
    outcome = d.groupby("patient")["symptoms"].last().rename("final").reset_index()
    model_data = outcome.merge(p[["patient", "pattern"]], on="patient").dropna()
    X = pd.get_dummies(model_data["pattern"], drop_first=True, dtype=float)
    assert list(X.columns) == ["rupture-repair", "unrepaired rupture"]


# ---------------------------------------------------------------------------------------------
# recovery of planted ruptures
# ---------------------------------------------------------------------------------------------
def _recovery(method, shape, **kw):
    d = simulate_sessions(60, 10, 12, seed=11, rupture_rate=0.5, rupture_depth=1.0, **shape,
                          **QUIET)
    truth = d.groupby("patient")[["planted_rupture_session", "planted_repair_session"]].first()
    clean = truth.index[truth["planted_rupture_session"].isna()]
    planted = truth.dropna(subset=["planted_rupture_session"])
    r = als.ruptures(d, "alliance", method=method, **kw)
    merged = r.merge(planted.reset_index(), on="patient")
    first = merged["planted_rupture_session"].astype(float)
    repair = merged["planted_repair_session"].astype(float)
    if method == "zilcha_mano2019":  # a gain from the last low session to the repair
        hits = merged[merged["start_session"] == repair - 1]
        base = planted["planted_repair_session"].notna().sum()
    else:
        bottom = first + shape.get("rupture_decline", 1) - 1
        hits = merged[(merged["trough_session"] >= first) & (merged["trough_session"] <= bottom
                      + shape.get("rupture_duration", 1) - 1)]
        base = len(planted)
    sensitivity = hits["patient"].nunique() / base
    false_pos = 100 * r["patient"].isin(clean).sum() / d["patient"].isin(clean).sum()
    return sensitivity, false_pos, hits


V_SHAPE = {}
DECLINE = {"rupture_decline": 3}
PLATEAU = {"rupture_duration": 4}


@pytest.mark.parametrize(
    ("method", "shape", "kw", "min_sensitivity", "max_false_per_100"),
    [
        ("stiles2004", V_SHAPE, {}, 0.45, 3.5),
        ("strauss2006", V_SHAPE, {}, 0.72, 18.0),
        ("gumz2012", V_SHAPE, {}, 0.70, 9.0),
        ("gumz2012", DECLINE, {}, 0.70, 9.0),
        ("rci", V_SHAPE, REL, 0.80, 12.5),
        ("tang_derubeis", PLATEAU, {**REL, "pct": None}, 0.55, 0.6),
        ("zilcha_mano2019", PLATEAU, {**REL, "pct": None}, 0.52, 2.5),
    ],
)
def test_planted_ruptures_are_recovered(method, shape, kw, min_sensitivity, max_false_per_100):
    sensitivity, false_pos, hits = _recovery(method, shape, **kw)
    assert sensitivity >= min_sensitivity, (method, sensitivity)
    assert false_pos <= max_false_per_100, (method, false_pos)
    if method in ("stiles2004", "strauss2006", "gumz2012", "rci") and shape is V_SHAPE:
        repaired = hits.dropna(subset=["planted_repair_session"])
        right = repaired["repair_session"].astype(float) == repaired[
            "planted_repair_session"].astype(float)
        assert right.mean() >= 0.85  # repair found at the planted session


def test_liberal_rules_find_more_and_gumz_sees_declines():
    s_stiles, f_stiles, _ = _recovery("stiles2004", V_SHAPE)
    s_strauss, f_strauss, _ = _recovery("strauss2006", V_SHAPE)
    assert s_strauss > s_stiles and f_strauss > f_stiles
    _, _, hits = _recovery("gumz2012", DECLINE)
    assert (hits["decline_sessions"] >= 2).mean() > 0.5


def test_planted_sudden_gains_in_pain_are_recovered():
    d = simulate_sessions(60, 10, 12, seed=5, sudden_gain_rate=0.5, sudden_gain_size=4.0,
                          **QUIET)
    truth = d.groupby("patient")["planted_gain_session"].first()
    sg = als.sudden_gains(d, "pain", cutoff=2.0)
    ev = sg.events.merge(truth.rename("planted").reset_index(), on="patient")
    planted = truth.dropna()
    found = ev[ev["session"] == ev["planted"].astype(float)]["patient"].nunique() / len(planted)
    clean = truth.index[truth.isna()]
    iv = sg.intervals
    false_rate = sg.events["patient"].isin(clean).sum() / (iv["patient"].isin(clean)
                                                           & iv["evaluable"]).sum()
    # observed 0.93 and 0.033 with about 200 planted gains
    assert found >= 0.85 and false_rate <= 0.05
