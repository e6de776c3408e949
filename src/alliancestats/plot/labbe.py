"""L'Abbé plot: outcome in the treated arm against the control arm of each 2×2 table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta.figure_values import labbe_values
from alliancestats.plot._style import (
    ACCENT,
    INK,
    MUTED,
    SMALL_FONT_SIZE,
    despine,
    label_axes,
    new_axes,
)

__all__ = ["labbe"]

_ARM_SCALE = {"OR": "log odds", "RR": "log risk", "RD": "risk"}


def labbe(
    data: pd.DataFrame | None = None,
    *,
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    n1i: Any = None,
    n2i: Any = None,
    measure: str = "OR",
    result: Any = None,
    ax: Axes | None = None,
) -> Axes:
    """L'Abbé plot (L'Abbé, Detsky & O'Rourke 1987) of 2×2 tables.

    Parameters
    ----------
    data : pandas.DataFrame, optional
        Study table; the count arguments may then be column names.
    ai, bi, ci, di, n1i, n2i : column name or array-like
        Events and non-events (or group sizes) of the treated and control arms.
    measure : {"OR", "RR", "RD"}
        Scale of the arm outcomes (log odds, log risk, risk) and of the pooled line.
    result : MetaResult, optional
        A model fitted to the same tables with the same measure (e.g. from
        :func:`~alliancestats.meta.mantel_haenszel` or :func:`~alliancestats.meta.meta_analysis`):
        its estimate draws the line ``y = x + estimate``.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.2 × 4.2 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Points on the diagonal have no effect; points are sized by the inverse of their variance.
    Coordinates from :func:`alliancestats.meta.figure_values.labbe_values` (validated against
    metafor 3.8-1 ``labbe()``, tolerance 1e-9). Ids: ``"labbe_points"``, ``"no_effect_line"``,
    ``"pooled_line"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from alliancestats.plot import labbe
    >>> ax = labbe(ai=[4, 6, 3], bi=[119, 300, 228], ci=[11, 29, 11], di=[128, 274, 209])
    >>> ax.get_xlabel()
    'Control arm (log odds)'
    """
    measure = str(measure).upper()
    values = labbe_values(data, ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, measure=measure)
    x, y = values["x"].to_numpy(), values["y"].to_numpy()
    ax = new_axes(ax, (4.2, 4.2))
    lo = float(np.nanmin(np.concatenate([x, y])))
    hi = float(np.nanmax(np.concatenate([x, y])))
    pad = 0.05 * (hi - lo if hi > lo else 1.0)
    lims = np.array([lo - pad, hi + pad])
    (diag,) = ax.plot(
        lims, lims, color=MUTED, linewidth=0.8, linestyle=(0, (4, 3)), label="No effect"
    )
    diag.set_gid("no_effect_line")
    if result is not None:
        if str(result.measure).upper() not in (measure, "PETO" if measure == "OR" else measure):
            raise MetaAnalysisError(f"result has measure {result.measure!r}, the plot {measure!r}.")
        (pooled,) = ax.plot(lims, lims + result.estimate, color=ACCENT, linewidth=1.0,
                            label=f"Pooled estimate ({measure})")  # fmt: skip
        pooled.set_gid("pooled_line")
    ax.set_xlim(*lims)
    ax.set_ylim(*lims)
    ax.set_aspect("equal")
    points = ax.scatter(
        x, y, s=24, facecolors="none", edgecolors=INK, linewidths=0.9, label="Study"
    )
    points.set_gid("labbe_points")
    scale = _ARM_SCALE[measure]
    label_axes(ax, f"Control arm ({scale})", f"Treated arm ({scale})")
    ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, loc="upper left")
    despine(ax)
    return ax
