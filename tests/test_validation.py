"""Shared argument and data checks: one exception class per kind of mistake."""

import numpy as np
import pandas as pd
import pytest

from alliancestats import _validation as v
from alliancestats.errors import DataValidationError, ParameterError


def test_as_frame_accepts_dataframe_and_session_data():
    from alliancestats import load_sessions

    frame = pd.DataFrame({"patient": [1, 1, 2], "session": [1, 2, 1], "pain": [3.0, 2.0, 5.0]})
    sd = load_sessions(frame, patient="patient", session="session", outcomes="pain")
    assert v.as_frame(frame, "f") is frame
    assert v.as_frame(sd, "f") is sd.data
    with pytest.raises(ParameterError, match="DataFrame or a SessionData"):
        v.as_frame([1, 2], "f")


def test_numeric_column_reads_missing_codes_like_the_loader():
    frame = pd.DataFrame({"x": ["1", " NA", "none", 2.5, None]})
    out = v.numeric_column(frame, "x", "f")
    assert out.isna().tolist() == [False, True, True, False, True]


def test_numeric_column_names_bad_rows():
    frame = pd.DataFrame({"x": ["1", "abc", np.inf]}, index=[10, 11, 12])
    with pytest.raises(DataValidationError) as info:
        v.numeric_column(frame, "x", "f")
    assert info.value.problems["row"].tolist() == [11]


def test_infinite_values_are_problems():
    with pytest.raises(DataValidationError, match="infinite"):
        v.numeric_column(pd.DataFrame({"x": [1.0, np.inf]}), "x", "f")


def test_categorical_is_not_numeric():
    with pytest.raises(DataValidationError, match="not numeric"):
        v.numeric_column(pd.DataFrame({"x": pd.Categorical(["a"])}), "x", "f")


def test_missing_columns_listed():
    with pytest.raises(DataValidationError, match=r"\['b'\]"):
        v.require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], "f")


@pytest.mark.parametrize("bad", [True, 1.5, "3", None])
def test_check_int_refuses_non_integers(bad):
    with pytest.raises(ParameterError):
        v.check_int("n", bad)


def test_check_level_hints_at_percent_scale():
    with pytest.raises(ParameterError, match="did you mean 0.95"):
        v.check_level(95)
    with pytest.raises(ParameterError):
        v.check_level(1.0)


def test_interval_checks():
    assert v.check_probability("p", 0.0) == 0.0
    with pytest.raises(ParameterError, match=r"\[0, 1\)"):
        v.check_probability("p", 1.0)
    with pytest.raises(ParameterError, match="correlation"):
        v.check_correlation("rho", 1.0)
    assert v.check_correlation("rho", 1.0, allow_bounds=True) == 1.0
    with pytest.raises(ParameterError, match="must lie in"):
        v.check_positive("sd", 0)
    assert v.check_int_range("s", (2, 5)) == (2, 5)


def test_check_choice_lists_options():
    with pytest.raises(ParameterError, match="'REML', 'ML'"):
        v.check_choice("method", "reml", ["REML", "ML"])
    with pytest.raises(ParameterError):
        v.check_choice("method", np.array([1, 2]), ["REML"])
