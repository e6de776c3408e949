"""Predictive mean and variance of the next score, session by session (numerical kernel).

For a patient with random effects ``u ~ N(0, G)`` on the columns ``z = (1, f(t))`` and
residual variance ``sigma²``, the score at a session with fixed-effects prediction ``mu`` is

    y = mu + z u + e,   e ~ N(0, sigma²).

Before any score is seen, ``y`` has mean ``mu`` and variance ``z G z' + sigma²`` (the tolerance
band of an expected-treatment-response curve). Each observed score updates the distribution of
``u`` -- the empirical Bayes (BLUP) step ``m = G Z'V⁻¹(y - mu)``, ``C = G - G Z'V⁻¹Z G`` -- so
the next session's expectation is ``mu + z m`` with variance ``z C z' + sigma²``. The update is
done one score at a time (the Kalman-filter form of the same formula):

    v = z C z' + sigma²,   K = C z' / v,   m <- m + K (y - mu - z m),   C <- C - K z C.

All patients are processed together, the ``j``-th row of every patient in one vectorised step,
so the cost is a few array operations per session number rather than a loop over patients.

When ``vbeta`` (the covariance of the fixed effects) is given, the uncertainty of ``beta`` is
added: the prediction error of ``mu + z m`` has the extra term ``a Vbeta a'`` with
``a = x - z M`` and ``M = G Z'V⁻¹X`` updated as ``M <- M + K a`` (Henderson's prediction error
variance of a BLUP; Searle, Casella & McCulloch 1992, *Variance Components*, ch. 7).

Examples
--------
>>> import numpy as np
>>> group = np.array([0, 0, 0])
>>> z = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]])
>>> G = np.array([[[4.0, 0.0], [0.0, 1.0]]])
>>> shift, var = sequential_moments(group, z, np.array([2.0, 1.0, np.nan]), G,
...                                 np.array([1.0]), update=False)
>>> shift.tolist(), var.tolist()
([0.0, 0.0, 0.0], [5.0, 6.0, 9.0])
>>> shift, var = sequential_moments(group, z, np.array([2.0, 1.0, np.nan]), G,
...                                 np.array([1.0]), update=True)
>>> round(float(shift[1]), 4), round(float(var[1]), 4)
(1.6, 2.8)
"""

from __future__ import annotations

import numpy as np

__all__ = ["sequential_moments", "within_group_position"]


def within_group_position(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal group codes (rows sorted by group).

    Examples
    --------
    >>> within_group_position(np.array([0, 0, 1, 1, 1, 2])).tolist()
    [0, 1, 0, 1, 2, 0]
    """
    n = group.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, sizes)


def sequential_moments(
    group: np.ndarray,
    z: np.ndarray,
    resid: np.ndarray,
    G: np.ndarray,
    sigma2: np.ndarray,
    *,
    update: bool,
    x: np.ndarray | None = None,
    vbeta: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shift of the expectation (``z m``) and predictive variance of every row.

    Parameters
    ----------
    group : ndarray of int, shape (n,)
        Group (patient) code 0..g-1 of every row; rows sorted by group, then session.
    z : ndarray, shape (n, q)
        Random-effects columns of every row.
    resid : ndarray, shape (n,)
        Observed score minus ``mu``; NaN for rows that do not update (no score, or not part of
        the growth model). A row never updates its own prediction, only later rows.
    G : ndarray, shape (g, q, q)
        Random-effects covariance per group.
    sigma2 : ndarray, shape (g,)
        Residual variance per group.
    update : bool
        Condition each row on the group's earlier scores (empirical Bayes); False gives the
        marginal moments.
    x : ndarray, shape (n, p), optional
        Fixed-effects rows, with ``vbeta``.
    vbeta : ndarray, shape (g, p, p), optional
        Covariance of the fixed effects per group; adds their uncertainty to the variance.

    Returns
    -------
    shift, variance : ndarray, shape (n,)
    """
    n, q = z.shape
    shift = np.zeros(n)
    variance = np.zeros(n)
    pos = within_group_position(group)
    m = np.zeros((G.shape[0], q))
    C = np.array(G, dtype=float, copy=True)
    with_beta = x is not None and vbeta is not None
    M = np.zeros((G.shape[0], q, x.shape[1])) if with_beta else None
    for j in range(int(pos.max()) + 1 if n else 0):
        rows = np.flatnonzero(pos == j)
        g = group[rows]
        zr = z[rows]
        zc = np.einsum("nq,nqr->nr", zr, C[g])
        v = np.einsum("nr,nr->n", zc, zr) + sigma2[g]
        shift[rows] = np.einsum("nq,nq->n", zr, m[g])
        variance[rows] = v
        if with_beta:
            a = x[rows] - np.einsum("nq,nqp->np", zr, M[g])
            variance[rows] += np.einsum("np,npr,nr->n", a, vbeta[g], a)
        if not update:
            continue
        seen = ~np.isnan(resid[rows])
        if not seen.any():
            continue
        gs = g[seen]
        gain = zc[seen] / v[seen, None]
        m[gs] += gain * (resid[rows][seen] - shift[rows][seen])[:, None]
        C[gs] -= gain[:, :, None] * zc[seen][:, None, :]
        if with_beta:
            M[gs] += gain[:, :, None] * a[seen][:, None, :]
    return shift, variance
