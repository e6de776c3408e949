"""Data section: what was read, what was kept, every problem found and every gap."""

from __future__ import annotations

from typing import Any

from alliancestats.report.content import SectionOutput
from alliancestats.report.context import ReportContext, capture_warnings
from alliancestats.report.loading import load_study_data, source_name
from alliancestats.report.sections import Section

__all__ = ["SECTION"]


def _overview(sd: Any, source: str) -> str:
    who = f"{sd.n_patients} patients"
    if sd.n_therapists is not None:
        who += f" of {sd.n_therapists} therapists"
    unit = "rows" if sd.layout == "long" else "patient-session records"
    text = (f"Data: {source} ({sd.layout} layout). {sd.n_read} {unit} read, {sd.n_kept} kept "
            f"and analysed ({who}), {sd.n_dropped} left out because of the problems listed "
            "below (each with its row as the spreadsheet shows it).")
    if sd.instruments:
        scored = ", ".join(f"`{k}` from its items" for k in sd.instruments)
        text += f" Scored: {scored}."
    return text


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """Load the data and report the validation."""
    source = ctx.config.data_source(ctx.source)
    sd, messages = capture_warnings(lambda: load_study_data(ctx.config, ctx.source))
    out.warnings += messages
    ctx.session_data = sd
    summary = sd.summary()
    out.text(_overview(sd, source_name(source)))
    for note in summary.notes:
        out.text(f"Loader note: {note}")
    ctx.table(out, "Counts", "load_counts", summary.to_frame(),
              "rows, patients, therapists, sessions, gaps and early endings")
    ctx.table(out, "Column mapping", "column_mapping", sd.mapping,
              "which source column became which standard column")
    if len(sd.dropped):
        ctx.table(out, "Validation problems", "validation_problems", sd.dropped,
                  "one line per problem; these rows were left out")
        ctx.table(out, "Problems by kind", "validation_problems_by_kind",
                  summary.drops.reset_index(), "problem lines, source rows and records")
    else:
        out.text("Validation found no problems: every row was kept.")
        ctx.table(out, "Validation problems", "validation_problems", sd.dropped, inline=False)
    if len(summary.gaps):
        ctx.table(out, "Gaps in session numbers", "session_gaps", summary.gaps,
                  "patients missing a session number between their first and last session")
    ctx.table(out, "Analysed session data", "sessions", sd.data,
              "one row per patient-session in the standard long layout", inline=False)
    ctx.text_file(out, "Load summary", "load_summary", str(summary))


SECTION = Section(
    key="data",
    title="Data and validation",
    run=run,
    always=True,
    summary="rows read and kept, validation problems, gaps",
)
