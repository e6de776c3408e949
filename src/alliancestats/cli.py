"""Command-line interface: ``alliancestats demo [--out DIR]``.

The demo loads the bundled physiotherapy sample cohort with
:func:`alliancestats.load_sessions` (validating every row and scoring the WAI-SR and ODI from
their items), writes descriptive tables (CSV) and trajectory figures (PNG and SVG) to ``DIR``,
fits the alliance-outcome models (linear mixed models for pain and ODI disability with alliance
split within/between patients; a binomial GLMM for home-exercise adherence) and a
random-effects meta-analysis of the bundled Molloy et al. (2014) table (forest and funnel
plots), writes an ``index.md`` / ``index.html`` linking everything, and prints where it all
went.

The demo is a list of steps (:data:`DEMO_STEPS`); each step is a function taking the shared
:class:`DemoContext`, adding files with :meth:`DemoContext.add` and notes with
:meth:`DemoContext.note`. Later features (model results, meta-analysis) add steps to the list
without touching the others.

Examples
--------
>>> from alliancestats.cli import build_parser
>>> build_parser().parse_args(["demo", "--out", "results"]).out
'results'
"""

from __future__ import annotations

import argparse
import html
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd

from alliancestats._export import write_csv

__all__ = [
    "DEMO_STEPS",
    "Artifact",
    "DemoContext",
    "DemoStep",
    "build_parser",
    "main",
    "run_demo",
]

WAI_ITEMS = "wai_{i}"
ODI_ITEMS = "odi_{i}"


# ---------------------------------------------------------------------------------------------
# demo machinery
# ---------------------------------------------------------------------------------------------
@dataclass
class Artifact:
    """One file written by the demo, grouped under a section of the index."""

    section: str
    title: str
    path: Path  # relative to the output directory
    description: str = ""


@dataclass
class DemoContext:
    """State shared by the demo steps.

    Attributes
    ----------
    out : pathlib.Path
        Output directory (created).
    data : pandas.DataFrame or None
        The loaded, scored long data (set by the load step).
    session_data : SessionData or None
        What :func:`alliancestats.load_sessions` returned.
    artifacts : list of Artifact
        Files written so far (the index lists them in order).
    notes : dict
        Section -> list of Markdown lines shown in the index above that section's files.
    results : dict
        Objects the steps share or hand back (e.g. fitted models under ``"lmm_pain"``,
        ``"lmm_odi"``, ``"glmm_adherence"``, ``"meta_molloy2014"``).
    """

    out: Path
    data: pd.DataFrame | None = None
    session_data: Any = None
    artifacts: list[Artifact] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    def add(self, section: str, title: str, filename: str, description: str = "") -> Path:
        """Register a file (relative name) and return its absolute path for writing."""
        path = self.out / filename
        path.parent.mkdir(parents=True, exist_ok=True)
        self.artifacts.append(Artifact(section, title, Path(filename), description))
        return path

    def note(self, section: str, line: str) -> None:
        """Add a Markdown line to a section of the index."""
        self.notes.setdefault(section, []).append(line)

    def write_table(
        self, section: str, title: str, filename: str, table: pd.DataFrame, description: str = ""
    ) -> None:
        """Write ``table`` as CSV (formula-safe, see :mod:`alliancestats._export`) and register it."""
        write_csv(table, self.add(section, title, filename, description), index=False)

    def write_figure(
        self, section: str, title: str, stem: str, fig: Any, description: str = ""
    ) -> None:
        """Save ``fig`` as ``stem.png`` (200 dpi) and ``stem.svg`` and register both."""
        fig.savefig(self.add(section, f"{title} (PNG)", f"{stem}.png", description), dpi=200)
        fig.savefig(
            self.add(section, f"{title} (SVG)", f"{stem}.svg", description),
            metadata={"Date": None},
        )


@dataclass(frozen=True)
class DemoStep:
    """A named step of the demo: ``run(context)`` writes files and notes."""

    name: str
    run: Callable[[DemoContext], None]


# ---------------------------------------------------------------------------------------------
# steps
# ---------------------------------------------------------------------------------------------
def step_load(ctx: DemoContext) -> None:
    """Load, validate and score the bundled physiotherapy cohort."""
    from alliancestats.datasets import sample_path
    from alliancestats.io import load_sessions

    path = sample_path("physio_cohort")
    sd = load_sessions(
        path,
        patient="patient",
        session="session",
        therapist="therapist",
        date="date",
        outcomes={"pain": "pain", "rmdq": "rmdq"},
        covariates=[
            "arm",
            "modality",
            "age",
            "sex",
            "attended",
            "adhered",
            "exercises_done",
            "exercises_prescribed",
        ],
        instruments={
            "wai_sr": WAI_ITEMS,
            "odi": {"items": ODI_ITEMS, "name": "odi"},
        },
        scales={"pain": "nrs", "rmdq": "rmdq"},
        strict=False,
        warn=False,
    )
    ctx.session_data = sd
    ctx.data = sd.data
    section = "Data"
    ctx.note(
        section,
        f"Source: bundled sample `physio_cohort` ({path.name}; simulated, no patient data). "
        f"{sd.n_read} rows read, {sd.n_kept} kept, {sd.n_dropped} dropped by validation. "
        "WAI-SR (Hatcher & Gillaspy 2006) scored as item means (total and Task/Goal/Bond); "
        "ODI v2.1a scored as a percentage with the answered-sections denominator.",
    )
    ctx.write_table(
        section,
        "Scored session data",
        "tables/sessions.csv",
        sd.data,
        "one row per patient-session, canonical long layout",
    )
    ctx.write_table(
        section,
        "Validation problems",
        "tables/validation_problems.csv",
        sd.dropped,
        "one line per problem (empty when the file is clean)",
    )
    (
        ctx.add(
            section, "Load summary", "load_summary.txt", "text report of load_sessions"
        ).write_text(str(sd.summary()) + "\n", encoding="utf-8")
    )


def _patients_table(d: pd.DataFrame) -> pd.DataFrame:
    g = d.sort_values(["patient", "session"]).groupby("patient", sort=True)
    first_pain = g["pain"].first()
    last_pain = g["pain"].last()
    out = pd.DataFrame(
        {
            "therapist": g["therapist"].first(),
            "arm": g["arm"].first(),
            "age": g["age"].first(),
            "sex": g["sex"].first(),
            "sessions_recorded": g["session"].size(),
            "sessions_attended": g["attended"].sum(min_count=1),
            "last_session": g["session"].max(),
            "first_date": g["session_date"].min().dt.strftime("%Y-%m-%d"),
            "last_date": g["session_date"].max().dt.strftime("%Y-%m-%d"),
            "mean_alliance": g["alliance"].mean().round(3),
            "first_pain": first_pain,
            "last_pain": last_pain,
            "first_odi": g["odi"].first().round(2),
            "last_odi": g["odi"].last().round(2),
            "adherence_rate": g["adhered"].mean().round(3),
        }
    )
    for col in ("age", "sessions_attended"):
        values = out[col]
        if values.dropna().eq(values.dropna().round()).all():
            out[col] = values.astype("Int64")
    return out.reset_index()


def _overview_table(d: pd.DataFrame) -> pd.DataFrame:
    per_patient = d.groupby("patient")["session"].max()
    planned = int(d["session"].max())
    rows = [
        ("patients", d["patient"].nunique()),
        ("therapists", d["therapist"].nunique()),
        ("session records", len(d)),
        ("sessions attended", int(d["attended"].sum())),
        ("attendance rate", round(float(d["attended"].mean()), 3)),
        ("median sessions per patient", float(per_patient.median())),
        (f"patients with fewer than {planned} sessions", int((per_patient < planned).sum())),
        ("home-exercise adherence rate (attended sessions)", round(float(d["adhered"].mean()), 3)),
        (
            "exercises done / prescribed",
            round(
                float(
                    d["exercises_done"].sum()
                    / d.loc[d["exercises_done"].notna(), "exercises_prescribed"].sum()
                ),
                3,
            ),
        ),
        ("telehealth share of sessions", round(float((d["modality"] == "telehealth").mean()), 3)),
    ]
    return pd.DataFrame(rows, columns=["quantity", "value"])


def _missingness_table(d: pd.DataFrame) -> pd.DataFrame:
    cols = ["alliance", "pain", "odi", "rmdq", "adhered", "exercises_done"]
    attended = d["attended"] == 1
    rows = []
    for c in cols:
        rows.append(
            {
                "variable": c,
                "n_records": len(d),
                "n_missing": int(d[c].isna().sum()),
                "percent_missing": round(100 * float(d[c].isna().mean()), 2),
                "n_missing_attended": int(d.loc[attended, c].isna().sum()),
                "percent_missing_attended": round(100 * float(d.loc[attended, c].isna().mean()), 2),
            }
        )
    return pd.DataFrame(rows)


def _by_session_table(d: pd.DataFrame) -> pd.DataFrame:
    from alliancestats.plot.trajectories import session_summary

    parts = []
    for c in ("alliance", "pain", "odi", "rmdq", "adhered"):
        s = session_summary(d, c)
        s.insert(0, "variable", c)
        parts.append(s)
    out = pd.concat(parts, ignore_index=True)
    for c in ("mean", "sd", "ci_low", "ci_high"):
        out[c] = out[c].round(4)
    return out


def step_tables(ctx: DemoContext) -> None:
    """Descriptive tables: overview, patients, missingness, measures by session."""
    d = ctx.data
    section = "Descriptive tables"
    overview = _overview_table(d)
    ctx.write_table(
        section,
        "Overview",
        "tables/overview.csv",
        overview,
        "cohort size, attendance, dropout, adherence",
    )
    ctx.write_table(
        section,
        "Patients",
        "tables/patients.csv",
        _patients_table(d),
        "one row per patient: caseload, sessions, first/last pain and ODI",
    )
    ctx.write_table(
        section,
        "Missingness",
        "tables/missingness.csv",
        _missingness_table(d),
        "missing values per measure, all records and attended sessions",
    )
    ctx.write_table(
        section,
        "Alliance and outcomes by session",
        "tables/by_session.csv",
        _by_session_table(d),
        "n, mean, SD and 95% CI per session (observed cases)",
    )
    ctx.note(section, "| quantity | value |")
    ctx.note(section, "|---|---|")
    for row in overview.itertuples(index=False):
        ctx.note(section, f"| {row.quantity} | {row.value:g} |")


def step_figures(ctx: DemoContext) -> None:
    """Trajectory figures for alliance, pain and disability."""
    from matplotlib.figure import Figure

    from alliancestats.plot import trajectories

    d = ctx.data
    section = "Figures"
    specs = [
        (
            "alliance",
            "Alliance (WAI-SR mean, 1-5)",
            None,
            "alliance_trajectories",
            "Alliance over sessions",
        ),
        ("pain", "Pain (NRS 0-10)", "arm", "pain_trajectories", "Pain over sessions, by arm"),
        (
            "odi",
            "Disability (ODI %)",
            "arm",
            "odi_trajectories",
            "Disability over sessions, by arm",
        ),
    ]
    for column, ylabel, group, stem, title in specs:
        fig = Figure(figsize=(4.5, 3.2), layout="constrained")
        ax = fig.subplots()
        trajectories(d, column, group=group, n_patients=25 if group else 40, ylabel=ylabel, ax=ax)
        ctx.write_figure(
            section,
            title,
            f"figures/{stem}",
            fig,
            "thin lines: random patients; thick: mean with 95% CI",
        )
    ctx.note(
        section,
        "Thin lines are randomly chosen patients, thick lines the session means "
        "of the observed values with 95% confidence bands.",
    )


# ---------------------------------------------------------------------------------------------
# model steps (alliance-outcome models, adherence GLMM, meta-analysis)
# ---------------------------------------------------------------------------------------------
#: Fixed part shared by the session-level models: time plus alliance split within/between.
MODEL_TERMS = "session + alliance_within + alliance_between"
#: Random part of the linear mixed models: patient intercepts and slopes, therapist intercepts.
LMM_RANDOM = "(1 + session | patient) + (1 | therapist)"


def _model_data(ctx: DemoContext) -> pd.DataFrame:
    """The loaded data with ``alliance_within`` / ``alliance_between`` (computed once)."""
    if "model_data" not in ctx.results:
        from alliancestats.alliance import within_between

        if ctx.data is None:  # a model step run on its own: load the cohort first
            step_load(ctx)

        ctx.results["model_data"] = within_between(ctx.data, "alliance")
    return ctx.results["model_data"]


def _num(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def _p_text(p: float) -> str:
    from alliancestats._format import format_p

    return "p " + format_p(p)


def _fit_quietly(fit_fn: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run a model fit; dropped-row warnings are reported by the step, others are returned."""
    import warnings

    from alliancestats.errors import AllianceStatsWarning, DroppedRowsWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllianceStatsWarning)
        warnings.simplefilter("ignore", DroppedRowsWarning)
        fit = fit_fn()
    messages = [
        f"{w.category.__name__}: {w.message}"
        for w in caught
        if issubclass(w.category, AllianceStatsWarning)
    ]
    for w in caught:  # anything else keeps its usual route
        if not issubclass(w.category, AllianceStatsWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return fit, messages


def _paragraph(ctx: DemoContext, section: str, text: str) -> None:
    """A Markdown paragraph (followed by a blank line, so that tables after it render)."""
    ctx.note(section, text)
    ctx.note(section, "")


def _fixed_note(ctx: DemoContext, section: str, fixed: pd.DataFrame, ratio: pd.DataFrame | None):
    stat = "t" if "t" in fixed.columns else "z"
    head = ["term", "estimate", "SE"] + (["df"] if stat == "t" else []) + [stat, "p", "95% CI"]
    if ratio is not None:
        head += ["odds ratio [95% CI]"]
    ctx.note(section, "| " + " | ".join(head) + " |")
    ctx.note(section, "|" + "---|" * len(head))
    for term, row in fixed.iterrows():
        cells = [str(term), _num(row["estimate"], 3), _num(row["se"], 3)]
        if stat == "t":
            cells.append(f"{row['df']:.1f}")
        cells += [
            _num(row[stat]),
            _p_text(row["p"]).removeprefix("p "),
            f"[{_num(row['ci_low'], 3)}, {_num(row['ci_high'], 3)}]",
        ]
        if ratio is not None:
            r = ratio.loc[term]
            cells.append(f"{_num(r['odds_ratio'])} [{_num(r['ci_low'])}, {_num(r['ci_high'])}]")
        ctx.note(section, "| " + " | ".join(cells) + " |")
    ctx.note(section, "")


def _write_mixed(
    ctx: DemoContext,
    section: str,
    stem: str,
    fit: Any,
    contextual: pd.Series,
    fixed: pd.DataFrame,
) -> None:
    """Fixed effects, variance components and the summary text of a mixed model."""
    ctx.write_table(
        section,
        "Fixed effects",
        f"tables/{stem}_fixed.csv",
        fixed.reset_index(names="term"),
        "estimates, SEs, tests and 95% CIs",
    )
    ctx.write_table(
        section,
        "Variance components",
        f"tables/{stem}_varcorr.csv",
        fit.varcorr,
        "lme4's as.data.frame(VarCorr()) layout: grp, var1, var2, vcov, sdcor",
    )
    stat = "t" if "t" in contextual.index else "z"
    text = (
        fit.summary()
        + "\n\nContextual effect (alliance_between - alliance_within):\n"
        + f"  estimate {contextual['estimate']:.5g}, SE {contextual['se']:.5g}, "
        + (f"df {contextual['df']:.1f}, " if np.isfinite(contextual["df"]) else "")
        + f"{stat} {contextual[stat]:.4g}, p {contextual['p']:.4g}\n"
    )
    ctx.add(section, "Model summary", f"tables/{stem}_summary.txt", "lme4-style text").write_text(
        text, encoding="utf-8"
    )


def _data_note(fit: Any, messages: list[str]) -> str:
    groups = ", ".join(f"{v} {k}s" for k, v in fit.ngroups.items())
    dropped = (
        f"; {fit.n_dropped} session records without the outcome or alliance were left out"
        if fit.n_dropped
        else ""
    )
    extra = (" " + " ".join(messages)) if messages else ""
    return f"{fit.nobs} sessions of {groups}{dropped}.{extra}"


def _lmm_step(ctx: DemoContext, response: str, label: str, unit: str, stem: str) -> None:
    from alliancestats.models import lmm

    d = _model_data(ctx)
    formula = f"{response} ~ {MODEL_TERMS} + {LMM_RANDOM}"
    fit, messages = _fit_quietly(lambda: lmm(formula, d, reml=True))
    contextual = fit.contrast({"alliance_between": 1, "alliance_within": -1})
    ctx.results[stem] = fit
    section = f"Model: alliance and {label}"
    _paragraph(
        ctx,
        section,
        f"Linear mixed model `{formula}`, REML, Satterthwaite degrees of freedom "
        f"(lmerTest's method). Alliance (WAI-SR mean, 1-5) is split into each patient's mean "
        f"(`alliance_between`, grand-mean centred) and the session's deviation from it "
        f"(`alliance_within`) (Curran & Bauer 2011). " + _data_note(fit, messages),
    )
    _fixed_note(ctx, section, fit.fixed, None)
    w = fit.fixed.loc["alliance_within"]
    b = fit.fixed.loc["alliance_between"]
    _paragraph(
        ctx,
        section,
        f"Within patients: at a session where alliance was one point above the patient's own "
        f"mean, {label} differed by {_num(w['estimate'])} {unit} (95% CI "
        f"[{_num(w['ci_low'])}, {_num(w['ci_high'])}], {_p_text(w['p'])}). Between patients: "
        f"per point of a patient's mean alliance, {label} differed by "
        f"{_num(b['estimate'])} {unit} ([{_num(b['ci_low'])}, {_num(b['ci_high'])}], "
        f"{_p_text(b['p'])}). Contextual effect (between minus within): "
        f"{_num(contextual['estimate'])} (SE {_num(contextual['se'])}, "
        f"{_p_text(contextual['p'])}).",
    )
    _write_mixed(ctx, section, stem, fit, contextual, fit.fixed)


def step_model_pain(ctx: DemoContext) -> None:
    """LMM of pain on session and alliance within/between patients."""
    _lmm_step(ctx, "pain", "pain", "NRS points", "lmm_pain")


def step_model_odi(ctx: DemoContext) -> None:
    """LMM of disability (ODI %) on session and alliance within/between patients."""
    _lmm_step(ctx, "odi", "disability (ODI)", "ODI percentage points", "lmm_odi")


def step_model_adherence(ctx: DemoContext) -> None:
    """Binomial GLMM of home-exercise adherence, with odds ratios."""
    from alliancestats.models import glmm

    d = _model_data(ctx)
    formula = f"adhered ~ {MODEL_TERMS} + (1 | patient)"
    fit, messages = _fit_quietly(lambda: glmm(formula, d, family="binomial"))
    ctx.results["glmm_adherence"] = fit
    contextual = fit.contrast({"alliance_between": 1, "alliance_within": -1})
    ratios = fit.fixed_exp()
    fixed = fit.fixed.join(
        ratios[["odds_ratio", "ci_low", "ci_high"]].rename(
            columns={"ci_low": "or_ci_low", "ci_high": "or_ci_high"}
        )
    )
    section = "Model: alliance and home-exercise adherence"
    _paragraph(
        ctx,
        section,
        f"Binomial generalized linear mixed model (logit link, Laplace approximation as lme4's "
        f"glmer) `{formula}`: did the patient do the home exercises since the last session. "
        + _data_note(fit, messages),
    )
    _fixed_note(ctx, section, fit.fixed, ratios)
    w, b = ratios.loc["alliance_within"], ratios.loc["alliance_between"]
    _paragraph(
        ctx,
        section,
        f"Odds of adherence were {_num(w['odds_ratio'])} times as high (95% CI "
        f"[{_num(w['ci_low'])}, {_num(w['ci_high'])}]) at a session whose alliance was one "
        f"point above the patient's mean, and {_num(b['odds_ratio'])} times as high "
        f"([{_num(b['ci_low'])}, {_num(b['ci_high'])}]) per point of a patient's mean "
        f"alliance (log-odds contextual effect {_num(contextual['estimate'])}, "
        f"{_p_text(contextual['p'])}).",
    )
    _write_mixed(ctx, section, "glmm_adherence", fit, contextual, fixed)


def _pooled_row(res: Any) -> pd.DataFrame:
    r = np.tanh
    return pd.DataFrame(
        [
            {
                "k": res.k,
                "method": res.method,
                "z": res.estimate,
                "se_z": res.se,
                "ci_low_z": res.ci_low,
                "ci_high_z": res.ci_high,
                "p": float(res.table["p"].iloc[0]),
                "r": float(r(res.estimate)),
                "ci_low_r": float(r(res.ci_low)),
                "ci_high_r": float(r(res.ci_high)),
                "pi_low_r": float(r(res.pi_low)),
                "pi_high_r": float(r(res.pi_high)),
                "tau2": res.tau2,
                "i2": res.i2,
                "h2": res.h2,
                "q": res.q,
                "q_df": res.k - 1,
                "q_p": res.q_p,
            }
        ]
    )


def step_meta(ctx: DemoContext) -> None:
    """Random-effects meta-analysis of Molloy et al. (2014) with forest and funnel plots."""
    import matplotlib.pyplot as plt

    from alliancestats.datasets import read_sample
    from alliancestats.meta import meta_analysis, trim_and_fill
    from alliancestats.plot import forest, funnel

    studies = read_sample("molloy2014")
    res = meta_analysis(studies, r="ri", n="ni", slab="study", method="REML")
    filled = trim_and_fill(res)
    ctx.results["meta_molloy2014"] = res
    section = "Meta-analysis: conscientiousness and medication adherence"
    apa = res.apa()
    _paragraph(
        ctx,
        section,
        "Random-effects meta-analysis (REML) of the 16 correlations in Molloy, O'Carroll & "
        "Ferguson (2014, Ann Behav Med 47(1)), bundled as `molloy2014`: correlations "
        "analysed as Fisher z (variance 1/(n - 3)) and back-transformed to r.",
    )
    _paragraph(ctx, section, apa)
    _paragraph(
        ctx,
        section,
        f"Trim-and-fill imputes {filled.k0} studies on the {filled.side} side; adjusted "
        f"r = {_num(float(np.tanh(filled.estimate)), 3)}.",
    )
    pooled = _pooled_row(res)
    ctx.write_table(
        section,
        "Pooled estimate",
        "tables/meta_molloy2014.csv",
        pooled,
        "Fisher z and back-transformed r with 95% CI and prediction interval, heterogeneity",
    )
    per_study = pd.DataFrame(
        {
            "study": list(res.labels),
            "n": studies["ni"].to_numpy(),
            "r": studies["ri"].to_numpy(),
            "z": res.yi,
            "v": res.vi,
            "weight_percent": res.weights,
        }
    )
    ctx.write_table(
        section,
        "Studies",
        "tables/meta_molloy2014_studies.csv",
        per_study,
        "effect sizes, sampling variances and random-effects weights",
    )
    ctx.add(
        section, "Meta-analysis summary", "tables/meta_molloy2014_summary.txt", "metafor-style"
    ).write_text(res.summary(transform="r") + "\n\n" + apa + "\n", encoding="utf-8")
    ax = forest(res, transform="r", xlabel="Correlation (r)")
    ctx.write_figure(
        section, "Forest plot", "figures/meta_forest", ax.figure, "squares sized by weight"
    )
    plt.close(ax.figure)
    ax = funnel(res, filled=filled, transform="r")
    ctx.write_figure(
        section,
        "Funnel plot",
        "figures/meta_funnel",
        ax.figure,
        "contour-enhanced; open circles: studies imputed by trim-and-fill",
    )
    plt.close(ax.figure)
    published = read_sample("pooled_correlations")
    ours = pd.DataFrame(
        [
            {
                "review": "alliancestats demo (re-analysis of Molloy et al. 2014)",
                "year": 2014,
                "outcome": "conscientiousness-medication adherence",
                "r": round(float(np.tanh(res.estimate)), 4),
                "ci_low": round(float(np.tanh(res.ci_low)), 4),
                "ci_high": round(float(np.tanh(res.ci_high)), 4),
                "k_studies": res.k,
                "note": "REML, Fisher z, back-transformed",
            }
        ]
    )
    keep = ["review", "year", "outcome", "r", "ci_low", "ci_high", "k_studies", "note"]
    comparison = pd.concat([published[keep], ours], ignore_index=True)
    ctx.write_table(
        section,
        "Published pooled correlations",
        "tables/pooled_correlations.csv",
        comparison,
        "alliance-outcome meta-analyses (DOMAIN.md section 4) and this re-analysis",
    )
    ctx.note(section, "| review | year | r | 95% CI | studies |")
    ctx.note(section, "|---|---|---|---|---|")
    for row in comparison.itertuples(index=False):
        ci = (
            f"[{row.ci_low:.3g}, {row.ci_high:.3g}]"
            if pd.notna(row.ci_low) and pd.notna(row.ci_high)
            else "not reported"
        )
        ctx.note(section, f"| {row.review} | {row.year} | {row.r:.3g} | {ci} | {row.k_studies} |")


#: The demo's steps, run in order. Later features append to this list.
DEMO_STEPS: list[DemoStep] = [
    DemoStep("load and validate the sample cohort", step_load),
    DemoStep("descriptive tables", step_tables),
    DemoStep("trajectory figures", step_figures),
    DemoStep("alliance-outcome model: pain", step_model_pain),
    DemoStep("alliance-outcome model: disability (ODI)", step_model_odi),
    DemoStep("alliance-adherence model (binomial GLMM)", step_model_adherence),
    DemoStep("meta-analysis of the Molloy et al. (2014) table", step_meta),
]


# ---------------------------------------------------------------------------------------------
# index
# ---------------------------------------------------------------------------------------------
def _sections(ctx: DemoContext) -> list[str]:
    seen: list[str] = []
    for name in [*ctx.notes, *(a.section for a in ctx.artifacts)]:
        if name not in seen:
            seen.append(name)
    return seen


def _write_index(ctx: DemoContext, elapsed: float) -> tuple[Path, Path]:
    from alliancestats import __version__

    md = [
        "# alliancestats demo",
        "",
        f"Generated by `alliancestats demo` (alliancestats {__version__}) in {elapsed:.1f} s.",
        "",
    ]
    body = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>alliancestats demo</title>',
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .6em}"
        "img{max-width:100%}</style></head><body>",
        "<h1>alliancestats demo</h1>",
        f"<p>Generated by <code>alliancestats demo</code> (alliancestats {__version__}) in "
        f"{elapsed:.1f} s.</p>",
    ]
    for section in _sections(ctx):
        md += [f"## {section}", ""]
        body.append(f"<h2>{html.escape(section)}</h2>")
        notes = ctx.notes.get(section, [])
        if notes:
            md += [*notes, ""]
            body.append(_notes_html(notes))
        items = [a for a in ctx.artifacts if a.section == section]
        body.append("<ul>")
        for a in items:
            link = a.path.as_posix()
            extra = f" — {a.description}" if a.description else ""
            md.append(f"- [{a.title}]({link}){extra}")
            body.append(
                f'<li><a href="{html.escape(link)}">{html.escape(a.title)}</a>'
                f"{html.escape(extra)}</li>"
            )
        body.append("</ul>")
        for a in items:
            if a.path.suffix == ".png":
                md.append(f"\n![{a.title}]({a.path.as_posix()})")
                body.append(
                    f'<p><img src="{html.escape(a.path.as_posix())}" '
                    f'alt="{html.escape(a.title)}"></p>'
                )
        md.append("")
    body.append("</body></html>")
    index_md = ctx.out / "index.md"
    index_html = ctx.out / "index.html"
    index_md.write_text("\n".join(md) + "\n", encoding="utf-8")
    index_html.write_text("\n".join(body) + "\n", encoding="utf-8")
    return index_md, index_html


def _inline_code(text: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def _notes_html(lines: list[str]) -> str:
    """Render the few Markdown forms the steps use: paragraphs and simple pipe tables."""
    out: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            head, *rows = table
            out.append(
                "<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>"
            )
            out.extend(
                "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
            )
            out.append("</table>")
            table.clear()

    for line in lines:
        if not line.strip():  # blank line: separates paragraphs and tables in Markdown
            flush()
            continue
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= {"-", ":"} for c in cells):
                table.append(cells)
        else:
            flush()
            out.append(f"<p>{_inline_code(html.escape(line))}</p>")
    flush()
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------------------------
def run_demo(
    out: str | Path = "alliancestats-demo",
    *,
    steps: list[DemoStep] | None = None,
    progress: bool = True,
    stream: TextIO | None = None,
) -> DemoContext:
    """Run the demo steps and write the index; return the context (files in ``.artifacts``).

    Parameters
    ----------
    out : str or pathlib.Path, default "alliancestats-demo"
        Output directory (created if needed; existing demo files are overwritten).
    steps : list of DemoStep, optional
        Steps to run (default :data:`DEMO_STEPS`).
    progress : bool, default True
        Show a progress bar on standard error.
    stream : file, optional
        Where to print the closing report (default standard output).

    Returns
    -------
    DemoContext

    Examples
    --------
    >>> import io, tempfile
    >>> report = io.StringIO()
    >>> ctx = run_demo(tempfile.mkdtemp(), steps=[], progress=False, stream=report)
    >>> sorted(p.name for p in ctx.out.iterdir())
    ['index.html', 'index.md']
    """
    from tqdm.auto import tqdm

    stream = sys.stdout if stream is None else stream
    ctx = DemoContext(out=Path(out).expanduser().resolve())
    ctx.out.mkdir(parents=True, exist_ok=True)
    steps = DEMO_STEPS if steps is None else steps
    start = time.perf_counter()
    bar = tqdm(
        steps,
        desc="alliancestats demo",
        unit="step",
        file=sys.stderr,
        disable=not progress,
        leave=False,
    )
    for step in bar:
        bar.set_postfix_str(step.name)
        step.run(ctx)
    bar.close()
    index_md, index_html = _write_index(ctx, time.perf_counter() - start)
    print(f"alliancestats demo: wrote {len(ctx.artifacts) + 2} files to {ctx.out}", file=stream)
    for section in _sections(ctx):
        files = [a for a in ctx.artifacts if a.section == section]
        if files:
            print(f"  {section}:", file=stream)
            for a in files:
                print(f"    {ctx.out / a.path}", file=stream)
    print(f"  Index: {index_md}\n         {index_html}", file=stream)
    return ctx


def build_parser() -> argparse.ArgumentParser:
    """The ``alliancestats`` argument parser (sub-commands: ``demo``).

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> args = build_parser().parse_args(["demo", "--out", "results"])
    >>> args.command, args.out
    ('demo', 'results')
    """
    from alliancestats import __version__

    parser = argparse.ArgumentParser(
        prog="alliancestats",
        description="Therapeutic-alliance research analysis (alliancestats).",
    )
    parser.add_argument("--version", action="version", version=f"alliancestats {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="analyse the bundled sample cohort and write tables and figures",
        description="Load, validate and score the bundled physiotherapy sample cohort, then "
        "write descriptive tables (CSV), trajectory figures (PNG, SVG), mixed-model results "
        "for pain, disability and adherence, a meta-analysis with forest and funnel plots, "
        "and an index (index.md, index.html) to DIR.",
    )
    demo.add_argument(
        "--out",
        default="alliancestats-demo",
        metavar="DIR",
        help="output directory (default: ./alliancestats-demo)",
    )
    demo.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``alliancestats`` command; returns the exit status.

    Examples
    --------
    >>> try:
    ...     main(["--version"])
    ... except SystemExit as stop:
    ...     print("exit status", stop.code)
    alliancestats 0.1.0
    exit status 0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "demo":
        try:
            run_demo(args.out, progress=not args.quiet)
        except OSError as exc:
            print(f"alliancestats demo: cannot write to {args.out}: {exc}", file=sys.stderr)
            return 1
        return 0
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover - argparse checks
    return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
