"""Read session data files into a table of raw cells, remembering where each row came from.

Every reader returns a :class:`RawTable`: the cells exactly as stored (text files stay text,
so the loader can report the offending value as the user typed it), the row label the user
sees for each row, and the metadata the format carries (SPSS/Stata variable and value labels).

Row labels follow one rule per format, chosen so a researcher can find the row:

========================  =================================================================
source                    ``row`` means
========================  =================================================================
CSV / TSV / text          the line (record) number in the file, header = row 1, so the
                          first data row is 2 (what a spreadsheet shows when it opens it)
Excel (.xlsx, .xlsm)      the row number Excel shows in the chosen sheet
SPSS (.sav), Stata (.dta) the case number (SPSS Data View / Stata ``_n``), starting at 1
Parquet                   the row label ``pandas.read_parquet`` gives (stored index, or 0..)
DataFrame                 the index label
========================  =================================================================

SPSS user-defined missing values and Stata extended missing values (``.a`` ... ``.z``) are
read as missing.

Nothing is ever written back, and nothing in a file is executed: text is parsed with the
csv reader, workbooks with openpyxl (formulas are not evaluated; their cached values are
read), SPSS/Stata with pyreadstat, Parquet with pyarrow. Pickle is never used.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io import read_table
>>> t = read_table(pd.DataFrame({"id": [1, 2]}, index=[10, 11]))
>>> t.format, list(t.rows)
('dataframe', [10, 11])
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import DataQualityWarning, DataValidationError, ParameterError

__all__ = ["RawTable", "read_table", "SUPPORTED_EXTENSIONS"]

#: File extensions understood by :func:`read_table`, by format.
SUPPORTED_EXTENSIONS: Mapping[str, str] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".tab": "csv",
    ".txt": "csv",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".sav": "spss",
    ".zsav": "spss",
    ".dta": "stata",
    ".parquet": "parquet",
    ".pq": "parquet",
}

_ROW_NOTES = {
    "csv": "line in the file (header = row 1, first data row = 2)",
    "excel": "row number shown by Excel in the sheet",
    "spss": "case number as in SPSS Data View (first case = 1)",
    "stata": "observation number as Stata's _n (first = 1)",
    "parquet": "row label given by pandas.read_parquet",
    "dataframe": "index label of the DataFrame",
}

_COMMA_DECIMAL = re.compile(r"^\s*[+-]?\d*,\d+\s*$")
_POINT_DECIMAL = re.compile(r"^\s*[+-]?\d*\.\d+\s*$")


@dataclass
class RawTable:
    """Cells of one table as read, with the user-visible row label of each row.

    Attributes
    ----------
    frame : pandas.DataFrame
        The cells, one column per header cell, positional (0..n-1) index. Text formats keep
        every cell as text; binary formats keep their native types.
    rows : numpy.ndarray
        Row label of each row of ``frame`` as the user sees it (see the module docstring).
    file : str or None
        Path of the source file, ``None`` for a DataFrame.
    format : str
        ``"csv"``, ``"excel"``, ``"spss"``, ``"stata"``, ``"parquet"`` or ``"dataframe"``.
    header_row : int or None
        Row number of the header (text and Excel sources).
    sheet : str or None
        Worksheet read (Excel).
    delimiter, decimal : str or None
        Field delimiter and decimal mark used (text sources; ``decimal`` also for Excel text
        cells).
    variable_labels : dict
        Column -> variable label (SPSS/Stata).
    value_labels : dict
        Column -> {code: label} (SPSS/Stata).
    n_blank : int
        Completely empty rows skipped (their row numbers are not reused).
    """

    frame: pd.DataFrame
    rows: np.ndarray
    file: str | None
    format: str
    header_row: int | None = None
    sheet: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    variable_labels: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[Any, str]] = field(default_factory=dict)
    n_blank: int = 0
    repeated: dict[Any, list[str]] = field(default_factory=dict)  # name -> column letters

    @property
    def row_note(self) -> str:
        """What a row label means for this source, in words."""
        return _ROW_NOTES[self.format]

    @property
    def text_cells(self) -> bool:
        """Whether cells are raw text (decimal marks and dates still to be parsed)."""
        return self.format == "csv"


def read_table(
    source: Any,
    *,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    header_row: int = 1,
    file_format: str | None = None,
) -> RawTable:
    """Read a session-data file or DataFrame without interpreting its values.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        File to read (format chosen from the extension, see :data:`SUPPORTED_EXTENSIONS`)
        or a DataFrame (copied, never modified).
    sheet : str or int, optional
        Excel worksheet name or 0-based position; the first sheet by default.
    delimiter : str, optional
        Field delimiter of a text file; detected among ``,`` ``;`` tab and ``|`` by default.
    decimal : {".", ","}, optional
        Decimal mark of numbers written as text; detected by default (``","`` only when
        numbers like ``3,5`` occur and none like ``3.5``).
    encoding : str, optional
        Text encoding; UTF-8 (with or without BOM) is tried first, then Windows-1252.
    header_row : int, default 1
        Row holding the column names in a text file or sheet (rows above it are ignored).
    file_format : str, optional
        Force a format (``"csv"``, ``"excel"``, ``"spss"``, ``"stata"``, ``"parquet"``)
        whatever the extension.

    Returns
    -------
    RawTable

    Raises
    ------
    DataValidationError
        When the file does not exist, has an unsupported format, or has no header.

    Examples
    --------
    >>> import pandas as pd
    >>> t = read_table(pd.DataFrame({"id": ["a"], "pain": [3.0]}))
    >>> t.frame.columns.tolist(), t.row_note
    (['id', 'pain'], 'index label of the DataFrame')
    """
    if decimal not in (None, ".", ","):
        raise ParameterError(f"decimal must be '.' or ',' (or None to detect), not {decimal!r}")
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True).copy()
        names, repeated = _dedupe(list(frame.columns))
        frame.columns = pd.Index(names, dtype=object)
        return RawTable(
            frame=frame,
            rows=np.asarray(source.index, dtype=object),
            file=None,
            format="dataframe",
            decimal=decimal or ".",
            repeated=repeated,
        )
    if isinstance(source, pd.Series):
        raise ParameterError(
            "load a DataFrame or a file path, not a Series (use series.to_frame())"
        )
    if not isinstance(source, str | Path):
        raise ParameterError(
            f"source must be a file path (str or pathlib.Path) or a pandas DataFrame, "
            f"not {type(source).__name__}"
        )
    path = Path(source).expanduser()
    if not path.exists():
        raise DataValidationError(f"file not found: {str(path)!r}")
    if path.is_dir():
        raise DataValidationError(f"{str(path)!r} is a folder; give the path of a data file")
    kind = file_format or _format_of(path)
    if header_row < 1:
        raise ParameterError("header_row counts from 1 (the first row of the file)")
    if kind == "csv":
        return _read_text(
            path, delimiter=delimiter, decimal=decimal, encoding=encoding, header_row=header_row
        )
    if kind == "excel":
        return _read_excel(path, sheet=sheet, decimal=decimal, header_row=header_row)
    if kind in ("spss", "stata"):
        return _read_readstat(path, kind)
    if kind == "parquet":
        frame = pd.read_parquet(path, engine="pyarrow")
        rows = np.asarray(frame.index, dtype=object)
        return RawTable(
            frame=frame.reset_index(drop=True),
            rows=rows,
            file=str(path),
            format="parquet",
            decimal=decimal or ".",
        )
    raise ParameterError(
        f"unknown file_format {kind!r}; use one of csv, excel, spss, stata, parquet"
    )


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_EXTENSIONS:
        return SUPPORTED_EXTENSIONS[suffix]
    hints = {
        ".xls": "open it in Excel or LibreOffice and save it as .xlsx (or CSV)",
        ".ods": "save it as .xlsx or CSV",
        ".pkl": "pickle files can run arbitrary code when read and are never opened; "
        "export the data as CSV or Parquet",
        ".pickle": "pickle files can run arbitrary code when read and are never opened; "
        "export the data as CSV or Parquet",
        ".rds": "in R, write it with write.csv() or haven::write_sav()",
    }
    known = ", ".join(sorted(SUPPORTED_EXTENSIONS))
    hint = hints.get(suffix, f"supported extensions: {known}; or pass file_format=")
    raise DataValidationError(f"cannot read {path.name!r} ({suffix or 'no extension'}): {hint}")


# ----------------------------------------------------------------------------- text files


def _decode(path: Path, encoding: str | None) -> str:
    raw = path.read_bytes()
    if encoding is not None:
        return raw.decode(encoding)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _sniff_delimiter(text: str) -> str:
    sample = text[:65536]
    lines = [ln for ln in sample.splitlines() if ln.strip()][:50]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t|").delimiter
    except csv.Error:
        pass
    # fall back to the candidate that splits the header into the most fields consistently
    best, best_score = ",", 0
    for cand in (",", ";", "\t", "|"):
        counts = [ln.count(cand) for ln in lines]
        if counts[0] > 0 and min(counts) == max(counts):
            score = counts[0] + 1000
        else:
            score = counts[0]
        if score > best_score:
            best, best_score = cand, score
    return best


def detect_decimal(cells: pd.DataFrame) -> str:
    """Return ``","`` when text cells hold comma-decimal numbers and none point-decimal.

    Examples
    --------
    >>> import pandas as pd
    >>> detect_decimal(pd.DataFrame({"x": ["3,5", "4"]}))
    ','
    >>> detect_decimal(pd.DataFrame({"x": ["3.5", "4,5"]}))
    '.'
    """
    n_comma = n_point = 0
    for col in cells.columns:
        s = cells[col]
        if isinstance(s.dtype, pd.StringDtype):
            s = s.dropna()
        elif s.dtype == object:
            s = s[s.map(lambda v: isinstance(v, str))].astype("str")
        else:
            continue
        if s.empty:
            continue
        # cheap substring tests first: most columns hold neither mark
        # and a sample of 5000 cells per mark is plenty to recognise the convention
        commas = s[s.str.contains(",", regex=False)].head(5000)
        points = s[s.str.contains(".", regex=False)].head(5000)
        if len(commas):
            n_comma += int(commas.str.match(_COMMA_DECIMAL.pattern).sum())
        if len(points):
            n_point += int(points.str.match(_POINT_DECIMAL.pattern).sum())
    return "," if n_comma > 0 and n_point == 0 else "."


def _cells_to_frame(cells: list[list[Any]], header: list[Any]) -> tuple[pd.DataFrame, dict]:
    """Object-dtype frame from row lists under de-duplicated, named headers (text and Excel)."""
    columns, repeated = _dedupe(_name_blank_headers(header))
    if not cells:
        frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    else:
        frame = pd.DataFrame(cells, columns=pd.Index(columns, dtype=object), dtype=object)
    return frame, repeated


def _read_text(
    path: Path,
    *,
    delimiter: str | None,
    decimal: str | None,
    encoding: str | None,
    header_row: int,
) -> RawTable:
    text = _decode(path, encoding)
    delim = delimiter or _sniff_delimiter(text)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delim))
    if len(records) < header_row or not any(c.strip() for c in records[header_row - 1]):
        raise DataValidationError(
            f"{path.name!r} has no header in row {header_row}: the first row must hold the "
            "column names (pass header_row= if they are further down)"
        )
    header = [c.strip() for c in records[header_row - 1]]
    body = records[header_row:]
    width = len(header)
    cells: list[list[str]] = []
    rows: list[int] = []
    n_blank = 0
    header_width = width
    overlong: list[int] = []
    for i, rec in enumerate(body):
        if not any(c.strip() for c in rec):
            n_blank += 1
            continue
        if len(rec) > header_width and any(c.strip() for c in rec[header_width:]):
            overlong.append(header_row + 1 + i)
        if len(rec) < width:
            rec = rec + [""] * (width - len(rec))
        elif len(rec) > width:
            extra = rec[width:]
            if any(c.strip() for c in extra):
                header = header + [f"<unnamed {j + 1}>" for j in range(width, len(rec))]
                width = len(rec)
                cells = [r + [""] * (width - len(r)) for r in cells]
            else:
                rec = rec[:width]
        cells.append(rec)
        rows.append(header_row + 1 + i)
    n_blank -= _trailing_blank(body)  # blank lines after the table are not skipped data
    if overlong:
        shown = ", ".join(map(str, overlong[:10])) + (" ..." if len(overlong) > 10 else "")
        warnings.warn(
            f"{path.name!r}: {len(overlong)} row(s) have more fields than the {header_width} "
            f"column names in the header (rows {shown}); their extra values went to unnamed "
            "columns and the other values may be shifted. An unquoted decimal comma (3,5 for "
            "3.5) does this: pass decimal=',' with a ';' or tab delimiter, or fix the file.",
            DataQualityWarning,
            stacklevel=4,
        )
    frame, repeated = _cells_to_frame(cells, header)
    frame = frame.astype("str")  # text stays text; vectorised string operations from here
    dec = decimal or detect_decimal(frame)
    return RawTable(
        frame=frame,
        rows=np.asarray(rows, dtype=np.int64),
        file=str(path),
        format="csv",
        header_row=header_row,
        delimiter=delim,
        decimal=dec,
        n_blank=n_blank,
        repeated=repeated,
    )


def _name_blank_headers(header: list[Any]) -> list[Any]:
    out = []
    for j, name in enumerate(header):
        if name is None or (isinstance(name, str) and not name.strip()):
            out.append(f"<unnamed {j + 1}>")
        elif isinstance(name, str):
            out.append(name.strip())
        else:
            out.append(str(name))
    return out


def _letter(j: int) -> str:
    """Spreadsheet column letter of 0-based position ``j`` (0 -> A, 26 -> AA)."""
    out = ""
    j += 1
    while j:
        j, r = divmod(j - 1, 26)
        out = chr(65 + r) + out
    return out


def _dedupe(columns: list[Any]) -> tuple[list[Any], dict[Any, list[str]]]:
    """Make column names unique; return the names and {repeated name: [column letters]}."""
    seen: dict[Any, list[int]] = {}
    for j, c in enumerate(columns):
        seen.setdefault(c, []).append(j)
    repeated = {c: [_letter(j) for j in js] for c, js in seen.items() if len(js) > 1}
    out = list(columns)
    for c, js in seen.items():
        for j in js[1:]:
            out[j] = f"{c} (column {_letter(j)})"
    return out, repeated


# ----------------------------------------------------------------------------- Excel


def _read_excel(
    path: Path, *, sheet: str | int | None, decimal: str | None, header_row: int
) -> RawTable:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # corrupt or not really a workbook
        raise DataValidationError(f"cannot open {path.name!r} as an Excel workbook: {exc}") from exc
    try:
        names = wb.sheetnames
        if sheet is None:
            name = names[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise DataValidationError(
                    f"{path.name!r} has {len(names)} sheet(s) ({', '.join(map(repr, names))}); "
                    f"sheet={sheet} is out of range (sheets count from 0)"
                )
            name = names[sheet]
        else:
            if sheet not in names:
                raise DataValidationError(
                    f"{path.name!r} has no sheet {sheet!r}; its sheets are "
                    f"{', '.join(map(repr, names))}"
                )
            name = sheet
        ws = wb[name]
        ws.reset_dimensions()
        records = [list(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()
    if len(records) < header_row or all(_blank(c) for c in records[header_row - 1]):
        raise DataValidationError(
            f"sheet {name!r} of {path.name!r} has no column names in row {header_row} "
            "(pass header_row= if the table starts lower, or sheet= for another sheet)"
        )
    header = list(records[header_row - 1])
    while header and _blank(header[-1]):
        header.pop()
    body = records[header_row:]
    width = max([len(header)] + [_last_filled(r) for r in body])
    header = header + [None] * (width - len(header))
    cells, rows, n_blank = [], [], 0
    for i, rec in enumerate(body):
        rec = list(rec[:width]) + [None] * (width - len(rec))
        if all(_blank(c) for c in rec):
            n_blank += 1
            continue
        cells.append(rec)
        rows.append(header_row + 1 + i)
    # trailing empty rows below the table are formatting, not skipped data
    n_blank -= _trailing_blank(body)
    frame, repeated = _cells_to_frame(cells, header)
    dec = decimal or detect_decimal(frame)
    return RawTable(
        frame=frame,
        rows=np.asarray(rows, dtype=np.int64),
        file=str(path),
        format="excel",
        header_row=header_row,
        sheet=name,
        decimal=dec,
        n_blank=n_blank,
        repeated=repeated,
    )


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _last_filled(rec: list[Any]) -> int:
    for j in range(len(rec) - 1, -1, -1):
        if not _blank(rec[j]):
            return j + 1
    return 0


def _trailing_blank(body: list[list[Any]]) -> int:
    n = 0
    for rec in reversed(body):
        if all(_blank(c) for c in rec):
            n += 1
        else:
            break
    return n


# ----------------------------------------------------------------------------- SPSS / Stata


def _read_readstat(path: Path, kind: str) -> RawTable:
    import pyreadstat

    reader = pyreadstat.read_sav if kind == "spss" else pyreadstat.read_dta
    try:
        frame, meta = reader(str(path), dates_as_pandas_datetime=True)
    except Exception as exc:  # pyreadstat raises its own error types for corrupt files
        raise DataValidationError(
            f"cannot read {path.name!r} as a {kind.upper()} file: {exc}"
        ) from exc
    var_labels = {
        col: lab for col, lab in zip(meta.column_names, meta.column_labels, strict=False) if lab
    }
    value_labels = {col: dict(labs) for col, labs in (meta.variable_value_labels or {}).items()}
    rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    return RawTable(
        frame=frame.reset_index(drop=True),
        rows=rows,
        file=str(path),
        format=kind,
        decimal=".",
        variable_labels=var_labels,
        value_labels=value_labels,
    )
