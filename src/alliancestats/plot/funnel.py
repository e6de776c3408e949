"""Contour-enhanced funnel plot, with trim-and-fill imputed studies drawn as open circles."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import require_result
from alliancestats.plot._style import (
    ACCENT,
    INK,
    MUTED,
    SMALL_FONT_SIZE,
    despine,
    label_axes,
    new_axes,
)
from alliancestats.plot.forest import (
    effect_axis_label,
    resolve_axis_transform,
    set_transformed_ticks,
)

__all__ = ["funnel"]

# light to dark: the more significant the region, the darker
_SHADES = ("#ececec", "#d9d9d9", "#c4c4c4", "#b0b0b0", "#9c9c9c")


def _p_text(value: float) -> str:
    return f"{value:.2f}".lstrip("0") if value < 1 else "1"


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
        Show a legend for the contour regions and imputed studies.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 5.6 × 3.8 inch figure otherwise (legend on the right).

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    The standard error axis runs downwards from 0 (most precise studies at the top), as in
    metafor's ``funnel``. The solid vertical line marks the pooled estimate and the dashed
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
    yi = np.asarray(result.yi, dtype=float)
    sei = np.sqrt(np.asarray(result.vi, dtype=float))
    centre_fit = result
    imputed_mask = np.zeros(len(yi), dtype=bool)
    extra_y = np.empty(0)
    extra_se = np.empty(0)
    if filled is None:
        flags = getattr(result, "filled", None)
        if flags is not None:
            imputed_mask = np.asarray(flags, dtype=bool)
    elif hasattr(filled, "yi"):
        flags = getattr(filled, "filled", None)
        if flags is None:
            raise MetaAnalysisError("filled= must be a result of trim_and_fill() or a mask.")
        flags = np.asarray(flags, dtype=bool)
        extra_y = np.asarray(filled.yi, dtype=float)[flags]
        extra_se = np.sqrt(np.asarray(filled.vi, dtype=float)[flags])
        centre_fit = filled
    else:
        imputed_mask = np.asarray(filled, dtype=bool)
        if imputed_mask.shape != yi.shape:
            raise MetaAnalysisError(f"filled mask must have one value per study ({len(yi)}).")

    obs_y, obs_se = yi[~imputed_mask], sei[~imputed_mask]
    imp_y = np.concatenate([yi[imputed_mask], extra_y])
    imp_se = np.concatenate([sei[imputed_mask], extra_se])
    all_se = np.concatenate([obs_se, imp_se])
    all_y = np.concatenate([obs_y, imp_y])
    se_max = float(all_se.max()) * 1.05 if all_se.size else 1.0

    level = float(result.level)
    crit = float(stats.norm.ppf(0.5 + level / 200.0))
    est = float(centre_fit.estimate)
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
    z_levels = [float(stats.norm.ppf(0.5 + c / 2.0)) for c in levels]

    z_outer = max(z_levels + [crit])
    x_lo = min(float(all_y.min()), est - crit * se_max, -z_outer * se_max)
    x_hi = max(float(all_y.max()), est + crit * se_max, z_outer * se_max)
    pad = 0.05 * (x_hi - x_lo)
    x_lo, x_hi = x_lo - pad, x_hi + pad

    ax = new_axes(ax, (5.6, 3.8))
    se_grid = np.array([0.0, se_max])
    handles = []
    if levels:
        bounds = z_levels + [np.inf]
        shades = _SHADES
        for j, c in enumerate(levels):
            z_in, z_out = bounds[j], bounds[j + 1]
            shade = shades[min(j, len(shades) - 1)]
            inner = z_in * se_grid
            outer = np.full(2, x_hi) if not np.isfinite(z_out) else z_out * se_grid
            outer_left = np.full(2, x_lo) if not np.isfinite(z_out) else -z_out * se_grid
            region = ax.fill_betweenx(
                se_grid, inner, outer, color=shade, linewidth=0, zorder=0
            )  # fmt: skip
            region.set_gid(f"contour_{c:g}")
            mirror = ax.fill_betweenx(
                se_grid, outer_left, -inner, color=shade, linewidth=0, zorder=0
            )
            mirror.set_gid(f"contour_{c:g}")
            alpha_in = 1.0 - c
            alpha_next = 1.0 - levels[j + 1] if j + 1 < len(levels) else 0.0
            text = (
                f"{_p_text(alpha_next)} < p ≤ {_p_text(alpha_in)}"
                if alpha_next > 0
                else f"p ≤ {_p_text(alpha_in)}"
            )
            handles.append(Patch(facecolor=shade, edgecolor="none", label=text))

    estimate_line = ax.axvline(est, color=ACCENT, linewidth=1.0, zorder=1)
    estimate_line.set_gid("estimate_line")
    for sign in (-1.0, 1.0):
        (pseudo,) = ax.plot(
            [est, est + sign * crit * se_max], [0.0, se_max], color=INK, linewidth=0.8,
            linestyle=(0, (4, 3)), zorder=1,
        )  # fmt: skip
        pseudo.set_gid("pseudo_ci")
    if centre_fit is not result:
        original = ax.axvline(
            float(result.estimate), color=MUTED, linewidth=0.9, linestyle=":", zorder=1
        )
        original.set_gid("original_estimate_line")

    observed = ax.scatter(
        obs_y, obs_se, s=22, facecolors=INK, edgecolors=INK, linewidths=0.8, zorder=3
    )
    observed.set_gid("observed")
    if imp_y.size:
        imputed = ax.scatter(
            imp_y, imp_se, s=22, facecolors="white", edgecolors=INK, linewidths=0.9, zorder=3
        )
        imputed.set_gid("imputed")
        handles.append(
            ax.scatter([], [], s=22, facecolors="white", edgecolors=INK, label="Imputed study")
        )

    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(se_max, 0.0)  # standard error increases downwards
    tf = resolve_axis_transform(transform, result.measure)
    if tf is not None:
        set_transformed_ticks(ax, tf, x_lo, x_hi)
    label_axes(ax, effect_axis_label(result.measure, tf), "Standard error")
    despine(ax)
    if legend and handles:
        ax.legend(
            handles=handles, frameon=False, fontsize=SMALL_FONT_SIZE, loc="upper left",
            bbox_to_anchor=(1.02, 1.0), handlelength=1.2, borderaxespad=0.0,
        )  # fmt: skip
    return ax
