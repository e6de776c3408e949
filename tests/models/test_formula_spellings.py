"""R and Python spellings inside formulas: translation, evaluation, names and prediction."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.errors import AllianceStatsWarning, FormulaError
from alliancestats.models.design import build_design
from alliancestats.models.formula import parse_formula
from alliancestats.models.formula_eval import evaluate_expression, safe_model_matrix
from alliancestats.models.formula_functions import factor_labels
from alliancestats.models.formula_translate import translate_expression, translate_formula


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(19)
    n = 60
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "age": rng.uniform(20, 60, size=n),
            "IQ.verb": rng.normal(10, 2, size=n),
            "total.fruits": rng.poisson(4, size=n),
            "nitro": np.tile([0.0, 0.2, 0.4, 0.6], n // 4),
            "dose": np.tile([1, 10, 2], n // 3),
            "arm": rng.choice(["b", "a", "c"], size=n),
            "T": rng.normal(size=n),
            "k": rng.integers(0, 4, size=n),
            "n": rng.integers(4, 9, size=n),
            "g": np.repeat([f"g{i}" for i in range(10)], 6),
        }
    )


def quiet_lmm(formula, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return als.lmm(formula, data)


@pytest.mark.parametrize(
    "r_text, python",
    [
        ("I(age^2)", "I(age ** 2)"),
        ("I(age**2)", "I(age ** 2)"),
        ("I(-x^2)", "I(-x ** 2)"),
        ("I((-x)^2)", "I((-x) ** 2)"),
        ("I(2^3^x)", "I(2 ** 3 ** x)"),
        ("I(x^-1)", "I(x ** (-1))"),
        ("log(total.fruits + 1)", "log(`total.fruits` + 1)"),
        ("scale(IQ.verb)", "scale(`IQ.verb`)"),
        ("I(a > 1 & b < 2 | !c)", "I((a > 1) & (b < 2) | ~c)"),
        ("I(x %% 7 * 2)", "I(x % 7 * 2)"),
        ("poly(x, 2, raw = TRUE)", "poly(x, 2, raw=True)"),
        ("factor(x, levels = c('b', 'a'))", "factor(x, levels=['b', 'a'])"),
        ("as.factor(x)", "as_factor(x)"),
        ("I(T * 2)", "I(T * 2)"),
        ("np.log(x)", "np.log(x)"),
        ("I(x * np.pi)", "I(x * np.pi)"),
        ("C(arm, contr.treatment('b'))", "C(arm, contr.treatment('b'))"),
        ("I(x / 1e5)", "I(x / 100000.0)"),
        ("I(2L * x)", "I(2 * x)"),
    ],
)
def test_expressions_are_read_with_r_precedence(r_text, python):
    assert translate_expression(r_text) == python


def test_translation_is_idempotent_on_python_output():
    for text in ["I((-x) ** 2 + x ** (-1))", "scale(`IQ.verb`)", "factor(x, levels=['b', 'a'])"]:
        assert translate_expression(text) == text


def test_formula_algebra_outside_calls_is_kept():
    text = "0 + x * arm + (a + b)^2 + c %in% d - 1 + `odd name`:e + IQ.verb"
    assert translate_formula(text) == text


def test_power_inside_I_is_a_power_and_formula_power_outside(frame):
    d = build_design("y ~ I(age^2) + (age + nitro)^2 + (1 | g)", frame)
    assert d.fixed_names == ["(Intercept)", "I(age^2)", "age", "nitro", "age:nitro"]
    np.testing.assert_allclose(d.X[:, 1], frame["age"] ** 2)


def test_math_functions_without_np_prefix(frame):
    d = build_design(
        "y ~ sin(2*pi*age/10) + cos(age) + exp(-age/10) + sqrt(age) + log(age, base = 2) "
        "+ abs(age - 40) + (1 | g)",
        frame,
    )
    a = frame["age"].to_numpy()
    expected = [
        np.sin(2 * np.pi * a / 10), np.cos(a), np.exp(-a / 10), np.sqrt(a), np.log2(a),
        np.abs(a - 40),
    ]  # fmt: skip
    np.testing.assert_allclose(d.X[:, 1:], np.column_stack(expected))
    assert d.fixed_names[1:4] == ["sin(2 * pi * age/10)", "cos(age)", "exp(-age/10)"]
    assert d.fixed_names[5] == "log(age, base = 2)"


def test_dotted_columns_inside_calls_and_on_the_left(frame):
    d = build_design("log(total.fruits + 1) ~ scale(IQ.verb) + (1 + scale(IQ.verb) | g)", frame)
    iq = frame["IQ.verb"]
    np.testing.assert_allclose(d.X[:, 1], (iq - iq.mean()) / iq.std(ddof=1))
    np.testing.assert_allclose(d.y, np.log(frame["total.fruits"] + 1))
    assert d.fixed_names == ["(Intercept)", "scale(IQ.verb)"]
    assert d.random[0].colnames == ["(Intercept)", "scale(IQ.verb)"]


def test_factor_of_numbers_uses_r_levels_and_names(frame):
    d = build_design("y ~ factor(nitro) + factor(dose) + (1 | g)", frame)
    assert d.fixed_names == [
        "(Intercept)", "factor(nitro)0.2", "factor(nitro)0.4", "factor(nitro)0.6",
        "factor(dose)2", "factor(dose)10",
    ]  # fmt: skip
    np.testing.assert_array_equal(d.X[:, 1], (frame["nitro"] == 0.2).astype(float))


def test_factor_levels_relevel_and_c(frame):
    d = build_design(
        "y ~ factor(arm, levels = c('c', 'b', 'a')) + relevel(factor(dose), ref = 10) + (1 | g)",
        frame,
    )
    assert d.fixed_names == [
        "(Intercept)",
        'factor(arm, levels = c("c", "b", "a"))b',
        'factor(arm, levels = c("c", "b", "a"))a',
        "relevel(factor(dose), ref = 10)1",
        "relevel(factor(dose), ref = 10)2",
    ]
    c = build_design("y ~ C(arm, contr.treatment('b')) + as.factor(dose) + (1 | g)", frame)
    assert c.fixed_names == [
        "(Intercept)",
        'C(arm, contr.treatment("b"))a',
        'C(arm, contr.treatment("b"))c',
        "as.factor(dose)2",
        "as.factor(dose)10",
    ]
    with pytest.raises(FormulaError, match="reference level '7'"):
        build_design("y ~ relevel(dose, ref = 7) + (1 | g)", frame)


@pytest.mark.parametrize(
    "values, labels, levels",
    [
        ([0.2, 1.0, 1e5, None], ["0.2", "1", "1e+05", None], ["0.2", "1", "1e+05"]),
        (pd.array([3, 1, None], dtype="Int64"), ["3", "1", None], ["1", "3"]),
        ([True, False, True], ["TRUE", "FALSE", "TRUE"], ["FALSE", "TRUE"]),
        (["b", "a", "B"], ["b", "a", "B"], ["B", "a", "b"]),
        (
            pd.Categorical(["x", "y"], categories=["y", "x", "z"]),
            ["x", "y"],
            ["y", "x"],
        ),
    ],
)
def test_factor_labels_follow_r(values, labels, levels):
    assert factor_labels(values) == (labels, levels)


def test_predictions_reuse_levels_and_transforms_of_the_fit(frame):
    m = quiet_lmm("y ~ factor(nitro) + scale(age) + poly(IQ.verb, 2) + (1 | g)", frame)
    rows = frame.iloc[[5, 9, 13]]  # only some nitro levels, other age / IQ spread
    np.testing.assert_allclose(m.predict(rows), m.predict().iloc[[5, 9, 13]], rtol=1e-10)
    with pytest.raises(FormulaError, match="not seen in the fit"):
        m.predict(rows.assign(nitro=0.3))


def test_offsets_are_expressions(frame):
    d = build_design("y ~ age + offset(n - k) + offset(log(n)) + (1 | g)", frame)
    np.testing.assert_allclose(d.offset, frame["n"] - frame["k"] + np.log(frame["n"]))
    assert parse_formula("y ~ offset(n - k)").offsets == ("I(n - k)",)
    m = quiet_lmm("y ~ age + offset(log(n)) + (1 | g)", frame)
    new = frame.head(4)
    shift = np.log(new["n"].to_numpy())
    no_offset = m.predict(new, random=False) - shift
    np.testing.assert_allclose(
        no_offset, m.fixed["estimate"].iloc[0] + m.fixed["estimate"].iloc[1] * new["age"]
    )


def test_responses_are_expressions_not_formula_algebra(frame):
    np.testing.assert_allclose(
        build_design("n - k ~ age + (1 | g)", frame).y, frame["n"] - frame["k"]
    )
    d = build_design("cbind(k, n - k) ~ age + (1 | g)", frame)
    np.testing.assert_allclose(d.y, np.column_stack([frame["k"], frame["n"] - frame["k"]]))
    np.testing.assert_allclose(
        evaluate_expression("pmax(age, 40) * TRUE", frame), np.maximum(frame["age"], 40)
    )


def test_T_and_F_remain_column_names(frame):
    d = build_design("y ~ I(T * 2) + (1 | g)", frame)
    np.testing.assert_allclose(d.X[:, 1], 2 * frame["T"])


def test_text_comparisons_inside_I(frame):
    d = build_design("y ~ I(arm == 'b') + I(age > 40 & arm != 'c') + (1 | g)", frame)
    np.testing.assert_array_equal(d.X[:, 1], (frame["arm"] == "b").astype(float))
    # R appends TRUE to logical columns; formulaic codes them as numbers, named without it
    assert d.fixed_names[1:] == ['I(arm == "b")', 'I(age > 40 & arm != "c")']


def test_unknown_function_and_column_messages(frame):
    with pytest.raises(FormulaError, match=r"lgo\(\) is not a function formulas may call"):
        build_design("y ~ lgo(age) + (1 | g)", frame)
    with pytest.raises(FormulaError, match="'agee'.*did you mean 'age'"):
        build_design("y ~ log(agee) + (1 | g)", frame)


def test_moderator_formulas_accept_r_spellings():
    d = pd.DataFrame(
        {
            "yi": [0.1, 0.3, 0.2, 0.5, 0.4, 0.6, 0.35, 0.15],
            "vi": [0.02, 0.03, 0.02, 0.04, 0.03, 0.05, 0.02, 0.03],
            "year.pub": [1990, 1995, 2000, 2005, 2010, 2015, 2003, 1998],
        }
    )
    res = als.meta_analysis(d, yi="yi", vi="vi", mods="~ I((year.pub - 2000)^2)")
    x = (d["year.pub"] - 2000.0) ** 2
    direct = als.meta_analysis(d.assign(x=x), yi="yi", vi="vi", mods="~ x")
    np.testing.assert_allclose(res.table["estimate"], direct.table["estimate"], rtol=1e-10)


def test_anova_of_models_with_transformed_terms(frame):
    m = quiet_lmm("y ~ factor(nitro) + I(age^2) + scale(IQ.verb) + (1 | g)", frame)
    table = m.anova()
    assert len(table) == 3 and np.isfinite(table.iloc[:, -1]).all()


def test_designs_pickle_with_their_restricted_specs(frame):
    d = build_design("y ~ factor(nitro) + scale(age) + (1 | g)", frame)
    again = pickle.loads(pickle.dumps(d))
    np.testing.assert_allclose(again.fixed_matrix(frame.head(3)), d.X[:3])


def test_safe_model_matrix_names_and_frame(frame):
    mm = safe_model_matrix("0 + factor(dose):age", frame)
    assert mm.names == ["factor(dose)1:age", "factor(dose)2:age", "factor(dose)10:age"]
    assert list(mm.frame.columns)[0].startswith("factor(dose)[1]")


def test_polynomial_degree_is_bounded_by_the_data(frame):
    with pytest.raises(FormulaError, match="less than the number of distinct values"):
        build_design("y ~ poly(nitro, 4) + (1 | g)", frame)  # four distinct values
    with pytest.raises(FormulaError, match="degree 1000000"):
        build_design("y ~ poly(age, 1000000) + (1 | g)", frame)
    d = build_design("y ~ poly(nitro, 3, raw = TRUE) + (1 | g)", frame)
    assert d.fixed_names[1:] == [f"poly(nitro, 3, raw = TRUE){k}" for k in (1, 2, 3)]
    np.testing.assert_allclose(d.X[:, 3], frame["nitro"] ** 3)
    new = frame.head(1)  # one row: predictions reuse the fit, not the new data's spread
    np.testing.assert_allclose(d.fixed_matrix(new), d.X[:1])
    d2 = build_design("y ~ poly(age, 2) + (1 | g)", frame)
    np.testing.assert_allclose(d2.fixed_matrix(new), d2.X[:1])
