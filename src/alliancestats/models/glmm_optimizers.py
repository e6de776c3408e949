"""The optimisers a GLMM fit can use, behind one call (``Control(optimizer=...)``).

``glmer`` lets users choose the optimiser of each of its two stages
(``glmerControl(optimizer = c("bobyqa", "Nelder_Mead"))``); lme4's ``allFit`` refits with
each in turn. :func:`run_optimizer` runs one of
:data:`~alliancestats.models.control.OPTIMIZERS` on a criterion with lower bounds:

* ``"bobyqa"`` -- NLopt's compiled BOBYQA (Powell 2009) through
  :func:`~alliancestats.models.optimize.minimize_bounded`, derivative free;
* ``"cobyqa"`` -- scipy's COBYQA (Ragonneau & Zhang), derivative free;
* ``"nelder_mead"`` -- scipy's bounded Nelder-Mead simplex (lme4's ``"Nelder_Mead"``);
* ``"lbfgsb"`` -- scipy's L-BFGS-B with the exact Laplace gradient when one is supplied,
  otherwise central finite differences.

Every run reports the point, the criterion there, the evaluations used, the optimiser's own
message and whether it stopped normally (not at its evaluation limit).

Examples
--------
>>> import numpy as np
>>> f = lambda x: float((x[0] - 1.0) ** 2 + 3.0 * (x[1] + 0.5) ** 2)
>>> res = run_optimizer("nelder_mead", f, np.array([0.3, 0.3]), np.array([0.0, -np.inf]),
...                     rhobeg=0.1, rhoend=1e-9, maxfun=2000, ftol=1e-14)
>>> np.round(res.x, 4).tolist(), res.success
([1.0, -0.5], True)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from alliancestats.models.convergence import fd_gradient
from alliancestats.models.optimize import minimize_bounded

__all__ = ["OptimizerRun", "run_optimizer"]

_BIG = 1e100  # stands in for a criterion that cannot be evaluated


@dataclass
class OptimizerRun:
    """Outcome of one optimiser run."""

    x: np.ndarray
    fun: float
    nfev: int
    message: str
    success: bool
    method: str


def _bounds(lower: np.ndarray) -> list[tuple[float | None, None]]:
    return [(lo if np.isfinite(lo) else None, None) for lo in lower]


def _feasible(x0: np.ndarray, lower: np.ndarray) -> np.ndarray:
    return np.maximum(x0, np.where(np.isfinite(lower), lower, -np.inf))


def _lbfgsb(fun, x0, lower, maxfun, ftol, grad):
    if grad is None:
        def fg(x):
            f = fun(x)
            return f, fd_gradient(fun, x, lower, f)
    else:
        fg = grad
    res = optimize.minimize(
        fg, _feasible(x0, lower), jac=True, method="L-BFGS-B", bounds=_bounds(lower),
        options={"maxiter": 500, "maxfun": maxfun, "ftol": ftol, "gtol": 1e-8, "maxcor": 20},
    )
    ok = bool(res.success) or "ABNORMAL" in str(res.message).upper()
    return OptimizerRun(np.asarray(res.x, float), float(res.fun), int(res.nfev),
                        str(res.message), ok and res.nfev < maxfun, "L-BFGS-B")


def _nelder_mead(fun, x0, lower, rhobeg, rhoend, maxfun, ftol):
    start = _feasible(x0, lower)
    n = start.size
    simplex = np.vstack([start] + [start + rhobeg * np.eye(n)[j] for j in range(n)])
    res = optimize.minimize(
        lambda x: min(fun(x), _BIG), start, method="Nelder-Mead", bounds=_bounds(lower),
        options={"maxfev": maxfun, "xatol": rhoend, "fatol": ftol, "initial_simplex": simplex},
    )
    return OptimizerRun(np.asarray(res.x, float), float(res.fun), int(res.nfev),
                        str(res.message), bool(res.success), "Nelder-Mead (scipy)")


def _cobyqa(fun, x0, lower, rhobeg, rhoend, maxfun):
    bounds = optimize.Bounds(lower, np.full(lower.size, np.inf))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = optimize.minimize(
            lambda x: min(fun(x), _BIG), _feasible(x0, lower), method="COBYQA", bounds=bounds,
            options={"maxfev": maxfun, "initial_tr_radius": rhobeg, "final_tr_radius": rhoend},
        )
    return OptimizerRun(np.asarray(res.x, float), float(res.fun), int(res.nfev),
                        str(res.message), bool(res.success), "COBYQA (scipy)")


def run_optimizer(
    name: str,
    fun: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lower: np.ndarray,
    *,
    rhobeg: float,
    rhoend: float,
    maxfun: int,
    ftol: float,
    grad: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
) -> OptimizerRun:
    """Minimise ``fun`` subject to ``x >= lower`` with the named optimiser.

    ``rhobeg``/``rhoend`` are the initial and final step sizes of the derivative-free
    methods, ``ftol`` the relative (L-BFGS-B) or absolute (Nelder-Mead) change of the
    criterion at which to stop, ``grad`` an optional function returning the criterion and
    its exact gradient (used by ``"lbfgsb"`` only).
    """
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    if name == "lbfgsb":
        return _lbfgsb(fun, x0, lower, maxfun, ftol, grad)
    if name == "nelder_mead":
        return _nelder_mead(fun, x0, lower, rhobeg, rhoend, maxfun, ftol)
    if name == "cobyqa":
        return _cobyqa(fun, x0, lower, rhobeg, rhoend, maxfun)
    res = minimize_bounded(fun, x0, lower, rhobeg=rhobeg, rhoend=rhoend, maxfev=maxfun)
    ok = not (res.message.startswith("maximum") or res.message.startswith("stopped"))
    return OptimizerRun(res.x, res.fun, res.nfev, res.message, ok and res.nfev < maxfun,
                        res.method)
