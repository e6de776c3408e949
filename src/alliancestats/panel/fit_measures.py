"""Global fit of a structural equation model: chi-square, CFI, TLI, RMSEA, SRMR, AIC, BIC.

Definitions as lavaan 0.6-14 computes them for ML with a mean structure (Rosseel 2012, J Stat
Softw 48(2)); N is the total number of rows used and G the number of groups.

* chi-square: ``2 (logL_saturated - logL_model)`` on ``df = G (p(p+1)/2 + p) - q``;
* CFI (Bentler 1990, Psychol Bull 107(2)) and TLI (Tucker & Lewis 1973) against the
  independence model (means and variances free, covariances zero; ``df_b = G p(p-1)/2``);
* RMSEA (Steiger 1990) ``sqrt(max(chisq - df, 0) / (N df)) sqrt(G)`` with the 90% interval
  from the noncentral chi-square distribution and the test of close fit (RMSEA <= .05);
* SRMR (Bentler's version with the mean residuals, lavaan's default): per group
  ``sqrt((sum of squared standardised covariance residuals over the lower triangle + sum of
  squared standardised mean residuals) / (p(p+1)/2 + p))``, residuals against the
  unrestricted ML moments (EM with missing data) standardised by their standard deviations,
  averaged over groups weighted by size;
* AIC ``-2 logL + 2q`` and BIC ``-2 logL + q log N``.

Examples
--------
>>> from alliancestats.panel.fit_measures import rmsea
>>> round(rmsea(25.806, 21, 1189)[0], 4)
0.0139
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alliancestats.panel.estimation import SEMFit

__all__ = ["fit_measures", "rmsea", "srmr"]


def rmsea(chisq: float, df: float, n: int, n_groups: int = 1, level: float = 0.90):
    """RMSEA, its confidence interval and the p value of close fit (RMSEA <= .05).

    Returns
    -------
    tuple of float
        ``(rmsea, ci_low, ci_high, p_close)``; NaN when ``df`` is 0.
    """
    if df <= 0:
        return (np.nan, np.nan, np.nan, np.nan)
    scale = np.sqrt(n_groups)
    value = np.sqrt(max(chisq - df, 0.0) / (n * df)) * scale

    def ncp_for(prob: float) -> float:
        # noncentrality at which P(X <= chisq) equals prob (0 when even ncp 0 is below it)
        if stats.chi2.cdf(chisq, df) < prob:
            return 0.0
        upper = max(chisq, 1.0)
        while stats.ncx2.cdf(chisq, df, upper) > prob:
            upper *= 2
        return optimize.brentq(lambda lam: stats.ncx2.cdf(chisq, df, lam) - prob, 0.0, upper)

    tail = (1 - level) / 2
    low = np.sqrt(ncp_for(1 - tail) / (n * df)) * scale
    high = np.sqrt(ncp_for(tail) / (n * df)) * scale
    ncp_close = n * df * 0.05**2 / n_groups
    p_close = float(stats.ncx2.sf(chisq, df, ncp_close))
    return (float(value), float(low), float(high), p_close)


def srmr(fit: SEMFit, *, means: bool = True) -> float:
    """Standardised root mean square residual (Bentler's; with the mean residuals by default)."""
    implied = fit.model.implied(fit.theta)
    values, weights = [], []
    for gd, sat, imp in zip(fit.data, fit.saturated, implied, strict=True):
        sd = np.sqrt(np.diag(sat.cov))
        resid = (sat.cov - imp.sigma) / np.outer(sd, sd)
        low = resid[np.tril_indices_from(resid)]
        total = float(np.sum(low**2))
        count = len(low)
        if means:
            m = (sat.mean - imp.mu) / sd
            total += float(np.sum(m**2))
            count += len(m)
        values.append(np.sqrt(total / count))
        weights.append(gd.n)
    return float(np.average(values, weights=weights))


def _without_saturated(fit: SEMFit, q: int, n: int, df: int, base_df: int) -> pd.Series:
    """Fit measures when the saturated model cannot be estimated: only the likelihood ones."""
    nan = np.nan
    values = dict.fromkeys(
        ["chisq", "pvalue", "baseline_chisq", "cfi", "tli", "rmsea", "rmsea_ci_low",
         "rmsea_ci_high", "rmsea_pvalue", "srmr", "srmr_nomean", "unrestricted_loglik"], nan)
    values.update(npar=q, nobs=n, df=df, baseline_df=base_df, loglik=fit.loglik,
                  aic=-2.0 * fit.loglik + 2.0 * q, bic=-2.0 * fit.loglik + np.log(n) * q)
    order = ["npar", "nobs", "chisq", "df", "pvalue", "baseline_chisq", "baseline_df", "cfi",
             "tli", "rmsea", "rmsea_ci_low", "rmsea_ci_high", "rmsea_pvalue", "srmr",
             "srmr_nomean", "aic", "bic", "loglik", "unrestricted_loglik"]
    return pd.Series({k: values[k] for k in order}, dtype=float)


def fit_measures(fit: SEMFit) -> pd.Series:
    """All global fit measures of a fit, named as in lavaan's ``fitMeasures``.

    Returns
    -------
    pandas.Series
        ``npar, nobs, chisq, df, pvalue, baseline_chisq, baseline_df, cfi, tli, rmsea,
        rmsea_ci_low, rmsea_ci_high, rmsea_pvalue, srmr, srmr_nomean, aic, bic, loglik,
        unrestricted_loglik``.
    """
    q = fit.model.n_free
    n = fit.n
    n_groups = len(fit.data)
    moments = sum(gd.n_vars * (gd.n_vars + 3) // 2 for gd in fit.data)
    df = moments - q
    base_df = sum(gd.n_vars * (gd.n_vars - 1) // 2 for gd in fit.data)
    if not np.isfinite(fit.loglik_saturated):  # saturated model not estimable
        return _without_saturated(fit, q, n, df, base_df)
    chisq = max(2.0 * (fit.loglik_saturated - fit.loglik), 0.0)
    base_chisq = max(2.0 * (fit.loglik_saturated - fit.loglik_baseline), 0.0)
    pvalue = float(stats.chi2.sf(chisq, df)) if df > 0 else np.nan
    d_model = max(chisq - df, 0.0)
    d_base = max(base_chisq - base_df, d_model)
    cfi = 1.0 - d_model / d_base if d_base > 0 else 1.0
    if df > 0 and base_df > 0 and base_chisq / base_df != 1:
        ratio_b = base_chisq / base_df
        tli = (ratio_b - chisq / df) / (ratio_b - 1.0)
    else:
        tli = np.nan
    rm = rmsea(chisq, df, n, n_groups)
    return pd.Series(
        {
            "npar": q,
            "nobs": n,
            "chisq": chisq,
            "df": df,
            "pvalue": pvalue,
            "baseline_chisq": base_chisq,
            "baseline_df": base_df,
            "cfi": cfi,
            "tli": tli,
            "rmsea": rm[0],
            "rmsea_ci_low": rm[1],
            "rmsea_ci_high": rm[2],
            "rmsea_pvalue": rm[3],
            "srmr": srmr(fit),
            "srmr_nomean": srmr(fit, means=False),
            "aic": -2.0 * fit.loglik + 2.0 * q,
            "bic": -2.0 * fit.loglik + np.log(n) * q,
            "loglik": fit.loglik,
            "unrestricted_loglik": fit.loglik_saturated,
        },
        dtype=float,
    )
