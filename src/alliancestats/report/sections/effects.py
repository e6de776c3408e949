"""Variance and effect sizes of the fitted models: ICC, R², models side by side, figures.

Uses :func:`alliancestats.compare_models`, :func:`alliancestats.icc` (Nakagawa, Johnson &
Schielzeth 2017), :func:`alliancestats.r2` (Nakagawa & Schielzeth 2013), and the figures
:func:`alliancestats.plot.caterpillar` (conditional modes of each grouping factor) and
:func:`alliancestats.plot.effect_plot` (model-implied outcome over a predictor).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from alliancestats.report.content import SectionOutput, SectionSkipped
from alliancestats.report.context import ReportContext, capture_warnings
from alliancestats.report.options import Option
from alliancestats.report.sections import Section
from alliancestats.report.sections.models import decomposed_pairs

__all__ = ["SECTION"]

OPTIONS = {
    "caterpillar_max_levels": Option("int", 60, help="grouping factors with more levels "
                                     "get no caterpillar plot (too many rows to read)"),
    "effect_plots": Option("bool", True, help="draw model-implied outcomes over the "
                           "within- and between-patient predictors"),
}


def _variance_tables(fits: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    from alliancestats.effects import icc, r2

    iccs, r2s, notes = [], [], []
    for name, fit in fits.items():
        try:
            result, warn = capture_warnings(lambda fit=fit: icc(fit, by_level=True))
            iccs.append(result.to_frame().assign(model=name))
            r = r2(fit).to_frame().reset_index().assign(model=name)
            r2s.append(r)
            notes += [f"{name}: {w}" for w in warn]
        except Exception as exc:  # e.g. a family without a distribution-specific variance
            notes.append(f"{name}: ICC/R² not available ({exc})")
    return _stack(iccs), _stack(r2s), notes


def _stack(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def _caterpillars(ctx: ReportContext, out: SectionOutput, fits: dict[str, Any],
                  max_levels: int) -> None:
    from alliancestats.plot import caterpillar

    for name, fit in fits.items():
        for group, n in fit.ngroups.items():
            if n > max_levels:
                out.text(f"Model `{name}`: no caterpillar plot for `{group}` ({n} levels; "
                         f"the limit is {max_levels}, option caterpillar_max_levels).")
                continue
            ax = caterpillar(fit, group)
            ctx.figure(out, f"Model {name}: {group} random intercepts",
                       f"caterpillar_{name}_{group}", ax,
                       f"conditional modes of the {group} intercepts with 95% intervals")


def _effect_plots(ctx: ReportContext, out: SectionOutput, fits: dict[str, Any]) -> None:
    import matplotlib.pyplot as plt

    from alliancestats.plot import effect_plot

    for name, fit in fits.items():
        entry = ctx.fitted(name)
        outcome = entry.spec["label"] or ctx.label(entry.response)
        for x in decomposed_pairs(list(fit.fixed.index)):
            fig, axes = plt.subplots(1, 2, figsize=(7.0, 3.0), sharey=True,
                                     layout="constrained")
            parts = ((axes[0], "within", "within patients: deviation from own mean"),
                     (axes[1], "between", "between patients: patient mean (centred)"))
            for ax, part, words in parts:
                effect_plot(fit, f"{x}_{part}", xlabel=f"{ctx.label(x)},\n{words}",
                            ylabel=f"Predicted {outcome}" if ax is axes[0] else "", ax=ax)
            ctx.figure(out, f"Model {name}: {x} within and between patients",
                       f"effects_{name}_{x}", fig,
                       "model-implied outcome with 95% CI, other predictors at their mean")


def run(ctx: ReportContext, options: dict[str, Any], out: SectionOutput) -> None:
    """Models side by side, ICC and R² per model, caterpillar and effect plots."""
    from alliancestats.effects import compare_models

    fits = {e.name: e.fit for e in ctx.all_fits() if e.fit is not None}
    if not fits:
        raise SectionSkipped("no fitted model (configure [[models]]; see the models section)")
    table = compare_models(list(fits.values()), names=list(fits))
    ctx.table(out, "Models side by side", "models_compared", table.frame.reset_index(),
              "estimates (SE), random-effect SDs, ICC, R² and fit statistics")
    ctx.table(out, "Models side by side (numbers)", "models_compared_values",
              table.values, inline=False)
    iccs, r2s, notes = _variance_tables(fits)
    out.text("ICC: share of the variance (beyond the fixed effects) that lies between "
             "patients and therapists -- adjusted ICC (Nakagawa, Johnson & Schielzeth 2017). "
             "R²: marginal (fixed effects) and conditional (fixed and random) R² (Nakagawa & "
             "Schielzeth 2013).")
    for note in notes:
        out.text(note)
    if len(iccs):
        ctx.table(out, "ICC by grouping factor", "icc", iccs)
    if len(r2s):
        ctx.table(out, "Marginal and conditional R²", "r2", r2s)
    _caterpillars(ctx, out, fits, options["caterpillar_max_levels"])
    if options["effect_plots"]:
        _effect_plots(ctx, out, fits)


SECTION = Section(
    key="effects",
    title="Variance components and effect sizes",
    run=run,
    options=OPTIONS,
    always=True,
    summary="models side by side, ICC, R², caterpillar and effect plots",
)
