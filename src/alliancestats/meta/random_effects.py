"""Random-effects structures of multilevel and multivariate meta-analytic models.

Two kinds of terms, written as in metafor's ``rma.mv`` (Viechtbauer 2010, J Stat Softw 36(3)):

* ``"~ 1 | study/es"`` -- random intercepts, one variance component ``σ²`` per nesting level
  (``study``, then ``study/es``); several such formulas in a list are crossed factors;
* ``"~ outcome | study"`` -- a vector of correlated random effects over the levels of
  ``outcome`` within each ``study``, with covariance matrix ``G`` of structure ``struct``:

  ========  ===========================================================================
  ``CS``    compound symmetry: ``τ²`` on the diagonal, ``ρτ²`` off it
  ``HCS``   heteroscedastic compound symmetry: ``τ²_j`` per level, one correlation ``ρ``
  ``UN``    unstructured: every variance and covariance free
  ``AR``    first-order autoregressive: ``τ² ρ^|i − j|`` over the ordered inner levels
  ``ID``    independent levels with one variance (``τ² I``)
  ``DIAG``  independent levels with their own variances
  ========  ===========================================================================

A term knows its parameters (names, starting values, bounds) and builds ``G`` and its
derivatives; :mod:`alliancestats.meta.multilevel` assembles the marginal covariance from them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from alliancestats.errors import MetaAnalysisError

__all__ = [
    "STRUCTS",
    "InnerOuterTerm",
    "NestedInterceptTerm",
    "RandomSpec",
    "StructuredCovariance",
    "parse_random",
]

#: covariance structures accepted for ``~ inner | outer`` terms
STRUCTS = ("CS", "HCS", "UN", "AR", "ID", "DIAG")

_FORMULA = re.compile(r"\s*~?\s*(?P<inner>[^|]+?)\s*\|\s*(?P<outer>.+?)\s*")


@dataclass(frozen=True)
class NestedInterceptTerm:
    """``~ 1 | a/b/...``: random intercepts for each nesting level (``a``, ``a/b``, ...)."""

    columns: tuple[str, ...]

    def level_columns(self) -> list[tuple[str, ...]]:
        """Columns defining each level: ``("a",)``, ``("a", "b")``, ..."""
        return [self.columns[: j + 1] for j in range(len(self.columns))]

    def level_labels(self) -> list[str]:
        return ["/".join(cols) for cols in self.level_columns()]


@dataclass(frozen=True)
class InnerOuterTerm:
    """``~ inner | outer`` with covariance structure ``struct`` over the inner levels."""

    inner: str
    outer: str
    struct: str = "CS"

    @property
    def label(self) -> str:
        return f"{self.inner} | {self.outer}"


@dataclass(frozen=True)
class RandomSpec:
    """Parsed ``random=`` argument: simple nested terms and structured terms."""

    terms: tuple[NestedInterceptTerm | InnerOuterTerm, ...]

    @property
    def columns(self) -> list[str]:
        """Every data column the random effects refer to (in order, without repeats)."""
        cols: list[str] = []
        for term in self.terms:
            names = (
                term.columns if isinstance(term, NestedInterceptTerm) else (term.inner, term.outer)
            )
            cols += [c for c in names if c not in cols]
        return cols

    @property
    def nested(self) -> list[NestedInterceptTerm]:
        return [t for t in self.terms if isinstance(t, NestedInterceptTerm)]

    @property
    def structured(self) -> list[InnerOuterTerm]:
        return [t for t in self.terms if isinstance(t, InnerOuterTerm)]

    @property
    def top_level(self) -> str:
        """The outermost grouping column (the natural cluster for robust inference)."""
        first = self.terms[0]
        return first.columns[0] if isinstance(first, NestedInterceptTerm) else first.outer


def _parse_formula(text: str, struct: str) -> NestedInterceptTerm | InnerOuterTerm:
    match = _FORMULA.fullmatch(text)
    if not match:
        raise MetaAnalysisError(
            f"Cannot read random={text!r}; use '~ 1 | study/es' (nested random intercepts) or "
            "'~ outcome | study' with struct= (correlated effects within studies)."
        )
    inner, outer = match.group("inner").strip(), match.group("outer").strip()
    if inner == "1":
        cols = tuple(part.strip() for part in outer.split("/"))
        if any(not c for c in cols):
            raise MetaAnalysisError(f"random={text!r} has an empty grouping column.")
        return NestedInterceptTerm(cols)
    if "/" in outer or "+" in inner or "/" in inner:
        raise MetaAnalysisError(
            f"random={text!r}: a structured term takes one inner and one outer column, e.g. "
            "'~ outcome | study'."
        )
    if struct not in STRUCTS:
        raise MetaAnalysisError(f"struct must be one of {', '.join(STRUCTS)}; got {struct!r}.")
    return InnerOuterTerm(inner, outer, struct)


def parse_random(random: str | Sequence[str], struct: str | Sequence[str] = "CS") -> RandomSpec:
    """Parse metafor-style random-effects formulas (or a sequence of nested column names).

    Parameters
    ----------
    random : str or sequence of str
        ``"~ 1 | study/es"``; ``["~ 1 | study", "~ 1 | lab"]`` (crossed factors);
        ``"~ outcome | study"`` (structured); or column names ``("study", "es")`` meaning
        ``"~ 1 | study/es"``.
    struct : str or sequence of str, default "CS"
        Structure of each ``~ inner | outer`` term, in order (see :data:`STRUCTS`).

    Returns
    -------
    RandomSpec

    Examples
    --------
    >>> parse_random("~ 1 | district/school").nested[0].level_labels()
    ['district', 'district/school']
    >>> parse_random(["study", "es"]).columns
    ['study', 'es']
    >>> parse_random("~ outcome | trial", struct="UN").structured[0].struct
    'UN'
    """
    if isinstance(random, str):
        texts: list[str] = [random]
    else:
        items = [str(r) for r in random]
        if not items:
            raise MetaAnalysisError("random= needs at least one grouping column or formula.")
        texts = items if any("|" in r for r in items) else ["~ 1 | " + "/".join(items)]
    structs = [struct] if isinstance(struct, str) else [str(s) for s in struct]
    structs = [s.upper() for s in structs]
    terms: list[NestedInterceptTerm | InnerOuterTerm] = []
    n_structured = 0
    for text in texts:
        inner = _FORMULA.fullmatch(text)
        is_structured = bool(inner) and inner.group("inner").strip() != "1"  # type: ignore[union-attr]
        chosen = structs[min(n_structured, len(structs) - 1)] if is_structured else "CS"
        n_structured += int(is_structured)
        terms.append(_parse_formula(text, chosen))
    if len(structs) > 1 and len(structs) != n_structured:
        raise MetaAnalysisError(
            f"struct gives {len(structs)} structures for {n_structured} structured term(s)."
        )
    return RandomSpec(tuple(terms))


# --------------------------------------------------------------------------------------------
# the covariance matrix G of a structured term
# --------------------------------------------------------------------------------------------
@dataclass
class StructuredCovariance:
    """Parameters of ``G`` (q × q) for one ``~ inner | outer`` term.

    The parameter vector is, by structure: CS, AR ``[τ², ρ]``; ID ``[τ²]``; DIAG
    ``[τ²_1..τ²_q]``; HCS ``[τ_1..τ_q, ρ]`` and UN ``[τ_1..τ_q, ρ_12, ρ_13, ρ_23, ...]``
    (standard deviations, smooth at zero, and the correlations of the upper triangle column
    by column, metafor's order).
    """

    struct: str
    levels: list[object]
    param_names: list[str] = field(init=False)
    kinds: list[str] = field(init=False)

    def __post_init__(self) -> None:
        q = len(self.levels)
        s = self.struct
        if s in ("CS", "AR"):
            self.param_names, self.kinds = ["tau^2", "rho"], ["var", "cor"]
        elif s == "ID":
            self.param_names, self.kinds = ["tau^2"], ["var"]
        elif s == "DIAG":
            self.param_names = [f"tau^2.{j + 1}" for j in range(q)]
            self.kinds = ["var"] * q
        else:  # HCS, UN: standard deviations, then correlations
            pairs = self.pairs()
            rho = ["rho"] if s == "HCS" else [f"rho[{a + 1},{b + 1}]" for a, b in pairs]
            self.param_names = [f"tau^2.{j + 1}" for j in range(q)] + rho
            self.kinds = ["sd"] * q + ["cor"] * len(rho)

    @property
    def q(self) -> int:
        return len(self.levels)

    def pairs(self) -> list[tuple[int, int]]:
        """Index pairs ``(a, b)``, ``a < b``, of the upper triangle, column by column."""
        return [(a, b) for b in range(self.q) for a in range(b)]

    def start(self, total: float) -> np.ndarray:
        """Starting values from a rough total variance."""
        q, s = self.q, self.struct
        rho0 = 0.5 if q > 1 else 0.0
        if s in ("CS", "AR"):
            return np.array([total, rho0])
        if s == "ID":
            return np.array([total])
        if s == "DIAG":
            return np.full(q, total)
        n_rho = 1 if s == "HCS" else len(self.pairs())
        return np.concatenate(
            [np.full(q, np.sqrt(total)), np.full(n_rho, rho0 if s == "HCS" else 0.0)]
        )

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of each parameter (correlations in [-1, 1])."""
        lower = np.array([-1.0 if kind == "cor" else 0.0 for kind in self.kinds])
        upper = np.array([1.0 if kind == "cor" else np.inf for kind in self.kinds])
        return lower, upper

    def correlation(self, theta: np.ndarray) -> np.ndarray:
        """The correlation matrix implied by ``theta`` (identity for ID and DIAG)."""
        q, s = self.q, self.struct
        eye, ones = np.eye(q), np.ones((q, q))
        if s in ("CS", "HCS"):
            rho = theta[1] if s == "CS" else theta[q]
            return (1 - rho) * eye + rho * ones
        if s == "AR":
            lag = np.abs(np.subtract.outer(np.arange(q), np.arange(q))).astype(float)
            return theta[1] ** lag
        if s == "UN":
            R = eye.copy()
            for (a, b), r in zip(self.pairs(), theta[q:], strict=True):
                R[a, b] = R[b, a] = r
            return R
        return eye

    def matrix(self, theta: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """``G`` and its derivatives with respect to each parameter."""
        q, s = self.q, self.struct
        eye, ones = np.eye(q), np.ones((q, q))
        R = self.correlation(theta)
        if s in ("CS", "AR", "ID"):
            t2 = theta[0]
            derivs = [R]
            if s == "CS":
                derivs.append(t2 * (ones - eye))
            elif s == "AR":
                lag = np.abs(np.subtract.outer(np.arange(q), np.arange(q))).astype(float)
                safe = np.where(lag > 0, lag - 1, 0.0)
                derivs.append(t2 * np.where(lag > 0, lag * theta[1] ** safe, 0.0))
            return t2 * R, derivs
        if s == "DIAG":
            return np.diag(theta), [np.diag(eye[j]) for j in range(q)]
        tau = theta[:q]
        G = np.outer(tau, tau) * R
        derivs = []
        for j in range(q):
            d = np.zeros((q, q))
            d[j, :] = tau * R[j, :]
            d[:, j] += tau * R[:, j]
            derivs.append(d)
        if s == "HCS":
            derivs.append(np.outer(tau, tau) * (ones - eye))
        else:
            for a, b in self.pairs():
                d = np.zeros((q, q))
                d[a, b] = d[b, a] = tau[a] * tau[b]
                derivs.append(d)
        return G, derivs

    def feasible(self, theta: np.ndarray) -> bool:
        """Whether the correlation matrix is positive semi-definite."""
        if self.q < 2 or self.struct in ("ID", "DIAG"):
            return True
        return bool(np.linalg.eigvalsh(self.correlation(theta)).min() >= -1e-10)

    def report(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Variances ``τ²`` (one, or one per level) and correlations ``ρ`` as metafor reports."""
        q, s = self.q, self.struct
        if s in ("CS", "AR"):
            return np.array([theta[0]]), np.array([theta[1]])
        if s == "ID":
            return np.array([theta[0]]), np.empty(0)
        if s == "DIAG":
            return np.asarray(theta, float).copy(), np.empty(0)
        return theta[:q] ** 2, np.asarray(theta[q:], float).copy()


def level_codes(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """Integer codes of the combinations of ``columns`` (missing values must be removed first).

    Examples
    --------
    >>> import pandas as pd
    >>> level_codes(pd.DataFrame({"s": [1, 1, 2], "e": [1, 2, 1]}), ["s", "e"]).tolist()
    [0, 1, 2]
    """
    return frame.groupby(list(columns), sort=False, dropna=False).ngroup().to_numpy()


def sorted_levels(values: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Codes of ``values`` in sorted level order (R's ``factor()``) and the levels themselves.

    Examples
    --------
    >>> import pandas as pd
    >>> codes, levels = sorted_levels(pd.Series(["b", "a", "b"]))
    >>> codes.tolist(), levels
    ([1, 0, 1], ['a', 'b'])
    """
    codes, uniques = pd.factorize(values, sort=True)
    return codes, list(uniques)
