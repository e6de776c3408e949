"""Turn raw cells into typed columns: covariates, binary responses and kept columns.

The converters for numbers (:mod:`.numbers`), identifiers (:mod:`.identifiers`) and dates
(:mod:`.dates`) live in their own modules and are re-exported here. Every converter returns
the converted values plus masks (``missing``: empty or a missing-value code; ``bad``: not a
valid value) so that each bad cell can be reported with its original content. Nothing here
raises on bad data.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io.convert import MissingCodes, parse_numeric
>>> out = parse_numeric(pd.Series(["3,5", "NA", "abc"], dtype=object), ",", MissingCodes())
>>> out.values.tolist()[0], out.missing.tolist(), out.bad.tolist()
(3.5, [False, True, False], [False, False, True])
>>> binary_response(pd.Series(["Y", "N", " Y", "NA"]), MissingCodes()).tolist()
['Y', 'N', 'Y', nan]
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from alliancestats._validation import MISSING_CODES
from alliancestats.io.dates import parse_dates
from alliancestats.io.identifiers import id_text, parse_ids
from alliancestats.io.missing import MissingCodes, number_text
from alliancestats.io.numbers import (
    NumberFormat,
    classify_number,
    is_text_dtype,
    mostly_numbers,
    parse_numeric,
)
from alliancestats.io.parsed import Parsed
from alliancestats.io.textops import (
    Dictionary,
    as_text_series,
    dictionary,
    dictionary_of,
    edge_space,
    first_bytes,
    null_where,
    second_bytes,
    text_array,
    trimmed,
)

__all__ = [
    "DEFAULT_MISSING_CODES",
    "MissingCodes",
    "Parsed",
    "binary_response",
    "count_codes",
    "keep_column",
    "parse_covariate",
    "parse_dates",
    "parse_ids",
    "parse_numeric",
    "text_cells",
]

#: The default missing-value texts (the shared list of :mod:`alliancestats._validation`).
DEFAULT_MISSING_CODES = MISSING_CODES


def _cell_dictionary(series: pd.Series) -> Dictionary:
    if is_text_dtype(series.dtype):
        return dictionary(text_array(series))
    return dictionary(text_array([id_text(v) for v in series.to_numpy(dtype=object)]))


def _encoded_dictionary(series: pd.Series) -> Dictionary:
    """:func:`dictionary` of a text column read dictionary-encoded (a categorical whose
    categories are the distinct cells as written, each used by some cell)."""
    cat = series.array
    return dictionary_of(np.asarray(cat.codes), text_array(list(cat.categories)))


def _missing_values(d: Dictionary, codes: MissingCodes) -> np.ndarray:
    """Per distinct value: empty or a missing-value code."""
    return np.array([v == "" or v.casefold() in codes.texts for v in d.values], dtype=bool)


def _count(d: Dictionary, flags: np.ndarray, seen: dict[str, int] | None) -> None:
    if seen is None or not flags.any():
        return
    counts = np.bincount(d.indices[d.indices >= 0], minlength=len(d.values))
    for k in np.flatnonzero(flags).tolist():
        if d.values[k] and counts[k]:
            seen[d.values[k]] = seen.get(d.values[k], 0) + int(counts[k])


def text_cells(
    series: pd.Series, codes: MissingCodes, seen: dict[str, int] | None = None
) -> tuple[pa.Array, np.ndarray]:
    """Trimmed text of every cell (numbers written out exactly) and the missing mask.

    ``seen``, when given, is updated with the number of cells holding each missing-value
    code (as written).
    """
    plain = _plain_text(series, codes)
    if plain is not None:
        return plain, np.zeros(len(plain), dtype=bool)
    d = _cell_dictionary(series)
    flags = _missing_values(d, codes)
    _count(d, flags, seen)
    return d.texts(), d.per_cell(flags)


def _plain_text(series: pd.Series, codes: MissingCodes) -> pa.Array | None:
    """The cells as they are, when no cell can be missing or need trimming (checked on the
    whole column at once): every cell ASCII, longer than any missing-value code and without
    surrounding white space. ``None`` when that does not hold (or the column is not text)."""
    if not is_text_dtype(series.dtype) or not len(series):
        return None
    arr = text_array(series)
    if arr.null_count or pc.min(pc.binary_length(arr)).as_py() <= max(map(len, codes.texts)):
        return None
    if not pc.all(pc.string_is_ascii(arr)).as_py() or edge_space(arr):
        return None
    return arr


def count_codes(parsed: Parsed, seen: dict[str, int]) -> None:
    """Add the missing-value codes recorded in ``parsed`` to ``seen`` (code -> cells)."""
    for code in parsed.codes.values():
        seen[code] = seen.get(code, 0) + 1


def _categorical(d: Dictionary, index: pd.Index, codes: MissingCodes, seen: dict | None) -> pd.Series:
    """Categorical of the stripped texts, categories sorted, missing cells NA."""
    flags = _missing_values(d, codes)
    _count(d, flags, seen)
    kept = [k for k in range(len(d.values)) if not flags[k]]
    cats = sorted(d.values[k] for k in kept)
    rank = {v: r for r, v in enumerate(cats)}
    code_of = np.full(len(d.values) + 1, -1, dtype=np.int64)
    for k in kept:
        code_of[k] = rank[d.values[k]]
    codes_per_cell = code_of[np.where(d.indices >= 0, d.indices, len(d.values))]
    return pd.Series(pd.Categorical.from_codes(codes_per_cell, categories=cats), index=index)


def _could_be_all_numbers(series: pd.Series, fmt: NumberFormat | str, codes: MissingCodes) -> bool:
    """Cheap test that rules out text columns with words in them before converting."""
    if not is_text_dtype(series.dtype):
        return True
    fmt = NumberFormat(fmt) if isinstance(fmt, str) else fmt
    return mostly_numbers(text_array(series), fmt, codes, share=1.0)


def _as_numbers(
    series: pd.Series, fmt: NumberFormat | str, codes: MissingCodes, seen: dict | None
) -> pd.Series | None:
    """The column as float64 when every cell is a number or missing, else ``None``."""
    if not _could_be_all_numbers(series, fmt, codes):
        return None
    num = parse_numeric(series, fmt, codes)
    if num.bad.any():
        return None
    if seen is not None:
        count_codes(num, seen)
    return num.values


def parse_covariate(
    series: pd.Series,
    fmt: NumberFormat | str,
    codes: MissingCodes,
    value_labels: dict | None = None,
    seen: dict[str, int] | None = None,
    encoded: bool = False,
) -> pd.Series:
    """Convert a covariate: numbers stay numeric, text becomes a categorical.

    SPSS/Stata value labels turn coded numbers into a categorical of the labels (categories
    in code order); unlabelled codes keep their code as text. Existing categoricals pass.
    ``encoded=True`` says that ``series`` is text read dictionary-encoded (see
    :class:`~alliancestats.io.readers.RawTable`): a categorical of the cells as written,
    converted like text, once per distinct value.

    Examples
    --------
    >>> import pandas as pd
    >>> parse_covariate(pd.Series(["tele", "in-person", "NA"]), ".", MissingCodes()).cat.categories.tolist()
    ['in-person', 'tele']
    >>> parse_covariate(pd.Series([1.0, 2.0]), ".", MissingCodes(), {1: "control", 2: "PT"}).tolist()
    ['control', 'PT']
    """
    if encoded:
        d = _encoded_dictionary(series)
        numbers = _numbers_by_value(d, series.index, fmt, codes, seen)
        return numbers if numbers is not None else _categorical(d, series.index, codes, seen)
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.copy()
    if value_labels:
        labelled = _labelled(series, fmt, codes, value_labels)
        if labelled is not None:
            return labelled
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.copy()
    numbers = _as_numbers(series, fmt, codes, seen)
    if numbers is not None:
        return numbers
    return _categorical(_cell_dictionary(series), series.index, codes, seen)


def _labelled(
    series: pd.Series, fmt: NumberFormat | str, codes: MissingCodes, value_labels: dict
) -> pd.Series | None:
    num = parse_numeric(series, fmt, codes)
    labels = {
        float(k): str(v)
        for k, v in value_labels.items()
        if isinstance(k, int | float | np.number) and not isinstance(k, bool)
    }
    if labels and not num.bad.any():
        cats = [labels[k] for k in sorted(labels)]
        texts = [
            None if np.isnan(x) else labels.get(float(x), number_text(float(x)))
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
    return None


def _is_bool_objects(series: pd.Series) -> bool:
    cells = series.to_numpy(dtype=object)
    present = [
        v for v in cells if not (v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)))
    ]
    return bool(present) and all(isinstance(v, bool | np.bool_) for v in present)


def binary_response(series: pd.Series, codes: MissingCodes) -> pd.Series | None:
    """The column unchanged when it is a two-valued text or boolean response, else ``None``.

    Booleans (``bool``, pandas ``boolean``, Excel TRUE/FALSE cells) stay booleans; a text
    column whose non-missing cells are at most two different texts without any digit
    (``"Y"/"N"``, ``"yes"/"no"``, ``"adhered"/"did not"``) stays text (surrounding spaces
    removed, missing codes NA); a categorical with such values keeps its categories and their
    order (the first level is the reference, as in R). Numbers coded 0/1 are numbers and are
    not handled here.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        used = pd.Series(series.dropna().unique()).astype(object)
        texts = [v for v in used if isinstance(v, str)]
        if 0 < len(used) <= 2 and len(texts) == len(used) and not _any_number(texts, codes):
            return series.copy()
        return None
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype("boolean")
    if pd.api.types.is_object_dtype(dtype) and _is_bool_objects(series):
        return series.astype("boolean")
    if not (is_text_dtype(dtype) or pd.api.types.is_object_dtype(dtype)):
        return None
    if pd.api.types.is_object_dtype(dtype) and any(
        not isinstance(v, str) and not pd.isna(v) for v in series.to_numpy(dtype=object)
    ):
        return None
    if is_text_dtype(dtype):
        head = pc.unique(text_array(series).slice(0, 2000)).to_pylist()
        if len(head) > 50 or any(ch.isdigit() for v in head if v for ch in v):
            return None  # numbers, or far more spellings than two values and missing codes
    t, missing = text_cells(series, codes)
    if missing.all():
        return None
    values = pc.unique(t.filter(pa.array(~missing))).to_pylist()
    if len(values) > 2 or _any_number(values, codes):
        return None
    masked = null_where(t, missing)
    return as_text_series(masked, series.index)


def _any_number(texts: list[str], codes: MissingCodes) -> bool:
    """Whether any text is, or might be, a number (it holds a digit, or reads as one)."""
    return any(
        any(ch.isdigit() for ch in t) or classify_number(t, NumberFormat(), codes)[1] == "ok"
        for t in texts
    )


def keep_column(
    series: pd.Series,
    fmt: NumberFormat | str,
    codes: MissingCodes,
    value_labels: dict | None = None,
    seen: dict[str, int] | None = None,
    by_value: bool | None = None,
    encoded: bool = False,
) -> pd.Series:
    """An undeclared column as kept by the loader, with as little change as possible.

    Numbers and dates keep their type; text cells that are all numbers become float64, unless
    that would change what is written: an integer with leading zeros (``007``, a postcode) or
    a whole number above 2**53 (digits would be lost) keeps the column as text. Booleans become
    ``boolean``, SPSS/Stata value labels become categoricals of the labels, anything else stays
    text as written (surrounding spaces removed, missing codes NA).

    A text column is looked at once per distinct value when its first cells repeat few
    values (``by_value=None``); ``True``/``False`` force either way, with the same result.
    ``encoded=True``: ``series`` is text read dictionary-encoded (as in
    :func:`parse_covariate`), always looked at once per distinct value.
    """
    if encoded:
        return _keep_by_value(_encoded_dictionary(series), series.index, fmt, codes, seen)
    if value_labels:
        labelled = _labelled(series, fmt, codes, value_labels)
        if labelled is not None:
            return labelled
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_datetime64_any_dtype(dtype):
        return series.copy()
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype("boolean")
    if pd.api.types.is_numeric_dtype(dtype):
        return parse_numeric(series, fmt, codes).values if codes.numbers else series.copy()
    if pd.api.types.is_object_dtype(dtype) and _is_bool_objects(series):
        return series.astype("boolean")
    if by_value is None:
        by_value = is_text_dtype(dtype) and _few_values(text_array(series))
    if by_value and is_text_dtype(dtype):
        return _keep_by_value(dictionary(text_array(series)), series.index, fmt, codes, seen)
    met: dict[str, int] = {}
    numbers = _as_numbers(series, fmt, codes, met)
    if numbers is not None and not _written_differently(series, numbers):
        if seen is not None:
            for code, n in met.items():
                seen[code] = seen.get(code, 0) + n
        return numbers
    t, missing = text_cells(series, codes, seen)
    return as_text_series(null_where(t, missing), series.index)


#: Cells looked at to guess whether a column repeats few values.
_PEEK = 4096


def _few_values(arr: pa.Array) -> bool:
    """Whether the first cells of a column repeat few distinct values (so that looking at
    each distinct value once is cheaper than converting every cell)."""
    head = arr.slice(0, _PEEK)
    return len(head) > 0 and pc.count_distinct(head).as_py() <= len(head) // 4


def _numbers_by_value(
    d: Dictionary, index: pd.Index, fmt: NumberFormat | str, codes: MissingCodes, seen: dict | None
) -> pd.Series | None:
    """:func:`_as_numbers` of an encoded text column, once per distinct (stripped) value."""
    uniques = as_text_series(d.value_array())
    if not _could_be_all_numbers(uniques, fmt, codes):
        return None
    num = parse_numeric(uniques, fmt, codes)
    if num.bad.any():
        return None
    _count_coded(d, num, seen)
    spread = np.append(num.values.to_numpy(), np.nan).take(d.indices)  # index -1: NaN
    return pd.Series(spread, index=index, dtype=np.float64, copy=False)


def _count_coded(d: Dictionary, num: Parsed, seen: dict | None) -> None:
    """Add the cells of the distinct values read as missing-value codes to ``seen``."""
    if seen is not None and num.codes:
        counts = np.bincount(d.indices[d.indices >= 0], minlength=len(d))
        for k, code in num.codes.items():
            seen[code] = seen.get(code, 0) + int(counts[k])


def _keep_by_value(
    d: Dictionary, index: pd.Index, fmt: NumberFormat | str, codes: MissingCodes, seen: dict | None
) -> pd.Series:
    """:func:`keep_column` for a text column, deciding once per distinct (stripped) value.

    Every rule looks at one cell's text alone, so classifying the distinct values and
    spreading the answer to the cells gives exactly the per-cell result.
    """
    uniques = as_text_series(d.value_array())
    num = parse_numeric(uniques, fmt, codes) if _could_be_all_numbers(uniques, fmt, codes) else None
    if num is not None and not num.bad.any() and not _written_differently(uniques, num.values):
        _count_coded(d, num, seen)
        spread = np.append(num.values.to_numpy(), np.nan).take(d.indices)  # index -1: NaN
        return pd.Series(spread, index=index, dtype=np.float64, copy=False)
    flags = _missing_values(d, codes)
    _count(d, flags, seen)
    return as_text_series(null_where(d.texts(), d.per_cell(flags)), index)


_DIGITS = np.zeros(256, dtype=bool)
_DIGITS[[ord(c) for c in "0123456789"]] = True


def _written_differently(series: pd.Series, numbers: pd.Series) -> bool:
    """Whether reading a text column as numbers would lose what is written in it."""
    v = numbers.to_numpy(dtype=float, na_value=np.nan)
    if (np.isfinite(v) & (np.abs(v) > 2.0**53)).any():
        return True
    if not is_text_dtype(series.dtype):
        return False
    arr = trimmed(text_array(series))
    first, second = first_bytes(arr), second_bytes(arr)
    return bool(((first == ord("0")) & _DIGITS[second]).any())
