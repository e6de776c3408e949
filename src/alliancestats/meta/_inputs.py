"""Reading study-level inputs for the meta-analysis functions (private module).

* :func:`numeric_input` -- one column or array as floats, under the library's one rule for
  text cells (missing-value codes become missing, other text is an error: the loaders' rule,
  :func:`alliancestats._validation.numeric_column`);
* :func:`moderator_matrix` -- the fixed-effects design from ``mods`` (formula, columns or
  array); the formula itself is evaluated in :func:`evaluate_mods_formula`, the one place that
  runs a formula;
* :func:`study_labels`, :func:`sampling_inputs` -- labels and effect sizes/variances of the
  study table prepared by :func:`alliancestats.meta.meta_analysis`.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import numeric_column
from alliancestats.errors import FormulaError, MetaAnalysisError

__all__ = [
    "evaluate_mods_formula",
    "moderator_matrix",
    "numeric_input",
    "sampling_inputs",
    "study_labels",
]


def _as_float(series: pd.Series, what: str, function: str) -> np.ndarray:
    frame = series.rename(what).to_frame()
    values = numeric_column(frame, what, function, allow_infinite=True)
    return values.to_numpy(dtype=float, na_value=np.nan)


def numeric_input(
    data: pd.DataFrame | None,
    value: Any,
    what: str,
    k: int | None = None,
    function: str = "meta_analysis",
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
    function : str
        Public function name for messages.

    Returns
    -------
    numpy.ndarray or None
        Float values with NaN for missing entries (``None``, ``pd.NA``, blank, ``"NA"`` and
        the other missing-value codes of :data:`alliancestats._validation.MISSING_CODES`).

    Raises
    ------
    MetaAnalysisError
        Unknown column or a value with more than one dimension.
    DataValidationError
        A text entry that is neither a number nor a missing-value code (e.g. ``"x"``); its
        ``.problems`` lists the rows.

    Examples
    --------
    >>> import pandas as pd
    >>> numeric_input(pd.DataFrame({"r": ["0.2", None, "NA"]}), "r", "r")
    array([0.2, nan, nan])
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
        return _as_float(data[value], what, function)
    if isinstance(value, pd.Series):
        return _as_float(value.reset_index(drop=True), what, function)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biufmM":
        arr = np.asarray(value, dtype=object)
    if arr.ndim == 0:
        arr = np.full(1 if k is None else k, arr.item(), dtype=arr.dtype)
    elif arr.ndim > 1:
        arr = np.squeeze(arr)
        arr = arr.reshape(1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise MetaAnalysisError(
                f"{what} must be one-dimensional (one value per study); got shape {arr.shape}."
            )
    if arr.dtype.kind in "biuf":
        return arr.astype(float)
    return _as_float(pd.Series(arr), what, function)


# --------------------------------------------------------------------------------------------
# moderators
# --------------------------------------------------------------------------------------------
def evaluate_mods_formula(formula: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Evaluate a one-sided moderator formula on ``frame`` (rows with missing values dropped).

    This is the only place in :mod:`alliancestats.meta` that evaluates a formula.

    Examples
    --------
    >>> import pandas as pd
    >>> evaluate_mods_formula("~ x", pd.DataFrame({"x": [1.0, 2.0]})).columns.tolist()
    ['Intercept', 'x']
    """
    from alliancestats.models.formula_eval import safe_model_matrix

    try:
        return safe_model_matrix(formula, frame, na_action="drop", where="moderators").frame
    except FormulaError:
        raise
    except Exception as exc:  # formulaic raises many exception types
        raise FormulaError(f"Cannot build moderators from {formula!r}: {exc}") from exc


def _formula_design(mods: Any, frame: pd.DataFrame) -> tuple[np.ndarray, list[str], np.ndarray]:
    if isinstance(mods, str):
        formula = mods.strip()
        if not formula.startswith("~"):
            formula = "~ " + formula
    else:
        missing = [c for c in mods if c not in frame.columns]
        if missing:
            raise MetaAnalysisError(f"Moderator column(s) not found: {', '.join(missing)}.")
        formula = "~ " + " + ".join(f"`{c}`" if not c.isidentifier() else c for c in mods)
    flat = frame.reset_index(drop=True)
    for col in flat.columns:
        # formulaic passes pandas' nullable string columns through as raw text instead of
        # coding them as categories; plain objects are coded correctly
        if isinstance(flat[col].dtype, pd.StringDtype | pd.ArrowDtype | pd.BooleanDtype):
            flat[col] = flat[col].astype(object)
    # rows with a missing moderator (numeric or categorical) are dropped by the formula
    # evaluation; they are re-inserted as NaN rows so the caller can report and remove them
    mm = evaluate_mods_formula(formula, flat)
    names = ["(Intercept)" if c == "Intercept" else str(c) for c in mm.columns]
    if names == ["(Intercept)"] and not re.fullmatch(r"~\s*1\s*", formula):
        raise MetaAnalysisError(
            f"The moderators in {formula!r} add no column to the model (a categorical "
            "moderator with a single level, or no terms); drop mods= or check the data."
        )
    X = np.asarray(mm.reindex(flat.index), dtype=float)
    return X, names, ~np.isnan(X).any(axis=1)


def moderator_matrix(
    mods: Any, frame: pd.DataFrame, intercept: bool = True
) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Build the design from a formula string, column list or array.

    A formula decides about its intercept itself (``"~ x - 1"`` or ``"~ 0 + x"`` drops it);
    for column lists and arrays an intercept is added unless ``intercept=False``. Returns
    the matrix, the column names and a boolean mask of rows with complete moderators.

    Examples
    --------
    >>> import pandas as pd
    >>> X, names, ok = moderator_matrix("~ g - 1", pd.DataFrame({"g": ["a", "b", "a"]}))
    >>> names
    ['g[a]', 'g[b]']
    """
    k = len(frame)
    if mods is None:
        if not intercept:
            raise MetaAnalysisError("intercept=False needs moderators (mods=).")
        return np.ones((k, 1)), ["(Intercept)"], np.ones(k, dtype=bool)
    is_columns = isinstance(mods, list | tuple) and len(mods) and isinstance(mods[0], str)
    if isinstance(mods, str) or is_columns:
        X, names, ok = _formula_design(mods, frame)
        if is_columns and not intercept:
            X, names = X[:, 1:], names[1:]
        return X, names, ok
    try:
        arr = np.asarray(mods, dtype=float)
    except (TypeError, ValueError):
        raise MetaAnalysisError(
            "An array of moderators must be numeric; for a categorical moderator put it in "
            "data and use a formula such as mods='~ group'."
        ) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] != k:
        raise MetaAnalysisError(f"mods has {arr.shape[0]} rows but there are {k} studies.")
    names = [f"mod{j + 1}" for j in range(arr.shape[1])]
    if intercept:
        arr, names = np.column_stack([np.ones(k), arr]), ["(Intercept)"] + names
    return arr, names, ~np.isnan(arr).any(axis=1)


# --------------------------------------------------------------------------------------------
# effect sizes, variances and labels of the study table
# --------------------------------------------------------------------------------------------
def sampling_inputs(
    frame: pd.DataFrame | None, yi: Any, vi: Any, sei: Any, need_vi: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``yi`` and ``vi`` (from ``vi`` or ``sei``), defaulting to the columns ``yi``/``vi``.

    With ``need_vi=False`` (a full ``V`` matrix is given) missing variances are NaN.

    Examples
    --------
    >>> y, v = sampling_inputs(None, [0.1, 0.2], None, [0.1, 0.2])
    >>> v.round(4).tolist()
    [0.01, 0.04]
    """
    if yi is None and frame is not None and "yi" in frame.columns:
        yi = "yi"
        if vi is None and sei is None and "vi" in frame.columns:
            vi = "vi"
    yi_arr = numeric_input(frame, yi, "yi")
    vi_arr = numeric_input(frame, vi, "vi")
    se_arr = numeric_input(frame, sei, "sei")
    if se_arr is not None and np.any(se_arr[~np.isnan(se_arr)] < 0):
        raise MetaAnalysisError(
            "Standard errors (sei) must be positive; "
            f"{int(np.sum(se_arr < 0))} negative value(s) given."
        )
    if yi_arr is None:
        raise MetaAnalysisError("Give yi with vi (or sei), or r with n.")
    if vi_arr is None:
        if se_arr is None and not need_vi:
            return yi_arr, np.full(len(yi_arr), np.nan)
        if se_arr is None:
            raise MetaAnalysisError("Give the sampling variances vi (or standard errors sei).")
        vi_arr = se_arr**2
    return yi_arr, vi_arr


def study_labels(frame: pd.DataFrame, slab: Any) -> pd.Index:
    """Study labels from ``slab`` (a column or values), the frame's index, or "Study i".

    Examples
    --------
    >>> import pandas as pd
    >>> list(study_labels(pd.DataFrame({"a": [1, 2]}), None))
    ['Study 1', 'Study 2']
    """
    k = len(frame)
    if slab is None:
        if isinstance(frame.index, pd.RangeIndex):
            return pd.Index([f"Study {i + 1}" for i in range(k)])
        return pd.Index(frame.index.astype(str))
    if isinstance(slab, str):
        if slab not in frame.columns:
            raise MetaAnalysisError(
                f"slab={slab!r} is not a column of data; give a column name or one label per study."
            )
        return pd.Index(frame[slab].astype(str))
    labels = pd.Index([str(s) for s in slab])
    if len(labels) != k:
        raise MetaAnalysisError("slab must have one label per study.")
    return labels
