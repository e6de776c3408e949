"""Regression tests from the adversarial review of load_sessions."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    AllianceStatsError,
    DataQualityWarning,
    DataValidationError,
    ParameterError,
)
from alliancestats.io import load_sessions

BASE = pd.DataFrame(
    {"pid": [1, 1, 2, 2], "sess": [1, 2, 1, 2], "wai": [4.0, 4.5, 3.0, 3.5], "pain": [6, 5, 7, 6]}
)
ROLES = {"patient": "pid", "session": "sess", "alliance": "wai"}


def test_row_with_more_fields_than_the_header_is_reported(tmp_path):
    # "2,1,3,5" (an unquoted decimal comma) used to load silently as alliance = 3
    path = tmp_path / "ragged.csv"
    path.write_text("pid,sess,wai\n1,1,4\n1,2,4.5\n2,1,3,5\n", encoding="utf-8")
    with pytest.warns(DataQualityWarning, match=r"1 row\(s\) have more fields .*rows 4\)"):
        data = load_sessions(path, **ROLES)
    assert len(data.data) == 3  # rows are kept (the warning says what to check)


def test_trailing_empty_fields_do_not_warn(tmp_path):
    path = tmp_path / "trailing.csv"
    path.write_text("pid,sess,wai\n1,1,4,,\n1,2,4.5\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        data = load_sessions(path, **ROLES)
    assert data.data["alliance"].tolist() == [4.0, 4.5]


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


@pytest.mark.parametrize(
    "dtypes",
    [
        {"pid": "Int64", "sess": "Int64", "wai": "Float64"},
        {"pid": "string[pyarrow]", "wai": "string[pyarrow]"},
        {"pid": "category", "sess": "category", "wai": "category"},
        {"pid": "str", "sess": "str", "wai": "str"},
    ],
)
def test_nullable_categorical_and_string_dtypes_load_to_the_same_frame(dtypes):
    expected = load_sessions(BASE, **ROLES).data
    got = load_sessions(BASE.astype(dtypes), **ROLES).data
    pd.testing.assert_frame_equal(got, expected)


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
