"""Parser for the formula language of dynamic panel models (R dpm / Stata xtdpdml style).

Grammar (whitespace is ignored; nothing else is accepted)::

    formula   := name "~" terms [ "|" constants ]
    terms     := term { "+" term }
    term      := "pre" "(" inner ")" | inner
    inner     := "lag" "(" name [ "," integer ] ")" | name
    constants := name { "+" name }
    name      := identifier | `back-quoted column name`

``lag(x)`` is x at the previous session, ``lag(x, k)`` k sessions back (k >= 1), a bare ``x``
the same session; ``pre(...)`` marks a predetermined (sequentially exogenous) predictor, one
that may respond to earlier outcomes; the names after ``|`` are time-invariant predictors.
The text is tokenised and parsed here -- it is never evaluated -- so a formula can only name
columns.

Examples
--------
>>> from alliancestats.panel.dpm_formula import parse_dynamic_formula
>>> f = parse_dynamic_formula("wks ~ pre(lag(union)) + lag(lwage) | ed")
>>> f.response, [(t.variable, t.lag, t.predetermined) for t in f.terms], f.constants
('wks', [('union', 1, True), ('lwage', 1, False)], ['ed'])
>>> f.text
'wks ~ pre(lag(union)) + lag(lwage) | ed'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alliancestats.errors import FormulaError

__all__ = ["DynamicFormula", "Term", "parse_dynamic_formula"]

_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_.][A-Za-z0-9_.]*)|`(?P<quoted>[^`]+)`|(?P<int>\d+)"
    r"|(?P<sym>[~+|(),]))"
)


@dataclass(frozen=True)
class Term:
    """A time-varying predictor: ``variable`` at ``lag`` sessions back."""

    variable: str
    lag: int
    predetermined: bool

    @property
    def name(self) -> str:
        """The term as written canonically, e.g. ``"lag(union)"`` or ``"lag(x, 2)"``."""
        v = _show(self.variable)
        if self.lag == 0:
            return v
        return f"lag({v})" if self.lag == 1 else f"lag({v}, {self.lag})"

    @property
    def text(self) -> str:
        return f"pre({self.name})" if self.predetermined else self.name


@dataclass(frozen=True)
class DynamicFormula:
    """A parsed dynamic panel formula."""

    response: str
    terms: list[Term]
    constants: list[str]

    @property
    def text(self) -> str:
        """The formula in canonical form."""
        out = f"{_show(self.response)} ~ " + " + ".join(t.text for t in self.terms)
        if self.constants:
            out += " | " + " + ".join(_show(c) for c in self.constants)
        return out

    @property
    def variables(self) -> list[str]:
        """Time-varying predictors, in order of first appearance."""
        return list(dict.fromkeys(t.variable for t in self.terms))


def _show(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_.][A-Za-z0-9_.]*", name) else f"`{name}`"


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            where = len(text[:pos]) + len(text[pos:]) - len(text[pos:].lstrip())
            raise FormulaError(
                f"cannot read the formula at position {where + 1}: {text!r}\n"
                f"{' ' * (where + 1)}^ expected a name, a number or one of ~ + | ( ) ,"
            )
        kind = m.lastgroup
        value = m.group(kind)
        out.append(("name" if kind == "quoted" else kind, value, m.start(kind)))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str, int]:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def fail(self, expected: str) -> FormulaError:
        kind, value, pos = self.peek()
        found = "the end of the formula" if kind == "end" else repr(value)
        return FormulaError(
            f"in {self.text!r}: expected {expected} at position {pos + 1}, found {found}"
        )

    def expect(self, kind: str, value: str | None = None, what: str = "") -> str:
        k, v, _ = self.peek()
        if k != kind or (value is not None and v != value):
            raise self.fail(what or repr(value))
        self.i += 1
        return v

    def is_call(self, word: str) -> bool:
        k, v, _ = self.peek()
        return k == "name" and v == word and self.peek(1)[1] == "("

    def name(self) -> str:
        return self.expect("name", what="a column name")

    def inner(self) -> tuple[str, int]:
        if not self.is_call("lag"):
            return self.name(), 0
        self.i += 2
        variable = self.name()
        lag = 1
        if self.peek()[1] == ",":
            self.i += 1
            lag = int(self.expect("int", what="a whole number of sessions (1, 2, ...)"))
            if lag < 1:
                raise FormulaError(f"in {self.text!r}: lag(..., k) needs k >= 1 (write the "
                                   "variable alone for the same session)")
        self.expect("sym", ")", "')'")
        return variable, lag

    def term(self) -> Term:
        if self.is_call("pre"):
            self.i += 2
            variable, lag = self.inner()
            self.expect("sym", ")", "')' closing pre(")
            return Term(variable, lag, True)
        variable, lag = self.inner()
        return Term(variable, lag, False)

    def formula(self) -> DynamicFormula:
        response = self.name()
        self.expect("sym", "~", "'~'")
        terms = [self.term()]
        while self.peek()[1] == "+":
            self.i += 1
            terms.append(self.term())
        constants = []
        if self.peek()[1] == "|":
            self.i += 1
            constants.append(self.name())
            while self.peek()[1] == "+":
                self.i += 1
                constants.append(self.name())
        if self.peek()[0] != "end":
            raise self.fail("'+', '|' or the end of the formula")
        return DynamicFormula(response, terms, constants)


def parse_dynamic_formula(text: str) -> DynamicFormula:
    """Parse ``"y ~ pre(lag(x)) + lag(z) | c"`` (see the module docstring for the grammar).

    Raises
    ------
    FormulaError
        Text outside the grammar (with the position), the response used as a predictor
        (use ``y_lag`` for lagged outcomes), a term or constant given twice, or a name used
        both as a time-varying and a time-invariant predictor.

    Examples
    --------
    >>> parse_dynamic_formula("pain ~ pre(lag(alliance, 2)) + session").text
    'pain ~ pre(lag(alliance, 2)) + session'
    >>> try:
    ...     parse_dynamic_formula("pain ~ lag(alliance) * 2")
    ... except ValueError as e:
    ...     print(str(e).split(":")[0])
    cannot read the formula at position 22
    """
    if not isinstance(text, str):
        raise FormulaError(f"the formula must be a string, got {type(text).__name__}")
    parsed = _Parser(text).formula()
    y = parsed.response
    if any(t.variable == y for t in parsed.terms) or y in parsed.constants:
        raise FormulaError(
            f"in {text!r}: the response {y!r} appears among the predictors; lagged outcomes "
            "are set with y_lag="
        )
    seen = set()
    for t in parsed.terms:
        if (t.variable, t.lag) in seen:
            raise FormulaError(f"in {text!r}: {t.name} appears twice")
        seen.add((t.variable, t.lag))
    if len(set(parsed.constants)) != len(parsed.constants):
        raise FormulaError(f"in {text!r}: a time-invariant predictor appears twice")
    both = set(parsed.constants) & set(parsed.variables)
    if both:
        raise FormulaError(
            f"in {text!r}: {sorted(both)} appear both as time-varying and time-invariant "
            "predictors"
        )
    return parsed
