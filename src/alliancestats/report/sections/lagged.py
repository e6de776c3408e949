"""Lagged within-patient effects: the naive lagged model, the RI-CLPM and the ML-SEM model.

Uses :func:`alliancestats.panel.lagged_effects_report`, which fits the three side by side
and says which estimate to report (Falkenström, Solomonov & Rubel 2020; Falkenström 2024).
"""

from __future__ import annotations

from typing import Any

from alliancestats.report.content import SectionOutput
from alliancestats.report.context import ReportContext, capture_warnings
from alliancestats.report.options import Option
from alliancestats.report.sections import Section

__all__ = ["SECTION"]

OPTIONS = {
    "x": Option("str", "alliance", help="predictor at session t-1 (e.g. alliance)"),
    "y": Option("str", required=True, help="outcome at session t (e.g. pain)"),
    "waves": Option("int_or_list", help="sessions the two SEMs analyse: k for the first k, "
                    "or a list (late sessions few patients reach make them unstable)"),
}


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """Fit the three lagged models and write their comparison."""
    from alliancestats.panel import lagged_effects_report

    x, y = options["x"], options["y"]
    ctx.require_columns([x, y], "[lagged]")
    report, warn = capture_warnings(lambda: lagged_effects_report(
        ctx.data, x, y, waves=options["waves"]))
    out.warnings += warn + list(report.warnings)
    for paragraph in report.text:
        out.text(paragraph)
    ctx.table(out, "Lagged effect by model", "lagged_comparison",
              report.tables["comparison"].reset_index(names="model"),
              f"effect of {x} at t-1 on {y} at t, autoregression and long-run effect")
    ctx.table(out, "Fit of the structural equation models", "lagged_fit",
              report.tables["fit"].reset_index(names="model"))
    ctx.table(out, "Nickell bias expected for the naive model", "lagged_nickell",
              report.tables["nickell"])
    for key, fig in report.figures.items():
        ctx.figure(out, "Lagged effects by model", key, fig,
                   "estimates with 95% CIs from the three models")


SECTION = Section(
    key="lagged",
    title="Lagged effects",
    run=run,
    options=OPTIONS,
    summary="alliance at one session and the outcome at the next: three models compared",
)
