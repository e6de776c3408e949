"""Per-cell cross-products of a linear mixed model and the compressed rows they define.

A *cell* is one combination of the levels of every grouping factor of the model (for
sessions in patients in therapists: one patient). All that the LMM criterion, its
derivatives, the conditional modes and their variances need from the data are sums of
products of the columns ``M = [Z_1 ... Z_K, X, y]`` within cells (Bates, Maechler, Bolker &
Walker 2015, J Stat Softw 67(1), section 3). These sums add up over any split of the rows,
so they can be computed partition by partition (a patient whose rows lie in two partitions
is summed correctly) and combined by adding.

From the Gram matrix ``G_c = M_c' M_c`` of a cell, :func:`compressed_rows` builds at most
``k`` rows ``F_c = diag(sqrt(lambda)) V'`` (eigen-decomposition ``G_c = V diag(lambda) V'``)
with ``F_c' F_c = G_c``. ``F_c = U' M_c`` for the left singular vectors ``U`` of ``M_c``:
an orthogonal rotation of the cell's rows, under which the model keeps independent
``N(0, sigma^2)`` errors, while the rotated-away rows carry zeros in every column. The mixed
model fitted to the compressed rows with the true number of observations ``n`` is therefore
the same model (same criterion, estimates, standard errors, Satterthwaite df, conditional
modes) as on the raw rows; memory is ``O(cells x k)`` instead of ``O(rows)``.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> M = rng.normal(size=(7, 3))
>>> gram = M.T @ M
>>> rows, cell = compressed_rows(gram[None], np.array([0]))
>>> bool(np.allclose(rows.T @ rows, gram)), rows.shape[0] <= 3
(True, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "cell_gram_frame",
    "combine_cell_frames",
    "compressed_rows",
    "gram_from_frame",
    "independent_columns_from_gram",
    "pair_index",
]

_CHUNK = 50_000  # cells per eigen-decomposition batch (bounds temporary memory)


def pair_index(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the upper triangle (diagonal included) of a k x k matrix.

    Examples
    --------
    >>> [a.tolist() for a in pair_index(2)]
    [[0, 0, 1], [0, 1, 1]]
    """
    return np.triu_indices(k)


def cell_gram_frame(M: np.ndarray, keys: dict[str, np.ndarray]) -> pd.DataFrame:
    """Sums of the products ``M[:, i] * M[:, j]`` (``i <= j``) per cell of ``keys``.

    Parameters
    ----------
    M : ndarray (n, k)
        The model columns of the rows.
    keys : dict
        Name -> group label of each row, one entry per grouping factor.

    Returns
    -------
    pandas.DataFrame
        Indexed by the cells present (one index level per key), one column per product
        (``"p0"``, ``"p1"``, ...), plus ``"n"`` (rows in the cell).

    Examples
    --------
    >>> M = np.array([[1.0, 2.0], [1.0, 3.0], [1.0, 5.0]])
    >>> cell_gram_frame(M, {"g": np.array(["a", "a", "b"])}).to_numpy().tolist()
    [[2.0, 5.0, 13.0, 2.0], [1.0, 5.0, 25.0, 1.0]]
    """
    ii, jj = pair_index(M.shape[1])
    prod = M[:, ii] * M[:, jj]
    frame = pd.DataFrame(prod, columns=[f"p{t}" for t in range(len(ii))])
    frame["n"] = 1.0
    names = list(keys)
    for name in names:
        frame[f"key:{name}"] = keys[name]
    out = frame.groupby([f"key:{name}" for name in names], sort=False, dropna=False).sum()
    out.index.names = names
    return out


def combine_cell_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Add cell sums from several parts of the data (cells present in several parts add up).

    Examples
    --------
    >>> a = cell_gram_frame(np.ones((2, 1)), {"g": np.array([1, 2])})
    >>> b = cell_gram_frame(np.ones((1, 1)), {"g": np.array([2])})
    >>> combine_cell_frames([a, b])["n"].tolist()
    [1.0, 2.0]
    """
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return frames[0]
    both = pd.concat(frames)
    return both.groupby(level=list(range(both.index.nlevels)), sort=False).sum()


def gram_from_frame(values: np.ndarray, k: int) -> np.ndarray:
    """Symmetric Gram matrices (cells, k, k) from upper-triangle sums (cells, k(k+1)/2).

    Examples
    --------
    >>> gram_from_frame(np.array([[2.0, 5.0, 13.0]]), 2)[0].tolist()
    [[2.0, 5.0], [5.0, 13.0]]
    """
    ii, jj = pair_index(k)
    G = np.zeros((values.shape[0], k, k))
    G[:, ii, jj] = values
    G[:, jj, ii] = values
    return G


def compressed_rows(gram: np.ndarray, cell_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``F_c`` with ``F_c' F_c = G_c`` for every cell, and the cell of each row.

    Eigen-directions with an eigenvalue at rounding level (``<= k eps max(lambda)`` of the
    cell) are left out, so a cell has as many rows as its Gram matrix has rank.

    Parameters
    ----------
    gram : ndarray (cells, k, k)
        Symmetric positive semi-definite Gram matrices.
    cell_codes : ndarray (cells,)
        A label per cell, repeated for each of its rows in the output.

    Returns
    -------
    rows : ndarray (m, k)
    codes : ndarray (m,)
    """
    k = gram.shape[1]
    out_rows, out_codes = [], []
    for start in range(0, gram.shape[0], _CHUNK):
        G = gram[start : start + _CHUNK]
        lam, V = np.linalg.eigh(G)
        top = lam.max(axis=1, keepdims=True)
        keep = lam > k * np.finfo(float).eps * np.maximum(top, 0.0)
        F = np.sqrt(np.where(keep, lam, 0.0))[:, :, None] * np.swapaxes(V, 1, 2)
        out_rows.append(F[keep])
        out_codes.append(np.repeat(cell_codes[start : start + _CHUNK], keep.sum(axis=1)))
    return np.concatenate(out_rows), np.concatenate(out_codes)


def independent_columns_from_gram(xx: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Columns kept when later columns that are linear in earlier ones are dropped.

    The same rule as the in-memory design (a column is aliased when the norm of its
    residual on the columns before it, after scaling every column to unit norm, is at
    most ``tol``), computed from ``X'X`` by a Cholesky factorisation that skips aliased
    columns. From the Gram matrix the residual norm is accurate to about 1e-8, well below
    ``tol``.

    Examples
    --------
    >>> X = np.column_stack([np.ones(4), [0.0, 1, 2, 3], [0.0, 2, 4, 6]])
    >>> independent_columns_from_gram(X.T @ X)
    [0, 1]
    """
    p = xx.shape[0]
    d = np.sqrt(np.clip(np.diag(xx), 0.0, None))
    zero = d == 0
    d[zero] = 1.0
    S = xx / np.outer(d, d)
    kept: list[int] = []
    L = np.zeros((p, p))  # Cholesky factor of the kept columns' Gram matrix
    for j in range(p):
        if zero[j]:
            continue
        coef = np.linalg.solve(L[np.ix_(kept, kept)], S[kept, j]) if kept else np.zeros(0)
        resid2 = S[j, j] - float(coef @ coef)
        if resid2 > tol * tol:
            L[j, kept] = coef
            L[j, j] = np.sqrt(resid2)
            kept.append(j)
    return kept
