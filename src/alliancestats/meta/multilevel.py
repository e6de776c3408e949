"""Three-level (multilevel) meta-analysis: effect sizes nested in studies (or deeper nesting).

The model is ``y = Xβ + Z₁u₁ + Z₂u₂ + e`` with ``u_l ~ N(0, σ²_l I)`` for each nested level
(for ``random="~ 1 | study/es"``: level 1 = studies, level 2 = effect sizes within studies) and
``e ~ N(0, diag(v_i))`` (Konstantopoulos 2011, Res Synth Methods 2(1); Cheung 2014, Psychol
Methods 19(2); Assink & Wibbelink 2016, Quant Methods Psychol 12(3)).
Used through :func:`alliancestats.meta.meta_analysis` with ``random=``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import ConvergenceWarning, MetaAnalysisError

__all__ = ["encode_groups", "marginal_covariance", "parse_random"]

_THRESHOLD = 1e-10
_MAXITER = 500


def parse_random(random: str | Sequence[str]) -> tuple[str, ...]:
    """Parse ``"~ 1 | study/es"`` (metafor syntax) or a sequence of column names.

    Examples
    --------
    >>> parse_random("~ 1 | district/school")
    ('district', 'school')
    >>> parse_random(["study", "es"])
    ('study', 'es')
    """
    if isinstance(random, str):
        m = re.fullmatch(r"\s*~?\s*1\s*\|\s*(.+?)\s*", random)
        if not m:
            raise MetaAnalysisError(
                f"Cannot read random={random!r}; use '~ 1 | study/es' or ('study', 'es')."
            )
        cols = tuple(part.strip() for part in m.group(1).split("/"))
    else:
        cols = tuple(str(c) for c in random)
    if not cols or any(not c for c in cols):
        raise MetaAnalysisError("random= needs at least one grouping column.")
    return cols


def encode_groups(frame: pd.DataFrame, spec: tuple[str, ...]) -> np.ndarray:
    """Integer codes (N × levels) of the nested groups: level l = combination of columns ≤ l.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"s": [1, 1, 2], "e": [1, 2, 1]})
    >>> encode_groups(df, ("s", "e")).tolist()
    [[0, 0], [0, 1], [1, 2]]
    """
    codes = []
    for level in range(1, len(spec) + 1):
        grouped = frame.groupby(list(spec[:level]), sort=False, dropna=False)
        codes.append(grouped.ngroup().to_numpy())
    return np.column_stack(codes)


def _indicator(codes: np.ndarray) -> np.ndarray:
    n_levels = int(codes.max()) + 1
    Z = np.zeros((len(codes), n_levels))
    Z[np.arange(len(codes)), codes] = 1.0
    return Z


class _Model:
    """REML/ML criterion, score and Fisher information in the variance components.

    The marginal covariance is block-diagonal over the top-level clusters, so every quantity is
    accumulated block by block (cost linear in the number of clusters).
    """

    def __init__(self, yi: np.ndarray, vi: np.ndarray, X: np.ndarray, groups: np.ndarray):
        self.y, self.vi, self.X = yi, vi, X
        self.N, self.p = X.shape
        self.m = groups.shape[1]
        self.logdet_xtx = np.linalg.slogdet(X.T @ X)[1]
        self.blocks = []
        for c in np.unique(groups[:, 0]):
            ix = np.flatnonzero(groups[:, 0] == c)
            K = [
                (groups[ix, j][:, None] == groups[ix, j][None, :]).astype(float)
                for j in range(self.m)
            ]
            self.blocks.append((ix, K))

    def parts(self, s2: np.ndarray) -> dict[str, Any]:
        p = self.p
        XtVX = np.zeros((p, p))
        XtVy = np.zeros(p)
        logdet = 0.0
        inv_blocks = []
        for ix, K in self.blocks:
            Vb = np.diag(self.vi[ix]) + sum(s * k for s, k in zip(s2, K, strict=True))
            Lb = np.linalg.cholesky(Vb)
            logdet += 2 * np.sum(np.log(np.diag(Lb)))
            Vib = np.linalg.inv(Vb)
            Qb = Vib @ self.X[ix]
            XtVX += self.X[ix].T @ Qb
            XtVy += Qb.T @ self.y[ix]
            inv_blocks.append((Vib, Qb))
        M = np.linalg.inv(XtVX)
        beta = M @ XtVy
        r = self.y - self.X @ beta
        u = np.empty(self.N)
        quad = 0.0
        for (ix, _), (Vib, _) in zip(self.blocks, inv_blocks, strict=True):
            u[ix] = Vib @ r[ix]
            quad += float(r[ix] @ u[ix])
        return {
            "beta": beta,
            "vb": M,
            "r": r,
            "u": u,
            "quad": quad,
            "inv_blocks": inv_blocks,
            "logdetV": logdet,
            "logdetXVX": np.linalg.slogdet(XtVX)[1],
        }

    def vinv_diag(self, q: dict[str, Any]) -> np.ndarray:
        d = np.empty(self.N)
        for (ix, _), (Vib, _) in zip(self.blocks, q["inv_blocks"], strict=True):
            d[ix] = np.diag(Vib)
        return d

    def loglik(self, s2: np.ndarray, reml: bool, parts: dict[str, Any] | None = None) -> float:
        q = parts or self.parts(s2)
        if reml:
            return float(
                -0.5 * (self.N - self.p) * np.log(2 * np.pi)
                + 0.5 * self.logdet_xtx
                - 0.5 * q["logdetV"]
                - 0.5 * q["logdetXVX"]
                - 0.5 * q["quad"]
            )
        return float(-0.5 * self.N * np.log(2 * np.pi) - 0.5 * q["logdetV"] - 0.5 * q["quad"])

    def score_info(self, q: dict[str, Any], reml: bool) -> tuple[np.ndarray, np.ndarray]:
        """Score and expected information; REML uses ``P = V⁻¹ − V⁻¹X M X'V⁻¹`` via blocks."""
        m, p = self.m, self.p
        M = q["vb"]
        u = q["u"]  # V^-1 r = P y
        tr_AK = np.zeros(m)
        uKu = np.zeros(m)
        tr_AKAK = np.zeros((m, m))
        S = np.zeros((m, p, p))  # Q'K Q
        T = np.zeros((m, m, p, p))  # Q'K_l A K_m Q
        for (ix, K), (Vib, Qb) in zip(self.blocks, q["inv_blocks"], strict=True):
            ub = u[ix]
            AK = [Vib @ k for k in K]
            KQ = [k @ Qb for k in K]
            for i in range(m):
                tr_AK[i] += np.trace(AK[i])
                uKu[i] += ub @ K[i] @ ub
                if reml:
                    S[i] += Qb.T @ KQ[i]
                for j in range(i, m):
                    tr_AKAK[i, j] += np.sum(AK[i] * AK[j].T)
                    if reml:
                        T[i, j] += KQ[i].T @ Vib @ KQ[j]
        score = np.empty(m)
        info = np.empty((m, m))
        for i in range(m):
            tr_PK = tr_AK[i] - (np.sum(M * S[i].T) if reml else 0.0)
            score[i] = -0.5 * tr_PK + 0.5 * uKu[i]
            for j in range(i, m):
                val = tr_AKAK[i, j]
                if reml:
                    MSi, MSj = M @ S[i], M @ S[j]
                    val += -2 * np.sum(M * T[i, j].T) + np.sum(MSi * MSj.T)
                info[i, j] = info[j, i] = 0.5 * val
        return score, info


def _estimate(model: _Model, reml: bool) -> tuple[np.ndarray, int, bool]:
    """Fisher scoring with step halving, projected onto σ² ≥ 0."""
    m = model.m
    ols = np.linalg.lstsq(model.X, model.y, rcond=None)[0]
    total = max(float(np.var(model.y - model.X @ ols, ddof=0) - np.mean(model.vi)), 0.01)
    s2 = np.full(m, total / m)
    ll = model.loglik(s2, reml)
    for iteration in range(1, _MAXITER + 1):
        q = model.parts(s2)
        score, info = model.score_info(q, reml)
        free = ~((s2 <= 0) & (score <= 0))
        step = np.zeros(m)
        if free.any():
            sub = info[np.ix_(free, free)]
            try:
                step[free] = np.linalg.solve(sub, score[free])
            except np.linalg.LinAlgError:
                step[free] = np.linalg.lstsq(sub, score[free], rcond=None)[0]
        factor = 1.0
        while True:
            cand = np.maximum(s2 + factor * step, 0.0)
            ll_new = model.loglik(cand, reml)
            if ll_new >= ll - 1e-12 or factor < 1e-8:
                break
            factor /= 2.0
        change = np.max(np.abs(cand - s2))
        s2, ll = cand, ll_new
        if change <= _THRESHOLD * max(1.0, float(np.max(s2))):
            return s2, iteration, True
    return s2, _MAXITER, False


def fit_multilevel(
    *,
    yi: np.ndarray,
    vi: np.ndarray,
    X: np.ndarray,
    mod_names: list[str],
    groups: np.ndarray,
    random: tuple[str, ...],
    method: str,
    test: str,
    level: float,
    measure: str,
    labels: pd.Index,
    data: pd.DataFrame,
    settings: dict[str, Any],
) -> Any:
    """Fit the nested multilevel model by REML or ML (internal; use ``meta_analysis``).

    Notes
    -----
    REML/ML by Fisher scoring in the variance components with step halving and a
    non-negativity projection (metafor ``rma.mv`` optimises the same likelihood with
    ``nlminb`` on log variances). Level-specific I² follows Cheung (2014):
    ``I²_l = σ²_l / (Σσ² + ṽ)`` with the typical within-study variance ``ṽ = (k − p)/tr(P)``.
    Validated against metafor 3.8-1 ``rma.mv`` on ``dat.konstantopoulos2011`` and
    ``dat.assink2016`` (tolerance 1e-5 relative; metafor run with tight optimiser tolerances).
    """
    from alliancestats.meta.heterogeneity import generalized_q, typical_within_variance
    from alliancestats.meta.rma import _build_result

    if method not in ("REML", "ML"):
        raise MetaAnalysisError("Three-level models are estimated with method='REML' or 'ML'.")
    reml = method == "REML"
    N, p = X.shape
    if N <= p:
        raise MetaAnalysisError("Too few effect sizes for the moderators in a three-level model.")
    model = _Model(yi, vi, X, groups)
    s2, iterations, converged = _estimate(model, reml)
    if not converged:
        warnings.warn(
            "Three-level REML/ML estimation did not converge; variance components may be "
            "inaccurate.",
            ConvergenceWarning,
            stacklevel=4,
        )
    q = model.parts(s2)
    beta, vb = q["beta"], q["vb"]
    df = float("inf")
    if test in ("t", "knha"):
        df = float(N - p)
        test = "t"
    qe = max(0.0, generalized_q(0.0, yi, vi, X))
    qe_p = float(stats.chi2.sf(qe, N - p))
    vt = typical_within_variance(vi, X)
    total = float(np.sum(s2))
    i2_levels = 100 * s2 / (total + vt)
    i2 = float(np.sum(i2_levels))
    h2 = (total + vt) / vt
    w_diag = model.vinv_diag(q)
    weights = 100 * w_diag / w_diag.sum()
    ll_ml = model.loglik(s2, reml=False, parts=q)
    ll_reml = model.loglik(s2, reml=True, parts=q)
    parms = p + len(s2)

    def aicc(ll: float, n: float) -> float:
        mm = max(n, parms + 2)
        return -2 * ll + 2 * parms * mm / (mm - parms - 1)

    fit_stats = pd.DataFrame.from_dict(
        {
            "ll": (ll_ml, ll_reml),
            "dev": (-2 * ll_ml, -2 * ll_reml),
            "AIC": (-2 * ll_ml + 2 * parms, -2 * ll_reml + 2 * parms),
            "BIC": (-2 * ll_ml + parms * np.log(N), -2 * ll_reml + parms * np.log(N - p)),
            "AICc": (aicc(ll_ml, N), aicc(ll_reml, N - p)),
        },
        orient="index",
        columns=["ML", "REML"],
    )
    n_groups = tuple(int(groups[:, j].max()) + 1 for j in range(groups.shape[1]))
    return _build_result(
        yi=yi,
        vi=vi,
        X=X,
        mod_names=mod_names,
        labels=labels,
        beta=beta,
        vb=vb,
        df=df,
        level=level,
        tau2=total,
        i2=i2,
        h2=float(h2),
        q=float(qe),
        q_p=qe_p,
        r2=float("nan"),
        weights=weights,
        method=method,
        test=test,
        measure=measure,
        data=data,
        vt=vt,
        loglik=ll_reml if reml else ll_ml,
        fit_stats=fit_stats,
        converged=converged,
        iterations=iterations,
        sigma2=s2,
        i2_levels=i2_levels,
        random=random,
        groups=groups,
        n_groups=n_groups,
        _settings=dict(settings),
    )


def marginal_covariance(result: Any) -> np.ndarray:
    """Model-implied covariance ``V`` of the effect sizes of a fitted result.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(yi=[0.1, 0.3, 0.2], vi=[0.01, 0.02, 0.01], method="FE")
    >>> marginal_covariance(res).shape
    (3, 3)
    """
    if result.sigma2 is None:
        return np.diag(result.vi + result.tau2)
    V = np.diag(result.vi).astype(float)
    for j, s in enumerate(result.sigma2):
        Z = _indicator(result.groups[:, j])
        V = V + s * (Z @ Z.T)
    return V
