"""Session-by-session series of single patients with sudden changes, ruptures and repairs marked.

:func:`event_series` draws one patient's scores over sessions (gaps left open), shades a
threshold band and marks the events found by :func:`alliancestats.sudden_gains`,
:func:`alliancestats.sudden_losses` or :func:`alliancestats.ruptures`; :func:`event_panels`
draws the same for many patients as small multiples on shared axes.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.plot.event_series import event_marks
>>> r = pd.DataFrame({"patient": ["a"], "event": ["rupture"], "trough_session": [4],
...                   "repair_session": pd.array([5], dtype="Int64")})
>>> event_marks(r)[["patient", "session", "kind"]].values.tolist()
[['a', 4, 'rupture'], ['a', 5, 'repair']]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from alliancestats._validation import check_int, check_nonnegative
from alliancestats.alliance.series import SessionSeries, session_series
from alliancestats.alliance.sudden_result import SuddenChangeResult
from alliancestats.errors import ParameterError
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

__all__ = ["EVENT_STYLE", "event_marks", "event_panels", "event_series"]

#: Marker, colour and legend label of each kind of event (Okabe & Ito 2008 colours).
EVENT_STYLE: dict[str, dict[str, Any]] = {
    "sudden gain": {"marker": "v", "color": "#009E73", "label": "sudden gain"},
    "sudden loss": {"marker": "^", "color": "#D55E00", "label": "sudden loss"},
    "rupture": {"marker": "v", "color": "#D55E00", "label": "rupture (trough)"},
    "repair": {"marker": "o", "color": "#0072B2", "label": "repair"},
    "sudden alliance gain": {"marker": "^", "color": "#009E73", "label": "sudden alliance gain"},
}
#: ``gid`` of the series line, the band and the event markers
SERIES_GID, BAND_GID, EVENT_GID = "series", "band", "event"


def event_marks(events: Any) -> pd.DataFrame:
    """The events of one or several results as ``patient, session, kind`` rows.

    Accepts a :class:`~alliancestats.alliance.SuddenChangeResult` (marked at N+1, the first
    session after the change), a :func:`~alliancestats.ruptures` table (ruptures at the
    trough, repairs at the repair session, sudden alliance gains at N+1), or a list of them.
    """
    if events is None:
        return pd.DataFrame(columns=["patient", "session", "kind"])
    if isinstance(events, (list, tuple)):
        parts = [event_marks(e) for e in events]
        return pd.concat(parts, ignore_index=True) if parts else event_marks(None)
    if isinstance(events, SuddenChangeResult):
        ev = events.events
        kind = "sudden gain" if events.kind == "gain" else "sudden loss"
        return pd.DataFrame({"patient": ev["patient"], "session": ev["next_session"],
                             "kind": kind})
    if isinstance(events, pd.DataFrame) and {"trough_session", "repair_session"} <= set(events):
        gains = events["event"] == "sudden_gain"
        rupt = events[~gains]
        repaired = rupt[rupt["repair_session"].notna()]
        parts = [
            pd.DataFrame({"patient": rupt["patient"], "session": rupt["trough_session"],
                          "kind": "rupture"}),
            pd.DataFrame({"patient": repaired["patient"],
                          "session": repaired["repair_session"].astype("int64"),
                          "kind": "repair"}),
            pd.DataFrame({"patient": events.loc[gains, "patient"],
                          "session": events.loc[gains, "repair_session"].astype("int64"),
                          "kind": "sudden alliance gain"}),
        ]
        return pd.concat(parts, ignore_index=True)
    raise ParameterError(
        "events must be the result of sudden_gains()/sudden_losses(), a ruptures() table, or "
        f"a list of them; got {type(events).__name__}"
    )


def _band(values: np.ndarray, band: Any) -> tuple[float, float] | None:
    if band is None:
        return None
    if isinstance(band, (tuple, list)) and len(band) == 2:
        return float(band[0]), float(band[1])
    k = check_nonnegative("band", band, what="a number of SDs")
    present = values[~np.isnan(values)]
    if present.size < 2:
        return None
    centre, sd = float(present.mean()), float(present.std(ddof=1))
    return centre - k * sd, centre + k * sd


def _draw_one(ax: Axes, series: SessionSeries, pid: Any, marks: pd.DataFrame, band: Any,
              small: bool) -> None:
    y = series.row(pid)
    x = series.sessions.astype(float)
    limits = _band(y, band)
    if limits is not None:
        ax.axhspan(*limits, color=MUTED, alpha=0.15, linewidth=0, gid=BAND_GID, zorder=0)
    present = ~np.isnan(y)
    ax.plot(x, y, color=ACCENT, linewidth=1.0 if small else 1.3, marker="o",
            markersize=2.5 if small else 3.5, gid=SERIES_GID, zorder=2)
    mine = marks[marks["patient"] == pid]
    for kind, rows in mine.groupby("kind", sort=False):
        style = EVENT_STYLE[kind]
        wanted = rows["session"].to_numpy()
        at = np.minimum(np.searchsorted(series.sessions, wanted), y.size - 1)
        keep = (series.sessions[at] == wanted) & present[at]
        ax.plot(x[at[keep]], y[at[keep]], linestyle="none", marker=style["marker"],
                color=style["color"], markersize=6 if small else 8, label=style["label"],
                gid=EVENT_GID, zorder=3)


def event_series(
    data: Any,
    score: str,
    patient_id: Any,
    *,
    patient: str = "patient",
    session: str = "session",
    events: Any = None,
    band: float | tuple[float, float] | None = None,
    wide_pattern: str | None = None,
    ylabel: str | None = None,
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """One patient's scores over sessions with events marked and a threshold band shaded.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long data (or wide data with ``wide_pattern``), as for :func:`alliancestats.ruptures`.
    score : str
        The score to draw (e.g. ``"alliance"`` or ``"bdi"``).
    patient_id : object
        The patient to draw.
    patient, session : str
        Patient ID and session-number columns.
    events : result, table or list, optional
        What :func:`event_marks` accepts: sudden-gain/loss results and rupture tables.
    band : float or (float, float), optional
        A number ``k`` shades the patient's mean +- ``k`` SDs (e.g. the 2 SD band of
        Stiles et al. 2004); a pair shades that range (e.g. a clinical cut-off band).
    wide_pattern : str, optional
        Wide column names (``"{var}_s{session}"``).
    ylabel : str, optional
        Y-axis label (default: ``score``).
    legend : bool, default True
        Add a legend of the event kinds drawn.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new 4.5 x 3 inch figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        The series line has gid ``"series"``, markers ``"event"``, the band ``"band"``.

    Examples
    --------
    >>> import pandas as pd, alliancestats as als
    >>> d = pd.DataFrame({"patient": "a", "session": range(1, 9),
    ...                   "alliance": [4.0, 4.1, 4.0, 2.9, 4.0, 4.1, 4.2, 4.1]})
    >>> r = als.ruptures(d, "alliance", method="stiles2004")
    >>> ax = event_series(d, "alliance", "a", events=r, band=2)
    >>> sorted(line.get_label() for line in ax.lines if line.get_gid() == "event")
    ['repair', 'rupture (trough)']
    """
    series = session_series(data, score, patient=patient, session=session,
                            wide_pattern=wide_pattern, function="event_series")
    series.row(patient_id)  # unknown patient -> ParameterError
    ax = new_axes(ax, (4.5, 3.0))
    _draw_one(ax, series, patient_id, event_marks(events), band, small=False)
    despine(ax)
    label_axes(ax, "Session", ylabel or score)
    ax.set_title(f"{patient} {patient_id}", fontsize=FONT_SIZE, color=INK)
    if legend and any(line.get_gid() == EVENT_GID for line in ax.lines):
        ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE)
    return ax


def event_panels(
    data: Any,
    score: str,
    *,
    patients: Sequence[Any] | None = None,
    patient: str = "patient",
    session: str = "session",
    events: Any = None,
    band: float | tuple[float, float] | None = None,
    max_patients: int = 12,
    ncols: int = 4,
    wide_pattern: str | None = None,
    ylabel: str | None = None,
    ax: Any = None,
) -> np.ndarray:
    """Small multiples: one panel per patient, shared axes, events marked.

    Parameters
    ----------
    data, score
        As for :func:`event_series`.
    patients : sequence, optional
        Patients to draw; default the first ``max_patients`` patients with an event (or the
        first patients when there are no events).
    patient, session, events, band
        As for :func:`event_series`.
    max_patients : int, default 12
        Most panels drawn when ``patients`` is not given.
    ncols : int, default 4
        Panels per row of a new figure.
    wide_pattern, ylabel
        As for :func:`event_series`.
    ax : array of Axes, optional
        Axes to draw on (at least one per patient); a new figure otherwise.

    Returns
    -------
    numpy.ndarray of Axes
        One Axes per patient drawn (unused axes of ``ax`` are hidden).

    Examples
    --------
    >>> import alliancestats as als
    >>> d = als.read_sample("psychotherapy_cohort")
    >>> r = als.ruptures(d, "wai_sr", method="stiles2004")
    >>> axes = event_panels(d, "wai_sr", events=r, max_patients=4, band=2)
    >>> len(axes)
    4
    """
    series = session_series(data, score, patient=patient, session=session,
                            wide_pattern=wide_pattern, function="event_panels")
    marks = event_marks(events)
    if patients is None:
        limit = check_int("max_patients", max_patients)
        with_events = [p for p in series.patients if p in set(marks["patient"])]
        chosen = (with_events or list(series.patients))[:limit]
    else:
        chosen = list(patients)
        for p in chosen:
            series.row(p)
    axes = _panel_axes(ax, len(chosen), check_int("ncols", ncols))
    for a, pid in zip(axes, chosen, strict=False):
        _draw_one(a, series, pid, marks, band, small=True)
        despine(a)
        a.set_title(str(pid), fontsize=SMALL_FONT_SIZE, color=INK)
    for a in axes[len(chosen):]:
        a.set_visible(False)
    if chosen:
        label_axes(axes[0], None, ylabel or score)
        label_axes(axes[min(len(chosen), len(axes)) - 1], "Session", None)
        _figure_legend(axes[: len(chosen)])
    return axes[: len(chosen)]


def _figure_legend(axes: np.ndarray) -> None:
    """One legend for all panels: each event kind once, above the panels."""
    seen: dict[str, Any] = {}
    for a in axes:
        for line in a.lines:
            if line.get_gid() == EVENT_GID:
                seen.setdefault(line.get_label(), line)
    if seen:
        axes[0].figure.legend(list(seen.values()), list(seen), loc="outside upper center",
                              ncol=len(seen), frameon=False, fontsize=SMALL_FONT_SIZE)


def _panel_axes(ax: Any, n: int, ncols: int) -> np.ndarray:
    if ax is not None:
        axes = np.ravel(np.asarray(ax, dtype=object))
        if axes.size < n or not all(isinstance(a, Axes) for a in axes):
            raise ParameterError(f"ax must hold at least {n} matplotlib Axes (one per patient)")
        return axes
    cols = max(1, min(ncols, n))
    rows = max(1, math.ceil(n / cols))
    _, grid = plt.subplots(rows, cols, figsize=(2.2 * cols, 1.7 * rows), sharex=True,
                           sharey=True, layout="constrained", squeeze=False)
    return grid.ravel()
