"""Kenward-Roger inference for the fixed effects of a linear mixed model.

Kenward & Roger (1997, Biometrics 53(3)) correct two small-sample problems of Wald tests in
REML fits: the plug-in covariance ``Phi = (X' Sigma^-1 X)^-1`` underestimates the variance of
``beta`` because the variance parameters are estimated, and the F statistic is not F
distributed. With ``Sigma = sum_i s_i G_i`` linear in the variance parameters ``s`` (each
random-effect variance and covariance, and the residual variance) the adjusted covariance is

    Phi_A = Phi + 2 Phi [ sum_ij W_ij (Q_ij - P_i Phi P_j) ] Phi,

``P_i = -X' Sigma^-1 G_i Sigma^-1 X``, ``Q_ij = X' Sigma^-1 G_i Sigma^-1 G_j Sigma^-1 X`` and
``W`` the inverse of the expected REML information ``tr(P G_i P G_j) / 2``
(``P = Sigma^-1 - Sigma^-1 X Phi X' Sigma^-1``). A test of ``L beta = 0`` with ``q`` rows
scales its Wald F statistic and takes denominator df from the moments ``A1``, ``A2`` of
Kenward & Roger's section 3. This is the construction of pbkrtest (Halekoh & Højsgaard
2014, J Stat Softw 59(9)): the same parameters, the same (zero) second derivatives of
``Sigma``, the same generalised inverse when the information is singular.

pbkrtest builds the dense ``n x n`` matrices ``Sigma^-1`` and ``G_i``. Here ``Sigma`` is
split into its independent blocks (rows linked through a shared level of some grouping
factor: one block per subject, per therapist's caseload, or one block for a crossed design),
and every quantity is a sum over blocks of products of ``q_c x q_c`` matrices (``q_c`` the
random effects in the block) built from the block's ``Z'Z``, ``Z'X`` and ``X'X`` with
Woodbury's identity ``Sigma^-1 = (I - Z W Z') / sigma^2``, ``W = Lambda (Lambda' Z'Z Lambda
+ I)^-1 Lambda'``. Blocks of the same shape are processed together. The cost grows with the
number of blocks, not with the square of the number of rows.

Examples
--------
>>> from alliancestats.simulate import simulate_sessions
>>> from alliancestats.models import lmm
>>> df = simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = lmm("pain ~ session + (1 | patient)", df)
>>> kr = kenward_roger(fit.model)
>>> bool(kr.vcov[1, 1] >= fit.model.vcov_beta()[1, 1])
True
>>> round(kr.df([0.0, 1.0]), 3) > 0
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy import stats
from scipy.sparse.csgraph import connected_components

from alliancestats.errors import ModelSpecificationError
from alliancestats.models.design import RandomBlock

__all__ = [
    "KenwardRoger",
    "adjusted_covariance",
    "check_ddf",
    "kenward_roger",
]

#: largest number of random effects in one independent block (dense q x q algebra per block)
MAX_BLOCK_EFFECTS = 3000
_DDF_NAMES = {
    "satterthwaite": "satterthwaite",
    "kenward-roger": "kenward-roger",
    "kenward_roger": "kenward-roger",
    "kenwardroger": "kenward-roger",
    "kr": "kenward-roger",
}


def check_ddf(ddf: Any, allowed: Sequence[str] = ("satterthwaite", "kenward-roger")) -> str:
    """Normalise a denominator-df method name (``"Kenward-Roger"``, ``"kr"``, ...).

    Returns ``"satterthwaite"``, ``"kenward-roger"`` or another name listed in ``allowed``
    (case-insensitive); raises :class:`~alliancestats.errors.ModelSpecificationError`
    otherwise.

    Examples
    --------
    >>> check_ddf("Kenward-Roger"), check_ddf("KR"), check_ddf("Satterthwaite")
    ('kenward-roger', 'kenward-roger', 'satterthwaite')
    """
    key = str(ddf).strip().lower() if isinstance(ddf, str) else None
    name = _DDF_NAMES.get(key, key) if key is not None else None
    if name not in allowed:
        spelled = ", ".join(repr(a) for a in allowed)
        raise ModelSpecificationError(f"ddf must be one of {spelled}, got {ddf!r}")
    return name


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True)
class KenwardRoger:
    """Kenward-Roger adjusted covariance of the fixed effects and what its tests need.

    Attributes
    ----------
    vcov : numpy.ndarray
        Adjusted covariance ``Phi_A`` (pbkrtest's ``vcovAdj``).
    vcov_unadjusted : numpy.ndarray
        The REML plug-in covariance ``Phi`` (lme4's ``vcov``).
    P : numpy.ndarray
        ``(m, p, p)``: ``P_i`` for the ``m`` variance parameters.
    W : numpy.ndarray
        ``(m, m)``: twice the inverse expected information of the variance parameters.
    condition : float
        Smallest absolute eigenvalue of the expected information (a generalised inverse is
        used below 1e-10, as pbkrtest does).
    """

    vcov: np.ndarray
    vcov_unadjusted: np.ndarray
    P: np.ndarray = field(repr=False)
    W: np.ndarray = field(repr=False)
    condition: float = np.nan

    def _moments(self, L: np.ndarray) -> tuple[float, float]:
        """Kenward & Roger's ``A1`` and ``A2`` for the rows of ``L``."""
        V0 = self.vcov_unadjusted
        theta = L.T @ np.linalg.solve(L @ V0 @ L.T, L)
        U = np.einsum("ab,ibc,cd->iad", theta @ V0, self.P, V0)
        tr = np.einsum("iaa->i", U)
        a1 = float(tr @ self.W @ tr)
        a2 = float(np.einsum("ij,iab,jba->", self.W, U, U))
        return a1, a2

    def _df_scaling(self, L: np.ndarray, q: int) -> tuple[float, float]:
        """Denominator df and F scaling for ``q`` independent rows of ``L``."""
        a1, a2 = self._moments(L)
        B = (a1 + 6 * a2) / (2 * q)
        g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
        den = 3 * q + 2 * (1 - g)
        c1, c2, c3 = g / den, (q - g) / den, (q + 2 - g) / den
        v0 = 1 + c1 * B
        v0 = 0.0 if abs(v0) < 1e-10 else v0
        v1, v2 = 1 - c2 * B, 1 - c3 * B
        ratio = 1.0 if abs(1 - a2 / q) < 1e-14 and abs(v1) < 1e-14 else (1 - a2 / q) / v1
        rho = ratio**2 * v0 / v2 / q
        df2 = 4 + (q + 2) / (q * rho - 1)
        scaling = 1.0 if abs(df2 - 2) < 1e-2 else df2 * (1 - a2 / q) / (df2 - 2)
        return float(df2), float(scaling)

    def df(self, L: Any) -> float:
        """Kenward-Roger denominator df of ``L @ beta`` (one row, or the rows of a matrix).

        pbkrtest's ``Lb_ddf`` (the number of rows is the numerator df).

        Parameters
        ----------
        L : array-like
            Contrast vector or matrix (columns = fixed effects).
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        if not np.any(L):
            return np.nan
        return self._df_scaling(L, L.shape[0])[0]

    def se(self, L: Any) -> float:
        """Standard error of ``L @ beta`` from the adjusted covariance.

        Parameters
        ----------
        L : array-like
            Contrast vector (one weight per fixed effect).
        """
        L = np.asarray(L, dtype=float).ravel()
        return float(np.sqrt(L @ self.vcov @ L))

    def f_test(self, L: Any, beta: np.ndarray, rhs: Any = 0.0) -> dict[str, float]:
        """Kenward-Roger F test of ``L beta = rhs`` (pbkrtest's ``KRmodcomp``).

        Rows of ``L`` that are linearly dependent are replaced by an orthonormal basis of
        its row space. Returns ``num_df, den_df, F`` (scaled), ``F_unscaled`` (the Wald
        statistic over ``q`` with ``Phi_A``), ``scaling`` and ``p``.

        Parameters
        ----------
        L : array-like
            Contrast matrix (rows = hypotheses, columns = fixed effects).
        beta : numpy.ndarray
            Fixed-effect estimates.
        rhs : float or array-like, default 0
            Hypothesised value of each row of ``L beta``.
        """
        L = np.atleast_2d(np.asarray(L, dtype=float))
        beta = np.asarray(beta, dtype=float)
        rhs = np.broadcast_to(np.asarray(rhs, dtype=float), (L.shape[0],))
        beta_h = np.linalg.pinv(L) @ rhs if np.any(rhs) else np.zeros_like(beta)
        q = int(np.linalg.matrix_rank(L))
        if q == 0:
            return {"num_df": 0, "den_df": np.nan, "F": np.nan, "F_unscaled": np.nan,
                    "scaling": np.nan, "p": np.nan}
        if q < L.shape[0]:
            Q, _ = np.linalg.qr(L.T)
            L = Q[:, :q].T
        df2, scaling = self._df_scaling(L, q)
        d = L @ (beta - beta_h)
        wald = float(d @ np.linalg.solve(L @ self.vcov @ L.T, d))
        f_u = wald / q
        f = scaling * f_u
        return {"num_df": q, "den_df": df2, "F": f, "F_unscaled": f_u, "scaling": scaling,
                "p": float(stats.f.sf(f, q, df2))}


# ---------------------------------------------------------------------------- blocks
@dataclass
class _Group:
    """Independent blocks of one shape: the same number of levels of every term."""

    counts: tuple[int, ...]  # levels of each term in one block
    size: int  # random effects per block (q_c)
    S: np.ndarray  # (G, q_c, q_c) per block Z'Z
    F: np.ndarray  # (G, q_c, p) Z'X
    H: np.ndarray  # (G, p, p) X'X
    n: np.ndarray  # (G,) rows


def _level_components(blocks: Sequence[RandomBlock]) -> list[np.ndarray]:
    """Component label of every level of every term (levels linked through shared rows)."""
    sizes = [b.nlevels for b in blocks]
    start = np.concatenate([[0], np.cumsum(sizes)])
    first = blocks[0].codes + start[0]
    rows, cols = [first], [first]
    for k, b in enumerate(blocks[1:], start=1):
        rows.append(first)
        cols.append(b.codes + start[k])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = sp.coo_matrix((np.ones(r.size), (r, c)), shape=(start[-1], start[-1]))
    _, labels = connected_components(graph, directed=False)
    return [labels[start[k] : start[k + 1]] for k in range(len(blocks))]


def _local_rank(comp: np.ndarray) -> np.ndarray:
    """Position of each level among the levels of its component (in level order)."""
    order = np.lexsort((np.arange(comp.size), comp))
    sorted_comp = comp[order]
    first = np.searchsorted(sorted_comp, sorted_comp, side="left")
    rank = np.empty(comp.size, dtype=np.intp)
    rank[order] = np.arange(comp.size) - first
    return rank


def _groups(X: np.ndarray, blocks: Sequence[RandomBlock]) -> list[_Group]:
    """Per-block sums of ``Z'Z``, ``Z'X`` and ``X'X``, blocks of equal shape stacked."""
    comps = _level_components(blocks)
    ncomp = int(max(c.max() for c in comps)) + 1
    counts = np.stack([np.bincount(c, minlength=ncomp) for c in comps], axis=1)
    ranks = [_local_rank(c) for c in comps]
    row_comp = comps[0][blocks[0].codes]
    has_rows = np.bincount(row_comp, minlength=ncomp) > 0
    qs = np.array([b.q for b in blocks])
    shapes, shape_id = np.unique(counts, axis=0, return_inverse=True)
    shape_id = np.ravel(shape_id)
    out = []
    p = X.shape[1]
    for s, shape in enumerate(shapes):
        members = np.flatnonzero((shape_id == s) & has_rows)
        if members.size == 0:
            continue
        size = int(shape @ qs)
        if size > MAX_BLOCK_EFFECTS:
            raise ModelSpecificationError(
                f"Kenward-Roger needs dense algebra over the {size} random effects that are "
                f"linked through crossed grouping factors (limit {MAX_BLOCK_EFFECTS}); use "
                "Satterthwaite df for this model"
            )
        pos = np.full(ncomp, -1)
        pos[members] = np.arange(members.size)
        sel = np.flatnonzero(pos[row_comp] >= 0)
        g = pos[row_comp[sel]]
        offsets = np.concatenate([[0], np.cumsum(shape * qs)])
        idx, val = [], []
        for k, b in enumerate(blocks):
            lev = ranks[k][b.codes[sel]]
            for a in range(b.q):
                idx.append(offsets[k] + lev * b.q + a)
                val.append(b.Z[sel, a])
        G = members.size
        S = np.zeros(G * size * size)
        for i1, v1 in zip(idx, val, strict=True):
            for i2, v2 in zip(idx, val, strict=True):
                S += np.bincount((g * size + i1) * size + i2, v1 * v2, G * size * size)
        Fm = np.zeros((G * size, p))
        Xs = X[sel]
        for i1, v1 in zip(idx, val, strict=True):
            for j in range(p):
                Fm[:, j] += np.bincount(g * size + i1, v1 * Xs[:, j], G * size)
        H = np.zeros((G, p, p))
        for j in range(p):
            for k in range(j, p):
                H[:, j, k] = H[:, k, j] = np.bincount(g, Xs[:, j] * Xs[:, k], G)
        out.append(_Group(tuple(int(c) for c in shape), size, S.reshape(G, size, size),
                          Fm.reshape(G, size, p), H, np.bincount(g, minlength=G).astype(float)))
    return out


def _params(blocks: Sequence[RandomBlock]) -> list[tuple[int, int, int]]:
    """The variance parameters of each term: ``(term, a, b)``, ``a <= b``, row by row."""
    return [(k, a, b) for k, blk in enumerate(blocks) for a in range(blk.q)
            for b in range(a, blk.q)]


def _selector(group: _Group, blocks: Sequence[RandomBlock], k: int, a: int, b: int):
    """``D_i`` of parameter ``(k, a, b)`` in a block: ``D_i A = mask * A[perm]``."""
    offsets = np.concatenate([[0], np.cumsum([c * blk.q for c, blk in
                                              zip(group.counts, blocks, strict=True)])])
    q = blocks[k].q
    base = offsets[k] + np.arange(group.counts[k]) * q
    perm = np.arange(group.size)
    mask = np.zeros(group.size)
    perm[base + a], perm[base + b] = base + b, base + a
    mask[base + a] = mask[base + b] = 1.0
    return perm, mask


def _factor(cov: np.ndarray, sigma: float) -> np.ndarray:
    """A square root ``T`` with ``T T' = cov / sigma^2`` (works for singular covariances)."""
    w, V = np.linalg.eigh(np.asarray(cov, dtype=float) / sigma**2)
    return V * np.sqrt(np.clip(w, 0.0, None))


# ---------------------------------------------------------------------------- kernel
def _accumulate(group, blocks, factors, sigma, params, P, Q, K):  # noqa: PLR0913
    """Add one group's contributions to ``P``, ``Q`` and the traces ``K`` (numerical kernel)."""
    s2 = sigma**2
    lam = np.zeros((group.size, group.size))
    pos = 0
    for c, T in zip(group.counts, factors, strict=True):
        for _ in range(c):
            lam[pos : pos + T.shape[0], pos : pos + T.shape[0]] = T
            pos += T.shape[0]
    S, F, H = group.S, group.F, group.H
    eye = np.eye(group.size)
    Kmat = lam.T @ S @ lam + eye
    Wm = lam @ np.linalg.solve(Kmat, np.broadcast_to(lam.T, Kmat.shape))
    SW = S @ Wm
    zmz = (S - SW @ S) / s2
    zmx = (F - SW @ F) / s2
    xmx = (H - np.swapaxes(F, 1, 2) @ Wm @ F) / s2
    i_sw = eye - SW
    zm2z = i_sw @ zmz / s2
    zm2x = i_sw @ zmx / s2
    xm2x = (xmx - np.swapaxes(F, 1, 2) @ Wm @ zmx) / s2
    xm3x = (xm2x - np.swapaxes(zmx, 1, 2) @ Wm @ zmx) / s2
    tr_m2 = (group.n - 2 * np.einsum("gii->g", SW) + np.einsum("gij,gji->g", SW, SW)) / s2**2
    m = len(params) + 1
    A, B, E = [], [], []
    for k, a, b in params:
        perm, mask = _selector(group, blocks, k, a, b)
        At = zmx[:, perm, :] * mask[None, :, None]
        A.append(At)
        B.append(zmz[:, :, perm] * mask[None, None, :])
        E.append(zmz @ At)
    r = m - 1  # the residual variance is the last parameter
    for i in range(r):
        P[i] -= np.einsum("gqp,gqr->pr", zmx, A[i])
        perm, mask = _selector(group, blocks, *params[i])
        K[i, r] += float(np.sum(zm2z[:, np.arange(group.size), perm] * mask))
        Q[i, r] += np.einsum("gqp,gqr->pr", A[i], zm2x)
        for j in range(i, r):
            Q[i, j] += np.einsum("gqp,gqr->pr", A[i], E[j])
            K[i, j] += float(np.einsum("gxy,gyx->", B[i], B[j]))
    P[r] -= xm2x.sum(axis=0)
    Q[r, r] += xm3x.sum(axis=0)
    K[r, r] += float(tr_m2.sum())


def adjusted_covariance(
    X: np.ndarray,
    blocks: Sequence[RandomBlock],
    covs: Sequence[np.ndarray],
    sigma: float,
    vcov: np.ndarray,
) -> KenwardRoger:
    """Kenward-Roger adjusted covariance for given variance components (numerical kernel).

    Parameters
    ----------
    X : numpy.ndarray
        Fixed-effects matrix ``(n, p)``.
    blocks : list of RandomBlock
        Random-effects terms (``Z``, ``codes``, ``nlevels``).
    covs : list of numpy.ndarray
        Covariance matrix of each term's random effects (response scale).
    sigma : float
        Residual SD.
    vcov : numpy.ndarray
        ``Phi``, the REML covariance of the fixed effects at these variance components.

    Returns
    -------
    KenwardRoger

    Examples
    --------
    >>> import numpy as np
    >>> from alliancestats.models.design import RandomBlock
    >>> codes = np.repeat(np.arange(4), 3)
    >>> X = np.column_stack([np.ones(12), np.tile([0.0, 1.0, 2.0], 4)])
    >>> blk = RandomBlock.from_codes("g", codes)
    >>> V = np.linalg.inv(X.T @ np.linalg.inv(np.eye(12) + np.kron(np.eye(4), np.ones((3, 3)))) @ X)
    >>> kr = adjusted_covariance(X, [blk], [np.eye(1)], 1.0, V)
    >>> round(kr.df([0.0, 1.0]), 6)  # balanced: the within-group slope has 12 - 4 - 1 df
    7.0
    >>> bool(np.allclose(kr.vcov, V))  # and the covariance needs no adjustment
    True
    """
    X = np.asarray(X, dtype=float)
    p = X.shape[1]
    params = _params(blocks)
    m = len(params) + 1
    P, Q, K = np.zeros((m, p, p)), np.zeros((m, m, p, p)), np.zeros((m, m))
    factors = [_factor(c, sigma) for c in covs]
    for group in _groups(X, blocks):
        _accumulate(group, blocks, factors, sigma, params, P, Q, K)
    for i in range(m):
        for j in range(i):
            Q[i, j] = Q[j, i].T
            K[i, j] = K[j, i]
    Phi = np.asarray(vcov, dtype=float)
    PhiP = np.einsum("ab,ibc->iac", Phi, P)
    info = (K - 2 * np.einsum("ab,ijba->ij", Phi, Q)
            + np.einsum("iab,jba->ij", PhiP, PhiP))
    info = 0.5 * (info + info.T)
    condition = float(np.min(np.abs(np.linalg.eigvalsh(info))))
    W = 2 * (np.linalg.inv(info) if condition > 1e-10 else np.linalg.pinv(info))
    W = 0.5 * (W + W.T)
    U = np.einsum("ij,ijab->ab", W, Q) - np.einsum("ij,iab,bc,jcd->ad", W, P, Phi, P)
    adj = Phi + 2 * Phi @ U @ Phi
    return KenwardRoger(0.5 * (adj + adj.T), Phi, P, W, condition)


def kenward_roger(model: Any, refit: Any = None) -> KenwardRoger:
    """Kenward-Roger adjusted covariance of a fitted linear mixed model (REML).

    Parameters
    ----------
    model : FittedModel
        ``MixedResult.model`` of an :func:`~alliancestats.models.lmm` fit by REML.
    refit : Refit, optional
        A fast refit of ``model`` (:meth:`FittedModel.refit`); its variance components and
        ``vcov`` are used instead of the model's.

    Returns
    -------
    KenwardRoger
        ``vcov`` (adjusted), ``df(L)``, ``se(L)``, ``f_test(L, beta)``.

    Raises
    ------
    ModelSpecificationError
        A GLMM, a fit by maximum likelihood (the method rests on REML; lmerTest refuses
        it too), or a fit with prior weights.

    Notes
    -----
    Validated against pbkrtest 0.5.2 (``vcovAdj``, ``Lb_ddf``, ``KRmodcomp``) through
    lmerTest 3.1-3's ``summary(fit, ddf = "Kenward-Roger")``, ``anova`` and ``contest`` on
    sleepstudy, a sessions-in-patients-in-therapists model with six therapists, Orthodont
    with missing visits, a crossed consumer-by-product model and a boundary fit; see the
    tolerances in :meth:`MixedResult.with_ddf`.
    """
    design = getattr(model, "design", None)
    if getattr(model, "family", None) != "gaussian" or design is None:
        raise ModelSpecificationError(
            "Kenward-Roger df are defined for linear mixed models (lmm); GLMM tests are "
            "asymptotic (z)"
        )
    if not getattr(model, "reml", False):
        raise ModelSpecificationError(
            "Kenward-Roger's method is only available for REML fits; refit with reml=True"
        )
    weights = np.asarray(getattr(model, "prior_weights", np.ones(1)), dtype=float)
    if np.any(weights != 1.0):
        raise ModelSpecificationError(
            "Kenward-Roger df are implemented for unweighted fits (pbkrtest ignores prior "
            "weights as well); use Satterthwaite df for a model with weights"
        )
    if refit is None:
        covs = [c.cov for c in model.covariances()]
        sigma, vcov = float(model.sigma), model.vcov_beta()
    else:
        covs = [c.cov for c in refit.covariances]
        sigma, vcov = float(refit.sigma), refit.vcov
    return adjusted_covariance(design.X, design.random, covs, sigma, vcov)
