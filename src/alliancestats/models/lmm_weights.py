"""Prior weights of a linear mixed model (lme4's ``lmer(weights = )``), checked and aligned.

A prior weight ``w_i`` gives row ``i`` the residual variance ``sigma^2 / w_i`` (e.g. a session
score that is the mean of ``w_i`` items). Weights come as a column name or as one value per row
of the data; rows with a missing weight are dropped as lme4's model frame drops them, and
anything that is not a positive finite number is refused with the offending rows named.

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"w": [1.0, 2.0, None]})
>>> kept, w = lmm_prior_weights(frame, "w")
>>> w.tolist(), len(kept)
([1.0, 2.0], 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import numeric_column, problems_frame, raise_problems
from alliancestats.errors import DataValidationError, FormulaError

__all__ = ["lmm_prior_weights"]


def _weight_values(data: pd.DataFrame, weights: Any) -> pd.Series:
    """The weights as a float Series on the data's index (missing values kept as NaN)."""
    if isinstance(weights, str):
        if weights not in data.columns:
            close = [c for c in data.columns if str(c).lower() == weights.lower()]
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise FormulaError(f"lmm(): weights column {weights!r} is not in the data{hint}")
        return numeric_column(data, weights, "lmm")
    if isinstance(weights, pd.Series) and not weights.index.equals(data.index):
        raise DataValidationError(
            "lmm(): a weights Series must have the data's index (or pass its .to_numpy())"
        )
    arr = np.asarray(weights)
    if arr.ndim != 1:
        raise DataValidationError(f"lmm(): weights must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind not in "biuf":
        raise DataValidationError(
            f"lmm(): weights must be numbers, got values of type {arr.dtype}"
        )
    if arr.shape[0] != len(data):
        raise DataValidationError(
            f"lmm(): weights has {arr.shape[0]} values but the data have {len(data)} rows"
        )
    return pd.Series(arr.astype(float), index=data.index)


def lmm_prior_weights(data: pd.DataFrame, weights: Any) -> tuple[pd.DataFrame, pd.Series]:
    """Rows of ``data`` with a weight, and the weights (positive and finite).

    Returns the data without the rows whose weight is missing and the weights of the rows kept.

    Raises
    ------
    FormulaError
        ``weights`` names a column that is not in the data.
    DataValidationError
        Non-numeric, infinite, zero or negative weights (the rows are listed), or an array
        whose length differs from the number of rows.
    """
    w = _weight_values(data, weights)
    values = w.to_numpy()
    bad = np.isfinite(values) & (values <= 0) | np.isinf(values)
    if bad.any():
        raise_problems(
            problems_frame(w.index[bad], "weights", w[bad].tolist(),
                           "weight must be positive and finite"),
            "lmm(): prior weights must be positive and finite (a zero weight removes the row: "
            "drop it instead)",
        )
    keep = ~np.isnan(values)
    return data.loc[keep], w.loc[keep]
