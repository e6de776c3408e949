"""Descriptive statistics: the cohort, each measure, each measure by session, each patient."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats.report.content import SectionOutput
from alliancestats.report.context import ReportContext
from alliancestats.report.measures import default_measures
from alliancestats.report.options import Option
from alliancestats.report.sections import Section

__all__ = ["SECTION", "describe_measures", "overview_table"]

OPTIONS = {
    "measures": Option("str_list", help="numeric columns to describe (default: the alliance "
                       "total and the outcomes)"),
    "group": Option("str", help="column to describe separately by level (e.g. arm)"),
    "attended": Option("str", help="0/1 column: was the session attended"),
}


def _range(values: pd.Series) -> str:
    return f"{values.median():g} ({values.min():g}-{values.max():g})"


def overview_table(d: pd.DataFrame, group: str | None, attended: str | None) -> pd.DataFrame:
    """Quantity / value rows describing the cohort."""
    per_patient = d.groupby("patient", observed=True)["session"].size()
    rows: list[tuple[str, Any]] = [("patients", d["patient"].nunique())]
    if "therapist" in d:
        rows.append(("therapists", d["therapist"].nunique()))
        rows.append(("patients per therapist, median (range)",
                     _range(d.groupby("therapist", observed=True)["patient"].nunique())))
    rows += [("session records", len(d)),
             ("sessions per patient, median (range)", _range(per_patient))]
    if attended:
        rows.append(("sessions attended (%)",
                     f"{int(d[attended].sum())} ({100 * d[attended].mean():.1f}%)"))
    if group:
        for level, n in d.groupby(group, observed=True)["patient"].nunique().items():
            rows.append((f"patients, {group} = {level}", n))
    return pd.DataFrame(rows, columns=["quantity", "value"]).astype({"value": str})


def describe_measures(d: pd.DataFrame, measures: list[str], group: str | None) -> pd.DataFrame:
    """n, mean, SD, quartiles and missing share of every measure (by group)."""
    parts = [(None, d)] if group is None else list(d.groupby(group, observed=True))
    rows = []
    for level, part in parts:
        for m in measures:
            v = pd.to_numeric(part[m], errors="coerce")
            row = {} if group is None else {group: level}
            row.update({
                "measure": m, "n": int(v.notna().sum()),
                "patients": int(part.loc[v.notna(), "patient"].nunique()),
                "mean": v.mean(), "sd": v.std(), "min": v.min(), "median": v.median(),
                "max": v.max(), "percent_missing": 100 * float(v.isna().mean()),
            })
            rows.append(row)
    return pd.DataFrame(rows)


def _by_session(d: pd.DataFrame, measures: list[str], group: str | None) -> pd.DataFrame:
    from alliancestats.plot.trajectories import session_summary

    parts = []
    for m in measures:
        s = session_summary(d, m, group=group)
        s.insert(0, "measure", m)
        parts.append(s)
    return pd.concat(parts, ignore_index=True)


def _patients(d: pd.DataFrame, measures: list[str], group: str | None) -> pd.DataFrame:
    g = d.sort_values(["patient", "session"]).groupby("patient", sort=True, observed=True)
    out = pd.DataFrame({"sessions": g["session"].size(), "first_session": g["session"].min(),
                        "last_session": g["session"].max()})
    for col in [c for c in ("therapist", group) if c and c in d]:
        out.insert(0, col, g[col].first())
    for m in measures:
        out[f"{m}_first"] = g[m].first()
        out[f"{m}_last"] = g[m].last()
        out[f"{m}_mean"] = g[m].mean()
    return out.reset_index()


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """Overview, measures, by-session table and the patient table."""
    d = ctx.data
    measures = options["measures"] or default_measures(ctx.session_data)
    measures = [m for m in measures if m in d and np.issubdtype(d[m].dtype, np.number)]
    group = options["group"]
    needed = [c for c in (group, options["attended"]) if c]
    ctx.require_columns(needed, "the descriptive tables")
    ctx.table(out, "Overview", "overview", overview_table(d, group, options["attended"]))
    if not measures:
        out.text("No numeric alliance or outcome columns to describe: name them in "
                 "`measures` of [descriptives].")
        return
    named = ", ".join(f"{ctx.label(m)} (`{m}`)" for m in measures)
    out.text(f"Measures described: {named}. Means are of the observed values (available "
             "cases); the attrition section shows how many patients each session still has.")
    ctx.table(out, "Measures", "measures", describe_measures(d, measures, group),
              "observations, patients, mean, SD, range and percentage missing")
    ctx.table(out, "Measures by session", "by_session", _by_session(d, measures, group),
              "n, mean, SD and 95% CI per session (observed values)")
    ctx.table(out, "Patients", "patients", _patients(d, measures, group),
              "one row per patient: sessions, first, last and mean value of each measure",
              inline=False)


SECTION = Section(
    key="descriptives",
    title="Descriptive statistics",
    run=run,
    options=OPTIONS,
    always=True,
    summary="cohort overview, measures overall and by session, patient table",
)
