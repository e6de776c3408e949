"""dynamic_panel(): the formula language, the model's structure, options and errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from panel_reference import dpm_fit, long_data

import alliancestats as als
from alliancestats.errors import (
    DataValidationError,
    FormulaError,
    ModelSpecificationError,
    ParameterError,
)
from alliancestats.panel.dpm_formula import parse_dynamic_formula
from alliancestats.panel.dynamic import dynamic_spec

WAVES = list(range(1, 8))


# ------------------------------------------------------------------ formula language
@pytest.mark.parametrize(("text", "terms", "constants"), [
    ("wks ~ pre(lag(union)) + lag(lwage) | ed", [("union", 1, True), ("lwage", 1, False)],
     ["ed"]),
    ("y~x", [("x", 0, False)], []),
    ("y ~ lag(x, 2) + pre(z) | a + b", [("x", 2, False), ("z", 0, True)], ["a", "b"]),
    ("y ~ `alliance score` + lag(`x.1`)", [("alliance score", 0, False), ("x.1", 1, False)],
     []),
    ("y ~ lag + pre", [("lag", 0, False), ("pre", 0, False)], []),  # names, not calls
])
def test_formula_grammar(text, terms, constants):
    f = parse_dynamic_formula(text)
    assert [(t.variable, t.lag, t.predetermined) for t in f.terms] == terms
    assert f.constants == constants
    assert parse_dynamic_formula(f.text) == f  # canonical text round-trips


@pytest.mark.parametrize(("text", "message"), [
    ("y ~ x * z", "position 7"),
    ("y ~ lag(x", "expected '\\)' at position 10, found the end"),
    ("y ~ lag(x, 0)", "k >= 1"),
    ("y ~ lag(x, -1)", "cannot read|whole number"),
    ("y ~ pre(lag(x)", "closing pre"),
    ("y ~ x | ", "column name"),
    ("y ~ x + ", "column name"),
    ("~ x", "column name"),
    ("y ~ x x", "'\\+', '\\|' or the end"),
    ("y ~ lag(y)", "response"),
    ("y ~ x + x", "twice"),
    ("y ~ x | x", "both"),
    ("y ~ x | c + c", "twice"),
    ("y ~ __import__('os').system('echo hi')", "cannot read"),
    ("y ~ log(x)", "expected"),
])
def test_formula_errors_are_specific(text, message):
    with pytest.raises(FormulaError, match=message):
        parse_dynamic_formula(text)


def test_formula_must_be_text():
    with pytest.raises(FormulaError, match="string"):
        parse_dynamic_formula(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------ model structure
def test_structure_of_the_allison_model():
    f = parse_dynamic_formula("wks ~ pre(lag(union)) + lag(lwage) | ed")
    spec, start = dynamic_spec(f, WAVES, error_inv=True)
    assert start == 2
    rows = pd.DataFrame([r.__dict__ for r in spec.rows])
    reg = rows[rows["op"] == "~"]
    assert sorted(set(reg["lhs"])) == [f"wks_{w}" for w in range(2, 8)]
    assert set(reg["label"]) == {"b0", "b1", "c0", "p1"}  # equal over waves
    alpha = rows[(rows["rhs"] == "alpha") & (rows["op"] == "~~") & (rows["lhs"] != "alpha")]
    # alpha covaries with union_1..6, lwage_1..6 and wks_1, not with ed
    assert sorted(alpha["lhs"]) == sorted([f"union_{w}" for w in range(1, 7)]
                                          + [f"lwage_{w}" for w in range(1, 7)] + ["wks_1"])
    pre = rows[(rows["op"] == "~~") & rows["lhs"].str.startswith("wks_")
               & rows["rhs"].str.startswith("union_")]
    # error of wks_t covaries with union_{t+1}..union_6: 4 + 3 + 2 + 1
    assert len(pre) == 10
    assert set(zip(pre["lhs"], pre["rhs"], strict=True)) == {
        (f"wks_{t}", f"union_{s}") for t in range(2, 6) for s in range(t + 1, 7)}
    assert set(rows.loc[(rows["op"] == "~~") & (rows["lhs"] == rows["rhs"])
                        & rows["lhs"].str.startswith("wks_") & (rows["lhs"] != "wks_1"),
                        "label"]) == {"v"}


def test_random_effects_fix_alpha_covariances_at_zero():
    f = parse_dynamic_formula("wks ~ pre(lag(union)) + lag(lwage) | ed")
    fe = dynamic_spec(f, WAVES)[0].compile().n_free
    re_spec = dynamic_spec(f, WAVES, fixed_effects=False)[0]
    fixed = [r for r in re_spec.rows if r.rhs == "alpha" and r.op == "~~" and r.lhs != "alpha"]
    assert fixed and all(r.fixed == 0.0 for r in fixed)
    assert re_spec.compile().n_free == fe - len(fixed)


def test_no_lagged_outcome_drops_the_pre_sample_wave():
    f = parse_dynamic_formula("wks ~ pre(lag(union))")
    spec, start = dynamic_spec(f, WAVES, y_lag=0)
    assert start == 2 and "wks_1" not in spec.observed
    spec, start = dynamic_spec(parse_dynamic_formula("wks ~ union"), WAVES, y_lag=0)
    assert start == 1 and "wks_1" in spec.observed


def test_x_free_and_y_free_name_rows_by_session():
    res = dpm_fit("wks_x_free")
    c = res.coefficients
    assert "lag(union) [2]" in c.index and "lag(union) [7]" in c.index
    assert c.loc["lag(union) [3]", "wave"] == 3
    assert "long_run" not in res.tables
    res = dpm_fit("wks_y_free")
    assert [t for t in res.coefficients.index if t.startswith("lag(wks)")] == [
        f"lag(wks) [{w}]" for w in range(2, 8)]


def test_multiple_outcome_lags_enter_the_long_run_denominator():
    res = dpm_fit("wks_y_lags_12")
    c = res.coefficients
    rho = c.loc["lag(wks)", "estimate"] + c.loc["lag(wks, 2)", "estimate"]
    assert res.long_run.loc["lag(union)", "estimate"] == pytest.approx(
        c.loc["lag(union)", "estimate"] / (1 - rho), rel=1e-12)
    assert res.first_regressed_wave == 3


def test_result_text():
    res = dpm_fit("wks_error_inv")
    assert res.model == "Dynamic panel (ML-SEM)"
    assert res.description == "wks ~ pre(lag(union)) + lag(lwage) | ed"
    text = res.summary()
    assert "Long run:" in text and "lag(union)" in text
    apa = res.apa()
    assert apa.startswith("Dynamic panel (ML-SEM) for wks ~ pre(lag(union)) + lag(lwage) | ed "
                          "(N = 595): χ²(76) = 138.48")
    assert "lag(union): b = -1.206, SE = 0.522" in apa
    assert dpm_fit("wks_random_effects").model == "Dynamic panel (ML-SEM, random effects)"


def test_missing_predictor_values_use_full_information():
    res = dpm_fit("wks_missing")
    complete = dpm_fit("wks_error_inv")
    assert res.nobs == complete.nobs == 595
    assert res.converged
    # same model, 5% of values deleted: estimates move by less than one standard error
    gap = (res.coefficients["estimate"] - complete.coefficients["estimate"]).abs()
    assert (gap < complete.coefficients["se"]).all()


def test_session_data_from_the_simulator():
    df = als.simulate_riclpm(n_patients=400, n_waves=6, x_to_y=-4.0, seed=31)
    # the simulator's innovations correlate within a session, so the outcome's error also
    # covaries with the same session's alliance: partial_pre (Allison 2022) allows that
    fit = als.dynamic_panel("symptoms ~ pre(lag(alliance))", df, error_inv=True,
                            partial_pre=True)
    b = fit.coefficients.loc["lag(alliance)"]
    assert abs(b["estimate"] + 4.0) < 4 * b["se"]  # deterministic seed; 4 SEs
    assert list(fit.long_run.columns) == ["estimate", "se", "z", "p", "ci_low", "ci_high"]
    strict = als.dynamic_panel("symptoms ~ pre(lag(alliance))", df, error_inv=True)
    assert strict.df == fit.df + 4  # one covariance per session 2..5 fewer


def test_options_are_validated():
    d = long_data("wages.csv")
    kw = {"patient": "id", "session": "t"}
    with pytest.raises(ParameterError, match="y_lag"):
        als.dynamic_panel("wks ~ lag(union)", d, y_lag=[1, 1], **kw)
    with pytest.raises(ParameterError, match="y_lag"):
        als.dynamic_panel("wks ~ lag(union)", d, y_lag=-1, **kw)
    with pytest.raises(ParameterError, match="error_inv"):
        als.dynamic_panel("wks ~ lag(union)", d, error_inv="yes", **kw)
    with pytest.raises(ModelSpecificationError, match="at least 5 sessions"):
        als.dynamic_panel("wks ~ lag(union, 3)", d, waves=4, **kw)
    with pytest.raises(DataValidationError, match="not in the data"):
        als.dynamic_panel("wks ~ lag(unions)", d, **kw)
    changing = d.copy()
    changing.loc[0, "ed"] = 20
    with pytest.raises(DataValidationError, match="constant within each patient"):
        als.dynamic_panel("wks ~ lag(union) | ed", changing, **kw)
    with pytest.raises(FormulaError):
        als.dynamic_panel("wks ~ lag(union) +", d, **kw)


def test_unused_late_waves_need_no_coverage():
    d = long_data("wages.csv").copy()
    d.loc[d["t"] == 7, "union"] = np.nan  # union_7 is not used with a lag of one year
    fit = als.dynamic_panel("wks ~ pre(lag(union))", d, patient="id", session="t")
    assert fit.converged
