"""Bubble plot of a meta-regression: effects against a moderator, with the fitted line."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from alliancestats.meta.figure_values import bubble_values
from alliancestats.plot._effect_axis import effect_axis_label
from alliancestats.plot._style import ACCENT, INK, SMALL_FONT_SIZE, despine, label_axes, new_axes

__all__ = ["bubble"]


def bubble(
    result: Any,
    mod: str | None = None,
    *,
    show_pi: bool = True,
    xlabel: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Meta-regression (bubble) plot, as metafor's ``regplot``.

    Parameters
    ----------
    result : MetaResult
        Meta-regression (moderators required).
    mod : str, optional
        Coefficient to put on the x axis (needed with several moderators; the others are
        held at their means).
    show_pi : bool, default True
        Draw the prediction band (where a new study's true effect would fall).
    xlabel : str, optional
        Axis label (default: the coefficient name).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.8 × 3.6 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Bubble areas are proportional to the weights. Band values from
    :func:`alliancestats.meta.figure_values.bubble_values` (validated against metafor 3.8-1
    ``predict()`` as used by ``regplot()``). Ids: ``"bubble_points"``, ``"fitted_line"``,
    ``"confidence_band"``, ``"prediction_band"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from alliancestats.meta import meta_analysis
    >>> from alliancestats.plot import bubble
    >>> df = pd.DataFrame({"yi": [0.1, 0.3, 0.5, 0.4, 0.2], "vi": [0.02, 0.03, 0.02, 0.04, 0.02],
    ...                    "dose": [1, 2, 3, 4, 2]})
    >>> ax = bubble(meta_analysis(df, mods="~ dose"))
    >>> ax.get_xlabel()
    'dose'
    """
    points, band = bubble_values(result, mod)
    name = mod if mod is not None else [n for n in result.mod_names if n != "(Intercept)"][0]
    ax = new_axes(ax, (4.8, 3.6))
    if show_pi and np.isfinite(band["pi_low"]).all():
        pi = ax.fill_between(band["x"], band["pi_low"], band["pi_high"], color="#f0f0f0", linewidth=0,
                             zorder=0, label=f"{result.level:g}% prediction band")  # fmt: skip
        pi.set_gid("prediction_band")
    ci = ax.fill_between(band["x"], band["ci_low"], band["ci_high"], color="#d6dde6", linewidth=0,
                         zorder=1, label=f"{result.level:g}% confidence band")  # fmt: skip
    ci.set_gid("confidence_band")
    (line,) = ax.plot(
        band["x"], band["pred"], color=ACCENT, linewidth=1.2, zorder=2, label="Fitted line"
    )
    line.set_gid("fitted_line")
    sizes = 15 + 250 * points["weight"] / points["weight"].max()
    dots = ax.scatter(points["x"], points["y"], s=sizes, facecolors="none", edgecolors=INK,
                      linewidths=0.8, zorder=3, label="Study (area ∝ weight)")  # fmt: skip
    dots.set_gid("bubble_points")
    label_axes(ax, xlabel if xlabel is not None else name, effect_axis_label(result.measure, None))
    ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, loc="best")
    despine(ax)
    return ax
