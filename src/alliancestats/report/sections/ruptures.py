"""Alliance ruptures under several published rules, side by side.

Uses :func:`alliancestats.alliance.rupture_overview.rupture_overview`: counts per rule, the
patient classes of Larsson et al. (2018), the events of every rule and three figures.
"""

from __future__ import annotations

from typing import Any

from alliancestats.report.content import SectionOutput
from alliancestats.report.context import ReportContext, capture_warnings
from alliancestats.report.options import Option
from alliancestats.report.sections import Section

__all__ = ["SECTION"]

OPTIONS = {
    "alliance": Option("str", "alliance", help="alliance column"),
    "reliability": Option("float", help="the scale's reliability (adds the reliable-change "
                          "rules)"),
    "methods": Option("str_list", help="rules to compare (default: all that can run)"),
    "figure_method": Option("str", help="rule the figures show (default gumz2012)"),
}


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """Run the rupture rules and write their tables and figures."""
    from alliancestats.alliance.rupture_overview import rupture_overview

    alliance = options["alliance"]
    ctx.require_columns([alliance], "[ruptures]")
    overview, warn = capture_warnings(lambda: rupture_overview(
        ctx.data, alliance, methods=options["methods"], reliability=options["reliability"],
        figure_method=options["figure_method"]))
    out.warnings += warn
    out.text("Rupture counts depend strongly on the rule (Gumz et al. 2012, BMC Med Res "
             "Methodol 12:10), so every rule is shown side by side; patient classes follow "
             "Larsson et al. (2018, Psychother Res 28(1)).")
    for note in overview.notes:
        out.text(f"Note: {note}.")
    ctx.table(out, "Ruptures by rule", "ruptures_by_rule", overview.counts,
              "events, patients with an event, repaired and unrepaired")
    ctx.table(out, "Patient classes by rule", "rupture_patterns", overview.patterns,
              "share of evaluable patients per class (Larsson et al. 2018)")
    for method, events in overview.events.items():
        ctx.table(out, f"Events: {method}", f"ruptures_{method}", events, inline=False)
    captions = {"examples": "example patients with the detected ruptures marked",
                "profile": "mean alliance around the rupture trough",
                "sessions": "ruptures per session"}
    for key, fig in overview.figures.items():
        ctx.figure(out, f"Ruptures: {key}", f"ruptures_{key}", fig, captions.get(key, ""))


SECTION = Section(
    key="ruptures",
    title="Alliance ruptures",
    run=run,
    options=OPTIONS,
    summary="alliance ruptures and repairs under several published rules",
)
