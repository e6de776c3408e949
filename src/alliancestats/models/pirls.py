"""Penalised iteratively reweighted least squares (PIRLS) and the Laplace approximation.

This module evaluates the GLMM objective of ``lme4::glmer`` (Bates, Mächler, Bolker & Walker
2015, JSS 67(1), section 5) for given covariance parameters ``theta`` and fixed effects
``beta``. The random effects are written ``b = Lambda(theta) u`` with spherical
``u ~ N(0, I_q)``, the linear predictor is ``eta = offset + X beta + Z Lambda u``, and for fixed
``(theta, beta)`` PIRLS finds the conditional mode ``u*`` that minimises the penalised deviance
``sum d_i(mu(u)) + |u|^2``. The Laplace approximation of the deviance (-2 log-likelihood) is

``-2 log L(theta, beta) ~= sum_i -2 log p(y_i | u*) + |u*|^2 + log det(L L')``

with ``L L' = Lambda' Z' W Z Lambda + I`` and ``W`` the GLM working weights at ``u*``.

Two code paths share one interface, :class:`PirlsProblem`:

* a *scalar* path for a single scalar random-effect term such as ``(1 | patient)``: the
  system matrix is diagonal, so each PIRLS iteration is a handful of vectorised O(n) passes
  (``numpy.bincount`` per-group sums) and costs nothing per group;
* a *general* path for any number of (vector-valued, crossed or nested) terms. ``Z Lambda``
  is stored row-wise (every row has the same number of non-zeros), and the system
  ``A = Lambda'Z'WZ Lambda + I`` is factorised densely when small, by eliminating the first
  (largest) term's block-diagonal part and factorising the Schur complement of the other
  terms (:mod:`.pirls_block`; diagonal for patients nested in therapists), or with a sparse
  LU otherwise. The row-wise products are compiled loops (:mod:`.pirls_kernels`).

:meth:`PirlsProblem.laplace_gradient` returns the exact gradient of the Laplace deviance in
``(theta, beta)``, using the implicit derivatives of the conditional modes and the entries of
``A^-1`` on each row's own columns.

The random-effects structure is described by :class:`ReStructure`, built from the design's
terms and the shared θ map (the same ingredients lme4's ``mkReTrms`` uses). The
column order of ``Z`` and the order of ``theta`` follow lme4: terms in formula order, within a
term level-major (all columns of level 1, then level 2, ...), and ``theta`` holds the
lower-triangular relative Cholesky factor of each term column by column.

Examples
--------
>>> import numpy as np
>>> from alliancestats.models.families import get_family
>>> rng = np.random.default_rng(1)
>>> g = np.repeat(np.arange(20), 5)
>>> y = (rng.random(100) < 0.5).astype(float)
>>> from alliancestats.models.design import RandomBlock
>>> re = ReStructure.from_blocks([RandomBlock.from_codes("g", g)])
>>> prob = PirlsProblem(y, np.ones((100, 1)), re, get_family("binomial"))
>>> prob.is_scalar
True
>>> dev = prob.laplace(np.array([0.5]), np.array([0.0]))
>>> bool(np.isfinite(dev))
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, sparse, special
from scipy.sparse import linalg as splinalg

from alliancestats.errors import EstimationError
from alliancestats.models.covariance import ThetaLayout
from alliancestats.models.design import RandomBlock
from alliancestats.models.families import Family
from alliancestats.models.pirls_block import BlockFactor, CrossPattern
from alliancestats.models.pirls_kernels import (
    block_gram,
    row_matvec,
    row_rmatmat,
    row_rmatvec,
)

__all__ = ["ReStructure", "PirlsProblem", "PirlsState"]

_MAX_ITER = 200
_MAX_HALVINGS = 30


@dataclass
class ReStructure:
    """The sparse view of the random effects PIRLS works on: ``Z`` and the pattern of Λ(θ).

    Built from the design's terms (:class:`~alliancestats.models.design.RandomBlock`) and
    the shared θ map (:class:`~alliancestats.models.covariance.ThetaLayout`).
    """

    terms: list[RandomBlock]
    layout: ThetaLayout
    Z: sparse.csc_matrix
    offsets: list[int]
    _lam_rows: np.ndarray = field(repr=False)
    _lam_cols: np.ndarray = field(repr=False)
    _lam_theta: np.ndarray = field(repr=False)

    @classmethod
    def from_blocks(cls, blocks: list[RandomBlock]) -> ReStructure:
        """Assemble ``Z`` and the ``Lambda`` pattern from the random-effects terms."""
        if not blocks:
            raise EstimationError("a GLMM needs at least one random-effects term")
        layout = ThetaLayout.from_sizes([b.q for b in blocks])
        n = blocks[0].Z.shape[0]
        parts, offsets = [], []
        lam_r, lam_c, lam_t = [], [], []
        off = 0
        for k, t in enumerate(blocks):
            s, nl = t.q, t.nlevels
            rows = np.repeat(np.arange(n), s)
            cols = (t.codes[:, None] * s + np.arange(s)[None, :]).ravel()
            parts.append(
                sparse.csc_matrix((t.Z.ravel(), (rows, cols)), shape=(n, nl * s), dtype=float)
            )
            for e, (i, j) in enumerate(zip(layout.rows[k], layout.cols[k], strict=True)):
                lam_r.append(off + np.arange(nl) * s + i)
                lam_c.append(off + np.arange(nl) * s + j)
                lam_t.append(np.full(nl, layout.offsets[k] + e))
            offsets.append(off)
            off += nl * s
        return cls(
            terms=list(blocks),
            layout=layout,
            Z=sparse.hstack(parts, format="csc"),
            offsets=offsets,
            _lam_rows=np.concatenate(lam_r),
            _lam_cols=np.concatenate(lam_c),
            _lam_theta=np.concatenate(lam_t),
        )

    @property
    def q(self) -> int:
        """Total number of random effects."""
        return self.Z.shape[1]

    @property
    def theta_start(self) -> np.ndarray:
        """lme4's starting θ (identity factors)."""
        return self.layout.start()

    @property
    def theta_lower(self) -> np.ndarray:
        """Lower bounds of θ."""
        return self.layout.lower

    def lambda_matrix(self, theta: np.ndarray) -> sparse.csc_matrix:
        """The sparse lower-triangular relative covariance factor ``Lambda(theta)``."""
        return sparse.csc_matrix(
            (theta[self._lam_theta], (self._lam_rows, self._lam_cols)), shape=(self.q, self.q)
        )

    def term_factor(self, theta: np.ndarray, k: int) -> np.ndarray:
        """The ``s x s`` lower-triangular factor ``T_k`` of term ``k`` (``Sigma_k = T T'``)."""
        return self.layout.factor(theta, k)


@dataclass
class PirlsState:
    """Conditional mode and working quantities at convergence of PIRLS."""

    u: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    weights: np.ndarray
    logdet: float
    minus2_cond: float
    dev_cond: float
    iterations: int
    diag: np.ndarray | None = None  # scalar path: diagonal of L L'
    factor: object | None = field(default=None, repr=False)  # general path: A at the weights


_DENSE_MAX_Q = 1500  # largest dense factorisation (whole system or Schur complement)
_BLOCK_MIN_Q = 300  # above this size, eliminate the first term's blocks before factorising


class _Factor:
    """Cholesky (dense) or LU (sparse) factor of ``A = Lambda'Z'WZ Lambda + I``."""

    def __init__(self, A, dense: bool) -> None:
        self.dense = dense
        if dense:
            if not np.all(np.isfinite(A)):
                raise EstimationError("non-finite values in the PIRLS system (extreme parameters)")
            try:
                self.c = linalg.cho_factor(A, lower=True, check_finite=False)
            except linalg.LinAlgError as exc:
                raise EstimationError(f"PIRLS system is not positive definite: {exc}") from exc
            self.logdet = 2.0 * float(np.sum(np.log(np.diag(self.c[0]))))
        else:
            if not np.all(np.isfinite(A.data)):
                raise EstimationError("non-finite values in the PIRLS system (extreme parameters)")
            try:
                self.lu = splinalg.splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0)
            except RuntimeError as exc:
                raise EstimationError(f"PIRLS system could not be factorised: {exc}") from exc
            self.logdet = float(np.sum(np.log(np.abs(self.lu.U.diagonal()))))

    def solve(self, b: np.ndarray) -> np.ndarray:
        if self.dense:
            return linalg.cho_solve(self.c, b, check_finite=False)
        return self.lu.solve(b)


class _RowPattern:
    """``Z Lambda`` stored row-wise: each row has the same number ``r`` of non-zeros.

    Row ``i`` of ``Z Lambda`` is non-zero only in the columns of its own level in each term,
    and there equals ``x_ik' T_k`` (term model row times the term's factor). Products with
    vectors and the system matrix are then ``numpy.bincount`` passes over fixed index arrays.
    """

    def __init__(self, re: ReStructure) -> None:
        self.re = re
        self.q = re.q
        self.cols = np.column_stack(
            [
                re.offsets[k] + t.codes[:, None] * t.q + np.arange(t.q)[None, :]
                for k, t in enumerate(re.terms)
            ]
        ).astype(np.intp)
        self.n, self.r = self.cols.shape
        self.cols_flat = self.cols.ravel()
        self._last_theta = self._last_mv = None
        s0 = re.terms[0].q
        q1 = re.terms[0].nlevels * s0
        q2 = self.q - q1
        small = self.q <= min(_DENSE_MAX_Q, _BLOCK_MIN_Q)
        self.cross = None
        if not small and 0 < q2 <= _DENSE_MAX_Q:
            first = self.cols[:, :s0]
            self.cross = CrossPattern(first, self.cols[:, s0:] - q1, q1, q2)
        if small:
            self.mode = "dense"
            self.pair_index = (self.cols[:, :, None] * self.q + self.cols[:, None, :]).ravel()
        elif q2 <= _DENSE_MAX_Q:
            self.mode = "block"
            self.s0, self.q1, self.q2 = s0, q1, q2
            level = self.cols[:, 0] // s0
            self.level = level
            self.b11_index = (
                level[:, None, None] * s0 * s0
                + np.arange(s0)[None, :, None] * s0
                + np.arange(s0)[None, None, :]
            ).ravel()
        else:
            self.mode = "sparse"
            rows = np.repeat(self.cols, self.r, axis=1).ravel()
            cols = np.tile(self.cols, (1, self.r)).ravel()
            # fixed CSC pattern (with the identity): data are accumulated by slot each time
            diag = np.arange(self.q)
            keys = np.concatenate([cols * self.q + rows, diag * self.q + diag])
            ukeys, slot = np.unique(keys, return_inverse=True)
            self.sp_slot = slot[: rows.size]
            self.sp_diag_slot = slot[rows.size :]
            pc, pr = np.divmod(ukeys, self.q)
            self.sp_indices = pr.astype(np.int32)
            self.sp_indptr = np.concatenate(
                [[0], np.cumsum(np.bincount(pc, minlength=self.q))]
            ).astype(np.int32)
            self.sp_nnz = ukeys.size

    def dvalues(self, theta_index: int) -> np.ndarray:
        """Derivative of :meth:`values` with respect to ``theta[theta_index]`` (linear)."""
        out = np.zeros((self.n, self.r))
        pos = 0
        lay = self.re.layout
        for k, t in enumerate(self.re.terms):
            sl = lay.slice(k)
            if sl.start <= theta_index < sl.stop:
                idx = theta_index - sl.start
                i, j = lay.rows[k][idx], lay.cols[k][idx]
                out[:, pos + j] = t.Z[:, i]
                return out
            pos += t.q
        raise IndexError(theta_index)

    def selected_inverse(self, fac) -> np.ndarray | None:
        """Entries of ``A^-1`` on each row's column pairs, shape ``(n, r, r)``.

        Returns None in sparse mode (too costly).
        """
        cols = self.cols
        if self.mode == "dense":
            Ainv = fac.solve(np.eye(self.q))
            return Ainv[cols[:, :, None], cols[:, None, :]]
        if self.mode == "block":
            return self._selected_inverse_block(fac)
        return None

    def inverse_diagonal_blocks(self, fac) -> list[np.ndarray] | None:
        """Per term, the ``(nlevels, s, s)`` diagonal blocks of ``A^-1`` (block mode only:
        None otherwise), without forming ``A^-1``."""
        if self.mode != "block":
            return None
        out = [fac.diagonal_blocks()]
        if not self.q2:
            return out
        if fac.sdiag is not None:  # a single nested term after the first
            return [*out, (1.0 / fac.sdiag)[:, None, None]]
        Sinv = fac.schur_inverse()
        for k, t in enumerate(self.re.terms[1:], start=1):
            idx = (self.re.offsets[k] - self.q1 + np.arange(t.nlevels)[:, None] * t.q
                   + np.arange(t.q)[None, :])
            out.append(Sinv[idx[:, :, None], idx[:, None, :]])
        return out

    def _selected_inverse_block(self, fac: BlockFactor) -> np.ndarray:
        """:meth:`selected_inverse` from the block elimination.

        ``A^-1`` has blocks ``A11^-1 + K S^-1 K'``, ``-K S^-1`` and ``S^-1`` (``K = A11^-1
        C``, ``S`` the Schur complement); only entries on each row's own columns are needed,
        all of them on the non-zero pattern of ``C``.
        """
        s0, r = self.s0, self.r
        G = np.empty((self.n, r, r))
        if not self.q2:
            G[:] = fac.binv[self.level]
            return G
        ks = fac.ks()
        G[:, :s0, :s0] = fac.diagonal_blocks(ks)[self.level]
        off = -ks[self.cross.slot]  # (n, s0, r - s0)
        G[:, :s0, s0:] = off
        G[:, s0:, :s0] = np.transpose(off, (0, 2, 1))
        rest = self.cols[:, s0:] - self.q1
        if fac.sdiag is not None:
            G[:, s0:, s0:] = (1.0 / fac.sdiag[rest[:, 0]])[:, None, None]
        else:
            Sinv = fac.schur_inverse()
            G[:, s0:, s0:] = Sinv[rest[:, :, None], rest[:, None, :]]
        return G

    def values(self, theta: np.ndarray) -> np.ndarray:
        """Non-zero values of ``Z Lambda(theta)``, shape ``(n, r)`` (the last one is kept:
        PIRLS and the joint mode ask for the same θ many times)."""
        theta = np.asarray(theta, dtype=float)
        if self._last_theta is not None and np.array_equal(theta, self._last_theta):
            return self._last_mv
        parts = [t.Z @ self.re.term_factor(theta, k) for k, t in enumerate(self.re.terms)]
        mv = np.column_stack(parts)
        mv.setflags(write=False)
        self._last_theta, self._last_mv = theta.copy(), mv
        return mv

    def matvec(self, mv: np.ndarray, u: np.ndarray) -> np.ndarray:
        """``(Z Lambda) u``."""
        return row_matvec(self.cols, mv, u)

    def rmatvec(self, mv: np.ndarray, v: np.ndarray) -> np.ndarray:
        """``(Z Lambda)' v``."""
        return row_rmatvec(self.cols, mv, v, self.q)

    def rmatmat(self, mv: np.ndarray, V: np.ndarray) -> np.ndarray:
        """``(Z Lambda)' V`` for an ``(n, k)`` matrix."""
        return row_rmatmat(self.cols, mv, V, self.q)

    def factor(self, mv: np.ndarray, w: np.ndarray) -> _Factor | BlockFactor:
        """Factor ``A = (Z Lambda)' W (Z Lambda) + I`` for the current values."""
        if self.mode == "dense":
            prod = (w[:, None, None] * mv[:, :, None] * mv[:, None, :]).ravel()
            A = np.bincount(self.pair_index, weights=prod, minlength=self.q * self.q)
            A = A.reshape(self.q, self.q)
            A[np.diag_indices(self.q)] += 1.0
            return _Factor(A, True)
        if self.mode == "block":
            s0 = self.s0
            nl = self.q1 // s0
            parts = block_gram(mv, w, self.level, s0, nl, self.cross)
            if parts is not None:
                blocks, cdata, a22 = parts
                blocks += np.eye(s0)[None, :, :]
                if not self.q2:
                    return BlockFactor(blocks)
                if a22.ndim == 1:
                    a22 += 1.0
                else:
                    a22[np.diag_indices(self.q2)] += 1.0
                return BlockFactor(blocks, self.cross, cdata, a22)
            m1 = mv[:, :s0]
            if s0 == 1:
                blocks = np.bincount(self.level, weights=w * m1[:, 0] ** 2, minlength=nl)
                blocks = (blocks + 1.0)[:, None, None]
            else:
                prod1 = (w[:, None, None] * m1[:, :, None] * m1[:, None, :]).ravel()
                blocks = np.bincount(self.b11_index, weights=prod1, minlength=nl * s0 * s0)
                blocks = blocks.reshape(nl, s0, s0) + np.eye(s0)[None, :, :]
            if not self.q2:
                return BlockFactor(blocks)
            rest = mv[:, s0:]
            cross = self.cross
            return BlockFactor(blocks, cross, cross.cross_data(w, m1, rest), cross.a22(w, rest))
        prod = (w[:, None, None] * mv[:, :, None] * mv[:, None, :]).ravel()
        data = np.bincount(self.sp_slot, weights=prod, minlength=self.sp_nnz)
        data[self.sp_diag_slot] += 1.0
        A = sparse.csc_matrix((data, self.sp_indices, self.sp_indptr), shape=(self.q, self.q))
        return _Factor(A, False)


class PirlsProblem:
    """A GLMM likelihood evaluator for fixed data, family and random-effects structure.

    Parameters
    ----------
    y : ndarray, shape (n,)
        Response (proportion of successes for binomial data with trials).
    X : ndarray, shape (n, p)
        Fixed-effects design.
    re : ReStructure
        Random-effects structure.
    family : Family
        Response family with link.
    prior_weights : ndarray, optional
        Prior weights (number of trials for binomial proportions).
    offset : ndarray, optional
        Known offset added to the linear predictor.
    """

    def __init__(
        self,
        y: np.ndarray,
        X: np.ndarray,
        re: ReStructure,
        family: Family,
        prior_weights: np.ndarray | None = None,
        offset: np.ndarray | None = None,
    ) -> None:
        self.y = np.asarray(y, dtype=float)
        self.X = np.ascontiguousarray(X, dtype=float)
        self.n, self.p = self.X.shape
        self.re = re
        self.family = family
        self.pw = np.ones(self.n) if prior_weights is None else np.asarray(prior_weights, float)
        self.offset = np.zeros(self.n) if offset is None else np.asarray(offset, float)
        self.is_scalar = len(re.terms) == 1 and re.terms[0].q == 1
        if self.is_scalar:
            t = re.terms[0]
            self.g = np.asarray(t.codes, dtype=np.intp)
            self.zv = np.asarray(t.Z[:, 0], dtype=float)
            self.zv2 = self.zv * self.zv
            self.nlev = t.nlevels
        else:
            self.ops = _RowPattern(re)
        self._binary = bool(
            family.name == "binomial"
            and np.all(self.pw == 1.0)
            and np.all((self.y == 0.0) | (self.y == 1.0))
        )
        self._ybool = self.y == 1.0
        # binomial and Poisson: deviance and log-likelihood share one cheap kernel
        self._kernel = family.name in ("binomial", "poisson")
        # links whose inverse can leave the parameter space (e.g. a negative Poisson mean)
        self._check_mu = family.link.name in ("identity", "inverse", "1/mu^2", "sqrt")
        self._setup_constants()
        self._u = np.zeros(re.q)
        self._u_theta: np.ndarray | None = None  # theta at which the warm start was found
        self.tol = 1e-11  # PIRLS: largest Newton step in u at convergence
        self._canonical = (family.name, family.link.name) in {
            ("binomial", "logit"),
            ("poisson", "log"),
        }

    # ------------------------------------------------------------------ helpers
    def _working(
        self, eta: np.ndarray, mu: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return ``mu``, working weights ``W`` and the score vector ``pw mu_eta (y-mu)/V``."""
        fam = self.family
        if mu is None:
            mu = fam.link.linkinv(eta)
        if self._canonical:
            var = fam.variance(mu)
            w = self.pw * var
            score = self.pw * (self.y - mu)
        else:
            me = fam.link.mu_eta(eta)
            var = fam.variance(mu)
            w = self.pw * me * me / var
            score = self.pw * me * (self.y - mu) / var
        return mu, w, score

    def _setup_constants(self) -> None:
        """Split deviance and -2 log-likelihood into a mu-free constant and a cheap kernel.

        Binomial and Poisson only: ``d_i(mu) = c_i - 2 k_i(mu)`` and ``-2 log p_i(mu) = l_i -
        2 k_i(mu)`` with the kernel ``k_i = w (y log mu + (1 - y) log(1 - mu))`` (binomial) or
        ``w (y log mu - mu)`` (Poisson); the constants depend on the data only and are computed
        once. Other families evaluate their deviance residuals and R's ``aic`` directly.
        """
        if not self._kernel:
            return
        y, w, fam = self.y, self.pw, self.family
        probe = np.full(self.n, 0.5)
        k0 = self._kernel_rows(probe)
        self._dev_const_rows = fam.dev_resids(y, probe, w) + 2.0 * k0
        self._ll_const_rows = fam.minus2_loglik(y, probe, w) + 2.0 * k0
        self._dev_const = float(np.sum(self._dev_const_rows))
        self._ll_const = float(np.sum(self._ll_const_rows))

    def _kernel_rows(self, mu: np.ndarray) -> np.ndarray:
        if self.family.name == "binomial":
            if self._binary:
                return np.log(np.where(self._ybool, mu, 1.0 - mu))
            y, w = self.y, self.pw
            return w * (special.xlogy(y, mu) + special.xlog1py(1.0 - y, -mu))
        return self.pw * (special.xlogy(self.y, mu) - mu)

    def dev_rows(self, mu: np.ndarray) -> np.ndarray:
        """Per-row deviance residual contributions ``d_i(mu)``."""
        if self._kernel:
            return self._dev_const_rows - 2.0 * self._kernel_rows(mu)
        return self.family.dev_resids(self.y, mu, self.pw)

    def _devsum(self, mu: np.ndarray) -> float:
        """Sum of the deviance residuals; infinite where ``mu`` leaves the parameter space."""
        if self._check_mu and not self.family.valid_eta_mu(mu):
            return np.inf
        if self._kernel:
            return self._dev_const - 2.0 * float(np.sum(self._kernel_rows(mu)))
        val = float(np.sum(self.family.dev_resids(self.y, mu, self.pw)))
        return val if np.isfinite(val) else np.inf

    def _m2sum(self, mu: np.ndarray, dev: float | None = None) -> float:
        """R's ``family$aic`` at ``mu``: -2 log p(y | u), dispersion plugged in (lme4)."""
        if self._kernel:
            return self._ll_const - 2.0 * float(np.sum(self._kernel_rows(mu)))
        dev = self._devsum(mu) if dev is None else dev
        return self.family.aic(self.y, mu, self.pw, dev)

    def _aic_correction(self, st: PirlsState, s: np.ndarray) -> np.ndarray:
        """``d aic / d eta - d dev / d eta`` per row (zero without a dispersion parameter)."""
        kappa = self.family.aic_dev_factor(self.y, st.mu, self.pw, st.dev_cond)
        return -2.0 * (kappa - 1.0) * s

    def group_sum(self, v: np.ndarray) -> np.ndarray:
        """Per-group sums of a row vector (single scalar term only)."""
        return np.bincount(self.g, weights=v, minlength=self.nlev)

    def set_u(self, u: np.ndarray) -> None:
        """Set the starting value of the conditional modes (warm start)."""
        self._u = np.array(u, dtype=float)
        self._u_theta = None

    def reset(self) -> None:
        """Restart PIRLS from ``u = 0``."""
        self._u = np.zeros(self.re.q)
        self._u_theta = None

    def _warm_start(self, theta: np.ndarray) -> None:
        """Carry the warm start ``u`` over to a new ``theta`` keeping ``b = Lambda u`` fixed.

        The conditional modes on the data scale (``b``) move little between nearby θ, whereas
        ``u = Lambda^-1 b`` scales inversely with θ; starting PIRLS from the old ``b`` saves
        Newton steps. Only scalar terms are carried over (a vector term's factor can be
        nearly singular, where the transformation would amplify rounding), and a term whose
        θ shrinks by more than a factor 4 keeps its ``u`` (for small θ the modes shrink with
        it).
        """
        old = self._u_theta
        self._u_theta = theta = np.array(theta, dtype=float)
        if old is None or np.array_equal(old, theta) or not np.any(self._u):
            return
        u = self._u.copy()
        re = self.re
        for k, t in enumerate(re.terms):
            if t.q != 1:
                continue
            ratio = re.term_factor(old, k)[0, 0] / re.term_factor(theta, k)[0, 0]
            if np.isfinite(ratio) and 0.0 < ratio <= 4.0:
                sl = slice(re.offsets[k], re.offsets[k] + t.nlevels)
                u[sl] *= ratio
        self._u = u

    # ------------------------------------------------------------------ PIRLS in u
    def pirls(self, theta: np.ndarray, beta: np.ndarray, tol: float | None = None) -> PirlsState:
        """Conditional modes ``u*`` for fixed ``(theta, beta)`` by PIRLS with step halving.

        Iterates until the largest Newton step in ``u`` is below ``tol`` (default
        :attr:`tol`, 1e-11: the Laplace approximation to full precision).
        """
        tol = self.tol if tol is None else tol
        self._warm_start(theta)
        eta0 = self.offset + self.X @ beta
        if self.is_scalar:
            return self._pirls_scalar(float(theta[0]), eta0, tol)
        return self._pirls_general(theta, eta0, tol)

    def _pirls_iterate(
        self,
        eta0: np.ndarray,
        linpred: Callable[[np.ndarray], np.ndarray],
        newton_step: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
        tol: float,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """Damped Newton iterations in ``u`` shared by the scalar and general PIRLS.

        ``linpred(u)`` is the random-effects part of the linear predictor and
        ``newton_step(w, score, u)`` the full Newton step; each step is halved until the
        penalised deviance does not increase. Returns ``(u, eta, mu, w, iterations)`` and keeps
        ``u`` as the next warm start.
        """
        u = self._u.copy()
        eta = eta0 + linpred(u)
        mu, w, score = self._working(eta)
        pdev = self._devsum(mu) + u @ u
        if not np.isfinite(pdev) and np.any(u):  # warm start outside the parameter space
            u = np.zeros_like(u)
            eta = eta0.copy()
            mu, w, score = self._working(eta)
            pdev = self._devsum(mu)
        if not np.isfinite(pdev):
            raise EstimationError(
                "the fixed effects give fitted means outside the family's range (e.g. a "
                "negative mean with an identity link)"
            )
        it = 0
        for it in range(1, _MAX_ITER + 1):  # noqa: B007
            delta = newton_step(w, score, u)
            step = 1.0
            for _ in range(_MAX_HALVINGS):
                u_new = u + step * delta
                eta_new = eta0 + linpred(u_new)
                mu_new = self.family.link.linkinv(eta_new)
                pdev_new = self._devsum(mu_new) + u_new @ u_new
                if pdev_new <= pdev + 1e-10 * abs(pdev):
                    break
                step *= 0.5
            else:
                raise EstimationError(
                    "PIRLS step halving failed to reduce the penalised deviance; the model may "
                    "be separated or badly scaled"
                )
            stuck = step < 1e-3 and pdev - pdev_new <= 0.0
            u, eta, pdev = u_new, eta_new, pdev_new
            mu, w, score = self._working(eta, mu_new)
            if np.max(np.abs(step * delta)) < tol or stuck:
                break
        self._u = u
        return u, eta, mu, w, it

    def _pirls_scalar(self, th: float, eta0: np.ndarray, tol: float) -> PirlsState:
        g, zv = self.g, self.zv
        thz = th * zv

        def newton_step(w: np.ndarray, score: np.ndarray, u: np.ndarray) -> np.ndarray:
            diag = th * th * self.group_sum(w * self.zv2) + 1.0
            return (th * self.group_sum(score * zv) - u) / diag

        u, eta, mu, w, it = self._pirls_iterate(eta0, lambda u: thz * u[g], newton_step, tol)
        diag = th * th * self.group_sum(w * self.zv2) + 1.0
        return PirlsState(
            u=u,
            eta=eta,
            mu=mu,
            weights=w,
            logdet=float(np.sum(np.log(diag))),
            minus2_cond=self._m2sum(mu, dev := self._devsum(mu)),
            dev_cond=dev,
            iterations=it,
            diag=diag,
        )

    def _pirls_general(self, theta: np.ndarray, eta0: np.ndarray, tol: float) -> PirlsState:
        ops = self.ops
        mv = ops.values(theta)

        def newton_step(w: np.ndarray, score: np.ndarray, u: np.ndarray) -> np.ndarray:
            return ops.factor(mv, w).solve(ops.rmatvec(mv, score) - u)

        u, eta, mu, w, it = self._pirls_iterate(eta0, lambda u: ops.matvec(mv, u), newton_step, tol)
        fac = ops.factor(mv, w)
        return PirlsState(
            u=u,
            eta=eta,
            mu=mu,
            weights=w,
            logdet=fac.logdet,
            minus2_cond=self._m2sum(mu, dev := self._devsum(mu)),
            dev_cond=dev,
            iterations=it,
            factor=fac,
        )

    # ------------------------------------------------------------------ objectives
    def laplace(self, theta: np.ndarray, beta: np.ndarray) -> float:
        """Laplace approximation to the deviance ``-2 log L(theta, beta)``."""
        st = self.pirls(theta, beta)
        return st.minus2_cond + float(st.u @ st.u) + st.logdet

    @property
    def has_gradient(self) -> bool:
        """Whether :meth:`laplace_gradient` is available: a single scalar term, or a system
        small enough for a dense or block factorisation."""
        if self.is_scalar:
            return True
        ops = self.ops
        return ops.mode in ("dense", "block")

    def _eta_derivatives(self, eta: np.ndarray, mu: np.ndarray):
        """Score ``s``, Fisher weights ``w``, observed information ``h`` and ``dw/d eta``.

        ``s = pw mu' (y - mu) / V``, ``w = pw mu'^2 / V``, ``h = -ds/d eta``; for canonical
        links ``h = w``.
        """
        link, fam, pw = self.family.link, self.family, self.pw
        me = link.mu_eta(eta)
        me1 = link.mu_eta_deriv(eta)
        V = fam.variance(mu)
        V1 = fam.variance_deriv(mu)
        r = self.y - mu
        s = pw * me * r / V
        w = pw * me * me / V
        h = pw * (me * me / V - me1 * r / V + me * me * r * V1 / (V * V))
        dw = pw * (2.0 * me * me1 / V - me**3 * V1 / (V * V))
        return s, w, h, dw

    def laplace_gradient(self, theta: np.ndarray, beta: np.ndarray) -> tuple[float, np.ndarray]:
        """Laplace deviance and its exact gradient in ``(theta, beta)``.

        For a single scalar random effect (any link), differentiating
        ``F = -2 log p(y | u*) + u*^2 + sum_j log D_j`` with ``D_j = 1 + theta^2 sum_i w_i z_i^2``
        needs the implicit derivatives of the conditional modes, ``du*/d(theta, beta)``,
        which follow from the stationarity of the penalised deviance in ``u``. All terms are
        per-group sums, so the gradient costs a few O(n) passes.
        """
        if not self.has_gradient:
            raise EstimationError("analytic gradient unavailable for this random-effects layout")
        if not self.is_scalar:
            return self._laplace_gradient_general(theta, beta)
        th = float(theta[0])
        st = self.pirls(theta, beta)
        F = st.minus2_cond + float(st.u @ st.u) + st.logdet
        u, g, z = st.u, self.g, self.zv
        s, w, h, dw = self._eta_derivatives(st.eta, st.mu)
        D = th * th * self.group_sum(w * self.zv2) + 1.0  # Fisher: the Laplace log-determinant
        Dh = th * th * self.group_sum(h * self.zv2) + 1.0  # observed: implicit derivatives of u*
        wz2 = self.group_sum(w * self.zv2)
        hz2 = self.group_sum(h * self.zv2)
        a = th * th * self.zv2 * dw / D[g]
        if not self._kernel:  # R's aic differs from the deviance beyond a constant
            a = a + self._aic_correction(st, s)
        c = th * self.group_sum(a * z)  # dL/du_j
        ug = u[g]
        # d/d beta: X'(-2 s + a) + sum_j c_j du_j/dbeta, du_j/dbeta = -theta sum h z x / Dh_j
        grad_beta = self.X.T @ (-2.0 * s + a - th * (c / Dh)[g] * h * z)
        # d/d theta
        du_dth = (self.group_sum(s * z) - th * u * hz2) / Dh
        grad_theta = (
            -2.0 * float(np.sum(s * z * ug))
            + float(np.sum(2.0 * th * wz2 / D))
            + float(np.sum(a * z * ug))
            + float(c @ du_dth)
        )
        return F, np.concatenate([[grad_theta], grad_beta])

    def _laplace_gradient_general(
        self, theta: np.ndarray, beta: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """Exact Laplace gradient for any random-effects structure and link.

        With ``M = Z Lambda``, ``A = M'WM + I`` (Fisher weights ``W``), ``Ah = M'HM + I``
        (observed information ``H``; equal to ``A`` for canonical links), score ``s`` and
        ``dw = dW/d eta``: ``dF/dbeta = X'(-2 s + a - H M v)`` with
        ``a_i = dw_i m_i'A^-1 m_i`` and ``v = Ah^-1 M'a``; ``dF/dtheta_k = -2 s'(M_k u)
        + 2 sum_i w_i m_i'A^-1 m_ki + a'(M_k u) + v'(M_k's - M'H M_k u)``, where
        ``M_k = dM/dtheta_k``. Only the entries of ``A^-1`` on each row's own columns are
        needed.
        """
        st = self.pirls(theta, beta)
        F = st.minus2_cond + float(st.u @ st.u) + st.logdet
        ops = self.ops
        u = st.u
        s, w, h, dw = self._eta_derivatives(st.eta, st.mu)
        mv = ops.values(theta)
        fac = st.factor  # A at the Fisher weights of the mode (the same w)
        G = ops.selected_inverse(fac)
        if G is None:
            raise EstimationError("selected inverse unavailable for this design")
        # implicit derivatives of u* use the observed information (= w for canonical links)
        fac_h = fac if self._canonical else ops.factor(mv, h)
        Gm = np.einsum("iab,ib->ia", G, mv)
        d = np.einsum("ia,ia->i", mv, Gm)
        a = dw * d
        if not self._kernel:
            a = a + self._aic_correction(st, s)
        v = fac_h.solve(ops.rmatvec(mv, a))
        Mv = ops.matvec(mv, v)
        grad_beta = self.X.T @ (-2.0 * s + a - h * Mv)
        grad_theta = np.empty(theta.size)
        for k in range(theta.size):
            dmv = ops.dvalues(k)
            dMu = ops.matvec(dmv, u)
            e = np.einsum("ia,ia->i", Gm, dmv)
            grad_theta[k] = (
                -2.0 * float(s @ dMu)
                + 2.0 * float(w @ e)
                + float(a @ dMu)
                + float(v @ ops.rmatvec(dmv, s))
                - float(Mv @ (h * dMu))
            )
        return F, np.concatenate([grad_theta, grad_beta])

    def _schur_parts(self, theta: np.ndarray, w: np.ndarray, score: np.ndarray, u: np.ndarray):
        """Blocks of the joint Newton system in ``(u, beta)``.

        Returns ``(AinvB, Ainv_ru, B, ru, logdet)`` where ``A = Lambda'Z'WZ Lambda + I``,
        ``B = Lambda'Z'WX`` and ``ru = Lambda'Z' score - u``.
        """
        if self.is_scalar:
            th = float(theta[0])
            diag = th * th * self.group_sum(w * self.zv2) + 1.0
            wz = w * self.zv
            B = th * np.column_stack([self.group_sum(wz * self.X[:, j]) for j in range(self.p)])
            ru = th * self.group_sum(score * self.zv) - u
            return B / diag[:, None], ru / diag, B, ru, float(np.sum(np.log(diag)))
        mv = self.ops.values(theta)
        fac = self.ops.factor(mv, w)
        B = self.ops.rmatmat(mv, self.X * w[:, None])
        ru = self.ops.rmatvec(mv, score) - u
        sol = fac.solve(np.column_stack([B, ru]))
        return sol[:, :-1], sol[:, -1], B, ru, fac.logdet

    def _logdet(self, theta: np.ndarray, w: np.ndarray) -> float:
        """``log det(Lambda'Z'WZ Lambda + I)`` at weights ``w``."""
        if self.is_scalar:
            th = float(theta[0])
            return float(np.sum(np.log(th * th * self.group_sum(w * self.zv2) + 1.0)))
        return self.ops.factor(self.ops.values(theta), w).logdet

    def _eta_u(self, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
        if self.is_scalar:
            return float(theta[0]) * self.zv * u[self.g]
        return self.ops.matvec(self.ops.values(theta), u)

    def joint_mode(
        self, theta: np.ndarray, beta0: np.ndarray, tol: float | None = None
    ) -> tuple[np.ndarray, float]:
        """Joint conditional mode of ``(u, beta)`` for fixed ``theta`` (glmer's nAGQ = 0 step).

        Newton (Fisher scoring) iterations on the penalised deviance in ``(u, beta)`` jointly,
        with step halving. Returns ``beta`` and lme4's criterion at the joint mode, ``logdet +
        |u|^2 + aic`` (R's ``family$aic``: -2 log p(y | u), the dispersion plugged in), which
        glmer minimises over ``theta`` in its first stage and reports for ``nAGQ = 0``.
        """
        tol = 10.0 * self.tol if tol is None else tol
        beta = np.array(beta0, dtype=float)
        self._warm_start(theta)
        u = self._u.copy()
        eta = self.offset + self.X @ beta + self._eta_u(theta, u)
        mu, w, score = self._working(eta)
        pdev = self._devsum(mu) + u @ u
        if not np.isfinite(pdev) and np.any(u):  # warm start outside the parameter space
            u = np.zeros_like(u)
            eta = self.offset + self.X @ beta
            mu, w, score = self._working(eta)
            pdev = self._devsum(mu)
        if not np.isfinite(pdev):
            raise EstimationError("the fixed effects give fitted means outside the family's range")
        for _ in range(_MAX_ITER):
            AinvB, Ainv_ru, B, ru, _ld = self._schur_parts(theta, w, score, u)
            S = self.X.T @ (self.X * w[:, None]) - B.T @ AinvB
            rb = self.X.T @ score - B.T @ Ainv_ru
            try:
                dbeta = np.linalg.solve(S, rb)
            except np.linalg.LinAlgError as exc:
                raise EstimationError(
                    "the fixed-effects system is singular; check for aliased predictors"
                ) from exc
            du = Ainv_ru - AinvB @ dbeta
            step = 1.0
            for _ in range(_MAX_HALVINGS):
                b_new = beta + step * dbeta
                u_new = u + step * du
                eta_new = self.offset + self.X @ b_new + self._eta_u(theta, u_new)
                mu_new = self.family.link.linkinv(eta_new)
                pdev_new = self._devsum(mu_new) + u_new @ u_new
                if pdev_new <= pdev + 1e-10 * abs(pdev):
                    break
                step *= 0.5
            else:
                break
            change = pdev - pdev_new
            beta, u, pdev = b_new, u_new, pdev_new
            mu, w, score = self._working(eta_new, mu_new)
            size = max(np.max(np.abs(step * dbeta)), np.max(np.abs(step * du), initial=0.0))
            if size < tol or abs(change) < 1e-13 * (abs(pdev) + 1.0):
                break
        self._u = u
        return beta, self._m2sum(mu) + float(u @ u) + self._logdet(theta, w)

    def fixed_info(self, theta: np.ndarray, st: PirlsState) -> np.ndarray:
        """``X'WX - B' A^{-1} B`` at a PIRLS state: inverse of lme4's RX-based ``vcov``."""
        w = st.weights
        AinvB, _r, B, _ru, _ld = self._schur_parts(theta, w, np.zeros(self.n), st.u)
        return self.X.T @ (self.X * w[:, None]) - B.T @ AinvB
