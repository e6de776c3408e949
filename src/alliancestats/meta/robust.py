"""Cluster-robust (CR0, CR1, CR2) inference for meta-analytic models.

Implements the sandwich estimators of clubSandwich's ``vcovCR``: CR0 (no adjustment), CR1
(``J/(J − 1)``), CR1p (``J/(J − p)``) and the bias-reduced linearisation CR2 (Bell & McCaffrey
2002), with Satterthwaite degrees of freedom for single coefficients and the Hotelling-T²-Z
(HTZ) approximation for the omnibus moderator test (Pustejovsky & Tipton 2018, J Bus Econ Stat
36(4); Tipton & Pustejovsky 2015, J Educ Behav Stat 40(6)). Working weights are the inverse
of the fitted model's marginal covariance, as in clubSandwich for metafor models.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta.multilevel import marginal_covariance
from alliancestats.meta.result import coef_table

__all__ = ["ROBUST_TYPES", "apply_robust", "cr2_vcov", "cr_vcov"]

#: small-sample adjustments of the cluster-robust covariance
ROBUST_TYPES = ("CR0", "CR1", "CR1p", "CR2")


def _inv_sqrt_psd(A: np.ndarray) -> np.ndarray:
    """Symmetric inverse square root (eigenvalues below tolerance treated as zero)."""
    A = (A + A.T) / 2
    vals, vecs = np.linalg.eigh(A)
    tol = max(vals.max(), 0.0) * 1e-12
    inv = np.where(vals > tol, 1.0 / np.sqrt(np.where(vals > tol, vals, 1.0)), 0.0)
    return (vecs * inv) @ vecs.T


def cr2_vcov(
    X: np.ndarray, resid: np.ndarray, V: np.ndarray, cluster: np.ndarray
) -> dict[str, Any]:
    """CR2 covariance matrix and the pieces needed for small-sample tests (see :func:`cr_vcov`).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((4, 1)); e = np.array([0.1, -0.1, 0.2, -0.2])
    >>> cr2_vcov(X, e, np.eye(4) * 0.1, np.array([0, 0, 1, 1]))["vcov"].shape
    (1, 1)
    """
    return cr_vcov(X, resid, V, cluster, "CR2")


def cr_vcov(
    X: np.ndarray, resid: np.ndarray, V: np.ndarray, cluster: np.ndarray, type: str = "CR2"
) -> dict[str, Any]:
    """Cluster-robust covariance matrix and the pieces needed for small-sample tests.

    Parameters
    ----------
    X : ndarray
        Design matrix (N × p).
    resid : ndarray
        Residuals ``y − Xβ̂``.
    V : ndarray
        Model-implied covariance of the effect sizes (working model; weights ``W = V⁻¹``).
    cluster : ndarray
        Integer cluster codes (length N); random effects must be nested within clusters.
    type : {"CR0", "CR1", "CR1p", "CR2"}
        Small-sample adjustment (clubSandwich's names).

    Returns
    -------
    dict
        ``vcov`` (p × p), ``g`` and ``h`` (lists per cluster) for Satterthwaite/HTZ.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.ones((4, 1)); e = np.array([0.1, -0.1, 0.2, -0.2])
    >>> out = cr_vcov(X, e, np.eye(4) * 0.1, np.array([0, 0, 1, 1]), "CR0")
    >>> round(float(out["vcov"][0, 0]), 6)
    0.0
    """
    levels = np.unique(cluster)
    if len(levels) < 2:
        raise MetaAnalysisError("Cluster-robust inference needs at least two clusters.")
    idx = [np.flatnonzero(cluster == c) for c in levels]
    # check block-diagonality (random effects nested within clusters)
    mask = np.zeros_like(V, dtype=bool)
    for ix in idx:
        mask[np.ix_(ix, ix)] = True
    if np.any(np.abs(V[~mask]) > 0):
        raise MetaAnalysisError(
            "The random effects are not nested within the robust clusters; cluster at the "
            "highest level of the model (e.g. robust='study' for random='~ 1 | study/es')."
        )
    W_blocks = [np.linalg.inv(V[np.ix_(ix, ix)]) for ix in idx]
    XtWX = sum(X[ix].T @ Wj @ X[ix] for ix, Wj in zip(idx, W_blocks, strict=True))
    M = np.linalg.inv(XtWX)
    L_M = np.linalg.cholesky(M)
    meat = np.zeros_like(M)
    g_list, h_list = [], []
    for ix, Wj in zip(idx, W_blocks, strict=True):
        Xj = X[ix]
        Theta = V[np.ix_(ix, ix)]
        R = np.linalg.cholesky(Theta).T  # upper factor: Theta = R'R
        E = Xj.T @ Wj @ _adjustment(type, Xj, M, Wj, Theta, R, len(idx), X.shape[1])
        comp = E @ resid[ix]
        meat += np.outer(comp, comp)
        ME = M @ E
        g_list.append(ME @ R.T)
        h_list.append(ME @ Xj @ L_M)
    return {"vcov": M @ meat @ M, "g": g_list, "h": h_list, "J": len(idx)}


def _adjustment(
    type: str,
    Xj: np.ndarray,
    M: np.ndarray,
    Wj: np.ndarray,
    Theta: np.ndarray,
    R: np.ndarray,
    J: int,
    p: int,
) -> np.ndarray:
    """Adjustment matrix ``A_j`` of the cluster's residuals (clubSandwich's definitions)."""
    n = len(Xj)
    if type == "CR0":
        return np.eye(n)
    if type == "CR1":
        return np.sqrt(J / (J - 1)) * np.eye(n)
    if type == "CR1p":
        if J <= p:
            raise MetaAnalysisError(f"CR1p needs more clusters than coefficients (J = {J}).")
        return np.sqrt(J / (J - p)) * np.eye(n)
    IH = np.eye(n) - Xj @ M @ Xj.T @ Wj
    G = R @ IH @ Theta @ R.T
    return R.T @ _inv_sqrt_psd(G) @ R


def _satterthwaite(g: list[np.ndarray], h: list[np.ndarray], i: int) -> float:
    J = len(g)
    Hi = np.column_stack([hj[i] for hj in h])  # p × J
    P = -Hi.T @ Hi
    P[np.diag_indices(J)] += np.array([gj[i] @ gj[i] for gj in g])
    return float(np.trace(P) ** 2 / np.sum(P**2))


def _htz(
    beta: np.ndarray, vcov: np.ndarray, g: list[np.ndarray], h: list[np.ndarray], C: np.ndarray
) -> tuple[float, float, float, float]:
    """Hotelling-T²-Z test of ``Cβ = 0``: returns F, df1, df2, p."""
    q = C.shape[0]
    J = len(g)
    Gc = [C @ gj for gj in g]
    Hc = np.stack([C @ hj for hj in h], axis=-1)  # q × u × J
    P = np.empty((q, q, J, J))
    for s in range(q):
        for t in range(q):
            tmp = -Hc[s].T @ Hc[t]
            tmp[np.diag_indices(J)] += np.array([gj[s] @ gj[t] for gj in Gc])
            P[s, t] = tmp
    Omega = np.einsum("stjj->st", P)
    On = _inv_sqrt_psd(Omega)
    B = np.einsum("as,abjk,bt->stjk", On, P, On)
    var_mat = np.empty((q, q))
    for s in range(q):
        for t in range(q):
            var_mat[s, t] = np.sum(B[s, t] * B[t, s]) + np.sum(B[s, s] * B[t, t])
    nu = q * (q + 1) / np.sum(var_mat)
    cb = C @ beta
    Q = float(cb @ np.linalg.solve(C @ vcov @ C.T, cb))
    delta = max((nu - q + 1) / nu, 0.0)
    df2 = nu - q + 1
    F = delta * Q / q
    p = float(stats.f.sf(F, q, df2)) if df2 > 0 else float("nan")
    return float(F), float(q), float(df2), p


def apply_robust(result: Any, cluster: np.ndarray, name: str, type: str = "CR2") -> Any:
    """Return ``result`` with cluster-robust SEs, Satterthwaite t tests and an HTZ omnibus test.

    Parameters
    ----------
    result : MetaResult
        Fitted model (its marginal covariance gives the working weights).
    cluster : ndarray
        Cluster code of each effect size.
    name : str
        Name of the cluster column (reported).
    type : {"CR0", "CR1", "CR1p", "CR2"}
        Small-sample adjustment.

    Notes
    -----
    Matches metafor 3.8-1 ``robust(fit, cluster, clubSandwich=TRUE)`` and clubSandwich 0.5.8
    (``vcovCR(type=)``, ``coef_test(test="Satterthwaite")``, ``Wald_test(test="HTZ")``),
    tolerance 1e-5 relative (inherits the variance-component tolerance).

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats.meta import meta_analysis
    >>> df = pd.DataFrame({"yi": [0.1, 0.3, 0.2, 0.5, 0.4, 0.0], "vi": [0.02] * 6,
    ...                    "study": [1, 1, 2, 2, 3, 3]})
    >>> res = meta_analysis(df, robust="study")
    >>> res.robust, res.robust_type, list(res.table.columns)
    ('study', 'CR2', ['estimate', 'se', 't', 'df', 'p', 'ci_low', 'ci_high'])
    """
    if type not in ROBUST_TYPES:
        raise MetaAnalysisError(
            f"robust_type must be one of {', '.join(ROBUST_TYPES)}; got {type!r}."
        )
    V = marginal_covariance(result)
    X, beta = result.X, result.beta
    out = cr_vcov(X, result.residuals, V, np.asarray(cluster), type)
    vcov = out["vcov"]
    se = np.sqrt(np.diag(vcov))
    dfs = np.array([_satterthwaite(out["g"], out["h"], i) for i in range(len(beta))])
    table = coef_table(beta, se, dfs, result.level, list(result.mod_names))
    names = result.mod_names
    if result.p > 1 and names[0] == "(Intercept)":
        qm, df1, df2, qm_p = _htz(beta, vcov, out["g"], out["h"], np.eye(result.p)[1:])
    elif names[0] == "(Intercept)":
        qm, df1, df2, qm_p = float("nan"), float("nan"), float("nan"), float("nan")
    else:
        qm, df1, df2, qm_p = _htz(beta, vcov, out["g"], out["h"], np.eye(result.p))
    pi_lo = pi_hi = float("nan")
    if result.intercept_only and np.isfinite(result.tau2):
        half = stats.t.ppf(0.5 + result.level / 200, dfs[0]) * np.sqrt(se[0] ** 2 + result.tau2)
        pi_lo, pi_hi = beta[0] - half, beta[0] + half
    return replace(
        result,
        se=float(se[0]),
        ci_low=float(table["ci_low"].iloc[0]),
        ci_high=float(table["ci_high"].iloc[0]),
        pi_low=float(pi_lo),
        pi_high=float(pi_hi),
        table=table,
        vcov=pd.DataFrame(vcov, index=names, columns=names),
        df=float(dfs[0]),
        qm=qm,
        qm_p=qm_p,
        qm_df=(df1, df2),
        robust=name,
        robust_type=type,
        cluster=np.asarray(cluster),
    )
