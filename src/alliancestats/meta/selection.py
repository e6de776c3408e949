"""Step-function selection models for publication bias (Vevea & Hedges 1995; metafor ``selmodel``).

The effects follow the random-effects (or meta-regression) model, but a study whose one-sided
p value falls in the interval ``(s_{j−1}, s_j]`` is observed with relative probability
``δ_j`` (``δ_1 = 1`` for the most significant interval). The likelihood of study i is

``δ_{g(i)} φ(y_i; x_i'β, v_i + τ²) / Σ_j δ_j P_i(s_{j−1} < p ≤ s_j)``,

maximised over β, τ² and the free δ's (Hedges 1992, Stat Sci 7(2); Vevea & Hedges 1995,
Psychometrika 60(3)). With one cut point at .025 this is the three-parameter selection model
(3PSM: μ, τ², δ; Iyengar & Greenhouse 1988; McShane, Böckenholt & Hansen 2016, Perspect
Psychol Sci 11(5)). Standard errors come from the numerical Hessian of the log-likelihood on
the parameters' own scale; the likelihood-ratio test compares with the ML model without
selection (all δ = 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import require_univariate, study_arrays
from alliancestats.meta.result import COMMON_EFFECT_METHODS, coef_table

__all__ = ["SelectionResult", "selection_model"]

_DELTA_MAX = 100.0  # metafor's default upper bound of the selection weights


@dataclass(frozen=True)
class SelectionResult:
    """Fitted step-function selection model (see :func:`selection_model`).

    Attributes
    ----------
    table : pandas.DataFrame
        Coefficients adjusted for selection: ``estimate, se, z, df, p, ci_low, ci_high``.
    tau2, se_tau2 : float
        Heterogeneity variance under the selection model and its standard error.
    deltas : pandas.DataFrame
        One row per p-value interval: ``k`` (studies in it), ``delta`` (relative selection
        probability; 1 for the first interval), ``se, z, p`` (test of δ = 1), ``ci_low, ci_high``.
    loglik, loglik0 : float
        Log-likelihood with and without selection (ML).
    lrt, lrt_df, lrt_p : float, int, float
        Likelihood-ratio test of H0: all δ = 1 (no selection).
    steps : tuple of float
        Interval bounds of the one-sided p values (last is 1).
    alternative : str
        Direction of the p values (``greater``: large positive effects are "significant").
    """

    table: pd.DataFrame
    tau2: float
    se_tau2: float
    deltas: pd.DataFrame
    loglik: float
    loglik0: float
    lrt: float
    lrt_df: int
    lrt_p: float
    steps: tuple[float, ...]
    alternative: str

    @property
    def estimate(self) -> float:
        """The adjusted intercept (pooled effect)."""
        return float(self.table["estimate"].iloc[0])

    def summary(self) -> str:
        """metafor-style text report."""
        return (
            f"Step-function selection model (k = {int(self.deltas['k'].sum())}; "
            f"alternative = {self.alternative})\n\n"
            f"tau^2: {self.tau2:.4f} (SE = {self.se_tau2:.4f})\n"
            f"Test for selection: LRT(df = {self.lrt_df}) = {self.lrt:.4f}, p = {self.lrt_p:.4f}\n\n"
            + self.table.round(4).to_string() + "\n\n" + self.deltas.round(4).to_string() + "\n"
        )  # fmt: skip

    def __str__(self) -> str:
        return self.summary()


def _pvalues(yi: np.ndarray, vi: np.ndarray, alternative: str) -> np.ndarray:
    z = yi / np.sqrt(vi)
    if alternative == "greater":
        return stats.norm.sf(z)
    if alternative == "less":
        return stats.norm.cdf(z)
    return 2 * stats.norm.sf(np.abs(z))


class _Likelihood:
    """Log-likelihood of the selection model and its analytic gradient."""

    def __init__(self, yi, vi, X, steps, alternative, groups, fixed_tau2):  # noqa: ANN001
        self.yi, self.vi, self.X = yi, vi, X
        self.p = X.shape[1]
        self.steps = np.asarray(steps)
        self.alt = alternative
        self.groups = groups
        self.n_delta = len(steps)
        self.fixed_tau2 = fixed_tau2
        sv = np.sqrt(vi)[:, None]
        s = self.steps[None, :]
        # boundaries of the one-sided p-value intervals on the scale of y (k × N)
        if alternative == "greater":
            self.cut = stats.norm.isf(s) * sv
        elif alternative == "less":
            self.cut = stats.norm.ppf(s) * sv
        else:
            self.cut = stats.norm.isf(s / 2) * sv

    def unpack(self, par: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
        beta = par[: self.p]
        tau2 = self.fixed_tau2 if self.fixed_tau2 is not None else par[self.p]
        free = par[self.p + (self.fixed_tau2 is None) :]
        return beta, float(tau2), np.concatenate([[1.0], free])

    def _upper(self, yhat: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, ...]:
        """P(p ≤ s_j) for every study and bound, with derivatives in ŷ and τ²."""
        pieces = [(self.cut, 1.0)] if self.alt != "less" else [(self.cut, -1.0)]
        if self.alt == "two.sided":
            pieces.append((-self.cut, -1.0))
        U = np.zeros_like(self.cut)
        dU_mu = np.zeros_like(self.cut)
        dU_t2 = np.zeros_like(self.cut)
        for c, sign in pieces:
            t = (c - yhat[:, None]) / se[:, None]
            dens = stats.norm.pdf(t)
            U += stats.norm.sf(t) if sign > 0 else stats.norm.cdf(t)
            dU_mu += dens / se[:, None] if sign > 0 else -dens / se[:, None]
            finite = np.isfinite(t)
            slope = np.zeros_like(t)  # φ(t)·t → 0 at the infinite bounds
            slope[finite] = dens[finite] * t[finite]
            dU_t2 += sign * slope / (2 * se[:, None] ** 2)
        return U, dU_mu, dU_t2

    def negll(self, par: np.ndarray) -> tuple[float, np.ndarray]:
        beta, tau2, delta = self.unpack(par)
        yhat = self.X @ beta
        se2 = self.vi + tau2
        se = np.sqrt(se2)
        U, dU_mu, dU_t2 = self._upper(yhat, se)
        zero = np.zeros((len(self.yi), 1))
        # interval probabilities: U(s_j) − U(s_{j−1}) with U(0) = 0; the last bound s_N = 1
        P = np.diff(np.hstack([zero, U]), axis=1)
        dP_mu = np.diff(np.hstack([zero, dU_mu]), axis=1)
        dP_t2 = np.diff(np.hstack([zero, dU_t2]), axis=1)
        A = P @ delta
        r = self.yi - yhat
        ll = np.sum(
            np.log(delta[self.groups])
            - 0.5 * np.log(2 * np.pi * se2)
            - r**2 / (2 * se2)
            - np.log(A)
        )
        d_mu = r / se2 - (dP_mu @ delta) / A
        grad = [self.X.T @ d_mu]
        if self.fixed_tau2 is None:
            grad.append([np.sum(-0.5 / se2 + r**2 / (2 * se2**2) - (dP_t2 @ delta) / A)])
        counts = np.bincount(self.groups, minlength=self.n_delta)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_delta = counts / delta - (P / A[:, None]).sum(axis=0)
        grad.append(d_delta[1:])
        return -float(ll), -np.concatenate([np.atleast_1d(g) for g in grad])


def _hessian(f: Any, x: np.ndarray) -> np.ndarray:
    """Central-difference Hessian of the negative log-likelihood from its analytic gradient."""
    n = len(x)
    H = np.empty((n, n))
    for j in range(n):
        h = 1e-5 * max(1.0, abs(x[j]))
        up, down = x.copy(), x.copy()
        up[j] += h
        down[j] -= h
        H[:, j] = (f(up)[1] - f(down)[1]) / (2 * h)
    return (H + H.T) / 2


def _ml_start(result: Any) -> Any:
    if result.method in COMMON_EFFECT_METHODS or result.method == "ML":
        return result
    return result.refit(method="ML")


def selection_model(
    result: Any, steps: Any = (0.025,), *, alternative: str = "greater"
) -> SelectionResult:
    """Fit a step-function selection model (the three-parameter model by default).

    Parameters
    ----------
    result : MetaResult
        Univariate random-effects or meta-regression model (refitted by ML if needed, as
        metafor does; a common-effect or fixed-τ² model keeps τ² fixed).
    steps : sequence of float, default (0.025,)
        Cut points of the one-sided p values; 1 is appended. ``(0.025,)`` gives the
        three-parameter selection model (significant in the expected direction or not).
    alternative : {"greater", "less", "two.sided"}, default "greater"
        Which effects count as significant: large positive (``greater``), large negative, or
        either (two-sided p values).

    Returns
    -------
    SelectionResult

    Raises
    ------
    MetaAnalysisError
        Steps outside (0, 1], an interval without studies (its δ cannot be estimated: use
        fewer steps), or too few studies.

    Notes
    -----
    Validated against metafor 3.8-1 ``selmodel(type = "stepfun")`` on
    ``dat.hackshaw1998`` (3PSM and four intervals) and ``dat.molloy2014`` (3PSM): estimates,
    τ², δ, log-likelihood and LRT to 1e-4 relative (both sides optimise numerically), standard
    errors to 1e-3 (numerical Hessians). A selection model needs many studies per interval
    to be stable; with few studies treat it as a sensitivity analysis.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, selection_model
    >>> res = meta_analysis(yi=[0.40, 0.35, 0.10, 0.55, 0.05, 0.30, 0.62, 0.18],
    ...                     vi=[0.02, 0.03, 0.04, 0.05, 0.03, 0.01, 0.06, 0.02])
    >>> sm = selection_model(res)
    >>> sm.deltas.index.tolist()
    ['0 < p <= 0.025', '0.025 < p <= 1']
    """
    require_univariate(result, "selection_model()")
    if alternative not in ("greater", "less", "two.sided"):
        raise MetaAnalysisError("alternative must be 'greater', 'less' or 'two.sided'.")
    cuts = sorted({float(s) for s in np.atleast_1d(steps)})
    if not cuts or cuts[0] <= 0 or cuts[-1] > 1:
        raise MetaAnalysisError("steps must be p-value cut points in (0, 1].")
    if cuts[-1] < 1:
        cuts.append(1.0)
    fit0 = _ml_start(result)
    yi, vi, X = study_arrays(fit0)
    pvals = _pvalues(yi, vi, alternative)
    groups = np.searchsorted(np.asarray(cuts), pvals, side="left")
    counts = np.bincount(groups, minlength=len(cuts))
    labels = [f"{lo:g} < p <= {hi:g}" for lo, hi in zip([0.0] + cuts[:-1], cuts, strict=True)]
    if np.any(counts == 0):
        empty = ", ".join(lab for lab, c in zip(labels, counts, strict=True) if c == 0)
        raise MetaAnalysisError(f"No study has a p value in {empty}; use fewer steps.")
    fixed_tau2 = 0.0 if fit0.method in COMMON_EFFECT_METHODS else fit0.tau2_fixed
    lik = _Likelihood(yi, vi, X, cuts, alternative, groups, fixed_tau2)
    p = X.shape[1]
    n_free = p + (fixed_tau2 is None) + len(cuts) - 1
    if len(yi) <= n_free:
        raise MetaAnalysisError(
            f"A selection model with {n_free} parameters needs more than {n_free} studies."
        )
    start = np.concatenate(
        [fit0.beta, [] if fixed_tau2 is not None else [fit0.tau2], np.ones(len(cuts) - 1)]
    )
    bounds = (
        [(None, None)] * p
        + ([] if fixed_tau2 is not None else [(0.0, None)])
        + [(1e-10, _DELTA_MAX)] * (len(cuts) - 1)
    )
    opt = optimize.minimize(
        lik.negll, start, jac=True, method="L-BFGS-B", bounds=bounds,
        options={"ftol": 1e-15, "gtol": 1e-11, "maxiter": 10000, "maxcor": 30},
    )  # fmt: skip
    return _selection_result(lik, opt.x, fit0, labels, counts, cuts, alternative)


def _selection_result(lik, par, fit0, labels, counts, cuts, alternative) -> SelectionResult:  # noqa: ANN001
    beta, tau2, delta = lik.unpack(par)
    ll = -lik.negll(par)[0]
    cov = np.linalg.pinv(_hessian(lik.negll, par))
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    p = lik.p
    table = coef_table(beta, se[:p], float("inf"), fit0.level, list(fit0.mod_names))
    se_tau2 = float(se[p]) if lik.fixed_tau2 is None else float("nan")
    se_delta = np.concatenate([[np.nan], se[p + (lik.fixed_tau2 is None) :]])
    crit = stats.norm.isf((1 - fit0.level / 100) / 2)
    z = (delta - 1) / se_delta
    deltas = pd.DataFrame(
        {"k": counts, "delta": delta, "se": se_delta, "z": z, "p": 2 * stats.norm.sf(np.abs(z)),
         "ci_low": np.maximum(delta - crit * se_delta, 0.0), "ci_high": delta + crit * se_delta},
        index=pd.Index(labels, name="interval"),
    )  # fmt: skip
    ll0 = float(fit0.fit_stats.loc["ll", "ML"])
    lrt = max(0.0, 2 * (ll - ll0))
    df = len(cuts) - 1
    return SelectionResult(
        table=table, tau2=tau2, se_tau2=se_tau2, deltas=deltas, loglik=ll, loglik0=ll0,
        lrt=lrt, lrt_df=df, lrt_p=float(stats.chi2.sf(lrt, df)), steps=tuple(cuts),
        alternative=alternative,
    )  # fmt: skip
