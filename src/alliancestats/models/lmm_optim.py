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

from alliancestats.errors import EstimationError, ParameterError
from alliancestats.models.control import Control
from alliancestats.models.convergence import GRAD_TOL, OptSummary, fd_gradient, scaled_gradient
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.models.optimize import minimize_bounded
from alliancestats.models.varcomp import SINGULAR_TOL

__all__ = [
    "check_lmm_control",
    "check_measure",
    "finish_scaled_check",
    "lmm_method",
    "minimize_theta",
    "profiled_hessian",
    "stopping_ftol",
]


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


def _check(f, x, lower, fx, defer: bool, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw (descent-only at bounds) and Hessian-scaled gradient at ``x``.

    With ``defer`` a large raw gradient is not scaled here: the caller scales it with the
    Hessian of the Satterthwaite computation, which it needs anyway.
    """
    g = fd_gradient(f, x, lower, fx, rel_step=1e-4, at_bound="descent")
    if np.max(np.abs(g), initial=0.0) <= tol:
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


def lmm_method(control: Control) -> str:
    """The one optimiser of an LMM fit (a GLMM-style pair of stages is refused)."""
    if not isinstance(control.optimizer, str):
        raise ParameterError(
            f"lmm has one optimisation stage; give one optimizer name, not {control.optimizer!r}"
        )
    return control.optimizer


def check_lmm_control(control: Control) -> Control:
    """Refuse the :class:`Control` options that have no meaning for an LMM fit."""
    lmm_method(control)
    if control.tol_pwrss != Control.tol_pwrss:
        raise ParameterError(
            "tol_pwrss is the tolerance of a GLMM's penalised iteratively reweighted least "
            "squares; a linear mixed model has no such iteration - leave it at its default"
        )
    if control.options:
        raise ParameterError(
            f"lmm does not take optimiser-specific options {sorted(control.options)}; use "
            "maxfun, xtol_abs, ftol_abs and ftol_rel"
        )
    return control


def stopping_ftol(control: Control) -> tuple[float, float]:
    """``(ftol_abs, ftol_rel)`` of an LMM fit: 0 (stop on θ alone) unless set in ``control``.

    lmer's default also stops when the deviance changes by less than 1e-8; on the flat
    criteria of small data that leaves standard errors uncertain in the fourth digit, so
    ``lmm`` stops on ``xtol_abs`` unless the user asks for the deviance rules.
    """
    ftol_abs = 0.0 if control.ftol_abs == Control.ftol_abs else control.ftol_abs
    ftol_rel = 0.0 if control.ftol_rel == Control.ftol_rel else control.ftol_rel
    return ftol_abs, ftol_rel


def check_measure(grad: np.ndarray, sgrad: np.ndarray) -> float:
    """lme4's convergence measure: the largest ``min(|scaled gradient|, |gradient|)``."""
    return float(np.max(np.minimum(np.abs(sgrad), np.abs(grad)), initial=0.0))


def minimize_theta(
    problem: LmmProblem,
    reml: bool,
    *,
    start: np.ndarray | None = None,
    defer_scaled_check: bool = False,
    check: bool = True,
    control: Control | None = None,
) -> tuple[np.ndarray, OptSummary]:
    """Minimise the profiled criterion over θ and verify the optimum.

    Returns θ and the :class:`~alliancestats.models.convergence.OptSummary`; with
    ``defer_scaled_check`` a gradient that needs scaling is left to the caller
    (``extra["scaled_check_pending"]``). ``check=False`` skips the gradient check and the
    boundary restarts (used inside profiles, whose optimum is checked by its neighbours).
    ``control`` (:class:`~alliancestats.models.control.Control`) chooses the optimiser, its
    budget and tolerances, whether derivatives are checked (``calc_derivs``) and whether a
    boundary optimum is restarted (``restart_edge``).
    """
    control = Control() if control is None else control
    method = lmm_method(control)
    tol = control.check_conv_grad_tol
    check = check and control.calc_derivs
    lower = problem.layout.lower
    nfev = [0]

    def f(th: np.ndarray) -> float:
        nfev[0] += 1
        return problem.criterion(th, reml)

    ftol_abs, ftol_rel = stopping_ftol(control)

    def run(x_start: np.ndarray, rhobeg: float, xtol: float):
        return minimize_bounded(
            f, x_start, lower, rhobeg=rhobeg, rhoend=xtol, maxfev=control.maxfun,
            ftol_abs=ftol_abs, ftol_rel=ftol_rel, method=method,
        )

    t0 = time.perf_counter()
    x0 = problem.layout.start()
    first = x0 if start is None else np.maximum(np.asarray(start, float), lower)
    if not np.isfinite(f(first)):
        raise EstimationError("the criterion cannot be evaluated at the starting values")
    res = run(first, 0.5 if start is None else 0.1, control.xtol_abs)
    x, fx = res.x, res.fun
    restarts = 0
    if not check:
        grad = sgrad = np.zeros_like(x)
    else:
        grad, sgrad = _check(f, x, lower, fx, defer_scaled_check, tol)
        while check_measure(grad, sgrad) > tol and restarts < 2:
            restarts += 1
            r2 = run(x, 0.05, 0.1 * control.xtol_abs)
            if r2.fun < fx:
                x, fx = r2.x, r2.fun
            grad, sgrad = _check(f, x, lower, fx, defer_scaled_check, tol)
        at_bound = (lower == 0) & (x < SINGULAR_TOL)
        if at_bound.any() and control.restart_edge:
            x_in = x.copy()
            x_in[at_bound] = 0.1
            for s, radius in [(x_in, 0.5), (x0, 0.25)]:
                r3 = run(s, radius, control.xtol_abs)
                restarts += 1
                if r3.fun < fx - 1e-10 * abs(fx):
                    x, fx = r3.x, r3.fun
                    grad, sgrad = _check(f, x, lower, fx, defer_scaled_check, tol)
    # values below 1e-10 on a diagonal are optimiser noise around an exact zero
    x = np.where((lower == 0) & (x < 1e-10), 0.0, x)
    measure = check_measure(grad, sgrad)
    pending = bool(check and defer_scaled_check and np.max(np.abs(grad), initial=0.0) > tol)
    summary = OptSummary(
        method=res.method,
        evaluations=nfev[0],
        restarts=restarts,
        converged=measure <= tol and not res.message.startswith("maximum"),
        message=res.message,
        gradient=grad,
        max_abs_gradient=float(np.max(np.abs(grad), initial=0.0)),
        max_scaled_gradient=measure,
        seconds=time.perf_counter() - t0,
        start=np.asarray(first, float),
        extra={"scaled_check_pending": pending, "grad_tol": tol} if pending else {},
    )
    return x, summary


def finish_scaled_check(summary: OptSummary, H: np.ndarray, theta: np.ndarray, lower) -> None:
    """Scale a gradient the optimiser left unscaled (``defer_scaled_check``) with the Hessian
    of the deviance in (θ, σ) that the Satterthwaite df computed, profiled over σ."""
    if not summary.extra.pop("scaled_check_pending", False):
        return
    tol = summary.extra.pop("grad_tol", GRAD_TOL)
    sgrad = scale_free(summary.gradient, profiled_hessian(H), free_theta(lower, theta))
    summary.max_scaled_gradient = check_measure(summary.gradient, sgrad)
    summary.converged = summary.max_scaled_gradient <= tol


def profiled_hessian(H: np.ndarray) -> np.ndarray:
    """Hessian in θ of the deviance profiled over σ, from its Hessian in (θ, σ)."""
    k = H.shape[0] - 1
    return H[:k, :k] - np.outer(H[:k, k], H[k, :k]) / H[k, k]
