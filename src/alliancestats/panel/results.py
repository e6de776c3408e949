"""Results of panel models: :class:`PanelResult` (tidy tables, ``summary()``, ``apa()``).

Shared by :func:`~alliancestats.panel.riclpm`, :func:`~alliancestats.panel.clpm` and
:func:`~alliancestats.panel.dynamic_panel`. The full parameter table follows lavaan's
``parameterEstimates`` (``lhs, op, rhs``; ``std_all`` as ``standardizedSolution`` with
``cov.std = TRUE``: regression paths and loadings scaled by the model-implied standard
deviations, variances as proportions of the total variance, covariances as correlations of
the (residual) terms, intercepts in standard-deviation units); ``coefficients`` holds the
effects a paper reports, indexed by term like ``MixedResult.fixed``.

Examples
--------
>>> from alliancestats.panel.results import PanelResult
>>> PanelResult.__name__
'PanelResult'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats._format import format_ci, format_p, no_leading_zero
from alliancestats.panel.estimation import SEMFit
from alliancestats.panel.fit_measures import fit_measures

__all__ = ["PanelResult", "parameter_table", "wald"]


def wald(estimate: np.ndarray, se: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """z statistics, two-sided p values and Wald confidence limits."""
    estimate = np.asarray(estimate, dtype=float)
    se = np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, estimate / se, np.nan)
    q = stats.norm.ppf(0.5 + level / 2)
    return {
        "z": z,
        "p": 2 * stats.norm.sf(np.abs(z)),
        "ci_low": estimate - q * se,
        "ci_high": estimate + q * se,
    }


def _standardized(fit: SEMFit, estimates: np.ndarray) -> np.ndarray:
    model = fit.model
    spec = model.spec
    index = {v: i for i, v in enumerate(spec.variables)}
    implied = model.implied(fit.theta)
    residual = [model.matrices(fit.theta, g)[1] for g in range(spec.n_groups)]
    out = np.full(len(spec.rows), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        sds = [np.sqrt(np.where(np.diag(imp.sigma_all) > 0, np.diag(imp.sigma_all), np.nan))
               for imp in implied]
        for k, (row, est) in enumerate(zip(spec.rows, estimates, strict=True)):
            cov = implied[row.group].sigma_all
            S = residual[row.group]
            sd = sds[row.group]
            i = index[row.lhs]
            if row.op == "=~":
                out[k] = est * sd[i] / sd[index[row.rhs]]
            elif row.op == "~":
                out[k] = est * sd[index[row.rhs]] / sd[i]
            elif row.op == "~1":
                out[k] = est / sd[i]
            else:
                j = index[row.rhs]
                if i == j:
                    out[k] = est / cov[i, i]
                elif S[i, i] > 0 and S[j, j] > 0:
                    out[k] = est / np.sqrt(S[i, i] * S[j, j])
    return out


def parameter_table(fit: SEMFit, level: float = 0.95, group_labels: list | None = None):
    """Every row of the model (fixed rows included), lavaan's ``parameterEstimates`` layout.

    Returns
    -------
    pandas.DataFrame
        ``lhs, op, rhs, group, label, free, estimate, se, z, p, ci_low, ci_high, std_all``.
    """
    rows = fit.model.spec.rows
    par = fit.model.row_param
    free = par >= 0
    fixed = np.array([np.nan if r.fixed is None else r.fixed for r in rows])
    est = np.where(free, fit.theta[np.maximum(par, 0)], fixed)
    se = np.where(free, fit.se[np.maximum(par, 0)], np.nan)
    tests = wald(est, se, level)
    labels = group_labels or [None]
    table = pd.DataFrame(
        {
            "lhs": [r.lhs for r in rows],
            "op": [r.op for r in rows],
            "rhs": [r.rhs for r in rows],
            "group": [labels[r.group] if r.group < len(labels) else r.group for r in rows],
            "label": [r.label for r in rows],
            "free": free,
            "estimate": est,
            "se": se,
            **tests,
            "std_all": _standardized(fit, est),
        }
    )
    for col in ("z", "p", "ci_low", "ci_high"):
        table.loc[~free, col] = np.nan
    return table


def _apa_number(x: float, digits: int = 2) -> str:
    return no_leading_zero(x, digits) if abs(x) < 1 else f"{x:.{digits}f}"


class PanelResult:
    """Fitted panel model (RI-CLPM, CLPM or ML-SEM dynamic panel).

    Attributes
    ----------
    model : str
        ``"RI-CLPM"``, ``"CLPM"`` or ``"dynamic panel (ML-SEM)"``.
    description : str
        The model in words (variables, waves, constraints) or its formula.
    coefficients : pandas.DataFrame
        The effects a paper reports, indexed by term: ``estimate, se, z, p, ci_low,
        ci_high`` (and ``std_all`` where meaningful), plus model-specific columns.
    parameters : pandas.DataFrame
        The full parameter table (see :func:`parameter_table`).
    fit : pandas.Series
        Global fit measures (see :func:`alliancestats.panel.fit_measures.fit_measures`).
    tables : dict of pandas.DataFrame
        Further tables (``"random_intercepts"``, ``"long_run"``, ...), also attributes.
    loglik, aic, bic, chisq, df : float
    nobs : int
        Patients used.
    waves : list of int
        Session numbers analysed.
    groups : list
        Group labels (``[None]`` for one group).
    vcov : pandas.DataFrame
        Covariance of the free parameters (indexed by parameter label).
    converged : bool
    information, se_type : str
        ``"observed"`` or ``"expected"``; ``"standard"`` or ``"robust"``.
    level : float
        Confidence level of the intervals.
    dropped : pandas.DataFrame
        Rows and patients left out (``row, column, value, reason``).
    messages : list of str
        Notes from the fit (convergence, identification, improper solutions).
    """

    def __init__(self, **fields: Any) -> None:
        self.tables: dict[str, pd.DataFrame] = fields.pop("tables", {})
        self.highlights: list[str] = fields.pop("highlights", [])
        self.sem: SEMFit = fields.pop("sem")
        for key, value in fields.items():
            setattr(self, key, value)
        fm = fit_measures(self.sem)
        self.fit = fm
        self.loglik = float(fm["loglik"])
        self.aic = float(fm["aic"])
        self.bic = float(fm["bic"])
        self.chisq = float(fm["chisq"])
        self.df = int(fm["df"])
        self.nobs = int(fm["nobs"])
        self.converged = self.sem.converged
        self.information = self.sem.information
        self.se_type = self.sem.se_type
        labels = self.sem.model.labels
        self.vcov = pd.DataFrame(self.sem.vcov, index=labels, columns=labels)
        for name, table in self.tables.items():
            setattr(self, name, table)

    # ------------------------------------------------------------------ text
    def fit_text(self) -> str:
        """Global fit in APA style, e.g. ``"χ²(21) = 25.81, p = .214, CFI = .998, ..."``.

        Examples
        --------
        >>> import alliancestats as als
        >>> df = als.simulate_riclpm(n_patients=200, n_waves=4, seed=5)
        >>> als.clpm(df, "alliance", "symptoms").fit_text().startswith("χ²(")
        True
        """
        f = self.fit
        if not np.isfinite(self.chisq):
            return (f"χ² and fit indices not available (saturated model not estimable), "
                    f"AIC = {self.aic:.1f}, BIC = {self.bic:.1f}")
        parts = [f"χ²({self.df}) = {self.chisq:.2f}, p {format_p(f['pvalue'])}"]
        if np.isfinite(f["cfi"]):
            parts.append(f"CFI = {_apa_number(f['cfi'], 3)}")
        if np.isfinite(f["tli"]):
            parts.append(f"TLI = {_apa_number(f['tli'], 3)}")
        if np.isfinite(f["rmsea"]):
            parts.append(
                f"RMSEA = {_apa_number(f['rmsea'], 3)}, 90% CI "
                f"{format_ci(f['rmsea_ci_low'], f['rmsea_ci_high'], 3, apa_bounded=True)}"
            )
        parts.append(f"SRMR = {_apa_number(f['srmr'], 3)}")
        return ", ".join(parts)

    def apa(self, terms: list[str] | None = None) -> str:
        """APA-style report: the model's fit and its key effects.

        Parameters
        ----------
        terms : list of str, optional
            Rows of ``coefficients`` to report (default: the model's key effects --
            the cross-lagged paths of an RI-CLPM or CLPM, every coefficient of a dynamic
            panel model).

        Returns
        -------
        str
            One sentence per effect: unstandardised b with SE, z, p and CI, and the
            standardised β where the model defines one.

        Examples
        --------
        >>> import alliancestats as als
        >>> df = als.simulate_riclpm(n_patients=200, n_waves=4, seed=5)
        >>> fit = als.riclpm(df, "alliance", "symptoms", constraints="paths")
        >>> fit.apa().split(": ")[0]
        'RI-CLPM for alliance and symptoms, sessions 1-4 (equal paths) (N = 200)'
        """
        names = self.highlights if terms is None else list(terms)
        unknown = [t for t in names if t not in self.coefficients.index]
        if unknown:
            raise KeyError(f"terms {unknown} are not in coefficients; have "
                           f"{list(self.coefficients.index)}")
        pct = f"{100 * self.level:g}%"
        lines = [f"{self.model} for {self.description} (N = {self.nobs}): {self.fit_text()}."]
        for term in names:
            r = self.coefficients.loc[term]
            text = (f"{term}: b = {r['estimate']:.3f}, SE = {r['se']:.3f}, z = {r['z']:.2f}, "
                    f"p {format_p(r['p'])}, {pct} CI {format_ci(r['ci_low'], r['ci_high'], 3)}")
            if "std_all" in r.index and np.isfinite(r["std_all"]):
                text += f", β = {_apa_number(r['std_all'], 2)}"
            lines.append(text + ".")
        return " ".join(lines)

    def summary(self) -> str:
        """Text summary: model, data, estimator, fit measures and the coefficient tables.

        Examples
        --------
        >>> import alliancestats as als
        >>> df = als.simulate_riclpm(n_patients=200, n_waves=4, seed=5)
        >>> text = als.dynamic_panel("symptoms ~ pre(lag(alliance))", df).summary()
        >>> text.splitlines()[0]
        'Dynamic panel (ML-SEM): symptoms ~ pre(lag(alliance))'
        """
        f = self.fit
        groups = "" if self.groups == [None] else f", groups: {', '.join(map(str, self.groups))}"
        lines = [
            f"{self.model}: {self.description}",
            f"Estimator: ML (full information), {self.information} information, "
            + ("robust (Huber-White) standard errors" if self.se_type == "robust"
               else "model-based standard errors"),
            f"Patients: {self.nobs}, waves (sessions): {self.waves[0]}-{self.waves[-1]}{groups}",
            f"Optimizer: {'converged' if self.converged else 'NOT converged'} "
            f"(largest gradient {self.sem.gradient_max:.1e})",
            "",
            f"  Chi-square (df)      {self.chisq:10.3f} ({self.df})   p {_p_value(f['pvalue'])}",
            f"  CFI / TLI            {f['cfi']:10.3f} / {f['tli']:.3f}",
            f"  RMSEA [90% CI]       {f['rmsea']:10.3f} [{f['rmsea_ci_low']:.3f}, "
            f"{f['rmsea_ci_high']:.3f}]",
            f"  SRMR                 {f['srmr']:10.3f}",
            f"  logLik / AIC / BIC   {self.loglik:10.3f} / {self.aic:.3f} / {self.bic:.3f}",
            f"  Free parameters      {int(f['npar']):10d}",
            "",
            "Coefficients:",
            _table_text(self.coefficients),
        ]
        for name, table in self.tables.items():
            lines += ["", f"{name.replace('_', ' ').capitalize()}:", _table_text(table)]
        notes = list(self.messages)
        if len(self.dropped):
            notes.append(f"{len(self.dropped)} row(s)/patient(s) left out (see .dropped)")
        if notes:
            lines += [""] + notes
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<PanelResult {self.model}: N={self.nobs}, waves={len(self.waves)}, "
                f"chisq({self.df})={self.chisq:.3f}, converged={self.converged}>")

    def __str__(self) -> str:
        return self.summary()


def _p_value(p: float) -> str:
    text = format_p(p, style="metafor")
    return text if text.startswith("<") else f"= {text}"


def _table_text(table: pd.DataFrame) -> str:
    shown = table.copy()
    shown.index.name = None
    return shown.to_string(float_format=lambda v: f"{v:.4g}", na_rep="")
