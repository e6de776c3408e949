"""Reading study-level numeric inputs (columns or arrays) for the meta-analysis functions.

Shared by :func:`alliancestats.meta.effect_sizes` and :func:`alliancestats.meta.meta_analysis`
so both treat strings, nullable dtypes and malformed values the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import MetaAnalysisError

__all__ = ["numeric_input"]


def _to_float(values: Any, what: str, labels: Any = None) -> np.ndarray:
    """Convert to a float array; missing stays NaN, a non-numeric entry is an error."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        return values.astype(float)
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    if series.dtype.kind in "biuf":
        return series.to_numpy(dtype=float)
    if series.dtype.kind in "mM":  # to_numeric would turn dates into nanosecond counts
        raise MetaAnalysisError(f"{what} holds dates or durations ({series.dtype}), not numbers.")
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna().to_numpy() & series.notna().to_numpy()
    if bad.any():
        where = np.flatnonzero(bad)
        names = series.index if labels is None else pd.Index(labels)
        shown = ", ".join(f"{names[i]!s}: {series.iloc[i]!r}" for i in where[:5])
        raise MetaAnalysisError(
            f"{what} has {bad.sum()} non-numeric value(s) ({shown}"
            f"{' ...' if bad.sum() > 5 else ''}); fix or blank them."
        )
    return converted.to_numpy(dtype=float, na_value=np.nan)


def numeric_input(
    data: pd.DataFrame | None, value: Any, what: str, k: int | None = None
) -> np.ndarray | None:
    """Return ``value`` (a column name of ``data``, an array or a scalar) as a 1-D float array.

    Parameters
    ----------
    data : pandas.DataFrame or None
        Study table in which a string ``value`` is looked up.
    value : str, array-like, scalar or None
        Column name or values; ``None`` passes through.
    what : str
        Argument name, used in error messages.
    k : int, optional
        Number of studies: a scalar is broadcast to this length.

    Returns
    -------
    numpy.ndarray or None
        Float values with NaN for missing entries (``None``, ``pd.NA``, blank).

    Raises
    ------
    MetaAnalysisError
        Unknown column, a non-numeric entry (e.g. ``"x"``), or a value with more than one
        dimension.

    Examples
    --------
    >>> import pandas as pd
    >>> numeric_input(pd.DataFrame({"r": ["0.2", None]}), "r", "r")
    array([0.2, nan])
    >>> numeric_input(None, 0.5, "rxx", k=2)
    array([0.5, 0.5])
    """
    if value is None:
        return None
    if isinstance(value, str):
        if data is None:
            raise MetaAnalysisError(f"{what}={value!r} names a column but no data was given.")
        if value not in data.columns:
            raise MetaAnalysisError(
                f"Column {value!r} (for {what}) not found; available: "
                f"{', '.join(map(str, data.columns))}."
            )
        return _to_float(data[value], what)
    if isinstance(value, pd.Series):
        return _to_float(value.reset_index(drop=True), what)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        arr = np.asarray(value, dtype=object)
    if arr.ndim == 0:
        arr = np.full(1 if k is None else k, arr.item(), dtype=arr.dtype)
    else:
        arr = np.squeeze(arr) if arr.ndim > 1 else arr
        if arr.ndim == 0:
            arr = arr.reshape(1)
        if arr.ndim != 1:
            raise MetaAnalysisError(
                f"{what} must be one-dimensional (one value per study); got shape {arr.shape}."
            )
    return _to_float(arr, what)
