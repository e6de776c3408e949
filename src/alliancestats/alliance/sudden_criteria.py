"""The three Tang & DeRubeis criteria, evaluated for every patient and interval at once.

A numerical kernel on a patients x sessions matrix (see :mod:`alliancestats.alliance.series`):
for every candidate interval N -> N+1 it computes the two scores, the pre-event window
N-2..N and post-event window N+1..N+3, and the three criteria with R's missing-value logic
(a comparison involving a missing value is missing; a missing active criterion makes the
interval missing). :mod:`alliancestats.alliance.sudden` turns the result into events.

The rules follow Tang & DeRubeis (1999, J Consult Clin Psychol 67(6)) as implemented in the R
package suddengains 0.7.2 (Wiedemann, Thew, Stott & Ehlers 2020, PLOS ONE 15(3):e0230276):
criteria 1 and 2 use ``>=``, criterion 3 uses ``>`` and multiplies the critical t value by the
pooled standard deviation of the two windows; each window needs at least two scores; the
critical value is ``|t_{alpha/2}(n_pre + n_post - 2)|`` when adjusted for missing scores (Lutz
et al. 2013, Psychother Res 23(1)).

Examples
--------
>>> import numpy as np
>>> from alliancestats.alliance.sudden_criteria import Criteria, evaluate
>>> x = np.array([[35.0, 37, 34, 23, 24, 21]])
>>> out = evaluate(x, Criteria(cutoff=7.0), first=1)
>>> out["met"].tolist()  # intervals starting at positions 1, 2, 3
[[0.0, 1.0, 0.0]]
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Criteria", "evaluate", "window_positions"]

#: Offsets of the scores kept around the pre-event session N (N-2 ... N+3).
WINDOW = (-2, -1, 0, 1, 2, 3)


@dataclass(frozen=True)
class Criteria:
    """Settings of one sudden-change search.

    ``direction`` is +1 when lower scores are better (symptom scales) and -1 when higher
    scores are better (alliance); ``kind`` is ``"gain"`` (improvement) or ``"loss"``
    (worsening); ``rule="suddengains"`` reproduces the package's loss criterion 2
    (``x_N - x_{N+1} <= pct * x_N``, met by nearly any worsening).
    """

    cutoff: float | None = None
    pct: float | None = 0.25
    crit3: bool = True
    crit3_adjust: bool = True
    alpha: float = 0.05
    critical_value: float = 2.776
    direction: int = 1
    kind: str = "gain"
    rule: str = "symmetric"

    @property
    def active(self) -> tuple[bool, bool, bool]:
        return self.cutoff is not None, self.pct is not None, bool(self.crit3)


def window_positions(n_sessions: int, first: int) -> np.ndarray:
    """Grid positions N examined: from ``first`` to ``n_sessions - 3`` (N + 1 is never last).

    Examples
    --------
    >>> window_positions(12, 1).tolist()
    [1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    return np.arange(first, max(n_sessions - 2, first), dtype=np.int64)


def _compare(valid: np.ndarray, condition: np.ndarray) -> np.ndarray:
    """1.0 / 0.0 where ``valid``, NaN elsewhere (R's NA for comparisons with NA)."""
    return np.where(valid, condition.astype(float), np.nan)


def _windows(values: np.ndarray, positions: np.ndarray) -> dict[str, np.ndarray]:
    """Scores at N-2..N+3 and the pre/post window statistics for every (patient, N)."""
    padded = np.pad(values, ((0, 0), (2, 3)), constant_values=np.nan)
    around = np.stack([padded[:, positions + 2 + k] for k in WINDOW], axis=2)
    pre, post = around[:, :, :3], around[:, :, 3:]
    n_pre = np.sum(~np.isnan(pre), axis=2)
    n_post = np.sum(~np.isnan(post), axis=2)
    with warnings.catch_warnings():  # windows with fewer than two scores give NaN on purpose
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {
            "around": around,
            "n_pre": n_pre,
            "n_post": n_post,
            "mean_pre": np.nanmean(pre, axis=2),
            "mean_post": np.nanmean(post, axis=2),
            "var_pre": np.nanvar(pre, axis=2, ddof=1),
            "var_post": np.nanvar(post, axis=2, ddof=1),
        }
    return out


def evaluate(values: np.ndarray, criteria: Criteria, first: int = 1) -> dict[str, np.ndarray]:
    """All criteria for every patient (rows) and examined interval (columns).

    Parameters
    ----------
    values : ndarray
        Patients x sessions scores (NaN = missing), consecutive session numbers.
    criteria : Criteria
    first : int
        First grid position examined as the pre-event session N (1 when the first session is
        a baseline that only enters the pre-event window, as in suddengains).

    Returns
    -------
    dict of ndarray
        ``positions`` (grid position of N), ``around`` (scores N-2..N+3, shape
        ``(patients, intervals, 6)``), ``change`` (improvement ``direction * (x_N - x_{N+1})``),
        ``n_pre``, ``n_post``, ``mean_pre``, ``mean_post``, ``pooled_sd``,
        ``critical_value``, ``crit1``, ``crit2``, ``crit3`` and ``met`` (1 / 0 / NaN; NaN
        for inactive criteria), ``evaluable`` (all three criteria could be computed).
    """
    positions = window_positions(values.shape[1], first)
    w = _windows(values, positions)
    x_n, x_next = w["around"][:, :, 2], w["around"][:, :, 3]
    d = criteria.direction
    improvement = d * (x_n - x_next)
    size = improvement if criteria.kind == "gain" else -improvement
    both = ~np.isnan(x_n) & ~np.isnan(x_next)
    n1, n2 = w["n_pre"], w["n_post"]
    enough = (n1 >= 2) & (n2 >= 2)
    with np.errstate(invalid="ignore"):
        pooled = np.sqrt(((n1 - 1) * w["var_pre"] + (n2 - 1) * w["var_post"]) / (n1 + n2 - 2))
    if criteria.crit3_adjust:
        crit_value = np.where(
            enough, np.abs(stats.t.ppf(criteria.alpha / 2, np.maximum(n1 + n2 - 2, 1))), np.nan
        )
    else:
        crit_value = np.where(enough, criteria.critical_value, np.nan)
    shift = d * (w["mean_pre"] - w["mean_post"])
    if criteria.kind == "loss":
        shift = -shift
    nan = np.full(x_n.shape, np.nan)
    crit1 = _compare(both, size >= criteria.cutoff) if criteria.cutoff is not None else nan
    if criteria.pct is None:
        crit2 = nan
    elif criteria.kind == "loss" and criteria.rule == "suddengains":
        crit2 = _compare(both, improvement <= criteria.pct * x_n)
    else:
        crit2 = _compare(both, size >= criteria.pct * x_n)
    crit3 = _compare(enough, shift > crit_value * pooled) if criteria.crit3 else nan
    active = [c for c, on in zip((crit1, crit2, crit3), criteria.active, strict=True) if on]
    stacked = np.stack(active)
    met = np.where(np.isnan(stacked).any(axis=0), np.nan, stacked.min(axis=0))
    return {
        "positions": positions,
        "around": w["around"],
        "change": improvement,
        "n_pre": n1,
        "n_post": n2,
        "mean_pre": w["mean_pre"],
        "mean_post": w["mean_post"],
        "pooled_sd": np.where(enough, pooled, np.nan),
        "critical_value": crit_value,
        "crit1": crit1,
        "crit2": crit2,
        "crit3": crit3,
        "met": met,
        "evaluable": both & enough,
    }
