"""Optimisation of the LMM's profiled criterion over θ, verified as lme4's ``checkConv``.

BOBYQA (:mod:`.optimize`) from lme4's start (identity factors) or a given θ; the optimum's
gradient is then checked -- scaled by the Hessian, lme4's measure -- and a failed check
restarts the search from the optimum with a small trust region. The criterion is not
convex and a boundary optimum may be a local one, so a fit that ends with a variance at
zero is restarted from inside the parameter space before it is called singular.
"""

from __future__ import annotations

import time

import numpy as np

from alliancestats.errors import EstimationError
from alliancestats.models.convergence import GRAD_TOL, OptSummary, fd_gradient, scaled_gradient
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.models.optimize import minimize_bounded
from alliancestats.models.varcomp import SINGULAR_TOL

__all__ = ["minimize_theta"]


def _fd_hessian(f, x: np.ndarray, idx: np.ndarray, f0: float) -> np.ndarray:
    """Central-difference Hessian of ``f`` in the coordinates ``idx`` (relative step 1e-3)."""
    k = idx.size
    h = 1e-3 * np.maximum(1.0, np.abs(x[idx]))
    H = np.empty((k, k))

    def fe(*pairs):
        z = x.copy()
        for i, s in pairs:
            z[idx[i]] += s * h[i]
        return f(z)

    for i in range(k):
        H[i, i] = (fe((i, 1)) - 2 * f0 + fe((i, -1))) / h[i] ** 2
        for j in range(i):
            H[i, j] = H[j, i] = (
                fe((i, 1), (j, 1)) - fe((i, 1), (j, -1)) - fe((i, -1), (j, 1)) + fe((i, -1), (j, -1))
            ) / (4 * h[i] * h[j])
    return H


def free_theta(lower: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """θ elements not on their bound (diagonal elements below 1e-3 are taken as on it)."""
    return ~((lower == 0) & (theta < 1e-3))


def _check(f, x, lower, fx, defer: bool) -> tuple[np.ndarray, np.ndarray]:
    """Raw (descent-only at bounds) and Hessian-scaled gradient at ``x``.

    With ``defer`` a large raw gradient is not scaled here: the caller scales it with the
    Hessian of the Satterthwaite computation, which it needs anyway.
    """
    g = fd_gradient(f, x, lower, fx, rel_step=1e-4, at_bound="descent")
    if np.max(np.abs(g), initial=0.0) <= GRAD_TOL:
        return g, g
    if defer:
        return g, np.zeros_like(g)
    free = free_theta(lower, x)
    if not free.any():
        return g, g
    idx = np.flatnonzero(free)
    return g, scale_free(g, _embed(_fd_hessian(f, x, idx, fx), idx, x.size), free)


def _embed(H_sub: np.ndarray, idx: np.ndarray, n: int) -> np.ndarray:
    H = np.eye(n)
    H[np.ix_(idx, idx)] = H_sub
    return H


def scale_free(g: np.ndarray, H: np.ndarray, free: np.ndarray) -> np.ndarray:
    """The scaled gradient on free elements; elements on a bound keep their descent-only
    raw gradient (moving inward must not lower the criterion)."""
    out = scaled_gradient(g, H, free)
    out[~free] = g[~free]
    return out


def minimize_theta(
    problem: LmmProblem,
    reml: bool,
    *,
    start: np.ndarray | None = None,
    defer_scaled_check: bool = False,
    check: bool = True,
) -> tuple[np.ndarray, OptSummary]:
    """Minimise the profiled criterion over θ and verify the optimum.

    Returns θ and the :class:`~alliancestats.models.convergence.OptSummary`; with
    ``defer_scaled_check`` a gradient that needs scaling is left to the caller
    (``extra["scaled_check_pending"]``). ``check=False`` skips the gradient check and the
    boundary restarts (used inside profiles, whose optimum is checked by its neighbours).
    """
    lower = problem.layout.lower
    nfev = [0]

    def f(th: np.ndarray) -> float:
        nfev[0] += 1
        return problem.criterion(th, reml)

    t0 = time.perf_counter()
    x0 = problem.layout.start()
    first = x0 if start is None else np.maximum(np.asarray(start, float), lower)
    if not np.isfinite(f(first)):
        raise EstimationError("the criterion cannot be evaluated at the starting values")
    res = minimize_bounded(f, first, lower, rhobeg=0.5 if start is None else 0.1, rhoend=1e-7)
    x, fx = res.x, res.fun
    restarts = 0
    if not check:
        grad = sgrad = np.zeros_like(x)
    else:
        grad, sgrad = _check(f, x, lower, fx, defer_scaled_check)
        while np.max(np.abs(sgrad), initial=0.0) > GRAD_TOL and restarts < 2:
            restarts += 1
            r2 = minimize_bounded(f, x, lower, rhobeg=0.05, rhoend=1e-8)
            if r2.fun < fx:
                x, fx = r2.x, r2.fun
            grad, sgrad = _check(f, x, lower, fx, defer_scaled_check)
        at_bound = (lower == 0) & (x < SINGULAR_TOL)
        if at_bound.any():
            x_in = x.copy()
            x_in[at_bound] = 0.1
            for s, radius in [(x_in, 0.5), (x0, 0.25)]:
                r3 = minimize_bounded(f, s, lower, rhobeg=radius, rhoend=1e-7)
                restarts += 1
                if r3.fun < fx - 1e-10 * abs(fx):
                    x, fx = r3.x, r3.fun
                    grad, sgrad = _check(f, x, lower, fx, defer_scaled_check)
    # values below 1e-10 on a diagonal are optimiser noise around an exact zero
    x = np.where((lower == 0) & (x < 1e-10), 0.0, x)
    max_sgrad = float(np.max(np.abs(sgrad), initial=0.0))
    pending = bool(check and defer_scaled_check and np.max(np.abs(grad), initial=0.0) > GRAD_TOL)
    summary = OptSummary(
        method=res.method,
        evaluations=nfev[0],
        restarts=restarts,
        converged=max_sgrad <= GRAD_TOL,
        message=res.message,
        gradient=grad,
        max_abs_gradient=float(np.max(np.abs(grad), initial=0.0)),
        max_scaled_gradient=max_sgrad,
        seconds=time.perf_counter() - t0,
        start=np.asarray(first, float),
        extra={"scaled_check_pending": pending} if pending else {},
    )
    return x, summary


def finish_scaled_check(summary: OptSummary, H: np.ndarray, theta: np.ndarray, lower) -> None:
    """Scale a gradient the optimiser left unscaled (``defer_scaled_check``) with the Hessian
    of the deviance in (θ, σ) that the Satterthwaite df computed, profiled over σ."""
    if not summary.extra.pop("scaled_check_pending", False):
        return
    k = theta.size
    Hp = H[:k, :k] - np.outer(H[:k, k], H[k, :k]) / H[k, k]
    sgrad = scale_free(summary.gradient, Hp, free_theta(lower, theta))
    summary.max_scaled_gradient = float(np.max(np.abs(sgrad), initial=0.0))
    summary.converged = summary.max_scaled_gradient <= GRAD_TOL
