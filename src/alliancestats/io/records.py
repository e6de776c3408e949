"""The records a load works on: which source columns feed which roles, and which are kept.

For long data a record is a row of the table. For wide data (one row per patient) the table is
reshaped first, one record per patient and session with at least one value; each record
remembers its wide row and, per repeated variable, the wide column it came from, so problems
point at the cell the user sees.

Columns that no argument mentions ("undeclared") are kept by default (``keep="all"``): a
model such as ``pain ~ session * arm`` needs ``arm`` even if nobody declared it.
``keep="declared"`` keeps only the mapped columns and lists the others in
``SessionData.columns_not_kept``; a list keeps just those columns.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io.readers import read_table
>>> from alliancestats.io.mapping import build_roles
>>> from alliancestats.io.missing import MissingCodes
>>> t = read_table(pd.DataFrame({"id": [1], "s": [1], "arm": ["a"], "note": ["x"]}))
>>> plan = plan_records(t, build_roles(patient="id", session="s"), None, None, MissingCodes(),
...                     "DataFrame", keep=["arm"])
>>> plan.kept, plan.not_kept
(['arm'], ['note'])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import DataValidationError, ParameterError
from alliancestats.io.items import ItemSpec, item_specs
from alliancestats.io.mapping import RESERVED, Role, resolve_columns
from alliancestats.io.missing import MissingCodes
from alliancestats.io.readers import RawTable
from alliancestats.io.reshape import (
    compile_pattern,
    detect_wide_layout,
    far_apart_sessions,
    layout_table,
    stems_hint,
    wide_to_long,
)

__all__ = ["Records", "RecordPlan", "plan_records", "SESSION_COLUMN"]

#: Internal name of the session column made from wide column names.
SESSION_COLUMN = "\x00session"


@dataclass
class Records:
    """Records being loaded, and how to show their cells to the user.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per record (positional index).
    rows : numpy.ndarray
        User-visible row label of each record.
    order : numpy.ndarray or None
        Sort key of each record for listing problems (``None``: the record position).
    origin : dict
        Wide layout: repeated variable -> the wide column of each record's value.
    wide_pos : numpy.ndarray or None
        Wide layout: the wide row (position in the table) of each record.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    order: np.ndarray | None
    origin: dict[Any, np.ndarray] = field(default_factory=dict)
    wide_pos: np.ndarray | None = None
    table: RawTable | None = None  # for the text of typed text-file columns

    def __len__(self) -> int:
        return len(self.frame)

    def shown(self, column: Any) -> Any:
        """Column name to show in problems (per record for repeated wide variables)."""
        return self.origin.get(column, column)

    def shown_at(self, column: Any, positions: np.ndarray) -> Any:
        """:meth:`shown` for the records at ``positions``."""
        shown = self.shown(column)
        return shown[positions] if isinstance(shown, np.ndarray) else shown

    def raw(self, column: Any, positions: np.ndarray) -> np.ndarray:
        """The cells of ``column`` at ``positions`` as written (object array)."""
        positions = np.asarray(positions, dtype=np.int64)
        if not len(positions):
            return np.empty(0, dtype=object)
        if self.table is not None:
            text = self.table.cell_text(column, positions)
            if text is not None:
                return text
        return self.frame[column].iloc[positions].to_numpy(dtype=object)

    def from_table_row(self, position: int) -> np.ndarray:
        """Records that come from row ``position`` of the table read."""
        if self.wide_pos is None:
            return np.array([position], dtype=np.int64)
        return np.flatnonzero(self.wide_pos == position)


@dataclass
class RecordPlan:
    """Records plus the roles, instruments and kept columns resolved against them."""

    records: Records
    roles: list[Role]
    specs: list[ItemSpec]
    kept: list[Any]
    not_kept: list[Any]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    pattern: str | None = None
    wide_columns: pd.DataFrame | None = None
    empty_wide_rows: np.ndarray | None = None

    @property
    def used_columns(self) -> set[Any]:
        """Source columns that end up in the data (roles, items, kept columns)."""
        out = {r.column for r in self.roles} | {c for s in self.specs for c in s.columns}
        for r in self.roles:
            out.update(c for c in self.records.origin.get(r.column, ()) if c is not None)
        return out | set(self.kept)


def _taken(roles: list[Role]) -> set[str]:
    return {r.name for r in roles} | set(RESERVED)


def _resolve_items(specs: list[ItemSpec], available: list[Any], where: str) -> list[ItemSpec]:
    out = []
    for spec in specs:
        fake = [
            Role(f"{spec.instrument.id} item {k + 1}", c, "outcome")
            for k, c in enumerate(spec.columns)
        ]
        resolved = resolve_columns(fake, available, where=where)
        out.append(replace(spec, columns=[r.column for r in resolved]))
    return out


def refuse_repeated(used: list[Any], table: RawTable, where: str) -> None:
    """A column name that occurs twice in the header cannot be mapped unambiguously."""
    clash = [c for c in dict.fromkeys(used) if c in table.repeated]
    if clash:
        text = "; ".join(f"{c!r} in columns {', '.join(table.repeated[c])}" for c in clash)
        k = len(clash)
        raise DataValidationError(
            f"column name(s) used more than once in the header of {where}: {text}. Rename "
            "them so that each name is unique, then load again.",
            pd.DataFrame(
                {
                    "file": [table.file] * k,
                    "row": [table.header_row] * k,
                    "column": clash,
                    "value": [None] * k,
                    "reason": ["column name occurs more than once"] * k,
                    "kind": ["repeated_column"] * k,
                }
            ),
        )


def choose_kept(
    candidates: list[Any], keep: Any, taken: set[str], where: str
) -> tuple[list[Any], list[Any]]:
    """Undeclared columns to keep and the ones left out, by the ``keep=`` rule."""
    if keep == "all":
        wanted = list(candidates)
    elif keep == "declared":
        wanted = []
    elif isinstance(keep, Sequence) and not isinstance(keep, str):
        roles = [Role(str(c), c, "covariate") for c in keep]
        wanted = [r.column for r in resolve_columns(roles, candidates, where=where)]
    else:
        raise ParameterError(
            f"keep must be 'all', 'declared' or a list of column names, not {keep!r}"
        )
    kept = [c for c in wanted if str(c) not in taken]
    return kept, [c for c in candidates if c not in kept]


def plan_records(
    table: RawTable,
    roles: list[Role],
    instruments: Any,
    wide_pattern: Any,
    codes: MissingCodes,
    where: str,
    keep: Any = "all",
    layout: str = "long",
) -> RecordPlan:
    """Resolve roles and instrument items against the table and build the records."""
    if layout == "wide":
        return _plan_wide(table, roles, instruments, wide_pattern, codes, where, keep)
    columns = list(table.frame.columns)
    roles = resolve_columns(roles, columns, where=where)
    taken = _taken(roles)
    specs = _resolve_items(item_specs(instruments, taken=taken, available=columns), columns, where)
    refuse_repeated([r.column for r in roles] + [c for s in specs for c in s.columns], table, where)
    used = {r.column for r in roles} | {c for s in specs for c in s.columns}
    kept, not_kept = choose_kept([c for c in columns if c not in used], keep, taken, where)
    records = Records(table.frame, np.asarray(table.rows), None, table=table)
    return RecordPlan(records, roles, specs, kept, not_kept)


def _wanted_stems(table: RawTable, roles: list[Role], instruments: Any) -> list[Any]:
    folded_plain = {str(c).strip().casefold() for c in table.frame.columns}
    wanted = [
        r.column
        for r in roles
        if r.kind != "id" and str(r.column).strip().casefold() not in folded_plain
    ]
    for spec in item_specs(instruments, taken=_taken(roles), available=None):
        wanted.extend(c for c in spec.columns if str(c).strip().casefold() not in folded_plain)
    if not wanted:
        raise ParameterError(
            "layout='wide' needs at least one repeated variable (e.g. alliance='wai' for "
            "columns wai_s1, wai_s2, ...)"
        )
    return wanted


def _wide_roles(roles: list[Role], columns: list[Any], stems: list[Any]) -> tuple[list, list]:
    stem_fold = {str(s).strip().casefold(): s for s in stems}
    new_roles, plain_roles = [], []
    for r in roles:
        key = str(r.column).strip().casefold()
        if r.kind != "id" and r.column not in columns and key in stem_fold:
            new_roles.append(replace(r, column=stem_fold[key]))
        elif r.kind != "id" and r.column in stem_fold.values():
            new_roles.append(r)
        else:
            plain_roles.append(r)
            new_roles.append(r)
    return new_roles, plain_roles


def _plan_wide(
    table: RawTable,
    roles: list[Role],
    instruments: Any,
    pattern: Any,
    codes: MissingCodes,
    where: str,
    keep: Any,
) -> RecordPlan:
    columns = list(table.frame.columns)
    lay = detect_wide_layout(columns, _wanted_stems(table, roles, instruments), pattern)
    rx = compile_pattern(lay.pattern)
    refuse_repeated(
        [c for c in table.repeated if (m := rx.fullmatch(str(c).strip())) and m["var"] in lay.cells]
        + [r.column for r in roles if r.kind == "id" or r.column in columns],
        table,
        where,
    )
    stems = list(lay.cells)
    new_roles, plain_roles = _wide_roles(roles, columns, stems)
    try:
        resolved_plain = resolve_columns(plain_roles, lay.plain, where=where)
    except DataValidationError as err:
        hint = stems_hint(columns, [lay.pattern], [r.column for r in plain_roles])
        raise DataValidationError(
            f"{err}\nWith pattern {lay.pattern!r}{hint}", err.problems
        ) from None
    fixed = {id(a): b for a, b in zip(plain_roles, resolved_plain, strict=True)}
    new_roles = [fixed.get(id(r), r) for r in new_roles]
    taken = _taken(new_roles)
    specs = _resolve_items(
        item_specs(instruments, taken=taken, available=stems + lay.plain), stems + lay.plain, where
    )
    needed = [r.column for r in new_roles if r.column in lay.plain]
    needed += [c for s in specs for c in s.columns if c in lay.plain]
    repeated_other = [
        c for c in lay.plain if c not in needed and rx.fullmatch(str(c).strip()) is not None
    ]
    candidates = [c for c in lay.plain if c not in needed and c not in repeated_other]
    kept, not_kept = choose_kept(candidates, keep, taken, where)
    needed = list(dict.fromkeys(needed + kept))
    long, wide_pos, origin = wide_to_long(table.frame, lay, needed, codes)
    long = long.rename(columns={"session": SESSION_COLUMN})
    if table.text_cells:  # keep text cells in the fast string dtype after reshaping
        long = long.astype({c: "str" for c in long.columns if c != SESSION_COLUMN})
    records = Records(
        long, np.asarray(table.rows, dtype=object)[wide_pos], None, origin, wide_pos
    )
    plan = RecordPlan(
        records, new_roles, specs, kept, not_kept + repeated_other, pattern=lay.pattern
    )
    plan.wide_columns = layout_table(lay)
    plan.empty_wide_rows = np.setdiff1d(np.arange(len(table.frame)), wide_pos)
    plan.notes.append(_matched_note(plan.wide_columns, lay.pattern))
    apart = _far_apart_note(plan.wide_columns)
    if apart:
        plan.notes.append(apart)
        plan.warnings.append(apart)
    return plan


def _matched_note(matched: pd.DataFrame, pattern: str) -> str:
    parts = []
    for var, g in matched.groupby("variable", sort=False):
        cols = g["column"].tolist()
        shown = ", ".join(map(str, cols)) if len(cols) <= 4 else f"{cols[0]} ... {cols[-1]}"
        parts.append(f"{var}: {len(cols)} columns ({shown})")
    return f"wide columns matched with pattern {pattern!r}: " + "; ".join(parts)


def _far_apart_note(matched: pd.DataFrame) -> str | None:
    apart = far_apart_sessions(matched["session"])
    if not apart:
        return None
    cols = matched.loc[matched["session"].isin(apart), "column"].tolist()
    return (
        f"session number(s) {', '.join(map(str, apart))} stand far apart from the others "
        f"(columns {', '.join(map(repr, cols))}); if these are not sessions (e.g. a year), "
        "rename the columns or pass wide_pattern="
    )
