"""The univariate model ``y_i = x_i'β + u_i + e_i``: common-effect, random-effects, meta-regression.

``u_i ~ N(0, τ²)`` and ``e_i ~ N(0, v_i)`` (Viechtbauer 2010, J Stat Softw 36(3)). τ² comes
from :mod:`alliancestats.meta.heterogeneity`; β is weighted least squares with weights
``1/(v_i + τ²)``, or with the user's weights and a sandwich covariance as metafor's
``rma.uni(weights=)``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import DataQualityWarning, MetaAnalysisError
from alliancestats.meta.heterogeneity import (
    Tau2Fit,
    estimate_tau2,
    generalized_q,
    loglik_uni,
    se_tau2,
    typical_within_variance,
)
from alliancestats.meta.result import COMMON_EFFECT_METHODS, MetaResult, build_result

__all__ = ["fit_univariate", "knapp_hartung_scale"]


def knapp_hartung_scale(rss: float, k: int, p: int, test: str) -> float:
    """Knapp-Hartung factor ``s² = Q_w/(k − p)`` (0 when Q_w is 0; at least 1 for ``adhoc``).

    Examples
    --------
    >>> knapp_hartung_scale(3.0, 6, 1, "knha"), knapp_hartung_scale(3.0, 6, 1, "adhoc")
    (0.6, 1.0)
    """
    if test not in ("knha", "adhoc"):
        return 1.0
    s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
    return max(1.0, s2w) if test == "adhoc" else s2w


def _tau2_fit(spec: Any, k: int, p: int) -> Tau2Fit:
    control = dict(spec.control)
    if spec.method in COMMON_EFFECT_METHODS:
        return Tau2Fit(0.0, float("nan"), 0, True)
    if spec.tau2 is not None:
        value = float(spec.tau2)
        se = (
            se_tau2(spec.method, value, float("nan"), spec.vi, spec.X, spec.weights)
            if k > p
            else float("nan")
        )
        return Tau2Fit(value, se, 0, True)
    if k == 1:
        return Tau2Fit(0.0, float("nan"), 0, True)
    return estimate_tau2(spec.yi, spec.vi, spec.X, spec.method, weights=spec.weights, **control)


def _coefficients(
    spec: Any, tau2: float, k: int, p: int
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """β, its covariance, the Knapp-Hartung factor and the residual df."""
    yi, vi, X = spec.yi, spec.vi, spec.X
    w = 1.0 / (vi + tau2)
    WX = X * w[:, None]
    vb = np.linalg.inv(X.T @ WX)
    beta = vb @ (WX.T @ yi)
    rss_knha = float(np.sum(w * (yi - X @ beta) ** 2))
    if spec.weights is not None:
        a = spec.weights
        AX = X * a[:, None]
        inv = np.linalg.inv(X.T @ AX)
        beta = inv @ (AX.T @ yi)
        vb = inv @ (AX.T @ (AX * (vi + tau2)[:, None])) @ inv
    df = float("inf")
    s2w = 1.0
    if spec.test in ("knha", "adhoc", "t"):
        if k <= p:
            raise MetaAnalysisError(
                f"test={spec.test!r} needs more studies than coefficients (k = {k}, p = {p}); "
                "use test='z'."
            )
        df = float(k - p)
        s2w = knapp_hartung_scale(rss_knha, k, p, spec.test)
        if spec.test == "knha" and s2w == 0.0:
            warnings.warn(
                "The Knapp-Hartung factor is 0 (the effects lie exactly on the fitted model), "
                "so the standard errors are 0 and the intervals have zero width; use "
                "test='adhoc' for the max(1, s^2) adjustment (Knapp & Hartung 2003; Jackson "
                "et al. 2017) or test='z'.",
                DataQualityWarning,
                stacklevel=6,
            )
        if spec.method in COMMON_EFFECT_METHODS and spec.test in ("knha", "adhoc"):
            warnings.warn(
                "The Knapp-Hartung adjustment is not meant for common-effect models.",
                UserWarning,
                stacklevel=6,
            )
    return beta, vb * s2w, s2w, df


def _heterogeneity(spec: Any, tau2: float, k: int, p: int) -> tuple[float, ...]:
    """Q_E, its p value, I², H² and the typical within-study variance (metafor's definitions)."""
    if k <= p:
        return 0.0, 1.0, 0.0, 1.0, 0.0
    yi, vi, X = spec.yi, spec.vi, spec.X
    qe = max(0.0, generalized_q(0.0, yi, vi, X))
    qe_p = float(stats.chi2.sf(qe, k - p))
    vt = typical_within_variance(vi, X)
    if spec.method in COMMON_EFFECT_METHODS:
        i2 = max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 else 0.0
        h2 = qe / (k - p)
    else:
        i2 = 100 * tau2 / (vt + tau2)
        h2 = tau2 / vt + 1
    return qe, qe_p, i2, h2, vt


def _pseudo_r2(spec: Any, tau2: float, k: int, p: int) -> float:
    """metafor's pseudo-R²: ``(τ²_RE − τ²)/τ²_RE`` (also with a user-fixed τ²), in percent."""
    if spec.mod_names[0] != "(Intercept)" or p == 1:
        return float("nan")
    if spec.method in COMMON_EFFECT_METHODS:
        w = 1.0 / spec.vi if spec.weights is None else spec.weights
        return _weighted_adj_r2(spec.yi, spec.X, w)
    try:
        tau2_re = estimate_tau2(
            spec.yi, spec.vi, np.ones((k, 1)), spec.method, weights=spec.weights,
            **dict(spec.control),
        ).tau2  # fmt: skip
    except MetaAnalysisError:
        return float("nan")
    return 0.0 if tau2_re == 0 else max(0.0, 100 * (tau2_re - tau2) / tau2_re)


def fit_univariate(spec: Any) -> MetaResult:
    """Fit the univariate model described by ``spec`` (internal; use ``meta_analysis``).

    Notes
    -----
    As metafor's ``rma.uni``: with ``weights`` τ² is estimated as without them (except by
    ``GENQ``, which uses them), β is ``(X'AX)⁻¹X'Ay`` and its covariance the sandwich
    ``(X'AX)⁻¹X'A(V + τ²)AX(X'AX)⁻¹``; Knapp-Hartung always uses inverse-variance residuals.
    """
    X = spec.X
    k, p = X.shape
    fit = _tau2_fit(spec, k, p)
    tau2 = fit.tau2
    beta, vb, s2w, df = _coefficients(spec, tau2, k, p)
    qe, qe_p, i2, h2, vt = _heterogeneity(spec, tau2, k, p)
    estimated = spec.tau2 is None and spec.method not in COMMON_EFFECT_METHODS
    fit_stats = _fit_stats(spec, beta, tau2, estimated)
    w = 1.0 / (spec.vi + tau2) if spec.weights is None else spec.weights
    return build_result(
        yi=np.asarray(spec.yi, float),
        vi=np.asarray(spec.vi, float),
        X=X,
        mod_names=list(spec.mod_names),
        labels=spec.labels,
        beta=beta,
        vb=vb,
        df=df,
        level=spec.level,
        tau2=float(tau2),
        i2=float(i2),
        h2=float(h2),
        q=float(qe),
        q_p=float(qe_p),
        r2=_pseudo_r2(spec, tau2, k, p),
        weights=100 * w / w.sum(),
        method=spec.method,
        test=spec.test,
        measure=spec.measure,
        data=spec.data,
        se_tau2=fit.se,
        vt=float(vt),
        loglik=float(fit_stats.loc["ll", "ML" if spec.method == "ML" else "REML"]),
        fit_stats=fit_stats,
        tau2_fixed=spec.tau2,
        converged=fit.converged,
        iterations=fit.iterations,
        s2w=s2w,
        spec=spec,
    )


def _weighted_adj_r2(yi: np.ndarray, X: np.ndarray, w: np.ndarray) -> float:
    """Adjusted R² of a weighted least-squares fit, in percent, truncated at 0 (metafor FE)."""
    k, p = X.shape
    WX = X * w[:, None]
    b = np.linalg.solve(X.T @ WX, WX.T @ yi)
    rss = np.sum(w * (yi - X @ b) ** 2)
    ybar = np.sum(w * yi) / w.sum()
    tss = np.sum(w * (yi - ybar) ** 2)
    if tss == 0:
        return 0.0
    r2 = 1 - rss / tss
    adj = 1 - (1 - r2) * (k - 1) / (k - p)
    return float(max(0.0, 100 * adj))


def _fit_stats(spec: Any, beta: np.ndarray, tau2: float, estimated: bool) -> pd.DataFrame:
    """metafor's fit statistics table (rows ll, dev, AIC, BIC, AICc; columns ML, REML)."""
    yi, vi, X = spec.yi, spec.vi, spec.X
    k, p = X.shape
    parms = p + (1 if estimated else 0)
    ll_ml = loglik_uni(tau2, yi, vi, X, reml=False, beta=beta)
    ll_reml = loglik_uni(tau2, yi, vi, X, reml=True, beta=beta) if k > p else float("nan")
    sat = float(np.sum(stats.norm.logpdf(yi, yi, np.sqrt(vi))))
    dev_ml = -2 * (ll_ml - sat) if k > p else 0.0

    def aicc(ll: float, n: float) -> float:
        m = max(n, parms + 2)
        return -2 * ll + 2 * parms * m / (m - parms - 1)

    rows = {
        "ll": (ll_ml, ll_reml),
        "dev": (dev_ml, -2 * ll_reml),
        "AIC": (-2 * ll_ml + 2 * parms, -2 * ll_reml + 2 * parms),
        "BIC": (-2 * ll_ml + parms * np.log(k), -2 * ll_reml + parms * np.log(max(k - p, 1))),
        "AICc": (aicc(ll_ml, k), aicc(ll_reml, k - p)),
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["ML", "REML"])
