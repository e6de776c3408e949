"""meta_analysis / effect_sizes against pinned metafor 3.8-1 values (tests/reference/meta/models.R).

Every case in models.json is consumed by exactly one entry of the grids below, and a test asserts
that, so a reference case cannot be silently dropped.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning
from alliancestats.meta import effect_sizes, meta_analysis

REF_DIR = Path(__file__).parents[1] / "reference" / "meta"
REF = json.loads((REF_DIR / "models.json").read_text())
CASES: dict[str, Any] = REF["cases"]

# Closed-form quantities (escalc, DL/HE/HS/SJ/FE fits, Q, I² given τ²): floating-point round-off only.
CLOSED = 1e-8
# Univariate ML/REML/EB/PM: both sides iterate to ~1e-12, so only propagated round-off remains;
# p values and CIs of ill-conditioned fits amplify it, hence looser than CLOSED.
ITERATIVE = 1e-6
# Three-level models: metafor's nlminb stops at rel.tol = 1e-10 on the REML criterion, which
# leaves variance components ~1e-6 from the optimum (our fit has the higher likelihood).
MULTILEVEL = 1e-5


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / f"{name}.csv")


MOLLOY = _read("molloy2014")
MZ = effect_sizes(MOLLOY, r="ri", n="ni")
MC = effect_sizes(MOLLOY, r="ri", n="ni", measure="COR")
BCG = effect_sizes(_read("bcg"), measure="RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
KON = _read("konstantopoulos2011").assign(year_c=lambda d: d["year"] - 1990)
ASSINK = _read("assink2016")
CLOSED_METHODS = {"DL", "HE", "HS", "SJ", "FE", "EE"}

KONST_RANDOM = "~ 1 | district/school"
ASSINK_RANDOM = "~ 1 | study/esid"

# case name -> (data, kwargs, tolerance)
MODEL_GRID: dict[str, tuple[pd.DataFrame, dict[str, Any], float]] = {}
for _m in ("REML", "ML", "DL", "PM", "EB", "HE", "SJ", "HS", "FE", "EE"):
    _tol = CLOSED if _m in CLOSED_METHODS else ITERATIVE
    MODEL_GRID[f"molloy_zcor_{_m}"] = (MZ, {"method": _m}, _tol)
    if _m not in ("FE", "EE"):
        MODEL_GRID[f"molloy_zcor_{_m}_knha"] = (MZ, {"method": _m, "test": "knha"}, _tol)
MODEL_GRID.update(
    {
        "molloy_cor_REML": (MC, {"method": "REML"}, ITERATIVE),
        "molloy_cor_DL": (MC, {"method": "DL"}, CLOSED),
        # metafor's default threshold 1e-5 is reproduced exactly by control={"threshold": 1e-5}
        "default_control_molloy_zcor_REML": (MZ, {"control": {"threshold": 1e-5}}, CLOSED),
        "molloy_mreg_REML": (MZ, {"mods": "~ meanage + quality"}, ITERATIVE),
        "molloy_mreg_ML": (MZ, {"mods": "~ meanage + quality", "method": "ML"}, ITERATIVE),
        "molloy_mreg_DL": (MZ, {"mods": "~ meanage + quality", "method": "DL"}, CLOSED),
        "molloy_mreg_FE": (MZ, {"mods": ["meanage", "quality"], "method": "FE"}, CLOSED),
        "molloy_mreg_REML_knha": (
            MZ,
            {"mods": "~ meanage + quality", "test": "knha"},
            ITERATIVE,
        ),
        "molloy_mreg_design_REML": (MZ, {"mods": "~ design"}, ITERATIVE),
        "molloy_mreg_design_REML_knha": (MZ, {"mods": "~ design", "test": "knha"}, ITERATIVE),
        "bcg_REML": (BCG, {}, ITERATIVE),
        "bcg_DL": (BCG, {"method": "DL"}, CLOSED),
        "bcg_FE": (BCG, {"method": "FE"}, CLOSED),
        "bcg_REML_knha": (BCG, {"test": "knha"}, ITERATIVE),
        "bcg_mreg_ablat_REML": (BCG, {"mods": "~ ablat"}, ITERATIVE),
        "bcg_mreg_ablat_year_REML": (BCG, {"mods": "~ ablat + year"}, ITERATIVE),
        "bcg_mreg_ablat_year_REML_knha": (
            BCG,
            {"mods": "~ ablat + year", "test": "knha"},
            ITERATIVE,
        ),
        "bcg_mreg_ablat_year_ML": (BCG, {"mods": "~ ablat + year", "method": "ML"}, ITERATIVE),
        "bcg_mreg_alloc_REML": (BCG, {"mods": "~ alloc"}, ITERATIVE),
        "konst_REML": (KON, {"random": KONST_RANDOM}, MULTILEVEL),
        "konst_ML": (KON, {"random": KONST_RANDOM, "method": "ML"}, MULTILEVEL),
        "konst_year_REML": (KON, {"random": KONST_RANDOM, "mods": "~ year_c"}, MULTILEVEL),
        "konst_REML_t": (KON, {"random": KONST_RANDOM, "test": "t"}, MULTILEVEL),
        "default_control_konst_REML": (KON, {"random": KONST_RANDOM}, MULTILEVEL),
        "assink_REML": (ASSINK, {"random": ASSINK_RANDOM}, MULTILEVEL),
        "assink_deltype_REML": (ASSINK, {"random": ASSINK_RANDOM, "mods": "~ deltype"}, MULTILEVEL),
        "default_control_assink_REML": (ASSINK, {"random": ("study", "esid")}, MULTILEVEL),
    }
)

ROBUST_GRID: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {
    "konst_REML_cr2": (KON, {"random": KONST_RANDOM, "robust": "district"}),
    "konst_year_REML_cr2": (KON, {"random": KONST_RANDOM, "mods": "~ year_c", "robust": True}),
    "assink_REML_cr2": (ASSINK, {"random": ASSINK_RANDOM, "robust": "study"}),
    "assink_deltype_REML_cr2": (
        ASSINK,
        {"random": ASSINK_RANDOM, "mods": "~ deltype", "robust": "study"},
    ),
    "assink_year_deltype_REML_cr2": (
        ASSINK,
        {"random": ASSINK_RANDOM, "mods": "~ year + deltype", "robust": "study"},
    ),
    "assink_uni_REML_cr2": (ASSINK, {"robust": "study"}),
}

ESCALC_GRID = {
    "escalc_molloy_zcor": MZ,
    "escalc_molloy_cor": MC,
    "escalc_bcg_rr": BCG,
    "escalc_bcg_or": effect_sizes(
        _read("bcg"), measure="OR", ai="tpos", bi="tneg", ci="cpos", di="cneg"
    ),
}

CONFINT_GRID = {
    "molloy_zcor_REML_confint": (MZ, {}, ITERATIVE),
    "molloy_zcor_DL_confint": (MZ, {"method": "DL"}, CLOSED),
    "bcg_REML_confint": (BCG, {}, ITERATIVE),
}

# Cases checked by dedicated tests below.
OTHER = {
    "molloy_zcor_REML_r",
    "molloy_subgroup_design",
    # metafor's PM uses uniroot(tol = eps^0.25), i.e. it stops ~1e-4 from the root; checked at
    # that looser tolerance in test_default_control_pm.
    "default_control_molloy_zcor_PM",
}


def _fit(data: pd.DataFrame, kwargs: dict[str, Any]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)  # e.g. knha on FE; checked elsewhere
        return meta_analysis(data, **kwargs)


def _close(actual: Any, expected: Any, rtol: float, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=rtol,
        atol=atol,
    )


def test_reference_grid_is_complete():
    covered = set(MODEL_GRID) | set(ROBUST_GRID) | set(ESCALC_GRID) | set(CONFINT_GRID) | OTHER
    assert covered == set(CASES), (
        f"not consumed: {sorted(set(CASES) - covered)}; no reference: {sorted(covered - set(CASES))}"
    )
    assert REF["meta"]["metafor"] == "3.8.1"
    assert REF["meta"]["clubSandwich"] == "0.5.8"


@pytest.mark.parametrize("name", sorted(ESCALC_GRID))
def test_escalc(name):
    ref = CASES[name]
    # closed-form transformations: round-off only
    _close(ESCALC_GRID[name]["yi"], ref["yi"], CLOSED)
    _close(ESCALC_GRID[name]["vi"], ref["vi"], CLOSED)


@pytest.mark.parametrize("name", sorted(MODEL_GRID))
def test_model(name):
    data, kwargs, tol = MODEL_GRID[name]
    ref = CASES[name]
    res = _fit(data, kwargs)
    assert res.k == ref["k"] and res.p == ref["p"]
    assert len(res.mod_names) == np.atleast_1d(ref["names"]).size
    _close(res.beta, ref["beta"], tol)
    _close(res.table["se"], ref["se"], tol)
    stat = "z" if "z" in res.table.columns else "t"
    _close(res.table[stat], ref["zval"], tol)
    _close(res.table["p"], ref["pval"], tol, atol=1e-15)
    _close(res.table["ci_low"], ref["ci_lb"], tol)
    _close(res.table["ci_high"], ref["ci_ub"], tol)
    _close(res.q, ref["QE"], CLOSED)  # Q_E does not depend on tau^2
    _close(res.q_p, ref["QEp"], CLOSED, atol=1e-15)
    _close(res.weights, ref["weights"], tol)
    _close(res.fit_stats.loc["ll", "ML"], ref["ll_ML"], tol)
    if res.method not in ("FE", "EE"):
        _close(res.fit_stats.loc["ll", "REML"], ref["ll_REML"], tol)
    if "sigma2" in ref:
        _close(res.sigma2, ref["sigma2"], tol)
        _close(res.i2_levels, ref["I2_levels"], tol)
        assert list(res.n_groups) == ref["s_nlevels"]
    else:
        _close(res.tau2, ref["tau2"], tol)
        _close(res.i2, ref["I2"], tol, atol=1e-10)
        _close(res.h2, ref["H2"], tol)
        if ref.get("se_tau2") is not None:
            _close(res.se_tau2, ref["se_tau2"], tol)
    if "pi_lb" in ref:
        _close([res.pi_low, res.pi_high], [ref["pi_lb"], ref["pi_ub"]], tol)
    if "QM" in ref:
        _close(res.qm, ref["QM"], tol)
        _close(res.qm_p, ref["QMp"], tol)
        _close(res.qm_df[: np.atleast_1d(ref["QMdf"]).size], ref["QMdf"], CLOSED)
    if ref.get("R2") is not None:
        _close(res.r2, ref["R2"], tol, atol=1e-8)
    if ref.get("ddf") is not None:
        _close(res.table["df"], ref["ddf"], CLOSED)


@pytest.mark.parametrize("name", sorted(ROBUST_GRID))
def test_robust_cr2(name):
    data, kwargs = ROBUST_GRID[name]
    ref = CASES[name]
    res = _fit(data, kwargs)
    tol = MULTILEVEL  # CR2 inherits the variance-component tolerance
    _close(res.beta, ref["beta"], tol)
    _close(res.table["se"], ref["se"], tol)
    _close(res.table["t"], ref["tval"], tol)
    _close(res.table["df"], ref["df"], tol)
    _close(res.table["p"], ref["pval"], tol)
    _close(res.table["ci_low"], ref["ci_lb"], tol)
    _close(res.table["ci_high"], ref["ci_ub"], tol)
    if res.intercept_only:
        _close([res.pi_low, res.pi_high], [ref["pi_lb"], ref["pi_ub"]], tol)
    else:
        _close(res.qm, ref["QM"], tol)
        _close(res.qm_p, ref["QMp"], tol)
        _close(res.qm_df, ref["QMdf"], tol)


@pytest.mark.parametrize("name", sorted(CONFINT_GRID))
def test_confint_q_profile(name):
    data, kwargs, tol = CONFINT_GRID[name]
    ref = CASES[name]
    ci = _fit(data, kwargs).confint()
    _close(ci.loc["tau2"], ref["tau2"], tol)
    _close(ci.loc["tau"], ref["tau"], tol)
    _close(ci.loc["i2"], ref["I2"], tol)
    _close(ci.loc["h2"], ref["H2"], tol)


def test_back_transformed_prediction_molloy():
    ref = CASES["molloy_zcor_REML_r"]
    pred = _fit(MZ, {}).predict(transform="r").iloc[0]
    expected = [ref["pred"], ref["ci_lb"], ref["ci_ub"], ref["pi_lb"], ref["pi_ub"]]
    _close(pred[["pred", "ci_low", "ci_high", "pi_low", "pi_high"]], expected, ITERATIVE)


def test_default_control_pm():
    ref = CASES["default_control_molloy_zcor_PM"]
    res = _fit(MZ, {"method": "PM"})
    # metafor's default PM root is found with uniroot(tol = .Machine$double.eps^0.25 ≈ 1.2e-4)
    _close(res.tau2, ref["tau2"], 1e-3)
    _close(res.beta, ref["beta"], 1e-4)


def test_subgroup_between_test():
    ref = CASES["molloy_subgroup_design"]
    res = _fit(MZ, {"subgroup": "design"})
    table = res.subgroups.loc[ref["groups"]]
    _close(table["estimate"], ref["estimate"], ITERATIVE)
    _close(table["se"], ref["se"], ITERATIVE)
    _close(table["tau2"], ref["tau2"], ITERATIVE, atol=1e-12)
    assert table["k"].tolist() == ref["k"]
    _close(res.q_between, ref["Qb"], ITERATIVE)
    _close(res.q_between_p, ref["Qb_p"], ITERATIVE)
    assert res.q_between_df == ref["Qb_df"]
