"""The functions a model formula may call: the documented allow-list and its implementations.

Formulas are text that arrives from configuration files, shared notebooks and reports, so the
names they can reach are listed here explicitly (:data:`FUNCTIONS`, :data:`CONSTANTS`,
:data:`NUMPY_FUNCTIONS`) and nothing else is available when a formula is evaluated (see
:mod:`alliancestats.models.formula_eval`). The R spellings that lme4 users type are included:
``log``, ``exp``, ``sqrt``, ``sin``, ``cos``, ``pi`` without a ``np.`` prefix, ``factor()``,
``as.factor()``, ``relevel()``, ``poly()``, ``scale()``, ``I()`` and ``offset()``.

``factor()`` follows R: the levels of a numeric variable are its distinct values in numeric
order, labelled as R's ``as.character`` writes them (``0.2``, ``1``, ``1e+05``); the levels of
text are sorted; a categorical keeps its category order (unused categories dropped).
``log(x, base)`` takes R's optional base. ``poly``, ``scale``, ``center``, ``bs``, ``C`` and
the ``contr.*`` contrasts are formulaic's implementations (``poly`` gives R's orthonormal
polynomial basis; ``scale`` divides by the standard deviation with ``n - 1``, as R).

Examples
--------
>>> import numpy as np
>>> from alliancestats.models.formula_functions import factor_labels, r_number
>>> factor_labels(np.array([0.4, 0.0, 0.2, 0.0]))
(['0.4', '0', '0.2', '0'], ['0', '0.2', '0.4'])
>>> r_number(100000.0), r_number(0.001), r_number(1 / 3)
('1e+05', '0.001', '0.333333333333333')
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "CATEGORICAL_FUNCTIONS",
    "CONSTANTS",
    "CONTRASTS",
    "FUNCTIONS",
    "NUMPY_FUNCTIONS",
    "factor_labels",
    "namespace",
    "r_number",
]

# numpy functions reachable as np.<name> / numpy.<name> (elementwise maths only)
NUMPY_FUNCTIONS: tuple[str, ...] = (
    "abs", "absolute", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "cbrt",
    "ceil", "clip", "cos", "cosh", "exp", "exp2", "expm1", "fabs", "floor", "log", "log10",
    "log1p", "log2", "maximum", "minimum", "power", "rint", "round", "sign", "sin", "sinh",
    "sqrt", "square", "tan", "tanh", "trunc", "where",
)  # fmt: skip
NUMPY_CONSTANTS: tuple[str, ...] = ("pi", "e", "inf", "nan")

# contrast codings usable as C(x, contr.sum) or C(x, Sum) (formulaic's implementations)
CONTRASTS: tuple[str, ...] = (
    "contr.treatment", "contr.sum", "contr.helmert", "contr.poly", "contr.diff", "contr.SAS",
    "Treatment", "Sum", "Helmert", "Poly", "Diff",
)  # fmt: skip

# functions whose arguments may be text (level names) or lists of levels
CATEGORICAL_FUNCTIONS: frozenset[str] = frozenset(
    {"C", "factor", "as.factor", "relevel", "Q", *CONTRASTS}
)


def r_number(value: float) -> str:
    """Write a number as R's ``deparse`` and ``as.character`` do (15 significant digits).

    R uses fixed notation unless scientific notation is shorter (``1e+05`` but ``1000``).

    Examples
    --------
    >>> [r_number(v) for v in (2, 0.2, 1000, 1e-4, 123456, 1e15, -2.5)]
    ['2', '0.2', '1000', '1e-04', '123456', '1e+15', '-2.5']
    """
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    if v == 0:
        return "0"
    target = float(f"{v:.14e}")
    sig = next(d for d in range(1, 16) if float(f"{v:.{d - 1}e}") == target)
    mantissa, exponent = f"{v:.{sig - 1}e}".split("e")
    exp10 = int(exponent)
    sci = f"{mantissa}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    fixed = f"{v:.{max(0, sig - 1 - exp10)}f}"
    return fixed if len(fixed) <= len(sci) else sci


def factor_labels(values: Any) -> tuple[list[Any], list[str]]:
    """Text labels of ``values`` and the sorted levels, as R's ``factor()`` makes them.

    Missing values stay missing (``None``). Numbers are ordered numerically and labelled as
    R's ``as.character`` writes them; booleans become ``FALSE``/``TRUE``; text is sorted.

    Examples
    --------
    >>> factor_labels(["b", "a", None])
    (['b', 'a', None], ['a', 'b'])
    """
    series = pd.Series(values).reset_index(drop=True)
    missing = series.isna().to_numpy()
    if isinstance(series.dtype, pd.CategoricalDtype):
        used = series.cat.remove_unused_categories()
        labels = [None if m else str(v) for v, m in zip(used.astype(object), missing, strict=True)]
        return labels, [str(c) for c in used.cat.categories]
    present = series[~missing]
    if pd.api.types.is_bool_dtype(present) or (
        len(present) and all(isinstance(v, bool | np.bool_) for v in present)
    ):

        def fmt(v: Any) -> str:
            return "TRUE" if bool(v) else "FALSE"

        order = sorted(set(present.astype(bool)))
    elif pd.api.types.is_integer_dtype(present):

        def fmt(v: Any) -> str:
            return str(int(v))

        order = sorted(set(present.astype(int)))
    elif pd.api.types.is_numeric_dtype(present):
        fmt = r_number
        order = sorted(set(present.astype(float)))
    else:
        fmt = str
        order = sorted(set(present.astype(str)))
    labels = [None if m else fmt(v) for v, m in zip(series, missing, strict=True)]
    levels = list(dict.fromkeys(fmt(v) for v in order))
    return labels, levels


def _categorical(values: Any, levels: list[str], fixed: bool) -> Any:
    """``values`` as a formulaic categorical with R's labels, categories in ``levels`` order.

    Only ``fixed`` (user-given) levels are passed on as formulaic's ``levels``; otherwise new
    data for prediction are encoded with the levels remembered from the fit.
    """
    from formulaic.transforms import C

    labels, _ = factor_labels(values)
    index = values.index if isinstance(values, pd.Series) else None
    cat = pd.Series(pd.Categorical(labels, categories=levels), index=index)
    return C(cat, levels=levels if fixed else None)


def factor(x: Any, levels: Any = None) -> Any:
    """R's ``factor(x)``: a categorical with R's level order (first level = reference)."""
    if levels is None:
        return _categorical(x, factor_labels(x)[1], fixed=False)
    given = [levels] if isinstance(levels, str) else list(levels)
    return _categorical(x, [_label(v) for v in given], fixed=True)


def _label(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return r_number(value)
    return str(value)


def relevel(x: Any, ref: Any) -> Any:
    """R's ``relevel(x, ref)``: ``factor(x)`` with level ``ref`` moved first."""
    _, found = factor_labels(x)
    ref = _label(ref)
    if ref not in found:
        from alliancestats.errors import FormulaError

        raise FormulaError(f"relevel(): reference level {ref!r} is not one of {found[:10]}")
    return _categorical(x, [ref] + [v for v in found if v != ref], fixed=False)


def _log(x: Any, base: float | None = None) -> Any:
    """R's ``log(x, base)``; natural logarithm without ``base``."""
    out = np.log(x)
    return out if base is None else out / np.log(base)


def _identity(x: Any) -> Any:
    return x


def _r_poly() -> Callable[..., Any]:
    """formulaic's ``poly`` with raw columns named 1..degree, as R names them (not 0..)."""
    from formulaic.materializers.types import FactorValues
    from formulaic.transforms import poly
    from formulaic.utils.stateful_transforms import stateful_transform

    def r_poly(x: Any, degree: int = 1, raw: bool = False, _state: Any = None) -> Any:
        _state = {} if _state is None else _state
        distinct = len(pd.unique(np.asarray(x, dtype=float)))
        if not _state and not 1 <= int(degree) < distinct:  # checked when fitting only
            from alliancestats.errors import FormulaError

            raise FormulaError(
                f"poly(): degree {degree} must be at least 1 and less than the number of "
                f"distinct values ({distinct}), as in R"
            )
        out = poly(x, degree, raw=raw, _state=_state)
        if not raw:
            return out
        _state.setdefault("degree", int(degree))  # a non-empty state marks the fit as done
        names = tuple(str(k) for k in range(1, int(degree) + 1))
        return FactorValues(np.asarray(out, dtype=float), column_names=names)

    return stateful_transform(r_poly)


def _function_table() -> dict[str, Callable[..., Any]]:
    from formulaic.transforms import C, basis_spline, center, identity, scale
    from formulaic.transforms.contrasts import (
        DiffContrasts,
        HelmertContrasts,
        PolyContrasts,
        SASContrasts,
        SumContrasts,
        TreatmentContrasts,
    )
    from formulaic.transforms.patsy_compat import PATSY_COMPAT_TRANSFORMS

    table: dict[str, Callable[..., Any]] = {
        "I": identity, "C": C, "factor": factor, "as.factor": factor, "relevel": relevel,
        "Q": PATSY_COMPAT_TRANSFORMS["Q"], "scale": scale, "center": center, "poly": _r_poly(),
        "bs": basis_spline, "offset": _identity, "log": _log, "log2": np.log2,
        "log10": np.log10, "log1p": np.log1p, "exp": np.exp, "expm1": np.expm1,
        "sqrt": np.sqrt, "abs": np.abs, "sign": np.sign, "floor": np.floor,
        "ceiling": np.ceil, "trunc": np.trunc, "round": np.round, "sin": np.sin,
        "cos": np.cos, "tan": np.tan, "asin": np.arcsin, "acos": np.arccos,
        "atan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
        "pmin": np.minimum, "pmax": np.maximum, "cbind": np.column_stack,
        "contr.treatment": TreatmentContrasts, "contr.sum": SumContrasts,
        "contr.helmert": HelmertContrasts, "contr.poly": PolyContrasts,
        "contr.diff": DiffContrasts, "contr.SAS": SASContrasts,
        "Treatment": PATSY_COMPAT_TRANSFORMS["Treatment"], "Sum": SumContrasts,
        "Helmert": HelmertContrasts, "Poly": PolyContrasts, "Diff": DiffContrasts,
    }  # fmt: skip
    for name in NUMPY_FUNCTIONS:
        table[f"np.{name}"] = table[f"numpy.{name}"] = getattr(np, name)
    return table


FUNCTIONS: MappingProxyType[str, Callable[..., Any]] = MappingProxyType(_function_table())
"""Every function a formula may call, by the name it is called with (``np.log``, ``factor``)."""

CONSTANTS: MappingProxyType[str, Any] = MappingProxyType(
    {
        "pi": math.pi,
        "TRUE": True,
        "FALSE": False,
        **{f"np.{c}": getattr(np, c) for c in NUMPY_CONSTANTS},
        **{f"numpy.{c}": getattr(np, c) for c in NUMPY_CONSTANTS},
    }
)
"""Named constants a formula may use."""


class _Namespace:
    """An attribute namespace holding only allowed members (``np``, ``contr``)."""

    def __init__(self, prefix: str, members: dict[str, Any]) -> None:
        self._prefix = prefix
        self.__dict__.update(members)

    def __getattr__(self, name: str) -> Any:
        from alliancestats.errors import FormulaError

        raise FormulaError(f"{self._prefix}.{name} is not available in a formula")


def namespace() -> dict[str, Any]:
    """Names visible to an evaluated formula: allowed functions and constants, by Python name.

    Dotted R names are reachable as their Python spellings: ``np.log`` through a restricted
    ``np`` namespace, ``contr.sum`` through ``contr``, ``as.factor`` as ``as_factor``.
    """
    out: dict[str, Any] = {}
    grouped: dict[str, dict[str, Any]] = {}
    for name, value in [*FUNCTIONS.items(), *CONSTANTS.items()]:
        prefix, dot, member = name.partition(".")
        if dot and prefix in ("np", "numpy", "contr"):
            grouped.setdefault(prefix, {})[member] = value
        else:
            out[name.replace(".", "_")] = value
    for prefix, members in grouped.items():
        out[prefix] = _Namespace(prefix, members)
    return out
