"""Optimisation of the LMM's profiled criterion over θ, verified as lme4's ``checkConv``.

L-BFGS with the exact gradient where it exists (:func:`gradient_run`), otherwise BOBYQA
(:mod:`.optimize`), from lme4's start (identity factors) or a given θ; the optimum's
gradient is then checked -- scaled by the Hessian, lme4's measure -- and a failed check
restarts the search from the optimum with a small trust region. The criterion is not
convex and a boundary optimum may be a local one, so a fit that ends with a variance at
zero is restarted from inside the parameter space before it is called singular.
"""

from __future__ import annotations

import time

import numpy as np

from alliancestats.errors import EstimationError, ParameterError
from alliancestats.models.control import Control, is_default_optimizer
from alliancestats.models.convergence import GRAD_TOL, OptSummary, fd_gradient, scaled_gradient
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.models.optimize import BoundedResult, minimize_bounded, minimize_smooth
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


def canonical_signs(layout, theta: np.ndarray) -> np.ndarray:
    """θ with every factor column's diagonal made non-negative (``Lambda D`` with ``D`` a
    diagonal of signs gives the same ``Lambda Lambda'``, so the criterion is unchanged)."""
    out = np.array(theta, dtype=float)
    for k in range(len(layout.rows)):
        sl = layout.slice(k)
        rows, cols = layout.rows[k], layout.cols[k]
        block = out[sl]
        for c in np.unique(cols):
            diag = np.flatnonzero((rows == c) & (cols == c))
            if diag.size and block[diag[0]] < 0:
                block[cols == c] *= -1.0
        out[sl] = block
    return out


def gradient_run(problem: LmmProblem, reml: bool, x_start: np.ndarray, control: Control,
                 count: list[int], curvature: np.ndarray | None = None) -> BoundedResult:
    """Quasi-Newton minimisation with the exact gradient, diagonal elements unbounded.

    The criterion is even in each factor column's sign, so a diagonal element at zero is
    a stationary point that traps bounded gradient methods; without bounds the search
    passes through zero and signs are restored afterwards. Diagonal elements that end
    near zero (a boundary optimum) are then polished with the bounds in place, starting
    from zero, and the polished point is kept unless it is worse. ``curvature`` (a Hessian
    of the criterion near the optimum, e.g. the fitted model's for a refit) preconditions
    the unbounded search: it runs in ``z`` with ``theta = x_start + C z`` and
    ``C' curvature C = I``, where a quasi-Newton method needs few steps.
    """
    lower = problem.layout.lower
    free_lower = np.where(lower == 0, -np.inf, lower)
    ftol_abs, ftol_rel = stopping_ftol(control)

    def vg(th: np.ndarray):
        count[0] += 1
        return problem.criterion_gradient(th, reml)

    if curvature is None or np.isfinite(free_lower).any():
        res = minimize_smooth(vg, x_start, free_lower, xtol_abs=control.xtol_abs,
                              ftol_abs=ftol_abs, ftol_rel=ftol_rel, maxfev=control.maxfun)
    else:
        C = preconditioner(curvature)

        def vg_z(z: np.ndarray):
            val, g = vg(x_start + C @ z)
            return val, C.T @ g

        res = minimize_smooth(vg_z, np.zeros(x_start.size), free_lower,
                              xtol_abs=control.xtol_abs, ftol_abs=ftol_abs, ftol_rel=ftol_rel,
                              maxfev=control.maxfun)
        res.x = x_start + C @ res.x
    x = canonical_signs(problem.layout, res.x)
    near = (lower == 0) & (x < 1e-3)
    if near.any() and not res.message.startswith("maximum"):
        x0 = np.where(near, 0.0, x)
        polish = minimize_smooth(vg, x0, lower, xtol_abs=control.xtol_abs, ftol_abs=ftol_abs,
                                 ftol_rel=ftol_rel,
                                 maxfev=max(1, control.maxfun - res.nfev))
        if polish.fun <= res.fun + 1e-11 * abs(res.fun):
            message = res.message if polish.message.startswith("stopped") else polish.message
            x, res = polish.x, BoundedResult(polish.x, polish.fun, 0, message, res.method)
    return BoundedResult(x, res.fun, count[0], res.message, res.method)


def preconditioner(curvature: np.ndarray) -> np.ndarray:
    """``C`` with ``C' H C = I`` for the Hessian ``H`` (eigenvalues below 1e-3 of the largest
    raised to that level, so that a singular or indefinite ``H`` still gives a usable map)."""
    H = 0.5 * (curvature + curvature.T)
    evals, evecs = np.linalg.eigh(H)
    floor = 1e-3 * max(float(np.max(np.abs(evals))), 1e-12)
    return evecs / np.sqrt(np.maximum(evals, floor))


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
    curvature: np.ndarray | None = None,
) -> tuple[np.ndarray, OptSummary]:
    """Minimise the profiled criterion over θ and verify the optimum.

    Returns θ and the :class:`~alliancestats.models.convergence.OptSummary`; with
    ``defer_scaled_check`` a gradient that needs scaling is left to the caller
    (``extra["scaled_check_pending"]``). ``check=False`` skips the gradient check and the
    boundary restarts (used inside profiles, whose optimum is checked by its neighbours).
    ``control`` (:class:`~alliancestats.models.control.Control`) chooses the optimiser, its
    budget and tolerances, whether derivatives are checked (``calc_derivs``) and whether a
    boundary optimum is restarted (``restart_edge``). ``curvature``, a Hessian of the
    criterion near the optimum (a refit passes its fitted model's), preconditions the
    gradient-based search that the default optimiser uses where the exact gradient exists.
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
    use_gradient = problem.has_gradient and is_default_optimizer(control)

    def run(x_start: np.ndarray, rhobeg: float, xtol: float):
        if use_gradient:
            return gradient_run(problem, reml, x_start, control.with_(xtol_abs=xtol), nfev,
                                curvature)
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
