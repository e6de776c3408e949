"""One convergence check for both engines, the optimizer summary and finite differences.

lme4's ``checkConv`` (Bates, Mächler, Bolker & Walker 2015, J Stat Softw 67(1)) judges an
optimum by its gradient scaled with the Cholesky factor of the Hessian -- a Newton step --
which, unlike the raw gradient, does not grow with the number of rows; parameters on their
lower bound are left out. :func:`scaled_gradient` is that measure, :data:`GRAD_TOL` lme4's
tolerance. :class:`OptSummary` is the one record of an optimisation that every fit carries
(as MixedModels.jl's ``OptSummary``), and :func:`single_threaded_blas` keeps BLAS from
spreading the many tiny factorisations of a fit over threads.

The finite-difference helpers are lme4's ``deriv12`` (central differences, a stencil moved
inside the feasible region at a bound) and gradients for quasi-Newton searches.

Examples
--------
>>> import numpy as np
>>> g, H = deriv12(lambda x: float(x @ x), np.array([1.0, 2.0]), np.full(2, -np.inf), 5.0)
>>> np.round(g, 6).tolist(), np.round(H, 6).tolist()
([2.0, 4.0], [[2.0, 0.0], [0.0, 2.0]])
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.linalg as sla

__all__ = [
    "DERIV_DELTA",
    "GRAD_TOL",
    "OptSummary",
    "deriv12",
    "fd_gradient",
    "hessian_from_gradient",
    "scaled_gradient",
    "single_threaded_blas",
]

GRAD_TOL = 2e-3  # lme4's checkConv tolerance on the scaled gradient
DERIV_DELTA = 1e-4  # lme4's deriv12 step


@dataclass
class OptSummary:
    """Record of the optimisation behind a fit (the same fields for LMM and GLMM).

    Attributes
    ----------
    method : str
        Optimiser(s) used.
    evaluations : int
        Criterion evaluations, all stages and restarts included.
    restarts : int
        Restarts after a failed gradient check or from inside the boundary.
    converged : bool
        The optimum passed the scaled-gradient check (:data:`GRAD_TOL`).
    message : str
        The optimiser's own stopping message.
    gradient : numpy.ndarray
        Gradient of the criterion at the optimum (θ for LMM; θ and β for GLMM).
    max_abs_gradient, max_scaled_gradient : float
        Largest raw and Hessian-scaled gradient components (free parameters).
    seconds : float
        Time spent optimising.
    start : numpy.ndarray
        Where the final search started.
    extra : dict
        Engine-specific details (e.g. the GLMM Hessian, the first stage's θ).

    Mapping access (``summary["evaluations"]``) reads the same fields and, by name, the
    entries of ``extra``; ``keys()`` lists the fields shared by every engine.
    """

    method: str
    evaluations: int
    restarts: int
    converged: bool
    message: str
    gradient: np.ndarray
    max_abs_gradient: float
    max_scaled_gradient: float
    seconds: float
    start: np.ndarray = field(default_factory=lambda: np.zeros(0))
    extra: dict[str, Any] = field(default_factory=dict)

    def keys(self) -> list[str]:
        """Names of the fields shared by every engine (``extra`` excluded)."""
        return [k for k in self.__dataclass_fields__ if k != "extra"]

    def __getitem__(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        if key == "extra" or key not in self.__dataclass_fields__:
            raise KeyError(key)
        return getattr(self, key)

    def __contains__(self, key: object) -> bool:
        return key in self.keys() or key in self.extra


@contextlib.contextmanager
def single_threaded_blas():
    """Limit BLAS to one thread: a fit factorises many small matrices, and multi-threaded
    BLAS on a busy machine makes each of them orders of magnitude slower."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


# ---------------------------------------------------------------------------- checkConv
def scaled_gradient(g: np.ndarray, H: np.ndarray, free: np.ndarray) -> np.ndarray:
    """lme4's convergence measure ``solve(chol(H), g)`` on the ``free`` components.

    Components outside ``free`` (parameters on their bound) are set to zero. When ``H`` is
    not positive definite the raw gradient is returned, as lme4 does.
    """
    out = np.zeros_like(g, dtype=float)
    idx = np.flatnonzero(free)
    if idx.size == 0:
        return out
    try:
        L = np.linalg.cholesky(H[np.ix_(idx, idx)])
        out[idx] = sla.solve_triangular(L.T, g[idx], lower=False)
    except np.linalg.LinAlgError:
        out[idx] = g[idx]
    return out


def newton_step(g: np.ndarray, H: np.ndarray, free: np.ndarray) -> np.ndarray:
    """``H^-1 g`` on the free components (NaN when ``H`` is singular there)."""
    out = np.zeros_like(g, dtype=float)
    idx = np.flatnonzero(free)
    if idx.size:
        try:
            out[idx] = np.linalg.solve(H[np.ix_(idx, idx)], g[idx])
        except np.linalg.LinAlgError:
            out[idx] = np.nan
    return out


# ---------------------------------------------------------------------------- differences
def deriv12(fun, x: np.ndarray, lower: np.ndarray, fx: float, delta: float = DERIV_DELTA):
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
                at((i, 1), (j, 1)) - at((i, 1), (j, -1)) - at((i, -1), (j, 1)) + at((i, -1), (j, -1))
            ) / (4.0 * delta**2)
    if np.any(shift):
        g = g - H @ shift
    return g, H


def hessian_from_gradient(fun_grad, x: np.ndarray, lower: np.ndarray, delta: float = DERIV_DELTA):
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


def fd_gradient(
    fun, x: np.ndarray, lower: np.ndarray, fx: float, rel_step: float = 1e-6, at_bound: str = "forward"
) -> np.ndarray:
    """Central-difference gradient; at an active lower bound a one-sided difference.

    ``at_bound="forward"`` gives the forward difference there; ``"descent"`` keeps only a
    negative slope (a positive slope at the bound is optimal, so it does not count against
    convergence).
    """
    g = np.empty_like(x, dtype=float)
    for j in range(x.size):
        h = rel_step * max(1.0, abs(x[j]))
        e = np.zeros_like(x, dtype=float)
        e[j] = h
        if np.isfinite(lower[j]) and x[j] - h < lower[j]:
            g[j] = (fun(x + e) - fx) / h
            if at_bound == "descent":
                g[j] = min(g[j], 0.0)
        else:
            g[j] = (fun(x + e) - fun(x - e)) / (2.0 * h)
    return g
