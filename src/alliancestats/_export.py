"""Writing tables to CSV and Excel files safely (private module, used by everything that writes).

Spreadsheet programs treat a cell that begins with ``=``, ``+``, ``-`` or ``@`` (or a tab or
carriage return) as a formula and run it when the file is opened: a patient note or an ID such
as ``=HYPERLINK(...)`` or ``@SUM(...)`` copied from a data file into a results table becomes
code on a colleague's computer. Following the OWASP advice on CSV injection, every text cell
(and column or index label) that starts with one of these characters is written with a leading
apostrophe, which spreadsheets show as text. Numbers are never changed, and neither is text
that is itself a plain number (``"-3.5"``, ``"+1e-3"``): no spreadsheet runs those.

Use :func:`write_csv` and :func:`write_excel` instead of ``DataFrame.to_csv`` /
``DataFrame.to_excel`` anywhere the library writes a file a person may open.

References
----------
OWASP Foundation, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection

Examples
--------
>>> import pandas as pd
>>> neutralize(pd.DataFrame({"note": ["=1+1", "ok", "-3.5", "@SUM(A1)"], "x": [-1, 2, 3, 4]}))
        note  x
0      '=1+1 -1
1         ok  2
2       -3.5  3
3  '@SUM(A1)  4
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "neutralize", "neutralize_text", "write_csv", "write_excel"]

#: First characters that make a spreadsheet cell a formula (OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")


def neutralize_text(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text a spreadsheet would run as a formula.

    Examples
    --------
    >>> neutralize_text("=cmd|' /C calc'!A0"), neutralize_text("-2"), neutralize_text(-2)
    ("'=cmd|' /C calc'!A0", '-2', -2)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        if not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    return value


def _labels(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.set_levels([_labels(level) for level in index.levels])
    if index.dtype == object or pd.api.types.is_string_dtype(index.dtype):
        return index.map(neutralize_text)
    return index


def _column(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        if cats.dtype == object or pd.api.types.is_string_dtype(cats.dtype):
            safe = cats.map(neutralize_text)
            if not safe.equals(cats) and safe.is_unique:
                return s.cat.rename_categories(safe)
            if not safe.equals(cats):
                return s.astype(object).map(neutralize_text)
        return s
    if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
        return s.map(neutralize_text)
    return s


def neutralize(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels cannot run as formulas.

    Only text is touched (see the module docstring); numbers, dates and booleans are kept.
    """
    out = pd.DataFrame({k: _column(frame[k]) for k in frame.columns}, index=frame.index)
    out.columns = _labels(pd.Index(frame.columns))
    out.index = _labels(frame.index)
    return out


def _has_carriage_return(frame: pd.DataFrame) -> bool:
    for k in frame.columns:
        s = frame[k]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            if s.map(lambda v: isinstance(v, str) and "\r" in v).any():
                return True
    return False


def write_csv(frame: pd.DataFrame, path: str | Path, **kwargs: Any) -> Path:
    """Write ``frame`` as CSV (UTF-8) after :func:`neutralize`; ``kwargs`` go to ``to_csv``.

    A text cell holding a carriage return would otherwise be written unquoted, and a program
    splitting lines there would start a new cell with whatever follows; such files are written
    with CRLF line endings (RFC 4180), which makes the csv writer quote those cells.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> _ = write_csv(pd.DataFrame({"id": ["=2+5"]}), out, index=False)
    >>> out.read_text(encoding="utf-8").splitlines()
    ['id', "'=2+5"]
    """
    path = Path(path)
    kwargs.setdefault("encoding", "utf-8")
    safe = neutralize(frame)
    if "lineterminator" not in kwargs and _has_carriage_return(safe):
        kwargs["lineterminator"] = "\r\n"
    safe.to_csv(path, **kwargs)
    return path


def write_excel(
    frame: pd.DataFrame, path: str | Path, sheet_name: str = "Sheet1", **kwargs: Any
) -> Path:
    """Write ``frame`` as an .xlsx sheet after :func:`neutralize` (formulas stay text).

    ``kwargs`` go to ``DataFrame.to_excel`` (openpyxl engine).
    """
    path = Path(path)
    safe_name = str(neutralize_text(sheet_name)).lstrip("'")
    neutralize(frame).to_excel(path, sheet_name=safe_name, engine="openpyxl", **kwargs)
    return path
