"""Session frames for routine outcome monitoring: intake, sessions since intake, time scale.

Expected-recovery curves (Finch, Lambert & Schaalje 2001, Clin Psychol Psychother 8(4)) model
a patient's score at each session from the score at intake. :func:`session_frame` turns long
session data into the frame every monitoring step uses: one row per input row (same index)
with the score, the patient's intake session and intake values, the number of sessions since
intake and the time variable ``f(t)`` of the growth model.

Time runs from the patient's *intake session*, the first session with an observed score:
``t = session - intake_session + 1`` (1 at intake), and

* ``time="log"``: ``f(t) = log(t)`` -- the log-linear curve of the expected-treatment-response
  models (Finch et al. 2001; Lutz et al. 2006), fast early change that levels off;
* ``time="linear"``: ``f(t) = t - 1``.

Both are 0 at intake, so the intercept of the growth model is the expected score at intake.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.monitoring.sessions import IntakeSpec, session_frame
>>> d = pd.DataFrame({"patient": ["a"] * 3 + ["b"] * 2, "session": [1, 2, 3, 2, 3],
...                   "oq": [80.0, 74.0, 70.0, 60.0, None]})
>>> f = session_frame(d, "oq", patient="patient", session="session",
...                   intake=IntakeSpec(None), time="log", function="f")
>>> f[["patient", "t", "intake", "phase", "modelled"]]
  patient  t  intake      phase  modelled
0       a  1    80.0     intake     False
1       a  2    80.0  treatment      True
2       a  3    80.0  treatment      True
3       b  1    60.0     intake     False
4       b  2    60.0  treatment     False
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import (
    as_frame,
    check_choice,
    column_names,
    id_column,
    numeric_column,
    problems_frame,
    raise_problems,
    require_columns,
    require_unique_rows,
    whole_number_column,
)
from alliancestats.errors import ParameterError

__all__ = ["RESERVED", "TIME_SCALES", "IntakeSpec", "intake_spec", "session_frame", "time_value"]

#: Time scales of the growth model, ``f(t)`` with ``t`` = 1 at intake.
TIME_SCALES = ("log", "linear")
#: Column names the model frame uses itself (intake variables may not take them).
RESERVED = ("score", "time", "patient", "session", "t")


@dataclass(frozen=True)
class IntakeSpec:
    """What the patient brings to treatment: the first observed score, or intake columns.

    ``columns`` is ``None`` for the first observed score (the expected-treatment-response
    convention), or the names of patient-level intake variables.
    """

    columns: tuple[str, ...] | None

    @property
    def names(self) -> tuple[str, ...]:
        """Names of the intake variables in the model frame."""
        return ("intake",) if self.columns is None else self.columns

    @property
    def first_score(self) -> bool:
        """Whether the intake is the first observed score (its session is not modelled)."""
        return self.columns is None

    def describe(self) -> str:
        """The intake in words, for summaries."""
        if self.columns is None:
            return "the first observed score (intake)"
        return "intake variable(s) " + ", ".join(self.columns)


def intake_spec(intake: Any) -> IntakeSpec:
    """Check ``intake=`` (``"first"``, a column name or a list of names).

    Examples
    --------
    >>> intake_spec("first").names, intake_spec(["severity", "age"]).names
    (('intake',), ('severity', 'age'))
    """
    if isinstance(intake, str) and intake == "first":
        return IntakeSpec(None)
    names = column_names(intake, "intake")
    bad = [n for n in names if not n.isidentifier() or n in RESERVED]
    if bad:
        raise ParameterError(
            f"intake column name(s) {bad} cannot be used in the growth model: use names made "
            f"of letters, digits and underscores, other than {', '.join(RESERVED)} (rename "
            "the columns first)"
        )
    return IntakeSpec(tuple(names))


def time_value(t: Any, scale: str) -> np.ndarray:
    """``f(t)`` for sessions since intake ``t`` (1 at intake).

    Examples
    --------
    >>> time_value([1, 2, 3], "linear").tolist()
    [0.0, 1.0, 2.0]
    >>> round(float(time_value([4], "log")[0]), 4)
    1.3863
    """
    t = np.asarray(t, dtype=float)
    if scale == "log":
        return np.log(t)
    return t - 1.0


def _patient_constant(frame: pd.DataFrame, ids: pd.Series, column: str,
                      function: str) -> pd.Series:
    """The patient's value of an intake column (first non-missing), checked to be constant."""
    values = numeric_column(frame, column, function)
    spread = values.groupby(ids, sort=False).transform(lambda v: v.nunique(dropna=True))
    varying = spread > 1
    if varying.any():
        raise_problems(
            problems_frame(frame.index[varying], column, values[varying].tolist(),
                           "intake value differs between sessions of one patient"),
            f"{function}(): intake variable {column!r} must be constant within each patient",
        )
    return values.groupby(ids, sort=False).transform("first")


def session_frame(
    data: Any,
    outcome: str,
    *,
    patient: str,
    session: str,
    intake: IntakeSpec,
    time: str,
    function: str,
) -> pd.DataFrame:
    """One row per input row: score, intake, sessions since intake and the model's time.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long session data.
    outcome : str
        The monitored score.
    patient, session : str
        Patient ID and session-number columns.
    intake : IntakeSpec
        First observed score or intake columns.
    time : {"log", "linear"}
        Time scale.
    function : str
        Public function name for messages.

    Returns
    -------
    pandas.DataFrame
        Same index as the data; columns ``patient``, ``session``, ``score``,
        ``intake_session`` (first session with a score; NaN when the patient has none),
        ``baseline`` (the score at that session),
        ``t`` (sessions since intake, 1 at intake; nullable integer), ``time`` (``f(t)``),
        the intake variables (``intake`` or the intake columns), ``phase`` (``"before
        intake"``, ``"intake"``, ``"treatment"``, or ``"no intake"`` for patients without a
        score or with a missing intake variable) and ``modelled`` (the row enters the growth
        model: a score after intake -- at intake too when the intake is given by columns).
    """
    check_choice("time", time, TIME_SCALES)
    frame = as_frame(data, function)
    extra = list(intake.columns or ())
    require_columns(frame, [patient, session, outcome, *extra], function)
    ids = id_column(frame, patient, function)
    sessions = whole_number_column(frame, session, function)
    require_unique_rows(frame, [ids, sessions], [patient, session], function)
    score = numeric_column(frame, outcome, function)
    first = sessions.where(score.notna()).groupby(ids, sort=False).transform("min")
    out = pd.DataFrame({"patient": ids, "session": sessions, "score": score,
                        "intake_session": first}, index=frame.index)
    order = np.lexsort((sessions.to_numpy(), pd.factorize(ids)[0]))
    ordered = score.iloc[order]
    out["baseline"] = ordered.groupby(ids.iloc[order], sort=False).transform("first")
    if intake.first_score:
        out["intake"] = out["baseline"]
    else:
        for column in extra:
            out[column] = _patient_constant(frame, ids, column, function)
    t = (sessions - first + 1).where(first.notna())
    out["t"] = pd.array(t.astype("Float64"), dtype="Int64")
    after = (t >= 1).to_numpy()
    values = np.full(len(out), np.nan)
    values[after] = time_value(t.to_numpy(dtype=float)[after], time)
    out["time"] = values
    has_intake = first.notna() & out[list(intake.names)].notna().all(axis=1)
    phase = np.select([~has_intake, t < 1, t == 1], ["no intake", "before intake", "intake"],
                      "treatment")
    out["phase"] = phase
    modelled = has_intake & score.notna() & (t >= 1)
    if intake.first_score:
        modelled &= t > 1
    out["modelled"] = modelled.to_numpy(dtype=bool)
    return out
