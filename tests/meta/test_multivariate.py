"""Multilevel and multivariate models against metafor 3.8-1 rma.mv and clubSandwich 0.5.8.

Structured random effects (UN, CS, HCS, AR), a full sampling covariance V, crossed factors,
weights, fixed and single-level components, profile-likelihood CIs, likelihood-ratio tests,
influence diagnostics, BLUPs and CR0/CR1/CR1p/CR2 inference. Reference values:
tests/reference/meta/multivariate.R -> multivariate.json; every case is consumed (asserted).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning, DataQualityWarning, MetaAnalysisError
from alliancestats.meta import blup, influence, meta_analysis, meta_lrt, ranef
from alliancestats.meta.compare import n_parameters

REF_DIR = Path(__file__).parents[1] / "reference" / "meta"
REF = json.loads((REF_DIR / "multivariate.json").read_text())
CASES: dict[str, Any] = REF["cases"]
DATA = REF["data"]

# metafor's nlminb stops at rel.tol = 1e-10 on the (restricted) log-likelihood, which leaves
# variance components ~1e-6 relative from the optimum; everything downstream inherits that
MULTILEVEL = 1e-5
# Berkey's 5 trials give a flat REML surface: metafor's nlminb, optim(BFGS) and nlm stop at
# variance components 1e-5 apart with log-likelihoods equal to 1e-11
FLAT = 3e-5
# profile-likelihood bounds: a root search on top of a refit at every trial value, both sides
PROFILE = 1e-4
# univariate Fisher scoring to 1e-12 on both sides
ITERATIVE = 1e-6


def _frame(name: str) -> pd.DataFrame:
    d = {k: v for k, v in DATA[name].items() if k != "V"}
    return pd.DataFrame(d)


BERKEY = _frame("berkey")
BERKEY_V = np.asarray(DATA["berkey"]["V"], float)
ISHAK = _frame("ishak")
ISHAK_V = np.asarray(DATA["ishak"]["V"], float)
CROSSED = _frame("crossed")
KON = pd.read_csv(REF_DIR / "data" / "konstantopoulos2011.csv")
KON_RANDOM = "~ 1 | district/school"
MOLLOY = pd.read_csv(REF_DIR / "data" / "molloy2014.csv")

BERKEY_ARGS = {"yi": "yi", "V": BERKEY_V, "mods": "~ outcome - 1", "random": "~ outcome | trial"}
MODEL_GRID: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {
    "berkey_UN": (BERKEY, {**BERKEY_ARGS, "struct": "UN"}),
    "berkey_CS": (BERKEY, {**BERKEY_ARGS, "struct": "CS"}),
    "berkey_HCS": (BERKEY, {**BERKEY_ARGS, "struct": "HCS"}),
    "berkey_UN_ML": (BERKEY, {**BERKEY_ARGS, "struct": "UN", "method": "ML"}),
    "berkey_UN_year": (
        BERKEY.assign(year_c=BERKEY["year"] - 1983),
        {**BERKEY_ARGS, "struct": "UN", "mods": "~ outcome + outcome:year_c - 1"},
    ),
    "berkey_V_only": (BERKEY, {"yi": "yi", "V": BERKEY_V, "mods": "~ outcome - 1"}),
    "ishak_AR": (
        ISHAK,
        {
            "yi": "yi",
            "V": ISHAK_V,
            "mods": "~ C(time) - 1",
            "random": "~ time | study",
            "struct": "AR",
        },
    ),  # fmt: skip
    "crossed": (CROSSED, {"random": ["~ 1 | study", "~ 1 | instrument"]}),
    "konst_weights": (KON, {"random": KON_RANDOM, "weights": 1 / KON["vi"]}),
    "konst_fixed_sigma2": (KON, {"random": KON_RANDOM, "sigma2": [0, None]}),
    "konst_single_level": (KON.assign(one=1), {"random": "~ 1 | one/district"}),
}
PROFILE_GRID = {
    "ishak_AR": "ishak_AR",
    "crossed": "crossed",
    "konst_profile": (KON, {"random": KON_RANDOM}),
}
OTHER = {
    "berkey_UN_ranef", "konst_lrt_sigma2", "konst_lrt_moderator_ML", "konst_influence",
    "konst_influence_district", "konst_ranef", "konst_year_CR0", "konst_year_CR1",
    "konst_year_CR1p", "konst_year_CR2", "molloy_PL", "molloy_lrt_tau2",
    "molloy_lrt_moderators_ML", "molloy_blup", "molloy_ranef",
}  # fmt: skip


def _fit(data: pd.DataFrame, kwargs: dict[str, Any]):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)  # single-level: tested below
        return meta_analysis(data, **kwargs)


def _close(actual: Any, expected: Any, rtol: float, atol: float = 1e-10) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, float), np.asarray(expected, float), rtol=rtol, atol=atol
    )


def _close_scaled(actual: Any, expected: Any, rtol: float) -> None:
    """Relative to the largest value: for differences of two fits (Cook's D, BLUPs near 0)."""
    expected = np.asarray(expected, float)
    _close(actual, expected, rtol, atol=rtol * float(np.nanmax(np.abs(expected))))


def _close_p(p: Any, ref: Any, z: Any, rtol: float) -> None:
    """p values: a relative error e in z moves a tail p by about z² e relatively."""
    z = np.asarray(z, float)
    _close(p, ref, rtol * max(1.0, float(np.max(z**2))), atol=1e-15)


def test_reference_grid_is_complete():
    covered = set(MODEL_GRID) | (set(PROFILE_GRID) - set(MODEL_GRID)) | OTHER
    assert covered == set(CASES), sorted(set(CASES) ^ covered)
    assert REF["versions"]["metafor"] == "3.8.1"
    assert REF["versions"]["clubSandwich"] == "0.5.8"


@pytest.mark.parametrize("name", sorted(MODEL_GRID))
def test_model_matches_rma_mv(name):
    ref = CASES[name]
    res = _fit(*MODEL_GRID[name])
    tol = FLAT if name.startswith("berkey") else MULTILEVEL
    assert res.k == ref["k"] and res.p == ref["p"]
    for ours, theirs in (
        ("estimate", "beta"),
        ("se", "se"),
        ("ci_low", "ci_lb"),
        ("ci_high", "ci_ub"),
    ):
        _close(res.table[ours], ref[theirs], tol)
    _close(res.table["z"], ref["zval"], tol)
    _close_p(res.table["p"], ref["pval"], res.table["z"], tol)
    _close(res.q, ref["QE"], 1e-8)  # Q_E does not depend on the variance components
    # the likelihood not maximised (ML of a REML fit) moves to first order with the ~1e-6
    # error of metafor's variance components: compare on an absolute 1e-5 scale
    fs = res.fit_stats
    _close(fs.loc["ll", ["ML", "REML"]], [ref["ll_ML"], ref["ll_REML"]], 0, atol=1e-5)
    _close(fs.loc["dev", "ML"], ref["dev_ML"], 0, atol=2e-5)
    for row in ("AIC", "BIC", "AICc"):
        _close(fs.loc[row, ["ML", "REML"]], ref[row], 0, atol=2e-5)
    assert n_parameters(res) == ref["parms"]
    _close(res.weights, ref["weights"], tol)
    comps = res.components
    if "sigma2" in ref:
        _close(res.sigma2, ref["sigma2"], MULTILEVEL, atol=1e-9)
        assert list(res.n_groups) == ref["s_nlevels"]
    if "tau2" in ref:
        tau2 = comps.loc[comps.index.str.startswith("tau^2"), "estimate"]
        _close(tau2, ref["tau2"], tol)
        rho = comps.loc[comps.index.str.startswith("rho"), "estimate"]
        _close(rho, ref["rho"], tol)
    if "QM" in ref:
        _close(res.qm, ref["QM"], tol)
        _close_p(res.qm_p, ref["QMp"], np.sqrt(res.qm), tol)
    if "pi_lb" in ref:
        _close([res.pi_low, res.pi_high], [ref["pi_lb"], ref["pi_ub"]], tol)


def test_single_level_factor_is_fixed_at_zero_with_a_warning():
    # the variance of a one-level factor used to be estimated (SE 0.132 instead of 0.058)
    with pytest.warns(DataQualityWarning, match=r"Single-level factor.*\(one\).*fixed at 0"):
        res = meta_analysis(KON.assign(one=1), random="~ 1 | one/district")
    assert res.sigma2[0] == 0.0 and bool(res.components["fixed"].iloc[0])
    two_level = meta_analysis(KON, random="~ 1 | district")
    assert res.se == pytest.approx(two_level.se, rel=MULTILEVEL)


@pytest.mark.parametrize("name", sorted(PROFILE_GRID))
def test_profile_likelihood_intervals(name):
    spec = PROFILE_GRID[name]
    data, kwargs = MODEL_GRID[spec] if isinstance(spec, str) else spec
    ci = _fit(data, kwargs).confint()
    ref = CASES[name] if name == "konst_profile" else CASES[name]["profile"]
    for comp, values in ref.items():
        if comp.startswith(("sigma.", "tau")) and not comp.startswith("tau^2"):
            continue  # square roots of the variance rows
        _close(ci.loc[comp], values, PROFILE)


def test_univariate_profile_likelihood_interval():
    ci = meta_analysis(MOLLOY, r="ri", n="ni").confint(type="PL")
    ref = CASES["molloy_PL"]
    _close(ci.loc["tau2"], ref["tau2"], PROFILE)
    _close(ci.loc["tau"], ref["tau"], PROFILE)


def _check_lrt(out: pd.DataFrame, ref: dict[str, Any], tol: float) -> None:
    _close(out.loc["reduced", "LRT"], ref["LRT"], tol)
    _close(out.loc["reduced", "p"], ref["pval"], tol)
    assert out.loc["full", "df"] == ref["parms_f"] and out.loc["reduced", "df"] == ref["parms_r"]
    _close(out.loc[["full", "reduced"], "AIC"], [ref["AIC_f"], ref["AIC_r"]], tol)
    _close(out.loc[["full", "reduced"], "BIC"], [ref["BIC_f"], ref["BIC_r"]], tol)
    _close(out.loc[["full", "reduced"], "loglik"], [ref["ll_f"], ref["ll_r"]], tol)
    if ref.get("R2") is not None:
        _close(out.attrs["r2"], ref["R2"], tol)


def test_lrt_of_a_variance_component():
    full = meta_analysis(KON, random=KON_RANDOM)
    reduced = meta_analysis(KON, random=KON_RANDOM, sigma2=[0, None])
    _check_lrt(meta_lrt(full, reduced), CASES["konst_lrt_sigma2"], MULTILEVEL)


def test_lrt_of_a_moderator_by_ml():
    full = meta_analysis(
        KON.assign(y=KON["year"] - 1990), random=KON_RANDOM, mods="~ y", method="ML"
    )
    null = meta_analysis(KON, random=KON_RANDOM, method="ML")
    _check_lrt(meta_lrt(null, full), CASES["konst_lrt_moderator_ML"], MULTILEVEL)  # order-free


def test_univariate_lrts():
    full = meta_analysis(MOLLOY, r="ri", n="ni")
    _check_lrt(meta_lrt(full, full.refit(tau2=0.0)), CASES["molloy_lrt_tau2"], ITERATIVE)
    mods = meta_analysis(MOLLOY, r="ri", n="ni", mods="~ meanage + quality", method="ML")
    null = meta_analysis(MOLLOY, r="ri", n="ni", method="ML")
    _check_lrt(meta_lrt(mods, null), CASES["molloy_lrt_moderators_ML"], ITERATIVE)


def test_lrt_refuses_incomparable_models():
    a = meta_analysis(MOLLOY, r="ri", n="ni", mods="~ meanage")
    b = meta_analysis(MOLLOY, r="ri", n="ni")
    with pytest.raises(MetaAnalysisError, match="refit=True"):
        meta_lrt(a, b)
    assert meta_lrt(a, b, refit=True).loc["reduced", "p"] > 0
    with pytest.raises(MetaAnalysisError, match="same effect sizes"):
        meta_lrt(a, meta_analysis(MOLLOY.iloc[:10], r="ri", n="ni", tau2=0))


def test_three_level_influence_by_row():
    ref = CASES["konst_influence"]
    infl = influence(meta_analysis(KON, random=KON_RANDOM))
    _close_scaled(infl["cook_d"], ref["cook_d"], MULTILEVEL)
    _close_scaled(infl["dfbetas"], ref["dfbetas"], MULTILEVEL)
    _close(infl["hat"], ref["hat"], MULTILEVEL)
    _close_scaled(infl["rstudent"], ref["rstudent"], MULTILEVEL)


def test_three_level_influence_by_cluster():
    ref = CASES["konst_influence_district"]
    infl = influence(meta_analysis(KON, random=KON_RANDOM), cluster="district")
    assert list(infl.index) == ref["cluster"]
    _close_scaled(infl["cook_d"], ref["cook_d"], MULTILEVEL)
    _close_scaled(infl["dfbetas"], ref["dfbetas"], MULTILEVEL)
    _close_scaled(infl["X2"], ref["X2"], MULTILEVEL)
    assert infl["k"].tolist() == ref["k"]


def test_three_level_ranef():
    out = ranef(meta_analysis(KON, random=KON_RANDOM))
    for term, ref in CASES["konst_ranef"].items():
        table = out[term].loc[ref["level"]]
        _close_scaled(table["pred"], ref["pred"], MULTILEVEL)
        _close(table["se"], ref["se"], MULTILEVEL)
        _close(table["pi_low"], ref["pi_lb"], MULTILEVEL)
        _close(table["pi_high"], ref["pi_ub"], MULTILEVEL)


def test_structured_ranef():
    ref = CASES["berkey_UN_ranef"]
    table = ranef(_fit(*MODEL_GRID["berkey_UN"]))["outcome | trial"]
    ours = table.loc[[" | ".join(x.split(" | ")) for x in ref["level"]]]
    _close_scaled(ours["pred"], ref["pred"], MULTILEVEL)
    _close(ours["se"], ref["se"], MULTILEVEL)


def test_univariate_blup_and_ranef():
    res = meta_analysis(MOLLOY, r="ri", n="ni")
    for got, ref in ((blup(res), CASES["molloy_blup"]), (ranef(res), CASES["molloy_ranef"])):
        _close(got["pred"], ref["pred"], ITERATIVE, atol=1e-12)
        _close(got["se"], ref["se"], ITERATIVE)
        _close(got["pi_low"], ref["pi_lb"], ITERATIVE)
        _close(got["pi_high"], ref["pi_ub"], ITERATIVE)


@pytest.mark.parametrize("kind", ["CR0", "CR1", "CR1p", "CR2"])
def test_cluster_robust_types_match_clubsandwich(kind):
    ref = CASES[f"konst_year_{kind}"]
    res = meta_analysis(
        KON.assign(y=KON["year"] - 1990), random=KON_RANDOM, mods="~ y", robust="district",
        robust_type=kind,
    )  # fmt: skip
    _close(res.table["estimate"], ref["beta"], MULTILEVEL)
    _close(res.table["se"], ref["se"], MULTILEVEL)
    _close(res.table["t"], ref["tstat"], MULTILEVEL)
    _close(res.table["df"], ref["df"], MULTILEVEL)
    _close(res.table["p"], ref["pval"], MULTILEVEL)
    _close([res.qm, res.qm_df[1], res.qm_p], [ref["F"], ref["df_denom"], ref["F_p"]], MULTILEVEL)
    assert res.robust_type == kind and f"{kind} robust SEs" in res.apa()
