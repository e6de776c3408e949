"""Read the expressions inside a model formula as R users write them and emit Python.

lme4 users write ``I(age^2)``, ``log(total.fruits + 1)``, ``scale(IQ.verb)``,
``factor(nitro)`` or ``poly(x, 2, raw = TRUE)``; formulaic evaluates the inside of such calls
as Python, where ``^`` is a bitwise XOR and ``IQ.verb`` an attribute lookup. This module
reads every function call of a formula (and a whole response or offset expression) with a
small R-expression grammar that also accepts the Python spellings (``**``, ``np.log``,
``'text'``, ``True``, ``[..]`` lists) and writes the equivalent Python:

* ``^`` and ``**`` are powers; R's operator precedence is kept (``-x^2`` is ``-(x^2)``,
  comparisons bind looser than arithmetic, ``!``/``&``/``|`` are element-wise);
* dotted names (``IQ.verb``) and other non-Python names become backtick-quoted names,
  which formulaic maps to the data column;
* ``TRUE``/``FALSE`` are booleans (``T``/``F`` stay names, as they may be columns), ``c(...)`` a list, ``as.factor`` is called
  as ``as_factor``, ``np.log`` stays an attribute of the restricted ``np`` namespace.

Nothing is evaluated here: the output is checked by :mod:`.formula_eval` before formulaic
sees it. Formula algebra outside calls (``+``, ``:``, ``*``, ``/``, ``%in%``, ``^``, ``-1``)
is left to formulaic. Anything outside the grammar (indexing, lambdas, ``$``, ``:=``,
``::``, assignments) is refused with a :class:`~alliancestats.errors.FormulaError` naming the
token. A hand-written parser is used because R's precedence and dotted names differ from
Python's, so Python's own parser cannot read these expressions.

Examples
--------
>>> from alliancestats.models.formula_translate import translate_expression, translate_formula
>>> translate_expression("log(total.fruits + 1)")
'log(`total.fruits` + 1)'
>>> translate_formula("age + I(age^2) + scale(IQ.verb):sex + (a + b)^2")
'age + I(age ** 2) + scale(`IQ.verb`):sex + (a + b)^2'
>>> translate_expression("poly(x, 2, raw = TRUE)")
'poly(x, 2, raw=True)'
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Callable
from dataclasses import dataclass

from alliancestats.errors import FormulaError
from alliancestats.models.formula_functions import FUNCTIONS

__all__ = ["data_names", "python_function_name", "translate_expression", "translate_formula"]

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)
    |(?P<str>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
    |(?P<bq>`[^`]*`)
    |(?P<name>[A-Za-z_.][A-Za-z0-9_.]*)
    |(?P<op>\*\*|//|%[^%\s]*%|<=|>=|==|!=|&&|\|\||<-|->|::|:=|[-+*/^<>!&|~:=,()\[\]{}$@?;%])
    """,
    re.X,
)
_MAX_DEPTH = 100  # nesting deeper than this is refused (no formula needs it)
_PLACEHOLDER = "_alliancestats_name_{}_"
_BOOL_NAMES = {"TRUE": True, "FALSE": False, "True": True, "False": False}
_COMPARE = {"<": ast.Lt, ">": ast.Gt, "<=": ast.LtE, ">=": ast.GtE, "==": ast.Eq, "!=": ast.NotEq}
_NAMESPACES = ("np", "numpy", "contr")
_R_RESERVED = {"if", "else", "repeat", "while", "function", "for", "next", "break", "in"}
# names that are never data columns: constants and contrast codings
_NOT_DATA = {"pi", "True", "False", "None", "Treatment", "Sum", "Helmert", "Poly", "Diff"}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    start: int
    end: int


def _tokenize(text: str) -> list[_Tok]:
    """Tokens of ``text``; a name with a double underscore is refused at once."""
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormulaError(f"cannot read {text!r}: unexpected character {text[pos]!r}")
        if m.lastgroup in ("name", "bq") and "__" in m.group():
            raise FormulaError(
                f"cannot read {text!r}: the name {m.group()!r} is not allowed in a formula "
                "(names with double underscores are never evaluated)"
            )
        if m.lastgroup != "ws":
            out.append(_Tok(m.lastgroup or "", m.group(), m.start(), m.end()))
        pos = m.end()
    return out


def python_function_name(name: str) -> ast.expr:
    """The Python expression that calls the allowed function ``name`` (R or Python spelling).

    Examples
    --------
    >>> import ast
    >>> ast.unparse(python_function_name("np.log")), ast.unparse(python_function_name("as.factor"))
    ('np.log', 'as_factor')
    """
    prefix, dot, member = name.partition(".")
    if dot and prefix in _NAMESPACES and "." not in member:
        return ast.Attribute(value=ast.Name(id=prefix, ctx=ast.Load()), attr=member, ctx=ast.Load())
    return ast.Name(id=name.replace(".", "_"), ctx=ast.Load())


class _Parser:
    """Recursive-descent parser of one R (or Python-spelled) expression into a Python AST."""

    def __init__(self, tokens: list[_Tok], text: str) -> None:
        self.toks = tokens
        self.text = text
        self.i = 0
        self.depth = 0
        self.quoted: list[str] = []  # original names behind the placeholders

    # -- helpers
    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "op" and tok.text in texts

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise FormulaError(f"cannot read {self.text!r}: it ends too early")
        self.i += 1
        return tok

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise self.unexpected(tok, f"expected {text!r}")

    def unexpected(self, tok: _Tok, hint: str = "") -> FormulaError:
        what = {
            "[": "indexing with [...]", "$": "'$' (element access)", "@": "'@' (slot access)",
            "::": "'::' (package access)", ":=": "':='", "<-": "assignment '<-'",
            "->": "assignment '->'", ";": "';'", "?": "'?'", "~": "'~'",
            ":": "':' (a sequence or interaction) inside a function call",
            "{": "'{'", "=": "'=' outside a function argument",
        }.get(tok.text)  # fmt: skip
        tail = f" ({hint})" if hint and what is None else ""
        what = what or repr(tok.text)
        return FormulaError(
            f"cannot read {self.text!r}: {what} at position {tok.start + 1} is not allowed in a "
            f"formula expression{tail}"
        )

    def nested(self) -> None:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise FormulaError(f"cannot read {self.text!r}: expression nested too deeply")

    # -- grammar, loosest binding first (R's ?Syntax)
    def left_assoc(self, operand: Callable[[], ast.expr], ops: dict[str, type]) -> ast.expr:
        """``operand (op operand)*`` for left-associative binary operators ``ops``."""
        node = operand()
        while self.at(*ops):
            op = ops[self.take().text]()
            node = ast.BinOp(left=node, op=op, right=operand())
        return node

    def expression(self) -> ast.expr:
        self.nested()
        node = self.left_assoc(self.and_expr, {"|": ast.BitOr, "||": ast.BitOr})
        self.depth -= 1
        return node

    def and_expr(self) -> ast.expr:
        return self.left_assoc(self.not_expr, {"&": ast.BitAnd, "&&": ast.BitAnd})

    def not_expr(self) -> ast.expr:
        if self.at("!"):
            self.take()
            self.nested()
            node = ast.UnaryOp(op=ast.Invert(), operand=self.not_expr())
            self.depth -= 1
            return node
        return self.comparison()

    def comparison(self) -> ast.expr:
        node = self.additive()
        if self.at(*_COMPARE):
            op = _COMPARE[self.take().text]()
            node = ast.Compare(left=node, ops=[op], comparators=[self.additive()])
        return node

    def additive(self) -> ast.expr:
        return self.left_assoc(self.multiplicative, {"+": ast.Add, "-": ast.Sub})

    def multiplicative(self) -> ast.expr:
        ops = {"*": ast.Mult, "/": ast.Div, "//": ast.FloorDiv, "%": ast.Mod}
        return self.left_assoc(self.special, ops)

    def special(self) -> ast.expr:
        return self.left_assoc(self.unary, {"%%": ast.Mod, "%/%": ast.FloorDiv})

    def unary(self) -> ast.expr:
        if self.at("-", "+", "~"):
            text = self.take().text
            op = {"-": ast.USub, "+": ast.UAdd, "~": ast.Invert}[text]()
            self.nested()
            node = ast.UnaryOp(op=op, operand=self.unary())
            self.depth -= 1
            return node
        return self.power()

    def power(self) -> ast.expr:
        node = self.primary()
        if self.at("^", "**"):
            self.take()
            self.nested()
            node = ast.BinOp(left=node, op=ast.Pow(), right=self.unary())  # right-associative
            self.depth -= 1
        return node

    def primary(self) -> ast.expr:
        tok = self.take()
        if tok.kind == "num":
            return ast.Constant(_number(tok.text, self.text))
        if tok.kind == "str":
            return ast.Constant(ast.literal_eval(tok.text))
        if tok.kind == "bq":
            return self.name(tok.text[1:-1], quoted=True)
        if tok.kind == "name":
            if self.at("("):
                return self.call(tok.text)
            return self.name(tok.text, quoted=False)
        if tok.text == "(":
            node = self.expression()
            self.expect(")")
            return node
        if tok.text == "[":
            return ast.List(elts=self.arguments("]", keywords=None), ctx=ast.Load())
        raise self.unexpected(tok)

    def name(self, name: str, quoted: bool) -> ast.expr:
        if not quoted and name in _BOOL_NAMES:
            return ast.Constant(_BOOL_NAMES[name])
        if not quoted and name in ("None", "NULL"):
            return ast.Constant(None)
        if not quoted and name in ("Inf", "NaN", "NA"):
            raise FormulaError(f"cannot read {self.text!r}: {name} is not allowed in a formula")
        if not quoted and (keyword.iskeyword(name) or name in _R_RESERVED):
            raise FormulaError(
                f"cannot read {self.text!r}: the keyword {name!r} is not allowed in a formula"
            )
        if not quoted and "." in name:
            prefix, _, member = name.partition(".")
            if prefix in _NAMESPACES and "." not in member:
                return python_function_name(name)  # np.pi
        if name.isidentifier() and not keyword.iskeyword(name):
            return ast.Name(id=name, ctx=ast.Load())
        self.quoted.append(name)
        return ast.Name(id=_PLACEHOLDER.format(len(self.quoted) - 1), ctx=ast.Load())

    def call(self, name: str) -> ast.expr:
        if name not in FUNCTIONS and name != "c":
            raise FormulaError(
                f"cannot read {self.text!r}: {name}() is not a function formulas may call "
                "(the allowed functions are listed on the 'Formulas' page of the documentation)"
            )
        self.take()  # "("
        keywords: list[ast.keyword] = []
        args = self.arguments(")", keywords)
        if name == "c":
            return ast.List(elts=args, ctx=ast.Load())
        return ast.Call(func=python_function_name(name), args=args, keywords=keywords)

    def arguments(self, close: str, keywords: list[ast.keyword] | None) -> list[ast.expr]:
        self.nested()
        args: list[ast.expr] = []
        while not self.at(close):
            tok, after = self.peek(), self.toks[self.i + 1] if self.i + 1 < len(self.toks) else None
            if (
                keywords is not None
                and tok is not None
                and tok.kind == "name"
                and after is not None
                and after.text == "="
            ):
                self.i += 2
                keywords.append(
                    ast.keyword(arg=tok.text.replace(".", "_"), value=self.expression())
                )
            elif keywords:
                raise FormulaError(
                    f"cannot read {self.text!r}: a positional argument follows a named one"
                )
            else:
                args.append(self.expression())
            if not self.at(close):
                self.expect(",")
        self.take()
        self.depth -= 1
        return args


def _number(text: str, expr: str) -> int | float:
    body = text[:-1] if text.endswith("L") else text
    if len(body) > 40:
        raise FormulaError(f"cannot read {expr!r}: number {text!r} is too long")
    if re.fullmatch(r"\d+", body):
        return int(body)
    return float(body)


def _parse(text: str) -> tuple[ast.expr, list[str]]:
    parser = _Parser(_tokenize(text), text)
    if not parser.toks:
        raise FormulaError("empty expression in formula")
    try:
        node = parser.expression()
    except RecursionError:
        raise FormulaError(f"cannot read {text!r}: expression nested too deeply") from None
    if parser.peek() is not None:
        tok = parser.take()
        raise parser.unexpected(tok, "expected the end of the expression")
    return node, parser.quoted


def _to_text(node: ast.expr, quoted: list[str]) -> str:
    text = ast.unparse(node)
    for k, name in enumerate(quoted):
        text = text.replace(_PLACEHOLDER.format(k), f"`{name}`")
    return text


def translate_expression(text: str) -> str:
    """Python text for one expression in R or Python spelling (see module docstring).

    Raises
    ------
    FormulaError
        Syntax outside the formula grammar, or a call to a function that is not allowed.

    Examples
    --------
    >>> translate_expression("I(-x^2 > 1 & !flag)")
    'I((-x ** 2 > 1) & ~flag)'
    """
    node, quoted = _parse(text)
    return _to_text(node, quoted)


def _call_spans(tokens: list[_Tok]) -> list[tuple[int, int]]:
    """Token index ranges ``[start, end)`` of top-level calls ``name(...)`` and ``{...}``."""
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        opens = tok.text == "{" or (
            tok.kind in ("name", "bq") and i + 1 < len(tokens) and tokens[i + 1].text == "("
        )
        if not opens:
            i += 1
            continue
        depth, j = 0, i + (0 if tok.text == "{" else 1)
        while j < len(tokens):
            if tokens[j].text in ("(", "{", "["):
                depth += 1
            elif tokens[j].text in (")", "}", "]"):
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(tokens):
            raise FormulaError("unbalanced parentheses in formula part " + repr(tok.text))
        spans.append((i, j + 1))
        i = j + 1
    return spans


def translate_formula(text: str) -> str:
    """Python spelling of a formula part: each call (and ``{...}`` block) is translated.

    Formula algebra between the calls is kept as written for formulaic.

    Examples
    --------
    >>> translate_formula("0 + factor(nitro) + log(base/4):trt")
    '0 + factor(nitro) + log(base / 4):trt'
    """
    if not isinstance(text, str):
        raise FormulaError(f"formula must be a string, got {type(text).__name__}")
    tokens = _tokenize(text)
    pieces: list[str] = []
    pos = 0
    for start, end in _call_spans(tokens):
        first, last = tokens[start], tokens[end - 1]
        pieces.append(text[pos : first.start])
        inner = text[first.start : last.end]
        if first.text == "{":
            pieces.append("{" + translate_expression(text[first.end : last.start]) + "}")
        elif first.kind == "bq":
            raise FormulaError(f"cannot call the quoted name {first.text} in a formula")
        else:
            pieces.append(translate_expression(inner))
        pos = last.end
    pieces.append(text[pos:])
    return "".join(pieces)


def data_names(text: str) -> list[str]:
    """Names in a formula part (or expression) that must be data columns, in order.

    Function names, keyword-argument names, allowed constants (``pi``, ``TRUE``) and the
    ``np``/``contr`` namespaces are skipped; calls are read as in :func:`translate_formula`,
    so a call of a function outside the allow-list raises a
    :class:`~alliancestats.errors.FormulaError`.

    Examples
    --------
    >>> data_names("C(arm, contr.treatment('b')) + np.log(x + 1) + scale(IQ.verb):`my col`")
    ['arm', 'x', 'IQ.verb', 'my col']
    """
    tokens = _tokenize(translate_formula(text))
    out: list[str] = []
    for k, tok in enumerate(tokens):
        after = tokens[k + 1].text if k + 1 < len(tokens) else ""
        if tok.kind == "bq":
            name = tok.text[1:-1]
        elif tok.kind == "name" and tok.text not in _NOT_DATA:
            if tok.text.split(".")[0] in _NAMESPACES and "." in tok.text:
                continue
            name = tok.text
        else:
            continue
        if after in ("(", "=") or name in out:
            continue
        out.append(name)
    return out
