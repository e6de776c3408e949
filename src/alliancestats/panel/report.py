"""Lagged effects side by side: the tables, figure and text a report section needs.

:func:`lagged_effects_report` fits the three analyses of "does alliance at one session predict
symptoms at the next?" on one data set:

1. the naive lagged mixed model -- next-session outcome on the person-mean-centred lagged
   predictor and the person-mean-centred lagged outcome, random intercept per patient
   (:func:`alliancestats.lmm`); its autoregression carries Nickell bias and so does every
   coefficient correlated with it (Falkenström et al. 2017, J Consult Clin Psychol 85(6));
2. the RI-CLPM with lagged paths equal over sessions (:func:`alliancestats.riclpm`);
3. the ML-SEM dynamic panel model with the predictor predetermined -- allowed to respond to
   earlier outcomes and to covary with the same session's error (``partial_pre``: alliance
   and symptoms rated at one session move together) -- and equal error variances
   (:func:`alliancestats.dynamic_panel`), with its long-run effect.

and returns a :class:`LaggedEffectsReport` with the fits, a comparison table, a fit table,
the Nickell bias expected for the naive model, a coefficient figure and paragraphs that say
which estimate to report, following Falkenström, Solomonov & Rubel (2020, Couns Psychother
Res 20(3)) -- separate within- from between-patient variation, control the autoregression
without Nickell bias, consider time trends -- and Falkenström (2024, Clin Psychol Rev,
102435): prefer the ML-SEM model and report the long-run effect.

Examples
--------
>>> import alliancestats as als
>>> from alliancestats.panel import lagged_effects_report
>>> df = als.simulate_riclpm(n_patients=150, n_waves=5, seed=8)
>>> rep = lagged_effects_report(df, "alliance", "symptoms", figures=False)
>>> list(rep.tables)
['comparison', 'fit', 'nickell']
>>> rep.tables["comparison"].index.tolist()
['lagged mixed model', 'RI-CLPM', 'dynamic panel (ML-SEM)']
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from alliancestats._format import format_ci, format_p
from alliancestats._validation import as_frame, column_names
from alliancestats.alliance import lagged, within_between
from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import lmm
from alliancestats.panel.dynamic import dynamic_panel
from alliancestats.panel.nickell import nickell_bias
from alliancestats.panel.results import PanelResult
from alliancestats.panel.riclpm import riclpm
from alliancestats.plot._style import ACCENT, INK, MUTED, despine, label_axes, new_axes

__all__ = ["LaggedEffectsReport", "lagged_effects_report", "plot_lagged_effects"]

_NAIVE = "lagged mixed model"
_RICLPM = "RI-CLPM"
_DPM = "dynamic panel (ML-SEM)"


@dataclass
class LaggedEffectsReport:
    """Everything a lagged-effects report section shows.

    Attributes
    ----------
    fits : dict
        ``"lagged mixed model"`` (MixedResult), ``"RI-CLPM"`` and ``"dynamic panel
        (ML-SEM)"`` (PanelResult).
    tables : dict of pandas.DataFrame
        ``"comparison"`` (one row per model: ``effect, se, ci_low, ci_high, p,
        autoregression, long_run, patients, observations``), ``"fit"`` (chi-square, df, p,
        CFI, TLI, RMSEA, SRMR for the two SEMs) and ``"nickell"`` (the bias expected for the
        naive autoregression).
    figures : dict of matplotlib.figure.Figure
        ``"lagged_effects"``: the three estimates with confidence intervals.
    text : list of str
        Paragraphs: what each model estimates, the bias, and which estimate to report.
    warnings : list of str
        Warnings raised while fitting (convergence, improper solutions, dropped rows).
    """

    fits: dict[str, Any]
    tables: dict[str, pd.DataFrame]
    figures: dict[str, Figure] = field(default_factory=dict)
    text: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _naive(frame: pd.DataFrame, x: str, y: str, patient: str, session: str):
    d = lagged(frame, [x, y], patient=patient, session=session)
    d = d.dropna(subset=[y, f"{x}_lag1", f"{y}_lag1"])
    d = within_between(d, [f"{x}_lag1", f"{y}_lag1"], patient=patient)
    formula = (f"{y} ~ {x}_lag1_within + {x}_lag1_between + {y}_lag1_within + "
               f"(1 | {patient})")
    return lmm(formula, d, reml=False), f"{x}_lag1_within", f"{y}_lag1_within"


def _row(estimate, se, ci_low, ci_high, p, rho, long_run, patients, observations) -> dict:
    return {"effect": estimate, "se": se, "ci_low": ci_low, "ci_high": ci_high, "p": p,
            "autoregression": rho, "long_run": long_run, "patients": patients,
            "observations": observations}


def _comparison(naive, effect, ar, ri: PanelResult, dp: PanelResult, x: str, y: str):
    fx = naive.fixed
    rows = {_NAIVE: _row(fx.loc[effect, "estimate"], fx.loc[effect, "se"],
                         fx.loc[effect, "ci_low"], fx.loc[effect, "ci_high"],
                         fx.loc[effect, "p"], fx.loc[ar, "estimate"], np.nan,
                         naive.ngroups[next(iter(naive.ngroups))], naive.nobs)}
    c = ri.coefficients
    cross = c[(c["outcome"] == y) & (c["predictor"] == x)].iloc[0]
    auto = c[(c["outcome"] == y) & (c["predictor"] == y)].iloc[0]
    n_obs = int(ri.wide.notna().sum().sum())
    rows[_RICLPM] = _row(cross["estimate"], cross["se"], cross["ci_low"], cross["ci_high"],
                         cross["p"], auto["estimate"], np.nan, ri.nobs, n_obs)
    d = dp.coefficients
    term, lag_y = f"lag({x})", f"lag({y})"
    long_run = dp.long_run.loc[term, "estimate"] if "long_run" in dp.tables else np.nan
    rows[_DPM] = _row(d.loc[term, "estimate"], d.loc[term, "se"], d.loc[term, "ci_low"],
                      d.loc[term, "ci_high"], d.loc[term, "p"], d.loc[lag_y, "estimate"],
                      long_run, dp.nobs, int(dp.wide.notna().sum().sum()))
    return pd.DataFrame.from_dict(rows, orient="index")


def _fit_table(fits: dict[str, PanelResult]) -> pd.DataFrame:
    cols = ["chisq", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_low", "rmsea_ci_high",
            "srmr", "aic", "bic"]
    return pd.DataFrame({name: fit.fit[cols] for name, fit in fits.items()}).T


def plot_lagged_effects(comparison: pd.DataFrame, *, ax: Axes | None = None,
                        xlabel: str = "lagged effect") -> Axes:
    """Point estimates with confidence intervals, one row per model.

    Parameters
    ----------
    comparison : pandas.DataFrame
        The ``"comparison"`` table of :class:`LaggedEffectsReport` (columns ``effect,
        ci_low, ci_high``; index = model names).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure sized to the number of models otherwise.
    xlabel : str
        Horizontal-axis label.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.
    """
    ax = new_axes(ax, (5.0, 0.5 + 0.45 * len(comparison)))
    ypos = np.arange(len(comparison))[::-1]
    for yp, (name, r) in zip(ypos, comparison.iterrows(), strict=True):
        colour = MUTED if name == _NAIVE else ACCENT
        ax.plot([r["ci_low"], r["ci_high"]], [yp, yp], color=colour, lw=1.4)
        ax.plot([r["effect"]], [yp], "o", color=colour, ms=5)
    ax.axvline(0.0, color=INK, lw=0.6, ls=":")
    ax.set_yticks(ypos, list(comparison.index))
    label_axes(ax, xlabel)
    despine(ax)
    return ax


def _paragraphs(table: pd.DataFrame, nick: pd.DataFrame, x: str, y: str, level: float) -> list[str]:
    pct = f"{100 * level:g}%"

    def effect(name: str) -> str:
        r = table.loc[name]
        return (f"b = {r['effect']:.3f}, {pct} CI {format_ci(r['ci_low'], r['ci_high'], 3)}, "
                f"p {format_p(r['p'])}")

    dp = table.loc[_DPM]
    n = nick.iloc[0]
    return [
        f"Lagged effect of {x} at one session on {y} at the next, over and above the "
        f"previous {y}: lagged mixed model {effect(_NAIVE)}; RI-CLPM {effect(_RICLPM)}; "
        f"ML-SEM dynamic panel {effect(_DPM)}.",
        f"The mixed model centres each patient's lagged {y} on the patient's own mean. With "
        f"about {int(n['sessions_per_patient'])} lagged sessions per patient this biases its "
        f"autoregression (Nickell bias): if the autoregression is {n['rho']:.2f} (the ML-SEM "
        f"estimate), the centred estimate converges to {n['expected_naive']:.2f}; the mixed "
        f"model gives {table.loc[_NAIVE, 'autoregression']:.2f}. The bias carries over to the "
        f"lagged {x} coefficient. An estimate above the expected value points to something "
        "the formula leaves out, typically patient-specific time trends.",
        "Report the ML-SEM dynamic panel estimate (Falkenström 2024): like the RI-CLPM "
        "it separates within-patient change from stable differences between patients, it "
        "controls the previous outcome without Nickell bias, it allows the predictor to "
        "respond to earlier outcomes, and its free means per session absorb average time "
        "trends (Falkenström, Solomonov & Rubel 2020). Give the long-run effect "
        f"b / (1 - rho) = {dp['long_run']:.3f} alongside the one-session effect, and the "
        "RI-CLPM as a check; treat the lagged mixed model as biased.",
    ]


def lagged_effects_report(
    data: Any,
    x: str,
    y: str,
    *,
    patient: str = "patient",
    session: str = "session",
    waves: int | list[int] | None = None,
    level: float = 0.95,
    figures: bool = True,
) -> LaggedEffectsReport:
    """Fit the naive lagged mixed model, the RI-CLPM and the ML-SEM dynamic panel model.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long session data.
    x, y : str
        Predictor (e.g. ``"wai_sr"``) and outcome (e.g. ``"symptoms"``).
    patient, session : str
        Identifier and session-number columns.
    waves : int or list of int, optional
        Sessions analysed by the two structural equation models (all by default). Late
        sessions that few patients reach make them unstable; the lagged mixed model always
        uses every session.
    level : float
        Confidence level.
    figures : bool, default True
        Draw the coefficient figure.

    Returns
    -------
    LaggedEffectsReport

    Notes
    -----
    Warnings from the fits are collected in ``warnings`` rather than raised, so that a
    report can list them. The models and their validation are documented with
    :func:`alliancestats.lmm`, :func:`alliancestats.riclpm` and
    :func:`alliancestats.dynamic_panel`.
    """
    frame = as_frame(data, "lagged_effects_report")
    column_names([x, y], "lagged_effects_report(): x and y")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllianceStatsWarning)
        naive, effect, ar = _naive(frame, x, y, patient, session)
        ri = riclpm(frame, x, y, patient=patient, session=session, constraints="paths",
                    waves=waves, level=level)
        dp = dynamic_panel(f"{y} ~ pre(lag({x}))", frame, patient=patient, session=session,
                           waves=waves, error_inv=True, partial_pre=True, level=level)
    table = _comparison(naive, effect, ar, ri, dp, x, y)
    rho = float(table.loc[_DPM, "autoregression"])
    per_patient = frame.groupby(patient)[session].nunique().median() - 1
    t = max(int(round(per_patient)), 2)
    nick = pd.DataFrame({"rho": [rho], "sessions_per_patient": [t],
                         "bias": [nickell_bias(rho, t) if abs(rho) < 1 else np.nan]})
    nick["expected_naive"] = nick["rho"] + nick["bias"]
    fits = {_NAIVE: naive, _RICLPM: ri, _DPM: dp}
    report = LaggedEffectsReport(
        fits=fits,
        tables={"comparison": table, "fit": _fit_table({_RICLPM: ri, _DPM: dp}),
                "nickell": nick},
        text=_paragraphs(table, nick, x, y, level),
        warnings=[str(w.message) for w in caught],
    )
    if figures:
        ax = plot_lagged_effects(table, xlabel=f"effect of {x} (t-1) on {y} (t)")
        report.figures["lagged_effects"] = ax.figure
    return report
