"""The linear predictor of a fitted mixed model for new data (both engines).

``eta = X beta + offset (+ Z b)``: the fixed-effects matrix and the formula's
``offset(...)`` terms are rebuilt for ``newdata`` with the fit's factor levels and
contrasts (:class:`~alliancestats.models.design.Design`), an offset passed to ``glmm`` as a
column name is read from ``newdata``, and the conditional modes ``b`` of the groups seen in
the fit are added; unseen groups contribute zero (lme4's ``allow.new.levels = TRUE``).

Examples
--------
>>> import numpy as np, pandas as pd
>>> from alliancestats.models.design import build_design
>>> df = pd.DataFrame({"y": [1.0, 2.0, 3.0, 4.0], "x": [0.0, 1.0, 2.0, 3.0],
...                    "g": ["a", "a", "b", "b"]})
>>> d = build_design("y ~ x + (1 | g)", df)
>>> b = {"g": np.array([[1.0], [-1.0]])}
>>> new = pd.DataFrame({"x": [1.0, 1.0], "g": ["a", "zz"]})
>>> linear_predictor(d, np.array([0.5, 2.0]), b, new, random=True).tolist()
[3.5, 2.5]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alliancestats._validation import as_frame
from alliancestats.errors import FormulaError, ModelSpecificationError
from alliancestats.models.design import Design

__all__ = ["ExtraOffset", "linear_predictor"]


@dataclass(frozen=True)
class ExtraOffset:
    """An offset given outside the formula (``glmm(offset=...)``).

    ``column`` names the data column it came from (read again from ``newdata``); an offset
    given as an array (``column`` None) cannot be rebuilt for new rows.
    """

    column: str | None = None
    given: bool = False


def linear_predictor(
    design: Design,
    beta: np.ndarray,
    ranef: dict[str, np.ndarray],
    newdata: pd.DataFrame,
    random: bool,
    extra_offset: ExtraOffset | None = None,
) -> np.ndarray:
    """``X beta + offset`` (+ ``Z b`` when ``random``) for the rows of ``newdata``.

    Parameters
    ----------
    design : Design
        The fitted model's design.
    beta : ndarray
        Fixed effects in the order of ``design.fixed_names``.
    ranef : dict
        Conditional modes per term group (``design.random[k].group``), shape ``(levels, q)``.
    newdata : DataFrame
        Rows to predict.
    random : bool
        Add the random effects of the groups seen in the fit.
    extra_offset : ExtraOffset, optional
        An offset given to the fit outside the formula.

    Raises
    ------
    ParameterError
        ``newdata`` is not a DataFrame (or SessionData).
    FormulaError
        ``newdata`` lacks a column the model needs.
    ModelSpecificationError
        The fit's offset was an array (it cannot be rebuilt for new rows).
    """
    newdata = as_frame(newdata, "predict")
    eta = design.fixed_matrix(newdata) @ beta + design.offset_vector(newdata)
    extra = extra_offset or ExtraOffset()
    if extra.column is not None:
        if extra.column not in newdata.columns:
            raise FormulaError(f"newdata needs the offset column {extra.column!r}")
        eta = eta + newdata[extra.column].to_numpy(dtype=float)
    elif extra.given:
        raise ModelSpecificationError(
            "the model was fitted with offset= given as an array; pass the offset as a "
            "column name to predict for new data"
        )
    if not random:
        return eta
    for k, b in enumerate(design.random):
        missing = [v for v in b.group_vars if v not in newdata.columns]
        if missing:
            raise FormulaError(
                f"newdata lacks grouping column(s) {missing}; pass random=False for "
                "population-level predictions"
            )
        Z, codes = design.random_matrix(k, newdata)
        seen = codes >= 0
        contrib = np.zeros(len(newdata))
        contrib[seen] = np.einsum("nq,nq->n", Z[seen], ranef[b.group][codes[seen]])
        eta = eta + contrib
    return eta
