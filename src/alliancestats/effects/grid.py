"""Reference grids of a fitted model (emmeans' ``ref_grid``).

A reference grid holds every combination of the levels of the categorical predictors and of
one or more values of each numeric predictor (its mean over the fitted rows unless ``at``
gives values), as in Lenth's emmeans (Searle, Speed & Milliken 1980, Am Stat 34(4)).
Marginal means average the model's predictions over the grid rows that share the values of
the variables of interest.

Examples
--------
>>> import alliancestats as als
>>> from alliancestats.effects.grid import reference_grid
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session * arm + (1 | patient)", df)
>>> grid = reference_grid(fit, at={"session": [1, 5]})
>>> grid.frame[["session", "arm"]].to_dict("list")
{'session': [1.0, 1.0, 5.0, 5.0], 'arm': ['control', 'intervention', 'control', 'intervention']}
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.effects import _model
from alliancestats.errors import ParameterError

__all__ = ["ReferenceGrid", "reference_grid"]


@dataclass
class ReferenceGrid:
    """Rows of a reference grid with their model matrix, linear predictor and cell counts.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per combination of predictor values.
    X : numpy.ndarray
        Fixed-effects model matrix of the rows.
    eta : numpy.ndarray
        Population-level linear predictor (with offsets) of the rows.
    counts : numpy.ndarray
        Number of fitted rows in each combination of the categorical predictors (for
        ``weights="proportional"`` and ``"cells"``).
    factors : list of str
        The categorical predictors.
    numeric : list of str
        The numeric predictors.
    observed : pandas.DataFrame
        The categorical predictors of the fitted rows (as text), for data frequencies.
    """

    frame: pd.DataFrame
    X: np.ndarray
    eta: np.ndarray
    counts: np.ndarray
    factors: list[str]
    numeric: list[str]
    observed: pd.DataFrame

    def frequencies(self, factors: list[str], rows: np.ndarray) -> np.ndarray:
        """How often each grid row's combination of ``factors`` occurs in the fitted rows."""
        if not factors:
            return np.ones(rows.size)
        counts = self.observed[factors].value_counts()
        keys = pd.MultiIndex.from_frame(self.frame.iloc[rows][factors].astype(str))
        return counts.reindex(keys, fill_value=0).to_numpy(dtype=float)


def _values(name: str, at: Mapping[str, Any], frame: pd.DataFrame, levels: dict) -> list:
    if name in at:
        raw = at[name]
        values = list(raw) if isinstance(raw, (Sequence, np.ndarray, pd.Series)) and not \
            isinstance(raw, str) else [raw]
        if not values:
            raise ParameterError(f"at[{name!r}] is empty; give one or more values")
        if name in levels:
            unknown = [v for v in values if str(v) not in levels[name]]
            if unknown:
                raise ParameterError(
                    f"at[{name!r}] has level(s) {unknown} the model never saw; levels are "
                    f"{levels[name]}"
                )
            return [str(v) for v in values]
        try:
            return [float(v) for v in values]
        except (TypeError, ValueError) as exc:
            raise ParameterError(f"at[{name!r}] must hold numbers, got {values!r}") from exc
    if name in levels:
        return list(levels[name])
    return [float(frame[name].astype(float).mean())]


def reference_grid(result: Any, at: Mapping[str, Any] | None = None) -> ReferenceGrid:
    """The reference grid of a fitted mixed model.

    Parameters
    ----------
    result : MixedResult
        The fit.
    at : dict, optional
        Values for predictors (a value or a list); numeric predictors otherwise sit at their
        mean over the fitted rows, categorical ones take all their levels.

    Returns
    -------
    ReferenceGrid

    Raises
    ------
    ParameterError
        ``at`` names a variable the fixed part does not use, gives an unseen level or
        non-numeric values for a numeric predictor.
    """
    at = dict(at or {})
    frame = _model.model_frame(result)
    levels = _model.factor_levels(result)
    variables = _model.fixed_variables(result)
    # offset variables enter the grid at their mean, as in emmeans
    variables += [v for v in _model.offset_variables(result) if v not in variables]
    unknown = [k for k in at if k not in variables]
    if unknown:
        raise ParameterError(
            f"at= names {unknown}, which the fixed part of the model does not use; "
            f"predictors are {variables}"
        )
    values = {v: _values(v, at, frame, levels) for v in variables}
    rows = list(itertools.product(*values.values())) if values else [()]
    grid = pd.DataFrame(rows, columns=list(values))
    factors = [v for v in variables if v in levels]
    numeric = [v for v in variables if v not in levels]
    if grid.empty:  # intercept-only fixed part: one row
        grid = pd.DataFrame(index=[0])
    out = ReferenceGrid(grid, _model.fixed_matrix(result, grid),
                        _model.linear_predictor(result, grid, random=False), np.ones(len(grid)),
                        factors, numeric, frame[factors].astype(str))
    out.counts = out.frequencies(factors, np.arange(len(grid)))
    return out
