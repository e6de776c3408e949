"""Trajectory figures: individual lines, observed means with n per session, model means."""

from __future__ import annotations

import re
from typing import Any

from alliancestats.report.content import SectionOutput, SectionSkipped
from alliancestats.report.context import ReportContext
from alliancestats.report.measures import default_measures, shared_group
from alliancestats.report.options import Option
from alliancestats.report.sections import Section

__all__ = ["SECTION"]

OPTIONS = {
    "measures": Option("str_list", help="columns drawn (default: alliance and outcomes)"),
    "group": Option("str", help="one panel per level (default: the [descriptives] group)"),
    "individual_lines": Option("int", 25, help="patients drawn as thin lines per panel"),
    "min_n": Option("int", 10, help="sessions with fewer observed values get no mean"),
    "attrition": Option("float", 0.3, help="say so on the figure when n falls by this share"),
    "model_overlay": Option("bool", True, help="overlay the model-implied mean of a "
                            "[[models]] entry fitted to the same measure"),
}


def _overlay(ctx: ReportContext, measure: str) -> tuple[Any, str]:
    """A fitted model of ``measure`` whose fixed part uses session, and its name."""
    for spec in ctx.model_specs():
        lhs, rhs = spec["formula"].split("~", 1)
        fixed = re.sub(r"\([^)]*\|[^)]*\)", "", rhs)
        if lhs.strip() == measure and re.search(r"\bsession\b", fixed):
            entry = ctx.fitted(spec["name"])
            if entry.fit is not None:
                return entry.fit, entry.name
    return None, ""


def _draw(ctx: ReportContext, options: dict[str, Any], measure: str, group: str | None,
          model: Any) -> Any:
    from alliancestats.plot import trajectories, trajectory_panels

    common = {"n_patients": options["individual_lines"], "min_n": options["min_n"],
              "attrition": options["attrition"], "model": model,
              "ylabel": ctx.label(measure), "seed": ctx.config.report["seed"],
              "style": ctx.config.report["style"]}
    if group is None:
        return trajectories(ctx.data, measure, **common)
    title = ctx.config.labels.get(group)
    return trajectory_panels(ctx.data, measure, group=group, legend_title=title, **common)


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """One figure per measure."""
    d = ctx.data
    group = shared_group(ctx, options)
    ctx.require_columns([group] if group else [], "the trajectory figures")
    measures = [m for m in (options["measures"] or default_measures(ctx.session_data))
                if m in d]
    if not measures:
        raise SectionSkipped("no measures to draw: name them in `measures` of [trajectories]")
    out.text("Thin lines are randomly drawn patients (the legend says how many of how "
             "many); thick lines the observed means with 95% confidence bands; the numbers "
             "above each panel are the observed values per session. Dashed lines are the "
             "model-implied means of the fitted mixed model (other predictors at their mean), "
             "which use every patient's observations and so are not limited to the patients "
             f"still attending. Sessions with fewer than {options['min_n']} values get no mean.")
    for m in measures:
        model, name = _overlay(ctx, m) if options["model_overlay"] else (None, "")
        figure = _draw(ctx, options, m, group, model)
        caption = f"one panel per {group}" if group else "all patients"
        if name:
            caption += f"; dashed: model-implied mean of model `{name}`"
        ctx.figure(out, f"{ctx.label(m)} over sessions", f"trajectories_{m}", figure, caption)


SECTION = Section(
    key="trajectories",
    title="Trajectories",
    run=run,
    options=OPTIONS,
    always=True,
    summary="individual and mean trajectories with n per session and model-implied means",
)
