"""Bounded derivative-free minimisation (BOBYQA) for the covariance parameters.

lme4 minimises its profiled criteria over θ with Powell's BOBYQA (a bounded trust-region
method building quadratic models from function values; Powell 2009, Cambridge NA Report
NA2009/06) through NLopt. alliancestats does the same with NLopt's compiled BOBYQA (the
``nlopt`` package): the criterion evaluations of a fit on per-group sufficient statistics
cost microseconds, so a pure-Python optimiser (scipy's COBYQA spends ~3 ms of bookkeeping
per iteration) would dominate the time of every fit and of every refit in a power
simulation. scipy's COBYQA is the fallback when ``nlopt`` is not installed.

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

__all__ = ["BoundedResult", "minimize_bounded"]

_BIG = 1e300  # stands in for a non-finite criterion (outside the feasible region)


@dataclass
class BoundedResult:
    """Outcome of :func:`minimize_bounded`."""

    x: np.ndarray
    fun: float
    nfev: int
    message: str
    method: str


def _nlopt_bobyqa(f, x0, lower, upper, rhobeg, rhoend, maxfev, ftol_rel):
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

    opt = nlopt.opt(nlopt.LN_BOBYQA, n)
    opt.set_min_objective(obj)
    lb = np.where(np.isfinite(lower), lower, -np.inf)
    opt.set_lower_bounds(lb)
    ub = np.where(np.isfinite(upper), upper, np.inf)
    opt.set_upper_bounds(ub)
    opt.set_initial_step(np.full(n, rhobeg))
    opt.set_xtol_abs(np.full(n, rhoend))
    if ftol_rel:
        opt.set_ftol_rel(ftol_rel)
    opt.set_maxeval(int(maxfev))
    start = np.clip(x0, lb, ub)
    try:
        x = opt.optimize(start)
        fx = opt.last_optimum_value()
        msg = {
            1: "success",
            2: "stopval reached",
            3: "ftol reached",
            4: "xtol reached",
            5: "maximum evaluations reached",
        }.get(opt.last_optimize_result(), str(opt.last_optimize_result()))
    except (nlopt.RoundoffLimited, RuntimeError, ValueError) as exc:
        x, fx, msg = best[1], best[0], f"stopped: {type(exc).__name__}"
    if best[0] < fx:  # nlopt returns its best point, but guard against round-off exits
        x, fx = best[1], best[0]
    return BoundedResult(np.asarray(x, float), float(fx), count[0], msg, "BOBYQA (NLopt)")


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
) -> BoundedResult:
    """Minimise ``f`` subject to ``lower <= x <= upper`` with BOBYQA (NLopt) or COBYQA (scipy).

    Parameters
    ----------
    f : callable
        Objective; non-finite values are treated as very large.
    x0 : ndarray
        Start (moved onto the feasible region).
    lower, upper : ndarray
        Bounds (``-inf`` / ``inf`` for free parameters; no upper bounds by default).
    rhobeg, rhoend : float
        Initial and final trust-region radius (absolute, in the units of ``x``).
    maxfev : int, optional
        Evaluation budget (default ``1000 n + 1000``).
    ftol_rel : float
        Relative change of ``f`` at which to stop as well (0: radius only).
    """
    x0 = np.asarray(x0, dtype=float)
    lower = np.asarray(lower, dtype=float)
    upper = np.full(x0.size, np.inf) if upper is None else np.asarray(upper, dtype=float)
    maxfev = maxfev or 1000 * x0.size + 1000
    try:
        import nlopt  # noqa: F401
    except ImportError:
        return _scipy_cobyqa(f, x0, lower, upper, rhobeg, rhoend, maxfev)
    return _nlopt_bobyqa(f, x0, lower, upper, rhobeg, rhoend, maxfev, ftol_rel)
