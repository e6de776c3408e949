"""The numbers behind the radial, L'Abbé and bubble plots (computed here, drawn in ``plot``).

* :func:`radial_values` -- Galbraith (1988, Stat Med 7(8)) radial plot: ``x = 1/√(v_i + τ²)``
  against ``z = y_i/√(v_i + τ²)``; the pooled estimate is the slope of a line through 0;
* :func:`labbe_values` -- L'Abbé, Detsky & O'Rourke (1987, Ann Intern Med 107(2)): the
  outcome of the treated arm against that of the control arm, each on the scale of the
  measure (log odds, log risk or risk);
* :func:`bubble_values` -- meta-regression (bubble) plot: the effects against one moderator
  with point areas proportional to the weights, and the model's predictions with confidence
  and prediction bands (metafor's ``regplot``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import require_result, require_univariate, study_arrays
from alliancestats.meta._inputs import numeric_input
from alliancestats.meta.measures_counts import proportions
from alliancestats.meta.result import term_position

__all__ = ["bubble_values", "labbe_values", "radial_values"]

_ARM_MEASURE = {"OR": "PLO", "RR": "PLN", "RD": "PR"}


def radial_values(result: Any) -> pd.DataFrame:
    """Coordinates of the radial (Galbraith) plot.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> from alliancestats.meta.figure_values import radial_values
    >>> res = meta_analysis(yi=[0.1, 0.3, 0.2], vi=[0.01, 0.04, 0.01], method="FE")
    >>> radial_values(res)["x"].round(2).tolist()
    [10.0, 5.0, 10.0]
    """
    require_univariate(result, "The radial plot")
    yi, vi, X = study_arrays(result)
    if X.shape[1] != 1:
        raise MetaAnalysisError("The radial plot is drawn for models without moderators.")
    scale = np.sqrt(vi + result.tau2)
    return pd.DataFrame(
        {"x": 1 / scale, "z": yi / scale},
        index=pd.Index([str(s) for s in result.labels], name="study"),
    )


def labbe_values(
    data: pd.DataFrame | None = None,
    *,
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    n1i: Any = None,
    n2i: Any = None,
    measure: str = "OR",
    add: float = 0.5,
    to: str = "only0",
) -> pd.DataFrame:
    """Arm-level outcomes of 2×2 tables: ``x`` control arm, ``y`` treated arm.

    Examples
    --------
    >>> from alliancestats.meta.figure_values import labbe_values
    >>> labbe_values(ai=[10], bi=[90], ci=[20], di=[80], measure="RD").round(2).values.tolist()
    [[0.2, 0.1]]
    """
    measure = str(measure).upper()
    if measure not in _ARM_MEASURE:
        raise MetaAnalysisError("The L'Abbé plot takes measure 'OR', 'RR' or 'RD'.")
    k = None if data is None else len(data)
    a, c = (numeric_input(data, v, n, k, function="labbe") for v, n in ((ai, "ai"), (ci, "ci")))
    if a is None or c is None:
        raise MetaAnalysisError("The L'Abbé plot needs ai and ci with bi/di or n1i/n2i.")
    b = numeric_input(data, bi, "bi", k, function="labbe")
    d = numeric_input(data, di, "di", k, function="labbe")
    b = b if b is not None else numeric_input(data, n1i, "n1i", k, function="labbe") - a
    d = d if d is not None else numeric_input(data, n2i, "n2i", k, function="labbe") - c
    arm = _ARM_MEASURE[measure]
    y, _ = proportions(arm, a, a + b, add, to)
    x, _ = proportions(arm, c, c + d, add, to)
    return pd.DataFrame({"x": x, "y": y})


def bubble_values(
    result: Any, mod: str | None = None, xvals: Any = None, n_grid: int = 100
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Points and prediction band of a meta-regression plot for one moderator.

    Parameters
    ----------
    result : MetaResult
        Meta-regression (univariate or multilevel).
    mod : str, optional
        Moderator column of the design (``result.mod_names``); the only one by default.
        The other moderators are held at their means, as metafor's ``regplot``.
    xvals : array-like, optional
        Values of the moderator for the prediction band (default: ``n_grid`` values over its
        range).
    n_grid : int
        Number of grid points.

    Returns
    -------
    points, band : pandas.DataFrame
        ``points``: ``x, y, weight`` per study; ``band``: ``x, pred, ci_low, ci_high, pi_low,
        pi_high``.

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats.meta import meta_analysis
    >>> from alliancestats.meta.figure_values import bubble_values
    >>> df = pd.DataFrame({"yi": [0.1, 0.3, 0.5, 0.4], "vi": [0.02] * 4, "x": [1, 2, 3, 4]})
    >>> points, band = bubble_values(meta_analysis(df, mods="~ x"))
    >>> len(points), len(band)
    (4, 100)
    """
    require_result(result, "The bubble plot")
    names = list(result.mod_names)
    candidates = [n for n in names if n != "(Intercept)"]
    if not candidates:
        raise MetaAnalysisError("The bubble plot needs a model with a moderator (mods=).")
    if mod is None:
        if len(candidates) > 1:
            raise MetaAnalysisError(f"Choose the moderator to plot: mod= one of {candidates}.")
        mod = candidates[0]
    j = term_position(names, mod)
    X = np.asarray(result.X, float)
    xs = (
        np.linspace(X[:, j].min(), X[:, j].max(), n_grid)
        if xvals is None
        else np.asarray(xvals, float)
    )
    Xnew = np.tile(X.mean(axis=0), (len(xs), 1))
    Xnew[:, j] = xs
    has_int = names[0] == "(Intercept)"
    band = result.predict(Xnew[:, 1:] if has_int else Xnew)
    band.insert(0, "x", xs)
    points = pd.DataFrame(
        {
            "x": X[:, j],
            "y": np.asarray(result.yi, float),
            "weight": np.asarray(result.weights, float),
        },
        index=pd.Index([str(s) for s in result.labels], name="study"),
    )
    return points, band.drop(columns="se")
