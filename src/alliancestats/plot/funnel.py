"""Contour-enhanced funnel plot, with trim-and-fill imputed studies drawn as open circles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import require_result
from alliancestats.plot._effect_axis import (
    effect_axis_label,
    resolve_axis_transform,
    se_axis_label,
    set_effect_ticks,
)
from alliancestats.plot._style import (
    ACCENT,
    INK,
    MUTED,
    SMALL_FONT_SIZE,
    despine,
    label_axes,
    new_axes,
)

__all__ = ["funnel"]

# light to dark: the more significant the region, the darker
_SHADES = ("#ececec", "#d9d9d9", "#c4c4c4", "#b0b0b0", "#9c9c9c")


def _p_text(value: float) -> str:
    return f"{value:.2f}".lstrip("0") if value < 1 else "1"


def _points(result: Any, filled: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Centre model, observed and imputed effects with their standard errors."""
    yi = np.asarray(result.yi, dtype=float)
    sei = np.sqrt(np.asarray(result.vi, dtype=float))
    centre = result
    imputed = np.zeros(len(yi), dtype=bool)
    extra_y, extra_se = np.empty(0), np.empty(0)
    if filled is None:
        flags = getattr(result, "filled", None)
        if flags is not None:
            imputed = np.asarray(flags, dtype=bool)
    elif hasattr(filled, "yi"):
        flags = getattr(filled, "filled", None)
        if flags is None:
            raise MetaAnalysisError("filled= must be a result of trim_and_fill() or a mask.")
        flags = np.asarray(flags, dtype=bool)
        extra_y = np.asarray(filled.yi, dtype=float)[flags]
        extra_se = np.sqrt(np.asarray(filled.vi, dtype=float)[flags])
        centre = filled
    else:
        imputed = np.asarray(filled, dtype=bool)
        if imputed.shape != yi.shape:
            raise MetaAnalysisError(f"filled mask must have one value per study ({len(yi)}).")
    imp_y = np.concatenate([yi[imputed], extra_y])
    imp_se = np.concatenate([sei[imputed], extra_se])
    return centre, yi[~imputed], sei[~imputed], imp_y, imp_se


def _contour_levels(contours: Any) -> list[float]:
    if contours is True:
        contours = (0.90, 0.95, 0.99)
    elif contours is False:
        contours = None
    elif isinstance(contours, int | float):
        contours = (contours,)
    levels = sorted(float(c) for c in (contours or ()))
    for c in levels:
        if not 0.0 < c < 1.0:
            raise MetaAnalysisError(f"contours must be confidence levels in (0, 1); got {c}.")
    return levels


def _draw_contours(
    ax: Axes, levels: list[float], se_max: float, x_lo: float, x_hi: float
) -> list[Any]:
    """Shaded significance regions around zero; returns their legend handles."""
    handles = []
    z_levels = [float(stats.norm.ppf(0.5 + c / 2.0)) for c in levels]
    bounds = z_levels + [np.inf]
    se_grid = np.array([0.0, se_max])
    for j, c in enumerate(levels):
        z_in, z_out = bounds[j], bounds[j + 1]
        shade = _SHADES[min(j, len(_SHADES) - 1)]
        inner = z_in * se_grid
        outer = np.full(2, x_hi) if not np.isfinite(z_out) else z_out * se_grid
        outer_left = np.full(2, x_lo) if not np.isfinite(z_out) else -z_out * se_grid
        for left, right in ((inner, outer), (outer_left, -inner)):
            region = ax.fill_betweenx(se_grid, left, right, color=shade, linewidth=0, zorder=0)
            region.set_gid(f"contour_{c:g}")
        alpha_in = 1.0 - c
        alpha_next = 1.0 - levels[j + 1] if j + 1 < len(levels) else 0.0
        text = (
            f"{_p_text(alpha_next)} < p ≤ {_p_text(alpha_in)}"
            if alpha_next > 0
            else f"p ≤ {_p_text(alpha_in)}"
        )
        handles.append(Patch(facecolor=shade, edgecolor="none", label=text))
    return handles


def _model_name(fit: Any) -> str:
    if fit.method in ("FE", "EE", "CE", "MH", "PETO"):
        return "common-effect"
    return f"random-effects, {fit.method}"


def _draw_lines(ax: Axes, result: Any, centre: Any, crit: float, se_max: float) -> list[Any]:
    """Pooled estimate, pseudo confidence limits and (after trim-and-fill) the original
    estimate; returns legend handles naming each line."""
    est = float(centre.estimate)
    line = ax.axvline(est, color=ACCENT, linewidth=1.0, zorder=1)
    line.set_gid("estimate_line")
    kind = (
        "after trim-and-fill, "
        if centre is not result or getattr(result, "filled", None) is not None
        else ""
    )
    handles = [
        Line2D(
            [],
            [],
            color=ACCENT,
            linewidth=1.0,
            label=f"Pooled estimate ({kind}{_model_name(centre)})",
        )
    ]
    for sign in (-1.0, 1.0):
        (pseudo,) = ax.plot(
            [est, est + sign * crit * se_max], [0.0, se_max], color=INK, linewidth=0.8,
            linestyle=(0, (4, 3)), zorder=1,
        )  # fmt: skip
        pseudo.set_gid("pseudo_ci")
    level = float(result.level)
    handles.append(
        Line2D([], [], color=INK, linewidth=0.8, linestyle=(0, (4, 3)),
               label=f"Pseudo {level:g}% CI (estimate ± {crit:.2f} SE)")
    )  # fmt: skip
    if centre is not result:
        original = ax.axvline(
            float(result.estimate), color=MUTED, linewidth=0.9, linestyle=":", zorder=1
        )
        original.set_gid("original_estimate_line")
        handles.append(
            Line2D(
                [],
                [],
                color=MUTED,
                linewidth=0.9,
                linestyle=":",
                label="Estimate before trim-and-fill",
            )
        )
    return handles


def funnel(
    result: Any,
    *,
    contours: Sequence[float] | float | bool | None = (0.90, 0.95, 0.99),
    filled: Any = None,
    transform: Any = None,
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Contour-enhanced funnel plot: effects against their standard errors.

    Parameters
    ----------
    result : MetaResult
        Fitted model (without moderators). A trim-and-fill result (from
        :func:`~alliancestats.meta.trim_and_fill`) is recognised: its imputed studies are drawn
        with open circles.
    contours : sequence of float or None, default (0.90, 0.95, 0.99)
        Confidence levels whose two-sided significance limits around zero (``±z·SE``) bound the
        shaded regions (Peters et al. 2008): studies in darker regions are significant at the
        stricter level. ``None``, ``False`` or ``()`` draws no contours; ``True`` means the
        default levels and a single number one level.
    filled : MetaResult or array of bool, optional
        Imputed studies to overlay: a trim-and-fill result for ``result`` (its imputed
        studies are added as open circles and its estimate marks the adjusted centre), or a
        boolean mask over ``result``'s studies marking those to draw open. Default: use
        ``result.filled`` when present.
    transform : {None, "r", "exp", "auto"} or callable, optional
        Label the effect axis on a back-transformed scale (positions stay on the analysis
        scale), as in :func:`~alliancestats.plot.forest`.
    legend : bool, default True
        Show a legend naming every element: the studies (and imputed studies), the pooled
        estimate (and the estimate before trim-and-fill), the pseudo confidence limits and
        the contour regions.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 5.6 × 3.8 inch figure otherwise (legend on the right).

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The standard error axis runs downwards from 0 (most precise studies at the top), as in
    metafor's ``funnel``; both axes are labelled with the scale they are drawn on (e.g.
    "Correlation r (Fisher's z scale)", "Standard error of Fisher's z"). The solid vertical line marks the pooled estimate and the dashed
    lines its pseudo confidence limits ``μ̂ ± z·SE``; asymmetry in the scatter suggests
    small-study effects (Sterne et al. 2011). Contours are centred on zero, so a cluster of
    studies just inside a significance region hints at selective reporting (Peters et al.
    2008). Drawn elements carry ids: ``"observed"`` (filled circles), ``"imputed"`` (open
    circles), ``"contour_<level>"``, ``"estimate_line"``, ``"pseudo_ci"``.

    References
    ----------
    Peters, J. L., Sutton, A. J., Jones, D. R., Abrams, K. R., & Rushton, L. (2008).
    Contour-enhanced meta-analysis funnel plots help distinguish publication bias from other
    causes of asymmetry. Journal of Clinical Epidemiology, 61(10), 991-996.
    Sterne, J. A. C., et al. (2011). Recommendations for examining and interpreting funnel
    plot asymmetry in meta-analyses of randomised controlled trials. BMJ, 343, d4002.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from alliancestats.meta import meta_analysis, trim_and_fill
    >>> from alliancestats.plot import funnel
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> ax = funnel(trim_and_fill(res))
    >>> [len(c.get_offsets()) for c in ax.collections if c.get_gid() in ("observed", "imputed")]
    [6, 3]
    """
    require_result(result, "funnel()")
    X = np.asarray(result.X, dtype=float)
    if X.ndim == 2 and X.shape[1] != 1:
        raise MetaAnalysisError(
            "funnel() draws models without moderators (metafor would plot residuals); fit the "
            "model without mods first."
        )
    centre, obs_y, obs_se, imp_y, imp_se = _points(result, filled)
    all_se = np.concatenate([obs_se, imp_se])
    all_y = np.concatenate([obs_y, imp_y])
    se_max = float(all_se.max()) * 1.05 if all_se.size else 1.0
    crit = float(stats.norm.ppf(0.5 + float(result.level) / 200.0))
    levels = _contour_levels(contours)
    z_outer = max([float(stats.norm.ppf(0.5 + c / 2.0)) for c in levels] + [crit])
    est = float(centre.estimate)
    x_lo = min(float(all_y.min()), est - crit * se_max, -z_outer * se_max)
    x_hi = max(float(all_y.max()), est + crit * se_max, z_outer * se_max)
    pad = 0.05 * (x_hi - x_lo)
    x_lo, x_hi = x_lo - pad, x_hi + pad

    ax = new_axes(ax, (5.6, 3.8))
    handles = _draw_contours(ax, levels, se_max, x_lo, x_hi)
    handles += _draw_lines(ax, result, centre, crit, se_max)
    observed = ax.scatter(
        obs_y, obs_se, s=22, facecolors=INK, edgecolors=INK, linewidths=0.8, zorder=3
    )
    observed.set_gid("observed")
    handles.append(
        Line2D([], [], marker="o", linestyle="", markersize=4.5, color=INK, label="Study")
    )
    if imp_y.size:
        imputed = ax.scatter(
            imp_y, imp_se, s=22, facecolors="white", edgecolors=INK, linewidths=0.9, zorder=3
        )
        imputed.set_gid("imputed")
        handles.append(
            Line2D([], [], marker="o", linestyle="", markersize=4.5, markerfacecolor="white",
                   markeredgecolor=INK, label="Imputed study")
        )  # fmt: skip
    ax.set_ylim(se_max, 0.0)  # standard error increases downwards
    tf = resolve_axis_transform(transform, result.measure)
    if tf is not None:
        x_lo, x_hi = set_effect_ticks(ax, tf, x_lo, x_hi)
    ax.set_xlim(x_lo, x_hi)
    label_axes(ax, effect_axis_label(result.measure, tf), se_axis_label(result.measure))
    despine(ax)
    if legend and handles:
        ax.legend(
            handles=handles, frameon=False, fontsize=SMALL_FONT_SIZE, loc="upper left",
            bbox_to_anchor=(1.02, 1.0), handlelength=1.6, borderaxespad=0.0,
        )  # fmt: skip
    return ax
