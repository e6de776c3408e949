"""Baujat plot: each study's contribution to heterogeneity against its influence on the result."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from matplotlib.axes import Axes

from alliancestats.errors import ParameterError
from alliancestats.meta.sensitivity import baujat_values
from alliancestats.plot._style import INK, SMALL_FONT_SIZE, despine, label_axes, new_axes

__all__ = ["baujat"]


def baujat(
    result: Any,
    *,
    symbol: Literal["ids", "labels", "points"] = "ids",
    ax: Axes | None = None,
) -> Axes:
    """Baujat plot of a meta-analysis (as metafor's ``baujat``).

    Parameters
    ----------
    result : MetaResult
        Fitted univariate model (moderators allowed).
    symbol : {"ids", "labels", "points"}, default "ids"
        Mark each study with its number (1..k, the row order of ``result``), its label, or a
        plain point.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.5 × 4 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The horizontal axis is the study's squared Pearson residual ``e_i² / (v_i + τ²)``, its
    contribution to the (residual) heterogeneity; the vertical axis is the squared change of
    its fitted value when it is left out, standardised by the variance of the leave-out
    prediction, i.e. its influence on the overall result (Baujat et al. 2002; generalised to
    random-effects models as in metafor). Studies in the upper right both drive heterogeneity
    and move the result. Coordinates come from
    :func:`alliancestats.meta.sensitivity.baujat_values` (validated against metafor 3.8-1,
    relative tolerance 1e-5). The marks carry the id ``"baujat_points"`` (a scatter,
    invisible when ``symbol`` is text) and the texts ``"baujat_label"``.

    References
    ----------
    Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for exploring
    heterogeneity in meta-analyses: Application to a meta-analysis of 65 trials. Statistics
    in Medicine, 21(18), 2641-2652.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from alliancestats.meta import meta_analysis
    >>> from alliancestats.plot import baujat
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> ax = baujat(res)
    >>> [t.get_text() for t in ax.texts]
    ['1', '2', '3', '4', '5', '6']
    """
    if symbol not in ("ids", "labels", "points"):
        raise ParameterError(f"symbol must be 'ids', 'labels' or 'points', not {symbol!r}.")
    values = baujat_values(result)
    x = values["x"].to_numpy()
    y = values["y"].to_numpy()
    ax = new_axes(ax, (4.5, 4.0))
    as_text = symbol != "points"
    points = ax.scatter(
        x, y, s=18, color=INK, alpha=0.0 if as_text else 1.0, zorder=3, linewidths=0
    )  # invisible anchor when studies are marked with text, so tests and limits see them
    points.set_gid("baujat_points")
    if as_text:
        names = (
            [str(i + 1) for i in range(len(x))]
            if symbol == "ids"
            else [str(s) for s in values.index]
        )
        for xi, yi_, name in zip(x, y, names, strict=True):
            if np.isfinite(xi) and np.isfinite(yi_):
                ax.text(
                    xi, yi_, name, ha="center", va="center", fontsize=SMALL_FONT_SIZE,
                    color=INK, gid="baujat_label",
                )  # fmt: skip
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.any():
        pad_x = 0.06 * (np.ptp(x[finite]) or 1.0)
        pad_y = 0.06 * (np.ptp(y[finite]) or 1.0)
        ax.set_xlim(x[finite].min() - pad_x, x[finite].max() + pad_x)
        ax.set_ylim(y[finite].min() - pad_y, y[finite].max() + pad_y)
    common = result.method in ("FE", "EE", "CE")
    intercept_only = np.asarray(result.X).shape[1] == 1
    if common:
        xlabel = (
            "Contribution to overall heterogeneity"
            if intercept_only
            else "Contribution to residual heterogeneity"
        )
    else:
        xlabel = "Squared Pearson residual"
    ylabel = "Influence on overall result" if intercept_only else "Influence on fitted value"
    label_axes(ax, xlabel, ylabel)
    despine(ax)
    return ax
