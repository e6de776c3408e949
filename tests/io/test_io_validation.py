"""Each problem kind gives the right row, column, value and reason; strict vs lenient."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    AllianceStatsError,
    DataQualityWarning,
    DataValidationError,
    DroppedRowsWarning,
    ParameterError,
)
from alliancestats.io import PROBLEM_KINDS, load_sessions

CSV_HEADER = "id,ther,visit,wai,nrs\n"
BASE_KW = {
    "patient": "id",
    "therapist": "ther",
    "session": "visit",
    "alliance": "wai",
    "outcomes": {"pain": "nrs"},
    "scales": {"alliance": "wai_sr", "pain": "nrs"},
}


def _problems(tmp_path, body: str, **kw) -> pd.DataFrame:
    path = tmp_path / "s.csv"
    path.write_text(CSV_HEADER + body, encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **{**BASE_KW, **kw})
    pr = err.value.problems
    assert pr.columns.tolist() == ["file", "row", "column", "value", "reason", "kind"]
    assert set(pr["file"]) == {str(path)}
    return pr


CASES = [
    # (body, [(row, column, value, kind, words in reason)])
    ("1,A,1,3.5,4\n,A,2,3.5,4\n", [(3, "id", "", "missing_id", "patient ID is empty")]),
    ("1,,1,3.5,4\n", [(2, "ther", "", "missing_id", "therapist ID is empty")]),
    ("1,A,,3.5,4\n", [(2, "visit", "", "missing_session", "session number is empty")]),
    ("1,A,two,3.5,4\n", [(2, "visit", "two", "bad_session", "not a number")]),
    ("1,A,1.5,3.5,4\n", [(2, "visit", "1.5", "bad_session", "whole number")]),
    ("1,A,-1,3.5,4\n", [(2, "visit", "-1", "bad_session", "whole number")]),
    ("1,A,1,3.5,4\n1,A,1,3.5,4\n", [(3, "visit", "1", "duplicate_row", "exact repeat of row 2")]),
    (
        "1,A,1,3.5,4\n1,A,1,3.9,4\n",
        [
            (2, "visit", "1", "duplicate_session", "2 different rows for session 1 (rows 2 and 3)"),
            (3, "visit", "1", "duplicate_session", "2 different rows for session 1 (rows 2 and 3)"),
        ],
    ),
    (
        "1,A,1,3.5,4\n1,B,2,3.5,4\n",
        [
            (2, "ther", "A", "therapist_change", "seen by 2 therapists: A (row 2); B (row 3)"),
            (3, "ther", "B", "therapist_change", "allow_therapist_change=True"),
        ],
    ),
    ("1,A,1,high,4\n", [(2, "wai", "high", "not_numeric", "not a number")]),
    ("1,A,1,50%,4\n", [(2, "wai", "50%", "not_numeric", "percent sign")]),
    ("1,A,1,inf,4\n", [(2, "wai", "inf", "not_numeric", "not a finite number")]),
    ("1,A,1,3.5,11\n", [(2, "nrs", "11", "out_of_range", "outside the valid range 0-10 of nrs")]),
    ("1,A,1,0.5,4\n", [(2, "wai", "0.5", "out_of_range", "1-5 of wai_sr for alliance")]),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_each_problem_kind(tmp_path, body, expected):
    pr = _problems(tmp_path, body)
    assert len(pr) == len(expected)
    for (_, p), (row, col, val, kind, words) in zip(pr.iterrows(), expected, strict=True):
        assert (p["row"], p["column"], p["value"], p["kind"]) == (row, col, val, kind)
        assert words in p["reason"]
        assert kind in PROBLEM_KINDS


def test_every_kind_is_covered():
    # date kinds and invalid_item / duplicate_id are covered in the date, item and wide tests
    covered = {k for _, exp in CASES for *_, k, _ in exp}
    others = {"bad_date", "future_date", "implausible_date", "invalid_item", "duplicate_id"}
    # covered in the number, ID, text-structure and Excel tests
    others |= {
        "ambiguous_number",
        "id_format",
        "imprecise_id",
        "extra_fields",
        "unmatched_quote",
        "formula_without_value",
    }
    assert covered | others == set(PROBLEM_KINDS)


def test_all_problems_are_collected_and_message_is_readable(tmp_path):
    body = "".join(f"{i},A,1,x{i},4\n" for i in range(1, 16)) + "99,A,1,3,12\n"
    path = tmp_path / "many.csv"
    path.write_text(CSV_HEADER + body, encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, **BASE_KW)
    msg = str(err.value)
    assert len(err.value.problems) == 16
    assert msg.startswith("16 problems in 16 rows of 'many.csv'")
    assert "row 2, column 'wai' = 'x1': not a number" in msg
    assert "... and 6 more" in msg
    assert "strict=False" in msg and ".problems" in msg
    assert isinstance(err.value, ValueError)  # DataValidationError(ValueError), per DESIGN.md


def test_lenient_mode_keeps_valid_rows_and_logs_every_problem(tmp_path):
    body = (
        "1,A,1,3.5,4\n1,A,2,x,4\n1,A,3,3.8,12\n2,B,1,4.1,3\n2,B,1,4.1,3\n3,C,1,2.5,6\n3,D,2,2.7,5\n"
    )
    path = tmp_path / "s.csv"
    path.write_text(CSV_HEADER + body, encoding="utf-8")
    with pytest.warns(DroppedRowsWarning, match="5 of 7 rows dropped"):
        sd = load_sessions(path, strict=False, **BASE_KW)
    assert (sd.n_read, sd.n_kept, sd.n_dropped) == (7, 2, 5)
    assert sd.data["source_row"].tolist() == [2, 5]  # the first of the exact repeats is kept
    assert sd.dropped["row"].tolist() == [3, 4, 6, 7, 8]
    assert sd.dropped["kind"].tolist() == [
        "not_numeric",
        "out_of_range",
        "duplicate_row",
        "therapist_change",
        "therapist_change",
    ]
    assert sd.problems is sd.dropped


def test_allow_therapist_change(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(CSV_HEADER + "1,A,1,3.5,4\n1,B,2,3.6,4\n", encoding="utf-8")
    sd = load_sessions(path, allow_therapist_change=True, **BASE_KW)
    assert sd.data["therapist"].tolist() == ["A", "B"]
    assert sd.summary().counts["patients_changing_therapist"] == 1


def test_missing_values_are_not_problems(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(CSV_HEADER + "1,A,1,NA,\n1,A,2,.,-99\n1,A,3,#N/A,n/a\n", encoding="utf-8")
    sd = load_sessions(path, na_values=[-99], **BASE_KW)
    assert sd.data["alliance"].isna().all() and sd.data["pain"].isna().all()
    assert sd.summary().missingness.loc["pain", "n_missing"] == 3


def test_column_not_found_lists_suggestions(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(CSV_HEADER + "1,A,1,3.5,4\n", encoding="utf-8")
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, patient="id", session="visit", alliance="WAI_total", outcomes=["pain"])
    msg = str(err.value)
    assert "2 column(s) not found in 's.csv'" in msg
    assert "pain: column 'pain' not found" in msg
    assert err.value.problems["kind"].tolist() == ["missing_column", "missing_column"]


def test_column_names_match_ignoring_case_and_spaces(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text("ID , Visit,WAI\n1,1,3.5\n", encoding="utf-8")
    sd = load_sessions(path, patient="id", session="visit", alliance="wai")
    assert sd.data["alliance"].tolist() == [3.5]


def test_gaps_warn_and_are_summarised(tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        CSV_HEADER + "1,A,1,3,4\n1,A,3,3,4\n2,A,1,3,4\n2,A,2,3,4\n2,A,3,3,4\n", encoding="utf-8"
    )
    with pytest.warns(DataQualityWarning, match="patient 1: session 2 missing"):
        sd = load_sessions(path, **BASE_KW)
    gaps = sd.summary().gaps
    assert gaps.values.tolist() == [[1, 2, 1, 3, "2"]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_sessions(path, warn=False, **BASE_KW)


def test_repeated_column_names_are_refused(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("id,s,wai,wai\n1,1,3,4\n", encoding="utf-8")
    with pytest.raises(DataValidationError, match="'wai' in columns C, D") as err:
        load_sessions(path, patient="id", session="s", alliance="wai")
    assert err.value.problems["kind"].tolist() == ["repeated_column"]
    # a repeated column that is not used does not matter
    path.write_text("id,s,note,note\n1,1,a,b\n", encoding="utf-8")
    assert load_sessions(path, patient="id", session="s").n_kept == 1


def test_implausible_session_numbers(tmp_path):
    pr = _problems(tmp_path, "1,A,1e30,3,4\n1,A,250000,3,4\n")
    assert pr["kind"].tolist() == ["bad_session", "bad_session"]
    assert "from 0 to 100,000" in pr["reason"][0]


def test_empty_table_and_all_rows_dropped(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text(CSV_HEADER, encoding="utf-8")
    sd = load_sessions(path, **BASE_KW)
    assert (sd.n_read, sd.n_kept) == (0, 0)
    assert sd.data.columns.tolist()[:3] == ["patient", "therapist", "session"]
    path.write_text(CSV_HEADER + "1,A,x,3,4\n,A,1,3,4\n", encoding="utf-8")
    sd = load_sessions(path, strict=False, warn=False, **BASE_KW)
    assert (sd.n_read, sd.n_kept, sd.n_dropped) == (2, 0, 2)
    assert "0 patients" in repr(sd) and "2 read, 0 kept, 2 dropped" in str(sd.summary())


def test_multiindex_rows_are_reported_as_tuples():
    frame = pd.DataFrame(
        {"id": [1, 2], "s": [1, 1], "w": [3, "x"]},
        index=pd.MultiIndex.from_tuples([("site1", 7), ("site2", 9)]),
    )
    with pytest.raises(DataValidationError) as err:
        load_sessions(frame, patient="id", session="s", alliance="w")
    assert err.value.problems["row"].tolist() == [("site2", 9)]


# --------------------------------------------------------------------------- inputs

BASE = pd.DataFrame(
    {"pid": [1, 1, 2, 2], "sess": [1, 2, 1, 2], "wai": [4.0, 4.5, 3.0, 3.5], "pain": [6, 5, 7, 6]}
)
ROLES = {"patient": "pid", "session": "sess", "alliance": "wai"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"layout": "x"}, "layout must be"),
        ({"session": "pid"}, "mapped twice"),
        ({"header_row": 0}, "header_row counts from 1"),
    ],
)
def test_argument_errors_are_alliancestats_errors(kwargs, match, tmp_path):
    # these used to be bare ValueErrors; ParameterError is still a ValueError
    path = tmp_path / "ok.csv"
    BASE.to_csv(path, index=False)
    with pytest.raises(ParameterError, match=match) as info:
        load_sessions(path, **{**ROLES, **kwargs})
    assert isinstance(info.value, ValueError | AllianceStatsError)


def test_wrong_source_type_is_a_parameter_error_and_still_a_type_error():
    with pytest.raises(ParameterError, match="file path") as info:
        load_sessions([1, 2, 3], **ROLES)
    assert isinstance(info.value, TypeError)


def test_duplicate_index_labels_keep_all_rows_and_report_by_label():
    frame = BASE.assign(wai=["4", 4.5, "x", 3.5]).set_index(pd.Index([0, 0, 1, 1]))
    data = load_sessions(frame, **ROLES, strict=False, warn=False)
    assert len(data.data) == 3  # kept + dropped = read
    assert data.dropped["value"].tolist() == ["x"]
    assert data.dropped["row"].tolist() == [1]  # the index label, as the contract says


def test_empty_frame_loads_to_an_empty_canonical_frame():
    data = load_sessions(BASE.iloc[:0], **ROLES)
    assert len(data.data) == 0
    assert {"patient", "session", "alliance"} <= set(data.data.columns)


def test_unicode_column_names():
    frame = BASE.rename(columns={"pid": "Patiënt", "wai": "Allianz–WAI"})
    data = load_sessions(frame, patient="Patiënt", session="sess", alliance="Allianz–WAI")
    np.testing.assert_allclose(data.data["alliance"], BASE["wai"])


def test_non_finite_alliance_is_dropped_with_a_reason():
    frame = BASE.assign(wai=[np.inf, 4.5, 3.0, 3.5])
    data = load_sessions(frame, **ROLES, strict=False, warn=False)
    assert len(data.data) == 3
    assert data.dropped["reason"].tolist() == ["not a finite number"]
    with pytest.raises(DataValidationError):
        load_sessions(frame, **ROLES)
