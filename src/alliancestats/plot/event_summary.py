"""Summary figures of sudden changes and ruptures across patients.

* :func:`event_profile` -- the average course of the scores aligned on the event session
  (N-2 ... N+3 for sudden gains, around the trough for ruptures), with the first and last
  score of treatment, 95% intervals and the number of scores behind every point; the figure of
  the R package suddengains' ``plot_sg`` (Wiedemann et al. 2020, PLOS ONE 15(3):e0230276).
  :func:`event_profile_table` gives its numbers.
* :func:`event_sessions` -- how many events fall at each session (for sudden gains: at each
  interval N -> N+1, next to the number of intervals that could be judged, as suddengains'
  ``plot_sg_intervals`` reports).

Examples
--------
>>> import alliancestats as als
>>> sg = als.sudden_gains(als.read_sample("sgdata"), "bdi", patient="id",
...                       wide_pattern="{var}_s{session}", sessions=(1, 12), cutoff=7)
>>> event_profile_table(sg)[["label", "n", "mean"]].round(2).head(3)
   label   n   mean
0  Start  14  37.50
1    N-2  20  30.10
2    N-1  23  28.48
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats

from alliancestats._validation import check_level
from alliancestats.alliance.series import SessionSeries, session_series
from alliancestats.alliance.sudden_result import SuddenChangeResult
from alliancestats.errors import ParameterError
from alliancestats.plot._style import (
    ACCENT,
    INK,
    MUTED,
    SMALL_FONT_SIZE,
    despine,
    label_axes,
    new_axes,
)

__all__ = ["event_profile", "event_profile_table", "event_sessions"]

#: ``gid`` of the mean line, the interval bars, the n labels and the count bars
MEAN_GID, INTERVAL_GID, N_GID, COUNT_GID = "mean", "interval", "n", "count"


def _aligned(events: Any, data: Any, score: str | None, at: str | None, offsets: Any,
             kw: dict[str, Any]) -> tuple[SessionSeries, pd.DataFrame, str, list[int], str]:
    """The grid, the events, the anchor column, the offsets and the anchor letter."""
    if isinstance(events, SuddenChangeResult):
        return (events.series, events.events, at or "session",
                list(offsets or range(-2, 4)), "N")
    if isinstance(events, pd.DataFrame) and "trough_session" in events:
        if data is None or score is None:
            raise ParameterError("a ruptures() table needs data= and score= to align scores")
        series = session_series(data, score, function="event_profile", **kw)
        return series, events, at or "trough_session", list(offsets or range(-3, 4)), "T"
    raise ParameterError(
        "events must be the result of sudden_gains()/sudden_losses() or a ruptures() table, "
        f"got {type(events).__name__}"
    )


def _ends(events: Any, series: SessionSeries, ev: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Start and end score of each patient with an event (once per patient)."""
    rows = series.patients.get_indexer(pd.unique(ev["patient"]))
    values = series.values[rows]
    if isinstance(events, SuddenChangeResult):  # suddengains: fixed start and end sessions
        s = events.settings
        first = np.flatnonzero(series.sessions == s["change_from"])[0]
        last = np.flatnonzero(series.sessions == s["change_to"])[0]
        return values[:, first], values[:, last]
    present = ~np.isnan(values)
    idx = np.arange(values.shape[0])
    first_obs = present.argmax(axis=1)
    last_obs = values.shape[1] - 1 - present[:, ::-1].argmax(axis=1)
    return values[idx, first_obs], values[idx, last_obs]


def _summarise(label: str, values: np.ndarray, z: float) -> dict[str, Any]:
    v = values[~np.isnan(values)]
    n = v.size
    mean = float(v.mean()) if n else np.nan
    sd = float(v.std(ddof=1)) if n > 1 else np.nan
    half = z * sd / np.sqrt(n) if n > 1 else np.nan
    return {"label": label, "n": n, "mean": mean, "sd": sd, "ci_low": mean - half,
            "ci_high": mean + half}


def event_profile_table(
    events: Any,
    data: Any = None,
    score: str | None = None,
    *,
    at: str | None = None,
    offsets: Any = None,
    ends: bool = True,
    level: float = 0.95,
    patient: str = "patient",
    session: str = "session",
    wide_pattern: str | None = None,
) -> pd.DataFrame:
    """Mean scores aligned on the event session, as drawn by :func:`event_profile`.

    Parameters
    ----------
    events : SuddenChangeResult or DataFrame
        A sudden-gain/loss result (aligned on N, scores from its own grid) or a
        :func:`~alliancestats.ruptures` table (aligned on ``at``, default the trough; needs
        ``data`` and ``score``).
    data, score : optional
        The session data and score, for a ruptures table.
    at : str, optional
        Column of ``events`` holding the anchor session.
    offsets : sequence of int, optional
        Sessions relative to the anchor (default -2..3 for sudden changes, -3..3 for ruptures).
    ends : bool, default True
        Add "Start" and "End": for sudden changes the scores at the sessions the total change
        was taken between (one per patient, as suddengains' ``plot_sg``), for ruptures each
        patient's first and last observed score.
    level : float, default 0.95
        Coverage of the normal-theory interval ``mean +- z * SD / sqrt(n)`` (suddengains
        draws 1.96 standard errors).
    patient, session, wide_pattern : str
        Column names of ``data`` (ruptures table only).

    Returns
    -------
    pandas.DataFrame
        ``label, offset, n, mean, sd, ci_low, ci_high``; ``offset`` is missing for Start/End.
        Every event contributes to the aligned points (a patient with two events twice).
    """
    kw = {"patient": patient, "session": session, "wide_pattern": wide_pattern}
    series, ev, anchor, offs, letter = _aligned(events, data, score, at, offsets, kw)
    z = float(stats.norm.ppf(0.5 + check_level(level) / 2))
    rows = series.patients.get_indexer(ev["patient"])
    base = np.searchsorted(series.sessions, ev[anchor].to_numpy(dtype=np.int64))
    out = []
    if ends and len(ev):
        start, end = _ends(events, series, ev)
        out.append({**_summarise("Start", start, z), "offset": np.nan})
    for k in offs:
        pos = base + k
        inside = (pos >= 0) & (pos < series.sessions.size)
        vals = np.full(len(ev), np.nan)
        vals[inside] = series.values[rows[inside], pos[inside]]
        label = letter if k == 0 else f"{letter}{k:+d}"
        out.append({**_summarise(label, vals, z), "offset": k})
    if ends and len(ev):
        out.append({**_summarise("End", end, z), "offset": np.nan})
    table = pd.DataFrame(out, columns=["label", "offset", "n", "mean", "sd", "ci_low",
                                       "ci_high"])
    table["n"] = table["n"].astype("int64")
    return table


def event_profile(
    events: Any,
    data: Any = None,
    score: str | None = None,
    *,
    at: str | None = None,
    offsets: Any = None,
    ends: bool = True,
    level: float = 0.95,
    show_n: bool = True,
    ylabel: str | None = None,
    color: str = ACCENT,
    patient: str = "patient",
    session: str = "session",
    wide_pattern: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Average scores around the event session, with intervals and n per point.

    The values are those of :func:`event_profile_table`. Start and End are joined to the
    aligned window by dotted lines.

    Parameters
    ----------
    events : SuddenChangeResult or DataFrame
        A sudden-gain/loss result or a :func:`~alliancestats.ruptures` table.
    data, score : optional
        The session data and score, for a ruptures table.
    at : str, optional
        Column of ``events`` holding the anchor session (ruptures: default the trough).
    offsets : sequence of int, optional
        Sessions relative to the anchor (default -2..3 for sudden changes, -3..3 for ruptures).
    ends : bool, default True
        Add the "Start" and "End" points.
    level : float, default 0.95
        Coverage of the intervals.
    show_n : bool, default True
        Write the number of scores under each point.
    ylabel : str, optional
        Y-axis label.
    color : str
        Colour of the line and intervals.
    patient, session, wide_pattern : str
        Column names of ``data`` (ruptures table only).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.5 x 3 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The mean line has gid ``"mean"``, the interval bars ``"interval"``, the n labels
        ``"n"``.

    Examples
    --------
    >>> import alliancestats as als
    >>> sg = als.sudden_gains(als.read_sample("sgdata"), "bdi", patient="id",
    ...                       wide_pattern="{var}_s{session}", sessions=(1, 12), cutoff=7)
    >>> ax = event_profile(sg, ylabel="BDI")
    >>> [t.get_text() for t in ax.get_xticklabels()]
    ['Start', 'N-2', 'N-1', 'N', 'N+1', 'N+2', 'N+3', 'End']
    """
    table = event_profile_table(events, data, score, at=at, offsets=offsets, ends=ends,
                                level=level, patient=patient, session=session,
                                wide_pattern=wide_pattern)
    ax = new_axes(ax, (4.5, 3.0))
    x = np.arange(len(table), dtype=float)
    window = table["offset"].notna().to_numpy()
    mean = table["mean"].to_numpy()
    ax.plot(x[window], mean[window], color=color, marker="o", markersize=4, gid=MEAN_GID,
            zorder=3)
    if ends and len(table) > int(window.sum()):
        for a, b in ((0, 1), (len(table) - 2, len(table) - 1)):
            ax.plot(x[[a, b]], mean[[a, b]], color=color, linestyle=":", zorder=2)
        ax.plot(x[~window], mean[~window], color=color, marker="o", markersize=4,
                linestyle="none", zorder=3)
    err = np.vstack([mean - table["ci_low"].to_numpy(), table["ci_high"].to_numpy() - mean])
    bars = ax.errorbar(x, mean, yerr=err, fmt="none", ecolor=color, elinewidth=0.8, capsize=2)
    for part in (*bars.lines[1], *bars.lines[2]):
        part.set_gid(INTERVAL_GID)
    if show_n:
        for xi, (n, low) in enumerate(zip(table["n"], table["ci_low"], strict=True)):
            y = low if np.isfinite(low) else mean[xi]
            ax.annotate(f"n={n}", (xi, y), xytext=(0, -9), textcoords="offset points",
                        ha="center", fontsize=SMALL_FONT_SIZE - 1, color=MUTED, gid=N_GID)
    ax.set_xticks(x, table["label"].tolist())
    despine(ax)
    label_axes(ax, "Session", ylabel or (score or "score"))
    return ax


def event_sessions(
    events: Any,
    *,
    at: str | None = None,
    show_evaluable: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Number of events per session (a histogram of event sessions).

    Parameters
    ----------
    events : SuddenChangeResult or DataFrame
        Sudden gains/losses (counted per interval N -> N+1, labelled ``"N-N+1"``) or a
        :func:`~alliancestats.ruptures` table (counted at ``at``, default the trough session).
    at : str, optional
        Column of a ruptures table with the session to count.
    show_evaluable : bool, default True
        For sudden changes, draw behind each bar the number of intervals that could be
        judged on all three criteria.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.5 x 3 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        Event bars have gid ``"count"`` and carry the counts as heights.

    Examples
    --------
    >>> import alliancestats as als
    >>> sg = als.sudden_gains(als.read_sample("sgdata"), "bdi", patient="id",
    ...                       wide_pattern="{var}_s{session}", sessions=(1, 12), cutoff=7)
    >>> ax = event_sessions(sg)
    >>> [int(p.get_height()) for p in ax.patches if p.get_gid() == "count"]
    [3, 8, 1, 3, 1, 2, 5, 1, 0]
    """
    ax = new_axes(ax, (4.5, 3.0))
    if isinstance(events, SuddenChangeResult):
        iv = events.intervals
        sessions = np.sort(iv["session"].unique())
        counts = events.events.groupby("session").size().reindex(sessions, fill_value=0)
        labels = [f"{s}-{s + 1}" for s in sessions]
        if show_evaluable:
            judged = iv[iv["evaluable"]].groupby("session").size().reindex(sessions,
                                                                              fill_value=0)
            ax.bar(np.arange(sessions.size), judged.to_numpy(), color=MUTED, alpha=0.3,
                   label="intervals judged", width=0.8)
        xlabel = "Interval (session N to N+1)"
    elif isinstance(events, pd.DataFrame) and "trough_session" in events:
        column = at or "trough_session"
        sessions = np.arange(int(events[column].min()), int(events[column].max()) + 1) if len(
            events) else np.array([], dtype=int)
        counts = events.groupby(column).size().reindex(sessions, fill_value=0)
        labels = [str(s) for s in sessions]
        xlabel = "Session"
    else:
        raise ParameterError(
            "events must be the result of sudden_gains()/sudden_losses() or a ruptures() table"
        )
    bars = ax.bar(np.arange(len(labels)), counts.to_numpy(), color=ACCENT, width=0.55,
                  label="events")
    for b in bars:
        b.set_gid(COUNT_GID)
    ax.set_xticks(np.arange(len(labels)), labels)
    despine(ax)
    label_axes(ax, xlabel, "Count")
    if isinstance(events, SuddenChangeResult) and show_evaluable:
        ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, labelcolor=INK, ncol=2,
                  loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return ax
