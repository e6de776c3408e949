"""Individual and mean trajectories of a session-level measure ("spaghetti plot").

Examples
--------
>>> from alliancestats.simulate import simulate_sessions
>>> from alliancestats.plot.trajectories import session_summary
>>> df = simulate_sessions(n_therapists=3, sessions=4, seed=1)
>>> list(session_summary(df, "pain").columns)
['session', 'n', 'mean', 'sd', 'ci_low', 'ci_high']
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator
from scipy import stats

from alliancestats.errors import DataValidationError, ParameterError
from alliancestats.plot._style import (
    ACCENT,
    INK,
    MUTED,
    SMALL_FONT_SIZE,
    despine,
    label_axes,
    new_axes,
)

__all__ = ["session_summary", "trajectories"]

#: colours for groups (colour-blind-safe, Okabe & Ito 2008), after the house accent
GROUP_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

#: ``Line2D.get_gid()`` of the individual-patient lines and of the mean lines
TRAJECTORY_GID = "trajectory"
MEAN_GID = "mean"
BAND_GID = "ci"


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
    ax: Axes | None = None,
) -> Axes:
    """Plot individual trajectories of ``y`` over sessions plus the mean with its CI.

    Thin grey (or group-coloured) lines show a random subsample of patients; a thick line with
    markers shows the mean by session with a shaded confidence band (see
    :func:`session_summary`). Missing values break a patient's line only where the value is
    missing (points on either side are joined).

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
        when ``group`` is given; ``None`` draws all, ``0`` none.
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
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.5 × 3.2 inch figure is created otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The individual lines have ``gid`` ``"trajectory"``, the mean lines ``"mean"`` and the
        bands ``"ci"``; mean lines carry the legend labels.

    Raises
    ------
    DataValidationError
        When a named column is absent or ``y`` is not numeric.

    Examples
    --------
    >>> from alliancestats.simulate import simulate_sessions
    >>> df = simulate_sessions(n_therapists=4, seed=2)
    >>> ax = trajectories(df, "pain", n_patients=10, group="arm")
    >>> sum(line.get_gid() == "trajectory" for line in ax.lines)
    20
    >>> ax.get_legend_handles_labels()[1]
    ['control', 'intervention']
    """
    frame = _frame(data)
    _check_columns(frame, y=y, patient=patient, session=session, group=group)
    values = _numeric(frame, y, "y")
    _numeric(frame, session, "session")
    if n_patients is not None and (
        isinstance(n_patients, bool)
        or not isinstance(n_patients, Real)
        or not (n_patients >= 0 and float(n_patients).is_integer())
    ):
        raise ParameterError(
            f"n_patients must be a non-negative integer or None, got {n_patients!r}"
        )
    work = frame[[c for c in (patient, session, group) if c is not None]].assign(_y=values)
    work = work.dropna(subset=["_y", session]).sort_values([patient, session])

    ax = new_axes(ax, (4.5, 3.2))
    rng = np.random.default_rng(seed)
    groups: list[tuple[Any, pd.DataFrame]] = (
        [(None, work)] if group is None else list(work.groupby(group, sort=True))
    )
    for k, (level_name, part) in enumerate(groups):
        colour = ACCENT if group is None else GROUP_COLOURS[k % len(GROUP_COLOURS)]
        thin = MUTED if group is None else colour
        ids = part[patient].unique()
        take = ids.size if n_patients is None else min(int(n_patients), ids.size)
        chosen = set(rng.choice(ids, size=take, replace=False)) if take else set()
        for _pid, rows in part[part[patient].isin(chosen)].groupby(patient, sort=True):
            ax.plot(
                rows[session].to_numpy(float),
                rows["_y"].to_numpy(),
                color=thin,
                alpha=0.35,
                linewidth=0.6,
                gid=TRAJECTORY_GID,
                label="_nolegend_",
                zorder=1,
            )
        if mean:
            summ = session_summary(part, "_y", session=session, level=level)
            x = summ[session].to_numpy(float)
            band = ax.fill_between(
                x,
                summ["ci_low"].to_numpy(),
                summ["ci_high"].to_numpy(),
                color=colour,
                alpha=0.2,
                linewidth=0,
                zorder=2,
            )
            band.set_gid(BAND_GID)
            label = f"Mean ({level:.0%} CI)" if group is None else str(level_name)
            ax.plot(
                x,
                summ["mean"].to_numpy(),
                color=colour,
                linewidth=1.8,
                marker="o",
                markersize=3,
                gid=MEAN_GID,
                label=label,
                zorder=3,
            )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    despine(ax)
    label_axes(ax, xlabel, ylabel if ylabel is not None else y)
    if mean or group is not None:
        handles, labels = ax.get_legend_handles_labels()
        if handles:
            legend = ax.legend(
                frameon=False,
                fontsize=SMALL_FONT_SIZE,
                title=group,
                title_fontsize=SMALL_FONT_SIZE,
                loc="best",
            )
            for text in legend.get_texts():
                text.set_color(INK)
    return ax
