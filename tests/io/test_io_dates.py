"""Session dates: order, days since first session, unreadable / future / early dates."""

from __future__ import annotations

import pandas as pd
import pytest

from alliancestats.errors import DataValidationError
from alliancestats.io import load_sessions


def _csv(tmp_path, text: str):
    path = tmp_path / "d.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_session_given_as_dates_is_numbered_in_date_order(tmp_path):
    path = _csv(
        tmp_path, "id,when,pain\n1,2024-03-15,5\n1,2024-03-01,6\n2,2024-05-02,7\n1,2024-03-08,4\n"
    )
    sd = load_sessions(path, patient="id", session="when", outcomes="pain")
    d = sd.data
    assert d[["patient", "session", "days_since_first", "pain"]].values.tolist() == [
        [1, 1, 0.0, 6.0],
        [1, 2, 7.0, 4.0],
        [1, 3, 14.0, 5.0],
        [2, 1, 0.0, 7.0],
    ]
    assert d["session_date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-01",
        "2024-03-08",
        "2024-03-15",
        "2024-05-02",
    ]
    assert d["source_row"].tolist() == [3, 5, 2, 4]
    same = load_sessions(path, patient="id", date="when", outcomes="pain").data
    pd.testing.assert_frame_equal(d, same)


def test_day_first_detected_from_the_data_and_ambiguity_refused(tmp_path):
    path = _csv(tmp_path, "id,when\n1,05/03/2024\n1,20/03/2024\n")
    d = load_sessions(path, patient="id", session="when").data
    assert d["session_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-05", "2024-03-20"]
    ambiguous = _csv(tmp_path, "id,when\n1,05/03/2024\n1,06/03/2024\n")
    with pytest.raises(DataValidationError, match="dayfirst=True"):
        load_sessions(ambiguous, patient="id", session="when")
    us = load_sessions(ambiguous, patient="id", session="when", dayfirst=False).data
    assert us["session_date"].dt.month.tolist() == [5, 6]
    fmt = _csv(tmp_path, "id,when\n1,05.03.2024\n")
    d = load_sessions(fmt, patient="id", session="when", date_format="%d.%m.%Y").data
    assert d["session_date"].dt.strftime("%Y-%m-%d").tolist() == ["2024-03-05"]


def test_date_problems(tmp_path):
    path = _csv(
        tmp_path,
        "id,visit,when\n1,1,2024-01-10\n1,2,2024-02-30\n1,3,next week\n"
        "1,4,2031-05-14\n1,5,1024-01-01\n1,6,\n",
    )
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, patient="id", session="visit", date="when", today="2026-01-01")
    pr = err.value.problems
    assert pr[["row", "column", "value", "kind"]].values.tolist() == [
        [3, "when", "2024-02-30", "bad_date"],
        [4, "when", "next week", "bad_date"],
        [5, "when", "2031-05-14", "future_date"],
        [6, "when", "1024-01-01", "implausible_date"],
    ]
    assert "after 2026-01-01" in pr["reason"][2]
    # a missing date next to a session number is allowed (days_since_first is then NaN)
    sd = load_sessions(
        path,
        patient="id",
        session="visit",
        date="when",
        today="2026-01-01",
        strict=False,
        warn=False,
    )
    assert sd.data["session"].tolist() == [1, 6]
    assert sd.data["days_since_first"].isna().tolist() == [False, True]


def test_missing_date_when_session_is_a_date(tmp_path):
    path = _csv(tmp_path, "id,when\n1,2024-01-10\n1,\n")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, patient="id", session="when")
    assert err.value.problems[["row", "kind"]].values.tolist() == [[3, "missing_session"]]


def test_two_rows_on_the_same_date(tmp_path):
    path = _csv(tmp_path, "id,when,pain\n1,2024-01-10,3\n1,2024-01-10,4\n")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, patient="id", session="when", outcomes="pain")
    pr = err.value.problems
    assert pr["kind"].tolist() == ["duplicate_session"] * 2
    assert "on the same date" in pr["reason"][0]
    assert pr["column"].tolist() == ["when", "when"]


def test_excel_date_cells(tmp_path):
    frame = pd.DataFrame({"id": [1, 1], "when": pd.to_datetime(["2024-01-03", "2024-01-01"])})
    path = tmp_path / "d.xlsx"
    frame.to_excel(path, index=False)
    d = load_sessions(path, patient="id", session="when").data
    assert d["days_since_first"].tolist() == [0.0, 2.0]
    assert d["source_row"].tolist() == [3, 2]


def test_session_dates_detected_despite_a_bad_cell(tmp_path):
    path = _csv(tmp_path, "id,when\n1,2024-01-01\n1,garbage\n")
    sd = load_sessions(path, patient="id", session="when", strict=False, warn=False)
    assert sd.n_kept == 1
    assert sd.dropped[["row", "kind"]].values.tolist() == [[3, "bad_date"]]


def test_dates_out_of_session_order_are_reported(tmp_path):
    from alliancestats.errors import DataQualityWarning

    path = _csv(
        tmp_path,
        "id,s,when\n1,1,2024-01-01\n1,2,2024-01-20\n1,3,2024-01-10\n"
        "2,1,2024-01-01\n2,2,2024-01-02\n",
    )
    with pytest.warns(DataQualityWarning, match="patient 1: session 3 dated before session 2"):
        sd = load_sessions(path, patient="id", session="s", date="when")
    assert sd.summary().counts["patients_dates_out_of_order"] == 1
    assert "out of session order: 1" in str(sd.summary())


def test_mixed_time_zone_offsets_keep_the_written_local_time(tmp_path):
    # summer and winter offsets in one column used to raise pandas' raw ValueError
    path = tmp_path / "tz.csv"
    path.write_text(
        "id,s,when\n1,1,2024-03-05T09:00+01:00\n1,2,2024-07-05T09:00+02:00\n"
        "1,3,2024-12-01T23:30Z\n",
        encoding="utf-8",
    )
    sd = load_sessions(path, patient="id", session="s", date="when", today="2026-01-01")
    assert [str(d) for d in sd.data["session_date"]] == [
        "2024-03-05 09:00:00",
        "2024-07-05 09:00:00",
        "2024-12-01 23:30:00",
    ]


def test_impossible_dates_are_not_rolled_over(tmp_path):
    path = tmp_path / "feb.csv"
    path.write_text("id,s,when\n1,1,2024-02-30\n1,2,2024-02-29\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, patient="id", session="s", date="when", today="2026-01-01")
    assert err.value.problems[["row", "kind"]].values.tolist() == [[2, "bad_date"]]
