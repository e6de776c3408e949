"""Parse lme4-style mixed-model formulas.

A mixed-model formula such as ``pain ~ session + arm + (1 + session | patient) + (1 | therapist)``
is split into three parts:

* the **response** expression (``"pain"``; ``"cbind(done, missed)"`` for binomial counts),
* the **fixed part**, a formula string without the bars that formulaic (or patsy) can build a
  model matrix from (``"session + arm"``); ``offset(expr)`` terms are taken out and returned
  separately,
* a list of :class:`RandomTerm`, one per random-effects bar after lme4's expansions:

  - ``(1 | g)``, ``(1 + x | g)``, ``(x | g)`` (the intercept is implied, as in lme4) and
    ``(0 + x | g)``;
  - ``(1 + x || g)`` becomes uncorrelated terms ``(1 | g) + (0 + x | g)``;
  - ``(1 | a/b)`` becomes ``(1 | b:a) + (1 | a)`` (lme4 names the inner factor ``b:a``);
  - ``(1 | a:b)`` groups by the interaction of ``a`` and ``b``.

API (stable; the GLMM engine relies on it)
------------------------------------------
``parse_formula(formula) -> ParsedFormula`` with attributes ``response`` (str), ``fixed``
(str, a formulaic right-hand side, ``"1"`` when only an intercept), ``offsets`` (tuple of
expressions found in ``offset(...)``), ``random`` (tuple of :class:`RandomTerm`) and
``formula`` (the original text).

``RandomTerm`` has ``lhs`` (formulaic right-hand side for the random-effect columns),
``group`` (display name, e.g. ``"cask:batch"``), ``group_vars`` (the data columns whose
combination defines the groups, e.g. ``("cask", "batch")``), ``correlated`` (False for terms
that came from ``||``) and ``source`` (the bar text as written).

Examples
--------
>>> from alliancestats.models.formula import parse_formula
>>> pf = parse_formula("pain ~ session + (1 + session | patient) + (1 | therapist)")
>>> pf.response, pf.fixed
('pain', 'session')
>>> [(t.lhs, t.group) for t in pf.random]
[('1 + session', 'patient'), ('1', 'therapist')]
>>> [t.group for t in parse_formula("y ~ 1 + (1 | batch/cask)").random]
['cask:batch', 'batch']
>>> [(t.lhs, t.correlated) for t in parse_formula("y ~ x + (1 + x || g)").random]
[('1', False), ('0 + x', False)]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from alliancestats.errors import FormulaError

__all__ = ["ParsedFormula", "RandomTerm", "parse_formula", "split_top_level"]


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(lhs | group)`` after lme4's expansions."""

    lhs: str
    group: str
    group_vars: tuple[str, ...]
    correlated: bool = True
    source: str = ""


@dataclass(frozen=True)
class ParsedFormula:
    """A mixed-model formula split into response, fixed part, offsets and random terms."""

    formula: str
    response: str
    fixed: str
    random: tuple[RandomTerm, ...]
    offsets: tuple[str, ...] = ()


def split_top_level(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` where it is not inside parentheses or brackets.

    Examples
    --------
    >>> split_top_level("a + f(b, c) + (1 | g)", "+")
    ['a ', ' f(b, c) ', ' (1 | g)']
    """
    parts: list[str] = []
    depth = 0
    start = 0
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth < 0:
                raise FormulaError(f"unbalanced parentheses in formula part {text!r}")
        elif depth == 0 and text.startswith(sep, i):
            parts.append(text[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    if depth != 0:
        raise FormulaError(f"unbalanced parentheses in formula part {text!r}")
    parts.append(text[start:])
    return parts


def _top_level_terms(rhs: str) -> list[tuple[str, str]]:
    """Split a right-hand side into (sign, term) pairs at top-level ``+`` and ``-``."""
    out: list[tuple[str, str]] = []
    depth = 0
    sign = "+"
    buf: list[str] = []
    for ch in rhs:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if depth == 0 and ch in "+-":
            # a '-' or '+' right after another operator belongs to the next term (e.g. "- 1")
            term = "".join(buf).strip()
            if term:
                out.append((sign, term))
                sign = ch
            else:
                sign = "-" if (sign == "-") != (ch == "-") else "+"
            buf = []
            continue
        buf.append(ch)
    if depth != 0:
        raise FormulaError(f"unbalanced parentheses in {rhs!r}")
    term = "".join(buf).strip()
    if term:
        out.append((sign, term))
    elif out or sign == "-":
        raise FormulaError(f"formula right-hand side {rhs!r} ends with an operator")
    return out


def _strip_outer(term: str) -> str | None:
    """Return the inside of ``term`` if the whole term is one parenthesised group."""
    term = term.strip()
    if not (term.startswith("(") and term.endswith(")")):
        return None
    depth = 0
    for i, ch in enumerate(term):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0 and i != len(term) - 1:
                return None
    return term[1:-1]


_NAME = re.compile(r"^[A-Za-z_.][A-Za-z0-9_.]*$")
_NAME_OR_CALL = re.compile(r"`[^`]*`|[A-Za-z_.][A-Za-z0-9_.]*")


def _grouping_factors(expr: str, source: str) -> list[tuple[str, tuple[str, ...]]]:
    """Expand a grouping expression into (display name, variables) pairs, lme4 style."""
    expr = expr.strip()
    inner = _strip_outer(expr)
    if inner is not None:
        expr = inner.strip()
    nested = [p.strip() for p in split_top_level(expr, "/")]
    if any(not p for p in nested):
        raise FormulaError(f"empty grouping factor in random term {source!r}")
    levels: list[tuple[str, ...]] = []
    for part in nested:
        vars_ = tuple(v.strip() for v in split_top_level(part, ":"))
        for v in vars_:
            if not _NAME.match(v):
                raise FormulaError(
                    f"grouping factor {v!r} in random term {source!r} must be a column name "
                    "(combine columns with ':' or '/')"
                )
        levels.append(vars_)
    # a/b/c -> c:b:a, b:a, a  (innermost first, as lme4 writes them)
    out: list[tuple[str, tuple[str, ...]]] = []
    for depth in range(len(levels), 0, -1):
        chain = [v for lev in levels[:depth] for v in lev]
        name_parts: list[str] = []
        for lev in reversed(levels[:depth]):
            name_parts.append(":".join(lev))
        out.append((":".join(name_parts), tuple(chain)))
    return out


def _split_random_lhs(lhs: str) -> list[str]:
    """Split the left side of ``||`` into one uncorrelated lhs per column (lme4's expansion)."""
    terms = _top_level_terms(lhs)
    has_intercept = True
    pieces: list[str] = []
    for sign, term in terms:
        if term in ("0", "1"):
            if (term == "0" and sign == "+") or (term == "1" and sign == "-"):
                has_intercept = False
            continue
        if sign == "-":
            raise FormulaError(f"cannot remove terms inside '||' random term {lhs!r}")
        pieces.append(term)
    out = ["1"] if has_intercept else []
    out += [f"0 + {p}" for p in pieces]
    return out


def _offset_expression(expr: str) -> str:
    """The offset as a formula term: an expression with operators is wrapped in ``I()`` so
    that ``offset(n - k)`` subtracts (R evaluates the argument of ``offset`` as an expression,
    formula algebra would drop ``k``); a single name or call is kept as written.

    Examples
    --------
    >>> _offset_expression("log(n)"), _offset_expression("n - k")
    ('log(n)', 'I(n - k)')
    """
    m = _NAME_OR_CALL.match(expr)
    rest = expr[m.end() :].strip() if m else None
    if rest == "" or (rest is not None and _strip_outer(rest) is not None):
        return expr
    return f"I({expr})"


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4-style formula into response, fixed part and random-effects terms.

    Parameters
    ----------
    formula : str
        For example ``"pain ~ session + (1 + session | patient) + (1 | therapist)"``.

    Returns
    -------
    ParsedFormula

    Raises
    ------
    FormulaError
        When the formula has no ``~``, no response, unbalanced parentheses or a malformed bar.

    Examples
    --------
    >>> pf = parse_formula("y ~ 0 + x + offset(log(t)) + (x | a:b)")
    >>> pf.fixed, pf.offsets, pf.random[0].group_vars
    ('0 + x', ('log(t)',), ('a', 'b'))
    """
    if not isinstance(formula, str):
        raise FormulaError(f"formula must be a string, got {type(formula).__name__}")
    sides = split_top_level(formula, "~")
    if len(sides) != 2:
        raise FormulaError(f"formula {formula!r} needs exactly one '~' (response ~ predictors)")
    response, rhs = sides[0].strip(), sides[1].strip()
    if not response:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'")
    if not rhs:
        raise FormulaError(f"formula {formula!r} has nothing on the right of '~'")
    fixed_terms: list[str] = []
    offsets: list[str] = []
    random: list[RandomTerm] = []
    for sign, term in _top_level_terms(rhs):
        inner = _strip_outer(term)
        bar_split = None
        if inner is not None:
            dbl = split_top_level(inner, "||")
            if len(dbl) == 2:
                bar_split = (dbl[0], dbl[1], False)
            elif len(dbl) == 1:
                sgl = split_top_level(inner, "|")
                if len(sgl) == 2:
                    bar_split = (sgl[0], sgl[1], True)
                elif len(sgl) > 2:
                    raise FormulaError(f"random term {term!r} has more than one '|'")
            else:
                raise FormulaError(f"random term {term!r} has more than one '||'")
        if bar_split is not None:
            if sign == "-":
                raise FormulaError(f"random term {term!r} cannot be subtracted")
            lhs, grp, correlated = bar_split
            lhs = lhs.strip()
            if not lhs:
                raise FormulaError(f"random term {term!r} has nothing left of the bar")
            groups = _grouping_factors(grp, term)
            lhs_list = [lhs] if correlated else _split_random_lhs(lhs)
            for name, vars_ in groups:
                for piece in lhs_list:
                    random.append(
                        RandomTerm(
                            lhs=piece,
                            group=name,
                            group_vars=vars_,
                            correlated=correlated,
                            source=term,
                        )
                    )
            continue
        m = re.fullmatch(r"offset\((.*)\)", term.strip())
        if m:
            if sign == "-":
                raise FormulaError(f"offset term {term!r} cannot be subtracted")
            offsets.append(_offset_expression(m.group(1).strip()))
            continue
        fixed_terms.append(term if sign == "+" else f"- {term}")
    fixed = " + ".join(fixed_terms).replace("+ - ", "- ")
    if not fixed:
        fixed = "1"
    elif fixed.startswith("- "):
        fixed = "1 " + fixed
    return ParsedFormula(
        formula=formula,
        response=response,
        fixed=fixed,
        random=tuple(random),
        offsets=tuple(offsets),
    )
