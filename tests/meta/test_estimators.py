"""τ² estimators GENQ/DLIT/SJIT/PMM, user weights, test='adhoc', fixed τ², Mantel-Haenszel, Peto.

Reference values: tests/reference/meta/estimators.R -> estimators.json (metafor 3.8-1);
every case is consumed (asserted).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning, DroppedRowsWarning, MetaAnalysisError
from alliancestats.meta import effect_sizes, mantel_haenszel, meta_analysis, peto

REF_DIR = Path(__file__).parents[1] / "reference" / "meta"
REF = json.loads((REF_DIR / "estimators.json").read_text())
CASES: dict[str, Any] = REF["cases"]
MOLLOY = effect_sizes(pd.read_csv(REF_DIR / "data" / "molloy2014.csv"), r="ri", n="ni")
BCG_RAW = pd.read_csv(REF_DIR / "data" / "bcg.csv")
BCG = effect_sizes(BCG_RAW, measure="RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
LI = pd.DataFrame(REF["data"]["li2007"])
HART = pd.DataFrame(REF["data"]["hart1999"])
BD = pd.DataFrame(CASES["bangertdrowns_fixed_tau2"]["data"])

# closed forms (GENQ, DL with fixed τ², MH, Peto, weights given τ²): round-off only
CLOSED = 1e-9
# iterative estimators, both sides run to ~1e-12 (p values of tiny size are looser, below)
ITERATIVE = 1e-6

UNI_GRID: dict[str, tuple[pd.DataFrame, dict[str, Any], float]] = {
    "molloy_DLIT": (MOLLOY, {"method": "DLIT"}, ITERATIVE),
    "bcg_DLIT": (BCG, {"method": "DLIT"}, ITERATIVE),
    "molloy_SJIT": (MOLLOY, {"method": "SJIT"}, ITERATIVE),
    "bcg_SJIT": (BCG, {"method": "SJIT"}, ITERATIVE),
    "molloy_PMM": (MOLLOY, {"method": "PMM"}, ITERATIVE),
    "bcg_PMM": (BCG, {"method": "PMM"}, ITERATIVE),
    "molloy_GENQ": (MOLLOY, {"method": "GENQ", "weights": "ni"}, CLOSED),
    "bcg_GENQ_ablat": (
        BCG.assign(w=1 / BCG["vi"]),
        {"method": "GENQ", "weights": "w", "mods": "~ ablat"},
        CLOSED,
    ),
    "molloy_weights_ni": (MOLLOY, {"weights": "ni"}, ITERATIVE),
    "bcg_weights_ablat": (
        BCG.assign(w=1 / np.sqrt(BCG["vi"])),
        {"weights": "w", "mods": "~ ablat"},
        ITERATIVE,
    ),
    "molloy_adhoc": (MOLLOY, {"test": "adhoc"}, ITERATIVE),
    "bcg_adhoc_ablat": (BCG, {"test": "adhoc", "mods": "~ ablat"}, ITERATIVE),
    "bangertdrowns_fixed_tau2": (BD, {"mods": "~ length", "tau2": 0.02, "test": "knha"}, CLOSED),
    "molloy_fixed_tau2_DL": (MOLLOY, {"tau2": 0.01, "method": "DL"}, CLOSED),
}
MH_GRID = {
    "mh_bcg_OR": (
        BCG_RAW,
        {"measure": "OR", "ai": "tpos", "bi": "tneg", "ci": "cpos", "di": "cneg"},
    ),
    "mh_bcg_RR": (
        BCG_RAW,
        {"measure": "RR", "ai": "tpos", "bi": "tneg", "ci": "cpos", "di": "cneg"},
    ),
    "mh_bcg_RD": (
        BCG_RAW,
        {"measure": "RD", "ai": "tpos", "bi": "tneg", "ci": "cpos", "di": "cneg"},
    ),
    "mh_li2007_OR": (LI, {"measure": "OR", "ai": "ai", "n1i": "n1i", "ci": "ci", "n2i": "n2i"}),
    "mh_li2007_RR": (LI, {"measure": "RR", "ai": "ai", "n1i": "n1i", "ci": "ci", "n2i": "n2i"}),
    "mh_li2007_RD": (LI, {"measure": "RD", "ai": "ai", "n1i": "n1i", "ci": "ci", "n2i": "n2i"}),
    "mh_hart1999_IRR": (
        HART,
        {"measure": "IRR", "x1i": "x1i", "t1i": "t1i", "x2i": "x2i", "t2i": "t2i"},
    ),
    "mh_hart1999_IRD": (
        HART,
        {"measure": "IRD", "x1i": "x1i", "t1i": "t1i", "x2i": "x2i", "t2i": "t2i"},
    ),
}
PETO_GRID = {
    "peto_bcg": (BCG_RAW, {"ai": "tpos", "bi": "tneg", "ci": "cpos", "di": "cneg"}),
    "peto_li2007": (LI, {"ai": "ai", "n1i": "n1i", "ci": "ci", "n2i": "n2i"}),
}


def _close(actual: Any, expected: Any, rtol: float, atol: float = 1e-12) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, float), np.asarray(expected, float), rtol=rtol, atol=atol
    )


def _vec(*values: Any) -> np.ndarray:
    """Concatenate scalars and lists from the JSON (jsonlite unboxes length-1 vectors)."""
    return np.concatenate([np.atleast_1d(np.asarray(v, float)) for v in values])


def test_reference_grid_is_complete():
    assert set(UNI_GRID) | set(MH_GRID) | set(PETO_GRID) == set(CASES)
    assert REF["versions"]["metafor"] == "3.8.1"


@pytest.mark.parametrize("name", sorted(UNI_GRID))
def test_univariate_fit(name):
    data, kwargs, tol = UNI_GRID[name]
    ref = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        res = meta_analysis(data, **kwargs)
    _close(res.beta, ref["beta"], tol)
    _close(res.table["se"], ref["se"], tol)
    stat = "z" if "z" in res.table.columns else "t"
    _close(res.table[stat], ref["zval"], tol)
    _close(res.table["p"], ref["pval"], max(tol, 1e-8), atol=1e-15)
    _close(res.table[["ci_low", "ci_high"]].T.values.ravel(), _vec(ref["ci_lb"], ref["ci_ub"]), tol)
    _close(res.tau2, ref["tau2"], tol)
    if ref.get("se_tau2") is not None:
        _close(res.se_tau2, ref["se_tau2"], tol)
    _close([res.i2, res.h2, res.q], [ref["I2"], ref["H2"], ref["QE"]], tol)
    _close(res.weights, ref["weights"], tol)
    _close(res.fit_stats.loc["ll", ["ML", "REML"]], [ref["ll_ML"], ref["ll_REML"]], tol)
    if "pi_lb" in ref:
        _close([res.pi_low, res.pi_high], [ref["pi_lb"], ref["pi_ub"]], tol)
    if "QM" in ref:
        _close([res.qm, res.qm_p], [ref["QM"], ref["QMp"]], tol)
    if ref.get("R2") is not None:
        _close(res.r2, ref["R2"], tol)


def test_r2_and_se_of_a_fixed_tau2_are_reported():
    # r2 used to be NaN with a user-fixed tau^2 (metafor: 56.95% for Bangert-Drowns ~ length)
    with pytest.warns(DroppedRowsWarning, match="2 studies"):  # two studies lack length
        res = meta_analysis(BD, mods="~ length", tau2=0.02, test="knha")
    assert res.r2 == pytest.approx(56.9537818876357, rel=1e-6)  # iterative tau2 of the RE model
    assert np.isfinite(res.se_tau2)


def test_genq_needs_weights():
    with pytest.raises(MetaAnalysisError, match="GENQ"):
        meta_analysis(MOLLOY, method="GENQ")


def _check_pooled(res: Any, ref: dict[str, Any]) -> None:
    """Estimate, SE, CI and heterogeneity of a common-effect fit (closed forms)."""
    _close(
        [res.estimate, res.se, res.ci_low, res.ci_high],
        _vec(ref["beta"], ref["se"], ref["ci_lb"], ref["ci_ub"]),
        CLOSED,
    )
    _close(res.table["p"], ref["pval"], CLOSED, atol=1e-15)
    _close([res.q, res.q_p, res.i2, res.h2], [ref["QE"], ref["QEp"], ref["I2"], ref["H2"]], CLOSED)


@pytest.mark.parametrize("name", sorted(MH_GRID))
def test_mantel_haenszel(name):
    data, kwargs = MH_GRID[name]
    ref = CASES[name]
    res = mantel_haenszel(data, **kwargs)
    _check_pooled(res, ref)
    assert res.k == ref["k_yi"] and res.extras["k_tables"] == ref["k"]
    _close(res.fit_stats.loc["ll", ["ML", "REML"]], [ref["ll_ML"], ref["ll_REML"]], CLOSED)
    if ref.get("MH") is not None:
        _close([res.extras["cmh"], res.extras["cmh_p"]], [ref["MH"], ref["MHp"]], CLOSED)
    if ref.get("TA") is not None:
        _close([res.extras["tarone"], res.extras["tarone_p"]], [ref["TA"], ref["TAp"]], CLOSED)
        _close(
            [res.extras["breslow_day"], res.extras["breslow_day_p"]],
            [ref["BD"], ref["BDp"]],
            CLOSED,
        )
    if res.k == ref["k"]:
        _close(res.weights, ref["weights"], CLOSED, atol=1e-12)


@pytest.mark.parametrize("name", sorted(PETO_GRID))
def test_peto(name):
    data, kwargs = PETO_GRID[name]
    ref = CASES[name]
    res = peto(data, **kwargs)
    _check_pooled(res, ref)
    _close(res.weights, ref["weights"], CLOSED, atol=1e-12)
    _close(res.fit_stats.loc["ll", "ML"], ref["ll_ML"], CLOSED)
    assert res.apa().startswith("OR = ")  # Peto's odds ratio, back-transformed


def test_mantel_haenszel_reports_and_refuses():
    res = mantel_haenszel(BCG_RAW, measure="OR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
    assert "Mantel-Haenszel" in res.summary()
    with pytest.raises(MetaAnalysisError, match="no model specification"):
        res.refit(method="REML")
    with pytest.raises(MetaAnalysisError, match="measure must be one of"):
        mantel_haenszel(BCG_RAW, measure="SMD", ai="tpos", bi="tneg", ci="cpos", di="cneg")
