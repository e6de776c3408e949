"""Read session data files into a table of raw cells, remembering where each row came from.

Every reader returns a :class:`RawTable`: the cells exactly as stored (text files stay text,
so the loader can report the offending value as the user typed it), the row label the user
sees for each row, problems found while reading (rows with extra fields, unmatched quotes,
formulas without a value) and the metadata the format carries (SPSS/Stata labels, the sheet
read, the text encoding).

Row labels follow one rule per format, chosen so a researcher can find the row:

========================  =================================================================
source                    ``row`` means
========================  =================================================================
CSV / TSV / text          the record number in the file, header = row 1, so the first data
                          row is 2 (what a spreadsheet shows when it opens it)
Excel (.xlsx, .xlsm)      the row number Excel shows in the chosen sheet
SPSS (.sav), Stata (.dta) the case number (SPSS Data View / Stata ``_n``), starting at 1
Parquet                   the row label ``pandas.read_parquet`` gives (stored index, or 0..)
DataFrame                 the index label
========================  =================================================================

SPSS user-defined missing values and Stata extended missing values (``.a`` ... ``.z``) are
read as missing.

Nothing is ever written back, and nothing in a file is executed: text is split by pyarrow's
CSV reader or the csv module (:mod:`.text`), workbooks are read with openpyxl (formulas are
not evaluated; :mod:`.excel`), SPSS/Stata with pyreadstat, Parquet with pyarrow. Pickle is
never used.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io import read_table
>>> t = read_table(pd.DataFrame({"id": [1, 2]}, index=[10, 11]))
>>> t.format, t.rows.tolist()
('dataframe', [10, 11])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from alliancestats.errors import DataValidationError, FileFormatError, ParameterError
from alliancestats.io.excel import letter, read_excel_cells
from alliancestats.io.numbers import NumberFormat, detect_decimal, detect_number_format
from alliancestats.io.text import FileInput, TypeHints, read_text_cells
from alliancestats.io.textops import as_text_series, encoded_parts
from alliancestats.io.typed import ENCODED

__all__ = ["RawTable", "read_table", "SUPPORTED_EXTENSIONS", "detect_decimal"]

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
    "csv": "record in the file (header = row 1, first data row = 2)",
    "excel": "row number shown by Excel in the sheet",
    "spss": "case number as in SPSS Data View (first case = 1)",
    "stata": "observation number as Stata's _n (first = 1)",
    "parquet": "row label given by pandas.read_parquet",
    "dataframe": "index label of the DataFrame",
}


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
        Worksheet read (Excel); ``sheet_note`` says why that one.
    delimiter : str or None
        Field delimiter (text sources).
    decimal, thousands : str or None
        Decimal mark and thousands separator used for numbers written as text;
        ``number_explicit`` says whether the user gave them (see :mod:`.numbers`).
    encoding : str or None
        Text encoding used; ``encoding_note`` is set when it was detected rather than known.
    variable_labels : dict
        Column -> variable label (SPSS/Stata).
    value_labels : dict
        Column -> {code: label} (SPSS/Stata).
    n_blank : int
        Completely empty rows skipped (their row numbers are not reused).
    repeated : dict
        Column name -> column letters, for names occurring more than once in the header.
    problems : list of tuple
        Problems found while reading: ``(position, column, value, reason, kind)``; the
        position is the row of ``frame``.
    formula_cells : list of tuple
        ``(position, column)`` of Excel formulas without a computed value.
    typed_columns : frozenset
        Text-file columns that pyarrow typed exactly (numbers, dates; see :mod:`.typed`);
        :meth:`cell_text` gives their cells as written.
    encoded_columns : frozenset
        Text-file columns read dictionary-encoded (:mod:`.typed`): held as a categorical
        whose categories are the distinct cells exactly as written, in no particular order.
        They are text like any other cell, not categories the file declared.
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
    repeated: dict[Any, list[str]] = field(default_factory=dict)
    thousands: str | None = None
    number_explicit: bool = False
    encoding: str | None = None
    encoding_note: str | None = None
    sheet_note: str | None = None
    problems: list[tuple[int, Any, Any, str, str]] = field(default_factory=list)
    formula_cells: list[tuple[int, Any]] = field(default_factory=list)
    typed_columns: frozenset[Any] = frozenset()
    line_cells: Any = None
    encoded_columns: frozenset[Any] = frozenset()

    def cell_text(self, column: Any, positions: np.ndarray) -> np.ndarray | None:
        """The cells of a typed text-file column as written (``None`` for other columns).

        Parameters
        ----------
        column : object
            Column label in :attr:`frame`.
        positions : numpy.ndarray
            Row positions in :attr:`frame`.

        Returns
        -------
        numpy.ndarray or None
            The cell texts, or ``None`` when the column was not typed from a text file.
        """
        if column not in self.typed_columns or self.line_cells is None:
            return None
        j = list(self.frame.columns).index(column)
        return np.asarray(self.line_cells.cells(self.rows[positions], j), dtype=object)

    @property
    def row_note(self) -> str:
        """What a row label means for this source, in words."""
        return _ROW_NOTES[self.format]

    @property
    def text_cells(self) -> bool:
        """Whether cells are raw text (decimal marks and dates still to be parsed)."""
        return self.format == "csv"

    @property
    def number_format(self) -> NumberFormat:
        """How numbers written as text are read."""
        return NumberFormat(self.decimal or ".", self.thousands, self.number_explicit)


def read_table(
    source: Any,
    *,
    sheet: str | int | None = None,
    delimiter: str | None = None,
    decimal: str | None = None,
    encoding: str | None = None,
    header_row: int = 1,
    file_format: str | None = None,
    thousands: str | None = None,
    types: TypeHints | None = None,
) -> RawTable:
    """Read a session-data file or DataFrame without interpreting its values.

    Parameters
    ----------
    source : str, pathlib.Path or pandas.DataFrame
        File to read (format chosen from the extension, see :data:`SUPPORTED_EXTENSIONS`)
        or a DataFrame (copied, never modified).
    sheet : str or int, optional
        Excel worksheet name or 0-based position; by default the active sheet if visible,
        else the first visible sheet.
    delimiter : str, optional
        Field delimiter of a text file; detected among ``,`` ``;`` tab and ``|`` by default.
    decimal : {".", ","}, optional
        Decimal mark of numbers written as text; detected by default (``","`` only when
        numbers like ``3,5`` occur and none like ``3.5``).
    encoding : str, optional
        Text encoding; by default a byte-order mark or strict UTF-8, else detected (see
        :mod:`.text`).
    header_row : int, default 1
        Row holding the column names in a text file or sheet (rows above it are ignored).
    file_format : str, optional
        Force a format (``"csv"``, ``"excel"``, ``"spss"``, ``"stata"``, ``"parquet"``)
        whatever the extension.
    thousands : str, optional
        Thousands separator of numbers written as text (see :mod:`.numbers`).
    types : TypeHints, optional
        Let pyarrow type the columns of a regular text file where that is exact (numbers,
        dates), keeping ``types.text`` as text; used by the loader for speed. By default every
        cell of a text file stays text.

    Returns
    -------
    RawTable

    Raises
    ------
    DataValidationError
        When the file does not exist or has an unsupported format.
    FileFormatError
        When the file cannot be read as its format (corrupt, undecodable, no header).

    Examples
    --------
    >>> import pandas as pd
    >>> t = read_table(pd.DataFrame({"id": ["a"], "pain": [3.0]}))
    >>> t.frame.columns.tolist(), t.row_note
    (['id', 'pain'], 'index label of the DataFrame')
    """
    fmt = NumberFormat.from_user(decimal, thousands)
    if isinstance(source, pd.DataFrame):
        frame = source.reset_index(drop=True).copy()
        names, repeated = _dedupe(list(frame.columns))
        frame.columns = pd.Index(names, dtype=object)
        return RawTable(
            frame=frame,
            rows=source.index.to_numpy(),
            file=None,
            format="dataframe",
            **_number_fields(fmt),
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
        if decimal is not None or thousands is not None:
            types = None  # numbers written the user's way: every cell goes through .numbers
        return _read_text(path, delimiter, decimal, thousands, encoding, header_row, types)
    if kind == "excel":
        return _read_excel(path, sheet, decimal, thousands, header_row)
    if kind in ("spss", "stata"):
        return _read_readstat(path, kind, fmt)
    if kind == "parquet":
        return _read_parquet(path, fmt)
    raise ParameterError(
        f"unknown file_format {kind!r}; use one of csv, excel, spss, stata, parquet"
    )


def _number_fields(fmt: NumberFormat) -> dict[str, Any]:
    return {"decimal": fmt.decimal, "thousands": fmt.thousands, "number_explicit": fmt.explicit}


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


def _dedupe(columns: list[Any]) -> tuple[list[Any], dict[Any, list[str]]]:
    """Make column names unique; return the names and {repeated name: [column letters]}."""
    seen: dict[Any, list[int]] = {}
    for j, c in enumerate(columns):
        seen.setdefault(c, []).append(j)
    repeated = {c: [letter(j) for j in js] for c, js in seen.items() if len(js) > 1}
    out = list(columns)
    for c, js in seen.items():
        for j in js[1:]:
            out[j] = f"{c} (column {letter(j)})"
    return out, repeated


def _column_series(arr: pa.ChunkedArray) -> pd.Series:
    """A column read by pyarrow as a pandas Series (text as ``str``)."""
    t = arr.type
    if pa.types.is_large_string(t) or pa.types.is_string(t):
        return as_text_series(arr)
    if t == ENCODED:
        return _encoded_series(arr)
    if pa.types.is_null(t):
        return as_text_series(pa.array([""] * len(arr), type=pa.large_string()))
    if pa.types.is_floating(t) or (pa.types.is_integer(t) and not arr.null_count):
        return pd.Series(arr.to_numpy(zero_copy_only=False), copy=False)
    if pa.types.is_integer(t):
        return pd.Series(pd.array(arr.to_pandas(), dtype="Int64"))
    if pa.types.is_boolean(t):
        return pd.Series(pd.array(arr.to_pylist(), dtype="boolean"))
    return pd.Series(arr.to_pandas(date_as_object=False))


def _encoded_series(arr: pa.ChunkedArray) -> pd.Series:
    """A text column read dictionary-encoded as a categorical of the cells as written (values
    that no cell uses any more, e.g. of blank rows left out, are dropped)."""
    indices, values = encoded_parts(arr)
    used = np.bincount(indices, minlength=len(values)) > 0
    if not used.all():
        new = np.cumsum(used) - 1
        indices, values = new[indices], values.filter(pa.array(used))
    categories = pd.Index(values.to_pylist(), dtype=object)
    return pd.Series(pd.Categorical.from_codes(indices, categories=categories), copy=False)


def _read_text(
    path: Path,
    delimiter: str | None,
    decimal: str | None,
    thousands: str | None,
    encoding: str | None,
    header_row: int,
    types: TypeHints | None,
) -> RawTable:
    cells = read_text_cells(
        FileInput(path=path),
        name=path.name,
        delimiter=delimiter,
        encoding=encoding,
        header_row=header_row,
        types=types,
    )
    names, repeated = _dedupe(_name_blank_headers(cells.header))
    if cells.columns is not None:
        series = {}
        for j in range(len(cells.columns)):  # each column converted, the pieces let go
            series[j] = _column_series(cells.columns[j])
            cells.columns[j] = None
        frame = pd.DataFrame(series, copy=False)
        frame.columns = pd.Index(names, dtype=object)
    else:
        records = cells.records or []
        if records:
            frame = pd.DataFrame(records, columns=pd.Index(names, dtype=object), dtype=object)
        else:
            frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in names})
        frame = frame.astype("str")
    commas = cells.quoted or cells.delimiter != ","
    fmt = detect_number_format(frame, decimal, thousands, commas_possible=commas)
    if cells.typed and fmt.decimal != ".":
        # typed columns read points as decimal marks: in a decimal-comma file read all as text
        return _read_text(path, delimiter, decimal, thousands, encoding, header_row, None)
    return RawTable(
        frame=frame,
        rows=cells.rows,
        file=str(path),
        format="csv",
        header_row=header_row,
        delimiter=cells.delimiter,
        **_number_fields(fmt),
        n_blank=cells.n_blank,
        repeated=repeated,
        encoding=cells.encoding,
        encoding_note=cells.encoding_note,
        problems=cells.problems,
        typed_columns=frozenset(names[j] for j in cells.typed),
        line_cells=cells.line_cells,
        encoded_columns=frozenset(names[j] for j in cells.encoded),
    )


def _read_excel(
    path: Path, sheet: str | int | None, decimal: str | None, thousands: str | None, header_row: int
) -> RawTable:
    cells = read_excel_cells(path, sheet=sheet, header_row=header_row)
    names, repeated = _dedupe(_name_blank_headers(cells.header))
    if cells.records:
        frame = pd.DataFrame(cells.records, columns=pd.Index(names, dtype=object), dtype=object)
    else:
        frame = pd.DataFrame({c: pd.Series([], dtype=object) for c in names})
    fmt = detect_number_format(frame, decimal, thousands)
    return RawTable(
        frame=frame,
        rows=cells.rows,
        file=str(path),
        format="excel",
        header_row=header_row,
        sheet=cells.sheet,
        sheet_note=cells.sheet_note,
        **_number_fields(fmt),
        n_blank=cells.n_blank,
        repeated=repeated,
        problems=cells.problems,
        formula_cells=[(k, names[j]) for k, j in cells.formula_cells],
    )


def _read_readstat(path: Path, kind: str, fmt: NumberFormat) -> RawTable:
    import pyreadstat

    reader = pyreadstat.read_sav if kind == "spss" else pyreadstat.read_dta
    try:
        frame, meta = reader(str(path), dates_as_pandas_datetime=True)
    except Exception as exc:  # pyreadstat raises its own error types for corrupt files
        raise FileFormatError(f"cannot read {path.name!r} as a {kind.upper()} file: {exc}") from exc
    var_labels = {
        col: lab for col, lab in zip(meta.column_names, meta.column_labels, strict=False) if lab
    }
    value_labels = {col: dict(labs) for col, labs in (meta.variable_value_labels or {}).items()}
    return RawTable(
        frame=frame.reset_index(drop=True),
        rows=np.arange(1, len(frame) + 1, dtype=np.int64),
        file=str(path),
        format=kind,
        **_number_fields(fmt),
        variable_labels=var_labels,
        value_labels=value_labels,
    )


def _read_parquet(path: Path, fmt: NumberFormat) -> RawTable:
    try:
        frame = pd.read_parquet(path, engine="pyarrow")
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise FileFormatError(f"cannot read {path.name!r} as a Parquet file: {exc}") from exc
    names, repeated = _dedupe(list(frame.columns))
    rows = np.asarray(frame.index, dtype=object)
    frame = frame.reset_index(drop=True)
    frame.columns = pd.Index(names, dtype=object)
    return RawTable(
        frame=frame,
        rows=rows,
        file=str(path),
        format="parquet",
        **_number_fields(fmt),
        repeated=repeated,
    )
