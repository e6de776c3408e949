"""Residual diagnostics of mixed models: residuals against fitted values and normal QQ plots.

* :func:`residuals_vs_fitted` -- conditional residuals against conditional fitted values
  with a zero line and a lowess smooth (curvature suggests a missing term, a funnel shape
  unequal variances);
* :func:`qq_residuals` -- normal QQ plot of the residuals scaled by sigma (LMM; GLMMs show
  deviance residuals, which are only roughly normal);
* :func:`qq_ranef` -- normal QQ plot of the conditional modes of one random effect;
* :func:`diagnostics` -- the three panels side by side.

Theoretical quantiles use R's ``ppoints`` (``qqnorm``), and reference lines pass through the
first and third quartiles (``qqline``).

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session + (1 | patient)", df)
>>> from alliancestats.plot import diagnostics
>>> axes = diagnostics(fit)
>>> [a.get_title() for a in axes]
['Residuals vs fitted', 'Normal QQ: residuals', 'Normal QQ: (Intercept) | patient']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from scipy import stats

from alliancestats.errors import ModelSpecificationError, ParameterError
from alliancestats.plot._style import ACCENT, FONT_SIZE, INK, MUTED, despine, label_axes, new_axes

__all__ = [
    "diagnostics",
    "qq_ranef",
    "qq_residuals",
    "residuals_vs_fitted",
    "theoretical_quantiles",
]

POINTS_GID = "points"
REFERENCE_GID = "reference"
SMOOTH_GID = "smooth"


def theoretical_quantiles(n: int) -> np.ndarray:
    """Standard normal quantiles at R's ``ppoints(n)`` (``qqnorm``'s plotting positions)."""
    a = 3.0 / 8.0 if n <= 10 else 0.5
    return stats.norm.ppf((np.arange(1, n + 1) - a) / (n + 1 - 2 * a))


def _residuals(result: Any) -> tuple[np.ndarray, np.ndarray]:
    if not hasattr(result, "residuals") or not hasattr(result, "fitted"):
        raise ModelSpecificationError("the fit has no residuals and fitted values to plot")
    return (np.asarray(result.fitted, dtype=float), np.asarray(result.residuals, dtype=float))


def _title(ax: Axes, text: str) -> None:
    ax.set_title(text, fontsize=FONT_SIZE, color=INK)


def _qq(ax: Axes, values: np.ndarray) -> None:
    values = np.sort(values[np.isfinite(values)])
    q = theoretical_quantiles(values.size)
    ax.plot(q, values, "o", color=ACCENT, markersize=2.5, alpha=0.7, gid=POINTS_GID)
    x1, x2 = stats.norm.ppf([0.25, 0.75])
    y1, y2 = np.quantile(values, [0.25, 0.75])
    slope = (y2 - y1) / (x2 - x1)
    ends = np.array([q[0], q[-1]])
    ax.plot(ends, y1 + slope * (ends - x1), color=MUTED, linewidth=1.0, gid=REFERENCE_GID)
    despine(ax)


def residuals_vs_fitted(result: Any, *, smooth: bool = True, ax: Axes | None = None) -> Axes:
    """Scatter of residuals against fitted values with a zero line and a lowess smooth.

    Parameters
    ----------
    result : MixedResult
        A fitted mixed model (conditional fitted values and residuals).
    smooth : bool, default True
        Add a lowess curve (statsmodels, ``frac = 2/3`` as R's ``lowess``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        Points ``gid="points"``, smooth ``"smooth"``.

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=4, seed=3).dropna(subset=["pain"])
    >>> from alliancestats.plot import residuals_vs_fitted
    >>> ax = residuals_vs_fitted(als.lmm("pain ~ session + (1 | patient)", df))
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('Fitted values', 'Residuals')
    """
    fitted, resid = _residuals(result)
    ax = new_axes(ax, (4.0, 3.2))
    ax.plot(fitted, resid, "o", color=ACCENT, markersize=2.5, alpha=0.5, gid=POINTS_GID)
    ax.axhline(0.0, color=MUTED, linewidth=0.8, linestyle="--")
    if smooth and fitted.size > 3:
        from statsmodels.nonparametric.smoothers_lowess import lowess

        curve = lowess(resid, fitted, frac=2 / 3, it=3)
        ax.plot(curve[:, 0], curve[:, 1], color=INK, linewidth=1.2, gid=SMOOTH_GID)
    despine(ax)
    label_axes(ax, "Fitted values", "Residuals")
    _title(ax, "Residuals vs fitted")
    return ax


def qq_residuals(result: Any, *, ax: Axes | None = None) -> Axes:
    """Normal QQ plot of the residuals (scaled by sigma for linear mixed models).

    Parameters
    ----------
    result : MixedResult
        A fitted mixed model (deviance residuals for a GLMM).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 3.4 x 3.2 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=4, seed=3).dropna(subset=["pain"])
    >>> from alliancestats.plot import qq_residuals
    >>> ax = qq_residuals(als.lmm("pain ~ session + (1 | patient)", df))
    >>> ax.get_ylabel()
    'Scaled residuals'
    """
    _, resid = _residuals(result)
    glmm = getattr(result, "family", "gaussian") != "gaussian"
    values = resid if glmm else resid / float(result.sigma)
    ax = new_axes(ax, (3.4, 3.2))
    _qq(ax, values)
    label_axes(ax, "Theoretical quantiles", "Deviance residuals" if glmm else "Scaled residuals")
    _title(ax, "Normal QQ: residuals")
    return ax


def qq_ranef(result: Any, group: str | None = None, term: str = "(Intercept)", *,
             ax: Axes | None = None) -> Axes:
    """Normal QQ plot of the conditional modes of one random effect.

    Parameters
    ----------
    result : MixedResult
        A fitted mixed model.
    group : str, optional
        Grouping factor (default: the first in ``result.ranef``).
    term : str, default "(Intercept)"
        Random effect to show (e.g. ``"session"`` for random slopes).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ParameterError
        Unknown grouping factor or term.

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=4, seed=3).dropna(subset=["pain"])
    >>> from alliancestats.plot import qq_ranef
    >>> ax = qq_ranef(als.lmm("pain ~ session + (1 | patient)", df))
    >>> ax.get_title()
    'Normal QQ: (Intercept) | patient'
    """
    ranef = getattr(result, "ranef", None) or {}
    if not ranef:
        raise ModelSpecificationError("the fit has no random effects to plot")
    group = next(iter(ranef)) if group is None else group
    if group not in ranef:
        raise ParameterError(f"group={group!r}; the grouping factors are {list(ranef)}")
    if term not in ranef[group].columns:
        raise ParameterError(f"term={term!r}; {group!r} has {list(ranef[group].columns)}")
    ax = new_axes(ax, (3.4, 3.2))
    _qq(ax, ranef[group][term].to_numpy(float))
    label_axes(ax, "Theoretical quantiles", "Conditional modes")
    _title(ax, f"Normal QQ: {term} | {group}")
    return ax


def diagnostics(result: Any, group: str | None = None, term: str = "(Intercept)", *,
                axes: Sequence[Axes] | None = None) -> np.ndarray:
    """Residuals vs fitted, QQ of residuals and QQ of one random effect, side by side.

    Parameters
    ----------
    result : MixedResult
        A fitted mixed model.
    group, term : str, optional
        Random effect of the third panel (default: intercept of the first grouping factor).
    axes : sequence of three Axes, optional
        Where to draw; a new 10 x 3.2 inch figure otherwise.

    Returns
    -------
    numpy.ndarray
        The three Axes.
    """
    if axes is None:
        _, axes = plt.subplots(1, 3, figsize=(10, 3.2), layout="constrained")
    axes = np.asarray(axes, dtype=object).ravel()
    if axes.size != 3:
        raise ParameterError(f"axes must hold three Axes, got {axes.size}")
    residuals_vs_fitted(result, ax=axes[0])
    qq_residuals(result, ax=axes[1])
    qq_ranef(result, group, term, ax=axes[2])
    return axes

