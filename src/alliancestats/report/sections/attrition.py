"""Attrition: how many patients each session still has, and who ended early.

With dropout that depends on the alliance (or on the outcome), observed session means at late
sessions describe a selected group; this section makes the selection visible: patients
retained by session (table and figure) and the early scores of patients who ended early
against those who stayed (standardised differences).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats.report.content import SectionOutput
from alliancestats.report.context import ReportContext
from alliancestats.report.measures import default_measures, shared_group
from alliancestats.report.options import Option
from alliancestats.report.sections import Section

__all__ = ["SECTION", "early_enders", "retention_table"]

OPTIONS = {
    "group": Option("str", help="column whose levels are shown separately (default: the "
                    "[descriptives] group)"),
    "planned_sessions": Option("int", help="planned number of sessions (default: the last "
                               "session in the data)"),
    "early_sessions": Option("int", 3, help="sessions whose scores are compared between "
                             "patients who stayed and patients who ended early"),
    "compare": Option("str_list", help="measures compared (default: alliance and outcomes)"),
}


def retention_table(d: pd.DataFrame, group: str | None) -> pd.DataFrame:
    """Per session (and group): patients with a record and patients not yet ended."""
    parts = [(None, d)] if group is None else list(d.groupby(group, observed=True))
    rows = []
    for level, part in parts:
        last = part.groupby("patient", observed=True)["session"].max()
        first = part.groupby("patient", observed=True)["session"].min()
        start = int(len(last))
        for s in np.sort(part["session"].dropna().unique()):
            row = {} if group is None else {group: level}
            retained = int(((first <= s) & (last >= s)).sum())
            row.update({"session": s,
                        "patients_with_record": int(part.loc[part["session"] == s,
                                                             "patient"].nunique()),
                        "patients_retained": retained,
                        "percent_retained": 100 * retained / start if start else np.nan})
            rows.append(row)
    return pd.DataFrame(rows)


def early_enders(d: pd.DataFrame, measures: list[str], planned: float, early: int
                 ) -> pd.DataFrame:
    """Mean of the first ``early`` sessions: patients reaching ``planned`` vs the others."""
    last = d.groupby("patient", observed=True)["session"].max()
    completed = last >= planned
    early_rows = d[d["session"] <= d.groupby("patient", observed=True)["session"]
                   .transform("min") + early - 1]
    rows = []
    for m in measures:
        per = early_rows.groupby("patient", observed=True)[m].mean()
        stay, left = per[completed.reindex(per.index)], per[~completed.reindex(per.index)]
        stay, left = stay.dropna(), left.dropna()
        pooled = np.sqrt(((len(stay) - 1) * stay.var() + (len(left) - 1) * left.var())
                         / max(len(stay) + len(left) - 2, 1))
        rows.append({"measure": m, "n_stayed": len(stay), "mean_stayed": stay.mean(),
                     "sd_stayed": stay.std(), "n_ended_early": len(left),
                     "mean_ended_early": left.mean(), "sd_ended_early": left.std(),
                     "difference": left.mean() - stay.mean(),
                     "standardised_difference": (left.mean() - stay.mean()) / pooled
                     if pooled > 0 else np.nan})
    return pd.DataFrame(rows)


def _figure(table: pd.DataFrame, group: str | None, title: str | None) -> Any:
    from alliancestats.plot._style import (
        ACCENT,
        PALETTE,
        SMALL_FONT_SIZE,
        despine,
        label_axes,
        new_axes,
    )

    ax = new_axes(None, (4.5, 3.0))
    parts = [(None, table)] if group is None else list(table.groupby(group, observed=True))
    for k, (level, part) in enumerate(parts):
        colour = ACCENT if group is None else PALETTE[k % len(PALETTE)]
        ax.step(part["session"], part["percent_retained"], where="post", color=colour,
                linewidth=1.6, label="all patients" if level is None else str(level))
    ax.set_ylim(0, 103)
    despine(ax)
    label_axes(ax, "Session", "Patients still in treatment (%)")
    ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE, title=title,
              title_fontsize=SMALL_FONT_SIZE)
    return ax


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """Retention by session, the figure, and early scores of stayers and early enders."""
    from alliancestats.plot._style import readable_label

    d = ctx.data
    group = shared_group(ctx, options)
    ctx.require_columns([group] if group else [], "the attrition section")
    table = retention_table(d, group)
    planned = options["planned_sessions"] or float(d["session"].max())
    last = d.groupby("patient", observed=True)["session"].max()
    ended = int((last < planned).sum())
    out.text(f"{ended} of {len(last)} patients ({100 * ended / len(last):.1f}%) ended before "
             f"session {planned:g}. Late-session means describe only the patients still in "
             "treatment; where dropout depends on the alliance or on the outcome they are "
             "biased, which is why the models below use every observation (mixed models are "
             "unbiased when dropout depends only on what was observed).")
    ctx.table(out, "Patients by session", "retention", table,
              "patients with a record and patients not yet ended, by session")
    label = ctx.label(group) if group and group in ctx.config.labels else (
        readable_label(group) if group else None)
    ctx.figure(out, "Patients still in treatment", "retention", _figure(table, group, label),
               "share of the patients who started, still in treatment at each session")
    measures = [m for m in (options["compare"] or default_measures(ctx.session_data))
                if m in d]
    if ended and ended < len(last) and measures:
        early = early_enders(d, measures, planned, options["early_sessions"])
        ctx.table(out, "Early scores of patients who stayed and who ended early",
                  "early_enders", early,
                  f"patient means over their first {options['early_sessions']} sessions; "
                  "standardised difference = (ended early - stayed) / pooled SD")
        big = early[early["standardised_difference"].abs() >= 0.2]
        if len(big):
            names = ", ".join(f"{ctx.label(r.measure)} (d = {r.standardised_difference:.2f})"
                              for r in big.itertuples())
            out.text(f"Patients who ended early differed in their early scores: {names}. "
                     "Read rising or falling observed means with this selection in mind.")


SECTION = Section(
    key="attrition",
    title="Attrition",
    run=run,
    options=OPTIONS,
    always=True,
    summary="patients retained by session, early scores of patients who ended early",
)
