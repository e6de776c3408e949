"""Model matrices for mixed models: response, fixed-effects matrix and random-effects blocks.

Used by both :func:`alliancestats.models.lmm` and :func:`alliancestats.models.glmm`.

API (stable; the GLMM engine relies on it)
------------------------------------------
``build_design(formula, data) -> Design`` parses the formula (:mod:`.formula`), checks that
every variable exists (a :class:`~alliancestats.errors.FormulaError` names an unknown column
and suggests close names), drops rows with a missing value in any variable the model uses
(counted in ``n_dropped``; a :class:`~alliancestats.errors.DroppedRowsWarning` is issued),
builds the fixed-effects matrix with formulaic and renames its columns the way R does
(``"(Intercept)"``, ``"x"``, ``"armtelehealth"``, ``"x:armtelehealth"``), drops aliased
columns of a rank-deficient fixed part with a
:class:`~alliancestats.errors.RankDeficiencyWarning` (like lme4) and builds one
:class:`RandomBlock` per random term, ordered as lme4 orders them (by decreasing number of
levels when the formula order is not already so).

``Design`` attributes:

* ``y`` -- float array, shape ``(n,)``; ``(n, 2)`` for ``cbind(successes, failures)``;
* ``response`` -- the response expression; ``X`` -- float array ``(n, p)``;
  ``fixed_names`` -- list of R-style column names; ``aliased`` -- names of dropped columns;
* ``offset`` -- float array ``(n,)`` (zeros without ``offset()`` terms);
* ``random`` -- list of :class:`RandomBlock`;
* ``rows`` -- index labels of the rows used; ``n_dropped`` -- number of rows dropped;
* ``data`` -- the used rows and columns; ``parsed`` -- the :class:`.formula.ParsedFormula`;
* ``fixed_matrix(newdata)`` and ``random_matrix(k, newdata)`` rebuild the matrices for new
  data (for prediction), keeping the levels and contrasts of the fit.

``RandomBlock`` attributes: ``group`` (display name, e.g. ``"patient"``), ``colnames``
(``["(Intercept)", "session"]``), ``Z`` (float ``(n, q)``), ``codes`` (int ``(n,)``, group
of each row, 0-based), ``levels`` (``pandas.Index`` of group labels as strings),
``correlated``, ``group_vars``, ``q`` and ``nlevels``.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from alliancestats.models.design import build_design
>>> df = pd.DataFrame({"y": [1.0, 2.1, 2.9, 4.2, 5.1, 5.8],
...                    "arm": ["a", "b", "a", "b", "a", "b"],
...                    "g": ["p", "p", "q", "q", "r", "r"]})
>>> d = build_design("y ~ arm + (1 | g)", df)
>>> d.fixed_names
['(Intercept)', 'armb']
>>> d.random[0].group, d.random[0].nlevels, d.random[0].codes.tolist()
('g', 3, [0, 0, 1, 1, 2, 2])
"""

from __future__ import annotations

import difflib
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import as_frame
from alliancestats.errors import (
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
    RankDeficiencyWarning,
)
from alliancestats.models.formula import ParsedFormula, RandomTerm, parse_formula
from alliancestats.models.formula_eval import evaluate_expression, safe_model_matrix
from alliancestats.models.formula_translate import data_names
from alliancestats.models.term_names import r_style_name

__all__ = ["Design", "RandomBlock", "build_design", "r_style_name", "variables_in"]

def variables_in(expr: str) -> list[str]:
    """Names in a formula part that must be data columns (functions and constants excluded).

    Raises a :class:`~alliancestats.errors.FormulaError` for a call of a function outside
    the formula allow-list.

    Examples
    --------
    >>> variables_in("np.log(pain) + I(session^2) + arm:session + scale(IQ.verb)")
    ['pain', 'session', 'arm', 'IQ.verb']
    """
    return data_names(expr)


@dataclass
class RandomBlock:
    """Random-effects columns and grouping codes of one random term."""

    group: str
    colnames: list[str]
    Z: np.ndarray
    codes: np.ndarray
    levels: pd.Index
    correlated: bool
    group_vars: tuple[str, ...]
    lhs: str
    spec: Any = None
    label_vars: tuple[str, ...] = ()

    @classmethod
    def from_codes(
        cls,
        group: str,
        codes: np.ndarray,
        Z: np.ndarray | None = None,
        colnames: list[str] | None = None,
    ) -> RandomBlock:
        """A term from 0-based group codes and its columns (a random intercept by default).

        Examples
        --------
        >>> b = RandomBlock.from_codes("g", np.array([0, 0, 1, 1]))
        >>> b.q, b.nlevels, b.colnames
        (1, 2, ['(Intercept)'])
        """
        codes = np.asarray(codes, dtype=np.intp)
        Z = np.ones((codes.size, 1)) if Z is None else np.asarray(Z, dtype=float).reshape(codes.size, -1)
        names = list(colnames) if colnames is not None else (
            ["(Intercept)"] if Z.shape[1] == 1 else [f"z{j}" for j in range(Z.shape[1])]
        )
        levels = pd.Index([str(v) for v in range(int(codes.max()) + 1)])
        return cls(group, names, Z, codes, levels, True, (group,), " + ".join(names),
                   label_vars=(group,))

    @property
    def q(self) -> int:
        """Number of random effects per group."""
        return int(self.Z.shape[1])

    @property
    def nlevels(self) -> int:
        """Number of groups."""
        return len(self.levels)


@dataclass
class Design:
    """Everything a mixed-model engine needs from formula and data (see module docstring)."""

    parsed: ParsedFormula
    response: str
    y: np.ndarray
    X: np.ndarray
    fixed_names: list[str]
    offset: np.ndarray
    random: list[RandomBlock]
    rows: pd.Index
    n_dropped: int
    data: pd.DataFrame
    aliased: list[str] = field(default_factory=list)
    fixed_spec: Any = None
    kept_columns: list[int] = field(default_factory=list)
    factor_levels: dict[str, list[str]] = field(default_factory=dict)
    offset_specs: list[Any] = field(default_factory=list)

    @property
    def nobs(self) -> int:
        """Number of rows used."""
        return int(self.X.shape[0])

    def _prepare_newdata(self, newdata: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
        """``newdata`` with the fit's factor levels, and a mask of rows with a missing factor.

        Raises a :class:`~alliancestats.errors.FormulaError` when a categorical predictor
        has a level the fit never saw (its effect is unknown; treating it as the reference
        level would give a wrong prediction). Rows with a missing factor value are marked so
        that their matrix rows become NaN instead of the reference level's.
        """
        if not isinstance(newdata, pd.DataFrame):
            raise FormulaError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        out = newdata.copy()
        na_rows = np.zeros(len(out), dtype=bool)
        for col, levels in self.factor_levels.items():
            if col not in out.columns:
                continue
            values = out[col]
            na = values.isna().to_numpy()
            text = values.astype(object).where(~na, levels[0]).astype(str)
            unseen = sorted(set(text.unique()) - set(levels))
            if unseen:
                raise FormulaError(
                    f"newdata column {col!r} has level(s) {unseen[:5]} not seen in the fitted "
                    f"data (levels: {levels[:10]}); their effects are unknown"
                )
            out[col] = pd.Categorical(text.to_numpy(), categories=levels)
            na_rows |= na
        return out, na_rows

    def fixed_matrix(self, newdata: pd.DataFrame) -> np.ndarray:
        """Fixed-effects matrix for ``newdata`` with the fit's contrasts and aliased columns removed."""
        newdata, na_rows = self._prepare_newdata(newdata)
        try:
            mm = self.fixed_spec.get_model_matrix(newdata, na_action="ignore")
        except Exception as exc:  # formulaic raises several types (missing column, new level)
            raise FormulaError(
                f"cannot build the fixed-effects matrix for new data: {exc}"
            ) from exc
        arr = np.array(mm, dtype=float)[:, self.kept_columns]
        arr[na_rows] = np.nan
        return arr

    def offset_vector(self, newdata: pd.DataFrame) -> np.ndarray:
        """Sum of the formula's ``offset(...)`` terms for ``newdata`` (zeros without any).

        Rows with a missing value give NaN.
        """
        newdata, _ = self._prepare_newdata(newdata)
        out = np.zeros(len(newdata))
        for spec in self.offset_specs:
            try:
                mm = spec.get_model_matrix(newdata, na_action="ignore")
            except Exception as exc:  # formulaic raises several types (missing column, ...)
                raise FormulaError(f"cannot evaluate the offset for new data: {exc}") from exc
            out = out + np.asarray(mm, dtype=float)[:, 0]
        return out

    def random_matrix(self, k: int, newdata: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Random-effect columns of term ``k`` for ``newdata`` and each row's group code.

        Rows whose group was not seen in the fit get code ``-1``.
        """
        block = self.random[k]
        newdata, na_rows = self._prepare_newdata(newdata)
        if block.spec is None:  # a random intercept
            Z = np.ones((len(newdata), 1))
        else:
            try:
                mm = block.spec.get_model_matrix(newdata, na_action="ignore")
            except Exception as exc:  # formulaic raises several types (missing column, level)
                raise FormulaError(
                    f"cannot build the random-effects columns of ({block.lhs} | {block.group}) "
                    f"for new data: {exc}"
                ) from exc
            Z = np.array(mm, dtype=float)
        Z[na_rows] = np.nan
        labels = _group_labels(newdata, block.label_vars)
        codes = block.levels.get_indexer(pd.Index(labels))
        if np.any(codes < 0):  # a group id 1.0 in newdata is the fitted group 1 (and back)
            canon_levels = pd.Index([_whole_number_label(v) for v in block.levels])
            if canon_levels.is_unique:
                retry = canon_levels.get_indexer(pd.Index([_whole_number_label(v) for v in labels]))
                codes = np.where(codes < 0, retry, codes)
        return Z, codes


def _check_columns(names: list[str], data: pd.DataFrame, where: str) -> None:
    cols = [str(c) for c in data.columns]
    for name in names:
        if name not in data.columns:
            close = difflib.get_close_matches(name, cols, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise FormulaError(f"column {name!r} used in the {where} is not in the data{hint}")


def _whole_number_label(label: str) -> str:
    """Write each ``:``-separated part that reads like ``12.0`` as ``12`` (float group ids)."""
    return ":".join(re.sub(r"^(-?\d+)\.0+$", r"\1", part) for part in str(label).split(":"))


def _group_labels(data: pd.DataFrame, vars_: tuple[str, ...]) -> np.ndarray:
    if len(vars_) == 1:
        return data[vars_[0]].astype(str).to_numpy()
    labels = data[vars_[0]].astype(str)
    for v in vars_[1:]:
        labels = labels + ":" + data[v].astype(str)
    return labels.to_numpy()


def _factorize_group(data: pd.DataFrame, term: RandomTerm) -> tuple[np.ndarray, pd.Index]:
    if len(term.group_vars) == 1:
        col = data[term.group_vars[0]]
        codes, uniques = pd.factorize(col, sort=True)
        return codes.astype(np.intp), pd.Index([str(u) for u in uniques])
    labels = _group_labels(data, tuple(term.group.split(":")))
    codes, uniques = pd.factorize(labels, sort=True)
    return codes.astype(np.intp), pd.Index([str(u) for u in uniques])


def _as_factors(sub: pd.DataFrame, skip: list[str]) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """Make every non-numeric predictor column a categorical with only the levels in use.

    lme4 builds its model frame with ``drop.unused.levels = TRUE``, so a level without rows
    never becomes a (zero) column or the reference level. Text columns of any dtype (object,
    ``str``, ``string``, ``string[pyarrow]``) become categoricals with sorted levels, as R's
    ``factor``; formulaic would otherwise pass some extension string dtypes through as
    numbers. Returns the frame and the levels of each converted column (for prediction).
    """
    levels: dict[str, list[str]] = {}
    out = sub.copy()
    for col in sub.columns:
        if col in skip:
            continue
        values = sub[col]
        if isinstance(values.dtype, pd.CategoricalDtype):
            cat = values.cat.remove_unused_categories()
            cats = [str(c) for c in cat.cat.categories]
            if len(set(cats)) != len(cats):
                continue  # distinct categories with equal text: leave to formulaic
            out[col] = pd.Categorical(cat.astype(str), categories=cats)
        elif pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(
            values
        ):
            raise FormulaError(
                f"column {col!r} holds dates or durations; convert it to a number first "
                "(e.g. days since the first session) so that its unit is explicit"
            )
        elif pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            if not isinstance(values.dtype, np.dtype):  # nullable Int64 / Float64 / boolean
                out[col] = values.to_numpy(dtype=float)
            continue
        else:
            cats = sorted(values.astype(str).unique())
            out[col] = pd.Categorical(values.astype(str), categories=cats)
        levels[col] = cats
    return out, levels


class _DeferredSpec:
    """The formulaic model spec of ``rhs``, built on first use (new data, anova terms).

    A fit whose matrix was assembled directly from plain numeric columns (see
    :func:`_plain_columns`) needs the spec only for predictions and tests of terms.
    """

    def __init__(self, rhs: str, data: pd.DataFrame, where: str) -> None:
        self._rhs, self._data, self._where, self._spec = rhs, data, where, None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # keeps copy/pickle from recursing into the spec
            raise AttributeError(name)
        if self._spec is None:
            self._spec = safe_model_matrix(self._rhs, self._data, where=self._where).spec
        return getattr(self._spec, name)


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _plain_columns(rhs: str, data: pd.DataFrame) -> list[str] | None:
    """The columns of a right-hand side made only of distinct numeric column names (with an
    intercept, ``1 + a + b``), or None. Such a model matrix is the columns themselves, so
    formula evaluation (a few milliseconds per fit) can be skipped."""
    terms = [t.strip() for t in rhs.split("+")]
    names = [t for t in terms if t != "1"]
    if not names or len(set(names)) != len(names):
        return None
    for t in names:
        if not _NAME.fullmatch(t) or t not in data.columns:
            return None
        dtype = data[t].dtype
        if not isinstance(dtype, np.dtype) or dtype.kind not in "iuf":
            return None
    return names


def _model_matrix(rhs: str, data: pd.DataFrame, where: str) -> tuple[np.ndarray, list[str], Any]:
    """Model matrix of ``rhs`` (checked against the formula allow-list and evaluated in a
    restricted context), its R-style column names and a spec that rebuilds it for new data."""
    plain = _plain_columns(rhs, data)
    if plain is not None:
        arr = np.empty((len(data), len(plain) + 1))
        arr[:, 0] = 1.0
        for j, col in enumerate(plain, start=1):
            arr[:, j] = data[col].to_numpy(dtype=float)
        names, spec = ["(Intercept)", *plain], _DeferredSpec(rhs, data, where)
    else:
        matrix = safe_model_matrix(rhs, data, where=where)
        names, spec = matrix.names, matrix.spec
        arr = np.asarray(matrix.frame, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    bad = ~np.isfinite(arr).all(axis=0)
    if bad.any():
        raise ModelSpecificationError(
            f"the {where} has non-finite values (NaN/Inf) in column(s) "
            f"{[n for n, b in zip(names, bad, strict=True) if b]}, e.g. log of a zero; "
            "transform or filter the data first"
        )
    return arr, names, spec


def _response(expr: str, data: pd.DataFrame) -> np.ndarray:
    m = re.fullmatch(r"cbind\s*\((.*)\)", expr.strip())
    if m:
        from alliancestats.models.formula import split_top_level

        parts = [p.strip() for p in split_top_level(m.group(1), ",")]
        if len(parts) != 2:
            raise FormulaError(f"cbind() response {expr!r} needs exactly two columns")
        cols = [_response(p, data) for p in parts]
        return np.column_stack(cols)
    if expr in data.columns:
        col = data[expr]
        if pd.api.types.is_bool_dtype(col):
            return col.to_numpy(dtype=float)
        if not pd.api.types.is_numeric_dtype(col):
            raise FormulaError(
                f"response {expr!r} must be numeric, but its dtype is {col.dtype}; "
                "convert it (e.g. with pd.to_numeric) before fitting"
            )
        y = col.to_numpy(dtype=float)
    else:
        # an expression (log(y + 1), n - k), not formula algebra, checked and evaluated safely
        with np.errstate(all="ignore"):  # non-finite values are reported below
            y = evaluate_expression(expr, data, where="response")
    if not np.isfinite(y).all():
        raise ModelSpecificationError(f"response {expr!r} has infinite values")
    return y


def _independent_columns(X: np.ndarray, tol: float = 1e-7) -> list[int]:
    """Indices of columns kept when later columns that are linear in earlier ones are dropped.

    ``|R[j, j]|`` of the QR decomposition of the column-scaled matrix is the norm of column j's
    residual on the columns before it, so small values mark aliased columns (as R's ``qr``
    pivots them to the end and lme4 drops them).
    """
    p = X.shape[1]
    if p == 0:
        return []
    scale = np.sqrt((X * X).sum(axis=0))
    zero = scale == 0
    scale[zero] = 1.0
    R = np.linalg.qr(X / scale, mode="r")
    diag = np.zeros(p)
    k = min(R.shape)
    diag[:k] = np.abs(np.diag(R)[:k])
    return [j for j in range(p) if not zero[j] and diag[j] > tol]


def _lme4_order(blocks: list[RandomBlock]) -> list[RandomBlock]:
    """lme4 (mkReTrms) reorders terms by decreasing number of levels if not already so."""
    nl = np.array([b.nlevels for b in blocks])
    if len(nl) > 1 and np.any(np.diff(nl) > 0):
        order = np.argsort(nl, kind="stable")[::-1]
        return [blocks[i] for i in order]
    return blocks


def build_design(
    formula: str,
    data: pd.DataFrame,
    *,
    warn_dropped: bool = True,
) -> Design:
    """Build response, fixed-effects matrix and random-effects blocks from an lme4 formula.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"pain ~ session + (1 + session | patient)"``.
    data : pandas.DataFrame or SessionData
        Long-format data, one row per observation (a ``SessionData`` from ``load_sessions``
        is used through its ``.data`` frame).
    warn_dropped : bool, default True
        Issue a :class:`~alliancestats.errors.DroppedRowsWarning` when rows with missing
        values are dropped.

    Returns
    -------
    Design

    Raises
    ------
    FormulaError
        Unknown columns (with suggestions), malformed formula, non-numeric response.
    ModelSpecificationError
        No complete rows, a grouping factor with a single level, non-finite transforms.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2.0, None, 4.0], "x": [0.0, 1.0, 2.0, 3.0],
    ...                    "g": ["a", "a", "b", "b"]})
    >>> d = build_design("y ~ x + (1 | g)", df, warn_dropped=False)
    >>> d.nobs, d.n_dropped
    (3, 1)
    """
    data = as_frame(data, "build_design")
    parsed = parse_formula(formula)
    used = _used_columns(parsed, data)
    sub, n_dropped = _complete_rows(data, used, warn_dropped)
    y = _response(parsed.response, sub)
    response_vars = variables_in(parsed.response)
    plain_groups = {v for t in parsed.random for v in t.group_vars}
    pred_vars = set(variables_in(parsed.fixed))
    for off in parsed.offsets:
        pred_vars |= set(variables_in(off))
    for term in parsed.random:
        pred_vars |= set(variables_in(term.lhs))
    skip = [c for c in used if c in response_vars or (c in plain_groups and c not in pred_vars)]
    sub, factor_levels = _as_factors(sub, skip)
    fixed = _fixed_part(parsed, sub)
    blocks = _random_blocks(parsed, sub)
    return Design(
        parsed=parsed,
        response=parsed.response,
        y=y,
        random=blocks,
        rows=sub.index,
        n_dropped=n_dropped,
        data=sub,
        factor_levels=factor_levels,
        **fixed,
    )


def _used_columns(parsed: ParsedFormula, data: pd.DataFrame) -> list[str]:
    """Data columns the formula uses, checked to exist once each (close names suggested)."""
    used: list[str] = []

    def add(names: list[str], where: str) -> None:
        _check_columns(names, data, where)
        for nm in names:
            if nm not in used:
                used.append(nm)

    add(variables_in(parsed.response), "response")
    add(variables_in(parsed.fixed), "fixed part")
    for off in parsed.offsets:
        add(variables_in(off), "offset")
    for term in parsed.random:
        add(variables_in(term.lhs), f"random term {term.source}")
        add(list(term.group_vars), f"grouping factor of {term.source}")
    duplicated = [] if data.columns.is_unique else [
        c for c in used if int((data.columns == c).sum()) > 1
    ]
    if duplicated:
        raise FormulaError(
            f"column name(s) {duplicated} occur more than once in the data; rename the "
            "duplicates so that the formula refers to one column"
        )
    return used


def _complete_rows(data: pd.DataFrame, used: list[str], warn: bool) -> tuple[pd.DataFrame, int]:
    """The used columns of the rows without a missing value, and how many rows were dropped."""
    sub = data.loc[:, used] if used else data.iloc[:, :0]
    sub.attrs = {}  # metadata would be deep-copied by every pandas operation on the frame
    missing = sub.isna().any(axis=1).to_numpy() if used else np.zeros(len(data), dtype=bool)
    n_dropped = int(missing.sum())
    if n_dropped:
        sub = sub.loc[~missing]
        if warn:
            warnings.warn(
                f"{n_dropped} of {len(data)} rows dropped because of missing values in "
                f"{[c for c in used if data[c].isna().any()]}; the fit uses {len(sub)} rows",
                DroppedRowsWarning,
                stacklevel=4,
            )
    if len(sub) == 0:
        raise ModelSpecificationError(
            f"no rows left: every row has a missing value in a variable the model uses ({used})"
        )
    return sub, n_dropped


def _fixed_part(parsed: ParsedFormula, sub: pd.DataFrame) -> dict[str, Any]:
    """Fixed-effects matrix without aliased columns, R-style names, and the offset."""
    X_full, names_full, fixed_spec = _model_matrix(parsed.fixed, sub, "fixed-effects matrix")
    offset = np.zeros(len(sub))
    offset_specs = []
    for off in parsed.offsets:
        arr, _, off_spec = _model_matrix(f"0 + {off}", sub, "offset")
        offset = offset + arr[:, 0]
        offset_specs.append(off_spec)
    kept = _independent_columns(X_full)
    aliased = [names_full[j] for j in range(len(names_full)) if j not in kept]
    if aliased:
        warnings.warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(aliased)} "
            f"column(s): {aliased}",
            RankDeficiencyWarning,
            stacklevel=4,
        )
    return {
        "X": np.ascontiguousarray(X_full[:, kept]),
        "fixed_names": [names_full[j] for j in kept],
        "offset": offset,
        "aliased": aliased,
        "fixed_spec": fixed_spec,
        "kept_columns": kept,
        "offset_specs": offset_specs,
    }


def _random_blocks(parsed: ParsedFormula, sub: pd.DataFrame) -> list[RandomBlock]:
    """One :class:`RandomBlock` per random term, in lme4's order and with lme4's names."""
    blocks: list[RandomBlock] = []
    for term in parsed.random:
        if term.lhs.strip() == "1":  # a random intercept: no formula to evaluate
            Z, colnames, spec = np.ones((len(sub), 1)), ["(Intercept)"], None
        else:
            Z, colnames, spec = _model_matrix(term.lhs, sub, f"random term {term.source}")
        if Z.shape[1] == 0:
            raise FormulaError(f"random term {term.source} has no random-effect columns")
        codes, levels = _factorize_group(sub, term)
        if len(levels) < 2:
            raise ModelSpecificationError(
                f"grouping factor {term.group!r} has only {len(levels)} level in the data "
                "used; a random effect needs at least two groups"
            )
        blocks.append(
            RandomBlock(
                group=term.group,
                colnames=colnames,
                Z=np.ascontiguousarray(Z),
                codes=codes,
                levels=levels,
                correlated=term.correlated,
                group_vars=term.group_vars,
                lhs=term.lhs,
                spec=spec,
                label_vars=tuple(term.group.split(":")),
            )
        )
    blocks = _lme4_order(blocks)
    # lme4 names repeated grouping factors (from '||') "g", "g.1", "g.2", ...
    seen: dict[str, int] = {}
    for b in blocks:
        k = seen.get(b.group, 0)
        seen[b.group] = k + 1
        if k:
            b.group = f"{b.group}.{k}"
    return blocks
