"""Fail-safe N: how many unpublished null studies would overturn a result (metafor ``fsn``).

Three classic versions:

* Rosenthal (1979, Psychol Bull 86(3)): the number of studies averaging z = 0 that would
  raise the Stouffer-combined one-sided p above α;
* Orwin (1983, J Educ Stat 8(2)): the number of studies with effect 0 that would pull the
  (unweighted, or inverse-variance weighted) mean effect down to a ``target``;
* Rosenberg (2005, Evolution 59(2)): the weighted version for a common-effect model, the
  number of studies with effect 0 and average weight that would make the pooled effect
  non-significant (two-sided α).

Fail-safe numbers ignore heterogeneity and the size of effects; modern guidance prefers
selection models and sensitivity analyses (Becker 2005; Viechtbauer's metafor documentation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import require_univariate, study_arrays

__all__ = ["FailSafeResult", "fail_safe_n"]


@dataclass(frozen=True)
class FailSafeResult:
    """Result of :func:`fail_safe_n`: ``n`` (rounded up), the method, its p or mean effect."""

    type: str
    n: float
    p: float
    estimate: float
    target: float
    alpha: float

    def to_series(self) -> pd.Series:
        """The result as a pandas Series."""
        return pd.Series(self.__dict__, name="fail_safe_n", dtype=object)

    def __str__(self) -> str:
        detail = f"target = {self.target:.4f}" if np.isfinite(self.target) else f"p = {self.p:.4g}"
        return f"Fail-safe N ({self.type}): {self.n:g} ({detail}, alpha = {self.alpha:g})"


def _round_up(n: float) -> float:
    """metafor's rounding: up to the next integer unless already (numerically) an integer."""
    if np.isinf(n) or abs(n - round(n)) < np.sqrt(np.finfo(float).eps):
        return float(round(n)) if np.isfinite(n) else n
    return float(np.ceil(n))


def fail_safe_n(
    result: Any,
    type: str = "rosenthal",
    *,
    alpha: float = 0.05,
    target: float | None = None,
    weighted: bool = False,
) -> FailSafeResult:
    """Fail-safe number of a meta-analysis (Rosenthal, Orwin or Rosenberg).

    Parameters
    ----------
    result : MetaResult
        Univariate model (its ``yi`` and ``vi`` are used).
    type : {"rosenthal", "orwin", "rosenberg"}
        Method (see the module description).
    alpha : float, default 0.05
        Significance level (one-sided for Rosenthal, two-sided for Rosenberg).
    target : float, optional
        Orwin: effect to be reached (default half the mean effect).
    weighted : bool, default False
        Orwin: inverse-variance weighted mean instead of the plain mean.

    Returns
    -------
    FailSafeResult

    Notes
    -----
    Validated against metafor 3.8-1 ``fsn()`` on ``dat.molloy2014`` and ``dat.bcg``
    (closed forms, tolerance 1e-10 relative on the unrounded number; the rounded N equal).

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, fail_safe_n
    >>> res = meta_analysis(yi=[0.3, 0.5, 0.2, 0.4], vi=[0.01, 0.02, 0.01, 0.03])
    >>> fail_safe_n(res).n
    40.0
    """
    require_univariate(result, "fail_safe_n()")
    yi, vi, _ = study_arrays(result)
    k = len(yi)
    kind = str(type).lower()
    if not 0 < alpha < 1:
        raise MetaAnalysisError("alpha must lie between 0 and 1.")
    if kind == "rosenthal":
        z = abs(np.sum(yi / np.sqrt(vi)) / np.sqrt(k))
        n = max(0.0, k * (z / stats.norm.isf(alpha)) ** 2 - k)
        return FailSafeResult(
            "Rosenthal", _round_up(n), float(stats.norm.sf(z)), float("nan"), float("nan"), alpha
        )
    if kind == "orwin":
        mean = float(np.sum(yi / vi) / np.sum(1 / vi)) if weighted else float(np.mean(yi))
        goal = mean / 2 if target is None else float(target)
        if goal == 0:
            return FailSafeResult("Orwin", float("inf"), float("nan"), mean, goal, alpha)
        goal = -goal if np.sign(goal) != np.sign(mean) else goal
        n = max(0.0, k * (mean - goal) / goal)
        return FailSafeResult("Orwin", _round_up(n), float("nan"), mean, goal, alpha)
    if kind == "rosenberg":
        w = 1 / vi
        mean = float(np.sum(w * yi) / w.sum())
        z = mean / np.sqrt(1 / w.sum())
        wp = (np.sum(w * yi) / stats.norm.isf(alpha / 2)) ** 2 - w.sum()
        n = max(0.0, k * wp / w.sum())
        return FailSafeResult(
            "Rosenberg", _round_up(n), float(2 * stats.norm.sf(abs(z))), mean, float("nan"), alpha
        )
    raise MetaAnalysisError(f"type must be 'rosenthal', 'orwin' or 'rosenberg', not {type!r}.")
