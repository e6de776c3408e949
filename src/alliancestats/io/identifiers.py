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
from collections import defaultdict
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alliancestats.io.missing import MissingCodes, number_text
from alliancestats.io.numbers import is_text_dtype
from alliancestats.io.parsed import Parsed
from alliancestats.io.textops import (
    as_text_series,
    first_bytes,
    folded,
    is_in,
    text_array,
    to_bool_array,
    trimmed,
    try_float,
    try_int,
)

__all__ = ["parse_ids", "id_text"]

_WHOLE = re.compile(r"[+-]?(\d+)(?:\.0*)?")
_INT64_MAX = np.iinfo(np.int64).max
_EXACT_FLOAT = 2**53
_DIGIT_START = np.zeros(256, dtype=bool)
_DIGIT_START[[ord(c) for c in "0123456789+-."]] = True


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


def _format_groups(texts: list[str]) -> dict[str, list[str]]:
    """Key -> the different spellings of that whole number among ``texts`` (2 or more)."""
    groups: dict[str, set[str]] = defaultdict(set)
    for t in texts:
        key = _whole_key(t)
        if key is not None:
            groups[key].add(t)
    return {k: sorted(v, key=lambda s: (len(s), s)) for k, v in groups.items() if len(v) > 1}


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


def _null_where(t: pa.Array, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), t)


def _missing_ids(t: pa.Array, codes: MissingCodes) -> tuple[np.ndarray, np.ndarray]:
    """Empty cells, and cells holding a missing-value code (text or number)."""
    empty = to_bool_array(pc.fill_null(pc.equal(t, ""), True))
    coded = is_in(folded(t, codes.ascii_only), codes.texts) & ~empty
    if codes.numbers:
        maybe = _DIGIT_START[first_bytes(t)] & ~empty & ~coded
        if maybe.any():
            nums, done = try_float(_null_where(t, ~maybe))
            coded |= done & np.isin(nums, np.asarray(codes.numbers))
    return empty, coded


def _parse_text_ids(
    arr: pa.Array, index: pd.Index, codes: MissingCodes, normalize: bool, imprecise: np.ndarray
) -> Parsed:
    t = trimmed(arr)
    empty, coded = _missing_ids(t, codes)
    missing = empty | coded
    code_texts: dict[int, str] = {}
    if coded.any():
        idx = np.flatnonzero(coded)
        code_texts = dict(zip(idx.tolist(), t.take(pa.array(idx)).to_pylist(), strict=True))
    bad = imprecise & ~missing
    kinds = dict.fromkeys(np.flatnonzero(bad).tolist(), "imprecise_id")
    reasons = dict.fromkeys(
        kinds,
        "ID stored as a floating-point number above 2**53, so digits may be lost and different "
        "patients merged; store IDs as text or whole numbers",
    )
    # plain integers ("12") versus other spellings of numbers ("012", "12.0", "+12")
    numeric = _DIGIT_START[first_bytes(t)] & ~missing
    ints = np.zeros(len(t), dtype=np.int64)
    plain = np.zeros(len(t), dtype=bool)
    if numeric.any():
        masked = _null_where(t, ~numeric)
        ints, done = try_int(masked)
        back = pc.cast(pa.array(ints), pa.string())
        plain = done & to_bool_array(pc.equal(back, masked))
    odd = numeric & ~plain
    if odd.any():
        spellings = pc.unique(t.filter(pa.array(odd))).to_pylist()
        keys = {s: k for s in spellings if (k := _whole_key(s)) is not None}
        if normalize and keys:
            t = _replace_values(t, {s: k for s, k in keys.items() if k != s})
            return _parse_text_ids(t, index, codes, False, imprecise)
        if keys:
            plain_keys = (
                set(pc.unique(t.filter(pa.array(plain))).to_pylist()) if plain.any() else set()
            )
            groups = _format_groups(list(keys) + [k for k in set(keys.values()) if k in plain_keys])
            if groups:
                _report_spellings(t, missing, groups, bad, kinds, reasons)
    present = ~missing
    if present.any() and plain[present].all():
        values = pd.Series(pd.array(np.where(present, ints, 0), dtype="Int64")).mask(missing)
    else:
        values = as_text_series(_null_where(t, missing))
    return Parsed(values.set_axis(index), missing, bad, reasons, kinds, code_texts)


def _report_spellings(
    t: pa.Array,
    missing: np.ndarray,
    groups: dict[str, list[str]],
    bad: np.ndarray,
    kinds: dict[int, str],
    reasons: dict[int, str],
) -> None:
    clash = {s: g for g in groups.values() for s in g}
    hit = is_in(t, list(clash)) & ~missing
    idx = np.flatnonzero(hit)
    for i, text in zip(idx.tolist(), t.take(pa.array(idx)).to_pylist(), strict=True):
        bad[i] = True
        kinds[i] = "id_format"
        reasons[i] = (
            f"IDs {', '.join(repr(s) for s in clash[text])} differ only in how the number is "
            "written, so it is not clear whether they are one patient; write them the same "
            "way, or pass normalize_ids=True to read whole-number IDs as numbers"
        )


def _replace_values(t: pa.Array, mapping: dict[str, str]) -> pa.Array:
    if not mapping:
        return t
    idx = pc.index_in(t, value_set=pa.array(list(mapping), type=pa.string()))
    new = pc.take(pa.array(list(mapping.values()), type=pa.string()), idx)
    return pc.if_else(pc.is_null(idx), t, new)
