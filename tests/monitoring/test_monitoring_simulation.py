"""Monitoring on simulated cohorts with known truth: planted non-responders and ruptures."""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats import evaluate_signals, expected_response, monitor, simulate_sessions

# complete courses of 6 sessions, no therapist effect on pain: the reference growth model
# with linear time is then the generating model conditioned on the intake score
DESIGN = dict(patients_per_therapist=(10, 10), sessions=(6, 6), dropout_rate=0.0,
              missed_session_rate=0.0, missing_outcome_rate=0.0, pain_sd_therapist=0.0)


@pytest.fixture(scope="module")
def model():
    reference = simulate_sessions(100, seed=11, **DESIGN)  # 1,000 reference patients
    return expected_response(reference, "pain", time="linear", level=0.9)


@pytest.fixture(scope="module")
def cohort(model):
    d = simulate_sessions(100, seed=12, nonresponder_rate=0.2, nonresponder_change=0.6,
                          rupture_rate=0.2, rupture_depth=1.5, rupture_repair_rate=0.5,
                          **DESIGN)
    return d, monitor(d, model, rci=2.0, cutoff=4.0, wai="alliance", wai_rci=0.8,
                      rupture_method="gumz2012", keep="planted_nonresponder")


def test_band_covers_on_track_patients_at_its_nominal_level(model, cohort):
    d, m = cohort
    on_track = (~d["planted_nonresponder"] & d["planted_rupture_session"].isna()).to_numpy()
    rows = m[on_track & (m["phase"] == "treatment").to_numpy()]
    beyond = (rows["pain"] > rows["band_high"]).astype(float)
    share = beyond.mean()
    per = beyond.groupby(rows["patient"]).agg(["sum", "count"])
    # Monte Carlo SE with scores clustered in patients (sandwich form)
    se = np.sqrt(((per["sum"] - share * per["count"]) ** 2).sum()) / per["count"].sum()
    assert len(per) > 500
    assert abs(share - 0.10) < 3 * se  # 3 SEs: a false failure about 1 run in 370


def test_planted_non_responders_are_flagged_far_more_often(cohort):
    d, m = cohort
    judged = m[m["signal"].notna()].assign(nonresponder=d["planted_nonresponder"])
    red = judged.assign(red=judged["signal"] == "red").groupby(["nonresponder", "t"])["red"].mean()
    # planted slope +0.6 points per session against band SD ~1.3: the red rate of
    # non-responders climbs session by session, on-track patients stay near 10%
    late = red.loc[True].loc[[5, 6]]
    assert (late > 0.6).all()
    assert (red.loc[False] < 0.2).all()
    assert red.loc[True].is_monotonic_increasing


def test_evaluate_signals_against_planted_truth(cohort):
    _, m = cohort
    ev = evaluate_signals(m, session=4, truth="planted_nonresponder").set_index("rule")
    emp = ev.loc["empirical"]
    assert emp["n"] == 1000 and 150 < emp["n_failure"] < 250  # about 20% planted
    assert emp["sensitivity_ci_low"] > 0.35 and emp["specificity_ci_low"] > 0.85
    assert emp["auc_ci_low"] > 0.8
    # the expected-recovery curve beats the rational rule (worse than intake by the RCI):
    # non-responders mostly fail to improve rather than worsen by 4 sessions
    assert emp["sensitivity"] > ev.loc["rational", "sensitivity"]


def test_planted_ruptures_raise_alliance_alerts(cohort):
    d, m = cohort
    planted = d["planted_rupture_session"]
    has = planted.notna().to_numpy()
    alert_patients = set(m.loc[m["rupture_alert"].fillna(False).to_numpy(bool), "patient"])
    ruptured = set(d.loc[has, "patient"])
    others = set(d["patient"]) - ruptured
    hit = len(ruptured & alert_patients) / len(ruptured)
    false = len(others & alert_patients) / len(others)
    # measured: 98% of ruptured patients alerted, 43% of the others (the Gumz et al. rule
    # with one SD of all reference scores also fires on ordinary session-to-session dips)
    assert hit > 0.9 and hit > 2 * false
    # the alert comes at or after the planted rupture session (sessions so far only)
    first = m[m["rupture_alert"].fillna(False).to_numpy(bool) & has].groupby("patient")["session"].min()
    start = d.loc[has].groupby("patient")["planted_rupture_session"].first()
    assert (first >= start.reindex(first.index) - 1).mean() > 0.9
