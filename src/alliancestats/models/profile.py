"""Profile-likelihood intervals: where a profiled deviance crosses its cut-off.

Both engines profile a parameter by fixing it at trial values, minimising the deviance over
all other parameters, and finding where the increase over the minimum reaches the
chi-square(1) quantile (Venzon & Moolgavkar 1988, Appl Stat 37(1); Bates et al. 2015, J Stat
Softw 67(1), section 5.1). :func:`interval_end` finds one end of such an interval;
:func:`progress_bar` shows progress across the parameters (tqdm, off when not a terminal);
:func:`profile_table` runs a per-parameter profiler over every parameter and tabulates the
intervals.

Examples
--------
>>> round(interval_end(lambda d: d * d - 3.84, 0.0, float("inf"), 1.0), 4)
1.9596
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import brentq

__all__ = ["interval_end", "profile_table", "progress_bar"]


def interval_end(
    h: Callable[[float], float], start: float, bound: float, scale: float, xtol_rel: float = 1e-4
) -> float:
    """Distance from the estimate at which ``h`` (negative at ``start``) crosses zero.

    Steps outward (doubling from ``scale``, never past ``bound``) until ``h`` turns
    positive, then refines with Brent's method; returns ``bound`` when ``h`` stays negative
    up to it and ``inf`` when it never turns positive; Brent's tolerance is ``xtol_rel *
    scale``. Stepping outward keeps consecutive
    profile points close, so warm starts stay valid.
    """
    lo, step = start, scale
    while True:
        end = min(lo + step, bound) if np.isfinite(bound) else lo + step
        if h(end) >= 0:
            break
        if end >= bound:
            return bound
        lo, step = end, 2.0 * step
        if step > 1e12 * scale:
            return np.inf
    return brentq(h, lo, end, xtol=xtol_rel * scale, rtol=1e-8)


def progress_bar(total: int, progress: bool | None, desc: str):
    """A tqdm bar over ``total`` parameters; ``progress=None`` shows it only on a terminal."""
    from tqdm.auto import tqdm

    show = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, disable=not show, leave=False)


def profile_table(
    names: Sequence[str],
    unit: np.ndarray,
    one_parameter: Callable[[int], tuple[float, float, float]],
    progress: bool | None,
) -> pd.DataFrame:
    """Profile every parameter with ``one_parameter(k) -> (estimate, lower, upper)``.

    Rows are ``names``; each row is divided by ``unit[k]`` (to report coefficients on the
    scale of the original predictors); columns ``estimate, ci_low, ci_high``. Floating-point
    warnings from trial values far in the tails are silenced: such values only decide that
    the cut-off lies nearer.
    """
    from alliancestats.models.convergence import single_threaded_blas

    rows = {}
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore", divide="ignore"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with progress_bar(len(names), progress, "profiling") as bar:
            for k, name in enumerate(names):
                est, lo, hi = one_parameter(k)
                rows[name] = (est / unit[k], lo / unit[k], hi / unit[k])
                bar.update()
    return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low", "ci_high"])
