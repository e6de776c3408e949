"""Sudden gains and losses: parity with the R package suddengains 0.7.2 on long and wide data.

References: the published values on the package's example data ``sgdata`` (Wiedemann et al.
2020, PLOS ONE 15(3):e0230276; package documentation and tests) and the numbers of the
package's testthat cases (transcribed in ``suddengains_cases.py``). suddengains is not in
Debian, so these published numbers are the reference; all are counts or values computed from
integers, compared exactly unless a tolerance is stated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import suddengains_cases as cases

import alliancestats as als
from alliancestats.alliance import sudden_gains, sudden_losses
from alliancestats.errors import DataValidationError, ParameterError

WIDE = dict(patient="id", wide_pattern="{var}_s{session}", sessions=(1, 12))


@pytest.fixture(scope="module")
def sgdata() -> pd.DataFrame:
    return als.read_sample("sgdata")


@pytest.fixture(scope="module")
def sgdata_long(sgdata) -> pd.DataFrame:
    """sgdata in long form, shuffled, with the rows of missing scores left out (gaps)."""
    cols = [f"bdi_s{s}" for s in range(13)]
    long = sgdata.melt(id_vars="id", value_vars=cols, var_name="visit", value_name="bdi")
    long["session"] = long["visit"].str.removeprefix("bdi_s").astype(int)
    long = long.dropna(subset=["bdi"]).drop(columns="visit")
    return long.sample(frac=1.0, random_state=3).rename(columns={"id": "patient"})


# ---------------------------------------------------------------------------------------------
# published sgdata values
# ---------------------------------------------------------------------------------------------
def test_sgdata_gains_with_cutoff_7(sgdata):
    sg = sudden_gains(sgdata, "bdi", cutoff=7, **WIDE)
    assert len(sg) == 24
    assert sg.events["patient"].nunique() == 15
    per_interval = sg.events.groupby("session").size().reindex(range(2, 11), fill_value=0)
    assert per_interval.tolist() == [3, 8, 1, 3, 1, 2, 5, 1, 0]
    assert (sg.events["next_session"] == sg.events["session"] + 1).all()


def test_sgdata_describe_by_event_and_by_patient(sgdata):
    sg = sudden_gains(sgdata, "bdi", cutoff=7, **WIDE)
    ev = sg.describe("event")
    # describe_sg rounds to 2 decimals; compare at that precision
    assert ev["n_events"] == 24 and ev["n_reversals"] == 4
    assert round(ev["pct_reversals"], 2) == 16.67
    assert round(ev["pct_events_in_patients_with_several"], 2) == 70.83
    assert round(ev["magnitude_mean"], 2) == 11 and round(ev["magnitude_sd"], 2) == 3.43
    person = sg.describe("patient")
    assert person["n_patients"] == 43 and person["n_events"] == 24
    assert person["n_patients_with_event"] == 15
    assert round(person["pct_patients_with_event"], 2) == 34.88
    assert person["n_patients_with_several"] == 8
    assert round(person["pct_patients_with_several"], 2) == 18.6
    assert person["n_reversals"] == 3 and round(person["pct_reversals"], 2) == 20
    assert round(person["magnitude_mean"], 2) == 11.4
    assert round(person["magnitude_sd"], 2) == 3.98


def test_sgdata_unadjusted_critical_value_and_reliable_change_cutoff(sgdata):
    assert len(sudden_gains(sgdata, "bdi", cutoff=7, crit3_adjust=False, **WIDE)) == 26
    cut = als.rci_cutoff(sgdata["bdi_s0"], 0.931)
    assert len(sudden_gains(sgdata, "bdi", cutoff=cut, **WIDE)) == 29
    # a plain number gives the same result as the RciCutoff object
    assert len(sudden_gains(sgdata, "bdi", cutoff=cut.value, **WIDE)) == 29


def test_sgdata_losses_and_the_vacuous_loss_criterion_2(sgdata):
    sl = sudden_losses(sgdata, "bdi", cutoff=7, rule="suddengains", **WIDE)
    assert len(sl) == 3 and sl.events["patient"].nunique() == 3
    crit2 = sl.intervals["crit2"]
    assert (int(crit2.notna().sum()), int(crit2.sum())) == (304, 260)
    symmetric = sudden_losses(sgdata, "bdi", cutoff=7, **WIDE)
    assert symmetric.settings["rule"] == "symmetric"
    assert int(symmetric.intervals["crit2"].sum()) < 260
    assert (symmetric.events["magnitude"] > 0).all()


def test_long_shuffled_data_give_the_same_events_as_wide(sgdata, sgdata_long):
    wide = sudden_gains(sgdata, "bdi", cutoff=7, **WIDE).events
    long = sudden_gains(sgdata_long, "bdi", cutoff=7, sessions=(1, 12)).events
    pd.testing.assert_frame_equal(wide.drop(columns="patient"), long.drop(columns="patient"))
    assert wide["patient"].tolist() == long["patient"].tolist()


def test_session_data_input(sgdata_long):
    sd = als.load_sessions(sgdata_long, patient="patient", session="session", outcomes="bdi",
                          warn=False)
    assert len(sudden_gains(sd, "bdi", cutoff=7, sessions=(1, 12))) == 24


# ---------------------------------------------------------------------------------------------
# testthat cases
# ---------------------------------------------------------------------------------------------
def _met(result) -> dict:
    iv = result.intervals
    out = {}
    for pid, grp in iv.groupby("patient"):
        out[pid] = tuple(None if pd.isna(v) else int(v) for v in grp["met"])
    return out


def test_identify_sg_case_1():
    data = cases.wide(cases.IDENTIFY_DF1, "x", range(1, 7))
    sg = sudden_gains(data, "x", patient="id", wide_pattern="{var}_s{session}", cutoff=7)
    assert sorted(set(sg.intervals["session"])) == [2, 3, 4]
    assert _met(sg) == cases.IDENTIFY_SG_DF1


def test_identify_sg_case_2_and_identify_sl():
    kw = dict(patient="id", wide_pattern="{var}_s{session}", cutoff=7)
    gains = sudden_gains(cases.wide(cases.IDENTIFY_SG_DF2, "x", range(1, 7)), "x", **kw)
    assert _met(gains) == cases.IDENTIFY_SG_DF2_EXPECTED
    data = cases.wide(cases.IDENTIFY_SL_DF2, "x", range(1, 7))
    for rule in ("suddengains", "symmetric"):  # the same intervals under both rules here
        assert _met(sudden_losses(data, "x", rule=rule, **kw)) == cases.IDENTIFY_SL_DF2_EXPECTED


def test_create_bysg_table():
    data = cases.wide(cases.CREATE_DF, "bdi", range(13))
    sg = sudden_gains(data, "bdi", cutoff=7, **WIDE)
    ev = sg.events
    counts = ev.groupby("patient").size()
    assert len(ev) == len(cases.CREATE_BYSG)
    for row, exp in zip(ev.itertuples(), cases.CREATE_BYSG, strict=True):
        pid, n, freq, scores, magnitude, tx, prop, rev_value, reversal = exp
        assert (row.patient, row.session, counts[row.patient]) == (pid, n, freq)
        got = [getattr(row, c) for c in ("score_pre2", "score_pre1", "score_n", "score_post1",
                                         "score_post2", "score_post3")]
        np.testing.assert_array_equal(got, [np.nan if s is None else s for s in scores])
        assert row.magnitude == magnitude and row.reversal_value == rev_value
        assert row.reversal == bool(reversal)
        if tx is None:
            assert np.isnan(row.total_change) and np.isnan(row.change_proportion)
        else:
            assert row.total_change == tx
            assert row.change_proportion == pytest.approx(prop, rel=1e-15)  # floating point


@pytest.mark.parametrize(("select", "expected"), [("first", cases.BYPERSON_FIRST),
                                                  ("largest", cases.BYPERSON_LARGEST)])
def test_create_byperson_selection(select, expected):
    data = cases.wide(cases.CREATE_DF, "bdi", range(13))
    people = sudden_gains(data, "bdi", cutoff=7, **WIDE).by_patient(select)
    assert people["patient"].tolist() == list(range(1, 19))
    got = {
        r.patient: (r.session, r.magnitude, int(r.reversal))
        for r in people[people["has_event"]].itertuples()
    }
    assert got == expected
    assert people.loc[~people["has_event"], "session"].isna().all()


def test_count_intervals():
    rows = [(r[0], *r[1:7], *r[8:10]) for r in cases.COUNT_DF]  # s0-s5, s7, s8 as analysed
    data = cases.wide(rows, "bdi", range(8))
    counts = sudden_gains(data, "bdi", patient="id", wide_pattern="{var}_s{session}",
                          cutoff=1).count_intervals()
    assert counts["evaluable"] == cases.COUNT_AVAILABLE
    assert counts["not_evaluable"] == cases.COUNT_NOT_AVAILABLE
    assert counts["examined"] == 10 and counts["total"] == 14


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [({"method": "pattern"}, cases.SELECT_PATTERN),
     ({"method": "min_sess", "min_sessions": 5}, cases.SELECT_MIN_SESS_5)],
)
def test_select_cases(kwargs, expected):
    data = cases.wide(cases.SELECT_DF, "bdi", range(1, 7))
    out = als.select_cases(data, "bdi", patient="id", wide_pattern="{var}_s{session}", **kwargs)
    assert out["selected"].tolist() == expected
    assert out["patient"].tolist() == list(range(1, 8))


def test_define_crit1_cutoff_cases(sgdata):
    for source, case in ((sgdata["bdi_s0"], cases.CUTOFF_FROM_SGDATA),
                         (10.5, cases.CUTOFF_GIVEN_SD)):
        sd, rel, sem, sdiff, rci = case
        got = als.rci_cutoff(source, rel)
        # the package's test values are printed to 7 significant digits
        for value, expected in ((got.sd, sd), (got.sem, sem), (got.se_difference, sdiff),
                                (got.value, rci)):
            assert value == pytest.approx(expected, rel=1e-6)
        assert got.reliability == rel
    for bad in ({"sd": 10, "reliability": None}, {"sd": 10, "reliability": 2},
                {"sd": None, "reliability": 0.5}, {"sd": [3.0], "reliability": 0.5}):
        with pytest.raises((ParameterError, DataValidationError)):
            als.rci_cutoff(**bad)


# ---------------------------------------------------------------------------------------------
# rules beyond the package
# ---------------------------------------------------------------------------------------------
def _one(scores, **kw):
    sessions = kw.pop("sessions_list", range(1, len(scores) + 1))
    d = pd.DataFrame({"patient": "a", "session": list(sessions), "bdi": scores})
    return d, kw


def test_reversal_checked_from_n_plus_3_in_package_mode_and_n_plus_2_otherwise():
    # gain 34 -> 23 at N = 3; only the score at N+2 passes the reversal value 28.5
    d, _ = _one([35.0, 37, 34, 23, 30, 22, 21, 20])
    pkg = sudden_gains(d, "bdi", cutoff=7, crit3=False).events
    sym = sudden_gains(d, "bdi", cutoff=7, crit3=False, rule="symmetric").events
    assert pkg.loc[0, "session"] == sym.loc[0, "session"] == 3
    assert not pkg.loc[0, "reversal"]
    assert sym.loc[0, "reversal"] and sym.loc[0, "reversal_session"] == 5


def test_a_missing_session_is_a_gap_not_a_shift():
    # session 5 has no row: the 34 -> 23 drop is from session 4 to 6, not an interval
    d, _ = _one([35.0, 37, 34, 23, 24, 21], sessions_list=[1, 2, 4, 6, 7, 8])
    assert len(sudden_gains(d, "bdi", cutoff=7, crit3=False)) == 0
    shifted = d.assign(session=range(1, 7))
    assert len(sudden_gains(shifted, "bdi", cutoff=7, crit3=False)) == 1


def test_higher_is_better_finds_rises():
    d, _ = _one([3.0, 3.1, 3.0, 4.2, 4.3, 4.1])
    up = sudden_gains(d, "bdi", cutoff=0.8, higher_is_better=True).events
    assert up[["session", "magnitude"]].round(6).values.tolist() == [[3, 1.2]]
    assert len(sudden_losses(d, "bdi", cutoff=0.8, higher_is_better=True)) == 0
    assert len(sudden_losses(d, "bdi", cutoff=0.8)) == 1


def test_first_is_baseline_controls_the_first_interval():
    d, _ = _one([30.0, 20, 19, 18, 18])
    assert len(sudden_gains(d, "bdi", cutoff=7, crit3=False)) == 0
    ev = sudden_gains(d, "bdi", cutoff=7, crit3=False, first_is_baseline=False).events
    assert ev["session"].tolist() == [1]


def test_input_errors():
    d, _ = _one([35.0, 37, 34, 23, 24, 21])
    with pytest.raises(ParameterError, match="must be positive"):
        sudden_losses(d, "bdi", cutoff=-7)
    with pytest.raises(ParameterError, match="no criterion"):
        sudden_gains(d, "bdi", cutoff=None, pct=None, crit3=False)
    with pytest.raises(ParameterError, match="rule"):
        sudden_gains(d, "bdi", cutoff=7, rule="tang")
    with pytest.raises(DataValidationError, match="share a patient and session"):
        sudden_gains(pd.concat([d, d.iloc[[0]]]), "bdi", cutoff=7)
    bad = d.astype({"bdi": object})
    bad.loc[2, "bdi"] = "high"
    with pytest.raises(DataValidationError, match="non-numeric") as info:
        sudden_gains(bad, "bdi", cutoff=7)
    assert info.value.problems["row"].tolist() == [2]
    with pytest.raises(DataValidationError, match="wide_pattern"):
        sudden_gains(d.drop(columns=["session", "bdi"]), "bdi", cutoff=7)
    with pytest.raises(ParameterError, match="change_from=40"):
        sudden_gains(d, "bdi", cutoff=7, change_from=40)
    with pytest.raises(DataValidationError, match="not plausible"):
        sudden_gains(d.assign(session=[1, 2, 3, 4, 5, 10**9]), "bdi", cutoff=7)


def test_empty_result_has_the_columns():
    d, _ = _one([20.0, 20, 20, 20, 20, 20])
    sg = sudden_gains(d, "bdi", cutoff=7)
    assert len(sg) == 0 and "reversal" in sg.events.columns
    people = sg.by_patient()
    assert people["n_events"].tolist() == [0]
    assert sg.describe()["n_events"] == 0


def test_by_patient_last_and_smallest_and_the_largest_loss():
    data = cases.wide(cases.CREATE_DF, "bdi", range(13))
    sg = sudden_gains(data, "bdi", cutoff=7, **WIDE)
    last = sg.by_patient("last").set_index("patient")
    smallest = sg.by_patient("smallest").set_index("patient")
    # patient 1: gains at N = 3 (magnitude 11) and N = 7 (12); patient 10: N = 2 (10), 4 (8)
    assert (last.loc[1, "session"], last.loc[10, "session"]) == (7, 4)
    assert (smallest.loc[1, "session"], smallest.loc[10, "session"]) == (3, 4)
    # two losses of different size: "largest" is the larger worsening
    d = pd.DataFrame({"patient": "a", "session": range(1, 13),
                      "bdi": [10.0, 10, 10, 18, 18, 18, 18, 18, 30, 30, 30, 30]})
    sl = sudden_losses(d, "bdi", cutoff=7, crit3=False)
    assert sl.events["magnitude"].tolist() == [8.0, 12.0]
    assert sl.by_patient("largest")["session"].tolist() == [8]
    assert sl.by_patient("smallest")["session"].tolist() == [3]
    with pytest.raises(ParameterError, match="select"):
        sl.by_patient("biggest")
