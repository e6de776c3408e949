"""Profiled REML/ML criterion of a linear mixed model on sufficient statistics.

The model is ``y = X beta + Z b + e`` with ``b = Lambda(theta) u``, ``u ~ N(0, sigma^2 I)``,
``e ~ N(0, sigma^2 I)`` (Bates, Maechler, Bolker & Walker 2015, J Stat Softw 67(1)).
For a given relative covariance factor ``theta`` the criterion needs the Cholesky factor of

    [ Lambda' Z'Z Lambda + I   Lambda' Z'[X y] ]
    [ [X y]' Z Lambda          [X y]'[X y]     ]

whose last diagonal element gives the penalised residual sum of squares ``r^2(theta)``.

Layout used here. The random term with the most levels (lme4's first term, ``A``, e.g.
patients) has a block-diagonal ``Z_A'Z_A`` (one ``q_A x q_A`` block per level); its Cholesky
factor is computed for all levels at once. The other terms (``R``, e.g. therapists; for crossed
designs e.g. the second crossed factor) enter through the Schur complement
``S = Lambda_R' Z_R'Z_R Lambda_R + I - W'W`` with ``W = L_A^{-1} Lambda_A' Z_A'Z_R Lambda_R``:

* *nested path* -- exactly one other term and every level of ``A`` lies inside one level of
  it (sessions in patients in therapists): ``S`` is block diagonal, one small block per level,
  and one evaluation costs O(levels), independent of the number of rows;
* *chain path* -- three or more terms, each nested in the next (patients in therapists in
  clinics): the terms are eliminated in order, every Schur complement stays block diagonal,
  and one evaluation again costs O(levels) (used for the criterion; the final conditional
  modes and variances come from the general path once);
* *general path* -- crossed or otherwise non-nested designs: ``W`` is sparse, ``S`` is dense
  (exact, slower; fine up to a few thousand levels in the non-``A`` terms).

All data enter once, through per-level sums (``Z'Z``, ``Z'X``, ``Z'y``, ``X'X``, ``X'y``,
``y'y``) computed in :class:`LmmProblem`'s constructor.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from alliancestats.models.covariance import ThetaLayout
from alliancestats.models.design import RandomBlock
from alliancestats.models.lmm_gradient import nested_gradient
from alliancestats.models.lmm_kernels import (
    crossed_kernel,
    group_first,
    nested_criterion,
    nested_deviance_parts,
    nested_kernel,
)

__all__ = ["Factorization", "LmmProblem"]


@dataclass
class Factorization:
    """Pieces of the Cholesky factor for one θ."""

    logdet_l: float  # log |L_theta|^2
    chol_t: np.ndarray  # lower Cholesky factor of the (p+1)x(p+1) Schur complement
    lam: list[np.ndarray]
    la: np.ndarray  # (qA, qA, nA) lower factors, component first
    la_inv: np.ndarray
    ra: np.ndarray  # (qA, p+1, nA) = L_A^{-1} Lambda_A' Z_A'[X y]
    w: object  # nested: (qA, qR, nA) blocks; general: sparse (nA qA, qRest)
    ls: np.ndarray | None  # nested: (qR, qR, nR) factors; general: dense lower factor
    ls_inv: np.ndarray | None
    r2: np.ndarray | None  # (qR, p+1, nR) or (qRest, p+1)

    @property
    def p(self) -> int:
        return self.chol_t.shape[0] - 1

    @property
    def pwrss(self) -> float:
        """Penalised weighted residual sum of squares r^2(theta)."""
        return float(self.chol_t[-1, -1] ** 2)

    @property
    def logdet_x(self) -> float:
        """log |R_X|^2 (REML term)."""
        p = self.p
        return float(2.0 * np.log(np.diag(self.chol_t)[:p]).sum()) if p else 0.0


_EMPTY2 = np.zeros((1, 1))
_EMPTY3 = np.zeros((0, 1, 1))
_EMPTY_INT = np.zeros(0, dtype=np.intp)


def _binsum(codes: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=n)


def _block_sums(codes: np.ndarray, left: np.ndarray, right: np.ndarray, n: int) -> np.ndarray:
    """Per-level sums of left' right, component first: shape (left.q, right.q, n)."""
    out = np.empty((left.shape[1], right.shape[1], n))
    for a in range(left.shape[1]):
        for b in range(right.shape[1]):
            out[a, b] = _binsum(codes, left[:, a] * right[:, b], n)
    return out


# Small matrices for many groups are stored component first, shape (q1, q2, n): each entry is
# a contiguous vector over groups, so products are a few vectorised operations.
def _quad(l1: np.ndarray, X: np.ndarray, l2: np.ndarray) -> np.ndarray:
    """out[:, :, g] = l1' X[:, :, g] l2 for every group g."""
    q1, q2, n = X.shape
    K = np.kron(l1.T, l2.T)
    return (K @ X.reshape(q1 * q2, n)).reshape(l1.shape[1], l2.shape[1], n)


def _left(lam: np.ndarray, X: np.ndarray) -> np.ndarray:
    """out[:, :, g] = lam' X[:, :, g]."""
    return np.tensordot(lam.T, X, axes=(1, 0))


def _bmm(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """out[:, :, g] = A[:, :, g] @ B[:, :, g]."""
    out = A[:, 0, None, :] * B[0][None]
    for b in range(1, A.shape[1]):
        out = out + A[:, b, None, :] * B[b][None]
    return out


def _bmm_t(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """out[:, :, g] = A[:, :, g]' @ B[:, :, g]."""
    out = A[0][:, None, :] * B[0][None]
    for a in range(1, A.shape[0]):
        out = out + A[a][:, None, :] * B[a][None]
    return out


def _gram(R: np.ndarray) -> np.ndarray:
    """sum over groups of R[:, :, g]' R[:, :, g] -> (q2, q2)."""
    out = np.zeros((R.shape[1], R.shape[1]))
    for a in range(R.shape[0]):
        out += R[a] @ R[a].T
    return out


def _chol(M: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of M[:, :, g] (closed form for q <= 2)."""
    q = M.shape[0]
    if q == 1:
        return np.sqrt(M)
    if q == 2:
        out = np.zeros_like(M)
        l11 = np.sqrt(M[0, 0])
        l21 = M[1, 0] / l11
        out[0, 0] = l11
        out[1, 0] = l21
        out[1, 1] = np.sqrt(M[1, 1] - l21 * l21)
        return out
    return np.ascontiguousarray(np.moveaxis(np.linalg.cholesky(np.moveaxis(M, 2, 0)), 0, 2))


def _tri_inv(L: np.ndarray) -> np.ndarray:
    """Inverses of lower-triangular L[:, :, g] (closed form for q <= 2)."""
    q = L.shape[0]
    if q == 1:
        return 1.0 / L
    if q == 2:
        out = np.zeros_like(L)
        out[0, 0] = 1.0 / L[0, 0]
        out[1, 1] = 1.0 / L[1, 1]
        out[1, 0] = -L[1, 0] * out[0, 0] * out[1, 1]
        return out
    return np.ascontiguousarray(np.moveaxis(np.linalg.inv(np.moveaxis(L, 2, 0)), 0, 2))


def _logdiag(L: np.ndarray) -> float:
    """Sum of the logs of all diagonal elements (each >= 1 here, so the product is safe)."""
    prod = L[0, 0].copy()
    for a in range(1, L.shape[0]):
        prod *= L[a, a]
    return float(np.log(prod).sum())


def _chol_schur(T: np.ndarray) -> np.ndarray:
    """Cholesky factor of the [X y] Schur complement (tolerating a numerically perfect fit)."""
    try:
        return np.linalg.cholesky(T)
    except np.linalg.LinAlgError:
        T = T.copy()
        T[-1, -1] += 1e-300 + 1e-14 * abs(T[-1, -1])  # r^2 numerically zero
        return np.linalg.cholesky(T)


class LmmProblem:
    """Sufficient statistics of a linear mixed model and its profiled criterion.

    Parameters
    ----------
    X : ndarray (n, p)
    y : ndarray (n,)
    blocks : list of RandomBlock
        Random terms in lme4's order; the first has the most levels.
    nobs : int, optional
        Number of observations when the rows are a compression with the same per-level
        cross-products (default: the number of rows).
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        blocks: list[RandomBlock],
        allow_chain: bool = True,
        weights: np.ndarray | None = None,
        nobs: int | None = None,
    ) -> None:
        n, p = X.shape
        # nobs: observations the rows stand for (compressed per-cell rows, lmm_dask)
        self.n, self.p = (n if nobs is None else int(nobs)), p
        # prior weights (residual variance sigma^2 / w_i): every row of X, Z and y is
        # multiplied by sqrt(w_i), and the criterion gains -sum(log w_i) (lme4's ldW)
        self.weights = None if weights is None else np.asarray(weights, dtype=float)
        self.log_w_sum = 0.0
        self._sqrt_w = None
        self.raw_blocks = blocks
        if self.weights is not None:
            self._sqrt_w = np.sqrt(self.weights)
            self.log_w_sum = float(np.log(self.weights).sum())
            X = X * self._sqrt_w[:, None]
            blocks = [dataclasses.replace(b, Z=b.Z * self._sqrt_w[:, None]) for b in blocks]
        self.X = X
        self.blocks = blocks
        self.layout = ThetaLayout.from_sizes([b.q for b in blocks])
        # everything that does not involve the response is computed once (refits reuse it)
        self._x_pinv = np.linalg.pinv(X) if p else np.zeros((0, n))
        self.xx = X.T @ X
        A = blocks[0]
        self.nA, self.qA = A.nlevels, A.q
        self.aa = _block_sums(A.codes, A.Z, A.Z, self.nA)
        self.ax = _block_sums(A.codes, A.Z, X, self.nA)
        rest = blocks[1:]
        self.rest = rest
        self.nested = False
        self.chain = False
        if rest:
            self._setup_rest(allow_chain)
        self._kernel = self._criterion_kernel = None
        if not rest or self.nested:
            self._kernel = nested_kernel()
            self._criterion_kernel = nested_criterion()
            self._aa_g = group_first(self.aa)
            if self.nested:
                self._eb_g = group_first(self.ent_b[0])
                self._rr_g = group_first(self.rr_diag[0])
        self._set_response(y)

    def with_response(self, y: np.ndarray) -> LmmProblem:
        """The same problem for another response (sums of X and Z are shared, not copied)."""
        new = copy.copy(self)
        new._set_response(np.asarray(y, dtype=float))
        return new

    def _set_response(self, y: np.ndarray) -> None:
        """Sums involving the response: X'y, Z'y (per level) and y'y."""
        X, p = self.X, self.p
        if self._sqrt_w is not None:
            y = y * self._sqrt_w
        # residualise y on X (exactly compensated in beta) to avoid cancellation in y'y
        self.beta_shift = self._x_pinv @ y
        if p:
            y = y - X @ self.beta_shift
        xy = X.T @ y
        self.xy_xy = np.empty((p + 1, p + 1))
        self.xy_xy[:p, :p] = self.xx
        self.xy_xy[:p, p] = self.xy_xy[p, :p] = xy
        self.xy_xy[p, p] = y @ y
        A = self.blocks[0]
        ay = _block_sums(A.codes, A.Z, y[:, None], self.nA)
        self.axy = np.concatenate([self.ax, ay], axis=1)
        if self._kernel is not None:
            self._axy_g = group_first(self.axy)
        if not self.rest:
            return
        self.rxy = [
            np.concatenate([rx, _block_sums(b.codes, b.Z, y[:, None], b.nlevels)], axis=1)
            for rx, b in zip(self.rx, self.rest, strict=True)
        ]
        if self._kernel is not None:
            self._rxy_g = group_first(self.rxy[0])
        if self.chain:
            self.chain_xy = [self.axy, *self.rxy]
        elif not self.nested:
            self.zxy_rest = np.concatenate(
                [np.moveaxis(r, 2, 0).reshape(-1, p + 1) for r in self.rxy], axis=0
            )

    def _setup_rest(self, allow_chain: bool) -> None:
        """Response-free sums of the terms after the first, and the path (nested, chain,
        general) that factorises them."""
        A, rest = self.blocks[0], self.rest
        # entries: combinations (level of A, level of R_k) that occur in the data
        self.ent_i, self.ent_j, self.ent_b = [], [], []
        for blk in rest:
            key = A.codes.astype(np.int64) * blk.nlevels + blk.codes
            uniq, inv = np.unique(key, return_inverse=True)
            self.ent_i.append((uniq // blk.nlevels).astype(np.intp))
            self.ent_j.append((uniq % blk.nlevels).astype(np.intp))
            self.ent_b.append(_block_sums(inv.ravel(), A.Z, blk.Z, len(uniq)))
        self.rr_diag = [_block_sums(b.codes, b.Z, b.Z, b.nlevels) for b in rest]
        self.rx = [_block_sums(b.codes, b.Z, self.X, b.nlevels) for b in rest]
        self.nested = len(rest) == 1 and len(self.ent_i[0]) == self.nA
        if self.nested:
            # indicator (levels of R) x (levels of A) to sum entries per level of R
            m = self.nA
            self.agg = sp.csr_matrix(
                (np.ones(m), (self.ent_j[0], np.arange(m))), shape=(rest[0].nlevels, m)
            )
            return
        if allow_chain:
            self._setup_chain()
            if self.chain:
                return
        # general path: dense Z_R'Z_R and index patterns of the sparse W
        self.r_sizes = [b.nlevels * b.q for b in rest]
        self.r_off = np.concatenate([[0], np.cumsum(self.r_sizes)]).astype(int)
        qr = int(self.r_off[-1])
        self.q_rest = qr
        zz = np.zeros((qr, qr))
        for k, b in enumerate(rest):
            o = self.r_off[k]
            for j in range(b.nlevels):
                zz[o + j * b.q : o + (j + 1) * b.q, o + j * b.q : o + (j + 1) * b.q] = self.rr_diag[
                    k
                ][:, :, j]
            for m in range(k + 1, len(rest)):
                c = rest[m]
                key = b.codes.astype(np.int64) * c.nlevels + c.codes
                uniq, inv = np.unique(key, return_inverse=True)
                blocks_km = _block_sums(inv.ravel(), b.Z, c.Z, len(uniq))
                jk, jm = uniq // c.nlevels, uniq % c.nlevels
                om = self.r_off[m]
                for e in range(len(uniq)):
                    r0 = o + jk[e] * b.q
                    c0 = om + jm[e] * c.q
                    zz[r0 : r0 + b.q, c0 : c0 + c.q] = blocks_km[:, :, e]
                    zz[c0 : c0 + c.q, r0 : r0 + b.q] = blocks_km[:, :, e].T
        self.zz_rest = zz
        rows, cols = [], []
        for k, b in enumerate(rest):
            ii, jj = self.ent_i[k], self.ent_j[k]
            a_idx = np.arange(self.qA)[:, None, None]
            b_idx = np.arange(b.q)[None, :, None]
            rows.append((ii[None, None, :] * self.qA + a_idx + 0 * b_idx).ravel())
            cols.append((self.r_off[k] + jj[None, None, :] * b.q + b_idx + 0 * a_idx).ravel())
        self.w_rows = np.concatenate(rows)
        self.w_cols = np.concatenate(cols)
        self._scalar_general = None
        if self.qA == 1 and all(b.q == 1 for b in rest) and crossed_kernel() is not None:
            # scalar terms (crossed random intercepts): W'W and W'r need only the pattern E
            # of level pairs, as a CSR matrix over the levels of A
            vals = np.concatenate([e.ravel() for e in self.ent_b])
            E = sp.csr_matrix((vals, (self.w_rows, self.w_cols)), shape=(self.nA, qr))
            E.sum_duplicates()
            self._scalar_general = (E.indptr, E.indices, E.data)

    def _setup_chain(self) -> None:
        """Detect a chain of nested terms (patients in therapists in clinics, ...).

        Term t is nested in term u (t < u) when every level of t lies inside one level of u.
        If that holds for every pair, eliminating the terms in order keeps every Schur
        complement block diagonal, so the criterion, the conditional modes and their
        variances cost O(levels) however deep the hierarchy is (:meth:`_factorize_chain`).
        """
        self.chain = False
        rest = self.rest
        if any(len(self.ent_i[k]) != self.nA for k in range(len(rest))):
            return
        blocks = self.blocks
        maps: dict[tuple[int, int], np.ndarray] = {}
        cross: dict[tuple[int, int], np.ndarray] = {}
        for u in range(1, len(blocks)):
            maps[(0, u)] = self.ent_j[u - 1]
            cross[(0, u)] = self.ent_b[u - 1]
        for t in range(1, len(blocks)):
            for u in range(t + 1, len(blocks)):
                b, c = blocks[t], blocks[u]
                key = b.codes.astype(np.int64) * c.nlevels + c.codes
                uniq, inv = np.unique(key, return_inverse=True)
                if len(uniq) != b.nlevels:
                    return
                maps[(t, u)] = (uniq % c.nlevels).astype(np.intp)
                cross[(t, u)] = _block_sums(inv.ravel(), b.Z, c.Z, len(uniq))
        self.chain = True
        self.chain_maps = maps
        self.chain_cross = cross
        self.chain_agg = {
            (t, u): sp.csr_matrix(
                (np.ones(len(m)), (m, np.arange(len(m)))), shape=(blocks[u].nlevels, len(m))
            )
            for (t, u), m in maps.items()
        }
        self.chain_diag = [self.aa, *self.rr_diag]

    def _factorize_chain(self, theta: np.ndarray, keep: bool = False) -> Factorization:
        """Cholesky pieces on a nested chain; ``keep`` stores what modes and variances need."""
        lam = self.layout.factors(theta)
        K = len(self.blocks)
        P = self.p + 1
        q = [b.q for b in self.blocks]
        n = [b.nlevels for b in self.blocks]
        D = [_quad(lam[t], self.chain_diag[t], lam[t]) for t in range(K)]
        for t in range(K):
            for a in range(q[t]):
                D[t][a, a] += 1.0
        X = [_left(lam[t], self.chain_xy[t]) for t in range(K)]
        C = {tu: _quad(lam[tu[0]], c, lam[tu[1]]) for tu, c in self.chain_cross.items()}
        T = self.xy_xy.copy()
        logdet = 0.0
        pieces: dict[str, list] = {"Li": [], "r": [], "W": []}
        for t in range(K):
            L = _chol(D[t])
            Li = _tri_inv(L)
            r = _bmm(Li, X[t])
            T -= _gram(r)
            logdet += 2.0 * _logdiag(L)
            W = {u: _bmm(Li, C[(t, u)]) for u in range(t + 1, K)}
            if keep:
                pieces["Li"].append(Li)
                pieces["r"].append(r)
                pieces["W"].append(W)
            for u in range(t + 1, K):
                G = self.chain_agg[(t, u)]
                wtw = _bmm_t(W[u], W[u]).reshape(q[u] * q[u], -1)
                D[u] -= (G @ wtw.T).T.reshape(q[u], q[u], n[u])
                wtr = _bmm_t(W[u], r).reshape(q[u] * P, -1)
                X[u] -= (G @ wtr.T).T.reshape(q[u], P, n[u])
                for v in range(u + 1, K):
                    wtv = _bmm_t(W[u], W[v]).reshape(q[u] * q[v], -1)
                    C[(u, v)] -= (G @ wtv.T).T.reshape(q[u], q[v], n[u])
        T = 0.5 * (T + T.T)
        ct = _chol_schur(T)
        return Factorization(logdet, ct, lam, None, None, None, pieces, None, None, None)

    def _chain_modes(self, f: Factorization, coef: np.ndarray) -> list[np.ndarray]:
        """Back-substitution L' u = c through the chain, last term first."""
        pc = f.w
        K = len(self.blocks)
        u: list[np.ndarray | None] = [None] * K
        for t in range(K - 1, -1, -1):
            rhs = np.tensordot(pc["r"][t], coef, axes=(1, 0))  # (q_t, n_t)
            for v, Wtv in pc["W"][t].items():
                rhs = rhs - np.einsum("abn,bn->an", Wtv, u[v][:, self.chain_maps[(t, v)]])
            u[t] = np.einsum("ban,bn->an", pc["Li"][t], rhs)
        return [x.T for x in u]

    def _chain_cond_var(self, f: Factorization) -> list[np.ndarray]:
        """Diagonal blocks of P^{-1} by the Takahashi recursion along the chain.

        With L_tt = L_t and L_vt = W_tv' (v > t): Sigma_vt = -sum_w Sigma_vw W_tw' L_t^{-1} and
        Sigma_tt = L_t^{-T} (L_t^{-1} - sum_v W_tv Sigma_vt), all at the levels of term t.
        """
        pc = f.w
        K = len(self.blocks)
        S: dict[tuple[int, int], np.ndarray] = {}  # S[(t, u)], t <= u, at levels of t
        for t in range(K - 1, -1, -1):
            Li = pc["Li"][t]
            Wt = pc["W"][t]
            later = sorted(Wt)

            def at_t(u: int, v: int, t: int = t) -> np.ndarray:
                # Sigma_uv (u, v > t) evaluated at the levels of term t
                if u <= v:
                    return S[(u, v)][:, :, self.chain_maps[(t, u)]]
                return np.swapaxes(S[(v, u)][:, :, self.chain_maps[(t, v)]], 0, 1)

            sig_vt = {}
            for v in later:
                acc = None
                for w in later:
                    term = _bmm(at_t(v, w), np.swapaxes(Wt[w], 0, 1))
                    acc = term if acc is None else acc + term
                sig_vt[v] = -_bmm(acc, Li)  # (q_v, q_t, n_t)
            for v in later:
                S[(t, v)] = np.swapaxes(sig_vt[v], 0, 1)
            inner = Li.copy()
            for v in later:
                inner = inner - _bmm(Wt[v], sig_vt[v])
            S[(t, t)] = _bmm_t(Li, inner)
        return [np.moveaxis(S[(t, t)], 2, 0) for t in range(K)]

    # ------------------------------------------------------------------ evaluation
    def factorize(self, theta: np.ndarray, full: bool = False) -> Factorization:
        """Cholesky pieces for one θ (O(levels) on the nested paths).

        With ``full=False`` a nested chain of three or more terms keeps only what the
        criterion needs (``logdet_l``, ``chol_t``); ``full=True`` also keeps the pieces for
        conditional modes and variances.
        """
        theta = np.asarray(theta, dtype=float)
        if self._kernel is not None and not full:
            return self._factorize_compiled(theta)
        if not full and getattr(self, "_scalar_general", None) is not None:
            return self._factorize_scalar_general(theta)
        if self.chain:
            return self._factorize_chain(theta, keep=full)
        lam = self.layout.factors(theta)
        lamA = lam[0]
        M = _quad(lamA, self.aa, lamA)
        for a in range(self.qA):
            M[a, a] += 1.0
        la = _chol(M)
        la_inv = _tri_inv(la)
        # L_A^{-1} Lambda_A' applied at once: (L^{-1} Lambda')[a, b] = sum_c L^{-1}[a, c] Lambda[b, c]
        qA = self.qA
        li_lam = np.zeros_like(la_inv)
        for a in range(qA):
            for b in range(qA):
                for c in range(b + 1):  # Lambda is lower triangular
                    if lamA[b, c] != 0.0:
                        li_lam[a, b] += la_inv[a, c] * lamA[b, c]
        ra = _bmm(li_lam, self.axy)  # (qA, P, nA)
        T = self.xy_xy - _gram(ra)
        logdet = 2.0 * _logdiag(la)
        w = ls = ls_inv = r2 = None
        P = self.p + 1
        if self.rest:
            ws = []
            for k in range(len(self.rest)):
                G = _quad(lamA, self.ent_b[k], lam[k + 1])  # (qA, qk, m)
                ii = self.ent_i[k]
                li = la_inv if self.nested else la_inv[:, :, ii]
                ws.append(_bmm(li, G))
            if self.nested:
                blk = self.rest[0]
                qR, nR = blk.q, blk.nlevels
                lamk = lam[1]
                w = ws[0]
                D = _quad(lamk, self.rr_diag[0], lamk)
                wtw = _bmm_t(w, w).reshape(qR * qR, -1)  # (qR*qR, m)
                D -= (self.agg @ wtw.T).T.reshape(qR, qR, nR)
                for a in range(qR):
                    D[a, a] += 1.0
                ls = _chol(D)
                ls_inv = _tri_inv(ls)
                wtr = _bmm_t(w, ra).reshape(qR * P, -1)  # entries line up with levels of A
                rhs = _left(lamk, self.rxy[0]) - (self.agg @ wtr.T).T.reshape(qR, P, nR)
                r2 = _bmm(ls_inv, rhs)
                T = T - _gram(r2)
                logdet += 2.0 * _logdiag(ls)
            else:
                vals = np.concatenate([x.ravel() for x in ws])
                w = sp.csr_matrix(
                    (vals, (self.w_rows, self.w_cols)), shape=(self.nA * self.qA, self.q_rest)
                )
                lam_r = sp.block_diag(
                    [sp.kron(sp.identity(b.nlevels), lam[k + 1]) for k, b in enumerate(self.rest)]
                ).tocsr()
                S = lam_r.T @ (lam_r.T @ self.zz_rest).T  # Lambda' ZZ Lambda (zz symmetric)
                S = np.asarray(S)
                S[np.diag_indices_from(S)] += 1.0
                S -= (w.T @ w).toarray()
                ls = np.linalg.cholesky(S)
                ra_rows = np.moveaxis(ra, 2, 0).reshape(-1, P)  # row i*qA + a
                rhs = lam_r.T @ self.zxy_rest - w.T @ ra_rows
                r2 = sla.solve_triangular(ls, rhs, lower=True)
                T = T - r2.T @ r2
                logdet += 2.0 * np.log(np.diag(ls)).sum()
        T = 0.5 * (T + T.T)
        ct = _chol_schur(T)
        return Factorization(logdet, ct, lam, la, la_inv, ra, w, ls, ls_inv, r2)

    def _factorize_compiled(self, theta: np.ndarray) -> Factorization:
        """``logdet_l`` and ``chol_t`` only, from the compiled kernel (one or two nested terms)."""
        lam = self.layout.factors(theta)
        if self.nested:
            lam_r, rr, rxy, eb, parent = lam[1], self._rr_g, self._rxy_g, self._eb_g, self.ent_j[0]
        else:
            lam_r, rr, rxy = _EMPTY2, _EMPTY3, _EMPTY3
            eb, parent = _EMPTY3, _EMPTY_INT
        logdet, T = self._kernel(lam[0], self._aa_g, self._axy_g, self.xy_xy, lam_r, rr, rxy, eb,
                                 parent)
        if not np.isfinite(logdet):
            raise np.linalg.LinAlgError("a random-effects block is not positive definite")
        return Factorization(logdet, _chol_schur(T), lam, None, None, None, None, None, None, None)

    def _factorize_scalar_general(self, theta: np.ndarray) -> Factorization:
        """``logdet_l`` and ``chol_t`` for crossed (non-nested) scalar terms.

        With ``c_i = t_A^2 / (1 + t_A^2 (Z_A'Z_A)_i)`` and ``d`` the θ of every level of the
        other terms: ``S = d d' o (Z_R'Z_R - E' diag(c) E) + I`` and the right-hand side
        ``d o (Z_R'[X y] - E' diag(c) Z_A'[X y])``, where ``E`` holds the sums of ``Z_A Z_R``
        over the rows of each pair of levels (compiled sums over the pairs that occur).
        """
        lam = self.layout.factors(theta)
        tA = theta[0]
        aa = self.aa[0, 0]
        m = 1.0 + tA * tA * aa
        c = tA * tA / m
        d = np.concatenate(
            [np.full(b.nlevels, theta[k + 1]) for k, b in enumerate(self.rest)]
        )
        axy = self.axy[0].T  # (nA, P)
        indptr, indices, data = self._scalar_general
        G, B = crossed_kernel()(indptr, indices, data, c, axy, self.q_rest)
        S = np.outer(d, d) * (self.zz_rest - G)
        S[np.diag_indices_from(S)] += 1.0
        ls = np.linalg.cholesky(S)
        rhs = d[:, None] * (self.zxy_rest - B)
        r2 = sla.solve_triangular(ls, rhs, lower=True)
        T = self.xy_xy - axy.T @ (c[:, None] * axy) - r2.T @ r2
        logdet = float(np.log(m).sum() + 2.0 * np.log(np.diag(ls)).sum())
        ct = _chol_schur(0.5 * (T + T.T))
        return Factorization(logdet, ct, lam, None, None, None, None, None, None, None)

    def criterion(self, theta: np.ndarray, reml: bool) -> float:
        """Profiled deviance: REML criterion or -2 log-likelihood."""
        if self._criterion_kernel is not None:
            return self._compiled_criterion(np.asarray(theta, dtype=float), reml)
        try:
            with np.errstate(invalid="raise", divide="raise"):
                f = self.factorize(theta)
        except (np.linalg.LinAlgError, FloatingPointError, ValueError):
            return np.inf
        return self.criterion_from(f, reml)

    def _compiled_args(self) -> tuple:
        """The arrays the compiled kernels take after θ (one or two nested terms)."""
        lay = self.layout
        if self.nested:
            rows_r, cols_r = lay.rows[1], lay.cols[1]
            rr, rxy, eb, parent = self._rr_g, self._rxy_g, self._eb_g, self.ent_j[0]
        else:
            rows_r = cols_r = _EMPTY_INT
            rr, rxy, eb, parent = _EMPTY3, _EMPTY3, _EMPTY3, _EMPTY_INT
        return (lay.rows[0], lay.cols[0], rows_r, cols_r, self._aa_g, self._axy_g,
                self.xy_xy, rr, rxy, eb, parent)

    def _compiled_criterion(self, theta: np.ndarray, reml: bool) -> float:
        """The criterion in one compiled call (one or two nested terms): no Python work
        per evaluation besides the call itself."""
        return float(self._criterion_kernel(theta, *self._compiled_args(), self.n, reml,
                                            self.log_w_sum))

    @property
    def has_gradient(self) -> bool:
        """Whether :meth:`criterion_gradient` is available (one or two nested terms)."""
        return self._criterion_kernel is not None and nested_gradient() is not None

    def gradient_parts(self, theta: np.ndarray, reml: bool, want_cov: bool = False) -> tuple:
        """``(log det, r^2, d log det, d r^2, (R_X'R_X)^{-1}, its Jacobian)`` at θ from the
        compiled gradient kernel (log det as in :meth:`deviance_parts`); ``None`` where a
        block is not positive definite."""
        out = nested_gradient()(np.ascontiguousarray(theta, dtype=float), *self._compiled_args(), bool(reml),
                                bool(want_cov))
        return out[1:] if out[0] else None

    def criterion_gradient(self, theta: np.ndarray, reml: bool) -> tuple[float, np.ndarray]:
        """The profiled criterion and its exact gradient in θ (``inf`` and zeros outside
        the feasible region); needs :attr:`has_gradient`."""
        parts = self.gradient_parts(theta, reml)
        if parts is None or not parts[1] > 0.0:
            return np.inf, np.zeros(len(theta))
        logdet, r2, g_ld, g_r2 = parts[:4]
        nu = self.n - self.p if reml else self.n
        value = logdet + nu * (1.0 + np.log(2.0 * np.pi * r2 / nu)) - self.log_w_sum
        return float(value), g_ld + (nu / r2) * g_r2

    def deviance_parts(self, theta: np.ndarray, reml: bool) -> tuple[float, float, np.ndarray]:
        """``(log|L|^2 [+ log|R_X|^2 under REML], r^2, (R_X'R_X)^{-1})`` at θ: what the
        deviance at any σ and Var(β) need (the Satterthwaite derivatives)."""
        theta = np.asarray(theta, dtype=float)
        if self._criterion_kernel is not None:
            logdet, r2, cov = nested_deviance_parts()(theta, *self._compiled_args(), reml)
            if not np.isfinite(logdet):
                raise np.linalg.LinAlgError("a random-effects block is not positive definite")
            return float(logdet), float(r2), cov
        f = self.factorize(theta)
        p = self.p
        lx_inv = np.linalg.inv(f.chol_t[:p, :p])
        logdet = f.logdet_l + (f.logdet_x if reml else 0.0)
        return logdet, f.pwrss, lx_inv.T @ lx_inv

    def criterion_from(self, f: Factorization, reml: bool) -> float:
        n, p = self.n, self.p
        r2 = f.pwrss
        if reml:
            nmp = n - p
            return float(f.logdet_l + f.logdet_x + nmp * (1.0 + np.log(2.0 * np.pi * r2 / nmp))
                         - self.log_w_sum)
        return float(f.logdet_l + n * (1.0 + np.log(2.0 * np.pi * r2 / n)) - self.log_w_sum)

    def deviance_vp(self, theta: np.ndarray, sigma: float, reml: bool) -> float:
        """Deviance at (θ, σ) without profiling σ out (lmerTest's ``devfun_vp``)."""
        f = self.factorize(theta)
        n, p = self.n, self.p
        s2 = sigma * sigma
        if reml:
            return float(f.logdet_l + f.logdet_x + (n - p) * np.log(2 * np.pi * s2) + f.pwrss / s2
                         - self.log_w_sum)
        return float(f.logdet_l + n * np.log(2 * np.pi * s2) + f.pwrss / s2 - self.log_w_sum)

    def beta_cov_unscaled(self, theta: np.ndarray) -> np.ndarray:
        """(R_X' R_X)^{-1} at θ; Var(beta) = sigma^2 times this."""
        f = self.factorize(theta)
        p = self.p
        lx_inv = sla.solve_triangular(f.chol_t[:p, :p], np.eye(p), lower=True)
        return lx_inv.T @ lx_inv

    # ------------------------------------------------------------------ solutions
    def beta(self, f: Factorization) -> np.ndarray:
        p = self.p
        lxx = f.chol_t[:p, :p]
        lyx = f.chol_t[p, :p]
        return sla.solve_triangular(lxx.T, lyx, lower=False) + self.beta_shift

    def spherical_modes(self, f: Factorization, beta: np.ndarray) -> list[np.ndarray]:
        """Conditional modes u (spherical) per term, each (nlevels, q)."""
        coef = np.concatenate([-(beta - self.beta_shift), [1.0]])
        if self.chain:
            return self._chain_modes(f, coef)
        ca = np.tensordot(f.ra, coef, axes=(1, 0))  # (qA, nA)
        out_rest: list[np.ndarray] = []
        if self.rest:
            if self.nested:
                c2 = np.tensordot(f.r2, coef, axes=(1, 0))  # (qR, nR)
                ur = np.einsum("ban,bn->an", f.ls_inv, c2)  # L^{-T} c
                out_rest = [ur.T]
                ca = ca - np.einsum("abn,bn->an", f.w, ur[:, self.ent_j[0]])
            else:
                c2 = f.r2 @ coef
                ur_flat = sla.solve_triangular(f.ls.T, c2, lower=False)
                ca = ca - (f.w @ ur_flat).reshape(self.nA, self.qA).T
                for k, b in enumerate(self.rest):
                    o = self.r_off[k]
                    out_rest.append(ur_flat[o : o + b.nlevels * b.q].reshape(b.nlevels, b.q))
        ua = np.einsum("ban,bn->an", f.la_inv, ca)
        return [ua.T, *out_rest]

    def cond_var_unscaled(self, f: Factorization) -> list[np.ndarray]:
        """Diagonal blocks of (Lambda'Z'Z Lambda + I)^{-1} per term, each (nlevels, q, q)."""
        if self.chain:
            return self._chain_cond_var(f)
        a_inv = _bmm_t(f.la_inv, f.la_inv)  # L^{-T} L^{-1}
        if not self.rest:
            return [np.moveaxis(a_inv, 2, 0)]
        if self.nested:
            s_inv = _bmm_t(f.ls_inv, f.ls_inv)
            # extra term for A: V S^{-1} V' with V = L_A^{-T} W
            v = _bmm_t(f.la_inv, f.w)  # (qA, qR, nA)
            s_e = s_inv[:, :, self.ent_j[0]]
            extra = _bmm(_bmm(v, s_e), np.swapaxes(v, 0, 1))
            return [np.moveaxis(a_inv + extra, 2, 0), np.moveaxis(s_inv, 2, 0)]
        ls_inv = sla.solve_triangular(f.ls, np.eye(f.ls.shape[0]), lower=True)
        s_inv = ls_inv.T @ ls_inv
        out_rest = []
        for k, b in enumerate(self.rest):
            o = self.r_off[k]
            blocks = np.empty((b.nlevels, b.q, b.q))
            for j in range(b.nlevels):
                blocks[j] = s_inv[o + j * b.q : o + (j + 1) * b.q, o + j * b.q : o + (j + 1) * b.q]
            out_rest.append(blocks)
        li = np.moveaxis(f.la_inv, 2, 0)  # (nA, qA, qA)
        extra = np.empty((self.nA, self.qA, self.qA))
        chunk = max(1, 2_000_000 // max(1, self.q_rest * self.qA))  # bound dense W memory
        for start in range(0, self.nA, chunk):
            stop = min(self.nA, start + chunk)
            wl = f.w[start * self.qA : stop * self.qA].toarray().reshape(stop - start, self.qA, -1)
            v = np.einsum("iba,ibc->iac", li[start:stop], wl)
            extra[start:stop] = v @ s_inv @ np.swapaxes(v, 1, 2)
        return [np.moveaxis(a_inv, 2, 0) + extra, *out_rest]
