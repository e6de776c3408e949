"""Session dates: text, spreadsheet and typed dates to ``datetime64``; unreadable cells are bad.

Rules: ISO dates (``2024-03-05``, with or without a time) are read directly. Day/month/year
numbers (``05/03/2024``) are read day-first when some day exceeds 12, month-first when some
month position exceeds 12, and otherwise only with ``dayfirst=`` or ``date_format=``. Dates
written with a time-zone offset (``2024-03-05T09:00+01:00``) keep the local date and time
written in the cell, whatever the offset, so rows with different offsets (summer and winter
time) are read alike.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io.missing import MissingCodes
>>> p = parse_dates(pd.Series(["2024-03-05", "31/12/2024", "soon"], dtype="str"), MissingCodes())
>>> [str(d.date()) if d == d else None for d in p.values], p.bad.tolist()
(['2024-03-05', '2024-12-31', None], [False, False, True])
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alliancestats.errors import DataValidationError
from alliancestats.io.missing import MissingCodes
from alliancestats.io.numbers import is_text_dtype
from alliancestats.io.parsed import Parsed
from alliancestats.io.textops import (
    folded,
    is_in,
    last_bytes,
    text_array,
    to_bool_array,
    trimmed,
)

__all__ = ["parse_dates"]

_DMY = re.compile(r"^\s*(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})\s*$")
_LETTER = re.compile(r"[A-Za-z]")
_OFFSET = r"(?<=\d)\s*(?:Z|[+-]\d{2}:?\d{2})$"
_TIME = re.compile(r"\d{1,2}:\d{2}")
_NOT_A_DATE = "not a date that can be read (write dates like 2024-03-05)"


def _typed_dates(series: pd.Series) -> Parsed:
    vals = pd.to_datetime(series)
    if getattr(vals.dtype, "tz", None) is not None:
        vals = vals.dt.tz_localize(None)  # keep the wall-clock time written
    missing = np.asarray(vals.isna(), dtype=bool)
    return Parsed(vals.astype("datetime64[us]"), missing, np.zeros(len(series), dtype=bool))


def parse_dates(
    series: pd.Series,
    codes: MissingCodes,
    *,
    dayfirst: bool | None = None,
    date_format: str | None = None,
    column: Any = None,
) -> Parsed:
    """Convert a column to dates (``datetime64[us]``) by the rules of this module.

    Raises
    ------
    DataValidationError
        When day-first versus month-first cannot be decided from the data.
    """
    n = len(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return _typed_dates(series)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    missing = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    reasons: dict[int, str] = {}
    codes_used: dict[int, str] = {}
    if is_text_dtype(series.dtype):
        str_idx = np.arange(n)
        texts = text_array(series)
    else:
        cells = series.to_numpy(dtype=object)
        str_pos = []
        for i, v in enumerate(cells):
            if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
                missing[i] = True
            elif isinstance(v, pd.Timestamp | _dt.datetime | np.datetime64):
                ts = pd.Timestamp(v)
                out[i] = np.datetime64(ts.tz_localize(None) if ts.tzinfo else ts, "us")
            elif isinstance(v, _dt.date):
                out[i] = np.datetime64(v, "us")
            elif isinstance(v, str):
                str_pos.append(i)
            else:
                bad[i] = True
                reasons[i] = "not a date (a number or other value; enter dates like 2024-03-05)"
        str_idx = np.asarray(str_pos, dtype=np.int64)
        texts = text_array([cells[i] for i in str_pos])
    if len(str_idx):
        t = trimmed(texts)
        empty = to_bool_array(pc.fill_null(pc.equal(t, ""), True))
        coded = is_in(folded(t, codes.ascii_only), codes.texts) & ~empty
        missing[str_idx[empty | coded]] = True
        for i in np.flatnonzero(coded).tolist():
            codes_used[int(str_idx[i])] = texts[i].as_py().strip()
        todo = ~(empty | coded)
        parsed = _parse_texts(t, todo, dayfirst, date_format, column)
        out[str_idx[todo]] = parsed[todo]
        nat = todo & np.isnat(parsed)
        bad[str_idx[nat]] = True
        reasons.update(dict.fromkeys(str_idx[nat].tolist(), _NOT_A_DATE))
    return Parsed(pd.Series(out, index=series.index), missing, bad, reasons, {}, codes_used)


def _parse_texts(
    t: pa.Array, todo: np.ndarray, dayfirst: bool | None, date_format: str | None, column: Any
) -> np.ndarray:
    """Dates of the text cells marked ``todo`` (NaT where unreadable)."""
    out = np.full(len(t), np.datetime64("NaT"), dtype="datetime64[us]")
    if not todo.any():
        return out
    if date_format is None:  # plain ISO dates in compiled code first
        iso = pc.strptime(t, format="%Y-%m-%d", unit="us", error_is_null=True)
        # strptime rolls impossible days over (2024-02-30 -> 2024-03-01): keep only dates
        # whose day is the day written
        same = pc.day(iso).to_numpy(zero_copy_only=False) == _written_day(t)
        out = iso.to_numpy(zero_copy_only=False).astype("datetime64[us]")
        out[~todo | ~same] = np.datetime64("NaT")
    rest = np.flatnonzero(todo & np.isnat(out))
    if len(rest):
        txt = pd.Series(t.take(pa.array(rest)).to_pylist(), dtype=object)
        out[rest] = _parse_text_dates(txt, dayfirst, date_format, column)
    return out


def _written_day(t: pa.Array) -> np.ndarray:
    """The number in the last one or two characters of each cell (-1 if not digits)."""
    tail = last_bytes(t, 2).astype(np.int64) - ord("0")
    one, two = tail[:, 1], tail[:, 0]
    ok1 = (one >= 0) & (one <= 9)
    ok2 = (two >= 0) & (two <= 9)
    return np.where(ok1, np.where(ok2, 10 * two + one, one), -1)


def _parse_text_dates(
    txt: pd.Series, dayfirst: bool | None, date_format: str | None, column: Any
) -> np.ndarray:
    if date_format is not None:
        return pd.to_datetime(txt, format=date_format, errors="coerce").to_numpy(
            dtype="datetime64[us]"
        )
    has_time = txt.str.contains(_TIME)
    txt = txt.where(~has_time, txt.str.replace(_OFFSET, "", regex=True))
    parsed = np.array(
        pd.to_datetime(txt, format="ISO8601", errors="coerce").to_numpy(dtype="datetime64[us]")
    )
    dmy = txt.str.extract(_DMY)
    is_dmy = dmy[0].notna().to_numpy() & np.isnat(parsed)
    if is_dmy.any():
        parsed[is_dmy] = _day_month_year(txt, dmy, is_dmy, dayfirst, column)
    words = np.isnat(parsed) & txt.str.contains(_LETTER).to_numpy()
    if words.any():
        parsed[words] = pd.to_datetime(
            txt[words], format="mixed", dayfirst=bool(dayfirst), errors="coerce"
        ).to_numpy(dtype="datetime64[us]")
    return parsed


def _day_month_year(
    txt: pd.Series, dmy: pd.DataFrame, is_dmy: np.ndarray, dayfirst: bool | None, column: Any
) -> np.ndarray:
    a = dmy[0][is_dmy].astype(int)
    b = dmy[1][is_dmy].astype(int)
    first = dayfirst
    if first is None:
        day_first_evidence = bool((a > 12).any())
        month_first_evidence = bool((b > 12).any())
        if day_first_evidence and not month_first_evidence:
            first = True
        elif month_first_evidence and not day_first_evidence:
            first = False
        else:
            where = "" if column is None else f" in column {column!r}"
            example = txt[is_dmy].iloc[0]
            raise DataValidationError(
                f"dates like {example!r}{where} could be day/month/year or month/day/year; "
                "pass dayfirst=True (DD/MM/YYYY) or dayfirst=False (MM/DD/YYYY), or "
                "date_format= (e.g. '%d.%m.%Y')"
            )
    yy = dmy[2][is_dmy].astype(int)
    yy = yy.where(dmy[2][is_dmy].str.len() == 4, 2000 + yy)
    parts = pd.DataFrame(
        {
            "year": yy.to_numpy(),
            "month": (b if first else a).to_numpy(),
            "day": (a if first else b).to_numpy(),
        }
    )
    return pd.to_datetime(parts, errors="coerce").to_numpy(dtype="datetime64[us]")
