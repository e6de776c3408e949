"""Detection of complete and quasi-complete separation in binomial and Poisson models.

In a logistic model the maximum-likelihood estimate of a fixed effect is infinite when a linear
combination of the predictors separates successes from failures (Albert & Anderson 1984,
Biometrika 71(1)); the fitting algorithm then stops at a large coefficient with a huge standard
error and the Wald test is meaningless. Following Konis (2007, DPhil thesis, Oxford; the
method behind R's ``detectseparation``/``safeBinaryRegression``), separation is detected
exactly with a linear program on the fixed-effects design ``X``: a direction ``d != 0`` with

* ``x_i' d >= 0`` for every row with only successes,
* ``x_i' d <= 0`` for every row with only failures,
* ``x_i' d = 0`` for rows with both (binomial proportions strictly between 0 and 1),

exists exactly when the likelihood keeps increasing along ``d`` forever. The program maximises
``sum |x_i' d|`` over such directions within the box ``-1 <= d_j <= 1``; a positive optimum
means (quasi-)complete separation, and the terms with non-zero ``d_j`` are the ones whose
estimates diverge. Separation is *complete* when a direction separates every row strictly.

For Poisson models the analogous problem arises when a combination of predictors is never
positive on rows with zero counts and zero elsewhere (e.g. a factor level with only zeros): the
rate ratio diverges to zero.

Examples
--------
>>> import numpy as np
>>> X = np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1], [1.0, 2, 3, 4, 5, 6]])
>>> y = np.array([0, 1, 0, 1, 1, 1.0])
>>> res = detect_separation(X, y, ["(Intercept)", "booster", "session"], family="binomial")
>>> res.separated, res.terms
(True, ['booster'])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog

__all__ = ["SeparationResult", "detect_separation"]

_TOL = 1e-7


@dataclass(frozen=True)
class SeparationResult:
    """Outcome of :func:`detect_separation`.

    Attributes
    ----------
    separated : bool
        True for complete or quasi-complete separation.
    complete : bool
        True when the separation is complete (every row strictly separated).
    terms : list of str
        Fixed-effect terms whose estimates diverge (non-zero in the separating direction).
    direction : ndarray
        The separating direction (zeros when not separated).
    n_rows : int
        Number of rows whose fitted probability (or rate) is pushed to a boundary.
    """

    separated: bool
    complete: bool
    terms: list[str] = field(default_factory=list)
    direction: np.ndarray = field(default_factory=lambda: np.zeros(0))
    n_rows: int = 0

    def message(self) -> str:
        """A sentence for a warning or a report."""
        if not self.separated:
            return "no separation detected"
        kind = "complete" if self.complete else "quasi-complete"
        return (
            f"{kind} separation: the estimate(s) for {self.terms} diverge "
            f"({self.n_rows} rows fitted at a boundary probability/rate); their Wald tests and "
            "confidence intervals are not valid. Consider combining sparse categories, removing "
            "the term, or a penalised (Firth) fit"
        )


def _sign_constraints(y: np.ndarray, family: str) -> tuple[np.ndarray, np.ndarray]:
    """Rows whose ``x'd`` must be >= 0 (``up``) and <= 0 (``down``)."""
    if family == "binomial":
        up = y >= 1.0 - 1e-12
        down = y <= 1e-12
        return up, down
    zero = y <= 1e-12
    return np.zeros_like(zero), zero


def detect_separation(
    X: np.ndarray,
    y: np.ndarray,
    names: list[str],
    *,
    family: str = "binomial",
    weights: np.ndarray | None = None,
) -> SeparationResult:
    """Check a fixed-effects design for (quasi-)complete separation by linear programming.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        Fixed-effects design.
    y : ndarray, shape (n,)
        Response: 0/1 or proportions (binomial), counts (Poisson).
    names : list of str
        Column names of ``X``.
    family : {"binomial", "poisson"}
        Response family.
    weights : ndarray, optional
        Prior weights; rows with zero weight are ignored.

    Returns
    -------
    SeparationResult

    Notes
    -----
    Linear-programming check of Konis (2007), solved with HiGHS through
    :func:`scipy.optimize.linprog`. Validated in the test suite on designs with known
    complete, quasi-complete and no separation, and on near-separated data (finite MLE, one
    failure among the separated rows), which must not be flagged.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.column_stack([np.ones(4), [0.0, 1, 2, 3]])
    >>> detect_separation(X, np.array([0, 0, 1, 1.0]), ["(Intercept)", "x"]).complete
    True
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    keep = np.ones(len(y), dtype=bool) if weights is None else np.asarray(weights) > 0
    X, y = X[keep], y[keep]
    n, p = X.shape
    if n == 0 or p == 0:
        return SeparationResult(False, False, [], np.zeros(p), 0)
    # scale columns so the box constraint treats terms alike
    scale = np.max(np.abs(X), axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    up, down = _sign_constraints(y, family)
    eq = ~(up | down)
    S = np.where(up, 1.0, -1.0)[:, None] * Xs  # rows of s_i x_i
    ineq_rows = up | down
    A_ub = -S[ineq_rows]  # -(s_i x_i' d) <= 0
    b_ub = np.zeros(A_ub.shape[0])
    A_eq = Xs[eq] if eq.any() else None
    b_eq = np.zeros(int(eq.sum())) if eq.any() else None
    c = -S[ineq_rows].sum(axis=0)  # maximise sum of s_i x_i' d

    def _solve(fixed_zero: int | None):
        bounds = [(-1.0, 1.0)] * p
        if fixed_zero is not None:
            bounds[fixed_zero] = (0.0, 0.0)
        return linprog(
            c,
            A_ub=A_ub if A_ub.size else None,
            b_ub=b_ub if A_ub.size else None,
            A_eq=A_eq,
            b_eq=b_eq,
            bounds=bounds,
            method="highs",
        )

    def _separates(r) -> bool:
        return bool(r.status == 0 and -r.fun > _TOL * max(1, n))

    res = _solve(None)
    if not _separates(res):
        return SeparationResult(False, False, [], np.zeros(p), 0)
    d = res.x
    lin = Xs @ d
    pushed = int(np.sum(np.abs(lin) > 1e-6))
    # name the terms without which no separating direction exists; if every term can be
    # replaced by another, name those used by the direction found
    necessary = [names[j] for j in range(p) if abs(d[j]) > 1e-6 and not _separates(_solve(j))]
    terms = necessary or [names[j] for j in range(p) if abs(d[j]) > 1e-6]
    # complete separation: maximise t subject to s_i x_i' d >= t for all rows (no equality rows)
    complete = False
    if not eq.any() and family == "binomial":
        c2 = np.zeros(p + 1)
        c2[-1] = -1.0
        A2 = np.column_stack([-S, np.ones(n)])
        res2 = linprog(
            c2,
            A_ub=A2,
            b_ub=np.zeros(n),
            bounds=[(-1.0, 1.0)] * p + [(None, 1.0)],
            method="highs",
        )
        complete = bool(res2.status == 0 and -res2.fun > 1e-9)
    return SeparationResult(True, complete, terms, d / scale, pushed)
