"""Session-by-session feedback: expected-recovery curves, not-on-track signals, alliance alerts.

Uses :func:`alliancestats.expected_response` (the expected-treatment-response growth model of
Finch, Lambert & Schaalje 2001, or nearest-neighbour curves after Lutz et al. 2006) fitted on a
reference share of the patients, :func:`alliancestats.monitor` on the others,
:func:`alliancestats.evaluate_signals` for how well early red signals predict the end, and the
feedback figures of :mod:`alliancestats.plot.feedback`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from alliancestats.report.content import SectionOutput, SectionSkipped
from alliancestats.report.context import ReportContext, capture_warnings
from alliancestats.report.options import Option
from alliancestats.report.sections import Section

__all__ = ["SECTION"]

OPTIONS = {
    "score": Option("str", required=True, help="monitored outcome column, e.g. pain"),
    "reference_share": Option("float", 0.5, help="share of patients (first in ID order) the "
                              "expected curves are fitted on; the others are monitored (1: "
                              "all patients, both reference and monitored)"),
    "time": Option("str", "log", help="time scale of the curves: log or linear"),
    "level": Option("float", 0.9, help="one-sided level of the tolerance band"),
    "neighbours": Option("int", help="nearest-neighbour curves on this many reference "
                         "patients (default: one model for all)"),
    "higher_is_better": Option("bool", False, help="true when higher scores are better"),
    "instrument": Option("str", help="registry instrument giving default cut-off and "
                         "reliable change, e.g. oq45 or ors"),
    "cutoff": Option("float", help="clinical cut-off (needed for the white signal)"),
    "cutoff_rule": Option("str", help="how a score compares with the cut-off to be in the "
                          "clinical range: <, <=, > or >="),
    "rci": Option("float", help="reliable change in score points (white signal, evaluation)"),
    "yellow": Option("float", 0.5, help="share of the way to the band's bound that makes a "
                     "worse score yellow"),
    "update": Option("bool", False, help="condition each expectation on the earlier scores"),
    "srs": Option("str", help="Session Rating Scale column (alerts below the cut-off)"),
    "srs_cutoff": Option("float", help="SRS cut-off (default 36)"),
    "srs_rule": Option("str", help="< or <= for the SRS cut-off (default <)"),
    "wai": Option("str", help="WAI column (alerts on a drop of at least the reliable change)"),
    "wai_rci": Option("float", help="reliable change of the WAI score (default from the "
                      "first scores' SD and wai_reliability)"),
    "wai_reliability": Option("float", 0.92, help="reliability for the WAI reliable change"),
    "rupture_method": Option("str", "gumz2012", help="rupture rule for alerts, or \"none\""),
    "evaluate_sessions": Option("int_or_list", [3, 4], help="sessions at which red signals "
                                "are judged against the final outcome"),
    "criterion": Option("str", "nonresponse", help="final failure: nonresponse or "
                        "deterioration"),
    "example_patients": Option("int", 2, help="feedback charts for this many patients (those "
                               "with the most red signals)"),
}


def _split(ctx: ReportContext, share: float) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Reference and monitored patients, and the split in words."""
    if not 0 < share <= 1:
        raise SectionSkipped(f"[monitoring] reference_share must lie in (0, 1], got {share:g}")
    d = ctx.data
    ids = pd.Series(pd.unique(d["patient"])).sort_values(key=lambda s: s.astype(str))
    if share >= 1:
        return d, d, (f"all {len(ids)} patients serve as the reference and are monitored "
                      "(a retrospective, in-sample check)")
    n_ref = int(round(share * len(ids)))
    if n_ref < 3 or n_ref >= len(ids):
        raise SectionSkipped(f"[monitoring] reference_share = {share:g} leaves {n_ref} of "
                             f"{len(ids)} patients for the reference; choose another share")
    ref_ids = set(ids.iloc[:n_ref])
    in_ref = d["patient"].isin(ref_ids)
    return d[in_ref], d[~in_ref], (
        f"the expected curves are fitted on the first {n_ref} of {len(ids)} patients (in ID "
        f"order) and the other {len(ids) - n_ref} are monitored as a clinic would, session by "
        "session")


def _monitor(ctx: ReportContext, options: dict[str, Any]) -> tuple[Any, Any, str, list[str]]:
    from alliancestats.monitoring import expected_response, monitor

    reference, monitored, split = _split(ctx, options["reference_share"])
    er, warn = capture_warnings(lambda: expected_response(
        reference, options["score"], time=options["time"], level=options["level"],
        neighbours=options["neighbours"]))
    rupture = None if options["rupture_method"] in (None, "none") else options["rupture_method"]
    direction = "higher_is_better" if options["higher_is_better"] else None  # None: default
    table, more = capture_warnings(lambda: monitor(
        monitored, er, instrument=options["instrument"], direction=direction,
        cutoff=options["cutoff"], cutoff_rule=options["cutoff_rule"], rci=options["rci"],
        yellow=options["yellow"], update=options["update"], srs=options["srs"],
        srs_cutoff=options["srs_cutoff"], srs_rule=options["srs_rule"], wai=options["wai"],
        wai_rci=options["wai_rci"], wai_reliability=options["wai_reliability"],
        rupture_method=rupture, keep="therapist" if "therapist" in monitored else None))
    return er, table, split, warn + more


def _evaluation(ctx: ReportContext, out: SectionOutput, table: pd.DataFrame,
                options: dict[str, Any]) -> None:
    from alliancestats.monitoring import evaluate_signals

    if table.attrs["rci"] is None:
        out.text("Signals are not evaluated against the final outcome: that needs a reliable "
                 "change (rci = ... or an instrument with one).")
        return
    sessions = options["evaluate_sessions"]
    ev = evaluate_signals(table, session=[sessions] if isinstance(sessions, int) else sessions,
                          criterion=options["criterion"])
    out.text(f"Final failure: {ev.attrs['truth']}. The empirical rule is a red signal, the "
             "rational rule a score worse than at intake by at least the reliable change "
             "(Lutz et al. 2006 compared the two).")
    ctx.table(out, "Red signals and final outcome", "monitoring_evaluation", ev,
              "exact (Clopper-Pearson) 95% intervals; AUC with DeLong's interval",
              show=["session", "rule", "n", "n_failure", "sensitivity", "specificity", "ppv",
                    "npv", "auc", "auc_ci_low", "auc_ci_high"])


def _figures(ctx: ReportContext, out: SectionOutput, table: pd.DataFrame,
             options: dict[str, Any]) -> None:
    from alliancestats.plot.feedback import feedback_chart, signal_overview

    ctx.figure(out, "Signals by session", "monitoring_overview",
               signal_overview(table, min_n=5).figure,
               "share of monitored patients per signal at each session since intake; "
               "n judged above the bars (sessions with fewer than 5 left out)")
    red = table.loc[table["signal"] == "red", table.attrs["patient"]].value_counts()
    for k, patient in enumerate(red.index[: options["example_patients"]], start=1):
        ax = feedback_chart(table, patient, ylabel=ctx.label(options["score"]),
                            alliance_label=None if table.attrs["alliance"]["wai"] is None
                            else ctx.label(table.attrs["alliance"]["wai"]))
        ctx.figure(out, f"Feedback chart: {patient}", f"monitoring_patient_{k}", ax.figure,
                   "observed scores coloured by signal, expected curve (dashed) and "
                   "tolerance band; alliance and its alerts on the right-hand axis")


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """Fit expected curves, monitor patients, evaluate the signals, draw the charts."""
    columns = [options["score"]] + [options[k] for k in ("srs", "wai") if options[k]]
    ctx.require_columns(columns, "[monitoring]")
    er, table, split, warn = _monitor(ctx, options)
    out.warnings += warn
    out.text(f"Routine outcome monitoring of {ctx.label(options['score'])}: {split}. This "
             "re-implements the published expected-treatment-response idea (Finch, Lambert & "
             "Schaalje 2001; Lutz et al. 2006) on this study's own data; it reproduces no "
             "proprietary expected-recovery tables.")
    out.text("```\n" + er.summary() + "\n```")
    ctx.table(out, "Signal and alert rules", "monitoring_rules", table.attrs["rules"],
              "every threshold with its source")
    from alliancestats.plot.feedback import signal_shares

    ctx.table(out, "Signals by session", "monitoring_signals", signal_shares(table),
              "patients per signal at each session since intake (t = 1 is the intake)")
    alert_cols = [c for c in ("srs_alert", "wai_drop_alert", "rupture_alert",
                              "alliance_alert") if c in table]
    if alert_cols:
        counts = table[alert_cols].fillna(False).astype(bool).sum().rename_axis("alert")
        ctx.table(out, "Alliance alerts", "monitoring_alerts",
                  counts.reset_index(name="sessions"), "patient-sessions with each alert")
    ctx.table(out, "Session-by-session table", "monitoring_sessions", table, inline=False)
    _evaluation(ctx, out, table, options)
    _figures(ctx, out, table, options)


SECTION = Section(
    key="monitoring",
    title="Session-by-session feedback",
    run=run,
    options=OPTIONS,
    summary="expected-recovery curves, not-on-track signals and alliance alerts",
)
