"""GOSH plot: I² against the pooled estimate for the model fitted to subsets of studies."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.axes import Axes

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta.gosh import GoshResult
from alliancestats.meta.gosh import gosh as gosh_fits
from alliancestats.plot._effect_axis import (
    effect_axis_label,
    resolve_axis_transform,
    set_effect_ticks,
)
from alliancestats.plot._style import ACCENT, INK, SMALL_FONT_SIZE, despine, label_axes, new_axes

__all__ = ["gosh"]


def gosh(
    result: Any,
    *,
    highlight: str | None = None,
    subsets: int = 1_000_000,
    seed: int | None = None,
    transform: Any = None,
    ax: Axes | None = None,
) -> Axes:
    """GOSH plot (Olkin, Dahabreh & Trikalinos 2012): one point per subset of studies.

    Parameters
    ----------
    result : MetaResult or GoshResult
        A univariate model without moderators (its subsets are fitted with
        :func:`alliancestats.meta.gosh`) or the fits themselves.
    highlight : str, optional
        Label of a study: subsets containing it are drawn in the accent colour, so a study
        that moves both the estimate and I² stands out as a separate cloud.
    subsets, seed : int, optional
        Passed to :func:`alliancestats.meta.gosh` (random subsets when there are too many).
    transform : {None, "r", "exp", "auto"} or callable, optional
        Label the estimate axis on a back-transformed scale (positions stay on the analysis
        scale; the axis label says so).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.8 × 3.6 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Points carry the ids ``"gosh_points"`` and (with ``highlight``) ``"gosh_highlight"``.
    The coordinates are validated against metafor 3.8-1 ``gosh()`` (see
    :func:`alliancestats.meta.gosh`).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from alliancestats.meta import meta_analysis
    >>> from alliancestats.plot import gosh
    >>> res = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65, 0.2], vi=[0.03, 0.03, 0.05, 0.01, 0.02],
    ...                     method="FE")
    >>> ax = gosh(res, highlight="Study 4")
    >>> [len(c.get_offsets()) for c in ax.collections]
    [15, 16]
    """
    fits = result if isinstance(result, GoshResult) else gosh_fits(result, subsets, seed=seed)
    measure = None if isinstance(result, GoshResult) else result.measure
    x = fits.fits["estimate"].to_numpy()
    y = fits.fits["I2"].to_numpy()
    ax = new_axes(ax, (4.8, 3.6))
    mask = np.zeros(len(x), dtype=bool)
    if highlight is not None:
        if highlight not in fits.incl.columns:
            raise MetaAnalysisError(f"highlight={highlight!r} is not a study label.")
        mask = fits.incl[highlight].to_numpy()
    alpha = float(np.clip(30 / max(len(x), 1), 0.05, 0.8))
    rest = ax.scatter(
        x[~mask], y[~mask], s=6, color=INK, alpha=alpha, linewidths=0, label="Subsets"
    )
    rest.set_gid("gosh_points")
    if highlight is not None:
        hl = ax.scatter(x[mask], y[mask], s=6, color=ACCENT, alpha=alpha, linewidths=0,
                        label=f"Subsets with {highlight}")  # fmt: skip
        hl.set_gid("gosh_highlight")
        ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, markerscale=2)
    tf = resolve_axis_transform(transform, measure)
    if tf is not None and np.isfinite(x).any():
        lo, hi = set_effect_ticks(ax, tf, float(np.nanmin(x)), float(np.nanmax(x)))
        ax.set_xlim(lo, hi)
    label_axes(ax, f"Pooled estimate: {effect_axis_label(measure, tf)}", "I² (%)")
    despine(ax)
    return ax
