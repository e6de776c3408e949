"""Everything a report section on alliance ruptures needs, from one call.

:func:`rupture_overview` runs several rupture rules on the same data and returns the tables
(counts per rule, Larsson et al. 2018 patient classes per rule, the events of every rule) and
the figures (example patients, the average course around the rupture, ruptures per session)
of a report section. Because counts differ strongly between rules (Gumz et al. 2012, BMC Med
Res Methodol 12:10), the section always shows them side by side.

This module draws figures, so it is imported on its own (it is not loaded by
``import alliancestats``)::

    from alliancestats.alliance.rupture_overview import rupture_overview

Examples
--------
>>> import alliancestats as als
>>> from alliancestats.alliance.rupture_overview import rupture_overview
>>> ov = rupture_overview(als.read_sample("psychotherapy_cohort"), "wai_sr", figures=False)
>>> ov.counts["method"].tolist()
['stiles2004', 'strauss2006', 'gumz2012']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from alliancestats._format import format_number
from alliancestats._validation import check_bool
from alliancestats.alliance.rupture_patterns import (
    PATTERN_CLASSES,
    classify_patients,
    ruptures_arguments,
)
from alliancestats.alliance.rupture_rules import METHODS
from alliancestats.alliance.ruptures import rupture_detection
from alliancestats.errors import ParameterError
from alliancestats.plot.event_series import event_panels
from alliancestats.plot.event_summary import event_profile, event_sessions

__all__ = ["DEFAULT_METHODS", "RuptureOverview", "rupture_overview"]

#: Rules compared by default (the reliable-change rules join when ``reliability`` is given).
DEFAULT_METHODS = ("stiles2004", "strauss2006", "gumz2012", "rci", "tang_derubeis",
                   "zilcha_mano2019")


@dataclass
class RuptureOverview:
    """Tables and figures of a rupture report section.

    Attributes
    ----------
    counts : pandas.DataFrame
        One row per rule: ``method``, ``citation``, ``rule``, ``n_patients``,
        ``n_evaluable``, ``n_events``, ``n_patients_with_event``,
        ``pct_patients_with_event`` (of evaluable patients), ``n_repaired``,
        ``pct_repaired`` (of events), ``n_unrepaired``, ``n_open``.
    patterns : pandas.DataFrame
        Per rupture rule, the number and percentage of evaluable patients in each Larsson et
        al. (2018) class.
    events : dict of str to DataFrame
        The :func:`alliancestats.ruptures` table of every rule.
    figures : dict of str to matplotlib.figure.Figure
        ``"examples"`` (patients with ruptures, small multiples), ``"profile"`` (average
        alliance around the trough), ``"sessions"`` (ruptures per session), all for
        ``figure_method``; empty when ``figures=False``.
    notes : list of str
        What the reader should know (rules left out and why, the figure rule).
    """

    counts: pd.DataFrame
    patterns: pd.DataFrame
    events: dict[str, pd.DataFrame]
    figures: dict[str, Figure] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The counts per rule as plain text, one line per rule."""
        lines = ["Alliance ruptures by detection rule"]
        for r in self.counts.itertuples():
            lines.append(
                f"  {r.method:<16} {r.n_events:>4} events in {r.n_patients_with_event} of "
                f"{r.n_evaluable} patients ({format_number(r.pct_patients_with_event, 1)}%), "
                f"{format_number(r.pct_repaired, 1)}% repaired"
            )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def _count_row(table: pd.DataFrame, evaluable: np.ndarray) -> dict[str, Any]:
    n = len(table)
    with_event = table["patient"].nunique()
    repaired = int((table["status"] == "repaired").sum())
    return {
        "method": table.attrs["method"],
        "citation": table.attrs["citation"],
        "rule": table.attrs["rule"],
        "n_patients": table.attrs["n_patients"],
        "n_evaluable": int(evaluable.sum()),
        "n_events": n,
        "n_patients_with_event": with_event,
        "pct_patients_with_event": 100 * with_event / evaluable.sum() if evaluable.any()
        else np.nan,
        "n_repaired": repaired,
        "pct_repaired": 100 * repaired / n if n else np.nan,
        "n_unrepaired": int((table["status"] == "unrepaired").sum()),
        "n_open": int((table["status"] == "open").sum()),
    }


def _pattern_rows(table: pd.DataFrame, patients: Any, evaluable: np.ndarray
                  ) -> list[dict[str, Any]]:
    classes = classify_patients(table, patients, evaluable)
    judged = classes[classes["evaluable"]]
    counts = judged["pattern"].value_counts().reindex(PATTERN_CLASSES, fill_value=0)
    return [{"method": table.attrs["method"], "pattern": k, "n": int(v),
             "pct": 100 * v / len(judged) if len(judged) else np.nan}
            for k, v in counts.items()]


def _figures(data: Any, alliance: str, table: pd.DataFrame, options: dict[str, Any],
             max_patients: int) -> dict[str, Figure]:
    cols = {k: options[k] for k in ("patient", "session", "wide_pattern") if k in options}
    n = max(1, min(max_patients, table["patient"].nunique()))
    ncols = min(4, n)
    examples = Figure(figsize=(2.2 * ncols, 1.7 * -(-n // ncols)), layout="constrained")
    grid = examples.subplots(-(-n // ncols), ncols, sharex=True, sharey=True, squeeze=False)
    event_panels(data, alliance, events=table, band=1, max_patients=n, ax=grid, **cols)
    profile = Figure(figsize=(4.5, 3.0), layout="constrained")
    event_profile(table, data, alliance, ax=profile.add_subplot(), ylabel=alliance, **cols)
    sessions = Figure(figsize=(4.5, 3.0), layout="constrained")
    event_sessions(table, ax=sessions.add_subplot())
    return {"examples": examples, "profile": profile, "sessions": sessions}


def rupture_overview(
    data: Any,
    alliance: str,
    *,
    methods: Any = None,
    reliability: float | pd.DataFrame | None = None,
    figures: bool = True,
    figure_method: str | None = None,
    max_patients: int = 8,
    **options: Any,
) -> RuptureOverview:
    """Run several rupture rules and collect the tables and figures of a report section.

    Parameters
    ----------
    data : DataFrame or SessionData
        Session data, as for :func:`alliancestats.ruptures`.
    alliance : str
        The alliance score.
    methods : sequence of str, optional
        Rules to compare; default every rule, the reliable-change ones (rci, tang_derubeis,
        zilcha_mano2019) only when ``reliability`` is given.
    reliability : float or DataFrame, optional
        Reliability of the alliance scale for the reliable-change rules.
    figures : bool, default True
        Draw the figures (matplotlib ``Figure`` objects, not attached to pyplot).
    figure_method : str, optional
        Rule the figures show; default gumz2012 when compared, else the first rule.
    max_patients : int, default 8
        Patients in the example panels.
    **options
        Other keyword arguments of :func:`alliancestats.ruptures` used by every rule
        (``patient``, ``session``, ``repair_window``, ``repair_fraction``, ...).

    Returns
    -------
    RuptureOverview
    """
    figures = check_bool("figures", figures)
    notes = []
    if methods is None:
        methods = [m for m in DEFAULT_METHODS
                   if reliability is not None or not METHODS[m].uses_reliability]
        if reliability is None:
            notes.append("rci, tang_derubeis and zilcha_mano2019 need the scale's reliability "
                         "(reliability=) and were not run")
    methods = list(methods)
    if not methods:
        raise ParameterError("methods is empty: name at least one rupture rule")
    counts, patterns, events = [], [], {}
    for method in methods:
        own = dict(options)
        if method in METHODS and METHODS[method].uses_reliability:
            own["reliability"] = reliability
        table, series, evaluable, _ = rupture_detection(
            data, alliance, ruptures_arguments(method, own, "rupture_overview"))
        events[method] = table
        counts.append(_count_row(table, evaluable))
        if method != "zilcha_mano2019":  # sudden gains are not ruptures
            patterns += _pattern_rows(table, series.patients, evaluable)
    shown = figure_method or ("gumz2012" if "gumz2012" in events else methods[0])
    if shown not in events:
        raise ParameterError(f"figure_method={shown!r} is not among the methods {methods}")
    drawn = {}
    if figures and len(events[shown]):
        drawn = _figures(data, alliance, events[shown], options, max_patients)
        notes.append(f"figures show the {shown} rule ({METHODS[shown].citation})")
    elif figures:
        notes.append(f"no figures: the {shown} rule found no events")
    return RuptureOverview(pd.DataFrame(counts), pd.DataFrame(patterns), events, drawn, notes)
