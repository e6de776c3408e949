"""F tests of fixed-effect terms for linear mixed models (lmerTest's ``anova``).

Each term of the fixed part gets a contrast matrix ``L`` (one row per tested direction):

* **type III** -- lmerTest's construction: every term is expressed through the over-
  parametrised indicator coding of the model (all levels of every factor in every term), the
  columns of a term are made orthogonal to those of the terms that contain it, and the rows
  that belong to the model's own (treatment-coded) columns are kept. The hypotheses do not
  depend on the order of the terms.
* **type I** -- sequential: rows of the Doolittle (unit lower-triangular) factor of ``X'X``
  for the term's columns, so each term is adjusted for the terms before it.

The F statistic is ``(L b)' (L V L')^{-1} (L b) / q``; its denominator degrees of freedom
follow Satterthwaite's method as in lmerTest (Kuznetsova, Brockhoff & Christensen 2017,
J Stat Softw 82(13), section 3.2): ``L V L'`` is eigen-decomposed, each of the ``q``
orthogonal directions gets its own Satterthwaite df ``nu_m``, and the F test's df is
``2 E / (E - q)`` with ``E = sum nu_m / (nu_m - 2)`` (Fai & Cornelius 1996). With
Kenward-Roger's method (:mod:`.kenward_roger`) the Wald statistic uses the adjusted
covariance and is scaled, and the df follow Kenward & Roger (1997).

Examples
--------
>>> import numpy as np
>>> from alliancestats.models.anova import combine_ddf
>>> float(combine_ddf(np.array([20.0, 20.0])))
20.0
>>> round(float(combine_ddf(np.array([10.0, 30.0]))), 3)
14.444
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import DataQualityWarning, ModelSpecificationError, OutOfCoreError
from alliancestats.models.design import Design
from alliancestats.models.formula_eval import safe_model_matrix
from alliancestats.models.kenward_roger import KenwardRoger

__all__ = [
    "anova_table",
    "combine_ddf",
    "contrasts_type1",
    "contrasts_type3",
    "kenward_roger_f_test",
]

_EPS = float(np.sqrt(np.finfo(float).eps))


# ---------------------------------------------------------------------------- terms
def _terms(design: Design) -> tuple[list[Any], dict[str, list[int]], bool]:
    """Model terms (formulaic ``Term`` objects, intercept excluded), the kept columns of X
    belonging to each term (by label), and whether the model has an intercept."""
    spec = design.fixed_spec
    if spec is None:
        raise ModelSpecificationError("this fit has no fixed-effects specification to test")
    kept = list(design.kept_columns) or list(range(design.X.shape[1]))
    position = {j: k for k, j in enumerate(kept)}
    terms, cols = [], {}
    has_intercept = False
    for term, idx in spec.term_indices.items():
        if not term.factors or all(f.expr == "1" for f in term.factors):
            has_intercept = True
            continue
        label = str(term)
        terms.append(term)
        cols[label] = [position[j] for j in idx if j in position]
    return terms, cols, has_intercept


def _kind(design: Design, expr: str) -> tuple[str, list[str]]:
    """``("categorical", levels)`` or ``("numerical", [])`` for a factor expression."""
    kind, state = design.fixed_spec.encoder_state.get(expr, (None, {}))
    if getattr(kind, "value", str(kind)) == "categorical":
        return "categorical", [str(v) for v in state.get("categories", [])]
    return "numerical", []


def _contrasts_are_treatment(design: Design) -> bool:
    for _expr, (kind, state) in design.fixed_spec.encoder_state.items():
        if getattr(kind, "value", str(kind)) != "categorical":
            continue
        cs = state.get("contrasts")
        name = type(getattr(cs, "contrasts", cs)).__name__
        if cs is not None and name != "TreatmentContrasts":
            return False
    return True


def _factor_columns(design: Design, expr: str) -> tuple[np.ndarray, list[str]]:
    """Columns of one factor in the over-parametrised coding: all indicator columns of a
    categorical factor, the values of a numerical one."""
    kind, levels = _kind(design, expr)
    data = design.data
    if kind == "categorical":
        values = data[expr].astype(str).to_numpy() if expr in data.columns else None
        if values is None:
            mm = safe_model_matrix(f"0 + {expr}", data)
            return np.asarray(mm.frame, dtype=float), mm.names
        cols = np.column_stack([(values == lev).astype(float) for lev in levels])
        return cols, [f"{expr}{lev}" for lev in levels]
    if expr in data.columns:
        return data[expr].to_numpy(dtype=float)[:, None], [expr]
    mm = safe_model_matrix(f"0 + {expr}", data)
    return np.asarray(mm.frame, dtype=float)[:, :1], mm.names[:1]


def _overparametrised(design: Design, terms: list[Any], has_intercept: bool):
    """lmerTest's ``rdX``: intercept, then for each term the product of its factors' columns
    (first factor varying fastest, as R's ``model.matrix``)."""
    blocks = [np.ones((design.nobs, 1))] if has_intercept else []
    names = ["(Intercept)"] if has_intercept else []
    for term in terms:
        cols, nms = np.ones((design.nobs, 1)), [""]
        for factor in term.factors:
            fc, fn = _factor_columns(design, factor.expr)
            cols = np.einsum("ni,nj->nji", cols, fc).reshape(design.nobs, -1)
            nms = [f"{a}:{b}" if a else b for b in fn for a in nms]
        blocks.append(cols)
        names.extend(nms)
    return np.column_stack(blocks), names


def _contains(design: Design, inner: Any, outer: Any) -> bool:
    """lmerTest's containment: ``outer`` has all variables of ``inner`` and more, and both
    have the same numerical variables."""
    vi = {f.expr for f in inner.factors}
    vo = {f.expr for f in outer.factors}
    num_i = {v for v in vi if _kind(design, v)[0] == "numerical"}
    num_o = {v for v in vo if _kind(design, v)[0] == "numerical"}
    return vi < vo and num_i == num_o


def contrasts_type3(design: Design) -> dict[str, np.ndarray]:
    """Type III contrast matrices per term (lmerTest's ``get_contrasts_type3``).

    Parameters
    ----------
    design : Design
        The design of a fit (``MixedResult.design``) with treatment contrasts.

    Returns
    -------
    dict
        Term label -> array ``(rows, p)`` over the fixed-effect columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats.models.design import build_design
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 7, 6, 8], "a": list("xyzxyzxy"),
    ...                    "x": [0.0, 1, 3, 2, 5, 4, 7, 6], "g": list("ppqqrrss")})
    >>> L = contrasts_type3(build_design("y ~ a + x + (1 | g)", df))
    >>> {term: L[term].shape for term in L}
    {'a': (2, 4), 'x': (1, 4)}
    >>> L["x"].tolist()
    [[0.0, 0.0, 0.0, 1.0]]
    """
    if not getattr(design, "rows_in_memory", True):
        raise OutOfCoreError(
            "type III tests build their hypotheses on the rows of the data, which a fit to a "
            "Dask DataFrame does not hold; use anova(type=1), contrast() or lrt(), or fit "
            "ddf.compute() if the data fit in memory"
        )
    if not _contrasts_are_treatment(design):
        raise ModelSpecificationError(
            "type III tests are implemented for treatment contrasts (the default); refit "
            "without custom contrasts"
        )
    terms, cols, has_intercept = _terms(design)
    X = design.X
    p = X.shape[1]
    if len(terms) <= 1 or p <= 1:
        return contrasts_type1(design)
    rdx, rd_names = _overparametrised(design, terms, has_intercept)
    empty = [n for n, col in zip(rd_names, rdx.T, strict=True) if not np.any(col)]
    if empty:
        warnings.warn(
            f"missing cells for {empty[:10]}: type III hypotheses then depend on which cells "
            "are observed; interpret them with care",
            DataQualityWarning,
            stacklevel=4,
        )
    # L[i, j]: coefficient of X column j in the least-squares representation of rdX column i
    L = np.linalg.pinv(X) @ rdx
    L = _zap(L.T)
    order = sorted(terms, key=lambda t: len(t.factors), reverse=True)
    for term in order:
        containing = [u for u in terms if _contains(design, term, u)]
        if not containing:
            continue
        own = cols[str(term)]
        other = [j for u in containing for j in cols[str(u)]]
        if not own or not other:
            continue
        B = L[:, other]
        coef, *_ = np.linalg.lstsq(B, L[:, own], rcond=None)
        L[:, own] = _zap(L[:, own] - B @ coef)
    where = {name: i for i, name in enumerate(rd_names)}
    missing = [n for n in design.fixed_names if n not in where]
    if missing:
        raise ModelSpecificationError(
            f"cannot match fixed-effect column(s) {missing} to the type III coding; type III "
            "tests need plain factor and numeric terms"
        )
    Lx = L[[where[n] for n in design.fixed_names], :]
    out = {}
    for term in terms:
        Lt = Lx[:, cols[str(term)]].T
        out[str(term)] = Lt[np.abs(Lt).sum(axis=1) > 1e-8]
    return out


def _zap(M: np.ndarray, digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest entry."""
    mx = float(np.max(np.abs(M))) if M.size else 0.0
    if mx == 0:
        return M
    return np.round(M, max(0, digits - int(np.ceil(np.log10(mx)))))


def contrasts_type1(design: Design) -> dict[str, np.ndarray]:
    """Type I (sequential) contrast matrices per term: rows of the Doolittle factor of X'X.

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats.models.design import build_design
    >>> df = pd.DataFrame({"y": [1.0, 2, 3, 4, 5, 7], "x": [0.0, 1, 0, 1, 2, 2],
    ...                    "g": list("ppqqrr")})
    >>> L = contrasts_type1(build_design("y ~ x + (1 | g)", df))
    >>> list(L), L["x"].shape
    (['x'], (1, 2))
    """
    terms, cols, _ = _terms(design)
    X = design.X
    p = X.shape[1]
    if p == 1:
        U = np.ones((1, 1))
    else:
        R = np.linalg.cholesky(X.T @ X).T  # X'X = R'R, R upper triangular
        U = R / np.diag(R)[:, None]  # Doolittle: unit lower factor transposed
        U[np.abs(U) < 1e-6] = 0.0
    return {str(t): U[cols[str(t)], :] for t in terms}


# ---------------------------------------------------------------------------- F tests
def combine_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """Denominator df of a q-df F test from the df of its q orthogonal directions.

    ``2 E / (E - q)`` with ``E = sum nu / (nu - 2)``; 2 if any ``nu <= 2``; the common value
    when all are equal (lmerTest's ``get_Fstat_ddf``).
    """
    nu = np.asarray(nu, dtype=float)
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2)))
    return 2 * E / (E - nu.size)


def f_test(
    L: np.ndarray,
    beta: np.ndarray,
    V: np.ndarray,
    direction_df: Callable[[np.ndarray], float],
    sigma: float,
) -> dict[str, float]:
    """F test of ``L beta = 0`` with Satterthwaite df (lmerTest's ``contestMD``).

    ``direction_df(l)`` returns the Satterthwaite df of the single contrast ``l``.
    """
    if L.shape[0] == 0:
        return {
            "sum_sq": np.nan,
            "mean_sq": np.nan,
            "num_df": 0,
            "den_df": np.nan,
            "F": np.nan,
            "p": np.nan,
        }
    VL = L @ V @ L.T
    d, P = np.linalg.eigh(VL)
    d, P = d[::-1], P[:, ::-1]  # decreasing, as R's eigen
    pos = d > max(_EPS * d[0], 0.0)
    q = int(pos.sum())
    PtL = (P.T @ L)[:q]
    est = PtL @ beta
    F = float(np.sum(est**2 / d[:q]) / q)
    nu = np.array([direction_df(PtL[m]) for m in range(q)])
    ddf = combine_ddf(nu)
    p = float(stats.f.sf(F, q, ddf)) if np.isfinite(ddf) and ddf > 0 else np.nan
    ms = F * sigma**2
    return {"sum_sq": ms * q, "mean_sq": ms, "num_df": q, "den_df": ddf, "F": F, "p": p}


def kenward_roger_f_test(L: np.ndarray, beta: np.ndarray, kr: KenwardRoger,
                         sigma: float) -> dict[str, float]:
    """F test of ``L beta = 0`` with Kenward-Roger's scaling and df (lmerTest's ``contestMD``
    with ``ddf = "Kenward-Roger"``: ``sum_sq`` and ``mean_sq`` from the unscaled statistic).
    """
    if L.shape[0] == 0:
        return f_test(L, beta, kr.vcov_unadjusted, lambda _: np.nan, sigma)
    res = kr.f_test(L, beta)
    ms = res["F_unscaled"] * sigma**2
    return {"sum_sq": ms * res["num_df"], "mean_sq": ms, "num_df": res["num_df"],
            "den_df": res["den_df"], "F": res["F"], "p": res["p"]}


def anova_table(
    design: Design,
    beta: np.ndarray,
    V: np.ndarray,
    direction_df: Callable[[np.ndarray], float],
    sigma: float,
    type: int = 3,  # noqa: A002 - lmerTest's argument name
    kenward_roger: KenwardRoger | None = None,
) -> pd.DataFrame:
    """ANOVA table of the fixed-effect terms (see :meth:`MixedResult.anova`).

    With ``kenward_roger`` the F tests are Kenward-Roger's (:func:`kenward_roger_f_test`);
    otherwise Satterthwaite's with ``direction_df`` giving the df of one contrast.
    """
    if type in (3, "3", "III"):
        Ls = contrasts_type3(design)
    elif type in (1, "1", "I"):
        Ls = contrasts_type1(design)
    else:
        raise ModelSpecificationError(
            f"type must be 1 or 3 (lmerTest's type I or III), got {type!r}"
        )
    rows = []
    for term, L in Ls.items():
        if kenward_roger is not None:
            test = kenward_roger_f_test(L, beta, kenward_roger, sigma)
        else:
            test = f_test(L, beta, V, direction_df, sigma)
        rows.append({"term": term, **test})
    cols = ["sum_sq", "mean_sq", "num_df", "den_df", "F", "p"]
    if not rows:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="term"))
    out = pd.DataFrame(rows).set_index("term")[cols]
    out["num_df"] = out["num_df"].astype(int)
    return out
