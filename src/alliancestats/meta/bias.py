"""Small-study effects and publication bias: Egger-type regression, rank correlation, trim-and-fill.

Public functions
----------------
egger_test
    Regression test for funnel-plot asymmetry (Egger et al. 1997; Sterne & Egger 2005), either
    as a mixed-effects meta-regression on the standard error (metafor's ``regtest`` default) or
    as the classic weighted least-squares regression.
rank_test
    Begg & Mazumdar (1994) rank correlation between standardised effects and their variances.
trim_and_fill
    Duval & Tweedie (2000) nonparametric trim-and-fill with the L0 or R0 estimator.

All three take a fitted :class:`~alliancestats.meta.MetaResult` and were validated against
metafor 3.8-1 (``regtest``, ``ranktest``, ``trimfill``); see the validation page of the
documentation.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import DataQualityWarning, MetaAnalysisError
from alliancestats.meta._checks import (
    is_intercept_only,
    level_alpha,
    require_result,
    require_univariate,
    study_arrays,
)
from alliancestats.meta.rma import meta_analysis

__all__ = [
    "EggerResult",
    "RankTestResult",
    "egger_test",
    "rank_test",
    "trim_and_fill",
]


def _fit_like(
    result: Any,
    yi: np.ndarray,
    vi: np.ndarray,
    mods: np.ndarray | None = None,
    labels: Any = None,
    tau2_fixed: float | None = None,
    test: str | None = None,
) -> Any:
    """Fit a new univariate model with the settings (method, test, level, measure) of ``result``.

    ``mods`` holds the moderator columns without the intercept (which meta_analysis adds);
    ``None`` means an intercept-only model.
    """
    return meta_analysis(
        yi=np.asarray(yi, dtype=float),
        vi=np.asarray(vi, dtype=float),
        mods=None if mods is None else np.asarray(mods, dtype=float),
        method=result.method,
        test=result.test if test is None else test,
        level=result.level,
        measure=result.measure,
        slab=None if labels is None else [str(x) for x in labels],
        tau2=tau2_fixed,
    )


def _with_intercept_first(result: Any, X: np.ndarray) -> None:
    """Check that the model's design starts with an intercept column (meta_analysis adds one)."""
    names = list(getattr(result, "mod_names", ["(Intercept)"]))
    if not names or names[0] != "(Intercept)" or not np.allclose(X[:, 0], 1.0):
        raise MetaAnalysisError(
            "This diagnostic needs a model with an intercept; refit without removing it."
        )


# --------------------------------------------------------------------------------------------
# Egger-type regression test
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EggerResult:
    """Result of :func:`egger_test`.

    Attributes
    ----------
    model : {"rma", "lm"}
        Mixed-effects meta-regression or weighted least-squares regression.
    predictor : str
        The precision measure used as predictor (``"sei"``, ``"vi"``, ``"ni"``, ``"ninv"``,
        ``"sqrtninv"``).
    statistic : float
        z (or t) statistic of the predictor's coefficient: the asymmetry test.
    p : float
        Two-sided p-value of the asymmetry test.
    df : float
        Degrees of freedom of a t statistic (``nan`` for a z statistic).
    limit_estimate, ci_low, ci_high : float
        Intercept of the regression (the effect expected for a study with standard error 0,
        the "limit" estimate) with its confidence interval; ``nan`` when the model has
        moderators (the limit estimate is then not defined).
    level : float
        Confidence level of the interval, in percent.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, egger_test
    >>> fit = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> egger_test(fit).to_series().index[:4].tolist()
    ['model', 'predictor', 'statistic', 'p']
    """

    model: str
    predictor: str
    statistic: float
    p: float
    df: float
    limit_estimate: float
    ci_low: float
    ci_high: float
    level: float

    def to_series(self) -> pd.Series:
        """Return the result as a pandas Series (one entry per attribute)."""
        return pd.Series(
            {
                "model": self.model,
                "predictor": self.predictor,
                "statistic": self.statistic,
                "p": self.p,
                "df": self.df,
                "limit_estimate": self.limit_estimate,
                "ci_low": self.ci_low,
                "ci_high": self.ci_high,
                "level": self.level,
            },
            name="egger_test",
            dtype=object,
        )

    def __str__(self) -> str:
        kind = "mixed-effects meta-regression" if self.model == "rma" else "weighted regression"
        stat = f"t({self.df:g})" if np.isfinite(self.df) else "z"
        text = (
            f"Regression test for funnel plot asymmetry ({kind}, predictor: {self.predictor})\n"
            f"  test for asymmetry: {stat} = {self.statistic:.4f}, p = {self.p:.4f}\n"
        )
        if np.isfinite(self.limit_estimate):
            text += (
                f"  limit estimate (as {self.predictor} -> 0): {self.limit_estimate:.4f} "
                f"({self.level:g}% CI {self.ci_low:.4f} to {self.ci_high:.4f})\n"
            )
        return text


def _wls(y: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Weighted least squares with estimated residual variance (R's ``lm(weights = w)``)."""
    k, p = X.shape
    sw = np.sqrt(w)
    Xw = X * sw[:, None]
    yw = y * sw
    coef, *_ = np.linalg.lstsq(Xw, yw, rcond=None)
    resid = yw - Xw @ coef
    df = k - p
    sigma2 = float(resid @ resid) / df
    cov = sigma2 * np.linalg.inv(Xw.T @ Xw)
    return coef, np.sqrt(np.diag(cov)), df


_PREDICTORS = ("sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv")
# predictors that vanish as the sample size grows: the intercept is then the limit estimate
_LIMIT_PREDICTORS = ("sei", "vi", "ninv", "sqrtninv")


def _sample_sizes(result: Any, ni: Any) -> np.ndarray:
    if ni is None:
        for name in ("n", "ni"):
            if name in result.data.columns:
                ni = result.data[name].to_numpy(dtype=float)
                break
        else:
            raise MetaAnalysisError(
                "This predictor needs sample sizes: give ni= (a column of the model's data or "
                "one value per study)."
            )
    elif isinstance(ni, str):
        if ni not in result.data.columns:
            raise MetaAnalysisError(f"ni={ni!r} is not a column of the model's data.")
        ni = result.data[ni].to_numpy(dtype=float)
    ni = np.asarray(ni, dtype=float)
    if ni.shape != (result.k,) or not np.all(np.isfinite(ni) & (ni > 0)):
        raise MetaAnalysisError(f"ni must hold {result.k} positive sample sizes.")
    return ni


def _predictor_values(result: Any, predictor: str, vi: np.ndarray, ni: Any) -> np.ndarray:
    if predictor == "sei":
        return np.sqrt(vi)
    if predictor == "vi":
        return vi
    n = _sample_sizes(result, ni)
    return {"ni": n, "ninv": 1 / n, "sqrtni": np.sqrt(n), "sqrtninv": 1 / np.sqrt(n)}[predictor]


def egger_test(
    result: Any,
    model: Literal["rma", "lm"] = "rma",
    predictor: Literal["sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"] = "sei",
    *,
    ni: Any = None,
) -> EggerResult:
    """Regression test for funnel-plot asymmetry (Egger's test and its mixed-effects version).

    Parameters
    ----------
    result : MetaResult
        A fitted model from :func:`~alliancestats.meta.meta_analysis` (moderators allowed; the
        standard error is added to its design matrix).
    model : {"rma", "lm"}, default "rma"
        ``"rma"`` fits a mixed-effects meta-regression with the standard error as an extra
        moderator, using the same τ² estimator, test and level as ``result`` (metafor's
        ``regtest`` default). ``"lm"`` is the classic Egger regression: weighted least squares
        of ``y_i`` on the standard error with weights ``1 / v_i`` and an estimated
        multiplicative dispersion, tested with a t distribution on ``k - p - 1`` df.
    predictor : {"sei", "vi", "ni", "ninv", "sqrtni", "sqrtninv"}, default "sei"
        Predictor added to the model: the standard error (Egger et al. 1997), the sampling
        variance (the PEESE form; Stanley & Doucouliagos 2014), the sample size, its inverse,
        its square root or its inverse square root (Peters et al. 2006, JAMA 295(6)).
    ni : str or array-like, optional
        Sample sizes for the ``n`` predictors; by default the model data's ``n`` (from
        :func:`effect_sizes`) or ``ni`` column.

    Returns
    -------
    EggerResult
        ``statistic``, ``p``, ``df`` (``nan`` for a z test) and the limit estimate (intercept;
        effect as the standard error tends to 0) with its confidence interval. Use
        ``.to_series()`` for a pandas Series.

    Raises
    ------
    MetaAnalysisError
        With fewer than ``p + 2`` studies, an unknown ``model``/``predictor``, or when the
        standard error is collinear with the moderators.

    Notes
    -----
    Egger et al. (1997) regress the standard normal deviate on precision; the equivalent
    weighted regression of the effect on its standard error is what ``model="lm"`` fits. The
    mixed-effects version (Sterne & Egger 2005) allows for heterogeneity through τ². A small p
    signals small-study effects, of which publication bias is only one possible cause.

    Validated against metafor 3.8-1 ``regtest()`` on ``dat.molloy2014`` (Fisher z, REML) and
    ``dat.bcg`` (log RR, REML): the weighted regression is closed form (relative tolerance
    1e-8); the mixed-effects version contains an iterative τ² (tolerance 1e-5).

    References
    ----------
    Egger, M., Davey Smith, G., Schneider, M., & Minder, C. (1997). Bias in meta-analysis
    detected by a simple, graphical test. BMJ, 315, 629-634.
    Sterne, J. A. C., & Egger, M. (2005). Regression methods to detect publication and other
    bias in meta-analysis. In Rothstein, Sutton & Borenstein (Eds.), Publication bias in
    meta-analysis (pp. 99-110). Wiley.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, egger_test
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> eg = egger_test(res, model="lm")
    >>> round(eg.statistic, 3), eg.df
    (6.556, 4.0)
    """
    if model not in ("rma", "lm"):
        raise MetaAnalysisError(f"model must be 'rma' or 'lm', not {model!r}.")
    if predictor not in _PREDICTORS:
        raise MetaAnalysisError(
            f"predictor must be one of {', '.join(_PREDICTORS)}; got {predictor!r}."
        )
    require_univariate(result, "The regression test")
    yi, vi, X = study_arrays(result)
    k, p = X.shape
    if k < p + 2:
        raise MetaAnalysisError(
            f"The regression test needs at least {p + 2} studies for this model; got {k}."
        )
    Xs = np.column_stack([X, _predictor_values(result, predictor, vi, ni)])
    if np.linalg.matrix_rank(Xs) < p + 1:
        raise MetaAnalysisError(
            f"The predictor {predictor!r} is collinear with the model's moderators (for "
            "example, all studies have the same standard error); the regression test cannot "
            "be fitted."
        )
    alpha = level_alpha(result)
    level = 100.0 * (1.0 - alpha)
    intercept_only = is_intercept_only(X) and predictor in _LIMIT_PREDICTORS
    if model == "lm":
        coef, se, df = _wls(yi, Xs, 1.0 / vi)
        statistic = float(coef[p] / se[p])
        pval = float(2.0 * stats.t.sf(abs(statistic), df))
        est = lo = hi = float("nan")
        if intercept_only:
            crit = stats.t.isf(alpha / 2.0, df)
            est = float(coef[0])
            lo, hi = est - crit * float(se[0]), est + crit * float(se[0])
        return EggerResult(
            "lm", predictor, statistic, pval, float(df), est, float(lo), float(hi), level
        )
    _with_intercept_first(result, X)
    fit = _fit_like(result, yi, vi, mods=Xs[:, 1:], tau2_fixed=result.tau2_fixed)
    table = fit.table
    row = table.iloc[p]
    stat_col = "z" if "z" in table.columns else "t"
    statistic = float(row[stat_col])
    pval = float(row["p"])
    df = float(row["df"]) if stat_col == "t" and "df" in table.columns else float("nan")
    est = lo = hi = float("nan")
    if intercept_only:
        first = table.iloc[0]
        est, lo, hi = float(first["estimate"]), float(first["ci_low"]), float(first["ci_high"])
    return EggerResult("rma", predictor, statistic, pval, df, est, lo, hi, level)


# --------------------------------------------------------------------------------------------
# Begg & Mazumdar rank correlation test
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RankTestResult:
    """Result of :func:`rank_test`: Kendall's ``tau``, its two-sided ``p`` and ``exact``.

    ``exact`` is True when the p-value comes from the exact permutation distribution (no ties)
    and False when the tie-corrected normal approximation was used.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, rank_test
    >>> fit = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> rank_test(fit).to_series()["exact"]
    True
    """

    tau: float
    p: float
    exact: bool

    def to_series(self) -> pd.Series:
        """Return the result as a pandas Series."""
        return pd.Series(
            {"tau": self.tau, "p": self.p, "exact": self.exact}, name="rank_test", dtype=object
        )

    def __str__(self) -> str:
        how = "exact" if self.exact else "normal approximation, ties present"
        return (
            "Rank correlation test for funnel plot asymmetry\n"
            f"  Kendall's tau = {self.tau:.4f}, p = {self.p:.4f} ({how})\n"
        )


def _tau_b(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Kendall's tau-b and Kendall's S (concordant minus discordant pairs)."""
    upper = np.triu_indices(len(x), k=1)
    sx = np.sign(x[None, :] - x[:, None])[upper]
    sy = np.sign(y[None, :] - y[:, None])[upper]
    s = float(np.sum(sx * sy))
    nx = float(np.count_nonzero(sx))
    ny = float(np.count_nonzero(sy))
    if nx == 0.0 or ny == 0.0:
        return float("nan"), s
    return s / float(np.sqrt(nx * ny)), s


def _concordance_lower_cdf(n: int, upto: int) -> np.ndarray:
    """``P(T <= t)`` for ``t = 0 .. upto``, T the number of concordant pairs under H0.

    T has the distribution of the number of inversions of a random permutation of n items.
    It is built by adding one element at a time: the m-th element adds 0 .. m-1 inversions
    with equal probability, a convolution with a uniform block done with running sums. Only
    the lower tail up to ``upto`` is carried, which keeps the cost at O(n * upto) and avoids
    cancellation (running sums stay of the size of the tail probabilities).
    """
    probs = np.ones(1)
    for m in range(2, n + 1):
        size = min(len(probs) + m - 1, upto + 1)
        csum = np.concatenate(([0.0], np.cumsum(probs)))
        idx = np.arange(size)
        upper = np.minimum(idx, len(probs) - 1) + 1
        lower = np.maximum(idx - (m - 1), 0)
        probs = (csum[upper] - csum[lower]) / m
    return np.cumsum(probs)


def _kendall_test(x: np.ndarray, y: np.ndarray) -> tuple[float, float, bool]:
    """Kendall's tau-b with R ``cor.test(method = "kendall", exact = TRUE)`` p-values."""
    n = len(x)
    tau, _ = _tau_b(x, y)
    if not np.isfinite(tau):
        raise MetaAnalysisError(
            "Kendall's tau is undefined: all standardised effects or all variances are equal."
        )
    ties = min(len(np.unique(x)), len(np.unique(y))) < n
    if not ties:
        n_pairs = n * (n - 1) // 2
        q = int(round((tau + 1.0) * n_pairs / 2.0))
        # P(T >= q) = P(T <= n_pairs - q) by the symmetry of the null distribution
        tail = n_pairs - q if q > n_pairs / 2.0 else q
        p = float(_concordance_lower_cdf(n, tail)[tail])
        return tau, float(min(1.0, 2.0 * p)), True
    _, count_x = np.unique(x, return_counts=True)
    _, count_y = np.unique(y, return_counts=True)
    tx = count_x[count_x > 1].astype(float)
    ty = count_y[count_y > 1].astype(float)
    t0 = n * (n - 1) / 2.0
    t1 = float(np.sum(tx * (tx - 1))) / 2.0
    t2 = float(np.sum(ty * (ty - 1))) / 2.0
    s = tau * np.sqrt((t0 - t1) * (t0 - t2))
    v0 = n * (n - 1) * (2 * n + 5)
    vt = np.sum(tx * (tx - 1) * (2 * tx + 5))
    vu = np.sum(ty * (ty - 1) * (2 * ty + 5))
    v1 = np.sum(tx * (tx - 1)) * np.sum(ty * (ty - 1))
    v2 = np.sum(tx * (tx - 1) * (tx - 2)) * np.sum(ty * (ty - 1) * (ty - 2))
    var_s = (v0 - vt - vu) / 18.0 + v1 / (2.0 * n * (n - 1))
    if n > 2:
        var_s += v2 / (9.0 * n * (n - 1) * (n - 2))
    z = s / np.sqrt(var_s)
    return tau, float(2.0 * min(stats.norm.cdf(z), stats.norm.sf(z))), False


def rank_test(result: Any) -> RankTestResult:
    """Begg & Mazumdar rank correlation test for funnel-plot asymmetry.

    Parameters
    ----------
    result : MetaResult
        A fitted model; only its effects ``yi`` and variances ``vi`` are used.

    Returns
    -------
    RankTestResult
        Kendall's ``tau`` between the standardised effects and the sampling variances, its
        two-sided ``p`` and whether ``p`` is ``exact``.

    Notes
    -----
    Each effect is standardised as ``(y_i - θ) / sqrt(v_i - v_θ)`` with θ the inverse-variance
    (equal-effects) pooled estimate and ``v_θ = 1 / Σ(1/v_i)`` (Begg & Mazumdar 1994). As in
    metafor's ``ranktest`` (which calls R's ``cor.test`` with ``exact = TRUE``) the p-value is
    exact whenever there are no ties, whatever k, and otherwise uses the normal approximation
    with tie-corrected variance. The test has low power with few studies.

    Validated against metafor 3.8-1 ``ranktest()`` on ``dat.molloy2014`` (ties: normal
    approximation) and ``dat.bcg`` (exact): closed form, relative tolerance 1e-8.

    References
    ----------
    Begg, C. B., & Mazumdar, M. (1994). Operating characteristics of a rank correlation test
    for publication bias. Biometrics, 50(4), 1088-1101.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, rank_test
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> rt = rank_test(res)
    >>> round(rt.tau, 4), round(rt.p, 4), rt.exact
    (0.8667, 0.0167, True)
    """
    require_result(result, "rank_test()")
    yi = np.asarray(result.yi, dtype=float)
    vi = np.asarray(result.vi, dtype=float)
    if len(yi) < 3:
        raise MetaAnalysisError(
            f"The rank correlation test needs at least 3 studies; got {len(yi)}."
        )
    wi = 1.0 / vi
    theta = float(np.sum(wi * yi) / np.sum(wi))
    v_theta = 1.0 / float(np.sum(wi))
    y_star = (yi - theta) / np.sqrt(vi - v_theta)
    tau, p, exact = _kendall_test(y_star, vi)
    return RankTestResult(float(tau), p, exact)


# --------------------------------------------------------------------------------------------
# Trim-and-fill
# --------------------------------------------------------------------------------------------
def _choose_side(result: Any, yi: np.ndarray, vi: np.ndarray) -> str:
    """Side on which studies are missing: opposite to the sign of the Egger-type slope."""
    # only the slope's sign matters, which does not depend on the test (metafor uses z here)
    if np.ptp(vi) <= 1e-12 * float(np.max(vi)):
        raise MetaAnalysisError(
            "Trim-and-fill cannot choose the side automatically when all studies have the same "
            "sampling variance (the funnel has no precision axis); give side='left' or "
            "side='right'."
        )
    fit = _fit_like(result, yi, vi, mods=np.sqrt(vi)[:, None], test="z")
    slope = float(fit.table.iloc[1]["estimate"])
    return "right" if slope < 0 else "left"


def _k0_estimate(centred: np.ndarray, estimator: str) -> tuple[float, float]:
    """Raw k0 and its standard error from the signed ranks of the centred effects."""
    k = len(centred)
    ranks = np.empty(k)
    # ranks of |centred| with ties broken by position (R: rank(ties.method = "first"))
    ranks[np.argsort(np.abs(centred), kind="stable")] = np.arange(1, k + 1)
    signed = np.sign(centred) * ranks
    if estimator == "R0":
        negative = -signed[signed < 0]
        rightmost_run = k - (negative.max() if negative.size else 0.0)
        k0 = rightmost_run - 1.0
        se = np.sqrt(2.0 * max(0.0, k0) + 2.0)
        return float(k0), float(se)
    s_rank = float(np.sum(signed[signed > 0]))
    if estimator == "Q0":
        k0 = k - 0.5 - np.sqrt(2.0 * k**2 - 4.0 * s_rank + 0.25)
    else:
        k0 = (4.0 * s_rank - k * (k + 1)) / (2.0 * k - 1.0)
    var_s = (
        k * (k + 1) * (2 * k + 1)
        + 10 * k0**3
        + 27 * k0**2
        + 17 * k0
        - 18 * k * k0**2
        - 18 * k * k0
        + 6 * k**2 * k0
    ) / 24.0
    if var_s < 0:  # the variance formula breaks down (metafor: NaN with a warning)
        return float(k0), float("nan")
    if estimator == "Q0":
        return float(k0), float(
            2.0 * np.sqrt(var_s) / np.sqrt((k - 0.5) ** 2 - k0 * (2 * k - k0 - 1))
        )
    return float(k0), float(4.0 * np.sqrt(var_s) / (2.0 * k - 1.0))


def _trim_iterations(
    result: Any, y_sorted: np.ndarray, v_sorted: np.ndarray, estimator: str, maxiter: int
) -> tuple[int, float, float]:
    """Trim the k0 most extreme effects, re-centre, re-estimate k0 until it settles."""
    k = len(y_sorted)
    k0, previous, iterations = 0, -1, 0
    beta = se_k0 = float("nan")
    while k0 != previous:
        previous = k0
        iterations += 1
        if iterations > maxiter:
            raise MetaAnalysisError(
                f"Trim-and-fill did not converge in {maxiter} iterations; increase maxiter."
            )
        if k0 >= k:
            raise MetaAnalysisError(
                f"Trim-and-fill estimated that {k0} of {k} studies are missing, leaving too few "
                "to estimate the centre; the funnel is too asymmetric (or k too small) for "
                "this method."
            )
        # the trimmed fits only provide the centre, which does not depend on the test
        fit = _fit_like(result, y_sorted[: k - k0], v_sorted[: k - k0], test="z")
        beta = float(fit.estimate)
        raw_k0, se_k0 = _k0_estimate(y_sorted - beta, estimator)
        k0 = int(max(0, np.round(raw_k0)))  # numpy rounds halves to even, as R does
        se_k0 = se_k0 if np.isnan(se_k0) else max(0.0, se_k0)
    return k0, se_k0, beta


def trim_and_fill(
    result: Any,
    estimator: Literal["L0", "R0", "Q0"] = "L0",
    side: Literal["left", "right"] | None = None,
    *,
    maxiter: int = 100,
) -> Any:
    """Duval & Tweedie trim-and-fill: impute the studies an asymmetric funnel seems to miss.

    Parameters
    ----------
    result : MetaResult
        Fitted model without moderators.
    estimator : {"L0", "R0", "Q0"}, default "L0"
        Estimator of the number of missing studies k0 (Duval & Tweedie 2000; Q0 from
        Duval 2005, in Rothstein, Sutton & Borenstein, *Publication Bias in Meta-Analysis*).
    side : {"left", "right"}, optional
        Side of the funnel on which studies are missing. By default chosen as metafor does:
        "left" when the slope of the standard error in a mixed-effects regression (same τ²
        estimator) is positive, else "right".
    maxiter : int, default 100
        Maximum number of trim iterations.

    Returns
    -------
    MetaResult
        Model refitted to the observed plus the imputed studies (same τ² estimator, test and
        level). Extra attributes: ``k0`` (number of imputed studies), ``se_k0`` (its standard
        error), ``p_k0`` (R0 only: p-value of H0: k0 = 0, else ``nan``), ``side``,
        ``estimator`` and ``filled`` (bool array, True for imputed studies, which come last
        and are labelled "Filled 1", "Filled 2", ...). With ``k0 == 0`` the model equals
        ``result`` apart from these attributes.

    Raises
    ------
    MetaAnalysisError
        For a model with moderators, fewer than 3 studies, an unknown estimator or side, or
        when the iteration does not settle within ``maxiter`` steps.

    Notes
    -----
    Effects are sorted (mirrored first when studies are missing on the right); the most
    extreme ``k0`` are trimmed, the model refitted, and k0 re-estimated from the signed ranks
    of the centred effects until k0 no longer changes (Duval & Tweedie 2000). The trimmed
    studies are then mirrored about the last trimmed estimate and added. The standard error of
    k0 follows metafor's formulas; where the variance formula turns negative (possible when
    k0 = 0) the standard error is ``nan`` with a warning, as in metafor. The filled model
    keeps the test and level of ``result``: with Knapp-Hartung the filled estimate also uses
    t tests (metafor 3.8-1 refits the filled data with z tests instead); the result says so
    in ``extras["note"]`` and its summary. Trim-and-fill assumes asymmetry is due to
    suppressed studies; treat the filled estimate as a sensitivity analysis, not a
    correction.

    Validated against metafor 3.8-1 ``trimfill()`` on ``dat.molloy2014`` (Fisher z, REML; two
    studies filled on the left) and ``dat.bcg`` (log RR, REML): k0 exactly, se of k0 with
    relative tolerance 1e-8 (closed form given k0), refitted estimate/SE/τ² with 1e-5
    (iterative τ²).

    References
    ----------
    Duval, S., & Tweedie, R. (2000). Trim and fill: A simple funnel-plot-based method of
    testing and adjusting for publication bias in meta-analysis. Biometrics, 56(2), 455-463.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, trim_and_fill
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> tf = trim_and_fill(res)
    >>> tf.k0, tf.side, int(tf.filled.sum())
    (3, 'left', 3)
    """
    if estimator not in ("L0", "R0", "Q0"):
        raise MetaAnalysisError(f"estimator must be 'L0', 'R0' or 'Q0', not {estimator!r}.")
    if side is not None and side not in ("left", "right"):
        raise MetaAnalysisError(f"side must be 'left', 'right' or None, not {side!r}.")
    require_univariate(result, "Trim-and-fill")
    yi_obs, vi_obs, X = study_arrays(result)
    if not is_intercept_only(X):
        raise MetaAnalysisError(
            "Trim-and-fill is defined for models without moderators; fit the model without "
            "mods (or per subgroup) first."
        )
    k = len(yi_obs)
    if k < 3:
        raise MetaAnalysisError(f"Trim-and-fill needs at least 3 studies; got {k}.")
    if side is None:
        side = _choose_side(result, yi_obs, vi_obs)
    sign = -1.0 if side == "right" else 1.0
    y = sign * yi_obs
    order = np.argsort(y, kind="stable")
    y_sorted = y[order]
    v_sorted = vi_obs[order]

    k0, se_k0, beta = _trim_iterations(result, y_sorted, v_sorted, estimator, maxiter)
    if np.isnan(se_k0):
        warnings.warn(
            "The variance formula of the k0 estimator is negative here, so the standard error "
            "of k0 is undefined (nan), as in metafor.",
            DataQualityWarning,
            stacklevel=2,
        )
    if k0 > 0:
        mirrored = sign * (2.0 * beta - y_sorted[k - k0 :])
        yi_all = np.concatenate([yi_obs, mirrored])
        vi_all = np.concatenate([vi_obs, v_sorted[k - k0 :]])
        labels = list(map(str, result.labels)) + [f"Filled {j + 1}" for j in range(k0)]
        filled_fit = _fit_like(result, yi_all, vi_all, labels=labels)
        filled_flags = np.concatenate([np.zeros(k, dtype=bool), np.ones(k0, dtype=bool)])
    else:
        filled_fit = _fit_like(result, yi_obs, vi_obs, labels=list(result.labels))
        filled_flags = np.zeros(k, dtype=bool)
    if estimator == "R0":
        # metafor: 1 - sum_{m=-1}^{k0-1} 0.5^(m+2), which telescopes to 0.5^(k0+1)
        p_k0 = 0.5 ** (k0 + 1)
    else:
        p_k0 = float("nan")
    extras = {
        "k0": k0,
        "se_k0": float(se_k0),
        "p_k0": p_k0,
        "side": side,
        "estimator": estimator,
        "filled": filled_flags,
    }
    for name, value in extras.items():
        setattr(filled_fit, name, value)
    if str(result.test).lower() in ("knha", "adhoc", "t"):
        filled_fit.extras["note"] = (
            f"The filled-data model keeps test={result.test!r} (t-based); metafor's trimfill() "
            "refits the filled data with z tests."
        )
    return filled_fit
