"""Linear mixed models on a Dask DataFrame: per-cell sums with Dask, the fit on the client.

:func:`alliancestats.models.lmm` sends a ``dask.dataframe.DataFrame`` here. Two passes over
the data, partition by partition (no partition needs more than its own rows):

1. count the rows and the rows with a missing value in a model variable, collect the levels
   of text/categorical predictors among the complete rows, the mean of the response and a
   small sample of complete rows;
2. build ``Z``, ``X`` and the response of each partition's complete rows with a template
   design that knows every level (so every partition has the same columns of ``X``) and sum
   the cross-products per cell (one combination of the grouping factors' levels; see
   :mod:`alliancestats.models.sufficient_stats`); the partial sums are added in a tree
   reduction (a patient split across partitions is summed correctly).

Only the per-cell sums reach the client. They are compressed into at most ``k`` rows per cell
with the same cross-products, and :func:`~alliancestats.models.lmm_fit.fit_design` fits those
with the true number of observations: the same criterion, optimiser, Satterthwaite df and
conditional modes as the in-memory fit. Fitted values and residuals are lazy Dask Series;
what needs the raw rows in memory raises :class:`~alliancestats.errors.OutOfCoreError`.

What a worker runs on a partition is in :mod:`alliancestats.models.dask_partitions`. Dask
is imported only here, on first use.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import (
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
    OutOfCoreError,
    RankDeficiencyWarning,
)
from alliancestats.models.control import Control
from alliancestats.models.dask_partitions import (
    RowModel,
    partition_cells,
    partition_fitted,
    partition_scan,
)
from alliancestats.models.design import Design, RandomBlock, build_design, variables_in
from alliancestats.models.formula import parse_formula
from alliancestats.models.lmm_fit import LmmFit, fit_design
from alliancestats.models.results import MixedResult
from alliancestats.models.sufficient_stats import (
    combine_cell_frames,
    compressed_rows,
    gram_from_frame,
    independent_columns_from_gram,
)

__all__ = ["DaskLmmFit", "SufficientDesign", "fit_dask_frame", "is_dask_frame"]

# functions whose value for a row depends on the whole column (or which define factor
# levels from the values): a partition would compute them from its own rows only
WHOLE_COLUMN_FUNCTIONS = ("scale", "center", "poly", "bs", "factor", "as.factor", "relevel")
SAMPLE_ROWS = 500
FAN_IN = 8  # partial sums added per reduction task


def is_dask_frame(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame (checked without importing dask).

    Examples
    --------
    >>> import pandas as pd
    >>> is_dask_frame(pd.DataFrame({"a": [1]}))
    False
    """
    module = type(data).__module__.split(".")[0]
    return module in {"dask", "dask_expr"} and hasattr(data, "npartitions")


@dataclass
class SufficientDesign(Design):
    """A :class:`~alliancestats.models.design.Design` whose rows are the compressed rows of
    the per-cell sums; ``nobs`` is the number of observations they stand for."""

    n_obs: int = 0
    source: Any = None
    row_model: RowModel | None = None

    @property
    def nobs(self) -> int:
        return int(self.n_obs)

    @property
    def fit_type(self) -> type:
        return DaskLmmFit

    @property
    def rows_in_memory(self) -> bool:
        """False: ``X``, ``y`` and ``Z`` are compressed rows, not the data's rows."""
        return False


# ---------------------------------------------------------------------------- checks
def _check_supported(formula: str, columns: list[str], weights: Any) -> list[str]:
    """The columns the model uses, after refusing what the Dask path cannot do."""
    if weights is not None:
        raise OutOfCoreError(
            "prior weights (weights=) are not supported for a Dask DataFrame; fit a "
            "pandas DataFrame (ddf.compute()) if the data fit in memory"
        )
    for name in WHOLE_COLUMN_FUNCTIONS:
        if re.search(rf"(?<![\w.]){re.escape(name)}\s*\(", formula):
            raise OutOfCoreError(
                f"{name}() in a formula is computed from the whole column (or defines factor "
                "levels from its values), which a partition of a Dask DataFrame cannot do; "
                "compute the variable first (e.g. ddf.assign(...) or a categorical dtype with "
                "known categories) or fit ddf.compute() if the data fit in memory"
            )
    parsed = parse_formula(formula)
    if re.fullmatch(r"cbind\s*\(.*\)", parsed.response.strip()):
        raise FormulaError("a linear mixed model needs a single numeric response (no cbind())")
    used: list[str] = []
    parts = [("response", parsed.response), ("fixed part", parsed.fixed)]
    parts += [("offset", o) for o in parsed.offsets]
    for term in parsed.random:
        parts.append((f"random term {term.source}", term.lhs))
    names = [(w, v) for w, expr in parts for v in variables_in(expr)]
    names += [(f"grouping factor of {t.source}", g) for t in parsed.random for g in t.group_vars]
    for where, name in names:
        if name not in columns:
            close = difflib.get_close_matches(name, [str(c) for c in columns], n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise FormulaError(f"column {name!r} used in the {where} is not in the data{hint}")
        if name not in used:
            used.append(name)
    if not parsed.random:
        raise FormulaError(
            f"formula {formula!r} has no random-effects term such as (1 | patient); "
            "use an ordinary regression for models without random effects"
        )
    return used


def _text_columns(meta: pd.DataFrame, formula: str, used: list[str]) -> list[str]:
    """Predictor columns that become factors (non-numeric dtype), from the frame's meta."""
    parsed = parse_formula(formula)
    preds = set(variables_in(parsed.fixed))
    for off in parsed.offsets:
        preds |= set(variables_in(off))
    for term in parsed.random:
        preds |= set(variables_in(term.lhs))
    out = []
    for col in used:
        dtype = meta[col].dtype
        if col not in preds:
            continue
        if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
            raise FormulaError(
                f"column {col!r} holds dates or durations; convert it to a number first "
                "(e.g. days since the first session) so that its unit is explicit"
            )
        if isinstance(dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype)
        ):
            out.append(col)
    return out


# ---------------------------------------------------------------------------- pass 1
def _scan(ddf: Any, used: list[str], response: str, text_cols: list[str]) -> dict[str, Any]:
    import dask

    parts = ddf.to_delayed()
    scans = dask.compute(*[dask.delayed(partition_scan)(p, used, response, text_cols)
                           for p in parts])
    levels = {c: set().union(*(s["levels"][c] for s in scans)) for c in text_cols}
    sample = pd.concat([s["sample"] for s in scans if len(s["sample"])] or [ddf._meta[used]])
    return {
        "rows": sum(s["rows"] for s in scans),
        "complete": sum(s["complete"] for s in scans),
        "missing_cols": sorted({c for s in scans for c in s["missing_cols"]}, key=used.index),
        "levels": levels,
        "ysum": sum(s["ysum"] for s in scans),
        "yfinite": all(s["yfinite"] for s in scans),
        "sample": sample.head(SAMPLE_ROWS),
    }


# ---------------------------------------------------------------------------- template
def _ordered_levels(meta: pd.DataFrame, col: str, present: set[str]) -> list[str]:
    """Levels as the in-memory design orders them: a categorical's category order, sorted text
    otherwise; levels without complete rows left out."""
    dtype = meta[col].dtype
    if isinstance(dtype, pd.CategoricalDtype) and dtype.categories is not None and len(
        dtype.categories
    ):
        cats = [str(c) for c in dtype.categories]
        return [c for c in cats if c in present] + sorted(present - set(cats))
    return sorted(present)


def _template(formula: str, scan: dict[str, Any], meta: pd.DataFrame, used: list[str],
              text_cols: list[str]) -> tuple[Design, list[str], tuple[str, ...]]:
    """A design on a small made-up frame holding every level of every text predictor, with all
    fixed-effect columns kept (aliasing is decided later on the whole data); the names of
    all its fixed-effect columns; the grouping columns replaced by 0/1 in the frame."""
    sample = scan["sample"].reset_index(drop=True)
    levels = {c: _ordered_levels(meta, c, scan["levels"][c]) for c in text_cols}
    size = max([len(sample), 4] + [len(v) for v in levels.values()])
    frame = sample.iloc[np.arange(size) % len(sample)].reset_index(drop=True)
    for c, lv in levels.items():
        values = [lv[i % len(lv)] for i in range(size)]
        frame[c] = pd.Categorical(values, categories=lv) if isinstance(
            meta[c].dtype, pd.CategoricalDtype) else values
    parsed = parse_formula(formula)
    preds = set(variables_in(parsed.fixed))
    for term in parsed.random:
        preds |= set(variables_in(term.lhs))
    placeholders = []
    for term in parsed.random:  # two levels per factor keeps lme4's term order as written
        for g in term.group_vars:
            if g not in preds and g not in variables_in(parsed.response):
                frame[g] = np.arange(size) % 2
                placeholders.append(g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficiencyWarning)
        design = build_design(formula, frame, warn_dropped=False)
    width = len(design.fixed_names) + len(design.aliased)
    kept, dropped = iter(design.fixed_names), iter(design.aliased)
    names = [next(kept) if j in design.kept_columns else next(dropped) for j in range(width)]
    design = dataclasses.replace(design, kept_columns=list(range(width)), fixed_names=names,
                                 aliased=[])
    return design, names, tuple(dict.fromkeys(placeholders))


# ---------------------------------------------------------------------------- pass 2
def _cell_sums(ddf: Any, model: RowModel) -> pd.DataFrame:
    import dask

    shared = dask.delayed(model, traverse=False)
    parts = [dask.delayed(partition_cells)(p, shared) for p in ddf.to_delayed()]
    while len(parts) > 1:
        parts = [dask.delayed(combine_cell_frames)(parts[i : i + FAN_IN])
                 for i in range(0, len(parts), FAN_IN)]
    return dask.compute(parts[0])[0]


# ---------------------------------------------------------------------------- design
def _term_codes(cells: pd.DataFrame, k: int, block: RandomBlock) -> tuple[np.ndarray, pd.Index]:
    values = cells.index.get_level_values(k)
    codes, uniques = pd.factorize(values, sort=True)
    levels = pd.Index([str(u) for u in uniques])
    if len(levels) < 2:
        raise ModelSpecificationError(
            f"grouping factor {block.group!r} has only {len(levels)} level in the data used; "
            "a random effect needs at least two groups"
        )
    return codes.astype(np.intp), levels


def _sufficient_design(cells: pd.DataFrame, model: RowModel, names: list[str],
                       scan: dict[str, Any], ddf: Any) -> SufficientDesign:
    t = model.template
    qs = [b.q for b in t.random]
    qz, p_full = sum(qs), len(names)
    k = qz + p_full + 1
    G = gram_from_frame(cells[[f"p{i}" for i in range(k * (k + 1) // 2)]].to_numpy(), k)
    xx = G[:, qz : qz + p_full, qz : qz + p_full].sum(axis=0)
    kept = independent_columns_from_gram(xx)
    aliased = [names[j] for j in range(p_full) if j not in kept]
    if aliased:
        warnings.warn(
            f"fixed-effect model matrix is rank deficient so dropping {len(aliased)} "
            f"column(s): {aliased}", RankDeficiencyWarning, stacklevel=4,
        )
    sel = [*range(qz), *(qz + j for j in kept), k - 1]
    rows, cell = compressed_rows(G[:, sel][:, :, sel], np.arange(len(cells)))
    X = np.ascontiguousarray(rows[:, qz : qz + len(kept)])
    y = rows[:, -1].copy()
    if model.centre:
        y += model.centre * X[:, kept.index(names.index("(Intercept)"))]
    blocks, start = [], 0
    for j, b in enumerate(t.random):
        codes, levels = _term_codes(cells, j, b)
        Z = np.ascontiguousarray(rows[:, start : start + b.q])
        blocks.append(dataclasses.replace(b, Z=Z, codes=codes[cell], levels=levels))
        start += b.q
    order = np.argsort([-b.nlevels for b in blocks], kind="stable")  # lme4's term order
    return SufficientDesign(
        parsed=t.parsed, response=t.response, y=y, X=X,
        fixed_names=[names[j] for j in kept], offset=np.zeros(len(y)),
        random=[blocks[i] for i in order], rows=pd.RangeIndex(len(y)),
        n_dropped=scan["rows"] - scan["complete"], data=t.data, aliased=aliased,
        fixed_spec=t.fixed_spec, kept_columns=kept, factor_levels=t.factor_levels,
        offset_specs=t.offset_specs, n_obs=int(round(cells["n"].sum())), source=ddf,
        row_model=dataclasses.replace(model, label_vars=[model.label_vars[i] for i in order],
                                      template=dataclasses.replace(
                                          t, random=[t.random[i] for i in order])),
    )


def fit_dask_frame(
    formula: str,
    ddf: Any,
    *,
    reml: bool,
    level: float,
    control: Control,
    weights: Any = None,
) -> MixedResult:
    """Fit :func:`~alliancestats.models.lmm` to a Dask DataFrame (see the module docstring).

    Parameters
    ----------
    formula : str
        lme4-style formula (numeric and text/categorical predictors, row-wise functions).
    ddf : dask.dataframe.DataFrame
        Long-format data, partitioned in any way.
    reml, level, control, weights
        As for :func:`~alliancestats.models.lmm` (``weights`` must be ``None``).

    Returns
    -------
    MixedResult
        With ``fitted`` and ``residuals`` as lazy Dask Series.
    """
    meta = ddf._meta
    used = _check_supported(formula, list(meta.columns), weights)
    text_cols = _text_columns(meta, formula, used)
    scan = _scan(ddf, used, parse_formula(formula).response, text_cols)
    if scan["complete"] == 0:
        raise ModelSpecificationError(
            f"no rows left: every row has a missing value in a variable the model uses ({used})"
        )
    if not scan["yfinite"]:
        raise ModelSpecificationError(
            f"response {parse_formula(formula).response!r} has infinite values")
    n_dropped = scan["rows"] - scan["complete"]
    if n_dropped:
        warnings.warn(
            f"{n_dropped} of {scan['rows']} rows dropped because of missing values in "
            f"{scan['missing_cols']}; the fit uses {scan['complete']} rows",
            DroppedRowsWarning, stacklevel=3,
        )
    template, names, placeholders = _template(formula, scan, meta, used, text_cols)
    centre = scan["ysum"] / scan["complete"] if "(Intercept)" in names else 0.0
    model = RowModel(used, template.response, template,
                     [b.label_vars for b in template.random], centre, placeholders)
    cells = _cell_sums(ddf, model)
    design = _sufficient_design(cells, model, names, scan, ddf)
    return fit_design(design, reml=reml, level=level, control=control)


# ---------------------------------------------------------------------------- the fit
class DaskLmmFit(LmmFit):
    """An LMM fitted from per-cell sums of a Dask DataFrame.

    Everything computed from the sums is as for an in-memory fit (estimates, standard errors,
    Satterthwaite df, variance components, conditional modes and variances, Kenward-Roger,
    ML refit). Fitted values and residuals are lazy Dask Series; profiles, refits to a new
    response and simulation need the rows and raise
    :class:`~alliancestats.errors.OutOfCoreError`.
    """

    def _lazy(self, what: str) -> Any:
        d = self.design
        return d.source.map_partitions(
            partition_fitted, d.row_model, d.kept_columns, self.beta, self.b,
            [b.levels for b in d.random], what, meta=pd.Series(dtype=float, name=what),
        )

    def fitted_values(self) -> Any:
        return self._lazy("fitted")

    def _unavailable(self, what: str) -> OutOfCoreError:
        return OutOfCoreError(
            f"{what} needs the individual rows, which a fit to a Dask DataFrame does not "
            "hold; use result.fitted / result.residuals (lazy Dask Series), predict() with a "
            "pandas DataFrame, or fit ddf.compute() if the data fit in memory"
        )

    def linear_predictor(self, newdata: pd.DataFrame | None = None, random: bool = True):
        if newdata is None:
            raise self._unavailable("the linear predictor of the fitted rows")
        return super().linear_predictor(newdata, random)

    def profile(self, level: float, progress: bool | None = None) -> pd.DataFrame:
        raise self._unavailable("profile intervals")

    def simulate(self, rng: np.random.Generator, beta: np.ndarray | None = None) -> np.ndarray:
        raise self._unavailable("simulating a new response")

    def refit(self, y: np.ndarray, ddf: bool = True):
        raise self._unavailable("refitting to a new response")

    @property
    def prior_weights(self) -> np.ndarray:
        raise self._unavailable("the prior weights of the rows")

    @property
    def response_values(self) -> np.ndarray:
        raise self._unavailable("the response of the rows")

    @property
    def total_offset(self) -> np.ndarray:
        raise self._unavailable("the offsets of the rows")

    def refit_null(self, y: np.ndarray | None = None) -> MixedResult:
        raise self._unavailable("the intercept-only refit")

    def kenward_roger(self):
        raise self._unavailable("Kenward-Roger's adjustment (it uses the rows' covariance)")

    def result(self, messages: list[str] | None = None) -> MixedResult:
        """The :class:`MixedResult`, with lazy Dask Series as ``fitted`` and ``residuals``."""
        d = self.design
        lazy, self.fitted_values = self.fitted_values, lambda: np.zeros(len(d.y))
        try:
            res = super().result(messages)
        finally:
            self.fitted_values = lazy
        res.fitted = self._lazy("fitted")
        res.residuals = self._lazy("residuals")
        return res
