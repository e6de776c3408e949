"""The result of a sudden-gain or sudden-loss search: events, intervals, per-patient summaries.

:class:`SuddenChangeResult` holds one row per event (``.events``), one row per examined
interval (``.intervals``) and the grid the search ran on, and derives what the R package
suddengains 0.7.2 (Wiedemann et al. 2020, PLOS ONE 15(3):e0230276) offers as separate
functions: one selected event per patient (``create_byperson`` -> :meth:`~SuddenChangeResult.by_patient`),
descriptives (``describe_sg`` -> :meth:`~SuddenChangeResult.describe`) and the count of
intervals that could be analysed (``count_intervals`` ->
:meth:`~SuddenChangeResult.count_intervals`).

Examples
--------
>>> import alliancestats as als
>>> sg = als.sudden_gains(als.read_sample("sgdata"), "bdi", patient="id",
...                       wide_pattern="{var}_s{session}", sessions=(1, 12), cutoff=7)
>>> len(sg), int(sg.by_patient()["n_events"].gt(0).sum())
(24, 15)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._format import format_number
from alliancestats._validation import check_choice
from alliancestats.alliance.series import SessionSeries

__all__ = ["SELECT_RULES", "SuddenChangeResult"]

#: How :meth:`SuddenChangeResult.by_patient` picks one event per patient.
SELECT_RULES = ("first", "last", "largest", "smallest")


@dataclass(frozen=True)
class SuddenChangeResult:
    """Sudden gains or losses found in session-by-session scores.

    Attributes
    ----------
    events : pandas.DataFrame
        One row per event (see :func:`alliancestats.sudden_gains` for the columns).
    intervals : pandas.DataFrame
        One row per patient and examined interval N -> N+1: the scores, window statistics,
        the three criteria (nullable booleans; missing when a criterion could not be
        evaluated or was not applied) and ``met``.
    series : SessionSeries
        The patients x sessions grid the search ran on.
    settings : dict
        The arguments of the search (kind, rule, cut-off, ...), for reports.
    """

    events: pd.DataFrame
    intervals: pd.DataFrame
    series: SessionSeries
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``"gain"`` or ``"loss"``."""
        return str(self.settings.get("kind", "gain"))

    @property
    def patients(self) -> pd.Index:
        """Every patient in the data, with or without events."""
        return self.series.patients

    def __len__(self) -> int:
        return len(self.events)

    def by_patient(self, select: str = "first") -> pd.DataFrame:
        """One row per patient with the number of events and one selected event.

        Parameters
        ----------
        select : {"first", "last", "largest", "smallest"}
            Which event represents a patient with several: the earliest or latest pre-event
            session, or the largest or smallest ``magnitude`` (ties: the earliest). For losses
            "largest" is the largest worsening (suddengains 0.7.2 returns the smallest
            worsening here because it stores losses as negative magnitudes).

        Returns
        -------
        pandas.DataFrame
            ``patient``, ``n_events``, ``has_event`` and the selected event's columns
            (missing for patients without events), one row per patient in ``patients`` order.
        """
        check_choice("select", select, SELECT_RULES)
        ev = self.events
        if len(ev):
            key = {"first": ["session"], "last": ["session"], "largest": ["magnitude", "session"],
                   "smallest": ["magnitude", "session"]}[select]
            ascending = {"first": [True], "last": [False], "largest": [False, True],
                         "smallest": [True, True]}[select]
            chosen = ev.sort_values(key, ascending=ascending, kind="stable").drop_duplicates(
                "patient"
            )
        else:
            chosen = ev
        counts = ev.groupby("patient", sort=False).size()
        out = pd.DataFrame({"patient": self.patients})
        out["n_events"] = out["patient"].map(counts).fillna(0).astype("int64")
        out["has_event"] = out["n_events"] > 0
        return out.merge(chosen, on="patient", how="left")

    def describe(self, by: str = "event", select: str = "first") -> pd.Series:
        """Counts, reversals and magnitude, as suddengains' ``describe_sg``.

        Parameters
        ----------
        by : {"event", "patient"}
            ``"event"``: over all events (``describe_sg(..., "bysg")``); ``"patient"``: over
            patients, using one selected event per patient (``"byperson"``).
        select : str
            Event selection for ``by="patient"`` (see :meth:`by_patient`).

        Returns
        -------
        pandas.Series
            For ``"event"``: ``n_events``, ``pct_events_in_patients_with_several``,
            ``n_reversals``, ``pct_reversals``, ``magnitude_mean``, ``magnitude_sd``. For
            ``"patient"``: ``n_patients``, ``n_events``, ``n_patients_with_event``,
            ``pct_patients_with_event``, ``n_patients_with_several``,
            ``pct_patients_with_several``, ``n_reversals``, ``pct_reversals``,
            ``magnitude_mean``, ``magnitude_sd`` (of the selected events). Percentages are
            unrounded (suddengains rounds to 2 decimals).
        """
        check_choice("by", by, ("event", "patient"))
        if by == "event":
            ev = self.events
            per = ev.groupby("patient")["session"].transform("size") if len(ev) else ev["session"]
            n = len(ev)
            return pd.Series(
                {
                    "n_events": n,
                    "pct_events_in_patients_with_several": _pct((per > 1).sum(), n),
                    "n_reversals": int(ev["reversal"].sum()),
                    "pct_reversals": _pct(ev["reversal"].sum(), n),
                    "magnitude_mean": ev["magnitude"].mean() if n else np.nan,
                    "magnitude_sd": ev["magnitude"].std() if n > 1 else np.nan,
                },
                name=f"sudden {self.kind}s by event",
            )
        people = self.by_patient(select)
        with_event = people[people["has_event"]]
        n_with = len(with_event)
        return pd.Series(
            {
                "n_patients": len(people),
                "n_events": int(people["n_events"].sum()),
                "n_patients_with_event": n_with,
                "pct_patients_with_event": _pct(n_with, len(people)),
                "n_patients_with_several": int((people["n_events"] > 1).sum()),
                "pct_patients_with_several": _pct((people["n_events"] > 1).sum(), len(people)),
                "n_reversals": int(with_event["reversal"].astype(bool).sum()),
                "pct_reversals": _pct(with_event["reversal"].astype(bool).sum(), n_with),
                "magnitude_mean": with_event["magnitude"].mean() if n_with else np.nan,
                "magnitude_sd": with_event["magnitude"].std() if n_with > 1 else np.nan,
            },
            name=f"sudden {self.kind}s by patient ({select} event)",
        )

    def count_intervals(self) -> pd.Series:
        """How many session-to-session intervals could be analysed (suddengains'
        ``count_intervals``).

        ``total``: all intervals between consecutive sessions of the grid, over patients;
        ``examined``: those whose pre-event session N may start an event (not the first
        interval when the first session is a baseline, never the last interval, whose
        post-event window would hold one session); ``evaluable``: examined intervals where
        both scores exist and each window has at least two scores, so that all three
        criteria can be applied; ``not_evaluable``: the rest of the examined ones.
        """
        n_pat, n_ses = self.series.values.shape
        iv = self.intervals
        evaluable = int(iv["evaluable"].sum())
        return pd.Series(
            {
                "total": n_pat * max(n_ses - 1, 0),
                "examined": len(iv),
                "evaluable": evaluable,
                "not_evaluable": len(iv) - evaluable,
            },
            name="intervals",
        )

    def summary(self) -> str:
        """A short plain-text account of the search and its results."""
        s = self.settings
        d = self.describe("patient")
        cutoff = "not applied" if s.get("cutoff") is None else format_number(s["cutoff"], 3)
        lines = [
            f"Sudden {self.kind}s in {s.get('score')!r} (rule {s.get('rule')!r}; "
            f"{'lower' if not s.get('higher_is_better') else 'higher'} scores are better)",
            f"  criterion 1 cut-off: {cutoff}; criterion 2: "
            + ("not applied" if s.get("pct") is None else f"{100 * s['pct']:g}% of x_N")
            + "; criterion 3: "
            + ("not applied" if not s.get("crit3") else
               ("t critical value adjusted for missing scores" if s.get("crit3_adjust")
                else f"critical value {s.get('critical_value')}")),
            f"  sessions {int(self.series.sessions[0])}-{int(self.series.sessions[-1])}; "
            f"{int(d['n_patients'])} patients",
            f"  {int(d['n_events'])} {self.kind}(s) in {int(d['n_patients_with_event'])} "
            f"patients ({format_number(d['pct_patients_with_event'], 1)}%); "
            f"{int(self.describe()['n_reversals'])} reversal(s)",
        ]
        c = self.count_intervals()
        lines.append(f"  intervals examined {c['examined']}, evaluable {c['evaluable']}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def _pct(part: Any, whole: int) -> float:
    return 100.0 * float(part) / whole if whole else float("nan")
