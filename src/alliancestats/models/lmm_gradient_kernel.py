"""The compiled kernel behind :mod:`.lmm_gradient` (imports numba; loaded on first use).

The functions are module-level so that numba's on-disk cache finds them again in every
process (a kernel defined inside a function is keyed by its closure and recompiled).
The derivation is in :mod:`.lmm_gradient`.
"""

from __future__ import annotations

import numba
import numpy as np

from alliancestats.models.lmm_criterion_kernel import chol_inplace

__all__ = ["gradient"]


@numba.njit(cache=True, inline="always")
def chol_inv(M, q, Li):  # M[:q,:q] <- lower Cholesky factor, Li <- its inverse; ok?
    if not chol_inplace(M, q):
        return False
    for c in range(q):
        for i in range(q):
            if i < c:
                Li[i, c] = 0.0
                continue
            s = 1.0 if i == c else 0.0
            for k in range(c, i):
                s -= M[i, k] * Li[k, c]
            Li[i, c] = s / M[i, i]
    return True

@numba.njit(cache=True, inline="always")
def mm(A, B, out):  # out = A @ B
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            s = 0.0
            for k in range(A.shape[1]):
                s += A[i, k] * B[k, j]
            out[i, j] = s

@numba.njit(cache=True, inline="always")
def tmm(A, B, out):  # out = A' @ B
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            s = 0.0
            for k in range(A.shape[0]):
                s += A[k, i] * B[k, j]
            out[i, j] = s

@numba.njit(cache=True, inline="always")
def fill_factor(theta, rows, cols, start, q):
    lam = np.zeros((q, q))
    for k in range(rows.size):
        lam[rows[k], cols[k]] = theta[start + k]
    return lam

@numba.njit(cache=True)
def gradient(theta, rows_a, cols_a, rows_r, cols_r, aa, axy, xyxy, rr, rxy, eb, parent,
             beta_in_logdet, want_cov):
    """(ok, log det, r^2, d log det, d r^2, (R_X'R_X)^{-1}, its Jacobian (k, p, p))."""
    nA, qA = aa.shape[0], aa.shape[1]
    P = xyxy.shape[0]
    p = P - 1
    nR = rr.shape[0]
    qR = rr.shape[1] if nR > 0 else 1
    kA, kR = rows_a.size, rows_r.size if nR > 0 else 0
    K = kA + kR
    g_ld = np.zeros(K)
    g_r2 = np.zeros(K)
    cov = np.zeros((p, p))
    dcov = np.zeros((K, p, p))
    lamA = fill_factor(theta, rows_a, cols_a, 0, qA)
    lamR = fill_factor(theta, rows_r, cols_r, kA, qR)
    LA = np.empty((nA, qA, qA))
    LAi = np.empty((nA, qA, qA))
    RA = np.empty((nA, qA, P))
    WA = np.zeros((nA, qA, qR))
    nRr = max(nR, 1)
    LS = np.zeros((nRr, qR, qR))
    LSi = np.zeros((nRr, qR, qR))
    R2 = np.zeros((nRr, qR, P))
    rhs = np.zeros((nRr, qR, P))
    T = xyxy.copy()
    t_aP = np.empty((qA, P))
    t_aa = np.empty((qA, qA))
    t_aR = np.empty((qA, qR))
    t_RR = np.empty((qR, qR))
    t_RP = np.empty((qR, P))
    logdet = 0.0
    # ---------------------------------------------------------------- forward pass
    for i in range(nA):
        mm(aa[i], lamA, t_aa)
        tmm(lamA, t_aa, LA[i])
        for a in range(qA):
            LA[i, a, a] += 1.0
        if not chol_inv(LA[i], qA, LAi[i]):
            return False, 0.0, 0.0, g_ld, g_r2, cov, dcov
        for a in range(qA):
            logdet += 2.0 * np.log(LA[i, a, a])
        tmm(lamA, axy[i], t_aP)
        mm(LAi[i], t_aP, RA[i])
        for c1 in range(P):
            for c2 in range(c1 + 1):
                s = 0.0
                for a in range(qA):
                    s += RA[i, a, c1] * RA[i, a, c2]
                T[c1, c2] -= s
        if nR > 0:
            j = parent[i]
            mm(eb[i], lamR, t_aR)
            tmm(lamA, t_aR, WA[i])  # lamA' eb lamR, then L^{-1} (in place via t_aR)
            mm(LAi[i], WA[i], t_aR)
            WA[i, :, :] = t_aR
            for b1 in range(qR):
                for b2 in range(qR):
                    s = 0.0
                    for a in range(qA):
                        s += WA[i, a, b1] * WA[i, a, b2]
                    LS[j, b1, b2] -= s  # LS accumulates -sum W'W until factorised
                for c in range(P):
                    s = 0.0
                    for a in range(qA):
                        s += WA[i, a, b1] * RA[i, a, c]
                    rhs[j, b1, c] -= s
    for j in range(nR):
        mm(rr[j], lamR, t_RR)
        tmm(lamR, t_RR, LSi[j])
        for b1 in range(qR):
            for b2 in range(qR):
                LS[j, b1, b2] += LSi[j, b1, b2]
            LS[j, b1, b1] += 1.0
        if not chol_inv(LS[j], qR, LSi[j]):
            return False, 0.0, 0.0, g_ld, g_r2, cov, dcov
        for b in range(qR):
            logdet += 2.0 * np.log(LS[j, b, b])
        tmm(lamR, rxy[j], t_RP)
        for b in range(qR):
            for c in range(P):
                t_RP[b, c] += rhs[j, b, c]
        mm(LSi[j], t_RP, R2[j])
        for c1 in range(P):
            for c2 in range(c1 + 1):
                s = 0.0
                for b in range(qR):
                    s += R2[j, b, c1] * R2[j, b, c2]
                T[c1, c2] -= s
    for c1 in range(P):
        for c2 in range(c1):
            T[c2, c1] = T[c1, c2]
    LT = T
    LTi = np.empty((P, P))
    if not chol_inv(LT, P, LTi):
        return False, 0.0, 0.0, g_ld, g_r2, cov, dcov
    r2 = LT[p, p] * LT[p, p]
    if beta_in_logdet:
        for a in range(p):
            logdet += 2.0 * np.log(LT[a, a])
    # ---------------------------------------------------------------- solutions
    # (R_X'R_X)^{-1} = L_X^{-T} L_X^{-1}; L_X^{-1} is the leading block of LTi
    for a in range(p):
        for b in range(p):
            s = 0.0
            for k in range(max(a, b), p):
                s += LTi[k, a] * LTi[k, b]
            cov[a, b] = s
    coef = np.zeros(P)  # (-beta, 1): beta solves L_X' beta = l_yx
    for a in range(p - 1, -1, -1):
        s = LT[p, a]
        for k in range(a + 1, p):
            s -= LT[k, a] * coef[k]
        coef[a] = s / LT[a, a]
    for a in range(p):
        coef[a] = -coef[a]
    coef[p] = 1.0
    uR = np.zeros((nRr, qR))
    for j in range(nR):
        for b in range(qR):
            s = 0.0
            for b2 in range(qR):
                t = 0.0
                for c in range(P):
                    t += R2[j, b2, c] * coef[c]
                s += LSi[j, b2, b] * t
            uR[j, b] = s
    uA = np.empty((nA, qA))
    ca = np.empty(qA)
    for i in range(nA):
        for a in range(qA):
            s = 0.0
            for c in range(P):
                s += RA[i, a, c] * coef[c]
            if nR > 0:
                j = parent[i]
                for b in range(qR):
                    s -= WA[i, a, b] * uR[j, b]
            ca[a] = s
        for a in range(qA):
            s = 0.0
            for a2 in range(qA):
                s += LAi[i, a2, a] * ca[a2]
            uA[i, a] = s
    # d r^2 = -2 (Z dLambda u)' e
    vA = np.empty((nA, qA))  # Lambda_A u_A
    for i in range(nA):
        for a in range(qA):
            s = 0.0
            for a2 in range(qA):
                s += lamA[a, a2] * uA[i, a2]
            vA[i, a] = s
    vR = np.zeros((nRr, qR))
    for j in range(nR):
        for b in range(qR):
            s = 0.0
            for b2 in range(qR):
                s += lamR[b, b2] * uR[j, b2]
            vR[j, b] = s
    zeR = np.zeros((nRr, qR))
    for j in range(nR):
        for b in range(qR):
            s = 0.0
            for c in range(P):
                s += rxy[j, b, c] * coef[c]
            for b2 in range(qR):
                s -= rr[j, b, b2] * vR[j, b2]
            zeR[j, b] = s
    ze = np.empty(qA)
    for i in range(nA):
        for a in range(qA):
            s = 0.0
            for c in range(P):
                s += axy[i, a, c] * coef[c]
            for a2 in range(qA):
                s -= aa[i, a, a2] * vA[i, a2]
            if nR > 0:
                j = parent[i]
                for b in range(qR):
                    s -= eb[i, a, b] * vR[j, b]
                    zeR[j, b] -= eb[i, a, b] * vA[i, a]
            ze[a] = s
        for k in range(kA):
            g_r2[k] -= 2.0 * uA[i, cols_a[k]] * ze[rows_a[k]]
    for j in range(nR):
        for k in range(kR):
            g_r2[kA + k] -= 2.0 * uR[j, cols_r[k]] * zeR[j, rows_r[k]]
    # ---------------------------------------------------------------- selected inverse
    # Takahashi recursion in the order (patients, therapists, beta); without beta in
    # the log determinant (ML) the beta rows are left out for d log det, but the
    # Jacobian of (R_X'R_X)^{-1} needs them, so a second pass is made when asked
    for pass_beta in range(2):
        use_b = pass_beta == 1
        if use_b and not (beta_in_logdet or want_cov):
            continue
        if not use_b and beta_in_logdet:
            continue
        pe = p if use_b else 0
        for_logdet = use_b == beta_in_logdet
        Sbb = cov
        SbR = np.zeros((nRr, pe, qR))
        SRR = np.zeros((nRr, qR, qR))
        for j in range(nR):
            # SbR = -(Sbb C_R') L_S^{-1} with C_R = R2[:, :pe]
            for a in range(pe):
                for b in range(qR):
                    s = 0.0
                    for b2 in range(b, qR):
                        t = 0.0
                        for c in range(pe):
                            t += Sbb[a, c] * R2[j, b2, c]
                        s += t * LSi[j, b2, b]
                    SbR[j, a, b] = -s
            # SRR = L_S^{-T} (L_S^{-1} - C_R SbR)
            for b1 in range(qR):
                for b2 in range(qR):
                    s = LSi[j, b1, b2]
                    for c in range(pe):
                        s -= R2[j, b1, c] * SbR[j, c, b2]
                    t_RR[b1, b2] = s
            tmm(LSi[j], t_RR, SRR[j])
        QR = np.zeros((nRr, qR, qR))
        KR = np.zeros((nRr, pe, qR))
        SRA = np.empty((qR, qA))
        SbA = np.empty((pe, qA))
        SAA = np.empty((qA, qA))
        QA = np.empty((qA, qA))
        KA = np.empty((pe, qA))
        X1 = np.empty((qR, qA))
        X2 = np.empty((pe, qA))
        lam_aa = np.empty((qA, qA))
        lam_eb = np.empty((qA, qR))  # Lambda_A' eb
        eb_lam = np.empty((qA, qR))  # eb Lambda_R
        for i in range(nA):
            j = parent[i] if nR > 0 else 0
            # X1 = SRR W' + SbR' C_A'  (qR x qA);  X2 = SbR W' + Sbb C_A'  (pe x qA)
            for b in range(qR):
                for a in range(qA):
                    s = 0.0
                    if nR > 0:
                        for b2 in range(qR):
                            s += SRR[j, b, b2] * WA[i, a, b2]
                        for c in range(pe):
                            s += SbR[j, c, b] * RA[i, a, c]
                    X1[b, a] = s
            for c in range(pe):
                for a in range(qA):
                    s = 0.0
                    if nR > 0:
                        for b2 in range(qR):
                            s += SbR[j, c, b2] * WA[i, a, b2]
                    for c2 in range(pe):
                        s += Sbb[c, c2] * RA[i, a, c2]
                    X2[c, a] = s
            mm(X1, LAi[i], SRA)
            mm(X2, LAi[i], SbA)
            for b in range(qR):
                for a in range(qA):
                    SRA[b, a] = -SRA[b, a]
            for c in range(pe):
                for a in range(qA):
                    SbA[c, a] = -SbA[c, a]
            # SAA = L^{-T} (L^{-1} - W SRA - C_A SbA)
            for a1 in range(qA):
                for a2 in range(qA):
                    s = LAi[i, a1, a2]
                    if nR > 0:
                        for b in range(qR):
                            s -= WA[i, a1, b] * SRA[b, a2]
                    for c in range(pe):
                        s -= RA[i, a1, c] * SbA[c, a2]
                    t_aa[a1, a2] = s
            tmm(LAi[i], t_aa, SAA)
            # Q_A = SAA lamA' aa + SRA' lamR' eb' + SbA' ax'
            tmm(lamA, aa[i], lam_aa)
            mm(SAA, lam_aa, QA)
            if nR > 0:
                mm(eb[i], lamR, eb_lam)
                tmm(lamA, eb[i], lam_eb)
            for a1 in range(qA):
                for a2 in range(qA):
                    s = 0.0
                    if nR > 0:
                        for b in range(qR):
                            s += SRA[b, a1] * eb_lam[a2, b]
                    for c in range(pe):
                        s += SbA[c, a1] * axy[i, a2, c]
                    QA[a1, a2] += s
            if for_logdet:
                for k in range(kA):
                    g_ld[k] += 2.0 * QA[cols_a[k], rows_a[k]]
            if nR > 0:
                # Q_R += SRA lamA' eb
                for b1 in range(qR):
                    for b2 in range(qR):
                        s = 0.0
                        for a in range(qA):
                            s += SRA[b1, a] * lam_eb[a, b2]
                        QR[j, b1, b2] += s
            if use_b and want_cov:
                # K_A = SbA lamA' aa + SbR lamR' eb' + Sbb ax'
                mm(SbA, lam_aa, KA)
                for c in range(pe):
                    for a in range(qA):
                        s = 0.0
                        if nR > 0:
                            for b in range(qR):
                                s += SbR[j, c, b] * eb_lam[a, b]
                        for c2 in range(pe):
                            s += Sbb[c, c2] * axy[i, a, c2]
                        KA[c, a] += s
                for k in range(kA):
                    r, cc = rows_a[k], cols_a[k]
                    for a in range(pe):
                        for b in range(pe):
                            dcov[k, a, b] += KA[a, r] * SbA[b, cc]
                if nR > 0:
                    for c in range(pe):
                        for b2 in range(qR):
                            s = 0.0
                            for a in range(qA):
                                s += SbA[c, a] * lam_eb[a, b2]
                            KR[j, c, b2] += s
        for j in range(nR):
            tmm(lamR, rr[j], t_RR)
            for b1 in range(qR):
                for b2 in range(qR):
                    s = 0.0
                    for b in range(qR):
                        s += SRR[j, b1, b] * t_RR[b, b2]
                    for c in range(pe):
                        s += SbR[j, c, b1] * rxy[j, b2, c]
                    QR[j, b1, b2] += s
            if for_logdet:
                for k in range(kR):
                    g_ld[kA + k] += 2.0 * QR[j, cols_r[k], rows_r[k]]
            if use_b and want_cov:
                for c in range(pe):
                    for b2 in range(qR):
                        s = 0.0
                        for b in range(qR):
                            s += SbR[j, c, b] * t_RR[b, b2]
                        for c2 in range(pe):
                            s += Sbb[c, c2] * rxy[j, b2, c2]
                        KR[j, c, b2] += s
                for k in range(kR):
                    r, cc = rows_r[k], cols_r[k]
                    for a in range(pe):
                        for b in range(pe):
                            dcov[kA + k, a, b] += KR[j, a, r] * SbR[j, b, cc]
    if want_cov:
        for k in range(K):
            for a in range(p):
                for b in range(a + 1):
                    s = -(dcov[k, a, b] + dcov[k, b, a])
                    dcov[k, a, b] = s
                    dcov[k, b, a] = s
    return True, logdet, r2, g_ld, g_r2, cov, dcov
