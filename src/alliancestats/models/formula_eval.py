"""Evaluate model formulas safely: data columns, numbers and an allow-list of functions only.

A formula is text, and formulaic evaluates the expressions inside it as Python, so a formula
from a configuration file or a shared notebook could otherwise run any code
(``I(__import__('os').system(...))``). Every formula alliancestats evaluates passes two
independent guards:

1. **Validation before evaluation.** The formula is translated from R spelling
   (:mod:`.formula_translate`, which already accepts only a small expression grammar and
   calls of allowed functions), split into factors by formulaic's parser (which evaluates
   nothing), and every factor expression is checked with Python's :mod:`ast`: only data
   columns, numbers, text inside categorical functions and comparisons, the operators of
   arithmetic, comparison and element-wise logic, and calls of the functions in
   :data:`~alliancestats.models.formula_functions.FUNCTIONS` are accepted. Names with double
   underscores, attribute access other than ``np.<function>``/``contr.<coding>``, indexing,
   lambdas, comprehensions, starred or ``**`` arguments and calls of anything else raise a
   :class:`~alliancestats.errors.FormulaError` that names the offending token.
2. **A restricted evaluation context.** formulaic is given an explicit context (never the
   caller's frame) in which every Python built-in and every formulaic transform outside the
   allow-list is replaced by a stub that raises :class:`~alliancestats.errors.FormulaError`
   when called, and ``np``/``numpy`` are namespaces holding only the allowed functions.

The model specifications returned for later prediction (:class:`SafeModelSpec`) re-evaluate
new data in the same restricted context.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.models.formula_eval import evaluate_expression, safe_model_matrix
>>> d = pd.DataFrame({"age": [1.0, 2.0, 3.0], "total.fruits": [0.0, 1.0, 3.0]})
>>> safe_model_matrix("age + I(age^2)", d).names
['(Intercept)', 'age', 'I(age^2)']
>>> evaluate_expression("log(total.fruits + 1)", d).round(3).tolist()
[0.0, 0.693, 1.386]
>>> safe_model_matrix("I(getattr(age, 'sum')())", d)
Traceback (most recent call last):
...
alliancestats.errors.FormulaError: ...getattr() is not a function formulas may call...
"""

from __future__ import annotations

import ast
import builtins
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import FormulaError
from alliancestats.models.formula_functions import (
    CATEGORICAL_FUNCTIONS,
    CONSTANTS,
    CONTRASTS,
    FUNCTIONS,
    namespace,
)
from alliancestats.models.formula_translate import (
    translate_expression,
    translate_formula,
)
from alliancestats.models.term_names import r_column_name, r_expression, unquote_names

__all__ = [
    "SafeMatrix",
    "SafeModelSpec",
    "check_expression",
    "evaluate_expression",
    "formula_context",
    "safe_model_matrix",
]

_NAMESPACES = ("np", "numpy", "contr")
_PY_FUNCTIONS = {n.replace(".", "_"): n for n in FUNCTIONS if n.split(".")[0] not in _NAMESPACES}
_BINARY_OPS = (
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.BitAnd, ast.BitOr,
)  # fmt: skip
_UNARY_OPS = (ast.USub, ast.UAdd, ast.Invert)
_COMPARE_OPS = (ast.Lt, ast.Gt, ast.LtE, ast.GtE, ast.Eq, ast.NotEq)
_DESCRIBE = {
    ast.Lambda: "a lambda expression", ast.ListComp: "a list comprehension",
    ast.SetComp: "a set comprehension", ast.DictComp: "a dict comprehension",
    ast.GeneratorExp: "a generator expression", ast.Subscript: "indexing",
    ast.Starred: "a starred argument", ast.IfExp: "a conditional expression",
    ast.NamedExpr: "an assignment expression", ast.BoolOp: "'and'/'or'",
    ast.Dict: "a dict", ast.Set: "a set", ast.JoinedStr: "an f-string",
    ast.Await: "'await'", ast.Yield: "'yield'", ast.Slice: "a slice",
}  # fmt: skip
_MAX_CONSTANT_POWER = 1024  # larger powers of two constants are refused (unbounded integers)


def _is_dunder(name: str) -> bool:
    return "__" in name


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass
class _Checker:
    """Walks one parsed expression and raises on anything outside the allow-list."""

    expr: str
    quoted: list[str]
    where: str
    columns: set[str] | None
    variables: list[str]

    def fail(self, what: str) -> FormulaError:
        return FormulaError(
            f"{self.where}: {what} is not allowed in a formula (in {self.expr!r}); formulas may "
            "use data columns, numbers and the functions listed on the 'Formulas' page of the "
            "documentation"
        )

    def column(self, name: str) -> None:
        if _is_dunder(name):
            raise self.fail(f"the name {name!r}")
        if self.columns is not None and name not in self.columns:
            raise FormulaError(f"{self.where}: column {name!r} in {self.expr!r} is not in the data")
        if name not in self.variables:
            self.variables.append(name)

    def check(self, node: ast.AST, *, text_ok: bool = False, depth: int = 0) -> None:
        if depth > 200:
            raise FormulaError(f"{self.where}: expression {self.expr!r} is nested too deeply")
        deeper = depth + 1
        if isinstance(node, ast.Constant):
            self.constant(node, text_ok)
        elif isinstance(node, ast.Name):
            self.name(node, text_ok)
        elif isinstance(node, ast.Attribute):
            self.attribute(node, text_ok, deeper)
        elif isinstance(node, ast.Call):
            self.call(node, deeper)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, _BINARY_OPS):
            self.power_bound(node)
            self.check(node.left, depth=deeper)
            self.check(node.right, depth=deeper)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, _UNARY_OPS):
            self.check(node.operand, depth=deeper)
        elif isinstance(node, ast.Compare) and all(isinstance(o, _COMPARE_OPS) for o in node.ops):
            for part in (node.left, *node.comparators):
                self.check(part, text_ok=True, depth=deeper)
        elif isinstance(node, ast.List | ast.Tuple) and text_ok:
            for element in node.elts:
                if not isinstance(element, ast.Constant):
                    raise self.fail(f"the list element {_short(element)!r}")
                self.constant(element, True)
        else:
            what = _DESCRIBE.get(type(node))
            raise self.fail(
                f"{what} {_short(node)!r}" if what else f"the expression {_short(node)!r}"
            )

    def constant(self, node: ast.Constant, text_ok: bool) -> None:
        v = node.value
        if isinstance(v, str) and text_ok:
            return
        if v is None or isinstance(v, bool | int | float):
            return
        raise self.fail(f"the constant {_short(node)}")

    def name(self, node: ast.Name, text_ok: bool) -> None:
        k = _placeholder(node.id)
        if k is not None:
            self.column(self.quoted[k])
        elif node.id in CONSTANTS or (text_ok and node.id in CONTRASTS):
            return
        elif node.id in _PY_FUNCTIONS or node.id in _NAMESPACES:
            raise self.fail(f"the function {node.id!r} used without a call")
        else:
            self.column(node.id)

    def attribute(self, node: ast.Attribute, text_ok: bool, depth: int) -> None:
        dotted = _dotted(node)
        if dotted in CONSTANTS or (text_ok and dotted in CONTRASTS):
            return
        if not _is_dunder(node.attr) and dotted is None:
            self.check(node.value, depth=depth)  # report the innermost offending part first
        raise self.fail(f"the attribute '.{node.attr}' of {_short(node.value)!r}")

    def call(self, node: ast.Call, depth: int) -> None:
        name = _callee(node.func)
        if name is None:
            if not isinstance(node.func, ast.Name) and _dotted(node.func) is None:
                self.check(node.func, depth=depth)  # report the innermost offending part
            raise self.fail(f"a call to {_short(node.func)!r}")
        text_ok = name in CATEGORICAL_FUNCTIONS
        for arg in node.args:
            self.check(arg, text_ok=text_ok, depth=depth)
        for kw in node.keywords:
            if kw.arg is None:
                raise self.fail(f"'**' arguments in {_short(node)!r}")
            if _is_dunder(kw.arg):
                raise self.fail(f"the argument name {kw.arg!r}")
            self.check(kw.value, text_ok=text_ok, depth=depth)

    def power_bound(self, node: ast.BinOp) -> None:
        """Refuse powers of two constants that could build enormous integers."""
        if not isinstance(node.op, ast.Pow) or _has_name(node.left) or _has_name(node.right):
            return
        base, exponent = _literal(node.left), _literal(node.right)
        if base is None or exponent is None or abs(exponent) > _MAX_CONSTANT_POWER:
            raise self.fail(f"the constant power {_short(node)!r}")


def _placeholder(name: str) -> int | None:
    prefix, suffix = "_alliancestats_q", "_"
    if name.startswith(prefix) and name.endswith(suffix) and name[len(prefix) : -1].isdigit():
        return int(name[len(prefix) : -1])
    return None


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        if node.value.id in _NAMESPACES:
            return f"{node.value.id}.{node.attr}"
    return None


def _callee(func: ast.AST) -> str | None:
    """The allow-list name of a called function, or None."""
    if isinstance(func, ast.Name):
        name = _PY_FUNCTIONS.get(func.id)
        return name if name is not None and not _is_dunder(func.id) else None
    dotted = _dotted(func)
    return dotted if dotted in FUNCTIONS else None


def _has_name(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name | ast.Attribute | ast.Call) for n in ast.walk(node))


def _literal(node: ast.AST) -> float | None:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value) if not isinstance(node.value, bool) else None
    return None


def check_expression(
    expr: str, *, where: str = "formula", columns: Iterable[str] | None = None
) -> list[str]:
    """Check one Python-spelled formula expression against the allow-list.

    Parameters
    ----------
    expr : str
        The expression as formulaic will evaluate it (backtick-quoted names allowed).
    where : str
        Part of the model named in error messages.
    columns : iterable of str, optional
        Data columns; when given, every other name is refused.

    Returns
    -------
    list of str
        The data columns the expression uses, in order of appearance.

    Raises
    ------
    FormulaError
        Naming the first token outside the allow-list.

    Examples
    --------
    >>> check_expression("I(age ** 2) + np.log(`total.fruits`)")
    ['age', 'total.fruits']
    >>> check_expression("x.__class__")
    Traceback (most recent call last):
    ...
    alliancestats.errors.FormulaError: formula: the attribute '.__class__' of 'x' is not allowed...
    """
    text, quoted = unquote_names(expr)
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        raise FormulaError(f"{where}: cannot read {expr!r} as an expression") from exc
    checker = _Checker(expr, quoted, where, None if columns is None else set(columns), [])
    checker.check(tree.body)
    return checker.variables


class _Blocked:
    """Stands in for a built-in or transform outside the allow-list; calling it fails."""

    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise FormulaError(f"{self._name}() is not available in a formula")

    def __repr__(self) -> str:
        return f"<not available in formulas: {self._name}>"


@cache
def formula_context() -> Mapping[str, Any]:
    """The evaluation context handed to formulaic: allowed names, everything else blocked.

    Examples
    --------
    >>> ctx = formula_context()
    >>> ctx["__import__"]
    <not available in formulas: __import__>
    >>> ctx["np"].log is np.log
    True
    """
    from formulaic.transforms import TRANSFORMS

    names = set(dir(builtins)) | set(TRANSFORMS) | {"__builtins__", "numpy", "np"}
    context: dict[str, Any] = {name: _Blocked(name) for name in names}
    context.update(namespace())
    return MappingProxyType(context)


class SafeModelSpec:
    """A formulaic ``ModelSpec`` whose ``get_model_matrix`` runs in :func:`formula_context`.

    Every other attribute (``term_indices``, ``encoder_state``, ...) is the wrapped spec's.
    """

    def __init__(self, spec: Any) -> None:
        self._spec = spec

    def get_model_matrix(self, data: pd.DataFrame, **kwargs: Any) -> Any:
        """Rebuild the model matrix for ``data`` with the fit's levels, contrasts and state.

        A categorical level the fit never saw raises a
        :class:`~alliancestats.errors.FormulaError` (its effect is unknown).
        """
        from formulaic.errors import DataMismatchWarning

        kwargs["context"] = formula_context()
        with warnings.catch_warnings():
            warnings.simplefilter("error", DataMismatchWarning)
            try:
                return self._spec.get_model_matrix(data, **kwargs)
            except DataMismatchWarning as exc:
                raise FormulaError(
                    f"new data have a categorical level not seen in the fit: {exc}"
                ) from None

    def __getattr__(self, name: str) -> Any:
        if name == "_spec":
            raise AttributeError(name)
        return getattr(self._spec, name)


@dataclass
class SafeMatrix:
    """A model matrix built by :func:`safe_model_matrix`."""

    frame: Any  # formulaic ModelMatrix (a DataFrame subclass)
    names: list[str]  # column names as R prints them
    spec: SafeModelSpec


def _checked_formula(rhs: str, where: str, columns: Iterable[str] | None) -> tuple[Any, dict]:
    """Translate and parse a formula part; check every factor. Returns the formulaic
    ``Formula`` and the R name of each factor (keyed by formulaic's text)."""
    from formulaic import Formula
    from formulaic.errors import FormulaicError
    from formulaic.formula import SimpleFormula

    translated = translate_formula(rhs)
    try:
        formula = Formula(translated)
    except (FormulaicError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise FormulaError(f"{where}: cannot read {rhs!r}: {exc}") from exc
    if not isinstance(formula, SimpleFormula):
        raise FormulaError(
            f"{where}: {rhs!r} has a '|' outside parentheses; random-effects terms are written "
            "(1 | group)"
        )
    cols = None if columns is None else [str(c) for c in columns]
    names: dict[str, str] = {}
    for term in formula:
        for factor in term.factors:
            method = getattr(factor.eval_method, "value", str(factor.eval_method))
            if method == "python":
                check_expression(factor.expr, where=where, columns=cols)
                names[factor.expr] = r_expression(factor.expr)
            elif method == "lookup":
                _Checker(factor.expr, [], where, None if cols is None else set(cols), []).column(
                    factor.expr
                )
                names[factor.expr] = factor.expr
    return formula, names


def safe_model_matrix(
    rhs: str, data: pd.DataFrame, *, na_action: str = "ignore", where: str = "formula"
) -> SafeMatrix:
    """Model matrix of a formula right-hand side, validated and evaluated in a safe context.

    Parameters
    ----------
    rhs : str
        Formula right-hand side in R or Python spelling (``"x * arm + I(x^2)"``); a leading
        ``~`` is allowed.
    data : pandas.DataFrame
        The data; only its columns are visible to the formula.
    na_action : {"ignore", "drop", "raise"}
        Passed to formulaic.
    where : str
        Part of the model named in error messages.

    Returns
    -------
    SafeMatrix
        ``frame`` (formulaic's model matrix), ``names`` (as R prints them) and ``spec``.

    Raises
    ------
    FormulaError
        A token outside the allow-list, an unknown column or an expression formulaic cannot
        evaluate.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"nitro": [0.0, 0.2, 0.4, 0.2]})
    >>> safe_model_matrix("factor(nitro)", d).names
    ['(Intercept)', 'factor(nitro)0.2', 'factor(nitro)0.4']
    """
    import formulaic

    formula, factor_names = _checked_formula(rhs.strip(), where, data.columns)
    try:
        with np.errstate(all="ignore"):  # non-finite values are the caller's to report
            mm = formulaic.model_matrix(
                formula, data, na_action=na_action, context=formula_context()
            )
    except FormulaError:
        raise
    except Exception as exc:  # formulaic raises many types; all are formula problems here
        cause = exc.__cause__ if isinstance(exc.__cause__, FormulaError) else exc
        raise FormulaError(f"cannot build the {where} from {rhs!r}: {cause}") from exc
    names = [r_column_name(str(c), factor_names) for c in mm.columns]
    return SafeMatrix(frame=mm, names=names, spec=SafeModelSpec(mm.model_spec))


def evaluate_expression(expr: str, data: pd.DataFrame, *, where: str = "expression") -> np.ndarray:
    """Values of one expression (a response such as ``log(y + 1)`` or an offset) per row.

    The expression is read as an expression, not as formula algebra (``n - k`` subtracts).

    Parameters
    ----------
    expr : str
        The expression, in R or Python spelling (see the formulas page).
    data : pandas.DataFrame
        The columns the expression may use.
    where : str, default "expression"
        What the expression is, for error messages (``"response"``, ``"offset"``).

    Returns
    -------
    numpy.ndarray
        One float per row of ``data``.

    Raises
    ------
    FormulaError
        A token outside the allow-list, an unknown column, or a result that is not one
        numeric column.

    Examples
    --------
    >>> import pandas as pd
    >>> evaluate_expression("n - k", pd.DataFrame({"n": [5, 6], "k": [2, 2]})).tolist()
    [3.0, 4.0]
    """
    translated = translate_expression(expr)
    check_expression(translated, where=where, columns=[str(c) for c in data.columns])
    matrix = safe_model_matrix(f"0 + I({translated})", data, where=where)
    values = np.asarray(matrix.frame, dtype=float)
    if values.ndim != 2 or values.shape[1] != 1:
        raise FormulaError(f"{where} {expr!r} must give one numeric column")
    return values[:, 0]
