"""Formulas are data, not code: nothing outside the formula allow-list is ever evaluated.

Each payload would create a file if a formula could run Python; every entry point that
evaluates a formula must refuse it with a FormulaError naming the offending token, and the
file must not exist afterwards. The two guards (checking with ``ast`` before evaluation,
and the restricted evaluation context) are also tested on their own.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.errors import AllianceStatsWarning, FormulaError
from alliancestats.models.design import build_design, variables_in
from alliancestats.models.formula_eval import (
    check_expression,
    evaluate_expression,
    formula_context,
    safe_model_matrix,
)

TOUCH = "__import__('os').system('touch pwned.txt')"
OPEN = "open('pwned.txt', 'w')"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    n = 48
    return pd.DataFrame(
        {
            "y": rng.normal(size=n),
            "x": rng.normal(size=n),
            "b": rng.integers(0, 2, size=n),
            "n": rng.integers(1, 9, size=n),
            "g": np.repeat([f"g{i}" for i in range(8)], 6),
        }
    )


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return fn()


ENTRY_POINTS = {
    "lmm fixed part": lambda d, p: als.lmm(f"y ~ x + I({p}) + (1 | g)", d),
    "lmm response": lambda d, p: als.lmm(f"I({p}) ~ x + (1 | g)", d),
    "lmm bare response": lambda d, p: als.lmm(f"{p} ~ x + (1 | g)", d),
    "lmm random term": lambda d, p: als.lmm(f"y ~ x + (1 + I({p}) | g)", d),
    "lmm offset": lambda d, p: als.lmm(f"y ~ x + offset({p}) + (1 | g)", d),
    "lmm braces": lambda d, p: als.lmm(f"y ~ x + {{{p}}} + (1 | g)", d),
    "lmm subscript": lambda d, p: als.lmm(f"y ~ x + x[{p}] + (1 | g)", d),
    "glmm fixed part": lambda d, p: als.glmm(f"b ~ x + I({p}) + (1 | g)", d),
    "glmm response": lambda d, p: als.glmm(f"cbind(b, I({p})) ~ x + (1 | g)", d),
    "glmm offset": lambda d, p: als.glmm(f"b ~ x + offset({p}) + (1 | g)", d),
    "gee fixed part": lambda d, p: als.gee(f"b ~ x + I({p})", d, groups="g"),
    "gee response": lambda d, p: als.gee(f"I({p}) ~ x", d, groups="g"),
    "meta_analysis mods": lambda d, p: als.meta_analysis(
        d.assign(vi=0.1), yi="y", vi="vi", mods=f"~ x + I({p})"
    ),
    "meta_analysis mods without ~": lambda d, p: als.meta_analysis(
        d.assign(vi=0.1), yi="y", vi="vi", mods=f"x + np.log({p})"
    ),
    "build_design": lambda d, p: build_design(f"y ~ scale({p}) + (1 | g)", d),
}


@pytest.mark.parametrize("payload", [TOUCH, OPEN], ids=["os.system", "open"])
@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
def test_code_in_a_formula_is_refused_everywhere(entry, payload, data, workdir):
    with pytest.raises(FormulaError, match=r"__import__|open"):
        _quiet(lambda: ENTRY_POINTS[entry](data, payload))
    assert not (workdir / "pwned.txt").exists()


def test_prediction_offsets_are_evaluated_safely(data, workdir):
    m = _quiet(lambda: als.lmm("y ~ x + offset(log(n)) + (1 | g)", data))
    new = data.head(3)
    np.testing.assert_allclose(
        m.predict(new, random=False), m.predict(new.assign(n=new["n"]), random=False)
    )
    fit = _quiet(lambda: als.glmm("b ~ x + offset(log(n)) + (1 | g)", data))
    assert np.isfinite(fit.predict(new)).all()


ESCAPES = {
    "dunder name": ("y ~ __builtins__", "__builtins__"),
    "class escape": ("y ~ I(().__class__)", "__class__"),
    "class of a column": ("y ~ I(x.__class__)", "__class__"),
    "subclasses": ("y ~ I(x.__class__.__mro__[1].__subclasses__())", "__class__"),
    "numpy attribute": ("y ~ np.load('f.npy')", "np.load"),
    "numpy module escape": ("y ~ I(np.__dict__)", "__dict__"),
    "function globals": ("y ~ I(log.__globals__)", "__globals__"),
    "lambda": ("y ~ I((lambda: 1)())", "lambda"),
    "list comprehension": ("y ~ I([v for v in x])", "'for'"),
    "generator": ("y ~ I(sum(v for v in x))", "sum"),
    "getattr": ("y ~ I(getattr(x, 'mean')())", "getattr"),
    "eval": ("y ~ I(eval('1'))", "eval"),
    "exec": ("y ~ exec('x')", "exec"),
    "string join trick": ("y ~ I(eval('__imp' + 'ort__'))", "eval"),
    "format trick": ("y ~ I('{0.__class__}'.format(x))", "format"),
    "vars": ("y ~ I(vars(x))", "vars"),
    "globals": ("y ~ I(globals())", "globals"),
    "walrus": ("y ~ I((z := x))", "':='"),
    "starred": ("y ~ log(*x)", "'\\*'"),
    "double star": ("y ~ poly(x, **{'degree': 2})", "'\\*\\*'|'\\{'"),
    "method call": ("y ~ I(x.mean())", "x.mean"),
    "R package access": ("y ~ I(base::system('ls'))", "'::'"),
    "dollar": ("y ~ I(x$mean)", "'\\$'"),
    "attribute via dotted function": ("y ~ os.system('ls')", "os.system"),
    "python keyword": ("y ~ I(x if x else x)", "'if'"),
    "huge constant power": ("y ~ I(9 ** 9 ** 9 * x)", "constant power"),
    "nesting": ("y ~ " + "log(" * 300 + "x" + ")" * 300, "nested too deeply"),
}


@pytest.mark.parametrize("case", list(ESCAPES))
def test_escapes_are_refused_with_the_token_named(case, data, workdir):
    formula, token = ESCAPES[case]
    with pytest.raises(FormulaError, match=token):
        build_design(formula + " + (1 | g)", data)  # token: a regular expression
    assert not any(workdir.iterdir())


@pytest.mark.parametrize(
    "expr, token",
    [
        ("__import__('os').system('touch pwned.txt')", "call to '__import__"),
        ("().__class__", "attribute '.__class__'"),
        ("x.__class__", "attribute '.__class__'"),
        ("(lambda: 1)()", "lambda expression"),
        ("[v for v in x]", "list comprehension"),
        ("{v for v in x}", "set comprehension"),
        ("x[0]", "indexing"),
        ("getattr(x, 'a')", "call to 'getattr'"),
        ("np.load('f')", "call to 'np.load'"),
        ("np.lib", "attribute '.lib'"),
        ("log(**k)", "'\\*\\*' arguments"),
        ("log(*x)", "starred argument"),
        ("'__imp' + 'ort__'", "constant '__imp'"),
        ("f'{x}'", "f-string"),
        ("x if x else x", "conditional expression"),
        ("x and y", "'and'/'or'"),
        ("C(x, levels=[v for v in x])", "list comprehension"),
        ("scale(x, __class__=1)", "argument name '__class__'"),
        ("`__class__`", "name '__class__'"),
        ("log", "function 'log' used without a call"),
        ("9 ** 9 ** 9", "constant power"),
        ("b'x'", "constant"),
        ("x << 2", "expression 'x << 2'"),
    ],
)
def test_ast_check_alone_refuses(expr, token):
    with pytest.raises(FormulaError, match=token):
        check_expression(expr)


def test_ast_check_accepts_the_allow_list():
    ok = [
        "I(age ** 2)", "np.log(x + 1)", "numpy.exp(-x / 10)", "log(x, base=2)",
        "C(arm, contr.treatment('b'))", "C(arm, Sum)", "factor(x, levels=['b', 'a'])",
        "relevel(arm, ref='b')", "poly(x, 2, raw=True)", "scale(`IQ.verb`)",
        "I((x > 1) & ~(arm == 'b'))", "sin(2 * pi * x / 10)", "np.pi * x", "pmin(x, 10)",
        "I(2 ** -1 * x)", "Q('my col')", "as_factor(x)",
    ]  # fmt: skip
    for expr in ok:
        check_expression(expr)
    assert check_expression("scale(`IQ.verb`) + x * np.pi") == ["IQ.verb", "x"]


def test_evaluation_context_alone_blocks_builtins(data, workdir):
    """Without the ast check (formulaic called directly), the context still refuses."""
    import formulaic

    for payload in (TOUCH, OPEN, "exec('1')", "getattr(x, 'sum')()", "np.load('x.npy')"):
        with pytest.raises(Exception, match=r"not available in a formula"):
            formulaic.model_matrix(f"I({payload})", data, context=formula_context())
    assert not any(workdir.iterdir())
    ctx = formula_context()
    assert ctx["__builtins__"].__class__.__name__ == "_Blocked"
    assert "load" not in dir(ctx["np"]) and ctx["np"].sqrt is np.sqrt


def test_prediction_specs_keep_the_restricted_context(data):
    d = build_design("y ~ factor(n) + scale(x) + (1 | g)", data)
    called = []

    def spy(*args, **kwargs):
        called.append(args)
        raise AssertionError("a caller-supplied context must not be used")

    # factor() exists only in the restricted context; a caller's context is replaced by it
    X = d.fixed_spec.get_model_matrix(data.head(4), context={"factor": spy, "scale": spy})
    np.testing.assert_allclose(np.asarray(X, float)[:, d.kept_columns], d.X[:4])
    assert called == []


def test_column_names_cannot_smuggle_code(data, workdir):
    odd = data.assign(**{"__class__": data["x"], "os.system": data["x"] ** 2})
    with pytest.raises(FormulaError, match="__class__"):
        build_design("y ~ `__class__` + (1 | g)", odd)
    d = build_design("y ~ `os.system` + (1 | g)", odd)  # a dotted column is only a column
    assert d.fixed_names == ["(Intercept)", "os.system"]
    np.testing.assert_allclose(d.X[:, 1], data["x"] ** 2)
    assert not any(workdir.iterdir())


def test_variables_in_refuses_calls_outside_the_allow_list():
    with pytest.raises(FormulaError, match="__import__"):
        variables_in(f"x + I({TOUCH})")
    assert variables_in("x + exp(-z / 10) + factor(nitro):`my col`") == [
        "x",
        "z",
        "nitro",
        "my col",
    ]


def test_safe_helpers_refuse_payloads(data, workdir):
    with pytest.raises(FormulaError, match="__import__"):
        evaluate_expression(TOUCH, data)
    with pytest.raises(FormulaError, match="__import__"):
        safe_model_matrix(f"x + log({TOUCH})", data)
    assert not any(workdir.iterdir())
