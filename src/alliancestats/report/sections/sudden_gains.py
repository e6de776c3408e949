"""Sudden gains (and, optionally, losses) in an outcome: Tang & DeRubeis (1999) criteria.

Uses :func:`alliancestats.sudden_gains` / :func:`alliancestats.sudden_losses` (validated
against the R package suddengains 0.7.2). The cut-off of criterion 1 is given directly or
computed as the reliable change index from the first session's SD and the scale's reliability
(Jacobson & Truax 1991, :func:`alliancestats.rci_cutoff`).
"""

from __future__ import annotations

from typing import Any

from alliancestats.report.content import SectionOutput, SectionSkipped
from alliancestats.report.context import ReportContext, capture_warnings
from alliancestats.report.options import Option
from alliancestats.report.sections import Section

__all__ = ["SECTION"]

OPTIONS = {
    "score": Option("str", required=True, help="outcome column, e.g. pain"),
    "cutoff": Option("float", help="criterion 1: smallest change between two sessions"),
    "reliability": Option("float", help="or: the scale's reliability, for the reliable "
                          "change index from the first session's SD"),
    "pct": Option("float", 0.25, help="criterion 2: change as a share of the pre score"),
    "crit3": Option("bool", True, help="criterion 3: means before and after differ"),
    "higher_is_better": Option("bool", False, help="true when higher scores are better"),
    "losses": Option("bool", False, help="also look for sudden losses"),
}


def _cutoff(ctx: ReportContext, options: dict[str, Any]) -> tuple[float, str]:
    from alliancestats.alliance import rci_cutoff

    if options["cutoff"] is not None:
        return options["cutoff"], f"a cut-off of {options['cutoff']:g} points"
    if options["reliability"] is None:
        raise SectionSkipped("[sudden_gains] needs cutoff = ... or reliability = ... "
                             "(for the reliable change index)")
    d = ctx.data
    first = d.loc[d["session"] == d.groupby("patient")["session"].transform("min"),
                  options["score"]]
    rci = rci_cutoff(first, options["reliability"])
    return float(rci), (f"the reliable change index {float(rci):.2f} (first-session SD "
                        f"{first.std():.2f}, reliability {options['reliability']:g}; "
                        "Jacobson & Truax 1991)")


def _one(ctx: ReportContext, out: SectionOutput, kind: str, options: dict[str, Any],
         cutoff: float) -> None:
    from alliancestats.alliance import sudden_gains, sudden_losses
    from alliancestats.plot.event_summary import event_profile, event_sessions

    fn = sudden_gains if kind == "gains" else sudden_losses
    result, warn = capture_warnings(lambda: fn(
        ctx.data, options["score"], cutoff=cutoff, pct=options["pct"], crit3=options["crit3"],
        higher_is_better=options["higher_is_better"]))
    out.warnings += warn
    out.heading(f"Sudden {kind}")
    out.text("```\n" + result.summary() + "\n```")
    stem = f"sudden_{kind}"
    ctx.table(out, f"Sudden {kind}", stem, result.events,
              "one row per event: session N, magnitude, criteria, reversal",
              show=["patient", "session", "next_session", "score_n", "score_post1",
                    "magnitude", "relative_change", "reversal"])
    ctx.table(out, "By patient", f"{stem}_by_patient", result.by_patient(), inline=False)
    ctx.table(out, "Summary", f"{stem}_summary",
              result.describe().rename_axis("quantity").reset_index(name="value"))
    if len(result):
        ctx.figure(out, f"Scores around sudden {kind}", f"{stem}_profile",
                   event_profile(result, ylabel=ctx.label(options["score"])),
                   "mean score at sessions N-2 ... N+3 around each event, with 95% CIs")
        ctx.figure(out, f"Sudden {kind} by session", f"{stem}_sessions",
                   event_sessions(result), "events per interval; grey: evaluable intervals")


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """Find sudden gains (and losses) and describe them."""
    ctx.require_columns([options["score"]], "[sudden_gains]")
    cutoff, how = _cutoff(ctx, options)
    out.text(f"Sudden gains in {ctx.label(options['score'])} following Tang & DeRubeis "
             f"(1999): criterion 1 uses {how}; criterion 2 a change of at least "
             f"{options['pct']:.0%} of the pre-gain score; criterion 3 "
             + ("compares the means of the three sessions before and after (critical "
                "values adjusted for missing scores, Lutz et al. 2013)." if options["crit3"]
                else "is not applied."))
    _one(ctx, out, "gains", options, cutoff)
    if options["losses"]:
        _one(ctx, out, "losses", options, cutoff)


SECTION = Section(
    key="sudden_gains",
    title="Sudden gains",
    run=run,
    options=OPTIONS,
    summary="sudden gains and losses (Tang & DeRubeis 1999) with reversal and profile",
)
