"""Inference for linear mixed models: Satterthwaite df, Wald and profile intervals.

* Satterthwaite degrees of freedom as lmerTest computes them (Kuznetsova, Brockhoff &
  Christensen 2017, J Stat Softw 82(13)): Hessian of the deviance in (θ, σ) and Jacobian of
  Var(β) -- exact Jacobian and differences of the exact gradient (:mod:`.lmm_gradient`) on
  nested designs, otherwise both by Richardson extrapolation (:mod:`.numderiv`) -- with σ taken
  relative to its estimate so that the df do not depend on the response's units.
* Wald intervals of SDs and correlations from the Hessian of the deviance on that scale.
* Profile-likelihood intervals on the ML deviance, as lme4's
  ``confint(method = "profile")`` (which refits REML models by ML first).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.models.design import RandomBlock
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.models.numderiv import hessian, jacobian
from alliancestats.models.optimize import minimize_bounded
from alliancestats.models.profile import interval_end, progress_bar
from alliancestats.models.varcomp import (
    sd_mask,
    sdcor_names,
    sdcor_to_theta,
    theta_to_sdcor,
    wald_table,
)

__all__ = ["Satterthwaite", "profile_intervals", "satterthwaite", "wald_varcomp"]


class Satterthwaite:
    """lmerTest's ingredients at an optimum: ``A = 2 H^+`` and the Jacobian ``J`` of Var(β).

    ``df(L)`` is ``2 (L'VL)^2 / (g' A g)`` with ``g`` the gradient of ``L'VL`` in (θ, σ).
    """

    def __init__(self, V: np.ndarray, A: np.ndarray, J: np.ndarray, evals: np.ndarray, H):
        self.V, self.A, self.J, self.evals, self.H = V, A, J, evals, H

    def df(self, L: np.ndarray) -> float:
        """Satterthwaite df of ``L @ beta``."""
        var = float(L @ self.V @ L)
        g = np.einsum("i,ijk,j->k", L, self.J, L)
        denom = float(g @ self.A @ g)
        if denom <= 0 or not np.isfinite(denom):
            return np.nan
        return 2.0 * var * var / denom

    def df_all(self) -> np.ndarray:
        """df of every coefficient (the diagonal contrasts)."""
        p = self.V.shape[0]
        varj = np.diag(self.V)
        g = np.einsum("iik->ik", self.J)  # (p, k): gradient of Var(beta_j)
        denom = np.einsum("ik,kl,il->i", g, self.A, g)
        with np.errstate(divide="ignore", invalid="ignore"):
            df = 2.0 * varj * varj / denom
        return np.where((denom > 0) & np.isfinite(denom), df, np.nan)[:p]


def satterthwaite(
    problem: LmmProblem, theta: np.ndarray, sigma: float, reml: bool, V: np.ndarray
) -> Satterthwaite:
    """Hessian of the deviance in (θ, σ/σ̂) and Jacobian of Var(β) at the optimum."""
    if problem.has_gradient:
        parts = problem.gradient_parts(theta, reml, want_cov=True)
        if parts is not None:
            return _satterthwaite_exact(problem, theta, sigma, reml, V, parts)
    # sigma enters relative to its estimate: numDeriv-style steps switch to an absolute step
    # (1e-4) for values near zero, which would swamp a residual SD of e.g. 1e-6 (a response
    # in small units); the df are invariant to this reparametrisation (g'Ag is)
    vp = np.concatenate([theta, [1.0]])
    p, n = problem.p, problem.n
    cache: dict[bytes, tuple[float, float, np.ndarray]] = {}

    def pieces(th: np.ndarray) -> tuple[float, float, np.ndarray]:
        # one factorization per θ serves the deviance at every σ and Var(β)
        key = th.tobytes()
        if key not in cache:
            cache[key] = problem.deviance_parts(th, reml)
        return cache[key]

    def dev(v: np.ndarray) -> float:
        logdet, pwrss, _ = pieces(v[:-1])
        s2 = (v[-1] * sigma) ** 2
        return logdet + (n - p if reml else n) * np.log(2 * np.pi * s2) + pwrss / s2

    def covbeta(v: np.ndarray) -> np.ndarray:
        return ((v[-1] * sigma) ** 2 * pieces(v[:-1])[2]).ravel()

    # relative step 1e-2 (numDeriv's default is 1e-4): with Richardson extrapolation the
    # truncation error stays negligible while rounding noise of the deviance (which grows with
    # the number of rows) no longer dominates the second differences. Two steps (1e-2, 5e-3)
    # instead of numDeriv's four: one extrapolation leaves an O(h^4) ~ 1e-8 relative error
    # and halves the factorisations (the df agree with lmerTest's to the same digits)
    H = hessian(dev, vp, d=1e-2, r=2)
    evals, evecs = np.linalg.eigh(H)
    pos = evals > 1e-8  # lmerTest keeps eigenvalues above 1e-8
    A = 2.0 * (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    J = jacobian(covbeta, vp, d=1e-2, r=2).reshape(p, p, vp.size)
    return Satterthwaite(V, A, J, evals, H)


def _satterthwaite_exact(problem, theta, sigma, reml, V, parts) -> Satterthwaite:
    """lmerTest's ingredients from the exact gradient: the Jacobian of Var(β) is exact, the
    (θ, θ) block of the Hessian comes from central differences of the exact gradient
    (relative step 1e-4: truncation error ~1e-8, rounding error ~1e-12), the σ rows are exact.
    """
    _, r2, _, g_r2, cov, dcov = parts
    nu = problem.n - problem.p if reml else problem.n
    s2 = sigma * sigma
    k = theta.size

    def grad(th: np.ndarray) -> np.ndarray:
        out = problem.gradient_parts(th, reml)
        if out is None:
            raise np.linalg.LinAlgError("the criterion is not defined next to the optimum")
        return out[2] + out[3] / s2

    H = np.empty((k + 1, k + 1))
    for i in range(k):
        h = 1e-4 * max(abs(theta[i]), 1e-2)
        e = np.zeros(k)
        e[i] = h
        H[:k, i] = (grad(theta + e) - grad(theta - e)) / (2.0 * h)
    H[:k, :k] = 0.5 * (H[:k, :k] + H[:k, :k].T)
    H[:k, k] = H[k, :k] = -2.0 * g_r2 / s2
    H[k, k] = -2.0 * nu + 6.0 * r2 / s2
    evals, evecs = np.linalg.eigh(H)
    pos = evals > 1e-8  # lmerTest keeps eigenvalues above 1e-8
    A = 2.0 * (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    J = np.empty((problem.p, problem.p, k + 1))
    J[:, :, :k] = s2 * np.moveaxis(dcov, 0, 2)
    J[:, :, k] = 2.0 * s2 * cov
    return Satterthwaite(V, A, J, evals, H)


# ---------------------------------------------------------------------------- Wald
def _dev_sdcor(problem: LmmProblem, phi: np.ndarray, reml: bool) -> float:
    theta, sigma = sdcor_to_theta(problem.layout, phi)
    if not sigma > 0:
        return np.inf
    try:
        return problem.deviance_vp(theta, sigma, reml)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError):
        return np.inf


def wald_varcomp(
    problem: LmmProblem,
    blocks: list[RandomBlock],
    theta: np.ndarray,
    sigma: float,
    reml: bool,
    level: float,
) -> pd.DataFrame:
    """Wald intervals of SDs, correlations and sigma (inverse Hessian on that scale)."""
    lay = problem.layout
    phi = theta_to_sdcor(lay, theta, sigma)
    names = sdcor_names(blocks, lay)
    is_sd = sd_mask(names)
    # SDs in units of sigma per RMS of their column, so that step sizes depend neither on the
    # response's units nor on the predictor's
    unit = np.where(is_sd, sigma, 1.0)
    k = 0
    for b, r_idx, c_idx in zip(blocks, lay.rows, lay.cols, strict=True):
        rms = np.sqrt(np.mean(b.Z**2, axis=0))
        for r, c in zip(r_idx, c_idx, strict=True):
            if r == c and rms[r] > 0:
                unit[k] = sigma / rms[r]
            k += 1
    H = hessian(lambda v: _dev_sdcor(problem, v * unit, reml), phi / unit, d=1e-2)
    try:
        cov = 2.0 * np.linalg.inv(H)
        se = np.sqrt(np.clip(np.diag(cov), 0, None)) * unit
    except np.linalg.LinAlgError:
        se = np.full(phi.size, np.nan)
    return wald_table(phi, se, names, level)


# ---------------------------------------------------------------------------- profile
def _profile_varcomp_one(problem, phi, k, lo_b, hi_b, s_phi, dev_min, cutoff):
    """Lower and upper end of the profile interval of variance parameter ``k``."""
    others = np.array([i for i in range(phi.size) if i != k])
    sk = s_phi[others]
    lb, ub = lo_b[others] / sk, hi_b[others] / sk
    solved: list[tuple[float, np.ndarray]] = [(phi[k], phi[others] / sk)]
    inner_lb = np.where(np.isfinite(lb), lb + 1e-3, lb)
    inner_ub = np.where(np.isfinite(ub), ub - 1e-3, ub)

    def prof(value: float) -> float:
        full = phi.copy()
        full[k] = value

        def g(u: np.ndarray) -> float:
            full[others] = u * sk
            return _dev_sdcor(problem, full, False)

        # warm start from the nearest value already profiled (near points share optima); a
        # second start from the estimates guards against a local optimum deciding the
        # interval end. A warm start on a bound (an SD at zero, where the correlation no
        # longer matters) can trap the optimiser above the cut-off: starts are moved slightly
        # inside, and every value not clearly below the cut-off is re-solved from the estimates
        nearest = min(solved, key=lambda t: abs(t[0] - value))[1]
        best, best_x = np.inf, nearest
        for start in (nearest, solved[0][1]):
            r = minimize_bounded(
                g, np.clip(start, inner_lb, inner_ub), lb, ub, rhobeg=0.05, rhoend=1e-6
            )
            if r.fun < best:
                best, best_x = float(r.fun), r.x
            if best - dev_min - cutoff < -0.5:
                break
        solved.append((value, best_x))
        return min(best, 1e12) - dev_min - cutoff

    scale = s_phi[k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low = interval_end(lambda v: prof(phi[k] - v), 0.0, phi[k] - lo_b[k], 0.5 * scale)
        high = interval_end(lambda v: prof(phi[k] + v), 0.0, hi_b[k] - phi[k], 0.5 * scale)
    return phi[k] - low, phi[k] + high


def _profile_fixed_one(X, y, blocks, j, beta_ml, se, theta_ml, problem, dev_min, cutoff):
    """Profile interval of fixed effect ``j``: the ML criterion over θ with β_j held fixed."""
    keep = [i for i in range(X.shape[1]) if i != j]
    lower = problem.layout.lower

    def profb(b: float) -> float:
        sub = LmmProblem(X[:, keep], y - X[:, j] * b, blocks, weights=problem.weights)
        r = minimize_bounded(lambda th: sub.criterion(th, False), theta_ml, lower,
                             rhobeg=0.1, rhoend=1e-7)
        return min(float(r.fun), 1e12) - dev_min - cutoff

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low = interval_end(lambda v: profb(beta_ml[j] - v), 0.0, np.inf, se)
        high = interval_end(lambda v: profb(beta_ml[j] + v), 0.0, np.inf, se)
    return beta_ml[j] - low, beta_ml[j] + high


def profile_intervals(
    problem: LmmProblem,
    blocks: list[RandomBlock],
    X: np.ndarray,
    fixed_names: list[str],
    y: np.ndarray,
    theta_ml: np.ndarray,
    level: float,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Profile-likelihood intervals on the ML deviance for every parameter.

    Rows as lme4's ``confint(oldNames = FALSE)``: SDs and correlations, sigma, then the
    fixed effects; the ``estimate`` column holds the ML estimates.
    """
    f_ml = problem.factorize(theta_ml)
    sigma_ml = float(np.sqrt(f_ml.pwrss / problem.n))
    phi = theta_to_sdcor(problem.layout, theta_ml, sigma_ml)
    names = sdcor_names(blocks, problem.layout)
    is_sd = sd_mask(names)
    lo_b = np.where(is_sd, 0.0, -1.0)
    lo_b[-1] = 1e-8 * sigma_ml  # the residual SD cannot reach zero
    hi_b = np.where(is_sd, np.inf, 1.0)
    cutoff = stats.chi2.ppf(level, 1)
    dev_min = problem.criterion_from(f_ml, reml=False)
    # optimise over phi / s so that trust-region radii are relative to each parameter's size
    s_phi = np.where(is_sd, np.maximum(np.abs(phi), 0.01 * sigma_ml), 1.0)
    beta_ml = problem.beta(f_ml)
    V = sigma_ml**2 * problem.beta_cov_unscaled(theta_ml)
    rows = []
    with progress_bar(phi.size + len(fixed_names), progress, "profiling") as bar:
        for k in range(phi.size):
            lo, hi = _profile_varcomp_one(problem, phi, k, lo_b, hi_b, s_phi, dev_min, cutoff)
            rows.append((phi[k], lo, hi))
            bar.update()
        for j in range(len(fixed_names)):
            se = float(np.sqrt(V[j, j]))
            lo, hi = _profile_fixed_one(
                X, y, blocks, j, beta_ml, se, theta_ml, problem, dev_min, cutoff
            )
            rows.append((beta_ml[j], lo, hi))
            bar.update()
    index = [*names, *fixed_names]
    return pd.DataFrame(rows, columns=["estimate", "ci_low", "ci_high"], index=index)
