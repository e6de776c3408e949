"""Patient and therapist identifiers, read exactly as written.

One rule, the same for every row whatever the other rows hold:

* An ID is the cell's text without surrounding spaces. Numbers stored as numbers (Excel,
  SPSS, Stata, Parquet, DataFrame columns) are written out in full: ``101`` and ``101.0``
  stored as numbers are ID ``101``; integers of any size stay exact.
* IDs that differ only in how a whole number is written (``1``, ``01``, ``1.0``, ``+1``) are
  reported (``id_format``): the loader cannot know whether they are one patient. Pass
  ``normalize_ids=True`` to read every whole-number ID as that number (``007`` becomes ``7``).
* A number stored in floating point above 2**53 may already have lost digits (two patients can
  have merged before the loader sees them): such IDs are reported (``imprecise_id``).
* When every ID is a plain integer (no leading zeros, sign only for negatives) and fits in 64
  bits, the column is ``Int64``; otherwise it is text. This changes how IDs are stored, never
  which rows belong to the same patient.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io.missing import MissingCodes
>>> parse_ids(pd.Series(["101", " 102 "], dtype="str"), MissingCodes()).values.tolist()
[101, 102]
>>> p = parse_ids(pd.Series(["1", "001", "P3"], dtype="str"), MissingCodes())
>>> p.values.tolist(), p.bad.tolist()
(['1', '001', 'P3'], [True, True, False])
>>> parse_ids(pd.Series(["1", "001"], dtype="str"), MissingCodes(), normalize=True).values.tolist()
[1, 1]
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alliancestats.io.missing import MissingCodes, number_text
from alliancestats.io.numbers import is_text_dtype
from alliancestats.io.parsed import Parsed
from alliancestats.io.textops import (
    Dictionary,
    as_text_series,
    dictionary,
    first_bytes,
    is_in,
    lengths,
    null_where,
    text_array,
    to_bool_array,
    try_float,
    try_int,
)

__all__ = ["parse_ids", "id_text"]

_WHOLE = re.compile(r"[+-]?(\d+)(?:\.0*)?")
_INT64_MAX = np.iinfo(np.int64).max
_EXACT_FLOAT = 2**53


def id_text(v: Any) -> str | None:
    """The text of one ID cell: strings stripped, numbers written out exactly.

    Examples
    --------
    >>> id_text(101.0), id_text(10**20), id_text(" P7 "), id_text(2.5)
    ('101', '100000000000000000000', 'P7', '2.5')
    """
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, str):
        return v.strip()
    if isinstance(v, bool | np.bool_):
        return str(bool(v))
    if isinstance(v, int | np.integer):
        return str(int(v))
    if isinstance(v, float | np.floating):
        if np.isnan(v):
            return None
        return number_text(float(v)) if np.isfinite(v) else repr(float(v))
    return str(v)


def _whole_key(text: str) -> str | None:
    """``"7"`` for every way of writing the whole number seven, else ``None``."""
    m = _WHOLE.fullmatch(text)
    if m is None:
        return None
    digits = m[1].lstrip("0") or "0"
    return "-" + digits if text.startswith("-") and digits != "0" else digits


def _numeric_cells(series: pd.Series) -> tuple[list[str | None], np.ndarray]:
    """Texts of a numeric column, and the mask of floats too large to be exact."""
    if pd.api.types.is_float_dtype(series.dtype):
        vals = series.to_numpy(dtype=float, na_value=np.nan)
        imprecise = np.isfinite(vals) & (np.abs(vals) > _EXACT_FLOAT) & (vals == np.round(vals))
        return [
            None if np.isnan(v) else number_text(v) if np.isfinite(v) else repr(v)
            for v in vals.tolist()
        ], imprecise
    return [id_text(v) for v in series.tolist()], np.zeros(len(series), dtype=bool)


def parse_ids(series: pd.Series, codes: MissingCodes, *, normalize: bool = False) -> Parsed:
    """Read an identifier column by the rule of this module.

    ``missing`` marks empty cells and missing-value codes (``codes`` records which code);
    ``bad`` marks IDs differing only in number formatting (kind ``id_format``, unless
    ``normalize``) and floating-point IDs above 2**53 (kind ``imprecise_id``).
    """
    n = len(series)
    imprecise = np.zeros(n, dtype=bool)
    dtype = series.dtype
    if (
        pd.api.types.is_integer_dtype(dtype)
        and not isinstance(dtype, pd.CategoricalDtype)
        and not (pd.api.types.is_unsigned_integer_dtype(dtype) and series.max() > _INT64_MAX)
    ):
        ints = series.astype("Int64")
        missing = np.asarray(ints.isna(), dtype=bool)
        whole_codes = [int(c) for c in codes.numbers if float(c).is_integer()]
        if whole_codes:
            missing |= np.asarray(ints.isin(whole_codes), dtype=bool)
            ints = ints.mask(missing)
        return Parsed(ints.set_axis(series.index), missing, np.zeros(n, dtype=bool))
    if is_text_dtype(dtype):
        arr = text_array(series)
    elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        texts, imprecise = _numeric_cells(series)
        arr = text_array(texts)
    else:
        arr = text_array([id_text(v) for v in series.to_numpy(dtype=object)])
    return _parse_text_ids(arr, series.index, codes, normalize, imprecise)


_NUMBER_START = np.zeros(256, dtype=bool)
_NUMBER_START[[ord(c) for c in "0123456789+-."]] = True
_IMPRECISE = (
    "ID stored as a floating-point number above 2**53, so digits may be lost and different "
    "patients merged; store IDs as text or whole numbers"
)


def _value_kinds(d: Dictionary, codes: MissingCodes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per distinct value: missing (empty or a code), plain 64-bit integer, and starting
    like a number (vectorised)."""
    values = d.value_array()
    missing = is_in(pc.utf8_lower(values), codes.texts) | (lengths(values) == 0)
    numberish = _NUMBER_START[first_bytes(values)] & ~missing
    plain = np.zeros(len(values), dtype=bool)
    if numberish.any():
        ints, done = try_int(null_where(values, ~numberish))
        back = pc.cast(pa.array(ints), pa.large_string())
        plain = done & to_bool_array(pc.equal(back, values))
        if codes.numbers:
            nums, got = try_float(null_where(values, ~numberish))
            coded = got & np.isin(nums, np.asarray(codes.numbers))
            missing |= coded
            plain &= ~coded
    return missing, plain, numberish & ~missing


def _spelling_problems(values: list[str], odd: np.ndarray, plain: np.ndarray) -> dict[int, str]:
    """Distinct values that are another spelling of a whole number present: value -> reason.

    ``odd`` lists the values that start like a number but are not plain integers.
    """
    if not len(odd):
        return {}
    odd_keys = {k: key for k in odd.tolist() if (key := _whole_key(values[k]))}
    wanted = set(odd_keys.values())
    keys = dict(odd_keys)
    keys.update({k: values[k] for k in np.flatnonzero(plain).tolist() if values[k] in wanted})
    groups: dict[str, list[int]] = {}
    for k, key in keys.items():
        groups.setdefault(key, []).append(k)
    out = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        shown = ", ".join(
            repr(values[k]) for k in sorted(members, key=lambda k: (len(values[k]), values[k]))
        )
        for k in members:
            out[k] = (
                f"IDs {shown} differ only in how the number is written, so it is not clear "
                "whether they are one patient; write them the same way, or pass "
                "normalize_ids=True to read whole-number IDs as numbers"
            )
    return out


def _parse_text_ids(
    arr: pa.Array, index: pd.Index, codes: MissingCodes, normalize: bool, imprecise: np.ndarray
) -> Parsed:
    d = dictionary(arr)
    if normalize:
        d = Dictionary(d.indices, [_whole_key(v) or v for v in d.values])
        d = dictionary(d.texts())
    flags, plain, numberish = _value_kinds(d, codes)
    missing = d.per_cell(flags)
    null = d.indices < 0
    present_idx = np.where(null, 0, d.indices) if null.any() else d.indices
    code_texts: dict[int, str] = {}
    coded_values = [k for k in np.flatnonzero(flags) if d.values[k]]
    if coded_values:
        idx = np.flatnonzero(np.isin(d.indices, coded_values))
        code_texts = {int(i): d.values[d.indices[i]] for i in idx}
    bad = imprecise & ~missing
    kinds = dict.fromkeys(np.flatnonzero(bad).tolist(), "imprecise_id")
    reasons = dict.fromkeys(kinds, _IMPRECISE)
    if not normalize:
        odd = np.flatnonzero(numberish & ~plain)
        for k, reason in _spelling_problems(d.values if len(odd) else [], odd, plain).items():
            for i in np.flatnonzero(d.indices == k).tolist():
                bad[i] = True
                kinds[i], reasons[i] = "id_format", reason
    used = np.flatnonzero(~flags)
    if len(used) and plain[used].all():
        ints, _ = try_int(null_where(d.value_array(), ~plain))
        values = pd.Series(pd.array(ints[present_idx], dtype="Int64")).mask(missing)
        rank = np.empty(len(ints), dtype=np.int64)
        rank[np.argsort(np.where(flags, np.iinfo(np.int64).max, ints), kind="stable")] = np.arange(
            len(ints)
        )
    else:
        values = as_text_series(null_where(d.texts(), missing))
        rank = d.ranks()
    parsed = Parsed(values.set_axis(index), missing, bad, reasons, kinds, code_texts)
    parsed.order = None
    if len(rank):  # the narrowest integers that hold the codes (one per cell, kept to the end)
        rank = rank.astype(np.int32 if len(rank) < 2**31 - 1 else np.int64, copy=False)
        parsed.order = rank[present_idx]
        parsed.order[missing] = len(rank)
    return parsed
