"""Let pyarrow type the number columns of a regular text file where that loses nothing.

Converting text to numbers is most of the work of loading a large CSV file. pyarrow's CSV
reader does it while it splits the file, in parallel, so the loader asks it to infer the type
of the columns it will read as numbers anyway (alliance, outcomes, session numbers, item
columns); every other column stays text, so identifiers, categories and undeclared columns
keep exactly what was written. A number column keeps its inferred type only when nothing is
lost; otherwise it is read again as text and goes through the checked conversion of
:mod:`.numbers`:

* integers and decimals keep their type (pyarrow's parser rounds correctly, as Python's
  ``float``), unless a cell is spelled ``nan`` (whether that is missing depends on
  ``na_values``);
* dates keep their type (pyarrow checks the calendar); times with a time-zone offset are
  read as text, because pyarrow would convert them to UTC and change the date written;
* a column with anything else (a missing-value code, a thousands separator, a decimal comma,
  a typing error) is text from the start: inference only types columns that parse entirely.

Problems in a typed column still show the cell as written: :class:`LineCells` finds it in the
file (every record is one line in a file read this way).

Examples
--------
>>> import pyarrow as pa
>>> unsafe_reason(pa.array([1.0, float("nan")])), unsafe_reason(pa.array([1, 7]))
('cells spelled nan', None)
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["LineCells", "read_arrow_table", "unsafe_reason"]


def read_arrow_table(
    source: Any, delim: str, width: int, text_columns: set[int] | None, quoted: bool = True
) -> pa.Table:
    """Parse a CSV file or buffer (header line first); ``text_columns=None`` reads all as text.

    With ``quoted``, quoted fields may hold line breaks (the caller checks that none do);
    without quotes in the file every line is a record, which parses faster. Raises pyarrow's
    errors for irregular files (the caller then reads them exactly).
    """
    names = [f"c{j}" for j in range(width)]
    texts = range(width) if text_columns is None else text_columns
    return pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
        parse_options=pacsv.ParseOptions(
            delimiter=delim,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=quoted,
            ignore_empty_lines=False,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={names[j]: pa.string() for j in texts},
            null_values=[""],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def unsafe_reason(arr: Any) -> str | None:
    """Why an inferred column must be read as text instead (``None`` if its type is exact)."""
    t = arr.type
    if pa.types.is_integer(t):
        return None
    if pa.types.is_floating(t):
        return "cells spelled nan" if pc.any(pc.is_nan(arr)).as_py() else None
    if pa.types.is_timestamp(t):
        return "times with a time-zone offset" if t.tz is not None else None
    if pa.types.is_date(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
        return None
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return None
    return f"type {t} not used by the loader"


class LineCells:
    """The text of single cells of a file whose records are one line each.

    The file is read again only when a cell is asked for (problems are rare), so the loader
    does not keep the file's bytes in memory.

    Parameters
    ----------
    read : callable
        Returns the file's bytes.
    start : int
        Offset of the header line (after a byte-order mark).
    delimiter : str
        Field delimiter.
    """

    def __init__(self, read: Callable[[], bytes], start: int, delimiter: str) -> None:
        self._read = read
        self._start = start
        self._delim = delimiter
        self._raw: bytes | None = None
        self._lines: np.ndarray | None = None

    def _index(self) -> tuple[bytes, np.ndarray]:
        if self._raw is None or self._lines is None:
            self._raw = self._read()
            b = np.frombuffer(self._raw, dtype=np.uint8)[self._start :]
            self._lines = np.r_[0, np.flatnonzero(b == 10) + 1] + self._start
        return self._raw, self._lines

    def cells(self, lines: np.ndarray, column: int) -> list[str]:
        """Cell ``column`` (0-based) of each 1-based line number in ``lines``."""
        raw, idx = self._index()
        out = []
        for line in np.asarray(lines, dtype=np.int64).tolist():
            a = idx[line - 1]
            b = idx[line] if line < len(idx) else len(raw)
            text = raw[a:b].decode("utf-8").rstrip("\r\n")
            fields = next(csv.reader([text], delimiter=self._delim), [])
            out.append(fields[column] if column < len(fields) else "")
        return out
