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

from alliancestats.errors import (
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
    RankDeficiencyWarning,
)
from alliancestats.models.formula import ParsedFormula, RandomTerm, parse_formula

__all__ = ["Design", "RandomBlock", "build_design", "r_style_name", "variables_in"]

# names that may appear in formula expressions without being data columns
_KNOWN_FUNCTIONS = {
    "np",
    "numpy",
    "I",
    "C",
    "Q",
    "log",
    "log2",
    "log10",
    "log1p",
    "exp",
    "sqrt",
    "abs",
    "scale",
    "center",
    "poly",
    "bs",
    "cbind",
    "offset",
    "True",
    "False",
    "None",
    "pi",
    "contr",
}


def r_style_name(name: str) -> str:
    """Rename a formulaic column the way R's ``model.matrix`` names it.

    Examples
    --------
    >>> r_style_name("Intercept")
    '(Intercept)'
    >>> r_style_name("session:arm[T.telehealth]")
    'session:armtelehealth'
    >>> r_style_name("arm[b]")
    'armb'
    """
    if name == "Intercept":
        return "(Intercept)"
    parts = []
    for piece in name.split(":"):
        piece = re.sub(r"\[T\.(.*)\]$", r"\1", piece)
        piece = re.sub(r"\[(.*)\]$", r"\1", piece)
        parts.append(piece)
    return ":".join(parts)


def _strip_strings(expr: str) -> str:
    return re.sub(r"(\"[^\"]*\"|'[^']*')", " ", expr)


def variables_in(expr: str) -> list[str]:
    """Names in a formula expression that should be data columns (functions excluded).

    Examples
    --------
    >>> variables_in("np.log(pain) + I(session ** 2) + arm:session")
    ['pain', 'session', 'arm']
    """
    out: list[str] = []
    for quoted in re.findall(r"`([^`]+)`", expr):
        if quoted not in out:
            out.append(quoted)
    text = _strip_strings(re.sub(r"`[^`]+`", " ", expr))
    for m in re.finditer(r"(?<![A-Za-z0-9_.])([A-Za-z_.][A-Za-z0-9_.]*)", text):
        name = m.group(1)
        rest = text[m.end() :].lstrip()
        if rest.startswith("(") or (rest.startswith("=") and not rest.startswith("==")):
            continue  # a function call or keyword argument
        root = name.split(".")[0]
        if name in _KNOWN_FUNCTIONS or root in _KNOWN_FUNCTIONS:
            continue
        if name not in out:
            out.append(name)
    return out


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
        try:
            mm = block.spec.get_model_matrix(newdata, na_action="ignore")
        except Exception as exc:  # formulaic raises several types (missing column, new level)
            raise FormulaError(
                f"cannot build the random-effects columns of ({block.lhs} | {block.group}) for "
                f"new data: {exc}"
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


def _check_r_powers(rhs: str, where: str) -> None:
    """R's ``I(x^2)`` is a bitwise XOR in Python: refuse it instead of fitting nonsense."""
    for m in re.finditer(r"(?<![A-Za-z0-9_.])I\(", rhs):
        depth, i = 1, m.end()
        while i < len(rhs) and depth:
            depth += {"(": 1, ")": -1}.get(rhs[i], 0)
            i += 1
        inside = rhs[m.end() : i - 1]
        if "^" in inside:
            raise FormulaError(
                f"{where}: I({inside}) uses '^', which Python evaluates as bitwise XOR; "
                f"write powers with '**', e.g. I({inside.replace('^', ' ** ')})"
            )


def _model_matrix(rhs: str, data: pd.DataFrame, where: str) -> tuple[np.ndarray, list[str], Any]:
    import formulaic

    _check_r_powers(rhs, where)

    try:
        with np.errstate(all="ignore"):  # non-finite results are reported below
            mm = formulaic.model_matrix(rhs, data, na_action="ignore")
    except Exception as exc:  # formulaic raises many types; re-raise as a formula problem
        raise FormulaError(f"cannot build the {where} from {rhs!r}: {exc}") from exc
    names = [r_style_name(str(c)) for c in mm.columns]
    arr = np.asarray(mm, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    bad = ~np.isfinite(arr).all(axis=0)
    if bad.any():
        raise ModelSpecificationError(
            f"the {where} has non-finite values (NaN/Inf) in column(s) "
            f"{[n for n, b in zip(names, bad, strict=True) if b]}, e.g. log of a zero; "
            "transform or filter the data first"
        )
    return arr, names, mm.model_spec


def _response(expr: str, data: pd.DataFrame) -> np.ndarray:
    m = re.fullmatch(r"cbind\((.*)\)", expr.strip())
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
        # I(...) evaluates the expression as Python (formula algebra would read "a - b" as
        # dropping term b)
        arr, _, _ = _model_matrix(f"0 + I({expr})", data, "response")
        if arr.shape[1] != 1:
            raise FormulaError(f"response {expr!r} must be a single numeric column")
        y = arr[:, 0]
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
    if not isinstance(data, pd.DataFrame) and isinstance(getattr(data, "data", None), pd.DataFrame):
        data = data.data  # a SessionData from load_sessions
    if not isinstance(data, pd.DataFrame):
        raise FormulaError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    parsed = parse_formula(formula)
    used: list[str] = []

    def _add(names: list[str], where: str) -> None:
        _check_columns(names, data, where)
        for nm in names:
            if nm not in used:
                used.append(nm)

    _add(variables_in(parsed.response), "response")
    _add(variables_in(parsed.fixed), "fixed part")
    for off in parsed.offsets:
        _add(variables_in(off), "offset")
    for term in parsed.random:
        _add(variables_in(term.lhs), f"random term {term.source}")
        _add(list(term.group_vars), f"grouping factor of {term.source}")

    duplicated = [c for c in used if int((data.columns == c).sum()) > 1]
    if duplicated:
        raise FormulaError(
            f"column name(s) {duplicated} occur more than once in the data; rename the "
            "duplicates so that the formula refers to one column"
        )
    sub = data.loc[:, used] if used else data.iloc[:, :0]
    missing = sub.isna().any(axis=1).to_numpy() if used else np.zeros(len(data), dtype=bool)
    n_dropped = int(missing.sum())
    if n_dropped:
        sub = sub.loc[~missing]
        if warn_dropped:
            warnings.warn(
                f"{n_dropped} of {len(data)} rows dropped because of missing values in "
                f"{[c for c in used if data[c].isna().any()]}; the fit uses {len(sub)} rows",
                DroppedRowsWarning,
                stacklevel=3,
            )
    if len(sub) == 0:
        raise ModelSpecificationError(
            f"no rows left: every row has a missing value in a variable the model uses ({used})"
        )

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
            stacklevel=3,
        )
    X = np.ascontiguousarray(X_full[:, kept])
    fixed_names = [names_full[j] for j in kept]

    blocks: list[RandomBlock] = []
    for term in parsed.random:
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
    return Design(
        parsed=parsed,
        response=parsed.response,
        y=y,
        X=X,
        fixed_names=fixed_names,
        offset=offset,
        random=blocks,
        rows=sub.index,
        n_dropped=n_dropped,
        data=sub,
        aliased=aliased,
        fixed_spec=fixed_spec,
        kept_columns=kept,
        factor_levels=factor_levels,
        offset_specs=offset_specs,
    )
