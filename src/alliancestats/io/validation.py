"""Collect every data problem, each pointing at a cell the user can find.

Checks never stop at the first problem: each adds lines to a :class:`ProblemLog`, one per
offending cell (or per row for row-level problems), with the record it belongs to, the
column as named in the source, the original value, a reason a researcher can act on and a
short ``kind`` code used for counting (see :data:`PROBLEM_KINDS`).

Examples
--------
>>> import numpy as np
>>> log = ProblemLog(3)
>>> log.add(np.array([1]), "pain", np.array(["abc"], dtype=object), "not a number", "not_numeric")
>>> log.bad_records().tolist()
[False, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "PROBLEM_KINDS",
    "PROBLEM_COLUMNS",
    "ProblemLog",
    "format_rows",
    "check_duplicate_sessions",
    "check_therapist_change",
    "check_duplicate_wide_ids",
]

#: Columns of the problems table (``DataValidationError.problems``, ``SessionData.dropped``).
PROBLEM_COLUMNS = ["file", "row", "column", "value", "reason", "kind"]

#: Problem kinds and what they mean.
PROBLEM_KINDS = {
    "missing_id": "patient or therapist identifier is empty",
    "duplicate_id": "the same patient appears in several rows of a wide table",
    "missing_session": "session number or date is empty",
    "bad_session": "session number is not a whole number >= 0",
    "duplicate_session": "several rows for the same patient and session with different values",
    "duplicate_row": "exact repeat of another row",
    "therapist_change": "patient seen by several therapists",
    "not_numeric": "text or other non-number in a numeric column",
    "out_of_range": "score outside the instrument's or declared range",
    "bad_date": "date that cannot be read",
    "future_date": "date after today",
    "implausible_date": "date before the earliest plausible date",
    "invalid_item": "questionnaire item value that cannot be scored",
}

#: Kinds that stop loading in either mode (the table itself cannot be mapped).
SETUP_KINDS = {
    "missing_column": "a mapped column is not in the data",
    "repeated_column": "a mapped column name occurs more than once in the header",
}


class ProblemLog:
    """Accumulates problems for ``n`` records (positions 0..n-1).

    Parameters
    ----------
    n : int
        Number of records being validated.
    """

    def __init__(self, n: int) -> None:
        self.n = n
        self._pos: list[np.ndarray] = []
        self._col: list[np.ndarray] = []
        self._val: list[np.ndarray] = []
        self._reason: list[np.ndarray] = []
        self._kind: list[np.ndarray] = []

    def add(
        self,
        positions: np.ndarray,
        column: Any,
        values: Any,
        reason: Any,
        kind: str,
    ) -> None:
        """Add one problem per position (``column``, ``values``, ``reason``: scalar or array)."""
        positions = np.asarray(positions, dtype=np.int64)
        k = len(positions)
        if k == 0:
            return
        if kind not in PROBLEM_KINDS:
            raise ValueError(f"unknown problem kind {kind!r}")

        def arr(x: Any) -> np.ndarray:
            if isinstance(x, np.ndarray) and x.ndim == 1 and len(x) == k:
                return x.astype(object)
            if isinstance(x, list | pd.Series | pd.Index) and len(x) == k:
                return np.asarray(list(x), dtype=object)
            out = np.empty(k, dtype=object)
            out[:] = [x] * k
            return out

        self._pos.append(positions)
        self._col.append(arr(column))
        self._val.append(arr(values))
        self._reason.append(arr(reason))
        self._kind.append(np.full(k, kind, dtype=object))

    def __len__(self) -> int:
        return int(sum(len(p) for p in self._pos))

    def bad_records(self) -> np.ndarray:
        """Boolean mask of records with at least one problem."""
        mask = np.zeros(self.n, dtype=bool)
        for p in self._pos:
            mask[p] = True
        return mask

    def records_by_kind(self) -> dict[str, int]:
        """Number of distinct records with at least one problem of each kind."""
        out: dict[str, set] = {}
        for p, k in zip(self._pos, self._kind, strict=True):
            out.setdefault(str(k[0]), set()).update(p.tolist())
        return {k: len(v) for k, v in out.items()}

    def positions(self) -> np.ndarray:
        """Record position of every problem line (before de-duplication)."""
        if not self._pos:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate(self._pos)

    def frame(
        self, rows: np.ndarray, file: str | None, order: np.ndarray | None = None
    ) -> pd.DataFrame:
        """The problems table, in record order, identical lines merged.

        Parameters
        ----------
        rows : ndarray
            User-visible row label of each record.
        file : str or None
            Source file name (``None`` for a DataFrame).
        order : ndarray, optional
            Sort key per record (defaults to record position).
        """
        if not self._pos:
            return empty_problems()
        pos = np.concatenate(self._pos)
        key = pos if order is None else np.asarray(order)[pos]
        idx = np.argsort(key, kind="stable")
        df = pd.DataFrame(
            {
                "file": pd.Series([file] * len(pos), dtype=object),
                "row": pd.Series(np.asarray(rows, dtype=object)[pos][idx], dtype=object),
                "column": pd.Series(np.concatenate(self._col)[idx], dtype=object),
                "value": pd.Series(np.concatenate(self._val)[idx], dtype=object),
                "reason": pd.Series(np.concatenate(self._reason)[idx], dtype=object),
                "kind": pd.Series(np.concatenate(self._kind)[idx], dtype=object),
            }
        )
        dup_key = pd.Series([repr(tuple(r)) for r in df.itertuples(index=False)])
        keep = ~dup_key.duplicated().to_numpy()
        return df[keep].reset_index(drop=True)


def empty_problems() -> pd.DataFrame:
    """A problems table with no lines.

    Examples
    --------
    >>> empty_problems().columns.tolist()
    ['file', 'row', 'column', 'value', 'reason', 'kind']
    """
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in PROBLEM_COLUMNS})


def format_rows(rows: Sequence[Any], limit: int = 5) -> str:
    """``"rows 2, 5 and 9"`` (shortened after ``limit``).

    Examples
    --------
    >>> format_rows([2, 5, 9])
    'rows 2, 5 and 9'
    >>> format_rows([4])
    'row 4'
    >>> format_rows(list(range(10)), limit=3)
    'rows 0, 1, 2 and 7 more'
    """
    rows = list(dict.fromkeys(rows))
    if len(rows) == 1:
        return f"row {rows[0]}"
    if len(rows) <= limit:
        return "rows " + ", ".join(map(str, rows[:-1])) + f" and {rows[-1]}"
    return "rows " + ", ".join(map(str, rows[:limit])) + f" and {len(rows) - limit} more"


def check_duplicate_sessions(
    log: ProblemLog,
    usable: np.ndarray,
    patient: pd.Series,
    session: pd.Series,
    compare: pd.DataFrame,
    rows: np.ndarray,
    session_column: np.ndarray | Any,
    session_values: np.ndarray,
    from_dates: bool,
) -> None:
    """Flag several records for one patient and session.

    Exact repeats (same values in every loaded column) are flagged after the first; rows
    that disagree are all flagged, since the loader cannot know which one is right.
    """
    idx = np.flatnonzero(usable)
    if not len(idx):
        return
    key = pd.DataFrame({"p": patient.to_numpy()[idx], "s": session.to_numpy()[idx]})
    dup = key.duplicated(keep=False).to_numpy()
    if not dup.any():
        return
    sub = idx[dup]
    groups = pd.DataFrame({"p": patient.to_numpy()[sub], "s": session.to_numpy()[sub], "i": sub})
    content = [repr(tuple(r)) for r in compare.iloc[sub].itertuples(index=False)]
    groups["c"] = content
    col = session_column
    for (p, s), g in groups.groupby(["p", "s"], sort=False):
        members = g["i"].to_numpy()
        user_rows = [rows[i] for i in members]
        if g["c"].nunique() == 1:
            later = members[1:]
            log.add(
                later,
                _pick(col, later),
                _pick(session_values, later),
                f"exact repeat of {format_rows(user_rows[:1])} (patient {p}, session "
                f"{_fmt_session(s)}); remove the repeated row",
                "duplicate_row",
            )
        else:
            what = "on the same date" if from_dates else f"for session {_fmt_session(s)}"
            log.add(
                members,
                _pick(col, members),
                _pick(session_values, members),
                f"patient {p} has {len(members)} different rows {what} "
                f"({format_rows(user_rows)}); keep one and correct or delete the others",
                "duplicate_session",
            )


def _fmt_session(s: Any) -> str:
    try:
        f = float(s)
        return str(int(f)) if f.is_integer() else str(s)
    except (TypeError, ValueError):
        return str(s)


def _pick(x: Any, positions: np.ndarray) -> Any:
    if isinstance(x, np.ndarray):
        return x[positions]
    return x


def check_therapist_change(
    log: ProblemLog,
    usable: np.ndarray,
    patient: pd.Series,
    therapist: pd.Series,
    rows: np.ndarray,
    therapist_column: Any,
    therapist_values: np.ndarray,
) -> pd.DataFrame:
    """Flag every record of a patient seen by more than one therapist.

    Returns the table of such patients (patient, therapists) whether or not they are flagged
    (``log=None`` only reports).
    """
    idx = np.flatnonzero(usable)
    df = pd.DataFrame({"p": patient.to_numpy()[idx], "t": therapist.to_numpy()[idx], "i": idx})
    if df.empty:
        return pd.DataFrame({"patient": [], "therapists": []})
    n_t = df.groupby("p", sort=False)["t"].transform("nunique").to_numpy()
    multi = df[n_t > 1]
    out = []
    for p, g in multi.groupby("p", sort=False):
        parts = []
        for t, gt in g.groupby("t", sort=False):
            parts.append(f"{t} ({format_rows([rows[i] for i in gt['i']], limit=3)})")
        out.append((p, ", ".join(str(t) for t in g["t"].unique())))
        if log is not None:
            members = g["i"].to_numpy()
            log.add(
                members,
                _pick(therapist_column, members),
                _pick(therapist_values, members),
                f"patient {p} is seen by {len(parts)} therapists: "
                + "; ".join(parts)
                + ". Correct the therapist ID, or pass allow_therapist_change=True if "
                "patients may switch therapists",
                "therapist_change",
            )
    return pd.DataFrame(out, columns=["patient", "therapists"])


def check_duplicate_wide_ids(
    log: ProblemLog,
    usable: np.ndarray,
    record_wide_pos: np.ndarray,
    patient: pd.Series,
    wide_rows: np.ndarray,
    patient_column: Any,
    patient_values: np.ndarray,
) -> np.ndarray:
    """Flag records of patients whose ID occurs in more than one wide row.

    Returns the mask of flagged records.
    """
    flagged = np.zeros(len(record_wide_pos), dtype=bool)
    idx = np.flatnonzero(usable)
    if not len(idx):
        return flagged
    df = pd.DataFrame({"p": patient.to_numpy()[idx], "w": record_wide_pos[idx], "i": idx})
    n_w = df.groupby("p", sort=False)["w"].transform("nunique").to_numpy()
    for p, g in df[n_w > 1].groupby("p", sort=False):
        members = g["i"].to_numpy()
        flagged[members] = True
        wrows = [wide_rows[w] for w in sorted(g["w"].unique())]
        log.add(
            members,
            patient_column,
            _pick(patient_values, members),
            f"patient {p} appears in {len(wrows)} rows of the wide table "
            f"({format_rows(wrows)}); a wide table needs one row per patient",
            "duplicate_id",
        )
    return flagged
