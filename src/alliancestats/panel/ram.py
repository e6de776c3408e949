"""Model specification in RAM form: a parameter table compiled to A, S and m matrices.

The reticular action model (McArdle & McDonald 1984, Br J Math Stat Psychol 37(2)) writes every
linear structural equation model with three matrices over all variables (observed first, then
latent): ``A`` holds directed paths (``A[i, j]`` is the effect of ``j`` on ``i``), ``S`` the
(residual) variances and covariances, ``m`` the intercepts and means. With ``B = (I - A)^-1``
the model-implied moments of the observed variables are

    Sigma = F B S B' F',    mu = F B m,

``F`` selecting the observed rows. A :class:`ModelSpec` is a table of rows in lavaan's
notation (``lhs op rhs``: ``=~`` loading, ``~`` regression, ``~~`` (co)variance, ``~1``
intercept), each either fixed at a value or free; rows that share a label share one free
parameter, which is how equality constraints over waves and groups are written.
:meth:`ModelSpec.compile` turns the table into a :class:`CompiledModel` whose methods give the
implied moments, the gradient of a likelihood with respect to the free parameters (by the
chain rule from the gradient with respect to Sigma and mu, in closed form) and the Jacobian of
the implied moments (for information matrices and casewise scores).

Examples
--------
>>> import numpy as np
>>> from alliancestats.panel.ram import ModelSpec
>>> spec = ModelSpec(["y1", "y2"], ["f"])
>>> for v in ("y1", "y2"):
...     spec.add("f", "=~", v, fixed=1.0)
...     spec.add(v, "~~", v)
...     spec.add(v, "~1")
>>> spec.add("f", "~~", "f")
>>> model = spec.compile()
>>> model.n_free
5
>>> implied = model.implied(np.array([1.0, 0.0, 1.0, 0.0, 2.0]))
>>> implied[0].sigma.tolist()
[[3.0, 2.0], [2.0, 3.0]]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from alliancestats.errors import ModelSpecificationError

__all__ = ["OPERATORS", "CompiledModel", "Implied", "ModelSpec", "ParameterRow"]

#: lavaan operators understood by :class:`ModelSpec`.
OPERATORS = ("=~", "~", "~~", "~1")


@dataclass(frozen=True)
class ParameterRow:
    """One row of the parameter table.

    ``label`` names the free parameter (rows with equal labels share it); ``fixed`` is the
    value of a fixed row (``None`` for free rows). ``group`` counts from 0.
    """

    lhs: str
    op: str
    rhs: str
    group: int
    label: str
    fixed: float | None


class ModelSpec:
    """A structural equation model as a lavaan-style parameter table.

    Parameters
    ----------
    observed : sequence of str
        Observed variables, in the column order of the data.
    latent : sequence of str, optional
        Latent variables.
    n_groups : int, default 1
        Number of groups (multiple-group models share the variables; each row is added to
        every group unless ``groups`` says otherwise).
    """

    def __init__(
        self, observed: Sequence[str], latent: Sequence[str] = (), n_groups: int = 1
    ) -> None:
        self.observed = list(observed)
        self.latent = list(latent)
        names = self.observed + self.latent
        if len(set(names)) != len(names):
            raise ModelSpecificationError(f"variable names repeat: {names}")
        self.n_groups = int(n_groups)
        self.rows: list[ParameterRow] = []
        self._keys: set[tuple[str, str, str, int]] = set()

    @property
    def variables(self) -> list[str]:
        """Observed then latent variable names (the row order of A, S and m)."""
        return self.observed + self.latent

    def add(
        self,
        lhs: str,
        op: str,
        rhs: str = "",
        *,
        label: str | None = None,
        fixed: float | None = None,
        groups: Sequence[int] | None = None,
        shared: bool = True,
    ) -> None:
        """Add a row to every group (or to ``groups``).

        Parameters
        ----------
        lhs, op, rhs : str
            lavaan notation: ``f =~ y`` (loading of y on f), ``y ~ x`` (regression of y on
            x), ``a ~~ b`` ((co)variance), ``y ~1`` (intercept; ``rhs`` empty).
        label : str, optional
            Parameter label; rows with one label share a free parameter. With several groups
            the label is shared across groups when ``shared`` (lavaan's single label), else
            it gets a group suffix.
        fixed : float, optional
            Fix the row at this value instead of estimating it.
        """
        if op not in OPERATORS:
            raise ModelSpecificationError(f"unknown operator {op!r}; use one of {OPERATORS}")
        known = set(self.variables)
        for name in (lhs, rhs) if op != "~1" else (lhs,):
            if name not in known:
                raise ModelSpecificationError(f"{name!r} in '{lhs} {op} {rhs}' is not a variable")
        if op == "=~" and lhs not in self.latent:
            raise ModelSpecificationError(f"'{lhs} =~ {rhs}': {lhs!r} is not latent")
        if op == "~~" and self.variables.index(rhs) < self.variables.index(lhs):
            lhs, rhs = rhs, lhs  # one canonical order per pair
        for g in range(self.n_groups) if groups is None else groups:
            key = (lhs, op, rhs, g)
            if key in self._keys:
                raise ModelSpecificationError(f"'{lhs} {op} {rhs}' is specified twice")
            self._keys.add(key)
            if fixed is not None:
                name = ""
            elif label is None:
                name = f"{lhs}{op}{rhs}.g{g + 1}"
            else:
                name = label if shared or self.n_groups == 1 else f"{label}.g{g + 1}"
            value = None if fixed is None else float(fixed)
            self.rows.append(ParameterRow(lhs, op, rhs, g, name, value))

    def has(self, lhs: str, op: str, rhs: str = "", group: int = 0) -> bool:
        """Whether the table already has this row."""
        if op == "~~" and self.variables.index(rhs) < self.variables.index(lhs):
            lhs, rhs = rhs, lhs
        return (lhs, op, rhs, group) in self._keys

    def compile(self) -> CompiledModel:
        """The matrices and index maps used by the estimator."""
        return CompiledModel(self)


@dataclass
class Implied:
    """Model-implied moments of one group (``*_all`` over observed and latent variables)."""

    B: np.ndarray
    sigma_all: np.ndarray
    mu_all: np.ndarray
    sigma: np.ndarray
    mu: np.ndarray


@dataclass
class _GroupMap:
    a_rows: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    a_cols: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    a_par: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    a_val: np.ndarray = field(default_factory=lambda: np.empty(0))
    s_rows: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    s_cols: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    s_par: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    s_val: np.ndarray = field(default_factory=lambda: np.empty(0))
    m_rows: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    m_par: np.ndarray = field(default_factory=lambda: np.empty(0, int))
    m_val: np.ndarray = field(default_factory=lambda: np.empty(0))


class CompiledModel:
    """A :class:`ModelSpec` as index arrays into A, S and m, one set per group.

    Attributes
    ----------
    spec : ModelSpec
    labels : list of str
        Free parameters, in the order of the parameter vector ``theta``.
    row_param : numpy.ndarray
        For each row of ``spec.rows``, the index of its free parameter (-1 when fixed).
    """

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.n_observed = len(spec.observed)
        self.n_all = len(spec.variables)
        index = {v: i for i, v in enumerate(spec.variables)}
        self.labels: list[str] = []
        position: dict[str, int] = {}
        row_param = []
        for row in spec.rows:
            if row.fixed is None:
                if row.label not in position:
                    position[row.label] = len(self.labels)
                    self.labels.append(row.label)
                row_param.append(position[row.label])
            else:
                row_param.append(-1)
        self.row_param = np.asarray(row_param, dtype=int)
        self.n_free = len(self.labels)
        self.groups: list[_GroupMap] = []
        for g in range(spec.n_groups):
            a, s, m = [], [], []
            for row, par in zip(spec.rows, self.row_param, strict=True):
                if row.group != g:
                    continue
                value = 0.0 if row.fixed is None else row.fixed
                if row.op == "=~":
                    a.append((index[row.rhs], index[row.lhs], par, value))
                elif row.op == "~":
                    a.append((index[row.lhs], index[row.rhs], par, value))
                elif row.op == "~~":
                    s.append((index[row.lhs], index[row.rhs], par, value))
                else:
                    m.append((index[row.lhs], par, value))
            gm = _GroupMap()
            if a:
                gm.a_rows, gm.a_cols, gm.a_par = (np.array([t[k] for t in a]) for k in range(3))
                gm.a_val = np.array([t[3] for t in a])
            if s:
                gm.s_rows, gm.s_cols, gm.s_par = (np.array([t[k] for t in s]) for k in range(3))
                gm.s_val = np.array([t[3] for t in s])
            if m:
                gm.m_rows, gm.m_par = (np.array([t[k] for t in m]) for k in range(2))
                gm.m_val = np.array([t[2] for t in m])
            self.groups.append(gm)
        self._check_recursive()

    # ------------------------------------------------------------------ matrices
    @staticmethod
    def _values(par: np.ndarray, val: np.ndarray, theta: np.ndarray) -> np.ndarray:
        out = val.copy()
        free = par >= 0
        out[free] = theta[par[free]]
        return out

    def matrices(self, theta: np.ndarray, group: int = 0) -> tuple[np.ndarray, ...]:
        """``A``, ``S`` and ``m`` of one group at ``theta``."""
        gm = self.groups[group]
        n = self.n_all
        A = np.zeros((n, n))
        S = np.zeros((n, n))
        m = np.zeros(n)
        A[gm.a_rows, gm.a_cols] = self._values(gm.a_par, gm.a_val, theta)
        s = self._values(gm.s_par, gm.s_val, theta)
        S[gm.s_rows, gm.s_cols] = s
        S[gm.s_cols, gm.s_rows] = s
        m[gm.m_rows] = self._values(gm.m_par, gm.m_val, theta)
        return A, S, m

    def _check_recursive(self) -> None:
        """Refuse directed cycles (the estimator assumes I - A is invertible everywhere)."""
        A, _, _ = self.matrices(np.ones(self.n_free), 0)
        reach = (A != 0).astype(int)
        power = reach.copy()
        for _ in range(self.n_all):
            if np.trace(power):
                raise ModelSpecificationError("the model has a directed cycle (feedback loop)")
            power = np.minimum(power @ reach, 1)
            if not power.any():
                return

    def implied(self, theta: np.ndarray) -> list[Implied]:
        """Model-implied moments of every group."""
        out = []
        p = self.n_observed
        eye = np.eye(self.n_all)
        for g in range(len(self.groups)):
            A, S, m = self.matrices(theta, g)
            B = np.linalg.solve(eye - A, eye)
            sigma_all = B @ S @ B.T
            sigma_all = (sigma_all + sigma_all.T) / 2
            mu_all = B @ m
            out.append(Implied(B, sigma_all, mu_all, sigma_all[:p, :p], mu_all[:p]))
        return out

    # ------------------------------------------------------------------ derivatives
    def gradient(
        self,
        implied: list[Implied],
        d_sigma: list[np.ndarray],
        d_mu: list[np.ndarray],
    ) -> np.ndarray:
        """Gradient of a function of (Sigma, mu) with respect to theta (chain rule).

        ``d_sigma[g]`` is the symmetric matrix ``G`` with ``d f = tr(G d Sigma) + g' d mu``
        and ``d_mu[g]`` the vector ``g``, for group ``g``.
        """
        grad = np.zeros(self.n_free)
        p = self.n_observed
        for gm, imp, G, gvec in zip(self.groups, implied, d_sigma, d_mu, strict=True):
            G_all = np.zeros((self.n_all, self.n_all))
            G_all[:p, :p] = G
            g_all = np.zeros(self.n_all)
            g_all[:p] = gvec
            BtG = imp.B.T @ G_all
            dS = BtG @ imp.B  # d f / d S (entries treated as distinct)
            dA = 2.0 * BtG @ imp.sigma_all + np.outer(imp.B.T @ g_all, imp.mu_all)
            dm = imp.B.T @ g_all
            free = gm.a_par >= 0
            np.add.at(grad, gm.a_par[free], dA[gm.a_rows[free], gm.a_cols[free]])
            free = gm.s_par >= 0
            r, c = gm.s_rows[free], gm.s_cols[free]
            factor = np.where(r == c, 1.0, 2.0)
            np.add.at(grad, gm.s_par[free], factor * dS[r, c])
            free = gm.m_par >= 0
            np.add.at(grad, gm.m_par[free], dm[gm.m_rows[free]])
        return grad

    def jacobian(self, implied: list[Implied]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Derivatives of Sigma and mu with respect to theta, per group.

        Returns ``(d_sigma, d_mu)`` per group with shapes ``(q, p, p)`` and ``(q, p)``.
        """
        p = self.n_observed
        q = self.n_free
        out = []
        for gm, imp in zip(self.groups, implied, strict=True):
            d_sigma = np.zeros((q, p, p))
            d_mu = np.zeros((q, p))
            Bo = imp.B[:p, :]  # rows of B for the observed variables
            free = gm.a_par >= 0
            if free.any():
                i, j, k = gm.a_rows[free], gm.a_cols[free], gm.a_par[free]
                left = Bo[:, i].T  # (n, p): B[obs, i]
                right = imp.sigma_all[j, :p]  # (n, p): Sigma_all[j, obs]
                term = left[:, :, None] * right[:, None, :]
                np.add.at(d_sigma, k, term + term.transpose(0, 2, 1))
                np.add.at(d_mu, k, left * imp.mu_all[j][:, None])
            free = gm.s_par >= 0
            if free.any():
                i, j, k = gm.s_rows[free], gm.s_cols[free], gm.s_par[free]
                bi, bj = Bo[:, i].T, Bo[:, j].T
                term = bi[:, :, None] * bj[:, None, :]
                off = (i != j)[:, None, None]
                np.add.at(d_sigma, k, term + off * term.transpose(0, 2, 1))
            free = gm.m_par >= 0
            if free.any():
                np.add.at(d_mu, gm.m_par[free], Bo[:, gm.m_rows[free]].T)
            out.append((d_sigma, d_mu))
        return out
