"""Let pyarrow type the number columns of a regular text file where that loses nothing.

Converting text to numbers is most of the work of loading a large CSV file. pyarrow's CSV
reader does it while it splits the file, so the loader asks it to type the columns it will
read as numbers anyway (alliance, outcomes, session numbers, item columns); every other column
stays text, so identifiers, categories and undeclared columns keep exactly what was written.

The type of each such column is chosen from the first lines of the file (:func:`column_types`)
and then given to the reader explicitly, because an explicit type is exact where inference is
not: inference reads ``0x1A`` as the integer 26, and it holds several candidate conversions of
every block in memory at once. A column whose first cells are all numbers is read as
``float64``; pyarrow's parser then accepts only decimal numbers (signs, a decimal point, an
exponent; ``inf``/``nan`` spellings, which are checked afterwards) and rounds correctly, as
Python's ``float``. If any later cell is something else (a missing-value code, a thousands
separator, a decimal comma, a typing error), the reader fails, that column is read as text
instead and goes through the checked conversion of :mod:`.numbers`. Columns whose first cells
are booleans or dates keep pyarrow's inference for those types (a two-valued outcome stays
boolean, session dates are dates); a column with text among its first cells stays text.

After reading, a typed column keeps its type only when nothing is lost (:func:`unsafe_reason`):

* numbers, unless a cell is spelled ``nan`` (whether that is missing depends on
  ``na_values``);
* dates (pyarrow checks the calendar); times with a time-zone offset are read as text,
  because pyarrow would convert them to UTC and change the date written.

Problems in a typed column still show the cell as written: :class:`LineCells` finds it in the
file (every record is one line in a file read this way).

Examples
--------
>>> import pyarrow as pa
>>> unsafe_reason(pa.array([1.0, float("nan")])), unsafe_reason(pa.array([1, 7]))
('cells spelled nan', None)
>>> column_types(b"id,wai,when\\nP1,3.5,2024-01-02\\nP2,,2024-01-09\\n", ",", 3, {1, 2})
{0: DataType(large_string), 1: DataType(double), 2: None}
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = [
    "ENCODED",
    "LineCells",
    "column_types",
    "failed_column",
    "few_values",
    "read_arrow_table",
    "unsafe_reason",
]

#: Whether pyarrow's CSV reader may use several threads. One thread keeps the reader's own
#: memory small (a threaded read of a whole file holds most of its blocks at once).
USE_THREADS = False
#: Bytes per block handed to the reader (small blocks: little memory besides the result).
BLOCK_SIZE = 1 << 18

#: Memory pool of the reader. The C library's allocator: the columns read are most of the
#: memory a load uses, and once they are freed that memory serves numpy's arrays too (a
#: separate pool would keep it for arrow's own later use).
READER_POOL = pa.system_memory_pool

_TEXT = pa.large_string()
#: Text stored once per distinct value (an index per cell): columns that repeat few values
#: take a quarter of the memory of plain text, and need no encoding pass afterwards.
ENCODED = pa.dictionary(pa.int32(), pa.string())
_FAILED_COLUMN = re.compile(r"In CSV column #(\d+)")


def read_arrow_table(
    source: Any,
    delim: str,
    width: int,
    types: dict[int, pa.DataType | None] | None,
    quoted: bool = True,
) -> pa.Table:
    """Parse a CSV file or buffer (header line first).

    ``types`` gives, per column position, the type to read (``None``: let pyarrow infer it);
    ``types=None`` reads every column as text. With ``quoted``, quoted fields may hold line
    breaks (the caller checks that none do); without quotes in the file every line is a
    record, which parses faster. Raises pyarrow's errors for irregular files (the caller then
    reads them exactly) and for cells that do not convert to the requested type.
    """
    names = [f"c{j}" for j in range(width)]
    if types is None:
        types = dict.fromkeys(range(width), _TEXT)
    return pacsv.read_csv(
        source,
        read_options=pacsv.ReadOptions(
            column_names=names, skip_rows=1, use_threads=USE_THREADS, block_size=BLOCK_SIZE
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=delim,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=quoted,
            ignore_empty_lines=False,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={names[j]: t for j, t in types.items() if t is not None},
            null_values=[""],
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
        memory_pool=READER_POOL(),
    )


def column_types(
    head: bytes,
    delim: str,
    width: int,
    wanted: set[int],
    quoted: bool = True,
    encodable: set[int] = frozenset(),
) -> dict[int, pa.DataType | None]:
    """Types to read each column with, from the complete lines of ``head`` (header first).

    Columns not in ``wanted`` are text. A wanted column is ``float64`` when its first cells
    are numbers or empty, ``None`` (inferred) when they are booleans or dates, text otherwise.
    A column in ``encodable`` whose first cells repeat few values is read as text
    dictionary-encoded (:data:`ENCODED`).
    """
    types: dict[int, pa.DataType | None] = dict.fromkeys(range(width), _TEXT)
    encodable = set(encodable) - set(wanted)
    if not wanted and not encodable:
        return types
    end = head.rfind(b"\n")
    try:
        sample = read_arrow_table(
            pa.BufferReader(pa.py_buffer(head[: end + 1])),
            delim,
            width,
            {j: (None if j in wanted else _TEXT) for j in range(width)},
            quoted,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return {j: (None if j in wanted else _TEXT) for j in range(width)}
    for j in encodable:
        if few_values(sample.column(j)):
            types[j] = ENCODED
    for j in wanted:
        t = sample.column(j).type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t):
            types[j] = pa.float64()
        elif not (pa.types.is_string(t) or pa.types.is_large_string(t)):
            types[j] = None
    return types


def few_values(arr: pa.ChunkedArray | pa.Array) -> bool:
    """Whether the cells of a sample repeat few distinct values (at most one in four)."""
    n = len(arr)
    return n >= 32 and pc.count_distinct(arr).as_py() <= n // 4


def failed_column(error: Exception, types: dict[int, pa.DataType | None]) -> set[int]:
    """Columns to read as text after the reader failed to convert a typed column.

    pyarrow names the column in its message; when it does not, every column requested as
    ``float64`` is given up.
    """
    m = _FAILED_COLUMN.search(str(error))
    if m and types.get(int(m[1]), _TEXT) != _TEXT:
        return {int(m[1])}
    return {j for j, t in types.items() if t == pa.float64()}


def unsafe_reason(arr: Any) -> str | None:
    """Why a typed column must be read as text instead (``None`` if its type is exact)."""
    t = arr.type
    if pa.types.is_integer(t):
        return None
    if pa.types.is_floating(t):
        return "cells spelled nan" if pc.any(pc.is_nan(arr)).as_py() else None
    if pa.types.is_timestamp(t):
        return "times with a time-zone offset" if t.tz is not None else None
    if pa.types.is_date(t) or pa.types.is_boolean(t) or pa.types.is_null(t):
        return None
    if t == ENCODED:  # text as written, stored once per distinct value
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
