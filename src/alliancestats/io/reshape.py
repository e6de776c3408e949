"""Reshape wide session data to long, and turn session dates into session order.

Wide data have one row per patient and one column per variable and session, named by a
pattern such as ``wai_s1, wai_s2, ...`` or ``pain_t0, pain_t8``. A pattern is a template
with ``{var}`` and ``{session}`` (``"{var}_s{session}"``) or a regular expression with the
named groups ``var`` and ``session``. Each wide row yields one long record per session in
which at least one of the requested variables has a value; every record remembers its wide
row and, per variable, the wide column it came from, so problems point at the cell the user
sees.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io.reshape import compile_pattern
>>> m = compile_pattern("{var}_s{session}").fullmatch("wai_bond_s12")
>>> m["var"], m["session"]
('wai_bond', '12')
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import DataValidationError, ParameterError
from alliancestats.io.convert import text_cells
from alliancestats.io.missing import MissingCodes

__all__ = [
    "WIDE_TEMPLATES",
    "compile_pattern",
    "WideLayout",
    "detect_wide_layout",
    "wide_to_long",
    "session_order_from_dates",
    "days_since_first",
    "far_apart_sessions",
    "layout_table",
    "stems_hint",
]

#: Templates tried, in order, when ``wide_pattern`` is not given.
WIDE_TEMPLATES = (
    "{var}_s{session}",
    "{var}_t{session}",
    "{var}_session{session}",
    "{var}_w{session}",
    "{var}_v{session}",
    "{var}.{session}",
    "{var}_{session}",
    "{var}{session}",
)


def compile_pattern(pattern: str | re.Pattern) -> re.Pattern:
    """Compile a wide-column template or regular expression.

    Examples
    --------
    >>> compile_pattern("{var}_t{session}").pattern
    '(?P<var>.+)_t(?P<session>\\\\d+)'
    """
    if isinstance(pattern, re.Pattern):
        rx = pattern
    elif "{var}" in pattern and "{session}" in pattern:
        parts = re.split(r"(\{var\}|\{session\})", pattern)
        body = "".join(
            "(?P<var>.+)"
            if p == "{var}"
            else r"(?P<session>\d+)"
            if p == "{session}"
            else re.escape(p)
            for p in parts
        )
        rx = re.compile(body)
    else:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise ParameterError(
                f"wide_pattern {pattern!r} is not a valid regular expression: {exc}"
            ) from exc
    if not {"var", "session"} <= set(rx.groupindex):
        raise ParameterError(
            f"wide_pattern {pattern!r} needs {{var}} and {{session}} (template) or the named "
            "groups (?P<var>...) and (?P<session>...) (regular expression)"
        )
    return rx


@dataclass
class WideLayout:
    """Which wide columns hold which variable at which session."""

    pattern: str
    cells: dict[str, dict[int, Any]]  # stem -> session -> column
    plain: list[Any]  # columns that are not repeated per session


_MAX_SESSION = 100_000  # larger numbers in a column name are not session numbers


def _match_columns(
    columns: Sequence[Any], rx: re.Pattern, conflicts: dict[str, str] | None = None
) -> dict[str, dict[int, Any]]:
    """Map variable -> session -> column; clashes are described in ``conflicts`` (by variable)."""
    cells: dict[str, dict[int, Any]] = {}
    for col in columns:
        m = rx.fullmatch(str(col).strip())
        if m is None:
            continue
        try:
            session = int(m["session"])
        except ValueError:
            raise ParameterError(
                f"wide_pattern {rx.pattern!r} reads the session of column {col!r} as "
                f"{m['session']!r}, which is not a whole number; make the session group match "
                "digits only, e.g. (?P<session>\\d+)"
            ) from None
        by_session = cells.setdefault(m["var"], {})
        if conflicts is not None and session > _MAX_SESSION:
            conflicts.setdefault(
                m["var"],
                f"column {col!r} gives session number {session}, which is not a plausible "
                "session; check wide_pattern= or rename the column",
            )
        elif conflicts is not None and session in by_session:
            conflicts.setdefault(
                m["var"],
                f"columns {by_session[session]!r} and {col!r} both hold {m['var']!r} at "
                f"session {session}; rename or drop one of them",
            )
        if session <= _MAX_SESSION:
            by_session.setdefault(session, col)
    return cells


def _fold(name: Any) -> str:
    return str(name).strip().casefold()


def detect_wide_layout(
    columns: Sequence[Any], wanted: Iterable[Any], pattern: str | re.Pattern | None
) -> WideLayout:
    """Find the wide columns for the wanted variables, trying common templates if needed.

    Raises
    ------
    DataValidationError
        When no template matches any wanted variable.

    Examples
    --------
    >>> lay = detect_wide_layout(["id", "wai_s1", "wai_s2"], ["wai"], None)
    >>> lay.pattern, lay.cells["wai"], lay.plain
    ('{var}_s{session}', {1: 'wai_s1', 2: 'wai_s2'}, ['id'])
    """
    wanted_folded = {_fold(w) for w in wanted}
    candidates = [pattern] if pattern is not None else list(WIDE_TEMPLATES)
    best: tuple[int, Any, dict, dict] | None = None
    for cand in candidates:
        conflicts: dict[str, str] = {}
        cells = _match_columns(columns, compile_pattern(cand), conflicts)
        hits = sum(len(v) for k, v in cells.items() if _fold(k) in wanted_folded)
        if best is None or hits > best[0]:
            best = (hits, cand, cells, conflicts)
    assert best is not None
    hits, cand, cells, conflicts = best
    clashes = [msg for var, msg in conflicts.items() if _fold(var) in wanted_folded]
    if hits and clashes:
        raise DataValidationError("; ".join(clashes))
    if hits == 0:
        tried = ", ".join(repr(c if isinstance(c, str) else c.pattern) for c in candidates)
        raise DataValidationError(
            f"no wide columns found for {sorted(map(str, wanted))} with pattern(s) {tried}; "
            "pass wide_pattern= describing names like 'wai_s1' ('{var}_s{session}') or "
            "'pain_t0' ('{var}_t{session}')" + stems_hint(columns, candidates, wanted)
        )
    wanted_cells = {k: v for k, v in cells.items() if _fold(k) in wanted_folded}
    used = {c for v in wanted_cells.values() for c in v.values()}
    plain = [c for c in columns if c not in used]
    name = cand if isinstance(cand, str) else cand.pattern
    return WideLayout(pattern=name, cells=wanted_cells, plain=plain)


def far_apart_sessions(sessions: Iterable[int]) -> list[int]:
    """Session numbers that stand far apart from the rest (``wai_2024`` next to ``wai_1``).

    A session is far apart when the step up to it is larger than 10 and than ten times the
    typical (median) step between the other session numbers.

    Examples
    --------
    >>> far_apart_sessions([1, 2, 3, 2024]), far_apart_sessions([0, 8]), far_apart_sessions([1, 2, 52])
    ([2024], [], [52])
    """
    u = np.unique(np.asarray(list(sessions), dtype=np.int64))
    if len(u) < 2:
        return []
    steps = np.diff(u)
    out = []
    for k, step in enumerate(steps):
        others = np.delete(steps, k)
        typical = float(np.median(others)) if len(others) else 1.0
        if step > 10 and step > 10 * max(typical, 1.0):
            out.extend(int(x) for x in u[k + 1 :])
            break
    return out


def layout_table(layout: WideLayout) -> pd.DataFrame:
    """The wide columns matched: one row per column (``variable, session, column``)."""
    rows = [
        (var, s, col)
        for var, by_session in layout.cells.items()
        for s, col in sorted(by_session.items())
    ]
    return pd.DataFrame(rows, columns=["variable", "session", "column"])


def stems_hint(columns: Sequence[Any], candidates: list, wanted: Iterable[Any]) -> str:
    """Name the repeated variables that do exist, with close matches for the wanted ones."""
    best: dict[str, dict[int, Any]] = {}
    for cand in candidates:
        cells = _match_columns(columns, compile_pattern(cand))
        if sum(len(v) for v in cells.values()) > sum(len(v) for v in best.values()):
            best = cells
    if not best:
        return ""
    stems = sorted(best)
    close = []
    for w in wanted:
        near = difflib.get_close_matches(str(w), stems, n=1, cutoff=0.6)
        if near:
            close.append(f"{w!r} -> {near[0]!r}?")
    hint = f". Repeated variables found: {', '.join(stems[:20])}"
    return hint + (f" (did you mean {'; '.join(close)})" if close else "")


def wide_to_long(
    frame: pd.DataFrame,
    layout: WideLayout,
    plain_needed: Sequence[Any],
    codes: MissingCodes,
) -> tuple[pd.DataFrame, np.ndarray, dict[str, np.ndarray]]:
    """Reshape a wide frame to one record per patient and session with data.

    Wide rows whose repeated columns are all empty give no record; find them with
    ``np.setdiff1d(np.arange(len(frame)), wide_pos)``.

    Returns
    -------
    long : DataFrame
        Columns ``plain_needed`` (repeated), one column per stem, and ``session``.
    wide_pos : ndarray
        Position of the wide row each record came from.
    origin : dict
        Stem -> array with the wide column of each record's value (``None`` if absent).

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"id": [1, 2], "wai_s1": [3.0, None], "wai_s2": [4.0, 5.0]})
    >>> lay = detect_wide_layout(f.columns, ["wai"], None)
    >>> long, pos, origin = wide_to_long(f, lay, ["id"], MissingCodes())
    >>> long.to_dict("list")
    {'id': [1, 1, 2], 'wai': [3.0, 4.0, 5.0], 'session': [1, 2, 2]}
    """
    sessions = sorted({s for v in layout.cells.values() for s in v})
    present = {}
    for by_session in layout.cells.values():
        for col in by_session.values():
            present[col] = ~text_cells(frame[col], codes)[1]
    pieces = []
    for s in sessions:
        cols = [layout.cells[stem].get(s) for stem in layout.cells]
        mask = np.zeros(len(frame), dtype=bool)
        for c in cols:
            if c is not None:
                mask |= present[c]
        pos = np.flatnonzero(mask)
        if not len(pos):
            continue
        piece = {"__pos": pos, "session": np.full(len(pos), s, dtype=np.int64)}
        for c in plain_needed:
            piece[("plain", c)] = frame[c].to_numpy(dtype=object)[pos]
        for stem in layout.cells:
            col = layout.cells[stem].get(s)
            piece[("stem", stem)] = (
                frame[col].to_numpy(dtype=object)[pos]
                if col is not None
                else np.full(len(pos), None, dtype=object)
            )
            piece[("origin", stem)] = np.full(len(pos), col, dtype=object)
        pieces.append(pd.DataFrame(piece))
    if pieces:
        allrec = pd.concat(pieces, ignore_index=True)
        allrec = allrec.sort_values(["__pos", "session"], kind="stable").reset_index(drop=True)
    else:
        cols = (
            ["__pos", "session"]
            + [("plain", c) for c in plain_needed]
            + [(k, stem) for stem in layout.cells for k in ("stem", "origin")]
        )
        allrec = pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})
    long = pd.DataFrame(index=range(len(allrec)))
    for c in plain_needed:
        long[c] = allrec[("plain", c)].astype(object).to_numpy()
    for stem in layout.cells:
        long[stem] = allrec[("stem", stem)].astype(object).to_numpy()
    long["session"] = allrec["session"].astype(np.int64).to_numpy()
    origin = {stem: allrec[("origin", stem)].to_numpy(dtype=object) for stem in layout.cells}
    return long, allrec["__pos"].to_numpy(dtype=np.int64), origin


def session_order_from_dates(
    patient: pd.Series, dates: pd.Series, usable: np.ndarray
) -> np.ndarray:
    """Session number 1, 2, ... per patient in date order (same date = same number).

    Rows not ``usable`` get NaN.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> d = pd.to_datetime(pd.Series(["2024-02-01", "2024-01-01", "2024-01-09"]))
    >>> session_order_from_dates(pd.Series([1, 1, 2]), d, np.ones(3, bool)).tolist()
    [2.0, 1.0, 1.0]
    """
    out = np.full(len(dates), np.nan)
    if usable.any():
        sub = pd.DataFrame({"p": patient[usable].to_numpy(), "d": dates[usable].to_numpy()})
        out[usable] = sub.groupby("p", sort=False)["d"].rank(method="dense").to_numpy()
    return out


def days_since_first(patient: pd.Series, dates: pd.Series) -> pd.Series:
    """Days from each patient's first dated session (whole days, float; NaN without date).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.to_datetime(pd.Series(["2024-01-08", "2024-01-01"]))
    >>> days_since_first(pd.Series(["a", "a"]), d).tolist()
    [7.0, 0.0]
    """
    day = dates.dt.normalize()
    first = day.groupby(patient.to_numpy(), sort=False).transform("min")
    return ((day - first).dt.days).astype("float64")
