"""Contrasts of estimated marginal means with multiplicity adjustment (emmeans' ``contrast``).

Used through :meth:`alliancestats.effects.MarginalMeans.contrasts`; see
:mod:`alliancestats.effects.marginal` and :mod:`alliancestats.effects.adjust`.

Examples
--------
>>> import numpy as np
>>> from alliancestats.effects.contrasts import contrast_matrix
>>> C, names = contrast_matrix("pairwise", ["a", "b", "c"], ref=0)
>>> names, C.tolist()[0]
(['a - b', 'a - c', 'b - c'], [1.0, -1.0, 0.0])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import check_choice, check_level
from alliancestats.effects import _model
from alliancestats.effects.adjust import ADJUSTMENTS, adjusted_p_values, critical_values
from alliancestats.effects.marginal import ContrastResult, linear_inference, wald_test
from alliancestats.errors import ParameterError

__all__ = ["contrast_matrix", "contrast_means"]

_PAIRWISE = ("pairwise", "revpairwise")
_RATIO = {"logit": "odds ratio", "log": "ratio"}


def _wrap(label: str) -> str:
    """emmeans puts a level label in parentheses when it holds a minus sign."""
    return f"({label})" if "-" in label else label


def contrast_matrix(method: Any, labels: list[str], ref: int, sep: str = " - ") -> tuple:
    """Contrast weights (one row per contrast) over ``k`` means, and the contrast names."""
    k = len(labels)
    lab = [_wrap(v) for v in labels]
    rows, names = [], []

    def add(i: int, j: int) -> None:
        w = np.zeros(k)
        w[i], w[j] = 1.0, -1.0
        rows.append(w)
        names.append(f"{lab[i]}{sep}{lab[j]}")

    if isinstance(method, dict):
        for name, w in method.items():
            w = np.asarray(w, dtype=float).ravel()
            if w.size != k:
                raise ParameterError(f"contrast {name!r} needs {k} weights (one per mean)")
            rows.append(w)
            names.append(str(name))
    elif method == "pairwise":
        for i in range(k):
            for j in range(i + 1, k):
                add(i, j)
    elif method == "revpairwise":
        for j in range(1, k):
            for i in range(j):
                add(j, i)
    elif method == "trt.vs.ctrl":
        if not 0 <= ref < k:
            raise ParameterError(f"ref must index one of the {k} means, got {ref}")
        for i in range(k):
            if i != ref:
                add(i, ref)
    elif method == "consec":
        for i in range(1, k):
            add(i, i - 1)
    else:
        raise ParameterError(
            "method must be 'pairwise', 'revpairwise', 'trt.vs.ctrl', 'consec' or a dict of "
            f"weights, got {method!r}"
        )
    if not rows:
        raise ParameterError("there is nothing to compare: each group has a single mean")
    return np.vstack(rows), names


def _adjustment(method: Any, adjust: str | None, notes: list[str]) -> str:
    pairwise = isinstance(method, str) and method in _PAIRWISE
    if adjust is None:
        return "tukey" if pairwise else "holm"
    check_choice("adjust", adjust, ADJUSTMENTS)
    if adjust == "tukey" and not pairwise:
        notes.append("Tukey's method applies to pairwise comparisons; Sidak used instead")
        return "sidak"
    return adjust


def _groups(mm: Any) -> list[np.ndarray]:
    if not mm.by:
        return [np.arange(len(mm.table))]
    codes = mm.table.groupby(mm.by, sort=False, observed=True).ngroup().to_numpy()
    return [np.flatnonzero(codes == g) for g in range(int(codes.max()) + 1)]


def _scale(mm: Any, type_: str | None) -> str:
    """``difference``, ``odds ratio`` or ``ratio`` for a family of contrasts."""
    family = _model.family_of(mm.result)
    if family is None:
        return "difference"
    want = mm.type if type_ is None else check_choice("type", type_, ("link", "response"))
    return _RATIO.get(family.link.name, "difference") if want == "response" else "difference"


def contrast_means(mm: Any, method: Any = "pairwise", *, adjust: str | None = None,
                   ref: int = 0, type: str | None = None,  # noqa: A002
                   level: float | None = None) -> ContrastResult:
    """Contrasts of the means of a :class:`~alliancestats.effects.MarginalMeans`.

    See :meth:`alliancestats.effects.MarginalMeans.contrasts` for the parameters.
    """
    notes: list[str] = []
    adjust_ = _adjustment(method, adjust, notes)
    level = check_level(mm.level if level is None else level)
    scale = _scale(mm, type)
    sep = " / " if scale != "difference" else " - "
    parts, Ls = [], []
    for idx in _groups(mm):
        C, names = contrast_matrix(method, [mm.labels[i] for i in idx], ref, sep)
        L = C @ mm.L[idx]
        est = C @ mm.eta[idx]
        se, df = linear_inference(mm.result, L, mm.ddf)
        stat, _ = wald_test(est, se, df)
        # Scheffe's rank is that of the linear functions of the fixed effects (emmeans)
        k, m = len(idx), len(names)
        rank = int(np.linalg.matrix_rank(L, tol=1e-7 * max(np.abs(L).max(), 1.0)))
        p = adjusted_p_values(stat, df, adjust_, k, rank)
        crit = critical_values(df, level, adjust_, k, rank, m)
        lo, hi = est - crit * se, est + crit * se
        if scale != "difference":
            est, se, lo, hi = np.exp(est), np.exp(est) * se, np.exp(lo), np.exp(hi)
        tab = pd.DataFrame({"contrast": names, "estimate": est, "se": se, "df": df,
                            "ci_low": lo, "ci_high": hi, "statistic": stat, "p": p})
        for v in mm.by:
            tab.insert(1, v, mm.table[v].iloc[idx[0]])
        parts.append(tab)
        Ls.append(L)
    table = pd.concat(parts, ignore_index=True)
    table = table[["contrast", *mm.by, *[c for c in table.columns
                                         if c not in ("contrast", *mm.by)]]]
    return ContrastResult(table=table, adjust=adjust_, scale=scale, level=level,
                          L=np.vstack(Ls), notes=notes)
