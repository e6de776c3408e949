"""Wide layout: same canonical frame as long, row numbers of the wide row, wide column names."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from io_cohort import KW, to_wide

from alliancestats.errors import DataQualityWarning, DataValidationError, ParameterError
from alliancestats.io import load_sessions

WIDE_KW = {k: v for k, v in KW.items() if k != "session"}


@pytest.mark.parametrize(
    ("template", "pattern"),
    [
        ("{var}_s{session}", None),  # detected
        ("{var}_t{session}", None),  # detected
        ("{var}_s{session}", "{var}_s{session}"),
        ("{var}.v{session}", "{var}.v{session}"),
        ("{var}_s{session}", re.compile(r"(?P<var>.+)_s(?P<session>\d+)")),
    ],
)
def test_wide_equals_long(template, pattern, long_frame, reference):
    wide = to_wide(long_frame, template)
    sd = load_sessions(wide, layout="wide", wide_pattern=pattern, **WIDE_KW)
    pd.testing.assert_frame_equal(
        sd.data.drop(columns="source_row"), reference.drop(columns="source_row")
    )
    # source_row is the wide row (DataFrame index label) of each patient
    first = sd.data.groupby("patient")["source_row"].agg(["min", "max"])
    assert (first["min"] == first["max"]).all()
    assert first["min"].tolist() == list(range(6))


def test_wide_file_round_trip_and_rows(long_frame, reference, tmp_path):
    wide = to_wide(long_frame)
    path = tmp_path / "wide.xlsx"
    wide.to_excel(path, index=False)
    sd = load_sessions(path, layout="wide", **WIDE_KW)
    pd.testing.assert_frame_equal(
        sd.data.drop(columns="source_row"), reference.drop(columns="source_row")
    )
    assert sd.data.groupby("patient")["source_row"].first().tolist() == [2, 3, 4, 5, 6, 7]
    assert sd.n_read == len(long_frame)


def test_wide_problems_point_at_the_wide_cell(long_frame, tmp_path):
    wide = to_wide(long_frame).astype(object)
    wide.loc[1, "wai_s2"] = "abc"  # Excel row 3
    wide.loc[3, "nrs_s4"] = 14.0  # Excel row 5, out of 0-10
    wide.loc[4, "pid"] = None  # Excel row 6: its 4 sessions cannot be used
    path = tmp_path / "wide.xlsx"
    wide.to_excel(path, index=False)
    with pytest.raises(DataValidationError) as err:
        load_sessions(path, layout="wide", **WIDE_KW)
    pr = err.value.problems
    assert pr[["row", "column", "kind"]].values.tolist() == [
        [3, "wai_s2", "not_numeric"],
        [5, "nrs_s4", "out_of_range"],
        [6, "pid", "missing_id"],
    ]
    assert pr["value"].tolist()[:2] == ["abc", 14]
    sd = load_sessions(path, layout="wide", strict=False, **WIDE_KW)
    assert sd.n_dropped == 1 + 1 + 4
    assert sd.n_read == sd.n_kept + sd.n_dropped == len(long_frame)
    drops = sd.summary().drops
    assert drops.loc["missing_id", ["problems", "rows", "records"]].tolist() == [1, 1, 4]


def test_duplicate_patient_in_wide_rows(long_frame):
    wide = to_wide(long_frame)
    wide = pd.concat([wide, wide.iloc[[2]]], ignore_index=True)
    with pytest.raises(DataValidationError) as err:
        load_sessions(wide, layout="wide", **WIDE_KW)
    pr = err.value.problems
    assert set(pr["kind"]) == {"duplicate_id"}
    assert pr["row"].tolist() == [2, 6]
    assert "patient 103 appears in 2 rows of the wide table (rows 2 and 6)" in pr["reason"][0]


def test_sessions_without_any_value_are_not_records(recwarn):
    wide = pd.DataFrame({"id": [1, 2], "pain_t0": [5, 6], "pain_t8": [3, None]})
    sd = load_sessions(wide, patient="id", outcomes="pain", layout="wide")
    assert sd.data[["patient", "session", "pain"]].values.tolist() == [
        [1, 0, 5.0],
        [1, 8, 3.0],
        [2, 0, 6.0],
    ]
    assert sd.mapping.set_index("name").loc["session", "source_column"] == (
        "column names ({var}_t{session})"
    )
    # sparse time points (t0, t8) are the design, not gaps
    assert len(sd.summary().gaps) == 0 and not recwarn.list


def test_wide_errors_are_explained():
    wide = pd.DataFrame({"id": [1], "pain_week1": [5]})
    with pytest.raises(DataValidationError, match="wide_pattern="):
        load_sessions(wide, patient="id", outcomes="wai", layout="wide")
    with pytest.raises(ValueError, match="omit session="):
        load_sessions(wide, patient="id", session="s", outcomes="pain", layout="wide")
    with pytest.raises(ValueError, match="named groups"):
        load_sessions(wide, patient="id", outcomes="pain", layout="wide", wide_pattern="{var}")
    sd = load_sessions(
        wide, patient="id", outcomes="pain", layout="wide", wide_pattern="{var}_week{session}"
    )
    assert sd.data["session"].tolist() == [1]


def test_misspelt_wide_variable_gets_a_suggestion():
    wide = pd.DataFrame({"id": [1], "pain_s1": [3], "wai_s1": [4]})
    with pytest.raises(DataValidationError, match=r"did you mean 'pian' -> 'pain'\?"):
        load_sessions(wide, patient="id", outcomes="pian", layout="wide")
    with pytest.raises(DataValidationError, match=r"did you mean 'pian' -> 'pain'\?"):
        load_sessions(wide, patient="id", outcomes="pian", alliance="wai", layout="wide")


def test_wide_columns_naming_the_same_session_twice_are_an_error():
    # wai_s1 and wai_s01 both parse as session 1: the second used to overwrite the first
    wide = pd.DataFrame({"pid": [1, 2], "wai_s1": [4.0, 3.0], "wai_s01": [4.5, 3.5]})
    with pytest.raises(DataValidationError, match="'wai_s1' and 'wai_s01' both hold 'wai'"):
        load_sessions(wide, patient="pid", layout="wide", alliance="wai")


def test_wide_column_with_an_implausible_session_number_is_an_error():
    # used to crash with OverflowError: Python int too large to convert to C long
    wide = pd.DataFrame({"pid": [1, 2], "wai_s1": [4.0, 3.0], "wai_s99999999999999999999": [1, 2]})
    with pytest.raises(DataValidationError, match="not a plausible session"):
        load_sessions(wide, patient="pid", layout="wide", alliance="wai")


def test_wide_clash_in_a_variable_that_is_not_loaded_is_ignored():
    wide = pd.DataFrame(
        {"pid": [1, 2], "wai_s1": [4.0, 3.0], "wai_s2": [4.5, 3.5], "x_s1": [1, 2], "x_s01": [1, 2]}
    )
    data = load_sessions(wide, patient="pid", layout="wide", alliance="wai")
    assert len(data.data) == 4


def test_matched_wide_columns_are_listed_in_the_summary():
    wide = pd.DataFrame({"pid": [1, 2], "wai_s1": [4.0, 3.0], "wai_s2": [4.5, 3.5]})
    sd = load_sessions(wide, patient="pid", layout="wide", alliance="wai")
    assert sd.wide_columns.values.tolist() == [["wai", 1, "wai_s1"], ["wai", 2, "wai_s2"]]
    assert "wide columns matched with pattern '{var}_s{session}': wai: 2 columns" in str(
        sd.summary()
    )


def test_a_year_in_a_column_name_is_not_taken_silently_for_a_session():
    # wai_2024 next to wai_1, wai_2 used to become session 2024 without a word
    wide = pd.DataFrame(
        {"pid": [1, 2], "wai_1": [4.0, 3.0], "wai_2": [4.5, 3.5], "wai_2024": [5.0, 5.0]}
    )
    with pytest.warns(DataQualityWarning, match=r"2024 stand far apart.*'wai_2024'"):
        sd = load_sessions(wide, patient="pid", layout="wide", alliance="wai")
    assert any("stand far apart" in n for n in sd.notes)


def test_a_patient_whose_repeated_columns_are_all_empty_is_reported_with_covariates():
    # patient 3 used to vanish, covariates and all, counted nowhere
    wide = pd.DataFrame(
        {
            "pid": [1, 2, 3],
            "arm": ["a", "b", "b"],
            "pain_s1": [5, 6, None],
            "pain_s2": [4, None, None],
        }
    )
    with pytest.warns(DataQualityWarning, match="1 patient row"):
        sd = load_sessions(wide, patient="pid", layout="wide", outcomes="pain", covariates="arm")
    empty = sd.patients_without_sessions
    assert empty[["row", "patient", "arm"]].values.tolist() == [[2, 3, "b"]]
    assert sd.summary().counts["patients_without_sessions"] == 1
    assert sorted(sd.data["patient"].unique()) == [1, 2]


def test_a_session_group_matching_non_digits_is_a_parameter_error():
    # used to crash with a raw ValueError from int()
    wide = pd.DataFrame({"pid": [1], "wai_sA": [4.0]})
    with pytest.raises(ParameterError, match="not a whole number"):
        load_sessions(
            wide,
            patient="pid",
            layout="wide",
            alliance="wai",
            wide_pattern=r"(?P<var>wai)_s(?P<session>\w+)",
        )
