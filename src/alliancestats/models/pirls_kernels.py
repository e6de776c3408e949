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
    def block_gram(mv, w, level, s0, nl, slot, nnz, rest, q2, single):
        n, r = mv.shape
        nr = r - s0
        blocks = np.zeros((nl, s0, s0))
        cdata = np.zeros(nnz)
        a22d = np.zeros(q2 if single else 0)
        a22 = np.zeros((0, 0) if single else (q2, q2))
        for i in range(n):
            wi = w[i]
            j = level[i]
            for a in range(s0):
                wa = wi * mv[i, a]
                for b in range(s0):
                    blocks[j, a, b] += wa * mv[i, b]
                for c in range(nr):
                    cdata[slot[i, a, c]] += wa * mv[i, s0 + c]
            if nr > 0:
                if single:
                    a22d[rest[i, 0]] += wi * mv[i, s0] * mv[i, s0]
                else:
                    for c in range(nr):
                        wc = wi * mv[i, s0 + c]
                        for d in range(nr):
                            a22[rest[i, c], rest[i, d]] += wc * mv[i, s0 + d]
        return blocks, cdata, a22d, a22

    return matvec, rmatvec, rmatmat, block_gram


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
    """Weighted cross-products of ``Z Lambda``'s rows for the block elimination, or None
    without numba.

    Returns the ``(nl, s0, s0)`` first-term blocks of ``(Z Lambda)' W (Z Lambda)``, the
    values of the cross block on ``cross``'s slots and the other terms' block (its diagonal
    when ``cross.single_rest``), all without the identity; ``cross`` is a
    :class:`~alliancestats.models.pirls_block.CrossPattern` or None (one term).
    """
    k = _kernels()
    if k is None:  # pragma: no cover
        return None
    w = np.ascontiguousarray(w, dtype=float)
    if cross is None:
        empty = np.zeros((mv.shape[0], s0, 0), dtype=np.intp)
        out = k[3](mv, w, level, s0, nl, empty, 0, np.zeros((mv.shape[0], 0), np.intp), 0, True)
        return out[0], None, None
    blocks, cdata, a22d, a22 = k[3](mv, w, level, s0, nl, cross.slot, cross.nnz, cross.rest,
                                    cross.q2, cross.single_rest)
    return blocks, cdata, a22d if cross.single_rest else a22
