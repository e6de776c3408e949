"""Compiled products with ``Z Lambda`` stored row-wise, for PIRLS on general designs.

Every row of ``Z Lambda`` has the same number ``r`` of non-zeros (its own level's columns in
each term), held as an ``(n, r)`` array of values and one of column indices. PIRLS and the
joint conditional mode need ``(Z Lambda) u``, ``(Z Lambda)' v`` and ``(Z Lambda)' W X`` in
every Newton step. In numpy these are a gather plus ``einsum`` or a ``bincount`` over
``n r`` (or ``n r p``) weighted keys, each allocating temporaries several times the size of
the data; at 10,000 rows they cost more than the rest of a PIRLS iteration together. The
numba loops below make one pass over the rows without temporaries. Without numba the numpy
forms are used (same results up to rounding).

Examples
--------
>>> import numpy as np
>>> cols = np.array([[0, 2], [1, 2], [0, 3]])
>>> mv = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
>>> row_matvec(cols, mv, np.array([1.0, 1.0, 1.0, 1.0])).tolist()
[3.0, 7.0, 11.0]
>>> row_rmatvec(cols, mv, np.ones(3), 4).tolist()
[6.0, 3.0, 6.0, 6.0]
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = ["row_matvec", "row_rmatvec", "row_rmatmat", "block_gram"]


@cache
def _kernels():
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a declared dependency
        return None

    @numba.njit(cache=True)
    def matvec(cols, mv, u):
        n, r = cols.shape
        out = np.empty(n)
        for i in range(n):
            s = 0.0
            for c in range(r):
                s += mv[i, c] * u[cols[i, c]]
            out[i] = s
        return out

    @numba.njit(cache=True)
    def rmatvec(cols, mv, v, q):
        n, r = cols.shape
        out = np.zeros(q)
        for i in range(n):
            vi = v[i]
            for c in range(r):
                out[cols[i, c]] += mv[i, c] * vi
        return out

    @numba.njit(cache=True)
    def rmatmat(cols, mv, V, q):
        n, r = cols.shape
        k = V.shape[1]
        out = np.zeros((q, k))
        for i in range(n):
            for c in range(r):
                col = cols[i, c]
                m = mv[i, c]
                for j in range(k):
                    out[col, j] += m * V[i, j]
        return out

    @numba.njit(cache=True)
    def gram_intercept_pair(mv, w, level, rest, nl, q2):
        # first term a scalar intercept-like effect, one other scalar effect per row
        b = np.zeros(nl)
        c = np.zeros(nl)
        a22 = np.zeros(q2)
        for i in range(mv.shape[0]):
            wi = w[i]
            m0 = mv[i, 0]
            m1 = mv[i, 1]
            b[level[i]] += wi * m0 * m0
            c[level[i]] += wi * m0 * m1
            a22[rest[i]] += wi * m1 * m1
        return b, c, a22

    @numba.njit(cache=True)
    def gram_pairs(mv, w, level, nl):
        # a single term with two effects per level: the 2 x 2 blocks
        out = np.zeros((nl, 2, 2))
        for i in range(mv.shape[0]):
            wi = w[i]
            m0 = mv[i, 0]
            m1 = mv[i, 1]
            j = level[i]
            out[j, 0, 0] += wi * m0 * m0
            off = wi * m0 * m1
            out[j, 0, 1] += off
            out[j, 1, 0] += off
            out[j, 1, 1] += wi * m1 * m1
        return out

    return matvec, rmatvec, rmatmat, gram_intercept_pair, gram_pairs


def row_matvec(cols: np.ndarray, mv: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``(Z Lambda) u`` with row ``i``'s non-zeros ``mv[i]`` in columns ``cols[i]``."""
    k = _kernels()
    if k is None:  # pragma: no cover
        return np.einsum("ij,ij->i", mv, u[cols])
    return k[0](cols, mv, np.ascontiguousarray(u, dtype=float))


def row_rmatvec(cols: np.ndarray, mv: np.ndarray, v: np.ndarray, q: int) -> np.ndarray:
    """``(Z Lambda)' v`` (length ``q``)."""
    k = _kernels()
    if k is None:  # pragma: no cover
        return np.bincount(cols.ravel(), weights=(mv * v[:, None]).ravel(), minlength=q)
    return k[1](cols, mv, np.ascontiguousarray(v, dtype=float), q)


def row_rmatmat(cols: np.ndarray, mv: np.ndarray, V: np.ndarray, q: int) -> np.ndarray:
    """``(Z Lambda)' V`` for an ``(n, k)`` matrix ``V``, shape ``(q, k)``."""
    k = _kernels()
    if k is None:  # pragma: no cover
        return np.column_stack([row_rmatvec(cols, mv, V[:, j], q) for j in range(V.shape[1])])
    return k[2](cols, mv, np.ascontiguousarray(V, dtype=float), q)


def block_gram(mv: np.ndarray, w: np.ndarray, level: np.ndarray, s0: int, nl: int, cross=None):
    """Weighted cross-products of ``Z Lambda``'s rows for the block elimination, or None.

    Covers the two layouts the benchmarks and most alliance models have: a scalar first term
    with one other scalar effect per row whose cross block has one non-zero per row
    (patients nested in therapists), and a single term with two effects per level (a random
    intercept and slope). Returns the ``(nl, s0, s0)`` first-term blocks of
    ``(Z Lambda)' W (Z Lambda)``, the values of the cross block on ``cross``'s slots and the
    diagonal of the other term's block (all without the identity); None for other layouts
    (the caller's ``bincount`` path) or without numba. ``cross`` is a
    :class:`~alliancestats.models.pirls_block.CrossPattern` or None (one term).
    """
    k = _kernels()
    if k is None:  # pragma: no cover
        return None
    w = np.ascontiguousarray(w, dtype=float)
    if cross is None and s0 == 2 and mv.shape[1] == 2:
        return k[4](mv, w, level, nl), None, None
    if (cross is not None and s0 == 1 and mv.shape[1] == 2 and cross.one_per_row
            and cross.single_rest):
        # one non-zero per row of C: slot j is row j, so C's values are per level
        b, c, a22 = k[3](mv, w, level, cross.rest_flat, nl, cross.q2)
        return b[:, None, None], c, a22
    return None
