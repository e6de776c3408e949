"""Between-study variance (τ²) estimators and heterogeneity statistics for univariate models.

Each estimator follows the definition used by metafor's ``rma.uni`` (Viechtbauer 2010), so
estimates agree with metafor 3.8-1 to the tolerances stated in the tests:

========  ==================================================================================
``DL``    DerSimonian & Laird (1986) method-of-moments estimator (generalised to
          meta-regression: ``(Q_E - (k - p)) / tr(P)``), truncated at zero.
``HE``    Hedges' unweighted method of moments, truncated at zero.
``HS``    Hunter–Schmidt estimator ``(Q_E - k) / Σ w_i``, truncated at zero.
``SJ``    Sidik–Jonkman estimator (one step from ``τ²₀ = Σ(y_i − ȳ)² / k``).
``PM``    Paule & Mandel (1982): root of ``Q(τ²) = k − p``; ``EB`` is the empirical-Bayes
          Fisher-scoring form of the same estimating equation (Morris 1983).
``ML``    Maximum likelihood, Fisher scoring with step halving (metafor's algorithm).
``REML``  Restricted maximum likelihood, Fisher scoring with step halving (the default).
``GENQ``  Generalised Q with user weights ``a_i``: ``(Q_a − tr(P_a V)) / tr(P_a)``
          (DerSimonian & Kacker 2007, Contemp Clin Trials 28(2)); needs ``weights``.
``DLIT``  DerSimonian-Laird iterated to a fixed point (DerSimonian & Kacker 2007).
``SJIT``  Sidik-Jonkman iterated to a fixed point (Sidik & Jonkman 2005).
``PMM``   Median-unbiased Paule-Mandel: root of ``Q(τ²) = χ²_{k−p; .5}`` (Viechtbauer
          2021, metafor documentation).
========  ==================================================================================

The functions here are internal building blocks of :func:`alliancestats.meta.meta_analysis`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from alliancestats.errors import ConvergenceWarning, EstimationError, MetaAnalysisError

__all__ = [
    "TAU2_METHODS",
    "Tau2Fit",
    "estimate_tau2",
    "generalized_q",
    "loglik_uni",
    "q_profile_tau2_ci",
    "se_tau2",
    "typical_within_variance",
]

#: τ² estimators accepted by ``meta_analysis(method=...)`` (``FE``/``EE`` fix τ² at 0).
TAU2_METHODS = (
    "FE", "EE", "CE", "DL", "HE", "HS", "SJ", "PM", "EB", "ML", "REML", "GENQ", "DLIT", "SJIT",
    "PMM",
)  # fmt: skip

# Convergence threshold (absolute change in τ²) of the scoring algorithms. metafor uses 1e-5;
# ours is tighter so that results match metafor runs made with a tight threshold to ~1e-9 and
# default metafor runs to their own precision.
_THRESHOLD = 1e-12
_MAXITER = 1000


@dataclass(frozen=True)
class Tau2Fit:
    """Result of a τ² estimation: value, standard error, iterations and convergence."""

    tau2: float
    se: float
    iterations: int
    converged: bool


class _Projection:
    """``P = W − W X (X'WX)⁻¹ X'W`` for diagonal weights, without forming the k × k matrix.

    Traces and quadratic forms reduce to p × p algebra (cost O(k p²)), so large meta-analyses
    stay cheap. Symbols: ``S(a) = X' diag(a) X`` and ``M = S(w)⁻¹``.
    """

    def __init__(self, X: np.ndarray, w: np.ndarray):
        self.X, self.w = X, w
        try:
            self.M = np.linalg.inv(self.S(w))
        except np.linalg.LinAlgError as exc:  # pragma: no cover - rank checked upstream
            raise EstimationError(
                "X'WX is singular; check the moderators for collinearity."
            ) from exc

    def S(self, a: np.ndarray) -> np.ndarray:
        return self.X.T @ (self.X * a[:, None])

    def apply(self, y: np.ndarray) -> np.ndarray:
        """``P y = W (y − X β̂_w)``."""
        beta = self.M @ (self.X.T @ (self.w * y))
        return self.w * (y - self.X @ beta)

    def quad(self, y: np.ndarray) -> float:
        """``y' P y`` (the weighted residual sum of squares)."""
        return float(y @ self.apply(y))

    def tr_PD(self, d: np.ndarray) -> float:
        """``tr(P D)`` for diagonal ``D``."""
        return float(np.sum(self.w * d) - np.sum(self.M * self.S(self.w**2 * d)))

    def tr(self) -> float:
        return self.tr_PD(np.ones_like(self.w))

    def tr_PDP(self, d: np.ndarray) -> float:
        """``tr(P D P)`` for diagonal ``D``."""
        w, M = self.w, self.M
        S2 = self.S(w**2)
        scale = float(np.sum(w**2 * d))
        value = float(
            scale - 2 * np.sum(M * self.S(w**3 * d)) + np.sum((M @ self.S(w**2 * d)) * (M @ S2).T)
        )
        if value > 1e-8 * scale:
            return value
        # the p x p shortcut subtracts terms of size Σ w²d: with weights spanning many orders
        # of magnitude it cancels to noise (or zero), so form P from a QR factorisation
        return self._dense_tr_PDP(d)

    def _dense_tr_PDP(self, d: np.ndarray) -> float:
        k = len(self.w)
        if k > 20_000:
            raise EstimationError(
                "The sampling variances span too many orders of magnitude for a stable "
                "computation with this many studies; check for variances entered on the "
                "wrong scale."
            )
        root = np.sqrt(self.w)
        Q, _ = np.linalg.qr(self.X * root[:, None])
        P = root[:, None] * (np.eye(k) - Q @ Q.T) * root[None, :]
        return float(np.einsum("ij,ij,j->", P, P, d))

    def tr_PP(self) -> float:
        return self.tr_PDP(np.ones_like(self.w))

    def tr_PDPD(self, d: np.ndarray) -> float:
        """``tr(P D P D)`` for diagonal ``D``."""
        w, M = self.w, self.M
        MS = M @ self.S(w**2 * d)
        return float(np.sum((w * d) ** 2) - 2 * np.sum(M * self.S(w**3 * d**2)) + np.sum(MS * MS.T))


def generalized_q(tau2: float, y: np.ndarray, vi: np.ndarray, X: np.ndarray) -> float:
    """Generalised Q statistic ``y' P(τ²) y`` with weights ``1 / (v_i + τ²)``.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0.1, 0.3, 0.5]); v = np.array([0.01, 0.02, 0.01])
    >>> round(generalized_q(0.0, y, v, np.ones((3, 1))), 4)
    8.0
    """
    return _Projection(X, 1.0 / (vi + tau2)).quad(y)


def typical_within_variance(vi: np.ndarray, X: np.ndarray) -> float:
    """Typical sampling variance ``(k - p) / tr(P)`` used for I² and H² (Higgins & Thompson 2002).

    Examples
    --------
    >>> import numpy as np
    >>> round(typical_within_variance(np.array([0.1, 0.1, 0.1]), np.ones((3, 1))), 6)
    0.1
    """
    k, p = X.shape
    return float((k - p) / _Projection(X, 1.0 / vi).tr())


def _tau2_max(yi: np.ndarray) -> float:
    """metafor's default upper search bound: ``max(100, 10 * mad(y)^2)``."""
    mad = 1.482602218505602 * np.median(np.abs(yi - np.median(yi)))
    return float(max(100.0, 10.0 * mad**2))


def _root_of_q(
    y: np.ndarray, vi: np.ndarray, X: np.ndarray, target: float, lower: float, upper: float
) -> float:
    """Solve ``Q(τ²) = target`` on ``[lower, upper]`` (Q is decreasing in τ²)."""
    return float(
        optimize.brentq(
            lambda t: generalized_q(t, y, vi, X) - target, lower, upper, xtol=1e-14, rtol=1e-14
        )
    )


def _fisher_scoring(
    method: str,
    y: np.ndarray,
    vi: np.ndarray,
    X: np.ndarray,
    start: float,
    threshold: float = _THRESHOLD,
    maxiter: int = _MAXITER,
) -> tuple[float, int, bool]:
    """ML / REML / EB Fisher scoring with step halving at the zero boundary (as metafor)."""
    k, p = X.shape
    tau2 = max(0.0, start)
    for iteration in range(1, maxiter + 1):
        w = 1.0 / (vi + tau2)
        P = _Projection(X, w)
        Py = P.apply(y)
        if method == "ML":
            step = (Py @ Py - w.sum()) / (w**2).sum()
        elif method == "REML":
            step = (Py @ Py - P.tr()) / P.tr_PP()
        else:  # EB
            step = (y @ Py * k / (k - p) - k) / w.sum()
        if not np.isfinite(step):
            step = 0.0
        while tau2 + step < 0.0:
            step /= 2.0
        new = tau2 + step
        change = abs(new - tau2)
        tau2 = new
        if change <= threshold:
            return tau2, iteration, True
    return tau2, maxiter, False


def loglik_uni(
    tau2: float,
    yi: np.ndarray,
    vi: np.ndarray,
    X: np.ndarray,
    *,
    reml: bool,
    beta: np.ndarray | None = None,
) -> float:
    """Log-likelihood of the random-effects model (REML version includes ``+½ log|X'X|``).

    ``beta`` defaults to the weighted least-squares estimate; give it to evaluate the
    likelihood at other coefficients (e.g. those of a fit with user weights, as metafor does).

    Examples
    --------
    >>> import numpy as np
    >>> round(loglik_uni(0.0, np.array([0.0, 0.0]), np.array([1.0, 1.0]), np.ones((2, 1)),
    ...                  reml=False), 4)
    -1.8379
    """
    k, p = X.shape
    w = 1.0 / (vi + tau2)
    WX = X * w[:, None]
    XtWX = X.T @ WX
    if beta is None:
        beta = np.linalg.solve(XtWX, WX.T @ yi)
    rss = float(np.sum(w * (yi - X @ beta) ** 2))
    if not reml:
        return float(-0.5 * k * np.log(2 * np.pi) - 0.5 * np.sum(np.log(vi + tau2)) - 0.5 * rss)
    return float(
        -0.5 * (k - p) * np.log(2 * np.pi)
        + 0.5 * np.linalg.slogdet(X.T @ X)[1]
        - 0.5 * np.sum(np.log(vi + tau2))
        - 0.5 * np.linalg.slogdet(XtWX)[1]
        - 0.5 * rss
    )


def _fixed_point(
    update: Callable[[float], float], start: float, threshold: float, maxiter: int, name: str
) -> tuple[float, int]:
    """Iterate ``τ² ← update(τ²)`` until the change is at most ``threshold`` (DLIT, SJIT)."""
    tau2 = start
    for iteration in range(1, maxiter + 1):
        new = max(0.0, update(tau2))
        if abs(new - tau2) <= threshold:
            return new, iteration
        tau2 = new
    raise EstimationError(
        f"The iterative {name} estimator did not converge in {maxiter} iterations; use "
        "method='REML' or raise control maxiter."
    )


def _moment_estimate(
    method: str, y: np.ndarray, vi: np.ndarray, X: np.ndarray, weights: np.ndarray | None
) -> tuple[float, float]:
    """Closed-form estimators; returns τ² (untruncated) and the SJ starting value."""
    k, p = X.shape
    if method == "DL":
        P = _Projection(X, 1.0 / vi)
        return (P.quad(y) - (k - p)) / P.tr(), float("nan")
    if method == "HS":
        w = 1.0 / vi
        return (_Projection(X, w).quad(y) - k) / w.sum(), float("nan")
    if method == "HE":
        P = _Projection(X, np.ones(k))
        return (P.quad(y) - P.tr_PD(vi)) / (k - p), float("nan")
    if method == "GENQ":
        if weights is None:
            raise MetaAnalysisError("method='GENQ' needs weights= (the a_i of the generalised Q).")
        P = _Projection(X, weights)
        return (P.quad(y) - P.tr_PD(vi)) / P.tr(), float("nan")
    # SJ
    tau2_0 = float(np.mean(y**2))
    return tau2_0 * _Projection(X, 1.0 / (vi + tau2_0)).quad(y) / (k - p), tau2_0


def _paule_mandel(
    yi: np.ndarray, y: np.ndarray, vi: np.ndarray, X: np.ndarray, target: float
) -> float:
    """Root of ``Q(τ²) = target`` (PM: ``k − p``; PMM: the median of χ²_{k−p})."""
    upper = _tau2_max(yi)
    if generalized_q(0.0, y, vi, X) < target:
        return 0.0
    if generalized_q(upper, y, vi, X) > target:
        raise EstimationError(
            "Paule-Mandel estimate exceeds the search bound; the data are extremely "
            "heterogeneous. Try method='REML'."
        )
    return _root_of_q(y, vi, X, target, 0.0, upper)


def estimate_tau2(
    yi: np.ndarray,
    vi: np.ndarray,
    X: np.ndarray,
    method: str = "REML",
    *,
    weights: np.ndarray | None = None,
    threshold: float = _THRESHOLD,
    maxiter: int = _MAXITER,
) -> Tau2Fit:
    """Estimate τ² for the model ``y = Xβ + u + e`` with ``u ~ N(0, τ²)``, ``e ~ N(0, v_i)``.

    Parameters
    ----------
    yi, vi : ndarray
        Effect sizes and sampling variances (length k, ``vi > 0``).
    X : ndarray
        Fixed-effects design (k × p, full column rank).
    method : str
        One of :data:`TAU2_METHODS`.
    weights : ndarray, optional
        The weights ``a_i`` of the generalised Q estimator (``GENQ``; ignored otherwise).
    threshold, maxiter : float, int
        Convergence threshold (absolute change in τ²) and iteration limit of the iterative
        estimators (ML, REML, EB, DLIT, SJIT). The default 1e-12 is tighter than metafor's
        1e-5; ``threshold=1e-5`` reproduces metafor's default stopping point.

    Returns
    -------
    Tau2Fit
        Estimate (≥ 0), its standard error (metafor's formulas), iterations, convergence.

    Notes
    -----
    As in metafor, the outcomes are mean-centred before estimation (this leaves every
    estimator unchanged when the model has an intercept), non-iterative estimators are
    truncated at zero, and ML/REML start from the (truncated) Hedges estimate. Methods:
    DerSimonian & Laird (1986, Control Clin Trials 7(3)); Paule & Mandel (1982, J Res Natl Bur
    Stand 87(5)); Viechtbauer (2005, J Educ Behav Stat 30(3)) for ML/REML scoring;
    DerSimonian & Kacker (2007, Contemp Clin Trials 28(2)) for GENQ and DLIT.
    Validated against metafor 3.8-1 ``rma.uni`` (tolerance 1e-8 relative for closed forms,
    1e-6 for iterative estimators against tight-threshold metafor runs).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0.10, 0.30, 0.35, 0.65, 0.45, 0.15])
    >>> v = np.array([0.03, 0.03, 0.05, 0.01, 0.05, 0.02])
    >>> round(estimate_tau2(y, v, np.ones((6, 1)), "DL").tau2, 4)
    0.0398
    """
    method = method.upper()
    if method not in TAU2_METHODS:
        raise MetaAnalysisError(
            f"Unknown method {method!r}; choose one of {', '.join(TAU2_METHODS)}."
        )
    k, p = X.shape
    if method in ("FE", "EE", "CE"):
        return Tau2Fit(0.0, float("nan"), 0, True)
    if k <= p:
        raise MetaAnalysisError(
            f"Cannot estimate tau^2 with k = {k} studies and p = {p} coefficients; "
            "use method='FE' or fewer moderators."
        )
    y = yi - yi.mean()
    iterations, converged = 0, True
    tau2_0 = float("nan")
    if method in ("DL", "HS", "HE", "SJ", "GENQ"):
        tau2, tau2_0 = _moment_estimate(method, y, vi, X, weights)
    elif method in ("PM", "PMM"):
        target = float(k - p) if method == "PM" else float(stats.chi2.ppf(0.5, k - p))
        tau2 = _paule_mandel(yi, y, vi, X, target)
    elif method == "DLIT":

        def dl_step(t: float) -> float:
            P = _Projection(X, 1.0 / (vi + t))
            return (P.quad(y) - (k - p)) / P.tr()

        tau2, iterations = _fixed_point(dl_step, 0.0, threshold, maxiter, "DL")
    elif method == "SJIT":
        tau2_0 = float(np.mean(y**2))

        def sj_step(t: float) -> float:
            return t * _Projection(X, 1.0 / (vi + t)).quad(y) / (k - p)

        tau2, iterations = _fixed_point(sj_step, tau2_0, threshold, maxiter, "SJ")
    else:  # ML, REML, EB: scoring from the Hedges estimate
        tau2, iterations, converged = _likelihood_estimate(method, y, vi, X, threshold, maxiter)
    tau2 = float(max(0.0, tau2))
    se = se_tau2(method, tau2, tau2_0, vi, X, weights)
    return Tau2Fit(tau2, se, iterations, converged)


def _likelihood_estimate(
    method: str, y: np.ndarray, vi: np.ndarray, X: np.ndarray, threshold: float, maxiter: int
) -> tuple[float, int, bool]:
    """ML, REML or EB by Fisher scoring from the Hedges estimate, with metafor's checks."""
    k, p = X.shape
    Pols = _Projection(X, np.ones(k))
    start = (Pols.quad(y) - Pols.tr_PD(vi)) / (k - p)
    tau2, iterations, converged = _fisher_scoring(
        method, y, vi, X, start, threshold=threshold, maxiter=maxiter
    )
    if not converged:
        warnings.warn(
            f"{method} Fisher scoring did not converge in {maxiter} iterations; the "
            "tau^2 estimate may be inaccurate.",
            ConvergenceWarning,
            stacklevel=8,
        )
    if method in ("ML", "REML") and tau2 > threshold:
        # metafor's check: if tau2 = 0 has a higher likelihood, the scoring got stuck.
        reml = method == "REML"
        if loglik_uni(0.0, y, vi, X, reml=reml) - loglik_uni(tau2, y, vi, X, reml=reml) > 1e-8:
            warnings.warn(
                "Fisher scoring may have stopped at a local maximum; tau^2 set to 0.",
                ConvergenceWarning,
                stacklevel=8,
            )
            tau2 = 0.0
    return tau2, iterations, converged


def se_tau2(
    method: str,
    tau2: float,
    tau2_0: float,
    vi: np.ndarray,
    X: np.ndarray,
    weights: np.ndarray | None = None,
) -> float:
    """Standard error of τ² with the formula metafor reports for each estimator.

    Also used for a user-fixed τ² (metafor then evaluates the estimator's formula at the
    fixed value). ``tau2_0`` is the Sidik-Jonkman starting value (``nan`` otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> round(se_tau2("ML", 0.0, float("nan"), np.array([0.1, 0.1]), np.ones((2, 1))), 4)
    0.1
    """
    k, p = X.shape
    w_fe = 1.0 / vi
    if method in ("HS", "DL", "DLIT"):
        # DLIT: metafor evaluates the DL formula with the last iteration's weights
        P = _Projection(X, 1.0 / (vi + tau2) if method == "DLIT" else w_fe)
        trP = P.tr()
        core = 2 * (k - p) + 4 * tau2 * trP + 2 * tau2**2 * P.tr_PP()
        if method == "HS":
            return float(np.sqrt(core / w_fe.sum() ** 2))
        return float(np.sqrt(core / trP**2))
    if method == "HE":
        P = _Projection(X, np.ones(k))
        return float(
            np.sqrt(
                (2 * P.tr_PDPD(vi) + 4 * tau2 * P.tr_PD(vi) + 2 * tau2**2 * (k - p)) / (k - p) ** 2
            )
        )
    if method == "GENQ" and weights is not None:
        P = _Projection(X, weights)
        core = 2 * P.tr_PDPD(vi) + 4 * tau2 * P.tr_PDP(vi) + 2 * tau2**2 * P.tr_PP()
        return float(np.sqrt(core / P.tr() ** 2))
    if method == "SJ":
        if not np.isfinite(tau2_0):
            return float("nan")
        P = _Projection(X, 1.0 / (vi + tau2_0))
        core = 2 * P.tr_PDPD(vi) + 4 * tau2 * P.tr_PDP(vi) + 2 * tau2**2 * P.tr_PP()
        return float(np.sqrt(tau2_0**2 / (k - p) ** 2 * core))
    w = 1.0 / (vi + tau2)
    if method == "ML":
        return float(np.sqrt(2.0 / np.sum(w**2)))
    if method == "REML":
        return float(np.sqrt(2.0 / _Projection(X, w).tr_PP()))
    # PM, PMM, EB, SJIT
    return float(np.sqrt(2.0 * k**2 / (k - p) / w.sum() ** 2))


def q_profile_tau2_ci(
    yi: np.ndarray, vi: np.ndarray, X: np.ndarray, tau2: float, level: float = 95.0
) -> tuple[float, float]:
    """Q-profile confidence interval for τ² (Viechtbauer 2007, Stat Med 26(1)).

    The bounds solve ``Q(τ²) = χ²_{k−p; 1−α/2}`` (lower) and ``χ²_{k−p; α/2}`` (upper), where
    ``Q(τ²)`` is the generalised Q statistic; a bound whose equation has no non-negative root
    is set to 0, as metafor's ``confint()`` does. Where metafor stops searching at
    ``max(100, 10 τ̂²)`` and reports the upper bound as "> that value", the search interval is
    widened here so that the actual root is returned.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0.10, 0.30, 0.35, 0.65, 0.45, 0.15])
    >>> v = np.array([0.03, 0.03, 0.05, 0.01, 0.05, 0.02])
    >>> lo, hi = q_profile_tau2_ci(y, v, np.ones((6, 1)), 0.018)
    >>> lo == 0.0 and hi > 0.1
    True
    """
    k, p = X.shape
    alpha = 1.0 - level / 100.0
    crit_u = stats.chi2.ppf(1.0 - alpha / 2.0, k - p)
    crit_l = stats.chi2.ppf(alpha / 2.0, k - p)
    upper_bound = max(100.0, 10.0 * tau2)
    q0 = generalized_q(0.0, yi, vi, X)
    if q0 < crit_l:
        return 0.0, 0.0
    # metafor stops at max(100, 10 τ̂²) and reports "> bound"; we widen the bracket instead
    while generalized_q(upper_bound, yi, vi, X) > crit_l and upper_bound < 1e12:
        upper_bound *= 10.0
    hi = _root_of_q(yi, vi, X, crit_l, 0.0, upper_bound)
    lo = 0.0 if q0 < crit_u else _root_of_q(yi, vi, X, crit_u, 0.0, upper_bound)
    return float(lo), float(hi)
