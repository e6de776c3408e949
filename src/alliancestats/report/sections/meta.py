"""Random-effects meta-analysis of a study-level table, with publication-bias checks.

Uses :func:`alliancestats.meta_analysis` (validated against metafor 3.8-1), forest and
funnel plots, :func:`alliancestats.trim_and_fill`, :func:`alliancestats.egger_test` and
:func:`alliancestats.leave_one_out`. Correlations given as ``r`` and ``n`` are analysed as
Fisher z and shown back-transformed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats.report.content import SectionOutput, SectionSkipped
from alliancestats.report.context import ReportContext, capture_warnings
from alliancestats.report.options import Option
from alliancestats.report.sections import Section

__all__ = ["SECTION"]

OPTIONS = {
    "sample": Option("str", help="a bundled study table, e.g. molloy2014"),
    "file": Option("str", help="or: a CSV/Excel file with one row per study"),
    "title": Option("str", "", help="what is pooled, in words"),
    "r": Option("str", help="column of correlations (with n)"),
    "n": Option("str", help="column of sample sizes"),
    "yi": Option("str", help="or: column of effect sizes (with vi)"),
    "vi": Option("str", help="column of sampling variances"),
    "slab": Option("str", help="column of study labels"),
    "method": Option("str", "REML", help="estimator of tau²: REML, DL, ML, ..."),
    "xlabel": Option("str", help="axis label of the forest plot"),
}


def _studies(ctx: ReportContext, options: dict[str, Any]) -> tuple[pd.DataFrame, str]:
    from alliancestats.datasets import read_sample

    if options["sample"] and options["file"]:
        raise SectionSkipped("[meta]: give sample or file, not both")
    if options["sample"]:
        return read_sample(options["sample"]), f"bundled table `{options['sample']}`"
    if options["file"]:
        path = ctx.config.resolve(options["file"])
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            return pd.read_excel(path), f"`{path.name}`"
        return pd.read_csv(path), f"`{path.name}`"
    raise SectionSkipped("[meta] needs sample = \"...\" or file = \"...\"")


def _fit(studies: pd.DataFrame, options: dict[str, Any]) -> Any:
    from alliancestats.meta import meta_analysis

    common = {"slab": options["slab"], "method": options["method"]}
    if options["r"] and options["n"]:
        return meta_analysis(studies, r=options["r"], n=options["n"], **common)
    if options["yi"] and options["vi"]:
        return meta_analysis(studies, yi=options["yi"], vi=options["vi"], **common)
    raise SectionSkipped("[meta] needs r and n (correlations) or yi and vi (effect sizes "
                         "and sampling variances)")


def _pooled(res: Any, back: Any) -> pd.DataFrame:
    row = {"k": res.k, "method": res.method, "estimate": res.estimate, "se": res.se,
           "ci_low": res.ci_low, "ci_high": res.ci_high, "pi_low": res.pi_low,
           "pi_high": res.pi_high, "tau2": res.tau2, "i2": res.i2, "q": res.q,
           "q_df": res.k - 1, "q_p": res.q_p}
    if back is not None:
        for key in ("estimate", "ci_low", "ci_high", "pi_low", "pi_high"):
            row[f"{key}_r"] = float(back(row[key]))
    return pd.DataFrame([row])


def _bias(ctx: ReportContext, out: SectionOutput, res: Any, transform: str | None) -> None:
    from alliancestats.meta import egger_test, leave_one_out, trim_and_fill
    from alliancestats.plot import funnel

    filled = trim_and_fill(res)
    egger = egger_test(res)
    adjusted = np.tanh(filled.estimate) if transform == "r" else filled.estimate
    out.text(f"Trim-and-fill imputes {filled.k0} studies on the {filled.side} side (adjusted "
             f"estimate {adjusted:.3f}); Egger's regression test: z = {egger.statistic:.2f}, "
             f"p = {egger.p:.3f}. Both are sensitivity checks, not corrections.")
    ctx.figure(out, "Funnel plot", "meta_funnel",
               funnel(res, filled=filled, transform=transform),
               "contour-enhanced; open circles: studies imputed by trim-and-fill")
    ctx.table(out, "Leave one out", "meta_leave_one_out",
              leave_one_out(res).reset_index(), "the pooled estimate without each study",
              inline=False)


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """Pool the studies and check for small-study effects."""
    from alliancestats.plot import forest

    studies, where = _studies(ctx, options)
    res, warn = capture_warnings(lambda: _fit(studies, options))
    out.warnings += warn
    transform = "r" if options["r"] else None
    what = f" of {options['title']}" if options["title"] else ""
    out.text(f"Random-effects meta-analysis{what} ({res.method}) of {res.k} studies from "
             f"{where}" + ("; correlations analysed as Fisher z (variance 1/(n - 3)) and "
                           "back-transformed to r." if transform else "."))
    out.text(res.apa())
    ctx.table(out, "Pooled estimate", "meta_pooled",
              _pooled(res, np.tanh if transform else None),
              "estimate, 95% CI, prediction interval and heterogeneity"
              + (" (z scale; _r: back-transformed)" if transform else ""))
    per_study = pd.DataFrame({"study": list(res.labels), "yi": res.yi, "vi": res.vi,
                              "weight_percent": res.weights})
    ctx.table(out, "Studies", "meta_studies", per_study,
              "effect sizes, sampling variances and random-effects weights")
    ctx.text_file(out, "Meta-analysis summary", "meta_summary",
                  res.summary(transform=transform) if transform else res.summary())
    ctx.figure(out, "Forest plot", "meta_forest",
               forest(res, transform=transform, n=options["n"] or None,
                      xlabel=options["xlabel"]),
               "squares sized by weight; diamond: pooled estimate; bar: prediction interval")
    _bias(ctx, out, res, transform)


SECTION = Section(
    key="meta",
    title="Meta-analysis",
    run=run,
    options=OPTIONS,
    summary="random-effects meta-analysis with forest and funnel plots and bias checks",
)
