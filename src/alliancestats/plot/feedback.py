"""Feedback figures of routine outcome monitoring, drawn from a :func:`alliancestats.monitor` table.

* :func:`feedback_chart` -- the clinician's chart for one patient: the observed scores with
  each session's signal as the marker colour, the expected-recovery curve and its tolerance
  band, and the alliance with its alerts on a second axis. Patients and clinicians preferred
  charts that show the expected trajectory as a line (Hooke, Sng, Cunningham & Page 2018,
  Cogn Ther Res 42(2)), so the expected curve is always drawn.
* :func:`signal_overview` -- the clinic's view: the share of patients with each signal at
  every session (stacked bars, the number of judged patients above each bar).

Signal colours follow the traffic-light convention of the feedback systems in the
colour-blind-safe palette of Okabe & Ito (2008): white (open marker), green (bluish green),
yellow and red (vermillion).

Examples
--------
>>> import alliancestats as als
>>> from alliancestats.plot import feedback_chart
>>> d = als.read_sample("psychotherapy_cohort")
>>> er = als.expected_response(d[d["patient"] <= "P165"], "symptoms")
>>> m = als.monitor(d[d["patient"] > "P165"], er, rci=14, cutoff=63, wai="wai_sr")
>>> ax = feedback_chart(m, "P170")
>>> ax.get_title(loc="left")
'P170'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

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

__all__ = ["SIGNAL_COLORS", "feedback_chart", "signal_overview", "signal_shares"]

#: Fill colour of each signal (Okabe & Ito 2008; white is drawn as an open marker).
SIGNAL_COLORS = {"white": "#FFFFFF", "green": "#009E73", "yellow": "#F0E442", "red": "#D55E00"}
#: ``gid`` of the observed line, the expected curve, the band, the signal markers, the
#: alliance line and the alliance alerts
OBSERVED_GID, EXPECTED_GID, BAND_GID, SIGNAL_GID, ALLIANCE_GID, ALERT_GID = (
    "observed", "expected", "band", "signal", "alliance", "alert")


def _monitor_table(monitored: Any, function: str) -> pd.DataFrame:
    if not isinstance(monitored, pd.DataFrame) or "rules" not in monitored.attrs:
        raise ParameterError(f"{function}() needs the table returned by alliancestats.monitor()")
    return monitored


def _alliance_axis(ax: Axes, rows: pd.DataFrame, x: np.ndarray, column: str,
                   label: str | None) -> Axes:
    """The alliance on a twin axis, alerts as downward triangles."""
    twin = ax.twinx()
    values = rows[column].to_numpy(dtype=float)
    seen = ~np.isnan(values)
    twin.plot(x[seen], values[seen], color=MUTED, lw=1.0, ls="-", marker="s", ms=3,
              gid=ALLIANCE_GID, label=label or column)
    if "alliance_alert" in rows:
        alert = rows["alliance_alert"].fillna(False).to_numpy(dtype=bool) & seen
        twin.plot(x[alert], values[alert], ls="none", marker="v", ms=8, color="#CC79A7",
                  markeredgecolor=INK, markeredgewidth=0.6, gid=ALERT_GID,
                  label="alliance alert")
    twin.spines["top"].set_visible(False)
    twin.spines["right"].set_color(INK)
    twin.tick_params(colors=INK, labelsize=SMALL_FONT_SIZE, width=0.8, length=3)
    twin.set_ylabel(label or column, fontsize=FONT_SIZE, color=MUTED)
    return twin


def _legend(ax: Axes, rows: pd.DataFrame, twin: Axes | None) -> None:
    handles = [Line2D([], [], color=INK, lw=1.2, label="observed"),
               Line2D([], [], color=ACCENT, lw=1.4, ls="--", label="expected"),
               Patch(facecolor=ACCENT, alpha=0.15, label="tolerance band")]
    present = [s for s in SIGNAL_COLORS if (rows["signal"] == s).any()]
    handles += [Line2D([], [], ls="none", marker="o", ms=6, markerfacecolor=SIGNAL_COLORS[s],
                       markeredgecolor=INK, markeredgewidth=0.6, label=s) for s in present]
    if twin is not None:
        handles += twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, frameon=False, fontsize=SMALL_FONT_SIZE, loc="upper left",
              bbox_to_anchor=(1.12, 1.0), borderaxespad=0.0)


def feedback_chart(
    monitored: pd.DataFrame,
    patient: Any,
    *,
    alliance: str | None = None,
    alliance_label: str | None = None,
    ylabel: str | None = None,
    band: str = "both",
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """One patient's feedback chart: scores, expected curve, tolerance band, signals, alerts.

    Each observed score is a marker in its signal's colour; scores without a signal (the
    intake, which starts the expected curve) are grey.

    Parameters
    ----------
    monitored : pandas.DataFrame
        A table from :func:`alliancestats.monitor`.
    patient : object
        The patient ID.
    alliance : str, optional
        Alliance column drawn on a second axis (default: the WAI or SRS column the table was
        made with; None when it has none). Sessions with an alliance alert get a triangle.
    alliance_label, ylabel : str, optional
        Axis labels (default: the column names).
    band : {"both", "worse"}, default "both"
        Shade the band between both bounds, or only between the expected curve and the bound
        on the worse side (the side a red signal crosses).
    legend : bool, default True
        Draw a legend to the right of the axes.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (a new 6 x 3.2 inch figure otherwise).

    Returns
    -------
    matplotlib.axes.Axes
        The score axes (the alliance axes is ``ax.alliance_axes`` when drawn). The observed
        line has gid ``"observed"``, the expected curve ``"expected"``, the band ``"band"``,
        the signal markers ``"signal"``, the alliance line ``"alliance"`` and the alerts
        ``"alert"``.

    Examples
    --------
    >>> import alliancestats as als
    >>> d = als.read_sample("psychotherapy_cohort")
    >>> er = als.expected_response(d[d["patient"] <= "P165"], "symptoms")
    >>> m = als.monitor(d[d["patient"] > "P165"], er, wai="wai_sr")
    >>> ax = feedback_chart(m, "P200", band="worse")
    >>> sorted({a.get_gid() for a in ax.get_children() if a.get_gid()})
    ['band', 'expected', 'observed', 'signal']
    """
    table = _monitor_table(monitored, "feedback_chart")
    if band not in ("both", "worse"):
        raise ParameterError(f"band must be 'both' or 'worse', got {band!r}")
    pcol, scol, outcome = (table.attrs[k] for k in ("patient", "session", "outcome"))
    rows = table[table[pcol] == patient].sort_values(scol)
    if rows.empty:
        raise ParameterError(f"feedback_chart(): patient {patient!r} is not in the table")
    if alliance is None:
        cols = table.attrs.get("alliance", {})
        alliance = cols.get("wai") or cols.get("srs")
    elif alliance not in rows:
        raise ParameterError(f"feedback_chart(): the table has no column {alliance!r}")
    ax = new_axes(ax, (6.0, 3.2))
    x = rows[scol].to_numpy(dtype=float)
    y = rows[outcome].to_numpy(dtype=float)
    exp = rows["expected"].to_numpy(dtype=float)
    curve = ~np.isnan(exp)
    low = rows["band_low"].to_numpy(dtype=float)
    high = rows["band_high"].to_numpy(dtype=float)
    if band == "worse":
        low, high = (exp, high) if table.attrs["direction"] == "lower_is_better" else (low, exp)
    ax.fill_between(x[curve], low[curve], high[curve], color=ACCENT, alpha=0.15, lw=0,
                    gid=BAND_GID)
    ax.plot(x[curve], exp[curve], color=ACCENT, lw=1.4, ls="--", gid=EXPECTED_GID)
    seen = ~np.isnan(y)
    ax.plot(x[seen], y[seen], color=INK, lw=1.2, gid=OBSERVED_GID)
    signal = rows["signal"].astype(object).to_numpy()
    colours = [SIGNAL_COLORS.get(s, MUTED) if isinstance(s, str) else MUTED for s in signal]
    ax.scatter(x[seen], y[seen], c=[c for c, s in zip(colours, seen, strict=True) if s], s=36,
               edgecolors=INK, linewidths=0.6, zorder=3, gid=SIGNAL_GID)
    despine(ax)
    label_axes(ax, "Session", ylabel or outcome)
    ax.set_title(str(patient), fontsize=FONT_SIZE, color=INK, loc="left")
    twin = None
    if alliance is not None and rows[alliance].notna().any():
        twin = _alliance_axis(ax, rows, x, alliance, alliance_label)
        ax.alliance_axes = twin
    if legend:
        _legend(ax, rows, twin)
    return ax


def signal_shares(monitored: pd.DataFrame, *, by: str = "t") -> pd.DataFrame:
    """Patients per signal at every session: counts and shares, as :func:`signal_overview` draws.

    Parameters
    ----------
    monitored : pandas.DataFrame
        A table from :func:`alliancestats.monitor`.
    by : {"t", "session"}, default "t"
        Sessions since intake (1 = intake) or the session number.

    Returns
    -------
    pandas.DataFrame
        One row per session with a signal: the session, ``n`` (patients judged), a count and
        a ``share_<signal>`` column per signal.

    Examples
    --------
    >>> import pandas as pd
    >>> m = pd.DataFrame({"t": [2, 2, 2, 3], "signal": ["green", "red", "green", "yellow"]})
    >>> m.attrs["rules"] = None
    >>> signal_shares(m)[["t", "n", "green", "red", "share_green"]]
       t  n  green  red  share_green
    0  2  3      2    1     0.666667
    1  3  1      0    0     0.000000
    """
    table = _monitor_table(monitored, "signal_shares")
    if by not in ("t", "session"):
        raise ParameterError(f"by must be 't' or 'session', got {by!r}")
    column = "t" if by == "t" else table.attrs["session"]
    judged = table[table["signal"].notna()]
    counts = pd.crosstab(judged[column].astype("int64"), judged["signal"].astype(str))
    counts = counts.reindex(columns=list(SIGNAL_COLORS), fill_value=0)
    out = counts.reset_index().rename(columns={column: by})
    out.columns.name = None
    out.insert(1, "n", counts.sum(axis=1).to_numpy())
    for s in SIGNAL_COLORS:
        out[f"share_{s}"] = out[s] / out["n"]
    return out


def signal_overview(
    monitored: pd.DataFrame,
    *,
    by: str = "t",
    min_n: int = 1,
    show_n: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """Share of patients with each signal at every session (stacked bars).

    Parameters
    ----------
    monitored : pandas.DataFrame
        A table from :func:`alliancestats.monitor`.
    by : {"t", "session"}, default "t"
        Sessions since intake or the session number on the x axis.
    min_n : int, default 1
        Leave out sessions with fewer judged patients.
    show_n : bool, default True
        Write the number of judged patients above each bar.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (a new 5.5 x 3.2 inch figure otherwise).

    Returns
    -------
    matplotlib.axes.Axes
        Bars of signal ``s`` have gid ``"signal_<s>"``.

    Examples
    --------
    >>> import alliancestats as als
    >>> d = als.read_sample("psychotherapy_cohort")
    >>> er = als.expected_response(d[d["patient"] <= "P165"], "symptoms")
    >>> m = als.monitor(d[d["patient"] > "P165"], er, rci=14, cutoff=63)
    >>> ax = signal_overview(m, min_n=10)
    >>> ax.get_ylabel()
    'Share of patients'
    """
    shares = signal_shares(monitored, by=by)
    shares = shares[shares["n"] >= min_n]
    ax = new_axes(ax, (5.5, 3.2))
    x = shares[by].to_numpy()
    bottom = np.zeros(len(shares))
    for s, colour in SIGNAL_COLORS.items():
        h = shares[f"share_{s}"].to_numpy()
        ax.bar(x, h, bottom=bottom, color=colour, edgecolor=INK, linewidth=0.5, width=0.8,
               label=s, gid=f"signal_{s}")
        bottom += h
    if show_n:
        for xi, n in zip(x, shares["n"], strict=True):
            ax.text(xi, 1.01, str(int(n)), ha="center", va="bottom", fontsize=SMALL_FONT_SIZE - 1,
                    color=MUTED)
    ax.set_ylim(0, 1.08)
    ax.set_xticks(x)
    despine(ax)
    label_axes(ax, "Sessions since intake" if by == "t" else "Session", "Share of patients")
    ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)
    return ax
