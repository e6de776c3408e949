"""Multiplicity adjustment of p values and confidence intervals for families of contrasts.

The methods and their interval counterparts follow emmeans (Lenth, ``summary.emmGrid``):

=============  =====================================================  ========================
adjust         p value                                                interval critical value
=============  =====================================================  ========================
``tukey``      studentized range, ``P(Q_k,df > sqrt(2) |t|)``          ``q_k,df(level)/sqrt 2``
``scheffe``    ``P(F_r,df > t^2 / r)``, r = rank of the family        ``sqrt(r F_r,df(level))``
``sidak``      ``1 - (1 - p)^m``                                      ``t_df`` at ``level^(1/m)``
``bonferroni`` ``min(1, m p)``                                        ``t_df`` at ``1 - a/m``
``holm``,      Holm (1979), Hochberg (1988), Benjamini & Hochberg     Bonferroni (as emmeans)
``hochberg``,  (1995) step procedures on the unadjusted p values
``fdr``
``none``       unadjusted                                             ``t_df``
=============  =====================================================  ========================

``k`` is the number of means compared, ``m`` the number of contrasts in the family; degrees
of freedom are per contrast (Satterthwaite for LMMs, infinite for GLMMs). Tukey's method is
for pairwise comparisons; for other contrast families emmeans (and this module) use Sidak.

Examples
--------
>>> import numpy as np
>>> from alliancestats.effects.adjust import adjust_p
>>> adjust_p(np.array([0.01, 0.02, 0.04]), "holm").round(3).tolist()
[0.03, 0.04, 0.04]
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats

__all__ = ["ADJUSTMENTS", "adjust_p", "adjusted_p_values", "critical_values"]

ADJUSTMENTS = ("tukey", "scheffe", "sidak", "bonferroni", "holm", "hochberg", "fdr", "none")


def adjust_p(p: np.ndarray, method: str) -> np.ndarray:
    """Single-step and step-wise adjustments that need only the p values."""
    p = np.asarray(p, dtype=float)
    m = p.size
    if method in ("none", "tukey", "scheffe") or m == 0:
        return p.copy()
    if method == "bonferroni":
        return np.minimum(1.0, m * p)
    if method == "sidak":
        return 1.0 - (1.0 - p) ** m
    order = np.argsort(p)
    ranked = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m - np.arange(m)) * ranked)
    elif method == "hochberg":
        adj = np.minimum.accumulate(((m - np.arange(m)) * ranked)[::-1])[::-1]
    elif method == "fdr":
        adj = np.minimum.accumulate((m / np.arange(1, m + 1) * ranked)[::-1])[::-1]
    else:
        raise ValueError(f"unknown adjustment {method!r}")
    out = np.empty(m)
    out[order] = np.minimum(1.0, adj)
    return out


def _df(df: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(df), df, np.inf)


def adjusted_p_values(t: np.ndarray, df: np.ndarray, method: str, k: int, rank: int) -> np.ndarray:
    """Two-sided p values of statistics ``t`` adjusted for a family of contrasts.

    ``k`` is the number of means (Tukey), ``rank`` the rank of the contrast family (Scheffé).
    """
    t = np.abs(np.asarray(t, dtype=float))
    df = _df(np.asarray(df, dtype=float))
    if method == "tukey":
        return np.array([stats.studentized_range.sf(np.sqrt(2) * x, k, d) for x, d in
                         zip(t, df, strict=True)])
    if method == "scheffe":
        return stats.f.sf(t**2 / rank, rank, df)
    raw = np.where(np.isfinite(df), 2 * stats.t.sf(t, np.where(np.isfinite(df), df, 1.0)),
                   2 * stats.norm.sf(t))
    return adjust_p(raw, method)


@lru_cache(maxsize=256)
def _tukey_quantile(level: float, k: int, df: float) -> float:
    return float(stats.studentized_range.ppf(level, k, df) / np.sqrt(2))


def _t_quantile(prob: float, df: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(df), stats.t.ppf(prob, np.where(np.isfinite(df), df, 1.0)),
                    stats.norm.ppf(prob))


def critical_values(df: np.ndarray, level: float, method: str, k: int, rank: int,
                    m: int) -> np.ndarray:
    """Critical values ``c`` of the intervals ``estimate +/- c SE`` for a family."""
    df = _df(np.asarray(df, dtype=float))
    if method == "tukey":
        return np.array([_tukey_quantile(level, k, float(d)) for d in df])
    if method == "scheffe":
        return np.sqrt(rank * stats.f.ppf(level, rank, df))
    if method == "sidak":
        return _t_quantile(0.5 + level ** (1.0 / m) / 2, df)
    if method in ("bonferroni", "holm", "hochberg", "fdr"):
        return _t_quantile(1 - (1 - level) / (2 * m), df)
    return _t_quantile(0.5 + level / 2, df)
