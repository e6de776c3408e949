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

from collections.abc import Callable, Sequence
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
    "missing_id": "patient or therapist identifier is empty or a missing-value code (NA, None)",
    "id_format": "IDs that differ only in how a whole number is written (1, 01, 1.0)",
    "imprecise_id": "ID stored as a floating-point number too large to be exact (above 2**53)",
    "duplicate_id": "the same patient appears in several rows of a wide table",
    "missing_session": "session number or date is empty",
    "bad_session": "session number is not a whole number >= 0",
    "duplicate_session": "several rows for the same patient and session with different values",
    "duplicate_row": "exact repeat of another row",
    "therapist_change": "patient seen by several therapists",
    "not_numeric": "text or other non-number in a numeric column",
    "ambiguous_number": "number whose thousands separator or decimal mark is unclear (1,000)",
    "out_of_range": "score outside the instrument's or declared range",
    "bad_date": "date that cannot be read",
    "future_date": "date after today",
    "implausible_date": "date before the earliest plausible date",
    "invalid_item": "questionnaire item value that cannot be scored",
    "extra_fields": "row with more values than the header has column names",
    "unmatched_quote": "a quote that swallows the following lines into one field",
    "formula_without_value": "Excel formula whose value was never computed (file not saved "
    "by Excel)",
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
    return pd.DataFrame(np.empty((0, len(PROBLEM_COLUMNS)), dtype=object), columns=PROBLEM_COLUMNS)


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
    content: Callable[[np.ndarray], list[Any]],
    rows: np.ndarray,
    session_column: np.ndarray | Any,
    session_values: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    from_dates: bool,
    patient_codes: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> None:
    """Flag several records for one patient and session.

    Exact repeats (same values in every loaded column, as given by ``content`` for a set of
    record positions) are flagged after the first; rows that disagree are all flagged, since
    the loader cannot know which one is right. ``order`` (record positions sorted by patient
    code then session, stable) lets neighbours be compared instead of hashing every key.
    """
    codes = patient_codes if patient_codes is not None else pd.factorize(patient)[0]
    sess_all = session.to_numpy(dtype=float, na_value=np.nan)
    if order is None:
        order = np.lexsort((sess_all, codes))
    pos = order[usable[order]]
    if len(pos) < 2:
        return
    c, s = codes[pos], sess_all[pos]
    same = (c[1:] == c[:-1]) & (s[1:] == s[:-1])
    if not same.any():
        return
    dup = np.zeros(len(pos), dtype=bool)
    dup[1:] |= same
    dup[:-1] |= same
    run = np.cumsum(~np.r_[False, same])
    sub = pos[dup]
    groups = pd.DataFrame({"k": run[dup], "i": sub})
    groups["c"] = [repr(c) for c in content(sub)]
    for _, g in groups.groupby("k", sort=False):
        members = g["i"].to_numpy()
        p, s = patient.iloc[members[0]], session.iloc[members[0]]
        user_rows = [rows[i] for i in members]
        if g["c"].nunique() == 1:
            later = members[1:]
            log.add(
                later,
                _pick(session_column, later),
                _values(session_values, later),
                f"exact repeat of {format_rows(user_rows[:1])} (patient {p}, session "
                f"{_fmt_session(s)}); remove the repeated row",
                "duplicate_row",
            )
        else:
            what = "on the same date" if from_dates else f"for session {_fmt_session(s)}"
            log.add(
                members,
                _pick(session_column, members),
                _values(session_values, members),
                f"patient {p} has {len(members)} different rows {what} "
                f"({format_rows(user_rows)}); keep one and correct or delete the others",
                "duplicate_session",
            )


def _values(x: Callable[[np.ndarray], np.ndarray] | np.ndarray, positions: np.ndarray) -> Any:
    return x(positions) if callable(x) else _pick(x, positions)


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
    log: ProblemLog | None,
    usable: np.ndarray,
    patient: pd.Series,
    therapist: pd.Series,
    rows: np.ndarray,
    therapist_column: Any,
    therapist_values: Callable[[np.ndarray], np.ndarray] | np.ndarray,
    patient_codes: np.ndarray | None = None,
    therapist_codes: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> pd.DataFrame:
    """Flag every record of a patient seen by more than one therapist.

    Returns the table of such patients (patient, therapists) whether or not they are flagged
    (``log=None`` only reports). ``patient_codes``/``therapist_codes`` (integer codes of the
    IDs, equal IDs equal codes) save recomputing them; ``order`` (positions sorted by patient
    code, stable) lets each patient's records be compared as one run.
    """
    none = pd.DataFrame({"patient": [], "therapists": []})
    if patient_codes is None:
        patient_codes = pd.factorize(patient)[0]
    if therapist_codes is None:
        therapist_codes = pd.factorize(therapist)[0]
    pcodes = np.asarray(patient_codes)
    if order is None:
        order = np.argsort(pcodes, kind="stable")
    pos = order[usable[order]]
    if not len(pos):
        return none
    pc_, tc = pcodes[pos], np.asarray(therapist_codes)[pos]
    # a patient whose records are not all seen by one therapist has two neighbouring records
    # (in patient order) with different therapists
    switch = (pc_[1:] == pc_[:-1]) & (tc[1:] != tc[:-1])
    changing = np.unique(pc_[1:][switch])
    if not len(changing):
        return none
    members = np.sort(pos[np.isin(pc_, changing)])
    df = pd.DataFrame(
        {
            "p": patient.iloc[members].to_numpy(dtype=object),
            "t": therapist.iloc[members].to_numpy(dtype=object),
            "i": members,
        }
    )
    out = []
    for p, g in df.groupby("p", sort=False):
        parts = []
        for t, gt in g.groupby("t", sort=False):
            parts.append(f"{t} ({format_rows([rows[i] for i in gt['i']], limit=3)})")
        out.append((p, ", ".join(str(t) for t in g["t"].unique())))
        if log is not None:
            members = g["i"].to_numpy()
            log.add(
                members,
                _pick(therapist_column, members),
                _values(therapist_values, members),
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
    patient_values: Callable[[np.ndarray], np.ndarray] | np.ndarray,
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
            _values(patient_values, members),
            f"patient {p} appears in {len(wrows)} rows of the wide table "
            f"({format_rows(wrows)}); a wide table needs one row per patient",
            "duplicate_id",
        )
    return flagged
