"""p-curve figure: the observed distribution of significant p values against two references."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes

from alliancestats._format import format_p
from alliancestats.meta.pcurve import PCurveResult
from alliancestats.meta.pcurve import pcurve as pcurve_analysis
from alliancestats.plot._style import (
    MUTED,
    PALETTE,
    SMALL_FONT_SIZE,
    despine,
    label_axes,
    new_axes,
)

__all__ = ["pcurve"]


def pcurve(result: Any, *, ax: Axes | None = None, **inputs: Any) -> Axes:
    """p-curve plot (Simonsohn, Nelson & Simmons 2014; the layout of the p-curve app 4.06).

    Parameters
    ----------
    result : PCurveResult, MetaResult, DataFrame or None
        A finished :func:`alliancestats.meta.pcurve` analysis, or anything that function
        accepts (its other arguments go in ``inputs``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.8 × 3.6 inch figure otherwise.
    **inputs
        Passed to :func:`alliancestats.meta.pcurve` when ``result`` is not an analysis.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The solid line is the percentage of significant results with p in (0, .01], (.01, .02],
    ..., (.04, .05]; the dotted line the 20% expected with no effect; the dashed line what
    33% power implies. The legend gives the right-skew and flatness tests (full and half
    curves) and the power estimate. Lines carry the ids ``"pcurve_observed"``,
    ``"pcurve_no_effect"`` and ``"pcurve_power33"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from alliancestats.plot import pcurve
    >>> ax = pcurve(None, ti=[2.9, 3.4, 2.2, 4.1, 2.6], df=[48, 60, 35, 80, 40])
    >>> ax.get_xlabel()
    'p value'
    """
    res = result if isinstance(result, PCurveResult) else pcurve_analysis(result, **inputs)
    curve = res.curve
    x = curve.index.to_numpy(dtype=float)
    ax = new_axes(ax, (4.8, 3.6))
    right, flat = res.table.loc["right-skew"], res.table.loc["flatness"]
    observed_label = (
        f"Observed p-curve ({res.ksig} results; power {100 * res.power:.0f}%, 90% CI "
        f"{100 * res.power_low:.0f}%–{100 * res.power_high:.0f}%)"
    )
    (obs,) = ax.plot(x, curve["observed"], color=PALETTE[0], linewidth=1.8, marker="o",
                     markersize=4, label=observed_label)  # fmt: skip
    obs.set_gid("pcurve_observed")
    (null,) = ax.plot(x, curve["no_effect"], color=PALETTE[1], linewidth=1.2, linestyle=":",
                      label=f"No effect (right skew: p_full {format_p(right['p_full'])}, "
                            f"p_half {format_p(right['p_half'])})")  # fmt: skip
    null.set_gid("pcurve_no_effect")
    (p33,) = ax.plot(x, curve["power_33"], color=PALETTE[2], linewidth=1.2, linestyle="--",
                     label=f"33% power (flatness: p_full {format_p(flat['p_full'])}, "
                           f"p_half {format_p(flat['p_half'])})")  # fmt: skip
    p33.set_gid("pcurve_power33")
    for xi, yi in zip(x, curve["observed"], strict=True):
        ax.annotate(f"{yi:.0f}%", (xi, yi), xytext=(3, 4), textcoords="offset points",
                    fontsize=SMALL_FONT_SIZE, color=MUTED)  # fmt: skip
    ax.set_xticks(x, [f".{int(round(v * 100)):02d}" for v in x])
    ax.set_ylim(0, max(105.0, float(curve["observed"].max()) + 10))
    ax.set_xlim(0.008, 0.052)
    label_axes(ax, "p value", "Percentage of significant results")
    ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, loc="upper right")
    despine(ax)
    return ax
