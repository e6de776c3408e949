"""Numbers written as text: decimal marks, thousands separators and what is ambiguous.

The rules (stated for users in the "What the loader promises" docs page):

* A file's decimal mark is a point unless its text cells show comma decimals (``3,5``) and no
  point decimals (``3.5``). Values such as ``1,000`` or ``12.500`` never count as evidence,
  because they could be either.
* A number with one comma followed by exactly three digits (``1,000``, ``12,500``,
  ``1,234,567``) could be a thousand or a one: unless ``decimal=`` or ``thousands=`` was
  given, such a cell is reported as ambiguous (``ambiguous_number``), never converted. In a
  file read with a decimal comma, the same holds for ``1.000``.
* With ``thousands=``, groups of exactly three digits separated by that mark are joined
  (``1,000`` -> 1000); a malformed grouping (``1,00``) is not a number.
* Nothing else is accepted: no percent signs, no currency, no hexadecimal, no underscores,
  no words. ``inf`` is reported as not finite.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io.missing import MissingCodes
>>> p = parse_numeric(pd.Series(["3.5", "1,000", "NA", "x"], dtype="str"), NumberFormat(),
...                   MissingCodes())
>>> p.values.tolist()[0], p.missing.tolist(), p.bad.tolist(), p.kinds[1]
(3.5, [False, False, True, False], [False, True, False, True], 'ambiguous_number')
>>> parse_numeric(pd.Series(["1,000"], dtype="str"), NumberFormat.from_user(None, ","),
...               MissingCodes()).values.tolist()
[1000.0]
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alliancestats.errors import ParameterError
from alliancestats.io.missing import MissingCodes
from alliancestats.io.parsed import Parsed
from alliancestats.io.textops import (
    cast_float,
    contains_byte,
    encode,
    first_bytes,
    is_text_dtype,
    lengths,
    null_where,
    plain_number_cells,
    sample,
    text_array,
    to_bool_array,
    try_float,
)

__all__ = [
    "THOUSANDS_MARKS",
    "NumberFormat",
    "classify_number",
    "detect_decimal",
    "detect_number_format",
    "is_text_dtype",
    "mostly_numbers",
    "parse_numeric",
]

#: Marks accepted by ``thousands=`` (comma, point, space, apostrophe, no-break spaces).
THOUSANDS_MARKS = (",", ".", " ", "'", "\u00a0", "\u202f")

_GROUPED = {
    ",": re.compile(r"[+-]?[1-9]\d{0,2}(?:,\d{3})+"),
    ".": re.compile(r"[+-]?[1-9]\d{0,2}(?:\.\d{3})+"),
}
_COMMA_DECIMAL = re.compile(r"[+-]?\d*,\d+")
_POINT_DECIMAL = re.compile(r"[+-]?\d*\.\d+")
_INFINITE = re.compile(r"[+-]?(?:inf|infinity)", re.IGNORECASE)
_PERCENT = re.compile(r"[+-]?\d+(?:[.,]\d+)?\s*%")
_EXPONENT = r"(?:[eE][+-]?\d+)?"


@dataclass(frozen=True)
class NumberFormat:
    """How numbers are written in a file's text cells.

    Parameters
    ----------
    decimal : {".", ","}
        Decimal mark.
    thousands : str or None
        Thousands separator (one of :data:`THOUSANDS_MARKS`), or ``None``.
    explicit : bool
        The user gave ``decimal=`` or ``thousands=``: grouped-looking values are then read as
        the user said instead of being reported as ambiguous.

    Examples
    --------
    >>> NumberFormat.from_user(None, ".")
    NumberFormat(decimal=',', thousands='.', explicit=True)
    """

    decimal: str = "."
    thousands: str | None = None
    explicit: bool = False

    @classmethod
    def from_user(cls, decimal: str | None, thousands: str | None) -> NumberFormat:
        """Check ``decimal=`` / ``thousands=`` and build the format they describe."""
        if decimal not in (None, ".", ","):
            raise ParameterError(f"decimal must be '.' or ',' (or None to detect), not {decimal!r}")
        if thousands is not None and thousands not in THOUSANDS_MARKS:
            raise ParameterError(
                f"thousands must be one of {', '.join(map(repr, THOUSANDS_MARKS))} or None, "
                f"not {thousands!r}"
            )
        if thousands is not None and thousands == decimal:
            raise ParameterError(f"thousands and decimal cannot both be {decimal!r}")
        if decimal is None and thousands is None:
            return cls()
        if decimal is None:
            decimal = "," if thousands == "." else "."
        return cls(decimal, thousands, True)

    @cached_property
    def pattern(self) -> re.Pattern:
        """Regular expression of a number written in this format (after stripping)."""
        d = re.escape(self.decimal)
        if self.thousands is None:
            body = rf"[+-]?(?:\d+(?:{d}\d*)?|{d}\d+){_EXPONENT}"
        else:
            t = re.escape(self.thousands)
            body = rf"[+-]?(?:(?:\d{{1,3}}(?:{t}\d{{3}})+|\d+)(?:{d}\d*)?|{d}\d+){_EXPONENT}"
        return re.compile(body)

    def to_float(self, text: str) -> float:
        """The value of ``text`` (already matched by :attr:`pattern`)."""
        if self.thousands is not None:
            text = text.replace(self.thousands, "")
        return float(text.replace(self.decimal, ".") if self.decimal != "." else text)

    @property
    def ambiguous_marks(self) -> tuple[str, ...]:
        """Marks whose three-digit groups are ambiguous in this format."""
        if self.explicit:
            return ()
        return (",", ".") if self.decimal == "," else (",",)


def _ambiguous_reason(text: str, mark: str) -> str:
    grouped = int(re.sub(r"[^\d-]", "", text))
    if text.count(mark) == 1:
        as_decimal = float(text.replace(mark, "."))
        return (
            f"ambiguous number: {grouped} if {mark!r} separates thousands, {as_decimal:g} if "
            f"{mark!r} is the decimal mark; pass thousands={mark!r} or decimal={mark!r} to say "
            "which"
        )
    return (
        f"ambiguous number: {grouped} if {mark!r} separates thousands; pass thousands={mark!r} "
        "to read it so"
    )


def _numeric_reason(text: str, fmt: NumberFormat) -> str:
    if _INFINITE.fullmatch(text):
        return "not a finite number"
    if not fmt.explicit and _GROUPED[","].fullmatch(text):  # pragma: no cover - caught earlier
        return _ambiguous_reason(text, ",")
    for mark in (",", "."):
        if fmt.thousands is None and mark != fmt.decimal and _GROUPED[mark].fullmatch(text):
            return (
                f"not a number with decimal mark {fmt.decimal!r} (is {mark!r} a thousands "
                f"separator? then pass thousands={mark!r})"
            )
    if fmt.decimal == "." and _COMMA_DECIMAL.fullmatch(text):
        return "not a number (written with a decimal comma: pass decimal=',')"
    if fmt.decimal == "," and _POINT_DECIMAL.fullmatch(text):
        return "not a number (written with a decimal point, but the decimal mark is ','; pass decimal='.')"
    if _PERCENT.fullmatch(text):
        return "not a number (percent sign: enter the number without '%')"
    return "not a number"


def classify_number(
    text: str, fmt: NumberFormat, codes: MissingCodes
) -> tuple[float, str, str | None]:
    """Read one text cell: ``(value, status, reason)``.

    ``status`` is ``"ok"``, ``"missing"``, ``"bad"`` or ``"ambiguous"``.

    Examples
    --------
    >>> from alliancestats.io.missing import MissingCodes
    >>> classify_number(" 3.5 ", NumberFormat(), MissingCodes())
    (3.5, 'ok', None)
    >>> classify_number("12,500", NumberFormat(), MissingCodes())[1:]
    ('ambiguous', "ambiguous number: 12500 if ',' separates thousands, 12.5 if ',' is the decimal mark; pass thousands=',' or decimal=',' to say which")
    """
    s = text.strip()
    if s.casefold() in codes.texts:
        return math.nan, "missing", None
    for mark in fmt.ambiguous_marks:
        if _GROUPED[mark].fullmatch(s):
            return math.nan, "ambiguous", _ambiguous_reason(s, mark)
    if fmt.pattern.fullmatch(s):
        v = fmt.to_float(s)
        if math.isinf(v):
            return math.nan, "bad", "not a finite number"
        if v in codes.numbers:
            return math.nan, "missing", None
        return v, "ok", None
    return math.nan, "bad", _numeric_reason(s, fmt)


# ----------------------------------------------------------------------------- detection


def _text_cells(col: pd.Series) -> pa.Array | None:
    if is_text_dtype(col.dtype):
        return text_array(col)
    if isinstance(col.dtype, pd.CategoricalDtype):  # text read encoded: its distinct cells
        strings = [v for v in col.cat.categories if isinstance(v, str)]
        return text_array(strings) if strings else None
    if col.dtype == object:
        strings = [v for v in col.to_numpy() if isinstance(v, str)]
        return text_array(strings) if strings else None
    return None


def _evidence(columns: Iterable[pa.Array], mark: str, limit: int = 5000) -> int:
    """Number of cells (up to ``limit`` per column) that are decimals with ``mark``."""
    plain = _COMMA_DECIMAL if mark == "," else _POINT_DECIMAL
    n = 0
    for arr in columns:
        if not contains_byte(arr, mark):
            continue
        hits = pc.filter(arr, pc.fill_null(pc.match_substring(arr, mark), False))
        if not len(hits):
            continue
        for text in hits.slice(0, limit).to_pylist():
            s = text.strip()
            if plain.fullmatch(s) and not _GROUPED[mark].fullmatch(s):
                n += 1
    return n


def detect_decimal(cells: pd.DataFrame) -> str:
    """``","`` when text cells hold comma decimals and none point decimals, else ``"."``.

    Grouped-looking values (``1,000``, ``12.500``) are not evidence either way.

    Examples
    --------
    >>> import pandas as pd
    >>> detect_decimal(pd.DataFrame({"x": ["3,5", "4"]}))
    ','
    >>> detect_decimal(pd.DataFrame({"x": ["3.5", "4,5"]}))
    '.'
    >>> detect_decimal(pd.DataFrame({"x": ["1,000", "12,500"]}))
    '.'
    """
    columns = [a for c in cells.columns if (a := _text_cells(cells[c])) is not None]
    if not _evidence(columns, ","):
        return "."
    return "," if not _evidence(columns, ".") else "."


def detect_number_format(
    cells: pd.DataFrame, decimal: str | None, thousands: str | None, commas_possible: bool = True
) -> NumberFormat:
    """The user's format when given, else the decimal mark detected from the cells.

    ``commas_possible=False`` (a comma-separated file without quotes: no cell can hold a
    comma) skips the scan.
    """
    fmt = NumberFormat.from_user(decimal, thousands)
    if fmt.explicit or not commas_possible:
        return fmt
    return NumberFormat(detect_decimal(cells))


# ----------------------------------------------------------------------------- conversion


_PLAIN = NumberFormat()
_NO_CODES = MissingCodes(frozenset({""}))
_NUMBER_START = np.zeros(256, dtype=bool)
_NUMBER_START[[ord(c) for c in "0123456789+-."]] = True


def _classify_unique(
    arr: pa.Array, idx: np.ndarray, fmt: NumberFormat, codes: MissingCodes
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Classify the cells at ``idx`` once per distinct text; returns per-cell results
    ``(values, status, reasons, stripped texts)``."""
    where, dictionary = encode(arr.take(pa.array(idx)))
    texts = dictionary.to_pylist()
    results = [classify_number(t, fmt, codes) for t in texts]
    values = np.array([r[0] for r in results], dtype=float)[where]
    status = np.array([r[1] for r in results], dtype=object)[where]
    reasons = np.array([r[2] for r in results], dtype=object)[where]
    stripped = np.array([t.strip() for t in texts], dtype=object)[where]
    return values, status, reasons, stripped


def mostly_numbers(
    arr: pa.Array, fmt: NumberFormat, codes: MissingCodes, share: float = 0.5
) -> bool:
    """Whether at least ``share`` of a sample of the non-missing cells are numbers.

    ``share=1`` asks whether every sampled cell is a number or missing (a cheap way to know
    that a column is *not* all numbers before converting it).
    """
    present = [t.strip() for t in sample(arr)]
    present = [t for t in present if t.casefold() not in codes.texts]
    if not present:
        return True
    ok = sum(fmt.pattern.fullmatch(t) is not None for t in present)
    return ok >= share * len(present)


def _null_where(arr: pa.Array, mask: np.ndarray) -> pa.Array:
    return null_where(arr, mask)


def _castable(
    t: pa.Array, fmt: NumberFormat, empty: np.ndarray, first: np.ndarray
) -> tuple[pa.Array, np.ndarray]:
    """Cells that may be converted in bulk (marks normalised), and the mask of the others."""
    n = len(t)
    careful = empty | ~_NUMBER_START[first]
    if fmt.decimal == "," or fmt.thousands is not None:
        marks = {fmt.decimal, ".", ","} | ({fmt.thousands} if fmt.thousands else set())
        for m in marks - {","}:
            careful |= to_bool_array(pc.match_substring(t, m))
        if fmt.thousands is None:
            # single-comma values with three decimals might be grouped thousands
            comma = pc.find_substring(t, ",")
            careful |= to_bool_array(pc.equal(comma, pc.subtract(pc.binary_length(t), 4)))
            t = pc.replace_substring(t, ",", ".")
        else:
            careful |= to_bool_array(pc.match_substring(t, ","))
    if (n - careful.sum()) > 1000 and not mostly_numbers(null_where(t, careful), _PLAIN, _NO_CODES):
        careful[:] = True  # mostly words or dates: failed bulk conversions are slow
    return t, careful


def _bulk_floats(t: pa.Array, careful: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and ``done`` mask of the cells not marked ``careful``."""
    cand = t if not careful.any() else _null_where(t, careful)
    values = cast_float(cand) if not careful.all() else None
    if values is None and not careful.all():
        # some cell is not a plain number: leave out cells with other characters, retry
        careful = careful | ~plain_number_cells(t)
        values, _ = try_float(_null_where(t, careful))
    elif values is None:
        values = np.full(len(t), np.nan)
    done = ~careful & np.isfinite(values)
    return values, done


def _parse_text(
    arr: pa.Array, fmt: NumberFormat, codes: MissingCodes
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict, dict, dict]:
    """Vectorised conversion of text cells; doubtful cells are classified once per text."""
    n = len(arr)
    # cells with white space around them fail the bulk conversion and are read one by one
    first = first_bytes(arr)
    empty = lengths(arr) == 0
    t, careful = _castable(arr, fmt, empty, first)
    values, done = _bulk_floats(t, careful)
    values = np.array(values, dtype=float)
    values[~done] = np.nan
    missing = empty.copy()
    bad = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}
    kinds: dict[int, str] = {}
    code_texts: dict[int, str] = {}
    idx = np.flatnonzero(~done & ~empty)  # codes and doubtful cells
    if len(idx):
        v, status, why, stripped = _classify_unique(arr, idx, fmt, codes)
        ok = status == "ok"
        values[idx[ok]] = v[ok]
        miss = status == "missing"
        missing[idx[miss]] = True
        coded = miss & (stripped != "")  # cells of white space only are empty, not codes
        code_texts = dict(zip(idx[coded].tolist(), stripped[coded].tolist(), strict=True))
        wrong = ~ok & ~miss
        bad[idx[wrong]] = True
        reasons = dict(zip(idx[wrong].tolist(), why[wrong].tolist(), strict=True))
        kinds = dict.fromkeys(idx[status == "ambiguous"].tolist(), "ambiguous_number")
    return values, missing, bad, reasons, kinds, code_texts


def _shift(d: dict[int, Any], positions: np.ndarray) -> dict[int, Any]:
    return {int(positions[k]): v for k, v in d.items()}


def parse_numeric(
    series: pd.Series, fmt: NumberFormat | str, codes: MissingCodes, *, explain: bool = True
) -> Parsed:
    """Convert a column to float64 following the rules of this module.

    Booleans become 0/1. Infinite values, dates, ambiguous numbers and text that is not a
    number are ``bad`` (the reason and, for ambiguous numbers, the kind are recorded).
    ``fmt`` may be a decimal mark for convenience. ``explain`` is accepted for compatibility
    (reasons are always recorded: only doubtful cells are looked at one by one).

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats.io.missing import MissingCodes
    >>> p = parse_numeric(pd.Series([1, True, -99]), ".", MissingCodes.from_user([-99]))
    >>> p.values.tolist()[:2], p.missing.tolist()
    ([1.0, 1.0], [False, False, True])
    """
    del explain
    if isinstance(fmt, str):
        fmt = NumberFormat(fmt)
    n = len(series)
    reasons: dict[int, str] = {}
    kinds: dict[int, str] = {}
    code_texts: dict[int, str] = {}
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        series = series.astype(object)
        dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        missing = np.asarray(pd.isna(series), dtype=bool)
        values = np.full(n, np.nan)
        values[~missing] = series[~missing].astype(float).to_numpy()
        bad = np.zeros(n, dtype=bool)
    elif pd.api.types.is_numeric_dtype(dtype):
        values = series.to_numpy(dtype=float, na_value=np.nan)  # may be a read-only view
        missing = np.isnan(values)
        bad = np.isinf(values)
        reasons = dict.fromkeys(np.flatnonzero(bad).tolist(), "not a finite number")
    elif is_text_dtype(dtype):
        values, missing, bad, reasons, kinds, code_texts = _parse_text(
            text_array(series), fmt, codes
        )
    else:
        values, missing, bad, reasons, kinds, code_texts = _parse_objects(
            series.to_numpy(dtype=object), fmt, codes
        )
    if codes.numbers:
        missing |= np.isin(values, np.asarray(codes.numbers)) & ~bad
    clear = (bad | missing) & ~np.isnan(values)
    if clear.any():
        values = np.array(values, dtype=float)  # a copy: never write into the caller's data
        values[clear] = np.nan
    return Parsed(
        pd.Series(values, index=series.index, dtype=np.float64, copy=False),
        missing,
        bad,
        reasons,
        kinds,
        code_texts,
    )


def _parse_objects(
    cells: np.ndarray, fmt: NumberFormat, codes: MissingCodes
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict, dict, dict]:
    """Cells of mixed Python types (Excel, object columns of a DataFrame)."""
    n = len(cells)
    values = np.full(n, np.nan)
    missing = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}
    kinds: dict[int, str] = {}
    code_texts: dict[int, str] = {}
    str_idx = []
    for i, v in enumerate(cells):
        if isinstance(v, str):
            str_idx.append(i)
        elif isinstance(v, bool | np.bool_):
            values[i] = float(v)
        elif isinstance(v, int | float | np.number):
            x = float(v)
            if np.isnan(x):
                missing[i] = True
            elif np.isinf(x):
                bad[i] = True
                reasons[i] = "not a finite number"
            else:
                values[i] = x
        elif v is None or v is pd.NA or v is pd.NaT:
            missing[i] = True
        else:
            bad[i] = True
            reasons[i] = "not a number (a date or other non-numeric value)"
    if str_idx:
        ix = np.asarray(str_idx)
        sv, sm, sb, sr, sk, sc = _parse_text(text_array([cells[i] for i in str_idx]), fmt, codes)
        values[ix], missing[ix], bad[ix] = sv, sm, sb
        reasons.update(_shift(sr, ix))
        kinds.update(_shift(sk, ix))
        code_texts.update(_shift(sc, ix))
    return values, missing, bad, reasons, kinds, code_texts
