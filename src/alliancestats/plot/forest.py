"""Forest plot of a meta-analysis: study rows, pooled diamond, prediction interval, subgroups."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.patches import Polygon
from matplotlib.ticker import FixedFormatter, FixedLocator, MaxNLocator
from matplotlib.transforms import blended_transform_factory
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import require_result, safe_refit
from alliancestats.plot._style import (
    ACCENT,
    FONT_SIZE,
    INK,
    MUTED,
    SMALL_FONT_SIZE,
    despine,
    label_axes,
    new_axes,
)

__all__ = ["forest"]

_MEASURE_LABELS = {
    # measure: (label on the analysis scale, label after back-transformation)
    "ZCOR": ("Fisher's z", "Correlation (r)"),
    "COR": ("Correlation (r)", "Correlation (r)"),
    "RR": ("Log risk ratio", "Risk ratio"),
    "OR": ("Log odds ratio", "Odds ratio"),
    "SMD": ("Standardised mean difference", "Standardised mean difference"),
}
_NICE_RATIOS = (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100)  # 1-2-5: even in log
_DIAMOND_HALF_HEIGHT = 0.35
# layout of a new figure, in inches
_GAP_IN = 0.15  # between the axes and the first text column
_CI_COLUMN_IN = 1.55  # width reserved for "estimate [low, high]"
_WEIGHT_COLUMN_IN = 0.6
_PLOT_WIDTH_IN = 3.2
_CHAR_IN = 0.078  # approximate width of one (bold) label character at 9 pt


@dataclass(frozen=True)
class AxisTransform:
    """A back-transformation for the effect axis: function, inverse (or None) and name."""

    func: Callable[[np.ndarray], np.ndarray]
    inverse: Callable[[np.ndarray], np.ndarray] | None
    name: str


def resolve_axis_transform(transform: Any, measure: str | None) -> AxisTransform | None:
    """Interpret ``transform`` (None, "r", "exp", "auto" or a function) for an effect axis.

    Examples
    --------
    >>> resolve_axis_transform("r", "ZCOR").name
    'r'
    >>> resolve_axis_transform(None, "ZCOR") is None
    True
    """
    if transform is None:
        return None
    if callable(transform):
        return AxisTransform(transform, None, "custom")
    name = str(transform).lower()
    if name == "auto":
        m = (measure or "GEN").upper()
        name = "r" if m == "ZCOR" else "exp" if m in ("RR", "OR") else "none"
    if name in ("none", "identity"):
        return None
    if name in ("r", "z2r", "tanh"):
        return AxisTransform(np.tanh, np.arctanh, "r")
    if name == "exp":
        return AxisTransform(np.exp, np.log, "exp")
    raise MetaAnalysisError(
        f"Unknown transform {transform!r}; use None, 'r' (Fisher z to r), 'exp', 'auto' or a "
        "function."
    )


def format_number(value: float, digits: int = 2) -> str:
    """Fixed-decimal text with a typographic minus sign.

    Examples
    --------
    >>> format_number(-0.1234)
    '−0.12'
    """
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text.replace("-", "\u2212")


def _tick_label(value: float) -> str:
    text = f"{round(float(value), 10):g}"
    return text.replace("-", "\u2212")


def set_transformed_ticks(ax: Axes, tf: AxisTransform, lo: float, hi: float) -> None:
    """Place x ticks at round values of the back-transformed scale and label them so."""
    if tf.inverse is None:
        positions = MaxNLocator(nbins=6).tick_values(lo, hi)
        positions = positions[(positions >= lo) & (positions <= hi)]
        labels = [_tick_label(v) for v in tf.func(positions)]
    else:
        t_lo, t_hi = float(tf.func(np.array(lo))), float(tf.func(np.array(hi)))
        values: np.ndarray
        if tf.name == "exp":
            values = np.array([v for v in _NICE_RATIOS if t_lo <= v <= t_hi], dtype=float)
            if len(values) < 3:
                values = MaxNLocator(nbins=5).tick_values(t_lo, t_hi)
                values = values[(values > 0) & (values >= t_lo) & (values <= t_hi)]
        else:
            values = MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]).tick_values(t_lo, t_hi)
            values = values[(values >= t_lo) & (values <= t_hi) & (np.abs(values) < 1)]
        positions = tf.inverse(values)
        labels = [_tick_label(v) for v in values]
    ax.xaxis.set_major_locator(FixedLocator(positions))
    ax.xaxis.set_major_formatter(FixedFormatter(labels))


def effect_axis_label(measure: str, tf: AxisTransform | None) -> str:
    pair = _MEASURE_LABELS.get(str(measure).upper())
    if pair is None:
        return "Effect size"
    return pair[1] if tf is not None else pair[0]


def _subgroup_values(result: Any, subgroup: Any) -> np.ndarray | None:
    if subgroup is None:
        subgroup = getattr(result, "subgroup", None)
        if subgroup is None:
            return None
    if isinstance(subgroup, str):
        if subgroup not in result.data.columns:
            raise MetaAnalysisError(
                f"subgroup={subgroup!r} is not a column of the model's data; available: "
                f"{', '.join(map(str, result.data.columns))}."
            )
        values = result.data[subgroup].to_numpy()
    else:
        values = np.asarray(subgroup)
    if len(values) != result.k:
        raise MetaAnalysisError(
            f"subgroup has {len(values)} values but there are {result.k} studies."
        )
    if pd.isna(values).any():
        raise MetaAnalysisError("subgroup has missing values; every study needs a subgroup.")
    return values


def _sort_order(result: Any, sort: Any) -> np.ndarray:
    """Study positions from top to bottom."""
    k = int(result.k)
    if sort is None:
        return np.arange(k)
    descending = False
    if isinstance(sort, str):
        key_name = sort
        if key_name.startswith("-"):
            descending, key_name = True, key_name[1:]
        yi = np.asarray(result.yi, dtype=float)
        if key_name == "estimate":
            key: Any = yi
        elif key_name == "precision":
            key = np.asarray(result.vi, dtype=float)  # most precise first
        elif key_name == "weight":
            key = -np.asarray(result.weights, dtype=float)  # largest weight first
        elif key_name == "label":
            key = np.asarray([str(x) for x in result.labels])
        elif key_name in result.data.columns:
            key = result.data[key_name].to_numpy()
        else:
            raise MetaAnalysisError(
                f"sort={sort!r} is not understood; use 'estimate', 'precision', 'weight', "
                "'label', a column of the model's data (prefix '-' for descending), or an array."
            )
    else:
        key = np.asarray(sort)
        if len(key) != k:
            raise MetaAnalysisError(f"sort has {len(key)} values but there are {k} studies.")
    order = pd.Series(key).sort_values(kind="stable", ascending=not descending).index
    return np.asarray(order, dtype=int)


def _new_forest_axes(longest_label: int, n_rows: int, show_weights: bool) -> Axes:
    """A new figure sized so that labels, plot and text columns all fit without clipping."""
    import matplotlib.pyplot as plt

    left_in = 0.25 + _CHAR_IN * longest_label
    right_in = _GAP_IN + _CI_COLUMN_IN + (_WEIGHT_COLUMN_IN if show_weights else 0.0) + 0.1
    width = left_in + _PLOT_WIDTH_IN + right_in
    height = 0.75 + 0.24 * (n_rows + 2)
    fig = plt.figure(figsize=(width, height))
    bottom_in, top_in = 0.5, 0.15
    return fig.add_axes(
        (
            left_in / width,
            bottom_in / height,
            _PLOT_WIDTH_IN / width,
            (height - bottom_in - top_in) / height,
        )
    )


@dataclass
class _Row:
    kind: str  # "study", "header", "subtotal", "overall", "pi"
    label: str
    index: int = -1  # study position for study rows
    fit: Any = None  # model for summary rows
    members: tuple[int, ...] = ()  # study positions summarised by a subtotal row


def _diamond(ax: Axes, fit: Any, y: float, gid: str, label: str, face: str) -> None:
    h = _DIAMOND_HALF_HEIGHT
    vertices = [
        (fit.ci_low, y),
        (fit.estimate, y + h),
        (fit.ci_high, y),
        (fit.estimate, y - h),
    ]
    poly = Polygon(vertices, closed=True, facecolor=face, edgecolor=ACCENT, linewidth=0.9)
    poly.set_gid(gid)
    poly.set_label(label)
    ax.add_patch(poly)


def forest(
    result: Any,
    *,
    sort: str | Sequence[Any] | np.ndarray | None = None,
    subgroup: str | Sequence[Any] | np.ndarray | None = None,
    transform: str | Callable[[np.ndarray], np.ndarray] | None = None,
    show_weights: bool = True,
    show_pi: bool = True,
    xlabel: str | None = None,
    digits: int = 2,
    ax: Axes | None = None,
) -> Axes:
    """Forest plot: one row per study, the pooled diamond and the prediction interval.

    Parameters
    ----------
    result : MetaResult
        Fitted model without moderators (a trim-and-fill result works too: imputed studies
        are drawn with open squares).
    sort : str or array-like, optional
        Row order: ``"estimate"``, ``"precision"`` (most precise first), ``"weight"``
        (largest first), ``"label"``, a column of ``result.data`` (e.g. ``"year"``) — prefix
        ``"-"`` for descending — or one sort key per study. Default: data order.
    subgroup : str or array-like, optional
        Column of ``result.data`` (or one value per study) defining subgroups: each block gets
        a header, its studies and a subtotal diamond from a model fitted to that subgroup with
        the same settings. Defaults to the ``subgroup`` the model was fitted with, if any.
    transform : {None, "r", "exp", "auto"} or callable, optional
        Back-transformation for the axis and the text column. ``"r"`` turns Fisher z into
        correlations: positions stay on the z scale (so intervals keep their shape) and the
        tick labels show r. ``"auto"`` picks ``"r"`` for ZCOR and ``"exp"`` for RR/OR.
    show_weights : bool, default True
        Add a column with each study's weight (percent of the total).
    show_pi : bool, default True
        Add a row with the prediction interval of the random-effects model.
    xlabel : str, optional
        Axis label; default from ``result.measure``.
    digits : int, default 2
        Decimals in the text columns.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure (sized to the labels and the number of rows) is created
        otherwise. The text columns sit to the right of the Axes: on your own Axes leave room
        there (e.g. ``fig.subplots_adjust(right=0.6)``) or save with ``bbox_inches="tight"``.

    Returns
    -------
    matplotlib.axes.Axes

    Notes
    -----
    Square areas are proportional to the weights; study intervals are ``y_i ± z·sqrt(v_i)``
    (normal quantile at the model's level, as metafor's ``forest``); the diamond spans the
    pooled confidence interval, centred on the pooled estimate. Drawn elements carry ids for
    inspection: ``"study_points"``, ``"study_ci"``, ``"summary_diamond"``,
    ``"subgroup_diamond"``, ``"prediction_interval"``, ``"null_line"``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from alliancestats.meta import meta_analysis
    >>> from alliancestats.plot import forest
    >>> res = meta_analysis(r=[0.20, 0.35, 0.10, 0.28, 0.15], n=[60, 120, 85, 40, 200])
    >>> ax = forest(res, transform="r", sort="estimate")
    >>> len(ax.get_yticklabels())  # 5 studies, the pooled row and the prediction interval
    7
    """
    require_result(result, "forest()")
    X = np.asarray(result.X, dtype=float)
    if X.ndim == 2 and X.shape[1] != 1:
        raise MetaAnalysisError(
            "forest() draws models without moderators; for a meta-regression plot the fitted "
            "values against the moderator instead."
        )
    tf = resolve_axis_transform(transform, result.measure)
    yi = np.asarray(result.yi, dtype=float)
    vi = np.asarray(result.vi, dtype=float)
    weights = np.asarray(result.weights, dtype=float)
    labels = [str(x) for x in result.labels]
    filled = np.asarray(getattr(result, "filled", np.zeros(len(yi), dtype=bool)), dtype=bool)
    level = float(result.level)
    crit = float(stats.norm.ppf(0.5 + level / 200.0))
    ci_low, ci_high = yi - crit * np.sqrt(vi), yi + crit * np.sqrt(vi)

    order = _sort_order(result, sort)
    groups = _subgroup_values(result, subgroup)
    rows: list[_Row] = []
    if groups is None:
        rows += [_Row("study", labels[i], index=i) for i in order]
    else:
        seen = list(pd.unique(groups[order]))
        for g in seen:
            members = [i for i in order if groups[i] == g]
            rows.append(_Row("header", str(g)))
            rows += [_Row("study", labels[i], index=i) for i in members]
            sub = safe_refit(result, np.asarray(members, dtype=int))
            if sub is not None:  # a subgroup model that cannot be fitted gets no diamond
                rows.append(
                    _Row("subtotal", f"Subtotal (k = {sub.k})", fit=sub, members=tuple(members))
                )
            rows.append(_Row("spacer", ""))
    if not rows or rows[-1].kind != "spacer":
        rows.append(_Row("spacer", ""))
    model_name = (
        "Common-effect model" if result.method in ("FE", "EE", "CE") else "Random-effects model"
    )
    rows.append(_Row("overall", f"{model_name} (k = {result.k})", fit=result))
    common_effect = result.method in ("FE", "EE", "CE")  # no heterogeneity: no PI row
    has_pi = (
        show_pi and not common_effect and np.isfinite(result.pi_low) and np.isfinite(result.pi_high)
    )
    if has_pi:
        rows.append(_Row("pi", f"{level:g}% prediction interval", fit=result))

    n_rows = len(rows)
    ys = np.arange(n_rows, 0, -1, dtype=float)
    if ax is None:
        longest = max(len(r.label) for r in rows)
        ax = _new_forest_axes(longest, n_rows, show_weights)
    else:
        ax = new_axes(ax, (0.0, 0.0))  # checks that ax is an Axes; size unused
    despine(ax, left=True)

    study_rows = [(y, r) for y, r in zip(ys, rows, strict=True) if r.kind == "study"]
    idx = np.array([r.index for _, r in study_rows], dtype=int)
    y_study = np.array([y for y, _ in study_rows])
    segments = [[(ci_low[i], y), (ci_high[i], y)] for i, y in zip(idx, y_study, strict=True)]
    ci_lines = LineCollection(segments, colors=INK, linewidths=0.8)
    ci_lines.set_gid("study_ci")
    ax.add_collection(ci_lines)
    w_rel = weights[idx] / weights.max()
    sizes = 12.0 + 110.0 * w_rel
    faces = np.where(filled[idx], "white", INK)
    points = ax.scatter(
        yi[idx], y_study, s=sizes, marker="s", c=list(faces), edgecolors=INK, linewidths=0.8,
        zorder=3,
    )  # fmt: skip
    points.set_gid("study_points")

    for y, row in zip(ys, rows, strict=True):
        if row.kind == "subtotal":
            _diamond(ax, row.fit, y, "subgroup_diamond", row.label, "white")
        elif row.kind == "overall":
            _diamond(ax, row.fit, y, "summary_diamond", row.label, ACCENT)
        elif row.kind == "pi":
            (line,) = ax.plot(
                [row.fit.pi_low, row.fit.pi_high], [y, y], color=ACCENT, linewidth=1.2,
                solid_capstyle="butt", marker="|", markersize=6,
            )  # fmt: skip
            line.set_gid("prediction_interval")

    # axis limits, null line and ticks
    extremes = [ci_low.min(), ci_high.max(), result.ci_low, result.ci_high, 0.0]
    if has_pi:
        extremes += [result.pi_low, result.pi_high]
    for row in rows:
        if row.kind == "subtotal":
            extremes += [row.fit.ci_low, row.fit.ci_high]
    lo, hi = float(np.min(extremes)), float(np.max(extremes))
    pad = 0.04 * (hi - lo if hi > lo else 1.0)
    lo, hi = lo - pad, hi + pad
    ax.set_xlim(lo, hi)
    ax.set_ylim(0.4, n_rows + 1.2)
    null = ax.axvline(0.0, color=MUTED, linewidth=0.8, linestyle=(0, (4, 3)), zorder=0)
    null.set_gid("null_line")
    if tf is not None:
        set_transformed_ticks(ax, tf, lo, hi)
    label_axes(ax, xlabel if xlabel is not None else effect_axis_label(result.measure, tf))

    # row labels as y tick labels (headers and summaries in bold)
    label_rows = [(y, r) for y, r in zip(ys, rows, strict=True) if r.kind != "spacer"]
    ax.yaxis.set_major_locator(FixedLocator([y for y, _ in label_rows]))
    ax.yaxis.set_major_formatter(FixedFormatter([r.label for _, r in label_rows]))
    ax.tick_params(axis="y", length=0, labelsize=FONT_SIZE)
    for tick_label, (_, row) in zip(ax.get_yticklabels(), label_rows, strict=True):
        if row.kind in ("header", "overall"):
            tick_label.set_fontweight("bold")

    # text columns to the right of the axes (offsets fixed in inches, converted to axes units)
    fig = ax.figure
    axes_width_in = ax.get_position().width * fig.get_size_inches()[0]
    x_ci = 1.0 + _GAP_IN / axes_width_in
    x_weight = 1.0 + (_GAP_IN + _CI_COLUMN_IN) / axes_width_in
    blend = blended_transform_factory(ax.transAxes, ax.transData)
    to_text = tf.func if tf is not None else (lambda v: v)
    header_y = n_rows + 0.9
    unit = {"r": "r", "exp": effect_axis_label(result.measure, tf)}.get(
        tf.name if tf is not None else "", "Estimate"
    )
    text_kw = {"transform": blend, "va": "center", "fontsize": SMALL_FONT_SIZE, "color": INK}
    ax.text(
        x_ci, header_y, f"{unit} [{level:g}% CI]", fontweight="bold", gid="column_header", **text_kw
    )
    if show_weights:
        ax.text(x_weight, header_y, "Weight", fontweight="bold", gid="column_header", **text_kw)
    d = digits
    for y, row in zip(ys, rows, strict=True):
        if row.kind == "study":
            i = row.index
            est, a, b = (float(to_text(np.array(v))) for v in (yi[i], ci_low[i], ci_high[i]))
            weight_text = f"{weights[i]:.1f}%"
        elif row.kind in ("subtotal", "overall"):
            fit = row.fit
            est, a, b = (
                float(to_text(np.array(v))) for v in (fit.estimate, fit.ci_low, fit.ci_high)
            )
            if row.kind == "overall":
                weight_text = "100%"
            else:
                weight_text = f"{weights[list(row.members)].sum():.1f}%"
        elif row.kind == "pi":
            a, b = (float(to_text(np.array(v))) for v in (row.fit.pi_low, row.fit.pi_high))
            ax.text(
                x_ci,
                y,
                f"[{format_number(a, d)}, {format_number(b, d)}]",
                gid="estimate_text",
                **text_kw,
            )
            continue
        else:
            continue
        ax.text(
            x_ci, y, f"{format_number(est, d)} [{format_number(a, d)}, {format_number(b, d)}]",
            gid="estimate_text", **text_kw,
        )  # fmt: skip
        if show_weights and weight_text:
            ax.text(x_weight, y, weight_text, gid="weight_text", **text_kw)

    return ax
