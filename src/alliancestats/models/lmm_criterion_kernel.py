"""The compiled kernels behind :mod:`.lmm_kernels` (imports numba; loaded on first use).

Module-level functions, so that numba's on-disk cache finds them again in every process
(a kernel defined inside a function is keyed by its closure and compiled anew).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["criterion", "crossed_sums", "deviance_parts", "kernel"]


@numba.njit(cache=True, inline="always")
def chol_inplace(M, q):  # lower Cholesky factor of M[:q, :q] in place; False if not PD
    for j in range(q):
        s = M[j, j]
        for k in range(j):
            s -= M[j, k] * M[j, k]
        if not s > 0.0:
            return False
        d = np.sqrt(s)
        M[j, j] = d
        for i in range(j + 1, q):
            s = M[i, j]
            for k in range(j):
                s -= M[i, k] * M[j, k]
            M[i, j] = s / d
        for i in range(j):
            M[i, j] = 0.0
    return True

@numba.njit(cache=True, inline="always")
def forward(L, B, q, m):  # B[:q, :m] <- L^{-1} B
    for c in range(m):
        for i in range(q):
            s = B[i, c]
            for k in range(i):
                s -= L[i, k] * B[k, c]
            B[i, c] = s / L[i, i]

@numba.njit(cache=True, inline="always")
def forward_recip(L, dinv, B, q, m):  # forward() with the reciprocals of L's diagonal
    for c in range(m):
        for i in range(q):
            s = B[i, c]
            for k in range(i):
                s -= L[i, k] * B[k, c]
            B[i, c] = s * dinv[i]

@numba.njit(cache=True, inline="always")
def lt_mat(lam, S, i, q, m, out):  # out[:q, :m] <- lam' S[i]   (lam lower triangular)
    for r in range(q):
        for c in range(m):
            acc = 0.0
            for k in range(r, q):
                acc += lam[k, r] * S[i, k, c]
            out[r, c] = acc

@numba.njit(cache=True, inline="always")
def quad(lam1, S, i, lam2, q1, q2, out):  # out <- lam1' S[i] lam2
    for r in range(q1):
        for c in range(q2):
            acc = 0.0
            for k in range(r, q1):
                inner = 0.0
                for m in range(c, q2):
                    inner += S[i, k, m] * lam2[m, c]
                acc += lam1[k, r] * inner
            out[r, c] = acc

@numba.njit(cache=True)
def kernel(lamA, aa, axy, xyxy, lamR, rr, rxy, eb, parent):
    """(logdet_l, the [X y] Schur complement); logdet NaN if a block is not PD."""
    nA, qA = aa.shape[0], aa.shape[1]
    P = xyxy.shape[0]
    nR = rr.shape[0]
    qR = rr.shape[1] if nR > 0 else 0
    T = xyxy.copy()
    logdet = 0.0
    M = np.empty((qA, qA))
    R = np.empty((qA, P))
    W = np.empty((qA, max(qR, 1)))
    D = np.zeros((max(nR, 1), max(qR, 1), max(qR, 1)))
    rhs = np.zeros((max(nR, 1), max(qR, 1), P))
    dinv = np.empty(qA)
    running = 1.0  # product of diagonal elements (each >= 1), logged before it overflows
    for i in range(nA):
        quad(lamA, aa, i, lamA, qA, qA, M)
        for a in range(qA):
            M[a, a] += 1.0
        if not chol_inplace(M, qA):
            return np.nan, T
        for a in range(qA):
            running *= M[a, a]
            dinv[a] = 1.0 / M[a, a]
        if running > 1e200:
            logdet += 2.0 * np.log(running)
            running = 1.0
        lt_mat(lamA, axy, i, qA, P, R)
        forward_recip(M, dinv, R, qA, P)
        for c1 in range(P):
            for c2 in range(c1 + 1):
                acc = 0.0
                for a in range(qA):
                    acc += R[a, c1] * R[a, c2]
                T[c1, c2] -= acc
        if nR > 0:
            j = parent[i]
            quad(lamA, eb, i, lamR, qA, qR, W)  # W = L^{-1} lamA' eb_i lamR
            forward_recip(M, dinv, W, qA, qR)
            for b1 in range(qR):
                for b2 in range(qR):
                    acc = 0.0
                    for a in range(qA):
                        acc += W[a, b1] * W[a, b2]
                    D[j, b1, b2] -= acc
                for c in range(P):
                    acc = 0.0
                    for a in range(qA):
                        acc += W[a, b1] * R[a, c]
                    rhs[j, b1, c] -= acc
    logdet += 2.0 * np.log(running)
    if nR > 0:
        Ms = np.empty((qR, qR))
        R2 = np.empty((qR, P))
        for j in range(nR):
            quad(lamR, rr, j, lamR, qR, qR, Ms)
            for b1 in range(qR):
                for b2 in range(qR):
                    Ms[b1, b2] += D[j, b1, b2]
                Ms[b1, b1] += 1.0
            if not chol_inplace(Ms, qR):
                return np.nan, T
            prod = 1.0
            for b in range(qR):
                prod *= Ms[b, b]
            logdet += 2.0 * np.log(prod)
            lt_mat(lamR, rxy, j, qR, P, R2)
            for b in range(qR):
                for c in range(P):
                    R2[b, c] += rhs[j, b, c]
            forward(Ms, R2, qR, P)
            for c1 in range(P):
                for c2 in range(c1 + 1):
                    acc = 0.0
                    for b in range(qR):
                        acc += R2[b, c1] * R2[b, c2]
                    T[c1, c2] -= acc
    for c1 in range(P):
        for c2 in range(c1):
            T[c2, c1] = T[c1, c2]
    return logdet, T

@numba.njit(cache=True, inline="always")
def fill_factor(theta, rows, cols, start, q):  # lower-triangular factor of one term
    lam = np.zeros((q, q))
    for k in range(rows.size):
        lam[rows[k], cols[k]] = theta[start + k]
    return lam

@numba.njit(cache=True)
def factor_schur(theta, rows_a, cols_a, rows_r, cols_r, aa, axy, xyxy, rr, rxy, eb, parent):
    """(logdet_l, lower Cholesky factor of the [X y] Schur complement, ok) at ``theta``;
    ``ok`` is False where a block is not positive definite."""
    qA = aa.shape[1]
    lam_a = fill_factor(theta, rows_a, cols_a, 0, qA)
    qR = rr.shape[1] if rr.shape[0] > 0 else 1
    lam_r = fill_factor(theta, rows_r, cols_r, rows_a.size, qR)
    logdet, T = kernel(lam_a, aa, axy, xyxy, lam_r, rr, rxy, eb, parent)
    if not np.isfinite(logdet):
        return logdet, T, False
    P = T.shape[0]
    T0 = T.copy()
    if not chol_inplace(T, P):  # a numerically perfect fit: r^2 is rounding noise
        T = T0
        T[P - 1, P - 1] += 1e-300 + 1e-14 * abs(T[P - 1, P - 1])
        if not chol_inplace(T, P):
            return logdet, T, False
    return logdet, T, T[P - 1, P - 1] > 0.0

@numba.njit(cache=True)
def criterion(theta, rows_a, cols_a, rows_r, cols_r, aa, axy, xyxy, rr, rxy, eb, parent,
              nobs, reml, log_w_sum):
    """Profiled REML criterion (``reml``) or -2 log-likelihood at ``theta``; inf where
    a block is not positive definite (the numpy path's ``criterion``, compiled)."""
    logdet, T, ok = factor_schur(theta, rows_a, cols_a, rows_r, cols_r, aa, axy, xyxy, rr,
                                 rxy, eb, parent)
    if not ok:
        return np.inf
    p = T.shape[0] - 1
    r2 = T[p, p] * T[p, p]
    if reml:
        logdet_x = 0.0
        for j in range(p):
            logdet_x += 2.0 * np.log(T[j, j])
        nmp = nobs - p
        return logdet + logdet_x + nmp * (1.0 + np.log(2.0 * np.pi * r2 / nmp)) - log_w_sum
    return logdet + nobs * (1.0 + np.log(2.0 * np.pi * r2 / nobs)) - log_w_sum

@numba.njit(cache=True)
def deviance_parts(theta, rows_a, cols_a, rows_r, cols_r, aa, axy, xyxy, rr, rxy, eb,
                   parent, reml):
    """(log determinants, r^2, (R_X' R_X)^{-1}) at ``theta`` for the Satterthwaite
    derivatives; NaN log determinant where a block is not positive definite."""
    logdet, T, ok = factor_schur(theta, rows_a, cols_a, rows_r, cols_r, aa, axy, xyxy, rr,
                                 rxy, eb, parent)
    p = T.shape[0] - 1
    cov = np.zeros((p, p))
    if not ok:
        return np.nan, np.nan, cov
    if reml:
        for j in range(p):
            logdet += 2.0 * np.log(T[j, j])
    inv = np.eye(p)  # R_X^{-1} (lower) by forward substitution
    forward(T, inv, p, p)
    for a in range(p):
        for b in range(a + 1):
            acc = 0.0
            for k in range(a, p):
                acc += inv[k, a] * inv[k, b]
            cov[a, b] = acc
            cov[b, a] = acc
    return logdet, T[p, p] * T[p, p], cov


@numba.njit(cache=True)
def crossed_sums(indptr, indices, data, c, axy, q):
    """G = E' diag(c) E and B = E' diag(c) axy over the stored pairs of E (CSR)."""
    P = axy.shape[1]
    G = np.zeros((q, q))
    B = np.zeros((q, P))
    for i in range(indptr.size - 1):
        ci = c[i]
        for a in range(indptr[i], indptr[i + 1]):
            j = indices[a]
            ea = data[a] * ci
            for b in range(indptr[i], indptr[i + 1]):
                G[j, indices[b]] += ea * data[b]
            for p in range(P):
                B[j, p] += ea * axy[i, p]
    return G, B
