"""Effect plots: model-implied means over a predictor, with confidence bands.

The means are estimated marginal means (:func:`alliancestats.marginal_means`): predictions of
the fixed part averaged over the categorical predictors not shown, other numeric predictors at
their means. A numeric ``by`` predictor is shown at its mean and one SD below and above
(ggeffects' ``"meansd"``), e.g. pain over sessions for patients whose average alliance is
low, average or high.

Examples
--------
>>> import alliancestats as als
>>> from alliancestats.plot import effect_plot
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain", "alliance"])
>>> fit = als.lmm("pain ~ session * alliance + (1 | patient)", df)
>>> ax = effect_plot(fit, "session", by="alliance")
>>> [t.get_text() for t in ax.get_legend().get_texts()]
['-1 SD (3.51)', 'mean (4.12)', '+1 SD (4.73)']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from alliancestats._validation import check_int
from alliancestats.errors import ParameterError
from alliancestats.plot._style import ACCENT, INK, SMALL_FONT_SIZE, despine, label_axes, new_axes

__all__ = ["effect_plot"]

#: colours of the ``by`` lines (Okabe & Ito 2008), after the house accent
LINE_COLOURS = (ACCENT, "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
LINE_STYLES = ("-", "--", ":", "-.")
EFFECT_GID = "effect"
BAND_GID = "ci"


def _by_values(frame: pd.DataFrame, by: str, values: Any) -> tuple[list, list[str]]:
    """Values of a numeric ``by`` predictor and their legend labels."""
    x = frame[by].astype(float)
    if isinstance(values, str):
        if values != "sd":
            raise ParameterError(f"by_values must be 'sd' or a list of values, got {values!r}")
        m, s = float(x.mean()), float(x.std())
        return [m - s, m, m + s], [f"-1 SD ({m - s:.2f})", f"mean ({m:.2f})",
                                   f"+1 SD ({m + s:.2f})"]
    vals = [float(v) for v in values]
    return vals, [f"{by} = {v:g}" for v in vals]


def _means(fit: Any, x: str, by: str | None, by_values: Any, at: dict | None, n_points: int,
           type_: str, level: float) -> tuple[Any, dict[str, str]]:
    from alliancestats.effects import _model
    from alliancestats.effects.marginal import marginal_means

    frame = _model.model_frame(fit)
    levels = _model.factor_levels(fit)
    at = dict(at or {})
    if x not in frame.columns:
        raise ParameterError(f"x={x!r} is not a predictor of the model")
    if x not in levels and x not in at:
        lo, hi = float(frame[x].astype(float).min()), float(frame[x].astype(float).max())
        at[x] = np.linspace(lo, hi, n_points)
    labels: dict[str, str] = {}
    if by is not None and by not in levels and by not in at:
        values, texts = _by_values(frame, by, by_values)
        at[by] = values
        labels = {f"{v:g}": t for v, t in zip(values, texts, strict=True)}
    mm = marginal_means(fit, x, by=by, at=at, type=type_, level=level)
    return mm, labels


def effect_plot(
    fit: Any,
    x: str | None = None,
    *,
    by: str | None = None,
    by_values: str | Sequence[float] = "sd",
    at: dict | None = None,
    type: str = "response",  # noqa: A002 - as marginal_means
    level: float = 0.95,
    n_points: int = 50,
    xlabel: str | None = None,
    ylabel: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Plot model-implied means over ``x`` (lines with bands, or points with error bars).

    Parameters
    ----------
    fit : MixedResult or MarginalMeans
        A fitted model (means are computed here) or means from
        :func:`~alliancestats.marginal_means` (plotted as they are; ``x`` defaults to their
        first ``specs`` variable and ``by`` to their first ``by`` variable).
    x : str
        Predictor on the horizontal axis; numeric predictors are evaluated at ``n_points``
        values between their observed minimum and maximum.
    by : str, optional
        Predictor drawn as separate lines: every level of a categorical predictor, or the
        ``by_values`` of a numeric one.
    by_values : "sd" or list of float
        Values of a numeric ``by``: ``"sd"`` gives its mean and one SD below and above (over
        the fitted rows).
    at : dict, optional
        Values of other predictors (passed to ``marginal_means``).
    type : {"response", "link"}
        GLMM scale.
    level : float, default 0.95
        Confidence level of the bands.
    n_points : int, default 50
        Number of values of a numeric ``x``.
    xlabel, ylabel : str, optional
        Axis labels (default: ``x`` and ``"Predicted " + response``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.5 x 3.2 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        Lines (or point markers) have ``gid`` ``"effect"`` and bands ``"ci"``.

    Raises
    ------
    ParameterError
        ``x`` missing or not a predictor, bad ``by_values``.

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
    >>> fit = als.lmm("pain ~ session * arm + (1 | patient)", df)
    >>> from alliancestats.plot import effect_plot
    >>> ax = effect_plot(fit, "session", by="arm")
    >>> sum(line.get_gid() == "effect" for line in ax.lines)
    2
    """
    from alliancestats.effects.marginal import MarginalMeans

    n_points = check_int("n_points", n_points, minimum=2)
    labels: dict[str, str] = {}
    if isinstance(fit, MarginalMeans):
        mm = fit
        x = mm.specs[0] if x is None else x
        by = (mm.by[0] if mm.by else None) if by is None else by
    else:
        if x is None:
            raise ParameterError("x: name the predictor for the horizontal axis")
        mm, labels = _means(fit, x, by, by_values, at, n_points, type, level)
    tab = mm.table
    if x not in tab.columns or (by is not None and by not in tab.columns):
        raise ParameterError(f"the means have no column {x!r}" + (f" or {by!r}" if by else ""))
    ax = new_axes(ax, (4.5, 3.2))
    numeric_x = pd.api.types.is_numeric_dtype(tab[x])
    groups = [(None, tab)] if by is None else list(tab.groupby(by, sort=False))
    for k, (key, part) in enumerate(groups):
        colour = LINE_COLOURS[k % len(LINE_COLOURS)]
        label = "_nolegend_" if key is None else labels.get(
            f"{key:g}" if isinstance(key, float) else str(key), str(key))
        _draw(ax, part, x, numeric_x, colour, LINE_STYLES[k % len(LINE_STYLES)], label, k,
              len(groups))
    despine(ax)
    response = getattr(mm.result, "response", "") or "outcome"
    label_axes(ax, x if xlabel is None else xlabel,
               f"Predicted {response}" if ylabel is None else ylabel)
    if by is not None:
        legend = ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, title=by,
                           title_fontsize=SMALL_FONT_SIZE)
        for text in legend.get_texts():
            text.set_color(INK)
    return ax


def _draw(ax: Axes, part: pd.DataFrame, x: str, numeric_x: bool, colour: str, style: str,
          label: str, k: int, n: int) -> None:
    est = part["estimate"].to_numpy(float)
    lo, hi = part["ci_low"].to_numpy(float), part["ci_high"].to_numpy(float)
    if numeric_x:
        xs = part[x].to_numpy(float)
        band = ax.fill_between(xs, lo, hi, color=colour, alpha=0.15, linewidth=0)
        band.set_gid(BAND_GID)
        ax.plot(xs, est, color=colour, linestyle=style, linewidth=1.6, label=label,
                gid=EFFECT_GID)
        return
    positions = np.arange(len(part)) + (k - (n - 1) / 2) * 0.12
    bars = ax.errorbar(positions, est, yerr=[est - lo, hi - est], fmt="o", color=colour,
                       markersize=4, capsize=2, linewidth=1.0, label=label)
    bars.lines[0].set_gid(EFFECT_GID)
    for line in bars.lines[2]:
        line.set_gid(BAND_GID)
    ax.set_xticks(np.arange(len(part)), part[x].astype(str).tolist())
