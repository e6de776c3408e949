"""Mixed models from the configuration: fixed effects, variance components, within/between.

Each ``[[models]]`` entry is fitted with :func:`alliancestats.lmm` (``family = "gaussian"``)
or :func:`alliancestats.glmm` (``"binomial"``, ``"poisson"``). A term ``<x>_within`` or
``<x>_between`` in the formula makes the report split ``<x>`` into the patient's mean
(grand-mean centred) and the session's deviation from it (Curran & Bauer 2011, Annu Rev
Psychol 62); with both terms the contextual effect (between minus within) is tested.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from alliancestats._format import format_ci, format_number, format_p
from alliancestats.report.content import SectionOutput, SectionSkipped
from alliancestats.report.context import FittedSpec, ReportContext
from alliancestats.report.options import Option
from alliancestats.report.sections import Section

__all__ = ["SECTION", "decomposed_pairs"]

OPTIONS = {
    "name": Option("str", required=True, help="short name, used in file names"),
    "formula": Option("str", required=True, help="lme4 formula, e.g. pain ~ session + "
                      "alliance_within + alliance_between + (1 + session | patient)"),
    "family": Option("str", "gaussian", help="gaussian (linear mixed model), binomial or "
                     "poisson (generalized linear mixed model)"),
    "reml": Option("bool", True, help="REML (true) or ML (false) for linear mixed models"),
    "label": Option("str", help="the outcome in words (default: its [labels] entry)"),
    "unit": Option("str", "", help="unit of the outcome for the text (e.g. NRS points)"),
}

_FAMILIES = ("gaussian", "binomial", "poisson")


def decomposed_pairs(fixed_terms: list[str]) -> list[str]:
    """Variables entered as both ``<x>_within`` and ``<x>_between``."""
    names = set(fixed_terms)
    return [m.group(1) for t in fixed_terms if (m := re.fullmatch(r"(.+)_within", t))
            and f"{m.group(1)}_between" in names]


def _data_note(fit: Any) -> str:
    groups = ", ".join(f"{v} {k} levels" for k, v in fit.ngroups.items())
    dropped = (f"; {fit.n_dropped} session records with a missing value in the model's "
               "variables were left out" if getattr(fit, "n_dropped", 0) else "")
    return f"{fit.nobs} observations, {groups}{dropped}."


def _describe(spec: dict[str, Any], fit: Any) -> str:
    if spec["family"] == "gaussian":
        kind = (f"Linear mixed model, {'REML' if spec['reml'] else 'ML'}, Satterthwaite "
                "degrees of freedom (as lmerTest)")
    else:
        link = "logit" if spec["family"] == "binomial" else "log"
        kind = (f"Generalized linear mixed model ({spec['family']}, {link} link, Laplace "
                "approximation as lme4's glmer), Wald z tests")
    return f"{kind}: `{spec['formula']}`. {_data_note(fit)}"


def _ratios(fit: Any) -> pd.DataFrame | None:
    if getattr(fit, "link", None) not in ("logit", "log"):
        return None
    return fit.fixed_exp()


def _within_between_text(spec: dict[str, Any], fit: Any, x: str, label: str) -> str:
    w, b = fit.fixed.loc[f"{x}_within"], fit.fixed.loc[f"{x}_between"]
    ctx_effect = fit.contrast({f"{x}_between": 1, f"{x}_within": -1})
    unit = f" {spec['unit']}" if spec["unit"] else ""
    scale = f"the log odds of {label}" if spec["family"] == "binomial" else (
        f"the log rate of {label}" if spec["family"] == "poisson" else label)

    def part(row: pd.Series) -> str:
        return (f"{format_number(row['estimate'])}{unit} (95% CI "
                f"{format_ci(row['ci_low'], row['ci_high'])}, p {format_p(row['p'])})")

    return (f"Within patients, at a session where {x} was one unit above the patient's own "
            f"mean, {scale} differed by {part(w)}. Between patients, per unit of a patient's "
            f"mean {x}, {scale} differed by {part(b)}. Contextual effect (between minus "
            f"within): {format_number(ctx_effect['estimate'])} (SE "
            f"{format_number(ctx_effect['se'])}, p {format_p(ctx_effect['p'])}).")


def _one(ctx: ReportContext, entry: FittedSpec, out: SectionOutput) -> bool:
    spec = entry.spec
    out.heading(f"Model {entry.name}: {spec['label'] or ctx.label(entry.response)}")
    if entry.fit is None:
        out.text(f"This model could not be fitted: {entry.error}")
        return False
    fit = entry.fit
    out.text(_describe(spec, fit))
    for message in entry.warnings:
        out.text(f"Warning: {message}")
    fixed = fit.fixed.reset_index(names="term")
    ratios = _ratios(fit)
    if ratios is not None:
        fixed = fixed.merge(ratios.drop(columns=["p"], errors="ignore").add_prefix("exp_")
                            .reset_index(names="term"), on="term", how="left")
    ctx.table(out, "Fixed effects", f"model_{entry.name}_fixed", fixed,
              "estimates, standard errors, tests and 95% CIs"
              + ("; exp_: odds or rate ratios" if ratios is not None else ""))
    ctx.table(out, "Variance components", f"model_{entry.name}_varcorr", fit.varcorr,
              "lme4's as.data.frame(VarCorr()) layout: variances, SDs, covariances, "
              "correlations")
    label = spec["label"] or ctx.label(entry.response)
    for x in decomposed_pairs(list(fit.fixed.index)):
        out.text(_within_between_text(spec, fit, x, label))
    ctx.text_file(out, f"Model {entry.name}: summary", f"model_{entry.name}_summary",
                  fit.summary())
    return True


def run(ctx: ReportContext, options: list[dict[str, Any]], out: SectionOutput) -> None:
    """Fit every configured model and write its tables."""
    if not options:
        raise SectionSkipped("no [[models]] in the configuration")
    for spec in options:
        if spec["family"] not in _FAMILIES:
            raise SectionSkipped(f"model {spec['name']!r}: family must be one of "
                                 f"{list(_FAMILIES)}, got {spec['family']!r}")
    names = [s["name"] for s in options]
    if len(set(names)) != len(names):
        raise SectionSkipped(f"[[models]] names must be unique, got {names}")
    ok = [_one(ctx, ctx.fitted(spec["name"]), out) for spec in options]
    for entry in ctx.all_fits():
        out.warnings += [f"{entry.name}: {w}" for w in entry.warnings]
    if not any(ok):
        out.status, out.reason = "failed", "no model could be fitted (reasons below)"
    elif not all(ok):
        out.warnings.append(f"{ok.count(False)} model(s) could not be fitted")


SECTION = Section(
    key="models",
    title="Alliance-outcome models",
    run=run,
    options=OPTIONS,
    many=True,
    summary="linear and generalized mixed models with within/between-patient effects",
)
