"""Turn raw cells into typed columns, marking every cell that cannot be converted.

Each converter returns the converted values plus boolean masks (``missing``: the cell is
empty or a missing-value code; ``bad``: the cell holds something that is not a valid value)
so the validation step can report each bad cell with its original content. Nothing here
raises on bad data.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io.convert import MissingCodes, parse_numeric
>>> out = parse_numeric(pd.Series(["3,5", "NA", "abc"], dtype=object), ",", MissingCodes())
>>> out.values.tolist()[0], out.missing.tolist(), out.bad.tolist()
(3.5, [False, True, False], [False, False, True])
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import DataValidationError, ParameterError

__all__ = [
    "DEFAULT_MISSING_CODES",
    "MissingCodes",
    "Parsed",
    "parse_numeric",
    "parse_ids",
    "parse_dates",
    "parse_covariate",
]

#: Cell texts read as missing (compared after stripping, case-insensitively).
DEFAULT_MISSING_CODES = ("", "na", "n/a", "nan", "null", "none", ".", "#n/a", "missing")

# whole numbers without leading zeros, optionally written as floats ("101.0", as R/SPSS export)
_INT_TEXT = re.compile(r"^[+-]?(0|[1-9]\d{0,17})(\.0+)?$")
_DMY = re.compile(r"^\s*(\d{1,2})[./-](\d{1,2})[./-](\d{4}|\d{2})\s*$")
_LETTER = re.compile(r"[A-Za-z]")


@dataclass(frozen=True)
class MissingCodes:
    """Which cell contents count as missing.

    Parameters
    ----------
    texts : iterable of str
        Texts meaning "missing" (compared stripped and case-insensitively).
    numbers : iterable of float
        Numeric codes meaning "missing" (e.g. ``-99``, ``999``).

    Examples
    --------
    >>> MissingCodes.from_user([-99, "not done"]).numbers
    (-99.0,)
    """

    texts: frozenset[str] = field(default_factory=lambda: frozenset(DEFAULT_MISSING_CODES))
    numbers: tuple[float, ...] = ()

    @classmethod
    def from_user(cls, na_values: Iterable[Any] | None) -> MissingCodes:
        """Default codes plus the user's extra ``na_values`` (texts and numbers)."""
        texts = set(DEFAULT_MISSING_CODES)
        numbers: list[float] = []
        for v in na_values or ():
            if isinstance(v, bool):
                raise ParameterError("na_values cannot contain True/False")
            if isinstance(v, int | float | np.number):
                numbers.append(float(v))
                texts.add(_number_text(float(v)))
            else:
                t = str(v).strip().casefold()
                texts.add(t)
                try:
                    numbers.append(float(t))
                except ValueError:
                    pass
        return cls(frozenset(texts), tuple(numbers))


def _numeric_reason(text: str, decimal: str, converted: float) -> str:
    if np.isinf(converted):
        return "not a finite number"
    if decimal == "." and re.fullmatch(r"[+-]?\d*,\d+", text):
        return "not a number (written with a decimal comma: pass decimal=',')"
    if re.fullmatch(r"[+-]?\d+([.,]\d+)?\s*%", text):
        return "not a number (percent sign: enter the number without '%')"
    return "not a number"


def _number_text(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


@dataclass
class Parsed:
    """Result of converting one column: values and per-cell ``missing`` / ``bad`` masks."""

    values: pd.Series
    missing: np.ndarray
    bad: np.ndarray
    reasons: np.ndarray | None = None  # reason text per bad cell (object array), else None

    def reason_at(self, i: int, default: str) -> str:
        """Reason for the bad cell at position ``i``."""
        if self.reasons is not None and self.reasons[i]:
            return str(self.reasons[i])
        return default


def _is_text(s: pd.Series) -> bool:
    """Whether the column uses pandas' string dtype (fast vectorised text operations)."""
    return isinstance(s.dtype, pd.StringDtype)


def _text_missing(s: pd.Series, codes: MissingCodes) -> np.ndarray:
    """Missing mask for an object column: None/NaN/NaT or a missing-value text."""
    if _is_text(s):
        coded = s.str.strip().str.casefold().isin(list(codes.texts))
        return np.asarray(s.isna(), dtype=bool) | coded.fillna(False).to_numpy(dtype=bool)
    out = np.asarray(pd.isna(s), dtype=bool).copy()
    is_str = np.fromiter((isinstance(v, str) for v in s), dtype=bool, count=len(s))
    if is_str.any():
        folded = s[is_str].astype(str).str.strip().str.casefold()
        out[is_str] = folded.isin(codes.texts).to_numpy()
    return out


def parse_numeric(
    series: pd.Series, decimal: str, codes: MissingCodes, *, explain: bool = True
) -> Parsed:
    """Convert a column to float64; text uses the given decimal mark.

    ``explain=False`` skips writing a reason for each bad cell (faster when only the masks
    are needed). Booleans become 0/1. Infinite values, dates and text that is not a number are ``bad``.

    Examples
    --------
    >>> import pandas as pd
    >>> p = parse_numeric(pd.Series([1, True, -99]), ".", MissingCodes.from_user([-99]))
    >>> p.values.tolist()[:2], p.missing.tolist()
    ([1.0, 1.0], [False, False, True])
    """
    n = len(series)
    values = np.full(n, np.nan)
    reasons = np.full(n, None, dtype=object)
    if pd.api.types.is_bool_dtype(series.dtype) and not isinstance(
        series.dtype, pd.CategoricalDtype
    ):
        missing = np.asarray(pd.isna(series), dtype=bool)
        values[~missing] = series[~missing].astype(float).to_numpy()
        bad = np.zeros(n, dtype=bool)
    elif pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(
        series.dtype, pd.CategoricalDtype
    ):
        values = pd.to_numeric(series, errors="coerce").astype(float).to_numpy(copy=True)
        missing = np.isnan(values)
        bad = np.isinf(values)
        reasons[bad] = "not a finite number"
    elif _is_text(series):
        missing = _text_missing(series, codes)
        txt = series.str.strip()
        if decimal == ",":
            both = txt.str.contains(".", regex=False) & txt.str.contains(",", regex=False)
            txt = txt.str.replace(",", ".", regex=False).mask(both.fillna(False), "x")
        conv = pd.to_numeric(txt.mask(missing), errors="coerce").to_numpy(dtype=float, copy=True)
        bad = ~missing & ~np.isfinite(conv)
        if explain:
            orig = series.to_numpy(dtype=object)
            for i in np.flatnonzero(bad):
                reasons[i] = _numeric_reason(str(orig[i]).strip(), decimal, conv[i])
        values = conv
    else:
        s = series.astype(object)
        missing = _text_missing(s, codes)
        bad = np.zeros(n, dtype=bool)
        is_str = np.fromiter((isinstance(v, str) for v in s), dtype=bool, count=n)
        is_bool = np.fromiter((isinstance(v, bool | np.bool_) for v in s), dtype=bool, count=n)
        is_num = np.fromiter(
            (
                isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
                for v in s
            ),
            dtype=bool,
            count=n,
        )
        todo = is_str & ~missing
        if todo.any():
            txt = s[todo].astype(str).str.strip()
            if decimal == ",":
                has_both = txt.str.contains(".", regex=False) & txt.str.contains(",", regex=False)
                txt = txt.where(has_both, txt.str.replace(",", ".", regex=False))
                txt = txt.where(~has_both, "x")
            conv = pd.to_numeric(txt, errors="coerce").astype(float).to_numpy()
            values[todo] = conv
            nan_idx = np.flatnonzero(todo)[np.isnan(conv)]
            bad[nan_idx] = True
            orig = s.to_numpy()
            for i in nan_idx:
                reasons[i] = _numeric_reason(str(orig[i]).strip(), decimal, np.nan)
            inf_idx = np.flatnonzero(todo)[np.isinf(conv)]
            bad[inf_idx] = True
            reasons[inf_idx] = "not a finite number"
        num_idx = np.flatnonzero(is_num & ~missing)
        if len(num_idx):
            vals = np.array([float(v) for v in s.to_numpy()[num_idx]])
            values[num_idx] = vals
            inf = np.isinf(vals)
            bad[num_idx[inf]] = True
            reasons[num_idx[inf]] = "not a finite number"
        bool_idx = np.flatnonzero(is_bool & ~missing)
        values[bool_idx] = [float(v) for v in s.to_numpy()[bool_idx]]
        other = ~(is_str | is_num | is_bool | missing)
        bad |= other
        reasons[other] = "not a number (a date or other non-numeric value)"
    if codes.numbers:
        coded = np.isin(values, np.asarray(codes.numbers)) & ~bad
        missing = missing | coded
        values[coded] = np.nan
    values[bad | missing] = np.nan
    return Parsed(pd.Series(values, index=series.index, dtype="float64"), missing, bad, reasons)


def _id_text(v: Any) -> str | None:
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, bool | np.bool_):
        return str(v)
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        return str(int(v)) if float(v).is_integer() else repr(float(v))
    return str(v)


def parse_ids(series: pd.Series, codes: MissingCodes) -> Parsed:
    """Normalise identifiers so the same ID reads the same from every file format.

    IDs that are all plain whole numbers (no leading zeros, at most 18 digits) become
    ``Int64``; otherwise all IDs become text (``"007"`` stays ``"007"``). ``101``, ``101.0``,
    ``"101.0"`` and ``" 101 "`` are the same patient.

    Examples
    --------
    >>> import pandas as pd
    >>> parse_ids(pd.Series([101.0, 102.0]), MissingCodes()).values.tolist()
    [101, 102]
    >>> parse_ids(pd.Series(["007", "12"]), MissingCodes()).values.tolist()
    ['007', '12']
    """
    if _is_text(series):
        missing = _text_missing(series, codes)
        if codes.numbers:
            num = pd.to_numeric(series.str.strip(), errors="coerce").to_numpy(dtype=float)
            missing = missing | np.isin(num, np.asarray(codes.numbers))
        txt = series.str.strip().mask(missing)
        present = txt[~missing]
        if len(present) and bool(present.str.fullmatch(_INT_TEXT.pattern).all()):
            ids = pd.to_numeric(txt, errors="coerce").astype("Int64")
        else:
            ids = txt.astype("str")
        return Parsed(ids.set_axis(series.index), missing, np.zeros(len(series), dtype=bool))
    s = series.astype(object)
    missing = _text_missing(s, codes)
    n = len(s)
    if codes.numbers:
        for i, v in enumerate(s.to_numpy()):
            if (
                not missing[i]
                and isinstance(v, int | float | np.number)
                and float(v) in codes.numbers
            ):
                missing[i] = True
    texts = np.full(n, None, dtype=object)
    present = np.flatnonzero(~missing)
    vals = s.to_numpy()
    for i in present:
        texts[i] = _id_text(vals[i])
    bad = np.zeros(n, dtype=bool)
    ok_texts = [t for t in texts[present]]
    if ok_texts and all(_INT_TEXT.match(t) for t in ok_texts):
        out = pd.array([int(float(t)) if t is not None else pd.NA for t in texts], dtype="Int64")
        ids = pd.Series(out, index=series.index)
    else:
        ids = pd.Series(texts, index=series.index, dtype="str")
    return Parsed(ids, missing, bad)


def parse_dates(
    series: pd.Series,
    codes: MissingCodes,
    *,
    dayfirst: bool | None = None,
    date_format: str | None = None,
    column: Any = None,
) -> Parsed:
    """Convert a column to dates (``datetime64``); unparseable cells are ``bad``.

    Text is read as ISO 8601 (``2024-03-05``) when possible. Day/month/year numbers
    (``05/03/2024``) are read day-first when some day exceeds 12, month-first when some
    month position exceeds 12; when every such date is ambiguous, ``dayfirst`` must be given.

    Raises
    ------
    DataValidationError
        When day-first versus month-first cannot be decided from the data.

    Examples
    --------
    >>> import pandas as pd
    >>> p = parse_dates(pd.Series(["2024-03-05", "31/12/2024", "soon"]), MissingCodes())
    >>> [str(d.date()) if d == d else None for d in p.values], p.bad.tolist()
    (['2024-03-05', '2024-12-31', None], [False, False, True])
    """
    n = len(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        vals = (
            pd.to_datetime(series).dt.tz_localize(None)
            if getattr(series.dtype, "tz", None)
            else pd.to_datetime(series)
        )
        missing = np.asarray(vals.isna(), dtype=bool)
        out = vals.astype("datetime64[us]")
        return Parsed(out, missing, np.zeros(n, dtype=bool))
    s = series.astype(object)
    missing = _text_missing(s, codes)
    bad = np.zeros(n, dtype=bool)
    reasons = np.full(n, None, dtype=object)
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    vals = s.to_numpy()
    str_idx = []
    for i in np.flatnonzero(~missing):
        v = vals[i]
        if isinstance(v, pd.Timestamp | _dt.datetime | np.datetime64):
            out[i] = np.datetime64(pd.Timestamp(v).tz_localize(None), "us")
        elif isinstance(v, _dt.date):
            out[i] = np.datetime64(v, "us")
        elif isinstance(v, str):
            str_idx.append(i)
        else:
            bad[i] = True
            reasons[i] = "not a date (a number or other value; enter dates like 2024-03-05)"
    if str_idx:
        idx = np.asarray(str_idx)
        txt = pd.Series([vals[i].strip() for i in idx], dtype=object)
        if date_format is not None:
            parsed = pd.to_datetime(txt, format=date_format, errors="coerce")
        else:
            parsed = pd.to_datetime(txt, format="ISO8601", errors="coerce")
            dmy = txt.str.extract(_DMY)
            is_dmy = dmy[0].notna().to_numpy() & parsed.isna().to_numpy()
            if is_dmy.any():
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
                            f"dates like {example!r}{where} could be day/month/year or "
                            "month/day/year; pass dayfirst=True (DD/MM/YYYY) or dayfirst=False "
                            "(MM/DD/YYYY), or date_format= (e.g. '%d.%m.%Y')"
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
                built = pd.to_datetime(parts, errors="coerce")
                parsed = parsed.copy()
                parsed[np.flatnonzero(is_dmy)] = built.to_numpy()
            words = parsed.isna().to_numpy() & txt.str.contains(_LETTER).to_numpy()
            if words.any():
                parsed = parsed.copy()
                parsed[np.flatnonzero(words)] = pd.to_datetime(
                    txt[words], format="mixed", dayfirst=bool(dayfirst), errors="coerce"
                ).to_numpy()
        parsed_arr = parsed.to_numpy(dtype="datetime64[us]")
        out[idx] = parsed_arr
        nat = np.isnat(parsed_arr)
        bad[idx[nat]] = True
        reasons[idx[nat]] = "not a date that can be read (write dates like 2024-03-05)"
    return Parsed(pd.Series(out, index=series.index), missing, bad, reasons)


def parse_covariate(
    series: pd.Series, decimal: str, codes: MissingCodes, value_labels: dict | None = None
) -> pd.Series:
    """Convert a covariate: numbers stay numeric, text becomes a categorical.

    SPSS/Stata value labels turn coded numbers into a categorical of the labels (categories
    in code order); unlabelled codes keep their code as text. Existing categoricals pass.

    Examples
    --------
    >>> import pandas as pd
    >>> parse_covariate(pd.Series(["tele", "in-person", "NA"]), ".", MissingCodes()).cat.categories.tolist()
    ['in-person', 'tele']
    >>> parse_covariate(pd.Series([1.0, 2.0]), ".", MissingCodes(), {1: "control", 2: "PT"}).tolist()
    ['control', 'PT']
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.copy()
    if value_labels:
        num = parse_numeric(series, decimal, codes)
        labels = {float(k): str(v) for k, v in value_labels.items() if _is_number(k)}
        if labels and not num.bad.any():
            cats = [labels[k] for k in sorted(labels)]
            texts = [
                None if np.isnan(x) else labels.get(float(x), _number_text(float(x)))
                for x in num.values.to_numpy()
            ]
            extra = sorted({t for t in texts if t is not None and t not in cats})
            return pd.Series(pd.Categorical(texts, categories=cats + extra), index=series.index)
        if not labels:  # string-coded labels (Stata/SPSS string variables)
            texts = [None if pd.isna(v) else str(value_labels.get(v, v)) for v in series]
            cats = [str(v) for v in value_labels.values()]
            extra = sorted({t for t in texts if t is not None and t not in cats})
            return pd.Series(
                pd.Categorical(texts, categories=list(dict.fromkeys(cats + extra))),
                index=series.index,
            )
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.copy()
    num = parse_numeric(series, decimal, codes, explain=False)
    if not num.bad.any():
        return num.values
    if _is_text(series):
        txt = series.str.strip().mask(_text_missing(series, codes))
        cats = sorted(txt.dropna().unique().tolist())
        return pd.Series(
            pd.Categorical(txt.astype(object).where(txt.notna(), None), categories=cats),
            index=series.index,
        )
    s = series.astype(object)
    missing = _text_missing(s, codes)
    texts = [None if missing[i] else _id_text(v) for i, v in enumerate(s.to_numpy())]
    cats = sorted({t for t in texts if t is not None})
    return pd.Series(pd.Categorical(texts, categories=cats), index=series.index)


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | np.number) and not isinstance(v, bool)
