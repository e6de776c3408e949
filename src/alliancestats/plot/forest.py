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
from matplotlib.ticker import FixedFormatter, FixedLocator
from matplotlib.transforms import blended_transform_factory
from scipy import stats

from alliancestats._format import format_p
from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import require_result, safe_refit
from alliancestats.plot._effect_axis import (
    AxisTransform,
    effect_axis_label,
    format_number,
    resolve_axis_transform,
    set_effect_ticks,
)
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

_DIAMOND_HALF_HEIGHT = 0.35
# layout of a new figure, in inches
_GAP_IN = 0.15  # between the axes and the first text column
_N_COLUMN_IN = 0.45
_CI_COLUMN_IN = 1.55  # width reserved for "estimate [low, high]"
_WEIGHT_COLUMN_IN = 0.6
_PLOT_WIDTH_IN = 3.2
_CHAR_IN = 0.078  # approximate width of one (bold) label character at 9 pt
_COMMON = ("FE", "EE", "CE", "MH", "PETO")


@dataclass
class _Row:
    kind: str  # "study", "header", "subtotal", "overall", "pi", "het", "spacer"
    label: str
    index: int = -1  # study position for study rows
    fit: Any = None  # model for summary rows
    members: tuple[int, ...] = ()  # study positions summarised by a subtotal row


@dataclass
class _Columns:
    """Positions (axes x coordinates) of the text columns right of the plot."""

    n: float | None
    ci: float
    weight: float | None


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


def _sample_sizes(result: Any, n: Any) -> np.ndarray | None:
    """Sample size per study: ``n`` (column or values), else the data's ``n``/``ni`` column."""
    if n is False:
        return None
    if n is None:
        for name in ("n", "ni"):
            if name in result.data.columns:
                return pd.to_numeric(result.data[name], errors="coerce").to_numpy(dtype=float)
        return None
    if isinstance(n, str):
        if n not in result.data.columns:
            raise MetaAnalysisError(f"n={n!r} is not a column of the model's data.")
        return pd.to_numeric(result.data[n], errors="coerce").to_numpy(dtype=float)
    values = np.asarray(n, dtype=float)
    if values.shape != (result.k,):
        raise MetaAnalysisError(f"n has {values.size} values but there are {result.k} studies.")
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
        keys = {
            "estimate": lambda: np.asarray(result.yi, dtype=float),
            "precision": lambda: np.asarray(result.vi, dtype=float),  # most precise first
            "weight": lambda: -np.asarray(result.weights, dtype=float),  # largest first
            "label": lambda: np.asarray([str(x) for x in result.labels]),
        }
        if key_name in keys:
            key: Any = keys[key_name]()
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


def heterogeneity_text(result: Any) -> str:
    """One line on heterogeneity for the summary row, e.g. ``"τ² = 0.01, I² = 61.7%, ..."``.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65], vi=[0.03, 0.03, 0.05, 0.01])
    >>> heterogeneity_text(res).split(";")[0]
    'Heterogeneity: τ² = 0.04'
    """
    parts = []
    if result.method not in _COMMON and not result.multilevel:
        parts.append(f"τ² = {result.tau2:.2f}")
    parts.append(f"I² = {result.i2:.1f}%")
    df = result.k - result.p
    parts.append(f"Q({df}) = {result.q:.2f}, p {format_p(result.q_p, style='apa')}")
    return "Heterogeneity: " + "; ".join(parts)


def _rows(result: Any, order: np.ndarray, groups: np.ndarray | None, show_pi: bool,
          show_het: bool) -> list[_Row]:  # fmt: skip
    labels = [str(x) for x in result.labels]
    rows: list[_Row] = []
    if groups is None:
        rows += [_Row("study", labels[i], index=i) for i in order]
    else:
        for g in pd.unique(groups[order]):
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
    common = result.method in _COMMON
    name = "Common-effect model" if common else "Random-effects model"
    rows.append(_Row("overall", f"{name} (k = {result.k})", fit=result))
    if show_pi and not common and np.isfinite(result.pi_low) and np.isfinite(result.pi_high):
        rows.append(_Row("pi", f"{result.level:g}% prediction interval", fit=result))
    if show_het and result.k > result.p:
        rows.append(_Row("het", "", fit=result))
    return rows


def _new_forest_axes(longest_label: int, n_rows: int, columns_in: float) -> Axes:
    """A new figure sized so that labels, plot and text columns all fit without clipping."""
    import matplotlib.pyplot as plt

    left_in = 0.25 + _CHAR_IN * longest_label
    right_in = _GAP_IN + columns_in + 0.1
    width = left_in + _PLOT_WIDTH_IN + right_in
    height = 0.75 + 0.24 * (n_rows + 2)
    fig = plt.figure(figsize=(width, height))
    bottom_in, top_in = 0.5, 0.15
    return fig.add_axes(
        (left_in / width, bottom_in / height, _PLOT_WIDTH_IN / width,
         (height - bottom_in - top_in) / height)
    )  # fmt: skip


def _diamond(ax: Axes, fit: Any, y: float, gid: str, label: str, face: str) -> None:
    h = _DIAMOND_HALF_HEIGHT
    vertices = [(fit.ci_low, y), (fit.estimate, y + h), (fit.ci_high, y), (fit.estimate, y - h)]
    poly = Polygon(vertices, closed=True, facecolor=face, edgecolor=ACCENT, linewidth=0.9)
    poly.set_gid(gid)
    poly.set_label(label)
    ax.add_patch(poly)


def _draw(
    ax: Axes, result: Any, rows: list[_Row], ys: np.ndarray, ci: tuple[np.ndarray, np.ndarray]
) -> None:
    """Study squares with their intervals, diamonds and the prediction interval."""
    yi = np.asarray(result.yi, dtype=float)
    weights = np.asarray(result.weights, dtype=float)
    filled = np.asarray(getattr(result, "filled", np.zeros(len(yi), dtype=bool)), dtype=bool)
    study = [(y, r) for y, r in zip(ys, rows, strict=True) if r.kind == "study"]
    idx = np.array([r.index for _, r in study], dtype=int)
    y_study = np.array([y for y, _ in study])
    segments = [[(ci[0][i], y), (ci[1][i], y)] for i, y in zip(idx, y_study, strict=True)]
    lines = LineCollection(segments, colors=INK, linewidths=0.8)
    lines.set_gid("study_ci")
    ax.add_collection(lines)
    sizes = 12.0 + 110.0 * weights[idx] / weights.max()
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


def _axis(ax: Axes, result: Any, rows: list[_Row], ci: tuple[np.ndarray, np.ndarray],
          tf: AxisTransform | None, xlabel: str | None) -> None:  # fmt: skip
    """Limits covering every interval, ticks covering the limits, null line, row labels."""
    extremes = [ci[0].min(), ci[1].max(), result.ci_low, result.ci_high, 0.0]
    for row in rows:
        if row.kind == "subtotal":
            extremes += [row.fit.ci_low, row.fit.ci_high]
        elif row.kind == "pi":
            extremes += [row.fit.pi_low, row.fit.pi_high]
    lo, hi = float(np.min(extremes)), float(np.max(extremes))
    lo, hi = set_effect_ticks(ax, tf, lo, hi)
    pad = 0.02 * (hi - lo if hi > lo else 1.0)
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_ylim(0.4, len(rows) + 1.2)
    null = ax.axvline(0.0, color=MUTED, linewidth=0.8, linestyle=(0, (4, 3)), zorder=0)
    null.set_gid("null_line")
    label_axes(ax, xlabel if xlabel is not None else effect_axis_label(result.measure, tf))
    ys = np.arange(len(rows), 0, -1, dtype=float)
    labelled = [(y, r) for y, r in zip(ys, rows, strict=True) if r.kind not in ("spacer", "het")]
    ax.yaxis.set_major_locator(FixedLocator([y for y, _ in labelled]))
    ax.yaxis.set_major_formatter(FixedFormatter([r.label for _, r in labelled]))
    ax.tick_params(axis="y", length=0, labelsize=FONT_SIZE)
    for tick_label, (_, row) in zip(ax.get_yticklabels(), labelled, strict=True):
        if row.kind in ("header", "overall"):
            tick_label.set_fontweight("bold")


def _summary_text(row: _Row, weights: np.ndarray, n: np.ndarray | None) -> tuple[Any, ...]:
    fit = row.fit
    if row.kind == "overall":
        total_n = None if n is None else float(np.nansum(n))
        return (fit.estimate, fit.ci_low, fit.ci_high), "100%", total_n
    members = list(row.members)
    total_n = None if n is None else float(np.nansum(n[members]))
    return (fit.estimate, fit.ci_low, fit.ci_high), f"{weights[members].sum():.1f}%", total_n


def _texts(ax: Axes, result: Any, rows: list[_Row], ys: np.ndarray, cols: _Columns,
           ci: tuple[np.ndarray, np.ndarray], tf: AxisTransform | None, n: np.ndarray | None,
           digits: int) -> None:  # fmt: skip
    """The n, estimate [CI] and weight columns, and the heterogeneity line."""
    blend = blended_transform_factory(ax.transAxes, ax.transData)
    to_text = tf.func if tf is not None else (lambda v: v)
    kw = {"transform": blend, "va": "center", "fontsize": SMALL_FONT_SIZE, "color": INK}
    unit = {"r": "r", "exp": effect_axis_label(result.measure, tf).replace(" (log scale)", "")}.get(
        tf.name if tf is not None else "", "Estimate"
    )
    top = len(rows) + 0.9
    ax.text(
        cols.ci, top, f"{unit} [{result.level:g}% CI]", fontweight="bold", gid="column_header", **kw
    )
    if cols.n is not None:
        ax.text(cols.n, top, "n", fontweight="bold", gid="column_header", **kw)
    if cols.weight is not None:
        ax.text(cols.weight, top, "Weight", fontweight="bold", gid="column_header", **kw)
    weights = np.asarray(result.weights, dtype=float)
    yi = np.asarray(result.yi, dtype=float)
    fmt = lambda v: format_number(float(to_text(np.array(v))), digits)  # noqa: E731
    for y, row in zip(ys, rows, strict=True):
        if row.kind == "het":
            ax.text(0.01, y, heterogeneity_text(row.fit), gid="heterogeneity_text",
                    **{**kw, "color": MUTED})  # fmt: skip
            continue
        if row.kind == "pi":
            ax.text(
                cols.ci,
                y,
                f"[{fmt(row.fit.pi_low)}, {fmt(row.fit.pi_high)}]",
                gid="estimate_text",
                **kw,
            )
            continue
        if row.kind == "study":
            i = row.index
            est, weight, size = (
                (yi[i], ci[0][i], ci[1][i]),
                f"{weights[i]:.1f}%",
                None if n is None else n[i],
            )
        elif row.kind in ("subtotal", "overall"):
            est, weight, size = _summary_text(row, weights, n)
        else:
            continue
        ax.text(
            cols.ci, y, f"{fmt(est[0])} [{fmt(est[1])}, {fmt(est[2])}]", gid="estimate_text", **kw
        )
        if cols.weight is not None:
            ax.text(cols.weight, y, weight, gid="weight_text", **kw)
        if cols.n is not None and size is not None and np.isfinite(size):
            ax.text(cols.n, y, f"{size:,.0f}", gid="n_text", **kw)


def forest(
    result: Any,
    *,
    sort: str | Sequence[Any] | np.ndarray | None = None,
    subgroup: str | Sequence[Any] | np.ndarray | None = None,
    transform: str | Callable[[np.ndarray], np.ndarray] | None = None,
    n: str | Sequence[float] | bool | None = None,
    show_weights: bool = True,
    show_pi: bool = True,
    show_heterogeneity: bool = True,
    xlabel: str | None = None,
    digits: int = 2,
    ax: Axes | None = None,
) -> Axes:
    """Forest plot: one row per study, the pooled diamond, the prediction interval and heterogeneity.

    Parameters
    ----------
    result : MetaResult
        Fitted model without moderators (a trim-and-fill result works too: imputed studies
        are drawn with open squares).
    sort : str or array-like, optional
        Row order: ``"estimate"``, ``"precision"`` (most precise first), ``"weight"``
        (largest first), ``"label"``, a column of ``result.data`` (e.g. ``"year"``) -- prefix
        ``"-"`` for descending -- or one sort key per study. Default: data order.
    subgroup : str or array-like, optional
        Column of ``result.data`` (or one value per study) defining subgroups: each block gets
        a header, its studies and a subtotal diamond from a model fitted to that subgroup with
        the same settings. Defaults to the ``subgroup`` the model was fitted with, if any.
    transform : {None, "r", "exp", "auto"} or callable, optional
        Back-transformation for the tick labels and the text column. Positions stay on the
        analysis scale (so intervals keep their shape) and the axis label names that scale,
        e.g. "Correlation r (Fisher's z scale)" or "Risk ratio (log scale)". ``"auto"`` picks
        ``"r"`` for Fisher z and ``"exp"`` for log ratios.
    n : str, array-like or bool, optional
        Sample sizes for an ``n`` column: a column of ``result.data`` or one value per study.
        By default the data's ``n`` (from :func:`~alliancestats.meta.effect_sizes`) or ``ni``
        column is used when present; ``False`` hides the column.
    show_weights : bool, default True
        Add a column with each study's weight (percent of the total).
    show_pi : bool, default True
        Add a row with the prediction interval of the random-effects model.
    show_heterogeneity : bool, default True
        Add a line with τ², I² and Cochran's Q under the pooled estimate.
    xlabel : str, optional
        Axis label; default from ``result.measure`` and ``transform``.
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
    pooled confidence interval; the x ticks cover every interval drawn. Drawn elements carry
    ids for inspection: ``"study_points"``, ``"study_ci"``, ``"summary_diamond"``,
    ``"subgroup_diamond"``, ``"prediction_interval"``, ``"null_line"``, and the texts
    ``"estimate_text"``, ``"weight_text"``, ``"n_text"``, ``"heterogeneity_text"``.

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
    >>> [t.get_text() for t in ax.texts if t.get_gid() == "n_text"][-1]  # total N
    '505'
    """
    require_result(result, "forest()")
    X = np.asarray(result.X, dtype=float)
    if X.ndim == 2 and X.shape[1] != 1:
        raise MetaAnalysisError(
            "forest() draws models without moderators; for a meta-regression use the bubble "
            "plot (alliancestats.plot.bubble)."
        )
    tf = resolve_axis_transform(transform, result.measure)
    yi, vi = np.asarray(result.yi, dtype=float), np.asarray(result.vi, dtype=float)
    crit = float(stats.norm.ppf(0.5 + float(result.level) / 200.0))
    ci = (yi - crit * np.sqrt(vi), yi + crit * np.sqrt(vi))
    sizes = _sample_sizes(result, n)
    groups = _subgroup_values(result, subgroup)
    rows = _rows(result, _sort_order(result, sort), groups, show_pi, show_heterogeneity)
    ys = np.arange(len(rows), 0, -1, dtype=float)
    columns_in = (
        _CI_COLUMN_IN
        + (_N_COLUMN_IN if sizes is not None else 0)
        + (_WEIGHT_COLUMN_IN if show_weights else 0)
    )
    if ax is None:
        ax = _new_forest_axes(max(len(r.label) for r in rows), len(rows), columns_in)
    else:
        ax = new_axes(ax, (0.0, 0.0))  # checks that ax is an Axes; size unused
    despine(ax, left=True)
    _draw(ax, result, rows, ys, ci)
    _axis(ax, result, rows, ci, tf, xlabel)
    width_in = ax.get_position().width * ax.figure.get_size_inches()[0]
    x = 1.0 + _GAP_IN / width_in
    cols = _Columns(n=None, ci=x, weight=None)
    if sizes is not None:
        cols.n, x = x, x + _N_COLUMN_IN / width_in
    cols.ci = x
    if show_weights:
        cols.weight = x + _CI_COLUMN_IN / width_in
    _texts(ax, result, rows, ys, cols, ci, tf, sizes, digits)
    return ax
