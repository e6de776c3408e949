"""The named stages of :func:`~alliancestats.io.load_sessions`, run in this order.

1. :func:`identifiers` — patient and therapist IDs (:mod:`.identifiers`).
2. :func:`sessions` — session numbers, or session order from dates, and session dates.
3. :func:`numeric_roles` — alliance and outcome columns: numbers, value ranges, and binary
   text or boolean responses kept as they are.
4. :func:`scored_items` — item-level questionnaires scored with the instrument registry.
5. :func:`covariates` — declared covariates and kept undeclared columns.
6. :func:`read_problems` — rows the reader found irregular (extra fields, unmatched quotes,
   Excel formulas without a value).
7. :func:`row_groups` — checks across rows: a patient in several wide rows, duplicate
   patient-sessions, patients seen by several therapists.

Each stage converts columns into ``context.out`` and adds every problem it finds to
``context.log``; nothing is dropped until all stages have run.

Examples
--------
>>> [f.__name__ for f in (identifiers, sessions, numeric_roles, scored_items, covariates,
...                       read_problems, row_groups)]
['identifiers', 'sessions', 'numeric_roles', 'scored_items', 'covariates', 'read_problems', 'row_groups']
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.instruments import score
from alliancestats.io.convert import (
    binary_response,
    count_codes,
    keep_column,
    parse_covariate,
    parse_dates,
    parse_ids,
    parse_numeric,
)
from alliancestats.io.items import ItemSpec
from alliancestats.io.mapping import Role
from alliancestats.io.missing import MissingCodes
from alliancestats.io.numbers import NumberFormat
from alliancestats.io.parsed import Parsed
from alliancestats.io.readers import RawTable
from alliancestats.io.records import SESSION_COLUMN, Records
from alliancestats.io.reshape import session_order_from_dates
from alliancestats.io.textops import release_memory, sorted_codes
from alliancestats.io.validation import (
    ProblemLog,
    check_duplicate_sessions,
    check_duplicate_wide_ids,
    check_therapist_change,
)

__all__ = [
    "LoadContext",
    "LoadOptions",
    "SessionInfo",
    "MAX_SESSION",
    "identifiers",
    "sessions",
    "numeric_roles",
    "scored_items",
    "covariates",
    "read_problems",
    "row_groups",
    "record_order",
]

#: Bytes of source columns let go between two returns of freed memory to the system
#: (see :meth:`LoadContext.release`).
RELEASE_BYTES = 4 << 20

#: Larger session "numbers" are typing errors (or dates typed as numbers).
MAX_SESSION = 100_000


@dataclass(frozen=True)
class LoadOptions:
    """The reading options of :func:`load_sessions` that stages need."""

    session_type: str = "auto"
    dayfirst: bool | None = None
    date_format: str | None = None
    today: pd.Timestamp = field(default_factory=lambda: pd.Timestamp(_dt.date.today()))
    earliest: pd.Timestamp = field(default_factory=lambda: pd.Timestamp("1900-01-01"))
    normalize_ids: bool = False
    allow_therapist_change: bool = False
    alliance_rater: Any = None


@dataclass
class LoadContext:
    """What every stage reads and writes."""

    table: RawTable
    records: Records
    codes: MissingCodes
    fmt: NumberFormat
    options: LoadOptions
    log: ProblemLog = field(init=False)
    out: dict[str, pd.Series] = field(default_factory=dict)
    kept: dict[Any, pd.Series] = field(default_factory=dict)
    item_values: dict[Any, pd.Series] = field(default_factory=dict)
    codes_seen: dict[Any, dict[str, int]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    value_labels: dict[str, dict] = field(default_factory=dict)
    id_codes: dict[str, np.ndarray] = field(default_factory=dict)
    order: np.ndarray | None = None
    ordered: bool = False  # whether the records are already sorted (order is 0, 1, 2, ...)
    _freed: int = field(default=0, init=False, repr=False)
    _pending: list[Any] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        self.log = ProblemLog(len(self.records))

    @property
    def n(self) -> int:
        """Number of records."""
        return len(self.records)

    def column(self, name: Any) -> pd.Series:
        """The records' cells of a source column."""
        return self.records.frame[name]

    def release(self, columns: Any = (), memory: bool | None = True) -> None:
        """Let go of source columns no later stage reads (their cells are converted, and
        every problem found in them is logged with its value), and of temporary memory.

        ``memory=None`` lets go of the columns and returns freed memory to the system only
        once the columns given since the last return add up to :data:`RELEASE_BYTES` (each
        return costs the pages being mapped again when memory is next used).
        """
        frame = self.records.frame
        for c in columns:
            if c in frame.columns and c not in self._pending:
                self._pending.append(c)
                self._freed += int(frame[c].memory_usage(index=False, deep=False))
        if memory or (memory is None and self._freed >= RELEASE_BYTES):
            if self._pending:  # one new frame without them (deleting one by one costs more)
                smaller = frame.drop(columns=self._pending)
                if self.table.frame is frame:
                    self.table.frame = smaller
                self.records.frame = smaller
                del frame, smaller
                self._pending = []
            release_memory()
            self._freed = 0

    def seen(self, column: Any) -> dict[str, int]:
        """Missing-value codes met in ``column`` (code -> cells), filled by the stages."""
        return self.codes_seen.setdefault(column, {})

    def add_bad(self, p: Parsed, column: Any, default_reason: str, default_kind: str) -> None:
        """Log every bad cell of a converted column, with its own reason and kind."""
        bad = np.flatnonzero(p.bad)
        if not len(bad):
            return
        raw = self.records.raw(column, bad)
        shown = self.records.shown_at(column, bad)
        kinds = np.array([p.kind_at(i, default_kind) for i in bad], dtype=object)
        reasons = [p.reason_at(i, default_reason) for i in bad]
        for kind in dict.fromkeys(kinds.tolist()):
            sel = kinds == kind
            self.log.add(
                bad[sel],
                shown[sel] if isinstance(shown, np.ndarray) else shown,
                raw[sel],
                [r for r, s in zip(reasons, sel, strict=True) if s],
                kind,
            )


def _missing_reason(what: str, code: str | None, fix: str) -> str:
    if code is None:
        return f"{what} is empty; {fix}"
    return (
        f"{what} is {code!r}, which is read as missing (a missing-value code); {fix}, or pass "
        "keep_default_na=False with na_values= if it is a real value"
    )


# ----------------------------------------------------------------------------- 1. identifiers


def identifiers(ctx: LoadContext, by_name: dict[str, Role]) -> dict[str, Parsed]:
    """Patient and therapist IDs: missing IDs, formatting variants, imprecise numbers."""
    ids: dict[str, Parsed] = {}
    for name in ("patient", "therapist"):
        if name not in by_name:
            continue
        r = by_name[name]
        p = parse_ids(ctx.column(r.column), ctx.codes, normalize=ctx.options.normalize_ids)
        miss = np.flatnonzero(p.missing)
        ctx.log.add(
            miss,
            ctx.records.shown_at(r.column, miss),
            ctx.records.raw(r.column, miss),
            [
                _missing_reason(f"{name} ID", p.code_at(i), "fill it in or delete the row")
                for i in miss
            ],
            "missing_id",
        )
        ctx.add_bad(p, r.column, "ID cannot be used", "id_format")
        count_codes(p, ctx.seen(r.column))
        ids[name] = p
        ctx.out[name] = p.values.reset_index(drop=True)
        ctx.id_codes[name] = p.order if p.order is not None else sorted_codes(ctx.out[name])
    ctx.release()
    return ids


# ----------------------------------------------------------------------------- 2. sessions


@dataclass
class SessionInfo:
    """How sessions were read, for the row-group checks and the assembly."""

    ok: np.ndarray
    from_dates: bool = False
    dates: pd.Series | None = None
    date_column: Any = None
    shown: Any = None
    values: Callable[[np.ndarray], np.ndarray] | None = None


def _guess_session_type(s: pd.Series, ctx: LoadContext) -> str:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return "date"
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return "number"
    num = parse_numeric(s, ctx.fmt, ctx.codes)
    if not num.bad.any():
        return "number"
    obj = s.astype(object)
    present = ~(num.missing | pd.isna(obj).to_numpy())
    vals = obj[present]
    if not len(vals):
        return "number"
    if vals.map(lambda v: isinstance(v, _dt.date | pd.Timestamp)).mean() > 0.5:
        return "date"
    frac_num = 1 - min(num.bad[present].mean(), parse_numeric(vals, ",", ctx.codes).bad.mean())
    texts = vals[vals.map(lambda v: isinstance(v, str))].astype(str)
    months = r"(?i:\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s)"
    looks_date = texts.str.contains(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}|" + months, regex=True)
    return "date" if float(looks_date.sum()) / len(vals) > frac_num else "number"


def _check_dates(ctx: LoadContext, p: Parsed, column: Any) -> np.ndarray:
    """Log unreadable, future and implausibly early dates; return the usable mask."""
    rec = ctx.records
    bad = np.flatnonzero(p.bad)
    ctx.log.add(
        bad,
        rec.shown_at(column, bad),
        rec.raw(column, bad),
        [p.reason_at(i, "not a date") for i in bad],
        "bad_date",
    )
    d = p.values
    today, earliest = ctx.options.today, ctx.options.earliest
    ok = np.ones(len(d), dtype=bool)
    ok[bad] = False
    for outside, reason, kind in (
        (d.dt.normalize() > today, f"date is in the future (after {today.date()})", "future_date"),
        (d < earliest, f"date is before {earliest.date()}", "implausible_date"),
    ):
        at = np.flatnonzero(outside.fillna(False).to_numpy(dtype=bool))
        ctx.log.add(
            at, rec.shown_at(column, at), rec.raw(column, at), f"{reason}; check the year", kind
        )
        ok[at] = False
    return ok


def _session_numbers(ctx: LoadContext, column: Any, s: pd.Series) -> np.ndarray:
    rec = ctx.records
    p = parse_numeric(s, ctx.fmt, ctx.codes)
    count_codes(p, ctx.seen(column))
    miss = np.flatnonzero(p.missing)
    ctx.log.add(
        miss,
        column,
        rec.raw(column, miss),
        [_missing_reason("session number", p.code_at(i), "fill it in") for i in miss],
        "missing_session",
    )
    p.reasons = {
        i: r.replace("not a number", "session number is not a number", 1)
        for i, r in p.reasons.items()
    }
    ctx.add_bad(p, column, "session number is not a number", "bad_session")
    v = p.values.to_numpy()
    with np.errstate(invalid="ignore"):
        not_whole = ~np.isnan(v) & ((v != np.round(v)) | (v < 0) | (v > MAX_SESSION))
    nw = np.flatnonzero(not_whole)
    ctx.log.add(
        nw,
        column,
        rec.raw(column, nw),
        f"session number must be a whole number from 0 to {MAX_SESSION:,}",
        "bad_session",
    )
    ok = ~(p.missing | p.bad | not_whole)
    sess = np.where(ok, v, np.nan)
    ctx.out["session"] = pd.Series(sess, dtype=np.float64, copy=False)
    return ok


def _session_dates(ctx: LoadContext, column: Any) -> tuple[np.ndarray, pd.Series]:
    o = ctx.options
    p = parse_dates(
        ctx.column(column), ctx.codes, dayfirst=o.dayfirst, date_format=o.date_format, column=column
    )
    count_codes(p, ctx.seen(column))
    return p, _check_dates(ctx, p, column)


def sessions(ctx: LoadContext, by_name: dict[str, Role], id_ok: np.ndarray) -> SessionInfo:
    """Session numbers (or order from dates) and session dates."""
    rec = ctx.records
    info = SessionInfo(ok=np.ones(ctx.n, dtype=bool))
    if SESSION_COLUMN in rec.frame.columns:  # wide: from the column names
        ctx.out["session"] = pd.Series(rec.frame[SESSION_COLUMN].to_numpy(), dtype="Int64")
        pcol = by_name["patient"].column
        info.shown = pcol
        info.values = lambda pos: rec.frame[SESSION_COLUMN].to_numpy(dtype=object)[pos]
    else:
        r = by_name["session"]
        s = ctx.column(r.column)
        kind = ctx.options.session_type
        kind = _guess_session_type(s, ctx) if kind == "auto" else kind
        info.shown = r.column
        info.values = lambda pos, c=r.column: rec.raw(c, pos)
        if kind == "number":
            info.ok = _session_numbers(ctx, r.column, s)
        else:
            p, date_ok = _session_dates(ctx, r.column)
            miss = np.flatnonzero(p.missing)
            ctx.log.add(
                miss,
                r.column,
                rec.raw(r.column, miss),
                [_missing_reason("session date", p.code_at(i), "fill it in") for i in miss],
                "missing_session",
            )
            info.ok = date_ok & ~p.missing
            info.from_dates, info.date_column = True, r.column
            info.dates = p.values.where(info.ok)
            ctx.out["session"] = pd.Series(
                session_order_from_dates(ctx.out["patient"], info.dates, info.ok & id_ok)
            )
    if "session_date" in by_name:
        r = by_name["session_date"]
        p, ok = _session_dates(ctx, r.column)
        info.date_column = r.column
        info.dates = p.values.where(ok & ~p.missing)
    return info


# ----------------------------------------------------------------------------- 3. numeric roles


def numeric_roles(ctx: LoadContext, roles: list[Role]) -> None:
    """Alliance and outcome columns: numbers within their range; binary responses as is."""
    for r in roles:
        if not r.numeric:
            continue
        s = ctx.column(r.column)
        if r.kind == "outcome" and r.valid_range is None:
            binary = binary_response(s, ctx.codes)
            if binary is not None:
                ctx.out[r.name] = binary.reset_index(drop=True)
                levels = ", ".join(map(repr, pd.Series(binary.dropna().unique()).tolist()))
                ctx.notes.append(
                    f"outcome {r.name!r} is a two-valued response ({levels}) and is kept as "
                    f"{binary.dtype}, unchanged"
                )
                continue
        p = parse_numeric(s, ctx.fmt, ctx.codes)
        count_codes(p, ctx.seen(r.column))
        ctx.add_bad(p, r.column, "not a number", "not_numeric")
        v = p.values
        if r.valid_range is not None:
            lo, hi = r.valid_range
            arr = v.to_numpy()
            with np.errstate(invalid="ignore"):
                outside = np.flatnonzero(~np.isnan(arr) & ((arr < lo) | (arr > hi)))
            src = f" of {r.instrument}" if r.instrument else ""
            ctx.log.add(
                outside,
                ctx.records.shown_at(r.column, outside),
                ctx.records.raw(r.column, outside),
                f"outside the valid range {lo:g}-{hi:g}{src} for {r.name}",
                "out_of_range",
            )
            v = v.mask((v < lo) | (v > hi))
        ctx.out[r.name] = v.reset_index(drop=True)


# ----------------------------------------------------------------------------- 4. items


def _items_frame(ctx: LoadContext, spec: ItemSpec) -> pd.DataFrame:
    cleaned = {}
    for k, col in enumerate(spec.columns):
        s = ctx.column(col)
        p = parse_numeric(s, ctx.fmt, ctx.codes)
        if p.bad.any():  # keep the offending cells so the scorer can name them
            vals = p.values.to_numpy().astype(object)
            vals[p.bad] = s.to_numpy(dtype=object)[p.bad]
            cleaned[f"item{k + 1}"] = pd.Series(vals, dtype=object)
        else:
            cleaned[f"item{k + 1}"] = p.values.reset_index(drop=True)
        ctx.item_values[col] = p.values.reset_index(drop=True)
    return pd.DataFrame(cleaned, index=pd.RangeIndex(ctx.n))


def scored_items(ctx: LoadContext, specs: list[ItemSpec]) -> tuple[list[Role], dict[str, str]]:
    """Score item-level instruments; invalid item values are problems with their cell."""
    roles, scored = [], {}
    rater = ctx.options.alliance_rater
    for spec in specs:
        items = _items_frame(ctx, spec)
        scores, problems = score(spec.instrument, items, return_problems=True, **spec.options)
        for pr in problems.itertuples(index=False):
            i = np.array([int(pr.row)])
            col = spec.columns[int(pr.item) - 1]
            ctx.log.add(
                i,
                ctx.records.shown_at(col, i),
                ctx.records.raw(col, i),
                f"{spec.instrument.id} item {int(pr.item)}: {pr.reason}",
                "invalid_item",
            )
        for part in ["total", *spec.instrument.subscales]:
            if part not in scores:
                continue
            name = spec.output_name(part)
            r_rater = None
            if spec.kind == "alliance":
                r_rater = rater if isinstance(rater, str) else (rater or {}).get(name)
            roles.append(
                Role(
                    name,
                    f"{spec.instrument.id}: {part}",
                    spec.kind,
                    rater=r_rater,
                    instrument=spec.instrument.id,
                )
            )
            ctx.out[name] = pd.Series(scores[part].to_numpy(dtype=float), dtype="float64")
        scored[spec.instrument.id] = spec.name
    return roles, scored


# ----------------------------------------------------------------------------- 5. covariates


def _labels_for(table: RawTable, column: Any, origin: dict) -> dict | None:
    if column in table.value_labels:
        return table.value_labels[column]
    for c in origin.get(column, ()):
        if c in table.value_labels:
            return table.value_labels[c]
    return None


def covariates(ctx: LoadContext, roles: list[Role], kept: list[Any]) -> None:
    """Declared covariates (numbers or categories) and the undeclared columns kept."""
    origin = ctx.records.origin
    encoded = ctx.table.encoded_columns if ctx.records.frame is ctx.table.frame else frozenset()
    for r in roles:
        labels = _labels_for(ctx.table, r.column, origin)
        if r.kind == "covariate":
            ctx.out[r.name] = parse_covariate(
                ctx.column(r.column),
                ctx.fmt,
                ctx.codes,
                labels,
                ctx.seen(r.column),
                encoded=r.column in encoded,
            ).reset_index(drop=True)
        if labels and (r.kind == "covariate" or r.numeric):
            ctx.value_labels[r.name] = labels  # numeric roles keep codes; labels are metadata
    for c in kept:
        ctx.kept[c] = keep_column(
            ctx.column(c),
            ctx.fmt,
            ctx.codes,
            _labels_for(ctx.table, c, origin),
            ctx.seen(c),
            encoded=c in encoded,
        ).reset_index(drop=True)
        ctx.release([c], memory=None)  # an undeclared column is read by no other stage


# ----------------------------------------------------------------------------- 6. read problems


def read_problems(ctx: LoadContext, used: set[Any]) -> list[tuple[int, str]]:
    """Problems found while reading, attached to their records.

    Returns ``(table row, reason)`` for problems on wide rows that gave no record.
    """
    orphans = []
    for pos, column, value, reason, kind in ctx.table.problems:
        recs = ctx.records.from_table_row(pos)
        if not len(recs):
            orphans.append((pos, reason))
        ctx.log.add(recs, column, [value] * len(recs), reason, kind)
    for pos, column in ctx.table.formula_cells:
        if column not in used:
            continue
        recs = ctx.records.from_table_row(pos)
        ctx.log.add(
            recs,
            column,
            [None] * len(recs),
            "formula without a computed value (the file was written by a program and "
            "never saved by Excel): open and save it in Excel, or enter the values",
            "formula_without_value",
        )
    return orphans


# ----------------------------------------------------------------------------- 7. row groups


def row_groups(
    ctx: LoadContext, by_name: dict[str, Role], ids: dict[str, Parsed], info: SessionInfo
) -> pd.DataFrame | None:
    """Wide duplicates, duplicate patient-sessions and therapist changes."""
    rec, out = ctx.records, ctx.out
    id_ok = ~ids["patient"].missing & ~ids["patient"].bad
    key_ok = id_ok & info.ok
    pcol = by_name["patient"].column
    if rec.wide_pos is not None:
        dup = check_duplicate_wide_ids(
            ctx.log,
            id_ok,
            rec.wide_pos,
            out["patient"],
            ctx.table.rows,
            pcol,
            lambda pos: rec.raw(pcol, pos),
        )
        key_ok = key_ok & ~dup
    order = record_order(ctx)
    check_duplicate_sessions(
        ctx.log,
        key_ok,
        out["patient"],
        out["session"],
        _content(ctx, info),
        rec.rows,
        info.date_column if info.from_dates else info.shown,
        info.values,
        info.from_dates,
        ctx.id_codes["patient"],
        order,
    )
    if "therapist" not in by_name:
        return None
    t_ok = id_ok & ~ids["therapist"].missing & ~ids["therapist"].bad
    tcol = by_name["therapist"].column
    return check_therapist_change(
        None if ctx.options.allow_therapist_change else ctx.log,
        t_ok,
        out["patient"],
        out["therapist"],
        rec.rows,
        rec.shown(tcol),
        lambda pos: rec.raw(tcol, pos),
        ctx.id_codes["patient"],
        ctx.id_codes["therapist"],
        order,
    )


def record_order(ctx: LoadContext) -> np.ndarray:
    """Record positions sorted by patient then session (stable; computed once)."""
    if ctx.order is None:
        codes = ctx.id_codes["patient"]
        session = ctx.out["session"].to_numpy(dtype=float, na_value=np.nan)
        ordered = len(codes) < 2 or bool(
            np.all(
                (codes[1:] > codes[:-1])
                | ((codes[1:] == codes[:-1]) & (session[1:] >= session[:-1]))
            )
        )
        ctx.ordered = ordered
        ctx.order = np.arange(len(codes)) if ordered else np.lexsort((session, codes))
    return ctx.order


def _content(ctx: LoadContext, info: SessionInfo) -> Callable[[np.ndarray], list[Any]]:
    """Everything loaded for some records, to tell exact repeats from conflicting rows."""

    def content(positions: np.ndarray) -> list[Any]:
        parts = [v.iloc[positions].astype(object).tolist() for v in ctx.out.values()]
        parts += [v.iloc[positions].astype(object).tolist() for v in ctx.item_values.values()]
        parts += [v.iloc[positions].astype(object).tolist() for v in ctx.kept.values()]
        if info.dates is not None:
            parts.append(info.dates.iloc[positions].astype(object).tolist())
        return list(zip(*parts, strict=True)) if parts else [()] * len(positions)

    return content
