"""Numerical helpers for :func:`~alliancestats.models.glmm.glmm` (internal).

GLM starting values (R's ``glm.fit``), a bounded L-BFGS-B search with finite-difference
gradients, and the finite-difference derivatives lme4 uses to check an optimum
(``deriv12``).
"""

from __future__ import annotations

import contextlib

import numpy as np
from scipy import optimize

from alliancestats.models.families import Family

DERIV_DELTA = 1e-4  # lme4's deriv12 step


@contextlib.contextmanager
def _single_threaded_blas():
    """Limit BLAS to one thread: the PIRLS systems are small, and multi-threaded BLAS on a
    busy machine makes each small factorisation orders of magnitude slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # optional (installed with scikit-learn, a pingouin dependency)
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ---------------------------------------------------------------------------- GLM start
def _glm_start(X, y, pw, offset, fam: Family, maxit: int = 30) -> tuple[np.ndarray, bool]:
    """Fixed-effects starting values from an IRLS fit of the fixed part (R's ``glm.fit``).

    Also returns whether the fit certifies that the fixed part is *not* separated: IRLS
    converged (relative deviance change < 1e-10) with every fitted mean clearly inside the
    parameter space. At such a stationary point the likelihood cannot increase along any
    direction, so no separating direction exists (Albert & Anderson 1984); otherwise the
    exact linear-programming check is run.
    """
    mu = fam.starting_mu(y, pw)
    eta = fam.link.linkfun(mu)
    beta = np.zeros(X.shape[1])
    dev_old = np.inf
    converged = False
    for _ in range(maxit):
        me = fam.link.mu_eta(eta)
        w = pw * me * me / fam.variance(mu)
        z = eta - offset + (y - mu) / me
        XtW = X.T * w
        try:
            beta = np.linalg.solve(XtW @ X, XtW @ z)
        except np.linalg.LinAlgError:
            break
        eta = offset + X @ beta
        mu = fam.link.linkinv(eta)
        dev = float(np.sum(fam.dev_resids(y, mu, pw)))
        if abs(dev - dev_old) < 1e-10 * (abs(dev) + 0.1):
            converged = True
            break
        dev_old = dev
    if not np.all(np.isfinite(beta)):
        return np.zeros(X.shape[1]), False
    active = pw > 0
    if fam.name == "binomial":
        interior = bool(np.all((mu[active] > 1e-6) & (mu[active] < 1 - 1e-6)))
    else:
        interior = bool(np.all(mu[active & (y == 0)] > 1e-6))
    return beta, converged and interior


# ---------------------------------------------------------------------------- optimisation
def _deriv12(fun, x: np.ndarray, lower: np.ndarray, fx: float, delta: float = DERIV_DELTA):
    """Gradient and Hessian of ``fun`` at ``x`` by central differences (lme4's ``deriv12``).

    Coordinates closer than ``delta`` to their lower bound (e.g. a variance parameter
    estimated at zero) are differentiated on a stencil shifted into the feasible region; the
    gradient is then carried back to ``x`` with the Hessian (first-order correction).
    """
    n = x.size
    shift = np.where(np.isfinite(lower) & (x - lower < delta), lower + delta - x, 0.0)
    c = x + shift
    fc = fx if not np.any(shift) else fun(c)
    H = np.empty((n, n))
    g = np.empty(n)

    def at(*moves):
        z = c.copy()
        for i, sgn in moves:
            z[i] += sgn * delta
        return fun(z)

    for j in range(n):
        fadd = at((j, 1))
        fsub = at((j, -1))
        H[j, j] = (fadd - 2.0 * fc + fsub) / delta**2
        g[j] = (fadd - fsub) / (2.0 * delta)
        for i in range(j):
            H[i, j] = H[j, i] = (
                at((i, 1), (j, 1))
                - at((i, 1), (j, -1))
                - at((i, -1), (j, 1))
                + at((i, -1), (j, -1))
            ) / (4.0 * delta**2)
    if np.any(shift):
        g = g - H @ shift
    return g, H


def _hessian_from_gradient(fun_grad, x: np.ndarray, lower: np.ndarray, delta: float = DERIV_DELTA):
    """Gradient and Hessian from an exact gradient: central differences of the gradient
    (forward differences for a coordinate within ``delta`` of its lower bound), symmetrised."""
    _, g = fun_grad(x)
    n = x.size
    H = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = delta
        if np.isfinite(lower[j]) and x[j] - delta < lower[j]:
            H[:, j] = (fun_grad(x + e)[1] - g) / delta
        else:
            H[:, j] = (fun_grad(x + e)[1] - fun_grad(x - e)[1]) / (2.0 * delta)
    return g, 0.5 * (H + H.T)


def _fd_grad(fun, x: np.ndarray, lower: np.ndarray, fx: float) -> np.ndarray:
    """Central-difference gradient (forward at a lower bound) for the quasi-Newton search."""
    g = np.empty_like(x)
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        if np.isfinite(lower[j]) and x[j] - h < lower[j]:
            g[j] = (fun(x + e) - fx) / h
        else:
            g[j] = (fun(x + e) - fun(x - e)) / (2.0 * h)
    return g


def _minimize(fun, x0: np.ndarray, lower: np.ndarray, ftol: float, maxiter: int = 500):
    """Bounded quasi-Newton minimisation (L-BFGS-B) with finite-difference gradients."""

    def fg(x):
        f = fun(x)
        return f, _fd_grad(fun, x, lower, f)

    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    x0 = np.maximum(x0, np.where(np.isfinite(lower), lower, -np.inf))
    res = optimize.minimize(
        fg,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": maxiter, "ftol": ftol, "gtol": 1e-7, "maxcor": 20},
    )
    return res
