"""Multilevel and multivariate meta-analysis: the model of metafor's ``rma.mv``.

``y = Xβ + Σ_j Z_j u_j + Σ_t w_t + e`` with random intercepts ``u_j ~ N(0, σ²_j I)`` for each
grouping factor (nested ``~ 1 | study/es`` or crossed), structured random effects ``w_t``
whose covariance within an outer group is ``G_t`` (CS, HCS, UN, AR, ID, DIAG over the levels
of an inner factor), and sampling errors ``e ~ N(0, V)`` with ``V`` diagonal (``vi``) or a
full known matrix (several outcomes per study, e.g. Berkey et al. 1998, Stat Med 17(22)).
References: Konstantopoulos (2011, Res Synth Methods 2(1)); Cheung (2014, Psychol Methods
19(2)); Viechtbauer (2010, J Stat Softw 36(3)).

The marginal covariance is block-diagonal over connected groups of rows (rows linked by a
shared factor level, outer group or non-zero ``V`` entry), so every quantity is accumulated
block by block; crossed factors simply make larger blocks.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse, stats
from scipy.sparse import csgraph

from alliancestats.errors import (
    ConvergenceWarning,
    DataQualityWarning,
    EstimationError,
    MetaAnalysisError,
)
from alliancestats.meta.heterogeneity import typical_within_variance
from alliancestats.meta.random_effects import (
    NestedInterceptTerm,
    RandomSpec,
    StructuredCovariance,
    level_codes,
    sorted_levels,
)
from alliancestats.meta.result import MetaResult, build_result

__all__ = ["MarginalModel", "build_model", "fit_multilevel", "marginal_covariance"]

_THRESHOLD = 1e-10
_MAXITER = 1000


@dataclass
class _Group:
    """All blocks of one size ``s``, stacked: ``nb`` blocks of ``s`` rows each."""

    idx: np.ndarray  # (nb, s) row positions
    V0: np.ndarray  # (nb, s, s) sampling covariance
    X: np.ndarray  # (nb, s, p)
    y: np.ndarray  # (nb, s)
    same: list[np.ndarray]  # per random-intercept component: (nb, s, s) same-level indicator
    outer: list[np.ndarray]  # per structured term: (nb, s, s) same-outer-group indicator
    inner: list[np.ndarray]  # per structured term: (nb, s) inner level codes


@dataclass
class _Structured:
    cov: StructuredCovariance
    outer_codes: np.ndarray
    inner_codes: np.ndarray
    label: str
    n_outer: int


def _blocks_of(k: int, V: np.ndarray, groupings: list[np.ndarray]) -> list[np.ndarray]:
    """Connected groups of rows: linked by a shared code in any grouping or a non-zero V."""
    rows, cols = np.nonzero(V)
    edges_r, edges_c = [rows], [cols]
    for codes in groupings:
        order = np.argsort(codes, kind="stable")
        same = codes[order][1:] == codes[order][:-1]
        edges_r.append(order[1:][same])
        edges_c.append(order[:-1][same])
    r = np.concatenate(edges_r)
    c = np.concatenate(edges_c)
    graph = sparse.coo_matrix((np.ones(len(r)), (r, c)), shape=(k, k))
    n, labels = csgraph.connected_components(graph, directed=False)
    return [np.flatnonzero(labels == j) for j in range(n)]


def _same(codes: np.ndarray) -> np.ndarray:
    """(nb, s, s) indicator of equal codes within each block, from (nb, s) codes."""
    return (codes[:, :, None] == codes[:, None, :]).astype(float)


class MarginalModel:
    """Likelihood, score and Fisher information of an ``rma.mv`` model in its variance parameters.

    Parameters are the random-intercept variances ``σ²_j`` followed by each structured term's
    parameters (see :class:`~alliancestats.meta.random_effects.StructuredCovariance`). Blocks
    of equal size are stacked so that every operation is one batched numpy call per size.
    """

    def __init__(
        self,
        y: np.ndarray,
        V: np.ndarray,
        X: np.ndarray,
        sigma_codes: list[np.ndarray],
        structured: list[_Structured],
    ):
        self.y, self.V, self.X = y, V, X
        self.N, self.p = X.shape
        self.sigma_codes = sigma_codes
        self.structured = structured
        self.m = len(sigma_codes)
        self.sizes = [self.m] + [len(t.cov.param_names) for t in structured]
        self.n_params = int(sum(self.sizes))
        self.logdet_xtx = np.linalg.slogdet(X.T @ X)[1]
        groupings = sigma_codes + [t.outer_codes for t in structured]
        by_size: dict[int, list[np.ndarray]] = {}
        for idx in _blocks_of(self.N, V, groupings):
            by_size.setdefault(len(idx), []).append(idx)
        self.groups = []
        for size in sorted(by_size):
            idx = np.stack(by_size[size])
            self.groups.append(
                _Group(
                    idx=idx,
                    V0=V[idx[:, :, None], idx[:, None, :]],
                    X=X[idx],
                    y=y[idx],
                    same=[_same(c[idx]) for c in sigma_codes],
                    outer=[_same(t.outer_codes[idx]) for t in structured],
                    inner=[t.inner_codes[idx] for t in structured],
                )
            )

    # ------------------------------------------------------------------ parameters
    def split(self, theta: np.ndarray) -> list[np.ndarray]:
        """``theta`` cut into the σ² part and one part per structured term."""
        cuts = np.cumsum(self.sizes)[:-1]
        return np.split(np.asarray(theta, float), cuts)

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        lower = [np.zeros(self.m)] + [t.cov.bounds()[0] for t in self.structured]
        upper = [np.full(self.m, np.inf)] + [t.cov.bounds()[1] for t in self.structured]
        return np.concatenate(lower), np.concatenate(upper)

    def start(self) -> np.ndarray:
        ols = np.linalg.lstsq(self.X, self.y, rcond=None)[0]
        resid = self.y - self.X @ ols
        n_var = self.m + len(self.structured)
        total = max(float(np.var(resid) - np.mean(np.diag(self.V))), 0.01) / max(n_var, 1)
        parts = [np.full(self.m, total)] + [t.cov.start(total) for t in self.structured]
        return np.concatenate(parts)

    def feasible(self, theta: np.ndarray) -> bool:
        parts = self.split(theta)
        return all(t.cov.feasible(th) for t, th in zip(self.structured, parts[1:], strict=True))

    # ------------------------------------------------------------------ covariance
    def _group_cov(
        self,
        g: _Group,
        parts: list[np.ndarray],
        mats: list[tuple[np.ndarray, list[np.ndarray]]],
        derivs: bool,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        Vb = g.V0.copy()
        dV: list[np.ndarray] = []
        for s2, same in zip(parts[0], g.same, strict=True):
            Vb += s2 * same
            if derivs:
                dV.append(same)
        for (G, dG), S, a in zip(mats, g.outer, g.inner, strict=True):
            rows, cols = a[:, :, None], a[:, None, :]
            Vb += G[rows, cols] * S
            if derivs:
                dV += [d[rows, cols] * S for d in dG]
        return Vb, dV

    def _structured_matrices(
        self, parts: list[np.ndarray]
    ) -> list[tuple[np.ndarray, list[np.ndarray]]]:
        return [t.cov.matrix(th) for t, th in zip(self.structured, parts[1:], strict=True)]

    def covariance(self, theta: np.ndarray) -> np.ndarray:
        """The marginal covariance ``V + Σ σ²_j Z_jZ_j' + ...`` as a dense k × k matrix."""
        out = np.zeros((self.N, self.N))
        parts = self.split(theta)
        mats = self._structured_matrices(parts)
        for g in self.groups:
            Vb, _ = self._group_cov(g, parts, mats, derivs=False)
            out[g.idx[:, :, None], g.idx[:, None, :]] = Vb
        return out

    # ------------------------------------------------------------------ likelihood
    def evaluate(
        self, theta: np.ndarray, reml: bool, derivs: bool = False, free: np.ndarray | None = None
    ) -> dict[str, Any] | None:
        """Log-likelihood (and score/information over ``free`` parameters); None if not PD."""
        parts = self.split(theta)
        mats = self._structured_matrices(parts)
        p = self.p
        XtAX, XtAy = np.zeros((p, p)), np.zeros(p)
        logdet = 0.0
        cache = []
        for g in self.groups:
            Vb, dV = self._group_cov(g, parts, mats, derivs)
            try:
                L = np.linalg.cholesky(Vb)
            except np.linalg.LinAlgError:
                return None
            logdet += 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))
            A = np.linalg.inv(Vb)
            Q = A @ g.X
            XtAX += np.einsum("bsp,bsq->pq", g.X, Q)
            XtAy += np.einsum("bsp,bs->p", Q, g.y)
            cache.append((A, Q, dV))
        try:
            M = np.linalg.inv(XtAX)
        except np.linalg.LinAlgError:
            return None
        beta = M @ XtAy
        quad = 0.0
        u = np.empty(self.N)
        for g, (A, _, _) in zip(self.groups, cache, strict=True):
            r = g.y - g.X @ beta
            ub = np.einsum("bst,bt->bs", A, r)
            u[g.idx] = ub
            quad += float(np.sum(r * ub))
        logdet_xvx = np.linalg.slogdet(XtAX)[1]
        ll = -0.5 * logdet - 0.5 * quad
        if reml:
            ll += -0.5 * (self.N - p) * np.log(2 * np.pi) + 0.5 * self.logdet_xtx - 0.5 * logdet_xvx
        else:
            ll += -0.5 * self.N * np.log(2 * np.pi)
        out = {
            "ll": float(ll), "beta": beta, "vb": M, "u": u, "quad": quad, "logdet": logdet,
            "cache": cache,
        }  # fmt: skip
        if derivs:
            sel = np.arange(self.n_params) if free is None else np.flatnonzero(free)
            out["score"], out["info"] = self._score_info(out, sel, reml)
        return out

    def diag_inverse(self, ev: dict[str, Any]) -> np.ndarray:
        """Diagonal of the inverse marginal covariance (the inverse-variance weights)."""
        d = np.empty(self.N)
        for g, (A, _, _) in zip(self.groups, ev["cache"], strict=True):
            d[g.idx] = np.diagonal(A, axis1=1, axis2=2)
        return d

    def quad_form(self, ev: dict[str, Any], r: np.ndarray) -> float:
        """``r'V⁻¹r`` for a full-length residual vector ``r``."""
        total = 0.0
        for g, (A, _, _) in zip(self.groups, ev["cache"], strict=True):
            rb = r[g.idx]
            total += float(np.einsum("bs,bst,bt->", rb, A, rb))
        return total

    def _score_info(
        self, ev: dict[str, Any], sel: np.ndarray, reml: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        n, p = len(sel), self.p
        M, u = ev["vb"], ev["u"]
        tr_AD, uDu = np.zeros(n), np.zeros(n)
        tr_ADAD = np.zeros((n, n))
        S = np.zeros((n, p, p))
        T = np.zeros((n, n, p, p))
        for g, (A, Q, dV) in zip(self.groups, ev["cache"], strict=True):
            ub = u[g.idx]
            D = [dV[j] for j in sel]
            AD = [A @ d for d in D]
            DQ = [d @ Q for d in D]
            for i in range(n):
                tr_AD[i] += np.einsum("bii->", AD[i])
                uDu[i] += np.einsum("bs,bst,bt->", ub, D[i], ub)
                if reml:
                    S[i] += np.einsum("bsp,bsq->pq", Q, DQ[i])
                for j in range(i, n):
                    tr_ADAD[i, j] += np.einsum("bst,bts->", AD[i], AD[j])
                    if reml:
                        T[i, j] += np.einsum("bsp,bst,btq->pq", DQ[i], A, DQ[j])
        score = np.empty(n)
        info = np.empty((n, n))
        for i in range(n):
            tr_PD = tr_AD[i] - (np.sum(M * S[i].T) if reml else 0.0)
            score[i] = -0.5 * tr_PD + 0.5 * uDu[i]
            for j in range(i, n):
                val = tr_ADAD[i, j]
                if reml:
                    MSi, MSj = M @ S[i], M @ S[j]
                    val += -2 * np.sum(M * T[i, j].T) + np.sum(MSi * MSj.T)
                info[i, j] = info[j, i] = 0.5 * val
        return score, info

    # ------------------------------------------------------------------ optimisation
    def fit(
        self,
        reml: bool,
        fixed: dict[int, float] | None = None,
        start: np.ndarray | None = None,
        threshold: float = _THRESHOLD,
        maxiter: int = _MAXITER,
    ) -> tuple[np.ndarray, int, bool]:
        """Fisher scoring with step halving, projected onto the parameter bounds."""
        fixed = fixed or {}
        lower, upper = self.bounds()
        theta = self.start() if start is None else np.asarray(start, float).copy()
        free = np.ones(self.n_params, dtype=bool)
        for j, value in fixed.items():
            theta[j] = value
            free[j] = False
        theta = np.clip(theta, lower, upper)
        ev = self.evaluate(theta, reml)
        inflate = 0
        while ev is None and inflate < 30:  # start not positive definite: scale variances up
            theta[free & (lower == 0)] = theta[free & (lower == 0)] * 2 + 0.01
            ev = self.evaluate(theta, reml)
            inflate += 1
        if ev is None:
            raise EstimationError(
                "No positive-definite starting values for the variance parameters."
            )
        if not free.any():
            return theta, 0, True
        for iteration in range(1, maxiter + 1):
            ev = self.evaluate(theta, reml, derivs=True, free=free)
            score, info = ev["score"], ev["info"]
            sub = np.flatnonzero(free)
            at_bound = ((theta[sub] <= lower[sub]) & (score < 0)) | (
                (theta[sub] >= upper[sub]) & (score > 0)
            )
            step = np.zeros(self.n_params)
            act = ~at_bound
            if act.any():
                info_a = info[np.ix_(act, act)]
                try:
                    step[sub[act]] = np.linalg.solve(info_a, score[act])
                except np.linalg.LinAlgError:
                    step[sub[act]] = np.linalg.lstsq(info_a, score[act], rcond=None)[0]
            factor, ll = 1.0, ev["ll"]
            while True:
                cand = np.clip(theta + factor * step, lower, upper)
                new = self.evaluate(cand, reml) if self.feasible(cand) else None
                if (new is not None and new["ll"] >= ll - 1e-12) or factor < 1e-10:
                    break
                factor /= 2.0
            if new is None:
                cand = theta
            change = float(np.max(np.abs(cand - theta)))
            theta = cand
            if change <= threshold * max(1.0, float(np.max(np.abs(theta)))):
                return theta, iteration, True
        return theta, maxiter, False


# --------------------------------------------------------------------------------------------
# building the model from a specification
# --------------------------------------------------------------------------------------------
def _components(spec: Any) -> tuple[list[np.ndarray], list[str], list[_Structured]]:
    """Codes of the random-intercept factors (with labels) and the structured terms."""
    frame = spec.random_data.reset_index(drop=True)
    codes, labels, structured = [], [], []
    random: RandomSpec = spec.random
    for term in random.terms:
        if isinstance(term, NestedInterceptTerm):
            for cols, label in zip(term.level_columns(), term.level_labels(), strict=True):
                codes.append(level_codes(frame, cols))
                labels.append(label)
        else:
            inner, levels = sorted_levels(frame[term.inner])
            outer = level_codes(frame, [term.outer])
            cov = StructuredCovariance(term.struct, levels)
            structured.append(_Structured(cov, outer, inner, term.label, int(outer.max()) + 1))
    return codes, labels, structured


def _sampling_covariance(spec: Any) -> np.ndarray:
    return np.diag(spec.vi) if spec.V is None else np.asarray(spec.V, float)


def build_model(spec: Any) -> tuple[MarginalModel, list[str]]:
    """The :class:`MarginalModel` of a specification and the labels of its σ² components."""
    if spec.random is None:
        codes, labels, structured = [], [], []
    else:
        codes, labels, structured = _components(spec)
    model = MarginalModel(spec.yi, _sampling_covariance(spec), spec.X, codes, structured)
    return model, labels


def _fixed_values(spec: Any, model: MarginalModel, labels: list[str]) -> dict[int, float]:
    """User-fixed σ², profile-fixed parameters and σ² of single-level factors (set to 0)."""
    fixed: dict[int, float] = {}
    if spec.sigma2 is not None:
        if len(spec.sigma2) != model.m:
            raise MetaAnalysisError(
                f"sigma2 has {len(spec.sigma2)} values but the model has {model.m} "
                f"random-intercept components ({', '.join(labels)})."
            )
        for j, value in enumerate(spec.sigma2):
            if value is not None and np.isfinite(value):
                if value < 0:
                    raise MetaAnalysisError("Fixed sigma2 values must be non-negative.")
                fixed[j] = float(value)
    single = [j for j, c in enumerate(model.sigma_codes) if int(c.max()) == 0 and j not in fixed]
    if single:
        warnings.warn(
            "Single-level factor(s) in random= ("
            + ", ".join(labels[j] for j in single)
            + "): their variance is not identified and is fixed at 0, as metafor's rma.mv "
            "does. Drop the term or check the grouping column.",
            DataQualityWarning,
            stacklevel=6,
        )
        fixed.update({j: 0.0 for j in single})
    fixed.update(spec.fixed)
    return fixed


def marginal_covariance(result: Any) -> np.ndarray:
    """Model-implied covariance of the effect sizes of a fitted result (k × k).

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(yi=[0.1, 0.3, 0.2], vi=[0.01, 0.02, 0.01], method="FE")
    >>> marginal_covariance(res).shape
    (3, 3)
    """
    if not result.multilevel:
        return np.diag(np.asarray(result.vi, float) + result.tau2)
    model, _ = build_model(result.spec)
    return model.covariance(result.theta)


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------
def _test_df(spec: Any, N: int, p: int) -> tuple[str, float]:
    test = spec.test
    if test in ("knha", "adhoc"):
        warnings.warn(
            f"test={test!r}: multilevel models have no Knapp-Hartung rescaling (as metafor's "
            "rma.mv); t and F tests on k - p degrees of freedom are used and the result "
            "reports test='t'.",
            DataQualityWarning,
            stacklevel=6,
        )
        test = "t"
    return test, (float(N - p) if test == "t" else float("inf"))


def _weighted_coefficients(
    spec: Any, model: MarginalModel, theta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """β and its sandwich covariance with user weights (metafor ``rma.mv(W = ...)``)."""
    W = np.asarray(spec.weights, float)
    A = np.diag(W) if W.ndim == 1 else W
    X = spec.X
    inv = np.linalg.inv(X.T @ A @ X)
    beta = inv @ X.T @ A @ spec.yi
    Vm = model.covariance(theta)
    return beta, inv @ X.T @ A @ Vm @ A @ X @ inv


def _log_likelihoods(
    model: MarginalModel, theta: np.ndarray, beta: np.ndarray | None
) -> tuple[float, float]:
    """ML and REML log-likelihoods at ``theta`` (at ``beta`` when weights moved it)."""
    ml = model.evaluate(theta, reml=False)
    reml = model.evaluate(theta, reml=True)
    if beta is None:
        return ml["ll"], reml["ll"]
    shift = 0.5 * (model.quad_form(ml, model.y - model.X @ beta) - ml["quad"])
    return ml["ll"] - shift, reml["ll"] - shift


def _q_e(spec: Any) -> float:
    """Residual heterogeneity statistic ``Q_E = r'V⁻¹r`` of the fixed-effects fit with V."""
    fe = MarginalModel(spec.yi, _sampling_covariance(spec), spec.X, [], [])
    ev = fe.evaluate(np.empty(0), reml=False)
    return (
        float("nan") if ev is None else max(0.0, float(ev["u"] @ (spec.yi - spec.X @ ev["beta"])))
    )


def _component_table(
    model: MarginalModel, theta: np.ndarray, labels: list[str], fixed: dict[int, float]
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame | None, float]:
    """Variance components as metafor prints them, σ², G of the first structured term, total."""
    parts = model.split(theta)
    rows = []
    for j, (s2, label) in enumerate(zip(parts[0], labels, strict=True)):
        n_levels = int(model.sigma_codes[j].max()) + 1
        rows.append((f"sigma^2.{j + 1}", label, s2, np.sqrt(s2), n_levels, j in fixed))
    G_frame = None
    total = float(np.sum(parts[0]))
    offset = model.m
    for t, th in zip(model.structured, parts[1:], strict=True):
        tau2, rho = t.cov.report(th)
        names = [n for n, kind in zip(t.cov.param_names, t.cov.kinds, strict=True) if kind != "cor"]
        for j, (name, value) in enumerate(zip(names, tau2, strict=True)):
            level = f" ({t.cov.levels[j]})" if len(tau2) > 1 else ""
            rows.append(
                (name, t.label + level, value, np.sqrt(value), t.n_outer, offset + j in fixed)
            )
        cor_names = [
            n for n, kind in zip(t.cov.param_names, t.cov.kinds, strict=True) if kind == "cor"
        ]
        for j, (name, value) in enumerate(zip(cor_names, rho, strict=True)):
            rows.append((name, t.label, value, np.nan, t.n_outer, offset + len(names) + j in fixed))
        offset += len(t.cov.param_names)
        if G_frame is None:
            G = t.cov.matrix(th)[0]
            G_frame = pd.DataFrame(G, index=t.cov.levels, columns=t.cov.levels)
        total = total + float(tau2[0]) if t.cov.struct in ("CS", "AR", "ID") else float("nan")
    table = pd.DataFrame(
        rows, columns=["component", "term", "estimate", "sqrt", "n_levels", "fixed"]
    ).set_index("component")
    return table, parts[0], G_frame, total


def _fit_statistics(
    ll_ml: float, ll_reml: float, N: int, p: int, parms: int, ll_sat: float
) -> pd.DataFrame:
    def aicc(ll: float, n: float) -> float:
        mm = max(n, parms + 2)
        return -2 * ll + 2 * parms * mm / (mm - parms - 1)

    return pd.DataFrame.from_dict(
        {
            "ll": (ll_ml, ll_reml),
            "dev": (-2 * (ll_ml - ll_sat), -2 * ll_reml),
            "AIC": (-2 * ll_ml + 2 * parms, -2 * ll_reml + 2 * parms),
            "BIC": (-2 * ll_ml + parms * np.log(N), -2 * ll_reml + parms * np.log(N - p)),
            "AICc": (aicc(ll_ml, N), aicc(ll_reml, N - p)),
        },
        orient="index",
        columns=["ML", "REML"],
    )


def fit_multilevel(spec: Any) -> MetaResult:
    """Fit a multilevel/multivariate model by REML or ML (internal; use ``meta_analysis``).

    Notes
    -----
    REML/ML by Fisher scoring in the variance parameters with step halving and projection
    onto their bounds (metafor ``rma.mv`` optimises the same likelihood with ``nlminb``).
    Level-specific I² follows Cheung (2014): ``I²_l = σ²_l / (Σσ² + ṽ)`` with the typical
    within-study variance ``ṽ = (k − p)/tr(P)``. A factor with a single level gets its
    variance fixed at 0 with a warning (as metafor). Validated against metafor 3.8-1
    ``rma.mv`` (three-level, crossed, CS/HCS/UN/AR structures, user V and W; tolerance 1e-5
    relative, metafor run with tight optimiser tolerances).
    """
    if spec.method not in ("REML", "ML"):
        raise MetaAnalysisError("Multilevel models are estimated with method='REML' or 'ML'.")
    reml = spec.method == "REML"
    N, p = spec.X.shape
    if N <= p:
        raise MetaAnalysisError("Too few effect sizes for the moderators in a multilevel model.")
    model, labels = build_model(spec)
    fixed = _fixed_values(spec, model, labels)
    control = dict(spec.control)
    theta, iterations, converged = model.fit(
        reml, fixed, threshold=control.get("threshold", _THRESHOLD),
        maxiter=control.get("maxiter", _MAXITER),
    )  # fmt: skip
    if not converged:
        warnings.warn(
            "Multilevel REML/ML estimation did not converge; variance components may be "
            "inaccurate.",
            ConvergenceWarning,
            stacklevel=5,
        )
    ev = model.evaluate(theta, reml)
    beta, vb = ev["beta"], ev["vb"]
    weighted = spec.weights is not None
    if weighted:
        beta, vb = _weighted_coefficients(spec, model, theta)
    ll_ml, ll_reml = _log_likelihoods(model, theta, beta if weighted else None)
    test, df = _test_df(spec, N, p)
    components, sigma2, G, total = _component_table(model, theta, labels, fixed)
    vt = typical_within_variance(spec.vi, spec.X) if np.all(spec.vi > 0) else float("nan")
    i2_levels = 100 * sigma2 / (np.sum(sigma2) + vt)
    i2 = float(np.sum(i2_levels)) if np.isfinite(total) else float("nan")
    if weighted:
        W = np.asarray(spec.weights, float)
        w_diag = W if W.ndim == 1 else np.diag(W)
    else:
        w_diag = model.diag_inverse(ev)
    qe = _q_e(spec)
    sat = -0.5 * N * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(_sampling_covariance(spec))[1]
    parms = p + model.n_params - len(fixed)
    return build_result(
        yi=spec.yi, vi=spec.vi, X=spec.X, mod_names=list(spec.mod_names), labels=spec.labels,
        beta=beta, vb=vb, df=df, level=spec.level, tau2=total, i2=i2,
        h2=float((total + vt) / vt) if np.isfinite(total) else float("nan"),
        q=qe, q_p=float(stats.chi2.sf(qe, N - p)), r2=float("nan"),
        weights=100 * w_diag / w_diag.sum(), method=spec.method, test=test,
        measure=spec.measure, data=spec.data, vt=vt, loglik=ll_reml if reml else ll_ml,
        fit_stats=_fit_statistics(ll_ml, ll_reml, N, p, parms, sat), converged=converged,
        iterations=iterations, sigma2=sigma2, i2_levels=i2_levels, components=components,
        G=G, theta=theta, random=spec.random,
        n_groups=tuple(int(c.max()) + 1 for c in model.sigma_codes), spec=spec,
    )  # fmt: skip
