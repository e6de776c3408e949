"""Name model-matrix columns the way R prints them (``I(age^2)``, ``factor(nitro)0.2``).

formulaic names a column by the Python text of its factors plus the level in brackets
(``I(age ** 2)``, ``log(base / 4)``, ``C(nitro)[T.0.2]``). R's ``model.matrix`` writes the
expression as R's ``deparse`` prints it followed by the level (``I(age^2)``,
``log(base/4)``, ``factor(nitro)0.2``, ``poly(x, 2)1``). :func:`r_expression` deparses a
(translated) Python expression with R's operator spellings, spacing, number formatting and
minimal parentheses; :func:`r_column_name` rewrites one formulaic column name piece by piece.
Parentheses the user typed but R's precedence does not need are not reproduced (R keeps
them), so ``log((x))`` is named ``log(x)``.

Examples
--------
>>> from alliancestats.models.term_names import r_column_name, r_expression
>>> r_expression("I(age ** 2)"), r_expression("log(`total.fruits` + 1)")
('I(age^2)', 'log(total.fruits + 1)')
>>> r_column_name("factor(nitro)[T.0.2]:x", {"factor(nitro)": "factor(nitro)", "x": "x"})
'factor(nitro)0.2:x'
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping

from alliancestats.errors import FormulaError
from alliancestats.models.formula_functions import FUNCTIONS, r_number

__all__ = ["r_column_name", "r_expression", "r_style_name", "unquote_names"]

_PLACEHOLDER = "_alliancestats_q{}_"
_QUOTED = re.compile(r"(\"(?:\\.|[^\"\\])*\"|'(?:\\.|[^'\\])*')|`([^`]*)`")
_R_NAME = re.compile(r"^((?:[A-Za-z]|[.](?![0-9]))[A-Za-z0-9._]*|[.])$")
_R_RESERVED = {
    "if", "else", "repeat", "while", "function", "for", "next", "break", "TRUE", "FALSE",
    "NULL", "Inf", "NaN", "NA", "in",
}  # fmt: skip
# (R spelling, precedence, spaced) of Python operators; higher precedence binds tighter
_BINARY = {
    ast.Pow: ("^", 14, False), ast.Mod: ("%%", 11, False), ast.FloorDiv: ("%/%", 11, False),
    ast.Mult: ("*", 10, True), ast.Div: ("/", 10, False), ast.Add: ("+", 9, True),
    ast.Sub: ("-", 9, True), ast.BitAnd: ("&", 6, True), ast.BitOr: ("|", 5, True),
}  # fmt: skip
_UNARY = {ast.USub: ("-", 13), ast.UAdd: ("+", 13), ast.Invert: ("!", 7)}
_COMPARE = {ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_PY_TO_R = {name.replace(".", "_"): name for name in FUNCTIONS}
_ATOM = 99


def unquote_names(expr: str) -> tuple[str, list[str]]:
    """Replace backtick-quoted names outside strings by placeholders Python can parse.

    Returns the text and the quoted names, in placeholder order.

    Examples
    --------
    >>> unquote_names("scale(`IQ.verb`) + '`x`'")
    ("scale(_alliancestats_q0_) + '`x`'", ['IQ.verb'])
    """
    names: list[str] = []

    def repl(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1)
        names.append(m.group(2))
        return _PLACEHOLDER.format(len(names) - 1)

    return _QUOTED.sub(repl, expr), names


def _placeholder_index(name: str) -> int | None:
    m = re.fullmatch(r"_alliancestats_q(\d+)_", name)
    return int(m.group(1)) if m else None


def _r_name(name: str) -> str:
    return name if _R_NAME.match(name) and name not in _R_RESERVED else f"`{name}`"


def _deparse(node: ast.AST, quoted: list[str]) -> tuple[str, int]:
    """R text of ``node`` and the precedence of its outermost operator."""
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, str):
            return json.dumps(v, ensure_ascii=False), _ATOM
        if v is None:
            return "NULL", _ATOM
        return r_number(v), (_ATOM if not (isinstance(v, int | float) and v < 0) else 13)
    if isinstance(node, ast.Name):
        k = _placeholder_index(node.id)
        return (_r_name(quoted[k]) if k is not None else _PY_TO_R.get(node.id, node.id)), _ATOM
    if isinstance(node, ast.Attribute):
        return f"{_deparse(node.value, quoted)[0]}.{node.attr}", _ATOM
    if isinstance(node, ast.Call):
        func = _deparse(node.func, quoted)[0]
        args = [_deparse(a, quoted)[0] for a in node.args]
        args += [f"{kw.arg} = {_deparse(kw.value, quoted)[0]}" for kw in node.keywords]
        return f"{func}({', '.join(args)})", _ATOM
    if isinstance(node, ast.List | ast.Tuple):
        return "c(" + ", ".join(_deparse(e, quoted)[0] for e in node.elts) + ")", _ATOM
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        sym, prec, spaced = _BINARY[type(node.op)]
        right_assoc = isinstance(node.op, ast.Pow)
        left = _operand(node.left, quoted, prec, tight=right_assoc)
        if right_assoc and isinstance(node.right, ast.UnaryOp):
            right = _deparse(node.right, quoted)[0]  # R writes x^-1
        else:
            right = _operand(node.right, quoted, prec, tight=not right_assoc)
        return (f"{left} {sym} {right}" if spaced else f"{left}{sym}{right}"), prec
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        sym, prec = _UNARY[type(node.op)]
        return sym + _operand(node.operand, quoted, prec, tight=False), prec
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
        left = _operand(node.left, quoted, 8, tight=True)
        right = _operand(node.comparators[0], quoted, 8, tight=True)
        return f"{left} {_COMPARE[type(node.ops[0])]} {right}", 8
    raise FormulaError(f"cannot name the formula expression {ast.unparse(node)!r}")


def _operand(node: ast.AST, quoted: list[str], prec: int, *, tight: bool) -> str:
    """Deparse an operand, parenthesised when R's precedence would regroup it."""
    text, inner = _deparse(node, quoted)
    if inner < prec or (tight and inner == prec):
        return f"({text})"
    return text


def r_expression(expr: str) -> str:
    """R's ``deparse`` of a Python-spelled formula expression.

    Examples
    --------
    >>> r_expression("poly(x, 2, raw=True)"), r_expression("C(arm, contr.treatment('b'))")
    ('poly(x, 2, raw = TRUE)', 'C(arm, contr.treatment("b"))')
    >>> r_expression("I((a > 1) & ~(b == 'x'))"), r_expression("as_factor(x)")
    ('I(a > 1 & !b == "x")', 'as.factor(x)')
    """
    text, quoted = unquote_names(expr)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"cannot name the formula expression {expr!r}") from exc
    return _deparse(tree.body, quoted)[0]


def r_style_name(name: str) -> str:
    """Strip formulaic's level brackets: ``x:arm[T.b]`` -> ``x:armb``; ``Intercept`` ->
    ``(Intercept)``.

    Examples
    --------
    >>> r_style_name("session:arm[T.telehealth]"), r_style_name("arm[b]")
    ('session:armtelehealth', 'armb')
    """
    if name == "Intercept":
        return "(Intercept)"
    parts = []
    for piece in name.split(":"):
        piece = re.sub(r"\[T\.(.*)\]$", r"\1", piece)
        piece = re.sub(r"\[(.*)\]$", r"\1", piece)
        parts.append(piece)
    return ":".join(parts)


def r_column_name(column: str, factor_names: Mapping[str, str]) -> str:
    """R's name of a formulaic column, given each factor's formulaic text and R name.

    Falls back to :func:`r_style_name` when the column does not split into known factors.

    Examples
    --------
    >>> r_column_name("I(age ** 2)", {"I(age ** 2)": "I(age^2)"})
    'I(age^2)'
    >>> r_column_name("poly(x, 2)[2]", {"poly(x, 2)": "poly(x, 2)"})
    'poly(x, 2)2'
    """
    if column == "Intercept":
        return "(Intercept)"
    known = sorted(factor_names, key=len, reverse=True)
    pieces: list[str] = []
    pos = 0
    while pos < len(column):
        match = next((f for f in known if column.startswith(f, pos)), None)
        if match is None:
            return r_style_name(column)
        piece, pos = factor_names[match], pos + len(match)
        if column.startswith("[", pos):
            close = column.find("]", pos)
            while close != -1 and close + 1 < len(column) and column[close + 1] != ":":
                close = column.find("]", close + 1)
            if close == -1:
                return r_style_name(column)
            level = column[pos + 1 : close]
            piece += level[2:] if level.startswith("T.") else level
            pos = close + 1
        pieces.append(piece)
        if pos < len(column):
            if column[pos] != ":":
                return r_style_name(column)
            pos += 1
    return ":".join(pieces)
