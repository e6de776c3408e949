"""Radial (Galbraith) plot: standardised effects against precision."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes
from scipy import stats

from alliancestats.meta.figure_values import radial_values
from alliancestats.plot._effect_axis import analysis_scale_name
from alliancestats.plot._style import (
    ACCENT,
    INK,
    MUTED,
    SMALL_FONT_SIZE,
    despine,
    label_axes,
    new_axes,
)

__all__ = ["radial"]


def radial(result: Any, *, ax: Axes | None = None) -> Axes:
    """Radial plot (Galbraith 1988): ``y_i/√(v_i + τ²)`` against ``1/√(v_i + τ²)``.

    Parameters
    ----------
    result : MetaResult
        Univariate model without moderators.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.8 × 3.6 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Under the model, the points scatter around the line through the origin whose slope is
    the pooled estimate, with about 95% within ±1.96 of it (the grey band): studies outside
    contribute most heterogeneity; a trend in precision suggests small-study effects.
    Coordinates from :func:`alliancestats.meta.figure_values.radial_values` (validated
    against metafor 3.8-1 ``radial()``). Ids: ``"radial_points"``, ``"radial_line"``,
    ``"radial_band"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from alliancestats.meta import meta_analysis
    >>> from alliancestats.plot import radial
    >>> ax = radial(meta_analysis(yi=[0.1, 0.3, 0.35, 0.65], vi=[0.03, 0.03, 0.05, 0.01]))
    >>> ax.get_xlabel()
    'Precision: 1/√(v + τ²)'
    """
    values = radial_values(result)
    x, z = values["x"].to_numpy(), values["z"].to_numpy()
    ax = new_axes(ax, (4.8, 3.6))
    crit = float(stats.norm.ppf(0.5 + float(result.level) / 200.0))
    xs = np.array([0.0, float(x.max()) * 1.08])
    band = ax.fill_between(xs, result.estimate * xs - crit, result.estimate * xs + crit, color="#ececec",
                           linewidth=0, zorder=0, label=f"Estimate ± {crit:.2f}")  # fmt: skip
    band.set_gid("radial_band")
    (line,) = ax.plot(xs, result.estimate * xs, color=ACCENT, linewidth=1.0,
                      label=f"Pooled estimate (slope {result.estimate:.2f})")  # fmt: skip
    line.set_gid("radial_line")
    ax.axhline(0.0, color=MUTED, linewidth=0.8, linestyle=(0, (4, 3)), zorder=0)
    points = ax.scatter(x, z, s=22, color=INK, zorder=3, label="Study")
    points.set_gid("radial_points")
    ax.set_xlim(0.0, xs[1])
    scale = analysis_scale_name(result.measure)
    label_axes(ax, "Precision: 1/√(v + τ²)", f"Standardised effect ({scale}): y/√(v + τ²)")
    ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, loc="best")
    despine(ax)
    return ax
