"""The map from covariance parameters θ to the relative covariance factor Λ(θ).

Both engines (:func:`~alliancestats.models.lmm` and :func:`~alliancestats.models.glmm`)
parametrise the random effects as lme4 does (Bates, Mächler, Bolker & Walker 2015, J Stat
Softw 67(1), section 2): ``b = Λ(θ) u`` with spherical ``u``, where Λ is block diagonal with
one lower-triangular ``q x q`` factor ``T_k`` per term, repeated for every level of the
term's grouping factor. θ holds the lower triangles of the ``T_k`` column by column, term by
term; diagonal elements are bounded below by zero, the others are free.

:class:`ThetaLayout` is that map, built once from the terms' sizes and shared by the LMM
criterion, PIRLS, the variance-component layer and the profiles.

Examples
--------
>>> import numpy as np
>>> lay = ThetaLayout.from_sizes([2, 1])
>>> lay.n, lay.lower.tolist()
(4, [0.0, -inf, 0.0, 0.0])
>>> [T.tolist() for T in lay.factors(np.array([1.0, 0.5, 2.0, 3.0]))]
[[[1.0, 0.0], [0.5, 2.0]], [[3.0]]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ThetaLayout"]


@dataclass(frozen=True)
class ThetaLayout:
    """Where each term's lower-triangular factor lives in the θ vector (lme4's order).

    Attributes
    ----------
    sizes : tuple of int
        Number of random effects ``q`` of each term.
    offsets : tuple of int
        Position of each term's first element in θ.
    rows, cols : tuple of ndarray
        Row and column (within the term's factor) of each of the term's θ elements.
    lower : ndarray
        Lower bounds of θ (0 on diagonals, ``-inf`` below them).
    """

    sizes: tuple[int, ...]
    offsets: tuple[int, ...]
    rows: tuple[np.ndarray, ...]
    cols: tuple[np.ndarray, ...]
    lower: np.ndarray

    @classmethod
    def from_sizes(cls, qs: list[int]) -> ThetaLayout:
        """Layout for terms with ``qs[k]`` random effects each."""
        rows, cols, lower, offsets = [], [], [], []
        off = 0
        for q in qs:
            r_idx, c_idx = [], []
            for c in range(q):  # column-major lower triangle, as lme4
                for r in range(c, q):
                    r_idx.append(r)
                    c_idx.append(c)
                    lower.append(0.0 if r == c else -np.inf)
            rows.append(np.array(r_idx, dtype=np.intp))
            cols.append(np.array(c_idx, dtype=np.intp))
            offsets.append(off)
            off += len(r_idx)
        return cls(tuple(qs), tuple(offsets), tuple(rows), tuple(cols), np.array(lower))

    @property
    def n(self) -> int:
        """Length of θ."""
        return len(self.lower)

    @property
    def diagonal(self) -> np.ndarray:
        """Boolean mask of the θ elements on a factor's diagonal (the bounded ones)."""
        return self.lower == 0.0

    def slice(self, k: int) -> slice:
        """Positions of term ``k``'s elements in θ."""
        return slice(self.offsets[k], self.offsets[k] + len(self.rows[k]))

    def start(self) -> np.ndarray:
        """lme4's starting value: identity factors."""
        return np.where(self.diagonal, 1.0, 0.0)

    def factor(self, theta: np.ndarray, k: int) -> np.ndarray:
        """The ``q x q`` lower-triangular factor ``T_k`` of term ``k``."""
        q = self.sizes[k]
        T = np.zeros((q, q))
        T[self.rows[k], self.cols[k]] = theta[self.slice(k)]
        return T

    def factors(self, theta: np.ndarray) -> list[np.ndarray]:
        """All terms' factors ``T_k``."""
        return [self.factor(theta, k) for k in range(len(self.sizes))]

    def from_factors(self, factors: list[np.ndarray]) -> np.ndarray:
        """θ from the terms' factors (the inverse of :meth:`factors`)."""
        return np.concatenate(
            [T[r, c] for T, r, c in zip(factors, self.rows, self.cols, strict=True)]
        )

    def is_singular(self, theta: np.ndarray, tol: float) -> bool:
        """lme4's ``isSingular``: a diagonal element of θ below ``tol``."""
        return bool(np.any(np.asarray(theta)[self.diagonal] < tol))

    def rescale(self, theta: np.ndarray, scales: list[np.ndarray]) -> np.ndarray:
        """θ for random-effect columns divided by ``scales`` (``T_k -> diag(s) T_k``)."""
        out = np.array(theta, dtype=float)
        for k, s in enumerate(scales):
            out[self.slice(k)] *= s[self.rows[k]]
        return out
