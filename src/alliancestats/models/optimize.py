"""Bounded minimisation of the covariance parameters: BOBYQA and the other optimisers.

lme4 minimises its profiled criteria over θ with Powell's BOBYQA (a bounded trust-region
method building quadratic models from function values; Powell 2009, Cambridge NA Report
NA2009/06) through NLopt. alliancestats does the same with NLopt's compiled BOBYQA (the
``nlopt`` package): the criterion evaluations of a fit on per-group sufficient statistics
cost microseconds, so a pure-Python optimiser (scipy's COBYQA spends ~3 ms of bookkeeping
per iteration) would dominate the time of every fit and of every refit in a power
simulation. scipy's COBYQA is the fallback when ``nlopt`` is not installed.

The other choices of ``Control.optimizer`` (lme4's ``allFit`` idea: the same model under
several optimisers) are NLopt's Nelder-Mead, scipy's COBYQA and scipy's L-BFGS-B, the
last with an exact gradient when the engine supplies one.

Examples
--------
>>> import numpy as np
>>> res = minimize_bounded(lambda x: float((x[0] - 2) ** 2 + (x[1] + 1) ** 2),
...                        np.array([0.5, 0.5]), np.array([0.0, -np.inf]))
>>> np.round(res.x, 5).tolist(), res.nfev > 0
([2.0, -1.0], True)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["METHODS", "BoundedResult", "central_gradient", "minimize_bounded", "minimize_smooth"]

_BIG = 1e300  # stands in for a non-finite criterion (outside the feasible region)


@dataclass
class BoundedResult:
    """Outcome of :func:`minimize_bounded`."""

    x: np.ndarray
    fun: float
    nfev: int
    message: str
    method: str


_NLOPT_NAMES = {"bobyqa": ("LN_BOBYQA", "BOBYQA (NLopt)"),
                "nelder_mead": ("LN_NELDERMEAD", "Nelder-Mead (NLopt)")}
_NLOPT_STATUS = {1: "success", 2: "stopval reached", 3: "ftol reached", 4: "xtol reached",
                 5: "maximum evaluations reached"}


def _nlopt_run(method, f, x0, lower, upper, rhobeg, tol, maxfev):
    """NLopt's derivative-free BOBYQA or Nelder-Mead; ``tol`` = (xtol_abs, ftol_abs, ftol_rel)."""
    import nlopt

    n = x0.size
    count = [0]
    best = [np.inf, x0.copy()]

    def obj(x, grad):  # nlopt's signature; grad is empty for derivative-free methods
        count[0] += 1
        val = f(x)
        if not math.isfinite(val):
            return _BIG
        if val < best[0]:
            best[0], best[1] = val, x.copy()
        return val

    algorithm, label = _NLOPT_NAMES[method]
    opt = nlopt.opt(getattr(nlopt, algorithm), n)
    opt.set_min_objective(obj)
    lb = np.where(np.isfinite(lower), lower, -np.inf)
    opt.set_lower_bounds(lb)
    ub = np.where(np.isfinite(upper), upper, np.inf)
    opt.set_upper_bounds(ub)
    opt.set_initial_step(np.full(n, rhobeg))
    xtol_abs, ftol_abs, ftol_rel = tol
    opt.set_xtol_abs(np.full(n, xtol_abs))
    if ftol_abs:
        opt.set_ftol_abs(ftol_abs)
    if ftol_rel:
        opt.set_ftol_rel(ftol_rel)
    opt.set_maxeval(int(maxfev))
    start = np.clip(x0, lb, ub)
    try:
        x = opt.optimize(start)
        fx = opt.last_optimum_value()
        status = opt.last_optimize_result()
        msg = _NLOPT_STATUS.get(status, str(status))
    except (nlopt.RoundoffLimited, RuntimeError, ValueError) as exc:
        x, fx, msg = best[1], best[0], f"stopped: {type(exc).__name__}"
    if best[0] < fx:  # nlopt returns its best point, but guard against round-off exits
        x, fx = best[1], best[0]
    return BoundedResult(np.asarray(x, float), float(fx), count[0], msg, label)


def _scipy_cobyqa(f, x0, lower, upper, rhobeg, rhoend, maxfev):
    from scipy.optimize import Bounds, minimize

    bounds = Bounds(lower, upper)
    opts = {"maxfev": int(maxfev), "final_tr_radius": rhoend, "initial_tr_radius": rhobeg}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize(lambda x: min(f(x), _BIG), np.clip(x0, lower, upper), method="COBYQA",
                       bounds=bounds, options=opts)
    return BoundedResult(np.clip(res.x, lower, upper), float(res.fun), int(res.nfev),
                         str(res.message), "COBYQA (scipy)")


def central_gradient(f, x: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """Central-difference gradient (relative step 1e-6), one-sided next to a bound."""
    g = np.empty_like(x)
    for j in range(x.size):
        h = 1e-6 * max(1.0, abs(x[j]))
        e = np.zeros_like(x)
        e[j] = h
        if x[j] - h < lower[j]:
            g[j] = (f(x + e) - f(x)) / h
        elif x[j] + h > upper[j]:
            g[j] = (f(x) - f(x - e)) / h
        else:
            g[j] = (f(x + e) - f(x - e)) / (2.0 * h)
    return g


def _scipy_lbfgsb(f, x0, lower, upper, maxfev, ftol_rel, value_grad):
    """L-BFGS-B with the exact gradient ``value_grad(x) -> (f, g)`` or central differences."""
    from scipy.optimize import minimize

    count = [0]

    def fun(x):
        if value_grad is not None:
            count[0] += 1
            val, g = value_grad(x)
        else:
            count[0] += 1 + 2 * x.size
            val, g = f(x), central_gradient(f, x, lower, upper)
        if not (math.isfinite(val) and np.all(np.isfinite(g))):
            return _BIG, np.zeros_like(x)
        return val, g

    bounds = [(lo if math.isfinite(lo) else None, hi if math.isfinite(hi) else None)
              for lo, hi in zip(lower, upper, strict=True)]
    res = minimize(fun, np.clip(x0, lower, upper), jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxfun": int(maxfev), "maxiter": int(maxfev),
                            "ftol": max(ftol_rel, 1e-15), "gtol": 1e-10, "maxcor": 20})
    label = "L-BFGS-B (scipy, " + ("exact gradient)" if value_grad else "finite differences)")
    return BoundedResult(np.clip(res.x, lower, upper), float(res.fun), count[0],
                         str(res.message), label)


#: optimiser names accepted by :func:`minimize_bounded` (those of ``Control.optimizer``)
METHODS = ("bobyqa", "cobyqa", "nelder_mead", "lbfgsb")


def minimize_bounded(
    f: Callable[[np.ndarray], float],
    x0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray | None = None,
    *,
    rhobeg: float = 0.5,
    rhoend: float = 1e-7,
    maxfev: int | None = None,
    ftol_rel: float = 0.0,
    ftol_abs: float = 0.0,
    method: str = "bobyqa",
    value_grad: Callable[[np.ndarray], tuple[float, np.ndarray]] | None = None,
) -> BoundedResult:
    """Minimise ``f`` subject to ``lower <= x <= upper``.

    Parameters
    ----------
    f : callable
        Objective; non-finite values are treated as very large.
    x0 : ndarray
        Start (moved onto the feasible region).
    lower, upper : ndarray
        Bounds (``-inf`` / ``inf`` for free parameters; no upper bounds by default).
    rhobeg, rhoend : float
        Initial step (trust-region radius, simplex size) and the absolute tolerance on ``x``
        (NLopt's ``xtol_abs``; COBYQA's final trust-region radius).
    maxfev : int, optional
        Evaluation budget (default ``1000 n + 1000``).
    ftol_rel, ftol_abs : float
        Relative and absolute change of ``f`` at which to stop as well (0: not used).
    method : str
        ``"bobyqa"`` (NLopt's BOBYQA; scipy's COBYQA when NLopt is not installed),
        ``"cobyqa"`` (scipy), ``"nelder_mead"`` (NLopt) or ``"lbfgsb"`` (scipy's L-BFGS-B
        with ``value_grad`` or central differences).
    value_grad : callable, optional
        ``x -> (f(x), gradient)`` for ``"lbfgsb"``.
    """
    if method not in METHODS:
        raise ValueError(f"unknown optimizer {method!r}; choose one of {METHODS}")
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    upper = np.full(x0.size, np.inf) if upper is None else np.asarray(upper, dtype=float)
    maxfev = maxfev or 1000 * x0.size + 1000
    if method == "lbfgsb":
        return _scipy_lbfgsb(f, x0, lower, upper, maxfev, ftol_rel, value_grad)
    if method in ("bobyqa", "nelder_mead"):
        try:
            import nlopt  # noqa: F401
        except ImportError:
            method = "cobyqa"
        else:
            tol = (rhoend, ftol_abs, ftol_rel)
            return _nlopt_run(method, f, x0, lower, upper, rhobeg, tol, maxfev)
    return _scipy_cobyqa(f, x0, lower, upper, rhobeg, rhoend, maxfev)


def minimize_smooth(
    value_grad: Callable[[np.ndarray], tuple[float, np.ndarray]],
    x0: np.ndarray,
    lower: np.ndarray,
    *,
    xtol_abs: float = 1e-8,
    ftol_abs: float = 0.0,
    ftol_rel: float = 0.0,
    maxfev: int | None = None,
) -> BoundedResult:
    """Minimise a smooth function with its exact gradient (limited-memory BFGS).

    NLopt's LD_LBFGS (compiled; Nocedal 1980, Liu & Nocedal 1989) with the bounds
    ``lower`` (``-inf`` for none); scipy's L-BFGS-B when NLopt is not installed. Every
    call of ``value_grad`` counts as one evaluation.
    """
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    maxfev = maxfev or 1000 * x0.size + 1000
    try:
        import nlopt
    except ImportError:  # pragma: no cover - nlopt is a declared dependency
        return _scipy_lbfgsb(None, x0, lower, np.full(x0.size, np.inf), maxfev, ftol_rel,
                             value_grad)
    count = [0]
    best = [np.inf, x0.copy()]

    def obj(x, grad):
        count[0] += 1
        val, g = value_grad(x)
        if not (math.isfinite(val) and np.all(np.isfinite(g))):
            if grad.size:
                grad[:] = 0.0
            return _BIG
        if grad.size:
            grad[:] = g
        if val < best[0]:
            best[0], best[1] = val, x.copy()
        return val

    opt = nlopt.opt(nlopt.LD_LBFGS, x0.size)
    opt.set_min_objective(obj)
    if np.isfinite(lower).any():
        opt.set_lower_bounds(np.where(np.isfinite(lower), lower, -np.inf))
    opt.set_xtol_abs(np.full(x0.size, xtol_abs))
    if ftol_abs:
        opt.set_ftol_abs(ftol_abs)
    if ftol_rel:
        opt.set_ftol_rel(ftol_rel)
    opt.set_maxeval(int(maxfev))
    try:
        x = opt.optimize(np.maximum(x0, lower))
        fx = opt.last_optimum_value()
        msg = _NLOPT_STATUS.get(opt.last_optimize_result(), "stopped")
    except Exception as exc:  # noqa: BLE001 - NLopt raises its own classes (runtime_error)
        x, fx, msg = best[1], best[0], f"stopped: {type(exc).__name__}"
    if best[0] < fx:
        x, fx = best[1], best[0]
    return BoundedResult(np.asarray(x, float), float(fx), count[0], msg,
                         "L-BFGS (NLopt, exact gradient)")
