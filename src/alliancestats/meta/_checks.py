"""Checks and small helpers shared by the diagnostics and figures of a fitted model (private).

Examples
--------
>>> from alliancestats.meta import meta_analysis
>>> res = meta_analysis(yi=[0.1, 0.3, 0.2], vi=[0.01, 0.02, 0.01])
>>> is_intercept_only(study_arrays(res)[2])
True
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from alliancestats.errors import AllianceStatsWarning, MetaAnalysisError

__all__ = [
    "is_intercept_only",
    "level_alpha",
    "require_intercept_only",
    "require_result",
    "require_univariate",
    "safe_refit",
    "study_arrays",
]


def level_alpha(result: Any) -> float:
    """Two-sided error rate implied by ``result.level`` (accepts 95 or 0.95).

    Examples
    --------
    >>> class R: level = 95.0
    >>> round(level_alpha(R()), 2)
    0.05
    """
    level = float(getattr(result, "level", 95.0))
    if level > 1.0:
        level /= 100.0
    return 1.0 - level


def study_arrays(result: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``yi, vi, X`` of a fitted model as float arrays (X always two-dimensional)."""
    yi = np.asarray(result.yi, dtype=float)
    vi = np.asarray(result.vi, dtype=float)
    X = np.asarray(result.X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    return yi, vi, X


def is_intercept_only(X: np.ndarray) -> bool:
    """Whether the design is a single column of ones."""
    return X.shape[1] == 1 and bool(np.allclose(X[:, 0], 1.0))


def require_result(result: Any, what: str) -> None:
    """Refuse anything that is not a fitted model from :func:`meta_analysis`.

    Examples
    --------
    >>> require_result([0.1, 0.2], "egger_test()")
    Traceback (most recent call last):
    ...
    alliancestats.errors.MetaAnalysisError: egger_test() needs a fitted model from meta_analysis() (a MetaResult), not list.
    """
    if not all(hasattr(result, name) for name in ("yi", "vi", "X", "method", "labels")):
        raise MetaAnalysisError(
            f"{what} needs a fitted model from meta_analysis() (a MetaResult), not "
            f"{type(result).__name__}."
        )


def require_univariate(result: Any, what: str) -> None:
    """Refuse multilevel and cluster-robust models, for which metafor defines no such method."""
    require_result(result, what)
    if getattr(result, "components", None) is not None or getattr(result, "robust", None):
        raise MetaAnalysisError(
            f"{what} is defined for univariate models (no random= and no robust=); refit the "
            "model without them, for example on one effect size per study."
        )


def require_intercept_only(result: Any, what: str) -> None:
    """Refuse models with moderators."""
    X = np.asarray(result.X, dtype=float)
    if X.ndim == 2 and not is_intercept_only(X):
        raise MetaAnalysisError(
            f"{what} is defined for models without moderators (as in metafor); fit the model "
            "without mods first."
        )


def safe_refit(result: Any, keep: np.ndarray, **changes: Any) -> Any | None:
    """Refit on the studies in ``keep``; ``None`` when that model cannot be estimated.

    A refit that loses a coefficient (a moderator without variation in the subset) or that
    fails counts as not estimable, like metafor's ``try()`` + ``coef.na`` checks. With one
    study left, t-based tests fall back to z (no reference distribution), as in metafor.
    """
    keep = np.asarray(keep)
    n_kept = int(keep.sum()) if keep.dtype == bool else len(keep)
    if n_kept == 1 and str(result.test).lower() != "z":
        changes.setdefault("test", "z")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        warnings.simplefilter("ignore", UserWarning)
        try:
            fit = result.refit(subset=keep, **changes)
        except MetaAnalysisError:
            return None
    if fit.p != result.p:
        return None
    return fit
