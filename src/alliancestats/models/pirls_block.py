"""Block elimination of the PIRLS system when the first random-effects term is block diagonal.

The PIRLS system ``A = Lambda'Z'WZ Lambda + I`` of a GLMM whose first (largest) term has
``s`` random effects per level (``s = 1`` for ``(1 | patient)``, 2 for ``(1 + session |
patient)``) splits as ``[[A11, C], [C', A22]]`` with ``A11`` block diagonal (one ``s x s``
block per level). The other terms are eliminated through the Schur complement
``S = A22 - C' A11^-1 C``. For patients nested in therapists (one therapist per patient and a
single therapist intercept) ``A22`` and ``C' A11^-1 C`` are diagonal, so ``S`` is diagonal and
the whole factorisation is a few vectorised O(rows) passes (Bates, Mächler, Bolker & Walker
2015, JSS 67(1), section 3: no fill-in for nested factors).

Everything is held in plain NumPy arrays on a fixed pattern computed once per model:
``scipy.sparse`` objects cost tens of microseconds each to construct, which at 10,000 rows is
more than the arithmetic of a whole PIRLS iteration. The ``s x s`` blocks are inverted in
closed form for ``s <= 2`` (batched LAPACK calls carry a large per-call overhead for many
tiny matrices).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from alliancestats.errors import EstimationError

__all__ = ["CrossPattern", "BlockFactor"]


class CrossPattern:
    """Fixed non-zero pattern of the cross block ``C`` (first term x the other terms).

    Parameters
    ----------
    first : ndarray, shape (n, s)
        Column of ``A11`` (``0 .. q1 - 1``) of each row's first-term effects.
    rest : ndarray, shape (n, r - s)
        Column of ``A22`` (``0 .. q2 - 1``) of each row's other effects.
    q1, q2 : int
        Sizes of the two blocks.

    Within one level of the first term all ``s`` rows of ``C`` share the same columns (the
    rows of the data touch all ``s`` effects of their level), so the slots of row ``j*s + a``
    are those of row ``j*s`` shifted by ``a`` times the row length.
    """

    def __init__(self, first: np.ndarray, rest: np.ndarray, q1: int, q2: int) -> None:
        n, s = first.shape
        self.s, self.q1, self.q2 = s, q1, q2
        keys = (first[:, :, None] * q2 + rest[:, None, :]).ravel()
        ukeys, slot = np.unique(keys, return_inverse=True)
        self.slot = slot.reshape(n, s, rest.shape[1]).astype(np.intp)
        row, col = np.divmod(ukeys, q2)
        self.row, self.col = row.astype(np.intp), col.astype(np.intp)
        self.nnz = ukeys.size
        counts = np.bincount(self.row, minlength=q1)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        self.single_rest = rest.shape[1] == 1  # A22 diagonal
        self.one_per_row = bool(np.all(counts == 1))  # then slot e is row e
        self.diagonal = self.single_rest and self.one_per_row  # S diagonal (nested)
        self.rest = rest
        self.rest_flat = np.ascontiguousarray(rest[:, 0]) if self.single_rest else None
        if not self.single_rest:
            self.a22_index = (rest[:, :, None] * q2 + rest[:, None, :]).ravel()
        a = self.row % s
        m = counts[self.row]
        self.level, self.within = self.row // s, a
        self.partner = [np.arange(self.nnz) + (b - a) * m for b in range(s)]
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """All pairs of slots in the same row of ``C`` (both orders, with themselves)."""
        if self._pairs is None:
            counts = np.diff(self.indptr)
            starts = self.indptr[:-1]
            src, dst = [], []
            for m in np.unique(counts[counts > 0]):
                base = starts[counts == m][:, None, None]
                a = np.arange(m)
                src.append((base + a[None, :, None] + 0 * a[None, None, :]).ravel())
                dst.append((base + 0 * a[None, :, None] + a[None, None, :]).ravel())
            self._pairs = (np.concatenate(src).astype(np.intp),
                           np.concatenate(dst).astype(np.intp))
        return self._pairs

    def cross_data(self, w: np.ndarray, m1: np.ndarray, rest_values: np.ndarray) -> np.ndarray:
        """Values of ``C`` for weights ``w`` and the two parts of ``Z Lambda``'s rows."""
        prod = (w[:, None, None] * m1[:, :, None] * rest_values[:, None, :]).ravel()
        return np.bincount(self.slot.ravel(), weights=prod, minlength=self.nnz)

    def a22(self, w: np.ndarray, rest_values: np.ndarray) -> np.ndarray:
        """``A22`` (its diagonal when each row has a single other effect)."""
        if self.single_rest:
            return np.bincount(self.rest[:, 0], weights=w * rest_values[:, 0] ** 2,
                               minlength=self.q2) + 1.0
        prod = (w[:, None, None] * rest_values[:, :, None] * rest_values[:, None, :]).ravel()
        A22 = np.bincount(self.a22_index, weights=prod, minlength=self.q2 * self.q2)
        A22 = A22.reshape(self.q2, self.q2)
        A22[np.diag_indices(self.q2)] += 1.0
        return A22

    def matvec(self, data: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``C x`` (``x`` a vector of length q2 or a ``(q2, k)`` matrix)."""
        if self.one_per_row:
            return data * x[self.col] if x.ndim == 1 else data[:, None] * x[self.col]
        if x.ndim == 1:
            return np.bincount(self.row, weights=data * x[self.col], minlength=self.q1)
        return np.column_stack([self.matvec(data, x[:, j]) for j in range(x.shape[1])])

    def rmatvec(self, data: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``C' y`` (``y`` a vector of length q1 or a ``(q1, k)`` matrix)."""
        if y.ndim == 1:
            return np.bincount(self.col, weights=data * y[self.row], minlength=self.q2)
        k = y.shape[1]
        keys = (self.col[:, None] * k + np.arange(k)[None, :]).ravel()
        prod = (data[:, None] * y[self.row]).ravel()
        return np.bincount(keys, weights=prod, minlength=self.q2 * k).reshape(self.q2, k)

    def dense(self, data: np.ndarray) -> np.ndarray:
        """``C`` as a dense ``(q1, q2)`` array."""
        out = np.zeros((self.q1, self.q2))
        out[self.row, self.col] = data
        return out


class _Blocks:
    """Inverse and log-determinant of ``nl`` symmetric ``s x s`` blocks (closed form s <= 2)."""

    def __init__(self, blocks: np.ndarray) -> None:
        if not np.all(np.isfinite(blocks)):
            raise EstimationError("non-finite values in the PIRLS system (extreme parameters)")
        self.nl, self.s, _ = blocks.shape
        if self.s == 1:
            b = blocks[:, 0, 0]
            if not np.all(b > 0):
                raise EstimationError("PIRLS system is not positive definite")
            self.logdet = float(np.sum(np.log(b)))
            self.inv = (1.0 / b)[:, None, None]
        elif self.s == 2:
            a, b, d = blocks[:, 0, 0], blocks[:, 0, 1], blocks[:, 1, 1]
            det = a * d - b * b
            if not (np.all(a > 0) and np.all(det > 0)):
                raise EstimationError("PIRLS system is not positive definite")
            self.logdet = float(np.sum(np.log(det)))
            inv = np.empty_like(blocks)
            inv[:, 0, 0] = d / det
            inv[:, 0, 1] = inv[:, 1, 0] = -b / det
            inv[:, 1, 1] = a / det
            self.inv = inv
        else:
            try:
                chol = np.linalg.cholesky(blocks)
            except np.linalg.LinAlgError as exc:
                raise EstimationError(f"PIRLS system is not positive definite: {exc}") from exc
            self.logdet = 2.0 * float(np.sum(np.log(np.diagonal(chol, axis1=1, axis2=2))))
            self.inv = np.linalg.inv(blocks)

    def apply(self, b1: np.ndarray) -> np.ndarray:
        """``blockdiag^-1 b1`` for a vector or a ``(q1, k)`` matrix."""
        nl, s, inv = self.nl, self.s, self.inv
        if s == 1:
            return b1 * (inv[:, 0, 0] if b1.ndim == 1 else inv[:, 0, :])
        shape = b1.shape
        x = b1.reshape(nl, s, -1)
        if s == 2:
            out = np.empty_like(x)
            out[:, 0] = inv[:, 0, 0, None] * x[:, 0] + inv[:, 0, 1, None] * x[:, 1]
            out[:, 1] = inv[:, 1, 0, None] * x[:, 0] + inv[:, 1, 1, None] * x[:, 1]
            return out.reshape(shape)
        return np.einsum("jab,jbk->jak", inv, x).reshape(shape)


class BlockFactor:
    """Factor of ``A = [[A11, C], [C', A22]]`` by eliminating the block-diagonal ``A11``.

    ``blocks`` are the ``(nl, s, s)`` diagonal blocks of ``A11``; ``pattern`` and ``cdata``
    give ``C`` (None when the first term is the only one) and ``a22`` is ``A22`` (its
    diagonal when the pattern says so).
    """

    dense = False

    def __init__(self, blocks: np.ndarray, pattern: CrossPattern | None = None,
                 cdata: np.ndarray | None = None, a22: np.ndarray | None = None) -> None:
        self.blk = _Blocks(blocks)
        self.nl, self.s = self.blk.nl, self.blk.s
        self.q1 = self.nl * self.s
        self.pattern, self.cdata = pattern, cdata
        self.q2 = 0 if pattern is None else pattern.q2
        ld = self.blk.logdet
        self.kdata = self.sdiag = self.c = None
        if self.q2:
            if not np.all(np.isfinite(a22)):
                raise EstimationError("non-finite values in the PIRLS system (extreme parameters)")
            self.kdata = kd = self._binv_cross(cdata)  # A11^-1 C on C's pattern
            pat = pattern
            if pat.diagonal:
                S = a22 - np.bincount(pat.col, weights=cdata * kd, minlength=self.q2)
                if not np.all(S > 0):
                    raise EstimationError("PIRLS system is not positive definite")
                self.sdiag = S
                ld += float(np.sum(np.log(S)))
            else:
                src, dst = pat.pairs()
                S = np.diag(a22) if a22.ndim == 1 else a22.copy()
                S -= np.bincount(pat.col[src] * self.q2 + pat.col[dst],
                                 weights=cdata[src] * kd[dst],
                                 minlength=self.q2 * self.q2).reshape(self.q2, self.q2)
                try:
                    self.c = linalg.cho_factor(S, lower=True, check_finite=False)
                except linalg.LinAlgError as exc:
                    raise EstimationError(f"PIRLS system is not positive definite: {exc}") from exc
                ld += 2.0 * float(np.sum(np.log(np.diag(self.c[0]))))
        self.logdet = ld

    @property
    def binv(self) -> np.ndarray:
        """The ``(nl, s, s)`` inverses of the diagonal blocks of ``A11``."""
        return self.blk.inv

    def _binv_cross(self, cdata: np.ndarray) -> np.ndarray:
        pat, inv = self.pattern, self.blk.inv
        if self.s == 1:
            return cdata * inv[pat.level, 0, 0]
        out = np.zeros_like(cdata)
        for b in range(self.s):
            out += inv[pat.level, pat.within, b] * cdata[pat.partner[b]]
        return out

    def apply_binv(self, b1: np.ndarray) -> np.ndarray:
        """``A11^-1 b1`` for a vector or a matrix of right-hand sides."""
        return self.blk.apply(b1)

    def schur_solve(self, b2: np.ndarray) -> np.ndarray:
        """``S^-1 b2``."""
        if self.sdiag is not None:
            return b2 / (self.sdiag if b2.ndim == 1 else self.sdiag[:, None])
        return linalg.cho_solve(self.c, b2, check_finite=False)

    def schur_inverse(self) -> np.ndarray:
        """``S^-1`` as a dense ``(q2, q2)`` array."""
        if self.sdiag is not None:
            return np.diag(1.0 / self.sdiag)
        return linalg.cho_solve(self.c, np.eye(self.q2), check_finite=False)

    def cross_dense(self) -> np.ndarray:
        """``C`` as a dense ``(q1, q2)`` array."""
        return self.pattern.dense(self.cdata)

    def solve(self, b: np.ndarray) -> np.ndarray:
        """``A^-1 b`` for a vector or a ``(q, k)`` matrix."""
        b1, b2 = b[: self.q1], b[self.q1 :]
        y1 = self.apply_binv(b1)
        if not self.q2:
            return y1
        pat = self.pattern
        x2 = self.schur_solve(b2 - pat.rmatvec(self.cdata, y1))
        x1 = y1 - self.apply_binv(pat.matvec(self.cdata, x2))
        return np.concatenate([x1, x2], axis=0)

    def ks(self) -> np.ndarray:
        """``K S^-1`` (``K = A11^-1 C``) on the pattern of ``C``.

        ``(K S^-1)[j, t] = sum_t' K[j, t'] S^-1[t', t]`` runs over the few non-zeros of row
        ``j`` of ``C`` (one for patients nested in therapists), so no dense ``q1 x q2``
        product is formed.
        """
        pat, kd = self.pattern, self.kdata
        if self.sdiag is not None:
            return kd / self.sdiag[pat.col]
        Sinv = self.schur_inverse()
        src, dst = pat.pairs()
        return np.bincount(dst, weights=kd[src] * Sinv[pat.col[src], pat.col[dst]],
                           minlength=pat.nnz)

    def diagonal_blocks(self, ks: np.ndarray | None = None) -> np.ndarray:
        """The ``(nl, s, s)`` level blocks of ``(A^-1)_11 = A11^-1 + K S^-1 K'``.

        Only the entries of ``K S^-1 K'`` within a level are needed; they are sums over the
        pattern of ``C`` (``ks`` from :meth:`ks`, computed when not given).
        """
        out = self.blk.inv.copy()
        if not self.q2:
            return out
        pat, kd = self.pattern, self.kdata
        ks = self.ks() if ks is None else ks
        for b in range(self.s):
            prod = ks * kd[pat.partner[b]]
            out[:, :, b] += np.bincount(pat.row, weights=prod,
                                        minlength=self.q1).reshape(self.nl, self.s)
        return out
