"""trajectories() and session_summary() input handling: levels, counts, dtypes, axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from alliancestats.errors import DataValidationError, ParameterError  # noqa: E402
from alliancestats.plot import trajectories  # noqa: E402
from alliancestats.plot.trajectories import session_summary  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient": [1, 1, 1, 2, 2, 2],
            "session": [1, 2, 3, 1, 2, 3],
            "pain": [6.0, 5.0, 4.0, 7.0, 5.0, 5.0],
        }
    )


def test_trajectories_level_accepts_a_percentage(sessions):
    # level=95 used to raise a bare ValueError; meta_analysis accepts both forms
    pd.testing.assert_frame_equal(
        session_summary(sessions, "pain", level=95), session_summary(sessions, "pain", level=0.95)
    )
    assert trajectories(sessions, "pain", level=95) is not None


@pytest.mark.parametrize("level", [0, 100, 150, -1])
def test_trajectories_impossible_level_is_a_parameter_error(sessions, level):
    with pytest.raises(ParameterError, match="level"):
        session_summary(sessions, "pain", level=level)


@pytest.mark.parametrize("n_patients", [-1, 2.5, "10", True])
def test_trajectories_bad_n_patients_is_a_parameter_error(sessions, n_patients):
    # "10" used to escape as a bare ValueError from int()
    with pytest.raises(ParameterError, match="n_patients"):
        trajectories(sessions, "pain", n_patients=n_patients)


def test_trajectories_nullable_dtypes_and_duplicate_index(sessions):
    data = sessions.astype({"pain": "Float64", "session": "Int64"}).set_index(
        pd.Index(np.zeros(len(sessions), dtype=int))
    )
    summary = session_summary(data, "pain")
    assert summary["mean"].tolist() == [6.5, 5.0, 4.5]
    assert trajectories(data, "pain") is not None


def test_trajectories_wrong_data_type_is_a_parameter_error():
    with pytest.raises(ParameterError, match="DataFrame or a SessionData"):
        trajectories([1, 2, 3], "pain")


def test_trajectories_refuse_an_ax_that_is_not_an_axes(sessions):
    with pytest.raises(ParameterError, match="ax must be a matplotlib Axes"):
        trajectories(sessions, "pain", ax=[1])


def test_trajectories_infinite_outcome_is_an_error_not_an_infinite_mean(sessions):
    # one inf used to give mean = inf and sd = NaN for that session without a word
    data = sessions.assign(pain=[np.inf, 5.0, 4.0, 7.0, 5.0, 5.0])
    with pytest.raises(DataValidationError, match="1 infinite value"):
        session_summary(data, "pain")

