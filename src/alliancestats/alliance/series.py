"""Per-patient score series on a grid of session numbers, shared by the event detectors.

Sudden gains, sudden losses and rupture detectors look at each patient's scores session by
session. This module turns what a researcher has -- a ``SessionData``, a long DataFrame (one row
per patient-session) or a wide DataFrame (one row per patient, one column per session named by
a pattern such as ``bdi_s3``) -- into one matrix: patients in rows, consecutive session numbers
in columns, missing where a session has no score.

Session numbers always come from the data (the session column, or the number inside a wide
column's name), never from the row order or the position of a column: a missed session is a gap
in the grid, not a shift of the later sessions.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.alliance.series import session_series
>>> d = pd.DataFrame({"patient": ["a", "a", "a", "b"], "session": [1, 2, 4, 2],
...                   "bdi": [30.0, 28.0, 20.0, 25.0]})
>>> s = session_series(d, "bdi")
>>> s.sessions.tolist()
[1, 2, 3, 4]
>>> s.values.tolist()
[[30.0, 28.0, nan, 20.0], [nan, 25.0, nan, nan]]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import (
    as_frame,
    check_int_range,
    id_column,
    numeric_column,
    problems_frame,
    raise_problems,
    require_columns,
    require_unique_rows,
    whole_number_column,
)
from alliancestats.errors import DataValidationError, ParameterError
from alliancestats.io.reshape import detect_wide_layout

__all__ = ["MAX_GRID_CELLS", "SessionSeries", "session_series"]

#: Largest patients x sessions grid built (about 400 MB of floats); larger spans of session
#: numbers usually mean dates or visit codes were passed as session numbers.
MAX_GRID_CELLS = 50_000_000


@dataclass(frozen=True)
class SessionSeries:
    """Scores of every patient at every session number between the first and the last.

    Attributes
    ----------
    score : str
        Name of the score (the column, or the variable stem of a wide file).
    patients : pandas.Index
        Patient IDs, one per row of ``values`` (sorted when the IDs can be sorted).
    sessions : numpy.ndarray
        Consecutive whole session numbers, one per column of ``values``.
    values : numpy.ndarray
        Float matrix ``(len(patients), len(sessions))``; NaN where the session has no score.
    """

    score: str
    patients: pd.Index
    sessions: np.ndarray
    values: np.ndarray

    def to_frame(self) -> pd.DataFrame:
        """The observed scores as a long frame ``patient, session, <score>`` (gaps left out).

        Examples
        --------
        >>> import pandas as pd
        >>> d = pd.DataFrame({"patient": [1, 1], "session": [1, 3], "x": [2.0, 4.0]})
        >>> session_series(d, "x").to_frame().to_dict("list")
        {'patient': [1, 1], 'session': [1, 3], 'x': [2.0, 4.0]}
        """
        rows, cols = np.nonzero(~np.isnan(self.values))
        return pd.DataFrame(
            {
                "patient": self.patients.to_numpy()[rows],
                "session": self.sessions[cols],
                self.score: self.values[rows, cols],
            }
        )

    def row(self, patient: Any) -> np.ndarray:
        """The score series of one patient (a view of one row of ``values``)."""
        where = self.patients.get_indexer([patient])[0]
        if where < 0:
            raise ParameterError(f"patient {patient!r} is not in the data")
        return self.values[where]


def session_series(
    data: Any,
    score: str,
    *,
    patient: str = "patient",
    session: str = "session",
    wide_pattern: str | re.Pattern | None = None,
    sessions: int | tuple[int, int] | None = None,
    function: str = "session_series",
) -> SessionSeries:
    """Arrange one score as a patients x sessions grid.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long data (one row per patient-session), or wide data (one row per patient) when
        ``wide_pattern`` is given.
    score : str
        Score column (long) or variable stem (wide, e.g. ``"bdi"`` for ``bdi_s1, bdi_s2``).
    patient, session : str
        Patient ID column and (long data) session-number column.
    wide_pattern : str or re.Pattern, optional
        Names of the wide columns, ``"{var}_s{session}"`` or a regular expression with groups
        ``var`` and ``session``; setting it means the data are wide.
    sessions : int or (int, int), optional
        Inclusive range of session numbers to keep (the grid); default from the first to the
        last session number in the data.
    function : str
        Name of the calling public function, for messages.

    Returns
    -------
    SessionSeries

    Raises
    ------
    DataValidationError
        Missing columns, non-numeric scores, missing IDs or session numbers, fractional
        session numbers, or two rows for one patient-session (or two wide rows for a patient).
    """
    frame = as_frame(data, function)
    if not isinstance(score, str):
        raise ParameterError(f"{function}(): score must be a column name, got {score!r}")
    if wide_pattern is None:
        ids, numbers, values = _long_input(frame, score, patient, session, function)
    else:
        ids, numbers, values = _wide_input(frame, score, patient, wide_pattern, function)
    bounds = None if sessions is None else check_int_range("sessions", sessions, minimum=0)
    return _grid(score, ids, numbers, values, bounds, function)


def _long_input(
    frame: pd.DataFrame, score: str, patient: str, session: str, function: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    missing = [c for c in (patient, session) if c not in frame.columns]
    if missing == [session] and score not in frame.columns:
        raise DataValidationError(
            f"{function}(): no {session!r} or {score!r} column; for wide data (one column per "
            "session) pass wide_pattern=, e.g. '{var}_s{session}' for bdi_s1, bdi_s2, ..."
        )
    require_columns(frame, [patient, session, score], function)
    ids = id_column(frame, patient, function)
    numbers = whole_number_column(frame, session, function)
    require_unique_rows(frame, [ids, numbers], [patient, session], function)
    values = numeric_column(frame, score, function)
    return ids.to_numpy(), numbers.to_numpy(), values.to_numpy()


def _wide_input(
    frame: pd.DataFrame, score: str, patient: str, pattern: str | re.Pattern, function: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    require_columns(frame, [patient], function)
    layout = detect_wide_layout(list(frame.columns), [score], pattern)
    by_session = next(iter(layout.cells.values()))
    ids = id_column(frame, patient, function)
    dup = ids.duplicated(keep=False).to_numpy()
    if dup.any():
        raise_problems(
            problems_frame(frame.index[dup], patient, ids[dup].tolist(), "duplicate patient"),
            f"{function}(): wide data need one row per patient",
        )
    cols, nums = [], []
    for number, column in sorted(by_session.items()):
        cols.append(numeric_column(frame, column, function).to_numpy())
        nums.append(number)
    n = len(frame)
    values = np.column_stack(cols).ravel() if cols else np.empty(0)
    numbers = np.tile(np.asarray(nums, dtype=np.int64), n)
    return np.repeat(ids.to_numpy(), len(nums)), numbers, values


def _grid(
    score: str,
    ids: np.ndarray,
    numbers: np.ndarray,
    values: np.ndarray,
    bounds: tuple[int, int] | None,
    function: str,
) -> SessionSeries:
    patients = _patient_order(ids)
    if bounds is not None:
        keep = (numbers >= bounds[0]) & (numbers <= bounds[1])
        ids, numbers, values = ids[keep], numbers[keep], values[keep]
        low, high = bounds
    elif numbers.size:
        low, high = int(numbers.min()), int(numbers.max())
    else:
        raise DataValidationError(f"{function}(): the data have no rows")
    width = high - low + 1
    if width * len(patients) > MAX_GRID_CELLS:
        raise DataValidationError(
            f"{function}(): session numbers run from {low} to {high}; a grid this wide for "
            f"{len(patients)} patients is not plausible. Check that the session column holds "
            "session numbers (not dates or visit codes), or pass sessions=(first, last)"
        )
    grid = np.full((len(patients), width), np.nan)
    grid[patients.get_indexer(ids), numbers - low] = values
    sessions = np.arange(low, high + 1, dtype=np.int64)
    return SessionSeries(score, patients, sessions, grid)


def _patient_order(ids: np.ndarray) -> pd.Index:
    """Unique patient IDs, sorted when they can be compared, else in order of appearance."""
    unique = pd.Index(pd.unique(ids))
    try:
        return unique.sort_values()
    except TypeError:
        return unique
