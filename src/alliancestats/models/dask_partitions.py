"""What a Dask worker does with one partition of a linear mixed model's data.

Functions of :mod:`alliancestats.models.lmm_dask`'s two passes and of a Dask fit's lazy fitted
values, kept apart so that a worker imports only the model-matrix code (not the fitting
engine). Each takes one partition (a pandas DataFrame) and returns something small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import FormulaError, ModelSpecificationError
from alliancestats.models.design import Design
from alliancestats.models.formula_eval import evaluate_expression
from alliancestats.models.sufficient_stats import cell_gram_frame

__all__ = [
    "SAMPLE_PER_PARTITION",
    "RowModel",
    "complete_rows",
    "group_labels",
    "model_columns",
    "partition_cells",
    "partition_fitted",
    "partition_scan",
    "response_values",
]

SAMPLE_PER_PARTITION = 20


@dataclass(frozen=True)
class RowModel:
    """What a partition needs to turn its rows into model columns (sent to the workers)."""

    used: list[str]
    response: str
    template: Design
    label_vars: list[tuple[str, ...]]
    centre: float
    placeholder_groups: tuple[str, ...] = ()


def response_values(frame: pd.DataFrame, response: str) -> np.ndarray:
    """The response (a numeric column or an expression such as ``log(pain + 1)``) per row."""
    if response in frame.columns:
        col = frame[response]
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            raise FormulaError(
                f"response {response!r} must be numeric, but its dtype is {col.dtype}; "
                "convert it (e.g. with dd.to_numeric) before fitting"
            )
        return col.to_numpy(dtype=float)
    with np.errstate(all="ignore"):  # non-finite values are reported by the caller
        return evaluate_expression(response, frame, where="response")


def complete_rows(frame: pd.DataFrame, used: list[str]) -> pd.DataFrame:
    """The ``used`` columns of the rows without a missing value in any of them."""
    sub = frame.loc[:, used]
    return sub.loc[~sub.isna().any(axis=1).to_numpy()]


def partition_scan(frame: pd.DataFrame, used: list[str], response: str,
                   text_cols: list[str]) -> dict[str, Any]:
    """Pass 1 on one partition: counts, levels of text predictors, response sum, a sample."""
    sub = complete_rows(frame, used)
    y = response_values(sub, response)
    return {
        "rows": len(frame),
        "complete": len(sub),
        "missing_cols": [c for c in used if frame[c].isna().any()],
        "levels": {c: set(sub[c].astype(str).unique()) for c in text_cols},
        "ysum": float(y.sum()),
        "yfinite": bool(np.isfinite(y).all()),
        "sample": sub.head(SAMPLE_PER_PARTITION),
    }


def group_labels(frame: pd.DataFrame, vars_: tuple[str, ...]) -> np.ndarray:
    """Group of each row: the column's values, or ``"a:b"`` text for an interaction of
    grouping factors (as the in-memory design labels them)."""
    if len(vars_) == 1:
        return frame[vars_[0]].to_numpy()
    labels = frame[vars_[0]].astype(str)
    for v in vars_[1:]:
        labels = labels + ":" + frame[v].astype(str)
    return labels.to_numpy()


def model_columns(frame: pd.DataFrame, model: RowModel) -> tuple[pd.DataFrame, np.ndarray,
                                                                 list[np.ndarray], np.ndarray]:
    """Complete rows of a partition, their fixed-effects matrix (all columns), random-effect
    columns per term, and response minus offsets."""
    sub = complete_rows(frame, model.used)
    t = model.template
    X = t.fixed_matrix(sub)
    if not np.isfinite(X).all():
        raise ModelSpecificationError(
            "the fixed-effects matrix has non-finite values (NaN/Inf), e.g. log of a zero; "
            "transform or filter the data first"
        )
    y = response_values(sub, model.response)
    if not np.isfinite(y).all():
        raise ModelSpecificationError(f"response {model.response!r} has infinite values")
    if t.offset_specs:
        y = y - t.offset_vector(sub)
    # the template's group codes are not needed (cells are keyed by label): grouping columns
    # that the template replaced by 0/1 get a template level, which keeps the lookup cheap
    plain = sub.assign(**dict.fromkeys(model.placeholder_groups, 0))
    Z = [np.ones((len(sub), 1)) if b.spec is None else t.random_matrix(k, plain)[0]
         for k, b in enumerate(t.random)]
    return sub, X, Z, y


def partition_cells(frame: pd.DataFrame, model: RowModel) -> pd.DataFrame:
    """Pass 2 on one partition: cross-products of ``[Z_1 ... Z_K, X, y - centre]`` per cell."""
    sub, X, Z, y = model_columns(frame, model)
    M = np.column_stack([*Z, X, y - model.centre])
    keys = {f"t{k}": group_labels(sub, v) for k, v in enumerate(model.label_vars)}
    return cell_gram_frame(M, keys)


def partition_fitted(frame: pd.DataFrame, model: RowModel, kept: list[int], beta: np.ndarray,
                     modes: list[np.ndarray], levels: list[pd.Index],
                     what: str) -> pd.Series:
    """Fitted values (``X beta + offset + Z b``) or residuals of a partition's complete rows."""
    sub, X, Z, y = model_columns(frame, model)
    t = model.template
    eta = X[:, kept] @ beta
    for z, b, lv, vars_ in zip(Z, modes, levels, model.label_vars, strict=True):
        codes = lv.get_indexer(pd.Index(group_labels(sub, vars_)).astype(str))
        eta = eta + np.einsum("nq,nq->n", z, b[codes])
    if what == "fitted":
        if t.offset_specs:
            eta = eta + t.offset_vector(sub)
        return pd.Series(eta, index=sub.index, name="fitted")
    return pd.Series(y - eta, index=sub.index, name="residuals")
