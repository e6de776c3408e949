"""Full-information maximum likelihood for multivariate normal data with missing values.

Rows are grouped by their pattern of observed variables; each pattern contributes the normal
log-likelihood of its observed part under the model's mean and covariance restricted to those
variables (Arbuckle 1996, in *Advanced Structural Equation Modeling*; Enders & Bandalos 2001,
Struct Equ Modeling 8(3)). Per pattern only the count, mean and ML covariance of its rows are
needed for the likelihood and its gradient; casewise scores (for robust standard errors) use
the rows themselves.

Besides the model likelihood this module provides the two reference models of the fit
indices: the saturated (unrestricted) model, estimated by the EM algorithm (Dempster, Laird &
Rubin 1977; Little & Rubin 2002, ch. 11), and the independence (baseline) model, whose ML
estimates under missing data are each variable's own mean and variance.

Examples
--------
>>> import numpy as np
>>> from alliancestats.panel.fiml import GroupData
>>> y = np.array([[1.0, 2.0], [2.0, np.nan], [3.0, 5.0], [np.nan, np.nan]])
>>> data = GroupData.from_array(y)
>>> data.n, data.n_dropped, len(data.patterns)
(3, 1, 2)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from alliancestats.panel.ram import Implied

__all__ = [
    "Block",
    "GroupData",
    "NotPositiveDefinite",
    "Pattern",
    "expected_information",
    "independence_loglik",
    "loglik",
    "loglik_gradient",
    "saturated_moments",
    "casewise_scores",
]

_LOG_2PI = float(np.log(2.0 * np.pi))


class NotPositiveDefinite(ArithmeticError):
    """A model-implied covariance matrix is not positive definite at these parameters."""


@dataclass
class Pattern:
    """Rows sharing one pattern of observed variables."""

    observed: np.ndarray  # indices of the observed variables
    rows: np.ndarray  # positions of the rows in the group's data
    y: np.ndarray  # (n, m) observed values
    mean: np.ndarray
    cov: np.ndarray  # ML covariance (divisor n)

    @property
    def n(self) -> int:
        return self.y.shape[0]


@dataclass
class Block:
    """All patterns with the same number ``m`` of observed variables, stacked.

    ``order`` lists, per pattern, its observed variables and then its missing ones; the
    ``flat_*`` arrays are positions in a raveled ``(p, p)`` matrix for scatter-adds.
    """

    index: np.ndarray  # (k, m) observed variable indices per pattern
    n: np.ndarray  # (k,) rows per pattern
    mean: np.ndarray  # (k, m)
    cov: np.ndarray  # (k, m, m)
    order: np.ndarray  # (k, p) observed then missing variable indices
    n_vars: int

    @property
    def flat_observed(self) -> np.ndarray:
        p = self.n_vars
        return (self.index[:, :, None] * p + self.index[:, None, :]).ravel()

    @property
    def flat_order(self) -> np.ndarray:
        p = self.n_vars
        return (self.order[:, :, None] * p + self.order[:, None, :]).ravel()

    def take(self, sigma: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The implied covariance blocks ``(k, m, m)`` and mean blocks ``(k, m)``."""
        k, m = self.index.shape
        return sigma.ravel()[self.flat_observed].reshape(k, m, m), mu[self.index]

    def scatter(self, values: np.ndarray, flat: np.ndarray) -> np.ndarray:
        """Sum stacked ``(k, a, a)`` blocks into a ``(p, p)`` matrix at ``flat`` positions."""
        p = self.n_vars
        return np.bincount(flat, weights=values.ravel(), minlength=p * p).reshape(p, p)


@dataclass
class GroupData:
    """One group's data split into missing-data patterns.

    Attributes
    ----------
    patterns : list of Pattern
    n : int
        Rows with at least one observed value (rows with none are dropped, as lavaan does).
    n_dropped : int
        Rows without any observed value.
    kept : numpy.ndarray
        Positions (in the array given) of the rows kept.
    n_vars : int
    """

    patterns: list[Pattern]
    n: int
    n_dropped: int
    kept: np.ndarray
    n_vars: int
    blocks: list[Block]

    @classmethod
    def from_array(cls, y: np.ndarray) -> GroupData:
        """Split an ``(n, p)`` array with NaN for missing values into patterns."""
        y = np.asarray(y, dtype=float)
        seen = ~np.isnan(y)
        keep = seen.any(axis=1)
        kept = np.flatnonzero(keep)
        masks = seen[keep]
        values = y[keep]
        codes, inverse = np.unique(masks, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).ravel()
        patterns = []
        for k, mask in enumerate(codes):
            rows = np.flatnonzero(inverse == k)
            obs = np.flatnonzero(mask)
            block = values[np.ix_(rows, obs)]
            mean = block.mean(axis=0)
            centred = block - mean
            patterns.append(Pattern(obs, rows, block, mean, centred.T @ centred / len(rows)))
        patterns.sort(key=lambda pat: -pat.n)
        sizes = sorted({len(pat.observed) for pat in patterns})
        blocks = []
        for m in sizes:
            pats = [pat for pat in patterns if len(pat.observed) == m]
            index = np.array([pat.observed for pat in pats])
            order = np.array([np.concatenate([pat.observed, np.setdiff1d(
                np.arange(y.shape[1]), pat.observed)]) for pat in pats])
            blocks.append(Block(
                index,
                np.array([pat.n for pat in pats], dtype=float),
                np.array([pat.mean for pat in pats]),
                np.array([pat.cov for pat in pats]),
                order,
                y.shape[1],
            ))
        return cls(patterns, int(keep.sum()), int((~keep).sum()), kept, y.shape[1], blocks)

    @classmethod
    def complete(cls, gd: GroupData) -> GroupData:
        """A stand-in with the same number of rows, all observing every variable.

        Only the row count and the variable count matter to the expected information, which
        is what this is for (the moments are placeholders).
        """
        p = gd.n_vars
        pat = Pattern(np.arange(p), np.arange(gd.n), np.empty((0, p)), np.zeros(p),
                      np.zeros((p, p)))
        block = Block(np.arange(p)[None, :], np.array([float(gd.n)]), np.zeros((1, p)),
                      np.zeros((1, p, p)), np.arange(p)[None, :], p)
        return cls([pat], gd.n, 0, gd.kept, p, [block])

    def coverage(self) -> np.ndarray:
        """Number of rows observing each pair of variables (diagonal: each variable)."""
        out = np.zeros((self.n_vars, self.n_vars), dtype=int)
        for pat in self.patterns:
            out[np.ix_(pat.observed, pat.observed)] += pat.n
        return out

    def observed_values(self, j: int) -> np.ndarray:
        """All observed values of variable ``j``."""
        parts = [pat.y[:, list(pat.observed).index(j)] for pat in self.patterns if j in pat.observed]
        return np.concatenate(parts) if parts else np.empty(0)


def _inverse_and_logdet(sigma: np.ndarray) -> tuple[np.ndarray, float]:
    try:
        chol = linalg.cholesky(sigma, lower=True, check_finite=False)
    except (linalg.LinAlgError, ValueError) as exc:
        raise NotPositiveDefinite(str(exc)) from exc
    if not np.all(np.isfinite(chol)):
        raise NotPositiveDefinite("non-finite Cholesky factor")
    logdet = 2.0 * float(np.sum(np.log(np.diag(chol))))
    inv = linalg.cho_solve((chol, True), np.eye(len(sigma)), check_finite=False)
    return inv, logdet


def _batch_inverse(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverses and log-determinants of a stack of covariance matrices ``(k, m, m)``."""
    if not np.all(np.isfinite(sigma)):
        raise NotPositiveDefinite("non-finite implied covariance")
    try:
        chol = np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError as exc:
        raise NotPositiveDefinite(str(exc)) from exc
    diag = np.diagonal(chol, axis1=1, axis2=2)
    logdet = 2.0 * np.sum(np.log(diag), axis=1)
    eye = np.broadcast_to(np.eye(sigma.shape[1]), sigma.shape)
    half = np.linalg.solve(chol, eye)  # L^-1
    inv = np.swapaxes(half, 1, 2) @ half
    return inv, logdet


def _block_terms(block: Block, imp: Implied):
    sig, mu = block.take(imp.sigma, imp.mu)
    inv, logdet = _batch_inverse(sig)
    d = block.mean - mu
    inv_d = np.einsum("kij,kj->ki", inv, d)
    m = block.index.shape[1]
    quad = np.einsum("kij,kji->k", inv, block.cov) + np.einsum("ki,ki->k", d, inv_d)
    ll = -0.5 * float(block.n @ (m * _LOG_2PI + logdet + quad))
    return inv, inv_d, ll


def loglik(data: list[GroupData], implied: list[Implied]) -> float:
    """FIML log-likelihood summed over groups and patterns."""
    return float(sum(_block_terms(b, imp)[2] for gd, imp in zip(data, implied, strict=True)
                     for b in gd.blocks))


def loglik_gradient(
    data: list[GroupData], implied: list[Implied]
) -> tuple[float, list[np.ndarray], list[np.ndarray]]:
    """Log-likelihood and its derivatives with respect to each group's Sigma and mu.

    Returns ``(loglik, G, g)`` with ``d loglik = sum_g tr(G[g] dSigma_g) + g[g]' dmu_g``.
    """
    total = 0.0
    d_sigma, d_mu = [], []
    for gd, imp in zip(data, implied, strict=True):
        p = gd.n_vars
        G = np.zeros((p, p))
        g = np.zeros(p)
        for b in gd.blocks:
            inv, inv_d, ll = _block_terms(b, imp)
            total += ll
            inner = inv @ b.cov @ inv + inv_d[:, :, None] * inv_d[:, None, :]
            contribution = -0.5 * b.n[:, None, None] * (inv - inner)
            G += b.scatter(contribution, b.flat_observed)
            g += np.bincount(b.index.ravel(), weights=(b.n[:, None] * inv_d).ravel(),
                             minlength=p)
        d_sigma.append(G)
        d_mu.append(g)
    return float(total), d_sigma, d_mu


def expected_information(
    data: list[GroupData],
    implied: list[Implied],
    jacobian: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Expected (Fisher) information of the free parameters, summed over patterns.

    Each pattern contributes ``n (J_mu' W J_mu + tr(W dSigma_s W dSigma_t) / 2)`` with ``W``
    the inverse of its implied covariance (the "structured" expected information of lavaan
    with missing data).
    """
    q = jacobian[0][0].shape[0]
    info = np.zeros((q, q))
    for gd, imp, (d_sigma, d_mu) in zip(data, implied, jacobian, strict=True):
        for b in gd.blocks:
            sig, _ = b.take(imp.sigma, imp.mu)
            inv, _ = _batch_inverse(sig)
            k, m = b.index.shape
            ds = d_sigma[:, b.index[:, :, None], b.index[:, None, :]]  # (q, k, m, m)
            wds = np.einsum("kij,qkjl->kqil", inv, ds)  # W dSigma_t per pattern
            left = (wds * b.n[:, None, None, None]).reshape(k, q, m * m)
            right = np.swapaxes(wds, 2, 3).reshape(k, q, m * m)
            info += 0.5 * np.tensordot(left, right, axes=([0, 2], [0, 2]))
            dm = np.swapaxes(d_mu[:, b.index], 0, 1)  # (k, q, m)
            wdm = np.einsum("kij,kqj->kqi", inv, dm)
            info += np.tensordot(dm * b.n[:, None, None], wdm, axes=([0, 2], [0, 2]))
    return info


def casewise_scores(
    data: list[GroupData],
    implied: list[Implied],
    jacobian: list[tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Gradient of each row's log-likelihood (rows of all groups stacked), shape (N, q)."""
    blocks = []
    for gd, imp, (d_sigma, d_mu) in zip(data, implied, jacobian, strict=True):
        for pat in gd.patterns:
            idx = pat.observed
            inv, _ = _inverse_and_logdet(imp.sigma[np.ix_(idx, idx)])
            ds = d_sigma[:, idx][:, :, idx]
            dm = d_mu[:, idx]
            u = (pat.y - imp.mu[idx]) @ inv  # W r_i per row
            quad = np.einsum("ni,qij,nj->nq", u, ds, u, optimize=True)
            trace = np.einsum("ij,qji->q", inv, ds)
            blocks.append(u @ dm.T + 0.5 * (quad - trace))
    return np.vstack(blocks)


@dataclass
class SaturatedMoments:
    """ML estimates of the unrestricted mean and covariance of one group."""

    mean: np.ndarray
    cov: np.ndarray
    loglik: float
    iterations: int
    converged: bool
    estimable: bool = True


def saturated_moments(
    gd: GroupData, *, tol: float = 1e-11, max_iter: int = 5000
) -> SaturatedMoments:
    """Unrestricted ML mean and covariance (closed form without missing values, else EM).

    Without missing values these are the sample mean and the covariance with divisor n (a
    singular sample covariance raises :class:`NotPositiveDefinite`). With missing values the
    EM algorithm starts from the available-case moments and stops when the log-likelihood
    changes by less than ``tol`` (relative) between iterations; when too few rows observe
    some combination of variables the estimate becomes singular and the result is marked
    ``estimable=False`` (log-likelihood NaN; the moments reached are kept for starting
    values).
    """
    p = gd.n_vars
    if len(gd.patterns) == 1 and len(gd.patterns[0].observed) == p:
        pat = gd.patterns[0]
        mean, cov = pat.mean.copy(), pat.cov.copy()
        ll = _saturated_loglik(gd, mean, cov)
        return SaturatedMoments(mean, cov, ll, 0, True)
    mean = np.array([gd.observed_values(j).mean() for j in range(p)])
    cov = np.diag([gd.observed_values(j).var() for j in range(p)])
    previous = -np.inf
    last = (mean, cov)
    for iteration in range(1, max_iter + 1):
        sum_y = np.zeros(p)
        sum_yy = np.zeros((p, p))
        try:
            for b in gd.blocks:
                f, second = _expected_moments(b, mean, cov)
                sum_y += np.bincount(b.order.ravel(), weights=f.ravel(), minlength=p)
                sum_yy += b.scatter(second, b.flat_order)
            mean = sum_y / gd.n
            cov = sum_yy / gd.n - np.outer(mean, mean)
            cov = (cov + cov.T) / 2
            ll = _saturated_loglik(gd, mean, cov)
        except (NotPositiveDefinite, np.linalg.LinAlgError):
            return SaturatedMoments(*last, np.nan, iteration, False, estimable=False)
        last = (mean, cov)
        if abs(ll - previous) <= tol * max(1.0, abs(ll)):
            return SaturatedMoments(mean, cov, ll, iteration, True)
        previous = ll
    return SaturatedMoments(mean, cov, ll, max_iter, False)


def _expected_moments(b: Block, mean: np.ndarray, cov: np.ndarray):
    """E-step of one block: summed first and second moments, in each pattern's ``order``.

    With ``C`` the regression of the missing on the observed variables, each row is
    ``z = f + T e`` (``f`` the pattern mean completed by the conditional mean, ``e`` the
    row's deviation from the pattern mean, ``T = [I; C']``), so the sums over the pattern's
    rows follow from its count, mean and covariance plus ``n`` times the conditional
    covariance of the missing part.
    """
    k, m = b.index.shape
    p = b.n_vars
    o, u = b.order[:, :m], b.order[:, m:]
    mu_o, mu_u = mean[o], mean[u]
    f = np.empty((k, p))
    f[:, :m] = b.mean
    T = np.zeros((k, p, m))
    T[:, :m, :] = np.eye(m)
    cond = np.zeros((k, p, p))
    if p > m:
        s_oo = cov[o[:, :, None], o[:, None, :]]
        s_ou = cov[o[:, :, None], u[:, None, :]]
        s_uu = cov[u[:, :, None], u[:, None, :]]
        coef = np.linalg.solve(s_oo, s_ou)  # (k, m, r)
        f[:, m:] = mu_u + np.einsum("kmr,km->kr", coef, b.mean - mu_o)
        T[:, m:, :] = np.swapaxes(coef, 1, 2)
        cond[:, m:, m:] = s_uu - np.swapaxes(s_ou, 1, 2) @ coef
    spread = T @ b.cov @ np.swapaxes(T, 1, 2)
    second = b.n[:, None, None] * (f[:, :, None] * f[:, None, :] + spread + cond)
    return b.n[:, None] * f, second


def _saturated_loglik(gd: GroupData, mean: np.ndarray, cov: np.ndarray) -> float:
    imp = Implied(np.empty(0), cov, mean, cov, mean)
    return loglik([gd], [imp])


def independence_loglik(gd: GroupData) -> float:
    """Log-likelihood of the independence model (each variable its own mean and variance)."""
    total = 0.0
    for j in range(gd.n_vars):
        values = gd.observed_values(j)
        if len(values) == 0:
            continue
        var = values.var()
        total -= 0.5 * len(values) * (_LOG_2PI + np.log(var) + 1.0)
    return float(total)
