"""The lme4 formula parser (alliancestats.models.formula)."""

from __future__ import annotations

import pytest

from alliancestats.errors import FormulaError
from alliancestats.models.formula import parse_formula, split_top_level


def groups(formula: str) -> list[tuple[str, str, tuple[str, ...], bool]]:
    return [(t.lhs, t.group, t.group_vars, t.correlated) for t in parse_formula(formula).random]


def test_intercept_and_slope_terms():
    pf = parse_formula("pain ~ session + (1 + session | patient) + (1 | therapist)")
    assert pf.response == "pain"
    assert pf.fixed == "session"
    assert groups(pf.formula) == [
        ("1 + session", "patient", ("patient",), True),
        ("1", "therapist", ("therapist",), True),
    ]


def test_uncorrelated_bars_expand_like_lme4():
    assert groups("y ~ x + (1 + x || g)") == [
        ("1", "g", ("g",), False),
        ("0 + x", "g", ("g",), False),
    ]
    assert groups("y ~ (0 + x + z || g)") == [
        ("0 + x", "g", ("g",), False),
        ("0 + z", "g", ("g",), False),
    ]


def test_nested_slash_and_interaction_groups():
    assert groups("y ~ 1 + (1 | therapist/patient)") == [
        ("1", "patient:therapist", ("therapist", "patient"), True),
        ("1", "therapist", ("therapist",), True),
    ]
    assert [g[1] for g in groups("y ~ (1 | a/b/c)")] == ["c:b:a", "b:a", "a"]
    assert groups("y ~ (1 | a:b)") == [("1", "a:b", ("a", "b"), True)]


def test_fixed_part_variants():
    assert parse_formula("y ~ (1 | g)").fixed == "1"
    assert parse_formula("y ~ 0 + x + (1 | g)").fixed == "0 + x"
    assert parse_formula("y ~ x - 1 + (1 | g)").fixed == "x - 1"
    assert parse_formula("y ~ x * arm + I(x ** 2) + (1 | g)").fixed == "x * arm + I(x ** 2)"
    pf = parse_formula("y ~ x + offset(np.log(t)) + (1 | g)")
    assert pf.fixed == "x" and pf.offsets == ("np.log(t)",)


def test_parenthesised_fixed_terms_are_not_random():
    pf = parse_formula("y ~ (x + z):w + (1 | g)")
    assert pf.fixed == "(x + z):w"
    assert len(pf.random) == 1


@pytest.mark.parametrize(
    "bad",
    [
        "y + (1 | g)",  # no tilde
        " ~ x + (1 | g)",  # no response
        "y ~ ",  # empty rhs
        "y ~ x + (1 | g",  # unbalanced
        "y ~ x + ( | g)",  # empty lhs of bar
        "y ~ x + (1 | )",  # empty group
        "y ~ x + (1 | g | h)",  # two bars
        "y ~ x + (1 | log(g))",  # grouping must be a column
        "y ~ x - (1 | g)",  # subtracting a random term
    ],
)
def test_malformed_formulas_raise(bad):
    with pytest.raises(FormulaError):
        parse_formula(bad)


def test_non_string_formula():
    with pytest.raises(FormulaError, match="string"):
        parse_formula(42)  # type: ignore[arg-type]


def test_split_top_level_respects_nesting():
    assert split_top_level("a | (b | c) | d", "|") == ["a ", " (b | c) ", " d"]
