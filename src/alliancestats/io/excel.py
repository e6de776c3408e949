"""Excel workbooks (.xlsx, .xlsm): which sheet, which cells, and what a cell really holds.

* Sheet: the one named with ``sheet=``; by default the workbook's active sheet when it is
  visible, else the first visible sheet. Hidden sheets are never read by default; the summary
  says which sheet was read.
* Cells are read as stored (openpyxl in read-only mode, formulas not evaluated). A formula
  cell keeps the value Excel computed when the file was last saved; a formula without such a
  value (files written by scripts and never opened in Excel) is reported, not read as empty.
* Reading is proportional to the cells that exist: a stray cell far away (``XFD1048576``)
  costs one row, not a million padded rows. Values in columns right of the last column name
  are reported (``extra_fields``), as for text files.

Examples
--------
>>> letter(0), letter(27), letter(16383)
('A', 'AB', 'XFD')
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alliancestats.errors import FileFormatError

__all__ = ["ExcelCells", "letter", "read_excel_cells"]

_FORMULA_TAG = re.compile(rb"<f[ >/]")


def letter(j: int) -> str:
    """Spreadsheet column letter of 0-based position ``j`` (0 -> A, 26 -> AA)."""
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def blank(v: Any) -> bool:
    """Whether a cell value is empty (``None`` or only white space)."""
    return v is None or (isinstance(v, str) and not v.strip())


@dataclass
class ExcelCells:
    """Cells of one worksheet as read."""

    header: list[Any]
    records: list[list[Any]]
    rows: np.ndarray
    n_blank: int
    sheet: str
    sheet_note: str
    problems: list[tuple[int, Any, Any, str, str]] = field(default_factory=list)
    formula_cells: list[tuple[int, int]] = field(default_factory=list)  # (record, column)


def _choose_sheet(wb: Any, sheet: str | int | None, name: str) -> tuple[str, str]:
    names = wb.sheetnames
    states = {ws.title: getattr(ws, "sheet_state", "visible") for ws in wb.worksheets}
    visible = [n for n in names if states.get(n, "visible") == "visible"]
    if sheet is None:
        active = getattr(wb, "active", None)
        title = getattr(active, "title", None)
        if title in visible:
            chosen, how = title, "the workbook's active sheet"
        elif visible:
            chosen, how = visible[0], "the first visible sheet"
        else:
            raise FileFormatError(f"{name!r} has no visible sheet; pass sheet= to read one")
    elif isinstance(sheet, int) and not isinstance(sheet, bool):
        if not 0 <= sheet < len(names):
            raise FileFormatError(
                f"{name!r} has {len(names)} sheet(s) ({', '.join(map(repr, names))}); "
                f"sheet={sheet} is out of range (sheets count from 0)"
            )
        chosen, how = names[sheet], f"sheet={sheet}"
    else:
        if sheet not in names:
            raise FileFormatError(
                f"{name!r} has no sheet {sheet!r}; its sheets are {', '.join(map(repr, names))}"
            )
        chosen, how = sheet, "sheet= given"
    others = [n for n in names if n != chosen]
    hidden = [n for n in others if n not in visible]
    note = f"sheet {chosen!r} read ({how}"
    if states.get(chosen, "visible") != "visible":
        note += "; it is hidden in the workbook"
    if others:
        shown = [n for n in others if n not in hidden]
        if shown:
            note += f"; other sheets: {', '.join(map(repr, shown))}"
        if hidden:
            note += f"; hidden sheets not read: {', '.join(map(repr, hidden))}"
    return chosen, note + ")"


def _has_formulas(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    with zf.open(info) as fh:
                        if _FORMULA_TAG.search(fh.read()):
                            return True
    except (zipfile.BadZipFile, OSError):
        return False
    return False


def _formula_rows(path: Path, sheet: str) -> dict[int, set[int]]:
    """Excel row -> 0-based columns that hold a formula."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        ws = wb[sheet]
        ws.reset_dimensions()
        out: dict[int, set[int]] = {}
        for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cols = {j for j, v in enumerate(values) if isinstance(v, str) and v.startswith("=")}
            if cols:
                out[r] = cols
        return out
    finally:
        wb.close()


def read_excel_cells(path: Path, *, sheet: str | int | None, header_row: int) -> ExcelCells:
    """Read the chosen sheet's header and records (blank rows skipped, row numbers kept)."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # corrupt or not really a workbook
        raise FileFormatError(f"cannot open {path.name!r} as an Excel workbook: {exc}") from exc
    try:
        name, note = _choose_sheet(wb, sheet, path.name)
        formulas = _formula_rows(path, name) if _has_formulas(path) else {}
        ws = wb[name]
        ws.reset_dimensions()  # never pad rows to a stray far-away cell
        header: list[Any] | None = None
        width = 0
        records, rows, problems, formula_cells = [], [], [], []
        n_blank = trailing = 0
        for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
            if r < header_row:
                continue
            if r == header_row:
                header = list(values)
                while header and blank(header[-1]):
                    header.pop()
                width = len(header)
                continue
            last = len(values)
            while last and blank(values[last - 1]):
                last -= 1
            uncomputed = [
                j
                for j in sorted(formulas.get(r, ()))
                if j < width and (j >= len(values) or values[j] is None)
            ]
            if not last and not uncomputed:
                n_blank += 1
                trailing += 1
                continue
            trailing = 0
            rec = list(values[:width]) + [None] * (width - min(width, len(values)))
            extra = [(j, v) for j, v in enumerate(values[width:last], start=width) if not blank(v)]
            if extra:
                cells = ", ".join(f"{letter(j)}{r}" for j, _ in extra[:5])
                problems.append(
                    (
                        len(records),
                        f"(beyond column {letter(width - 1) if width else 'A'})",
                        extra[0][1],
                        f"value(s) outside the table, in column(s) without a name "
                        f"({cells}); delete them or give the column a name",
                        "extra_fields",
                    )
                )
            formula_cells.extend((len(records), j) for j in uncomputed)
            records.append(rec)
            rows.append(r)
        n_blank -= trailing
    finally:
        wb.close()
    if header is None or not any(not blank(c) for c in header):
        raise FileFormatError(
            f"sheet {name!r} of {path.name!r} has no column names in row {header_row} "
            "(pass header_row= if the table starts lower, or sheet= for another sheet)"
        )
    return ExcelCells(
        header,
        records,
        np.asarray(rows, dtype=np.int64),
        n_blank,
        name,
        note,
        problems,
        formula_cells,
    )
