"""Diagnostic accuracy of a binary signal: sensitivity, specificity, PPV, NPV and AUC.

Proportions get exact Clopper-Pearson intervals (R's ``binom.test``); the area under the ROC
curve of a continuous score gets DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988,
Biometrics 44(3)) computed from mid-ranks (Sun & Xu 2014, IEEE Signal Process Lett 21(11)),
with a normal interval clipped to [0, 1] as R's pROC ``ci.auc(method = "delong")`` gives.

Examples
--------
>>> import numpy as np
>>> a = accuracy_table(np.array([True, True, False, False, False]),
...                    np.array([True, False, False, False, True]),
...                    np.array([2.0, 0.5, 0.1, -1.0, 1.0]))
>>> a["sensitivity"], a["specificity"], round(a["auc"], 4)
(0.5, 0.6666666666666666, 0.8333)
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from alliancestats.power.intervals import clopper_pearson

__all__ = ["accuracy_table", "auc_delong", "proportion"]


def proportion(successes: int, trials: int, level: float) -> tuple[float, float, float]:
    """Estimate and Clopper-Pearson interval; NaN when there are no trials.

    Examples
    --------
    >>> [round(v, 6) for v in proportion(9, 10, 0.95)]
    [0.9, 0.554984, 0.997471]
    """
    if trials == 0:
        return float("nan"), float("nan"), float("nan")
    low, high = clopper_pearson(int(successes), int(trials), level)
    return successes / trials, low, high


def auc_delong(score: np.ndarray, truth: np.ndarray, level: float
               ) -> tuple[float, float, float, float]:
    """AUC (probability a positive scores higher than a negative; ties count one half), its
    DeLong standard error and interval. NaN without positives or negatives.

    Examples
    --------
    >>> [round(float(v), 4) for v in auc_delong(np.array([3.0, 2.0, 1.0, 0.0]),
    ...                                         np.array([True, False, True, False]), 0.95)]
    [0.75, 0.3536, 0.057, 1.0]
    """
    pos, neg = score[truth], score[~truth]
    n1, n0 = pos.size, neg.size
    if n1 == 0 or n0 == 0:
        return (float("nan"),) * 4
    rank_all = stats.rankdata(np.concatenate([pos, neg]))
    rank_pos, rank_neg = stats.rankdata(pos), stats.rankdata(neg)
    v10 = (rank_all[:n1] - rank_pos) / n0  # share of negatives below each positive
    v01 = 1.0 - (rank_all[n1:] - rank_neg) / n1  # share of positives above each negative
    auc = float(v10.mean())
    s10 = np.var(v10, ddof=1) if n1 > 1 else 0.0
    s01 = np.var(v01, ddof=1) if n0 > 1 else 0.0
    se = float(np.sqrt(s10 / n1 + s01 / n0))
    half = stats.norm.ppf(0.5 + level / 2) * se
    return auc, se, max(0.0, auc - half), min(1.0, auc + half)


def accuracy_table(truth: np.ndarray, flagged: np.ndarray, score: np.ndarray,
                   level: float = 0.95) -> dict[str, float]:
    """Counts, sensitivity, specificity, PPV, NPV (with intervals) and AUC of ``score``."""
    truth, flagged = np.asarray(truth, bool), np.asarray(flagged, bool)
    tp = int(np.sum(truth & flagged))
    fp = int(np.sum(~truth & flagged))
    fn = int(np.sum(truth & ~flagged))
    tn = int(np.sum(~truth & ~flagged))
    out: dict[str, float] = {"n": truth.size, "n_failure": tp + fn, "tp": tp, "fp": fp,
                             "fn": fn, "tn": tn}
    for name, k, n in (("sensitivity", tp, tp + fn), ("specificity", tn, tn + fp),
                       ("ppv", tp, tp + fp), ("npv", tn, tn + fn)):
        out[name], out[f"{name}_ci_low"], out[f"{name}_ci_high"] = proportion(k, n, level)
    auc, se, low, high = auc_delong(np.asarray(score, float), truth, level)
    out.update(auc=auc, auc_se=se, auc_ci_low=low, auc_ci_high=high)
    return out
