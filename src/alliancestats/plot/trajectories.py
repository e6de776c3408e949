"""Individual and mean trajectories of a session-level measure ("spaghetti plot").

Two figures: :func:`trajectories` (one panel) and :func:`trajectory_panels` (one panel per
group, e.g. per treatment arm, instead of overplotting them). Both show what a reviewer asks
for: the number of observed values at each session above the plot, a sentence when that
number falls steeply (observed means at late sessions then describe only the patients still
observed), the number of individual lines drawn, readable legend titles, and optionally the
model-implied mean trajectory of a fitted mixed model next to the observed means.

Examples
--------
>>> from alliancestats.simulate import simulate_sessions
>>> from alliancestats.plot.trajectories import session_summary
>>> df = simulate_sessions(n_therapists=3, sessions=4, seed=1)
>>> list(session_summary(df, "pain").columns)
['session', 'n', 'mean', 'sd', 'ci_low', 'ci_high']
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
from scipy import stats

from alliancestats._validation import check_int, check_level
from alliancestats.errors import DataValidationError, ParameterError
from alliancestats.plot._style import (
    ACCENT,
    INK,
    MUTED,
    PALETTE,
    SMALL_FONT_SIZE,
    apply_style,
    despine,
    label_axes,
    new_axes,
    readable_label,
    styled_size,
)
from alliancestats.plot.trajectory_marks import (
    attrition_note,
    draw_counts,
    model_means,
    write_note,
)

__all__ = ["session_summary", "trajectories", "trajectory_panels"]

#: colours for groups (the house palette: colour-blind-safe, Okabe & Ito 2008)
GROUP_COLOURS = PALETTE

#: ``Line2D.get_gid()`` of the individual-patient lines, the mean lines and the model lines
TRAJECTORY_GID = "trajectory"
MEAN_GID = "mean"
BAND_GID = "ci"
MODEL_GID = "model"


def _frame(data: Any) -> pd.DataFrame:
    frame = getattr(data, "data", data)  # SessionData or DataFrame
    if not isinstance(frame, pd.DataFrame):
        raise ParameterError(
            f"data must be a pandas DataFrame or a SessionData, got {type(data).__name__}"
        )
    return frame


def _check_columns(frame: pd.DataFrame, **roles: str | None) -> None:
    for role, col in roles.items():
        if col is not None and col not in frame.columns:
            shown = ", ".join(map(str, frame.columns[:20]))
            raise DataValidationError(
                f"{role}={col!r} is not a column of the data; columns are: {shown}"
                + (" ..." if frame.columns.size > 20 else "")
            )


def _numeric(frame: pd.DataFrame, col: str, role: str) -> pd.Series:
    values = frame[col]
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        raise DataValidationError(
            f"{role} column {col!r} must be numeric (dtype is {values.dtype}); score or convert "
            "it first, e.g. with alliancestats.load_sessions"
        )
    out = values.astype(float)
    n_inf = int(np.isinf(out.to_numpy(dtype=float, na_value=np.nan)).sum())
    if n_inf:
        raise DataValidationError(
            f"{role} column {col!r} has {n_inf} infinite value(s); replace them (e.g. with "
            "NaN) before plotting"
        )
    return out


def session_summary(
    data: Any,
    y: str,
    *,
    session: str = "session",
    group: str | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Mean of ``y`` by session (and group) with a t-based confidence interval.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long data, one row per patient-session.
    y : str
        Numeric column to summarise; missing values are left out.
    session : str, default "session"
        Session-number column.
    group : str, optional
        Column whose levels are summarised separately.
    level : float, default 0.95
        Confidence level of the interval ``mean ± t(level, n-1) · sd / √n``.

    Returns
    -------
    pandas.DataFrame
        Columns ``[group,] session, n, mean, sd, ci_low, ci_high``; the interval is missing
        where fewer than two values exist. These are the observed (available-case) means:
        under dropout they describe the patients still attending, not the cohort.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"session": [1, 1, 2, 2], "pain": [4.0, 6.0, 3.0, None]})
    >>> session_summary(d, "pain")[["session", "n", "mean"]]
       session  n  mean
    0        1  2   5.0
    1        2  1   3.0
    """
    frame = _frame(data)
    _check_columns(frame, y=y, session=session, group=group)
    if 1 < level < 100:  # a percentage (95), as meta_analysis(level=) also accepts
        level = level / 100
    if not 0 < level < 1:
        raise ParameterError(
            f"level must lie strictly between 0 and 1 (or be a percentage), got {level}"
        )
    values = _numeric(frame, y, "y")
    keys = [group, session] if group is not None else [session]
    work = frame[keys].assign(_y=values).dropna(subset=["_y"])
    out = work.groupby(keys, sort=True)["_y"].agg(n="count", mean="mean", sd="std").reset_index()
    n = out["n"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + level / 2, n - 1) * out["sd"].to_numpy() / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    out["n"] = out["n"].astype(np.int64)
    return out


@dataclass(frozen=True)
class _Options:
    """Checked arguments shared by the two figure functions."""

    y: str
    patient: str
    session: str
    group: str | None
    n_patients: int | None
    mean: bool
    level: float
    min_n: int
    attrition: float | None
    counts: bool
    model: Any
    legend_title: str | None


def _options(y, patient, session, group, n_patients, mean, level, min_n, attrition, counts,
             model, legend_title) -> _Options:
    if n_patients is not None and (
        isinstance(n_patients, bool)
        or not isinstance(n_patients, Real)
        or not (n_patients >= 0 and float(n_patients).is_integer())
    ):
        raise ParameterError(
            f"n_patients must be a non-negative integer or None, got {n_patients!r}"
        )
    if 1 < level < 100:  # a percentage (95), as session_summary accepts
        level = level / 100
    if attrition is not None and not (
        isinstance(attrition, Real) and not isinstance(attrition, bool) and 0 < attrition <= 1
    ):
        raise ParameterError(
            f"attrition must be a share between 0 and 1 (e.g. 0.3 for a 30% fall) or None, "
            f"got {attrition!r}"
        )
    title = legend_title if legend_title is not None else (
        readable_label(group) if group is not None else None)
    return _Options(y, patient, session, group,
                    None if n_patients is None else int(n_patients), bool(mean),
                    check_level(level), check_int("min_n", min_n, minimum=1),
                    None if attrition is None else float(attrition), bool(counts), model,
                    title)


def _prepare(data: Any, o: _Options) -> pd.DataFrame:
    frame = _frame(data)
    _check_columns(frame, y=o.y, patient=o.patient, session=o.session, group=o.group)
    values = _numeric(frame, o.y, "y")
    _numeric(frame, o.session, "session")
    keep = [c for c in (o.patient, o.session, o.group) if c is not None]
    work = frame[keep].assign(_y=values).dropna(subset=["_y", o.session])
    if o.group is not None:
        work = work.dropna(subset=[o.group])
    return work.sort_values([o.patient, o.session])


def _counts(part: pd.DataFrame, session: str) -> pd.DataFrame:
    return part.groupby(session, sort=True)["_y"].count().rename("n").reset_index()


def _draw_patients(ax: Axes, part: pd.DataFrame, o: _Options, rng: np.random.Generator,
                   colour: str) -> tuple[int, int]:
    ids = part[o.patient].unique()
    take = ids.size if o.n_patients is None else min(o.n_patients, ids.size)
    chosen = set(rng.choice(ids, size=take, replace=False)) if take else set()
    for _pid, rows in part[part[o.patient].isin(chosen)].groupby(o.patient, sort=True):
        ax.plot(rows[o.session].to_numpy(float), rows["_y"].to_numpy(), color=colour,
                alpha=0.35, linewidth=0.6, gid=TRAJECTORY_GID, label="_nolegend_", zorder=1)
    return take, int(ids.size)


def _draw_mean(ax: Axes, part: pd.DataFrame, o: _Options, colour: str, label: str) -> None:
    summ = session_summary(part, "_y", session=o.session, level=o.level)
    summ = summ[summ["n"] >= o.min_n]
    x = summ[o.session].to_numpy(float)
    band = ax.fill_between(x, summ["ci_low"].to_numpy(), summ["ci_high"].to_numpy(),
                           color=colour, alpha=0.2, linewidth=0, zorder=2)
    band.set_gid(BAND_GID)
    ax.plot(x, summ["mean"].to_numpy(), color=colour, linewidth=1.8, marker="o", markersize=3,
            gid=MEAN_GID, label=label, zorder=3)


def _draw_model(ax: Axes, table: pd.DataFrame, session: str, colour: str, label: str) -> None:
    ax.plot(table[session].to_numpy(float), table["estimate"].to_numpy(), color=colour,
            linewidth=1.3, linestyle="--", gid=MODEL_GID, label=label, zorder=4)


def _model_table(o: _Options, work: pd.DataFrame) -> tuple[pd.DataFrame | None, bool]:
    if o.model is None:
        return None, False
    sessions = np.unique(work[o.session].to_numpy(float))
    return model_means(o.model, o.y, o.session, o.group, sessions, o.level)


def _model_part(table: pd.DataFrame, split: bool, group: str | None, name: Any) -> pd.DataFrame:
    if not split or group is None:
        return table
    return table[table[group].astype(str) == str(name)]


def _patients_label(drawn: int, total: int) -> str | None:
    if drawn == 0:
        return None
    if drawn == total:
        return f"all {total} patients (thin lines)"
    return f"{drawn} of {total} patients, random (thin lines)"


def _finish(ax: Axes, o: _Options, xlabel: str, ylabel: str | None,
            patients: tuple[str | None, str], extra: list[Line2D], title: str | None) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    despine(ax)
    label_axes(ax, xlabel, ylabel if ylabel is not None else o.y)
    handles, labels = ax.get_legend_handles_labels()
    handles, labels = list(handles), list(labels)
    for proxy in extra:
        handles.append(proxy)
        labels.append(proxy.get_label())
    label, colour = patients
    if label is not None:
        handles.append(Line2D([], [], color=colour, alpha=0.6, linewidth=0.8))
        labels.append(label)
    if handles:
        legend = ax.legend(handles, labels, frameon=False, fontsize=SMALL_FONT_SIZE,
                           title=title, title_fontsize=SMALL_FONT_SIZE, loc="best")
        for text in legend.get_texts():
            text.set_color(INK)


def _annotate(ax: Axes, rows: list[tuple[str, str, pd.DataFrame]], o: _Options,
              overall: pd.DataFrame) -> float:
    """Counts above the axes and the attrition sentence; returns the height used (points)."""
    rise = draw_counts(ax, rows, o.session) if o.counts else 0.0
    note = attrition_note(overall, o.attrition, o.session)
    if note:
        rise += write_note(ax, note, rise)
    return rise


def _reserve(ax: Axes, title: str, rise: float, **kw: Any) -> None:
    """A title above the counts and note; its padding makes the layout keep their room."""
    ax.set_title(title or " ", pad=rise + 3, **kw)


def trajectories(
    data: Any,
    y: str,
    *,
    patient: str = "patient",
    session: str = "session",
    group: str | None = None,
    n_patients: int | None = 40,
    mean: bool = True,
    level: float = 0.95,
    seed: int | None = 0,
    ylabel: str | None = None,
    xlabel: str = "Session",
    model: Any = None,
    counts: bool = True,
    attrition: float | None = 0.3,
    min_n: int = 1,
    legend_title: str | None = None,
    style: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Plot individual trajectories of ``y`` over sessions plus the mean with its CI.

    Thin grey (or group-coloured) lines show a random subsample of patients; a thick line with
    markers shows the mean by session with a shaded confidence band (see
    :func:`session_summary`). Above the plot, a row of labels gives the number of observed
    values at each session (one row per group), and a sentence says when that number falls
    by ``attrition`` or more: the observed means at late sessions then describe only the
    patients still observed. With ``model``, the model-implied mean trajectory is drawn as a
    dashed line. Groups share one panel here; :func:`trajectory_panels` gives each group its
    own panel, which reads better when the groups' lines overlap.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long data, one row per patient-session.
    y : str
        Numeric column to plot (e.g. ``"alliance"``, ``"pain"``).
    patient, session : str
        Column names of the patient identifier and the session number.
    group : str, optional
        Column whose levels get separate colours and separate means (e.g. ``"arm"``).
    n_patients : int or None, default 40
        Number of patients drawn (without replacement) for the individual lines, per group
        when ``group`` is given; ``None`` draws all, ``0`` none. The legend states how many
        were drawn of how many.
    mean : bool, default True
        Draw the mean trajectory and its confidence band.
    level : float, default 0.95
        Confidence level of the band.
    seed : int or None, default 0
        Seed of the patient subsample (the same patients on every call).
    ylabel : str, optional
        Y-axis label; defaults to ``y``.
    xlabel : str, default "Session"
        X-axis label.
    model : MixedResult, optional
        A fit of ``y`` from :func:`alliancestats.lmm` or :func:`alliancestats.glmm` whose
        fixed part uses ``session``: its estimated marginal means at each session (by
        ``group`` when the model uses it; other predictors at their mean) are overlaid.
    counts : bool, default True
        Write the number of observed values at each session above the plot.
    attrition : float or None, default 0.3
        Say so on the figure when n falls by this share or more between the first and the
        last session; ``None`` never says it.
    min_n : int, default 1
        Sessions with fewer observed values get no mean (their n is still shown).
    legend_title : str, optional
        Title of the legend; defaults to ``group`` written as words (``"arm"`` -> ``"Arm"``).
    style : str, optional
        Resize the figure for print with :func:`alliancestats.plot.apply_style` (``"apa"``,
        ``"single_column"``, ...).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.5 × 3.4 inch figure is created otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The individual lines have ``gid`` ``"trajectory"``, the mean lines ``"mean"``, the
        bands ``"ci"`` and the model lines ``"model"``; the n labels are annotations with
        ``gid`` ``"n_per_session"`` and the attrition sentence one with ``"attrition_note"``.

    Raises
    ------
    DataValidationError
        When a named column is absent or ``y`` is not numeric.
    ParameterError
        Invalid options, or a ``model`` fitted to another response.

    Examples
    --------
    >>> from alliancestats.simulate import simulate_sessions
    >>> df = simulate_sessions(n_therapists=4, seed=2)
    >>> ax = trajectories(df, "pain", n_patients=10, group="arm")
    >>> sum(line.get_gid() == "trajectory" for line in ax.lines)
    20
    >>> ax.get_legend_handles_labels()[1]
    ['control', 'intervention']
    >>> ax.get_legend().get_title().get_text()
    'Arm'
    """
    o = _options(y, patient, session, group, n_patients, mean, level, min_n, attrition, counts,
                 model, legend_title)
    work = _prepare(data, o)
    ax = new_axes(ax, styled_size((4.5, 3.4), style))
    rng = np.random.default_rng(seed)
    groups = [(None, work)] if group is None else list(
        work.groupby(group, sort=True, observed=True))
    table, split = _model_table(o, work)
    rows, drawn, total, extra = [], 0, 0, []
    for k, (name, part) in enumerate(groups):
        colour = ACCENT if group is None else GROUP_COLOURS[k % len(GROUP_COLOURS)]
        d, t = _draw_patients(ax, part, o, rng, MUTED if group is None else colour)
        drawn, total = drawn + d, total + t
        if o.mean:
            _draw_mean(ax, part, o, colour,
                       f"Observed mean ({o.level:.0%} CI)" if group is None else str(name))
        if table is not None and (split or k == 0):
            own = colour if split or group is None else INK
            label = "Model-implied mean" if group is None or not split else "_nolegend_"
            _draw_model(ax, _model_part(table, split, group, name), o.session, own, label)
        rows.append(("n" if group is None else str(name), colour, _counts(part, o.session)))
    if table is not None and group is not None and split:
        extra.append(Line2D([], [], color=INK, linestyle="--", linewidth=1.3,
                            label="model-implied means (dashed)"))
    rise = _annotate(ax, rows, o, _counts(work, o.session))
    _finish(ax, o, xlabel, ylabel, (_patients_label(drawn, total), MUTED), extra,
            o.legend_title)
    if rise:
        _reserve(ax, ax.get_title(), rise)
    if style is not None:
        apply_style(ax, style)
    return ax


def _panel_axes(ax: Any, n: int, ncols: int | None, style: str | None) -> np.ndarray:
    if ax is not None:
        axes = np.ravel(np.asarray(ax, dtype=object))
        if len(axes) < n or not all(isinstance(a, Axes) for a in axes):
            raise ParameterError(
                f"ax must be an array of at least {n} matplotlib Axes (one per group), got "
                f"{type(ax).__name__}"
            )
        return axes
    if ncols is None:  # up to three panels a row, one when the style is a narrow column
        narrow = styled_size((6.8, 3.3), style)[0] < 5
        cols = 1 if narrow else min(n, 3)
    else:
        cols = check_int("ncols", ncols, minimum=1)
    nrows = -(-n // cols)
    size = styled_size((3.4 * cols, 3.3 * nrows), style)
    fig, grid = plt.subplots(nrows, cols, figsize=size, sharex=True,
                             sharey=True, squeeze=False, layout="constrained")
    axes = grid.ravel()
    for extra in axes[n:]:
        extra.set_visible(False)
    return axes


def trajectory_panels(
    data: Any,
    y: str,
    *,
    group: str,
    patient: str = "patient",
    session: str = "session",
    n_patients: int | None = 25,
    mean: bool = True,
    level: float = 0.95,
    seed: int | None = 0,
    ylabel: str | None = None,
    xlabel: str = "Session",
    model: Any = None,
    counts: bool = True,
    attrition: float | None = 0.3,
    min_n: int = 1,
    legend_title: str | None = None,
    ncols: int | None = None,
    style: str | None = None,
    ax: Any = None,
) -> np.ndarray:
    """Trajectories with one panel per group (e.g. per arm) on shared axes.

    Each panel shows its group's individual lines, observed mean with confidence band, the
    number of observed values per session above it and, when attrition is large, the
    sentence saying so (see :func:`trajectories` for every argument). Panels are titled
    ``"<legend title>: <level>"``.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long data, one row per patient-session.
    y : str
        Numeric column to plot.
    group : str
        Column whose levels get a panel each.
    n_patients : int or None, default 25
        Individual lines per panel (``None``: all).
    ncols : int, optional
        Panels per row (default: up to three).
    ax : array of Axes, optional
        At least one Axes per group; a new figure with shared axes otherwise.
    patient, session, mean, level, seed, ylabel, xlabel
        As in :func:`trajectories`.
    model, counts, attrition, min_n, legend_title, style
        As in :func:`trajectories`.

    Returns
    -------
    numpy.ndarray of Axes
        One per group, in the sorted order of the levels.

    Examples
    --------
    >>> from alliancestats.simulate import simulate_sessions
    >>> df = simulate_sessions(n_therapists=4, seed=2)
    >>> axes = trajectory_panels(df, "pain", group="arm", n_patients=5)
    >>> [a.get_title(loc="left") for a in axes]
    ['Arm: control', 'Arm: intervention']
    """
    if group is None:
        raise ParameterError("trajectory_panels needs group= (a column with one panel per level)")
    o = _options(y, patient, session, group, n_patients, mean, level, min_n, attrition, counts,
                 model, legend_title)
    work = _prepare(data, o)
    groups = list(work.groupby(group, sort=True, observed=True))
    if not groups:
        raise DataValidationError(f"no rows with both {y!r} and {group!r} observed")
    axes = _panel_axes(ax, len(groups), ncols, style)
    table, split = _model_table(o, work)
    rng = np.random.default_rng(seed)
    for k, ((name, part), a) in enumerate(zip(groups, axes, strict=False)):
        colour = GROUP_COLOURS[k % len(GROUP_COLOURS)]
        drawn, total = _draw_patients(a, part, o, rng, colour)
        if o.mean:
            _draw_mean(a, part, o, colour, f"Observed mean ({o.level:.0%} CI)")
        if table is not None:
            _draw_model(a, _model_part(table, split, group, name), o.session, INK,
                        "Model-implied mean")
        counts_k = _counts(part, o.session)
        rise = _annotate(a, [("n" if k == 0 else "", colour, counts_k)], o, counts_k)
        _finish(a, o, xlabel, ylabel if k == 0 else "", (_patients_label(drawn, total), colour),
                [], None)
        _reserve(a, f"{o.legend_title}: {name}", rise, fontsize=SMALL_FONT_SIZE + 1,
                 color=INK, loc="left")
    if style is not None:
        apply_style(axes[0], style)
    return axes[: len(groups)]
