"""lmm() against pinned lme4 1.1-31 / lmerTest 3.1-3 results (tests/reference/lmm/).

Every case in lmm_reference.json is fitted once (module-level cache) and compared on the
criterion, log-likelihood, fixed effects, their SEs and Satterthwaite df, variance components,
singularity, conditional modes and conditional variances.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import lmm, lrt

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((REF_DIR / "lmm_reference.json").read_text())

CASES = [
    "sleepstudy",
    "sleepstudy_uncorr",
    "dyestuff",
    "pastes",
    "penicillin",
    "hsb82",
    "hsb82_sector",
    "orthodont_missing",
    "sim_unbalanced",
    "sim_arms",
    "sim_singular",
    "sim_function_uncorr",
    "sim_three_level",
    "sim_function_nested",
]
KEYS = [f"{c}_{m}" for c in CASES for m in ("REML", "ML")]

# the project's LMM tolerances; each relative unless stated
TOL_CRIT = 1e-6  # criterion / log-likelihood: both optimisers converge to ~1e-9
TOL_FIXED = 1e-4  # fixed effects, relative to max(1, |estimate|)
TOL_SE = 1e-3  # SEs depend on theta, which lme4's BOBYQA stops at to ~1e-5
TOL_VC = 1e-3  # SDs relative to max(|SD|, sigma) so boundary SDs compare on the data scale
TOL_DF = 1e-2  # Satterthwaite df rest on numerical second derivatives in both programs


@cache
def read_data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / name)


@cache
def fit(key: str):
    ref = REF["fits"][key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return lmm(ref["formula"], read_data(ref["data"]), reml=ref["reml"])


def frame(d: dict) -> pd.DataFrame:
    """A JSON table (jsonlite unboxes length-one columns to scalars)."""
    return pd.DataFrame({k: np.atleast_1d(np.asarray(v, dtype=object)) for k, v in d.items()})


def ours_better(key: str) -> bool:
    """True when our criterion is lower than lme4's beyond the tolerance (accepted, reported)."""
    ref = REF["fits"][key]
    return fit(key).deviance < ref["criterion"] - TOL_CRIT * abs(ref["criterion"])


def test_reference_grid_is_complete():
    assert sorted(REF["fits"]) == sorted(KEYS)
    assert sorted(REF["lrt"]) == ["sim_unbalanced", "sleepstudy"]
    assert sorted(REF["profile"]) == ["dyestuff", "sleepstudy"]
    assert REF["meta"]["lme4"] == "1.1.31"
    assert REF["meta"]["lmerTest"] == "3.1.3"
    # at least four simulated data sets, one of them singular in lme4
    sims = {REF["fits"][k]["data"] for k in KEYS if k.startswith("sim_")}
    assert len(sims) >= 4
    assert REF["fits"]["sim_singular_REML"]["singular"]
    assert REF["fits"]["sim_singular_ML"]["singular"]


@pytest.mark.parametrize("key", KEYS)
def test_criterion_and_loglik(key):
    ref = REF["fits"][key]
    m = fit(key)
    assert m.nobs == ref["nobs"]
    assert m.npar == ref["npar"]
    if ours_better(key):
        print(
            f"{key}: our criterion {m.deviance:.10g} is lower than lme4's {ref['criterion']:.10g}"
        )
        return
    assert m.deviance == pytest.approx(ref["criterion"], rel=TOL_CRIT)
    assert m.loglik == pytest.approx(ref["loglik"], rel=TOL_CRIT)
    assert m.aic == pytest.approx(ref["aic"], rel=TOL_CRIT)
    assert m.bic == pytest.approx(ref["bic"], rel=TOL_CRIT)
    assert m.ngroups == ref["ngroups"]


@pytest.mark.parametrize("key", KEYS)
def test_fixed_effects(key):
    ref = REF["fits"][key]
    m = fit(key)
    fx = frame(ref["fixed"]).set_index("term").astype(float)
    assert list(m.fixed.index) == list(fx.index)  # R-style names, same order
    scale = np.maximum(1.0, fx["estimate"].abs())
    np.testing.assert_array_less(np.abs(m.fixed["estimate"] - fx["estimate"]) / scale, TOL_FIXED)
    np.testing.assert_allclose(m.fixed["se"], fx["se"], rtol=TOL_SE)
    np.testing.assert_allclose(m.fixed["df"], fx["df"], rtol=TOL_DF)
    np.testing.assert_allclose(m.fixed["t"], fx["t"], rtol=TOL_SE)
    # p-values: compare on the log scale where they are tiny
    np.testing.assert_allclose(
        np.log(m.fixed["p"]), np.log(np.asarray(fx["p"], float)), rtol=1e-2, atol=1e-3
    )


@pytest.mark.parametrize("key", KEYS)
def test_variance_components(key):
    ref = REF["fits"][key]
    m = fit(key)
    vc = frame(ref["varcorr"]).astype({"vcov": float, "sdcor": float})
    ours = m.varcorr
    assert list(ours["grp"]) == list(vc["grp"])
    assert list(ours["var1"].fillna("-")) == list(vc["var1"].fillna("-"))
    assert list(ours["var2"].fillna("-")) == list(vc["var2"].fillna("-"))
    sigma = ref["sigma"]
    assert m.sigma == pytest.approx(sigma, rel=TOL_VC)
    is_sd = vc["var2"].isna().to_numpy()
    ref_sd = vc["sdcor"].to_numpy(float)
    our_sd = ours["sdcor"].to_numpy(float)
    tol = TOL_VC * np.maximum(np.abs(ref_sd), sigma)
    np.testing.assert_array_less(np.abs(our_sd - ref_sd)[is_sd], tol[is_sd])
    # correlations, where both SDs are clearly positive (otherwise undefined)
    for i in np.flatnonzero(~is_sd):
        g, v1, v2 = vc.loc[i, ["grp", "var1", "var2"]]
        sds = vc[(vc.grp == g) & vc.var2.isna() & vc.var1.isin([v1, v2])]["sdcor"]
        if (sds > 1e-3 * sigma).all():
            assert abs(our_sd[i] - ref_sd[i]) < 1e-3, (g, v1, v2)


@pytest.mark.parametrize("key", KEYS)
def test_singular_flag(key):
    ref = REF["fits"][key]
    m = fit(key)
    theta = np.asarray(ref["theta"], float)
    diag = np.asarray(ref["lower"], float) == 0
    borderline = np.any((theta[diag] > 1e-5) & (theta[diag] < 1e-3))
    if borderline:
        # lme4 stopped within a factor 10 of isSingular's 1e-4 tolerance: the flag is decided
        # by optimiser noise; both fits must then lie close to the boundary
        assert np.min(m.theta[diag]) < 1e-3
        print(f"{key}: lme4 theta {theta[diag].min():.2g} borderline for isSingular")
    else:
        assert m.singular == ref["singular"]
    assert m.converged


@pytest.mark.parametrize("key", ["sleepstudy_REML", "sim_unbalanced_REML", "pastes_ML"])
def test_conditional_modes_and_variances(key):
    ref = REF["fits"][key]
    m = fit(key)
    for grp, r in ref["ranef"].items():
        ours = m.ranef[grp]
        cols = list(np.atleast_1d(r["columns"]))
        assert list(ours.columns) == cols
        vals = np.asarray(r["values"], float).reshape(len(r["levels"]), len(cols))
        got = ours.loc[r["levels"]].to_numpy()
        scale = np.abs(vals).max(axis=0)
        np.testing.assert_allclose(got / scale, vals / scale, atol=1e-3)
        if r["condvar"] is not None:
            idx = ours.index.get_indexer(r["levels"])
            cv = np.asarray(r["condvar"], float).reshape(len(idx), len(cols), len(cols))
            np.testing.assert_allclose(m.cond_var[grp][idx], cv, rtol=2e-3, atol=1e-8)


@pytest.mark.parametrize("name", ["sleepstudy", "sim_unbalanced"])
def test_lrt_matches_anova(name):
    ref = REF["lrt"][name]
    data = read_data(REF["fits"][f"{name}_REML"]["data"])
    if "complete_cases" in ref:
        data = data.dropna(subset=ref["complete_cases"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        m0, m1 = (lmm(f, data) for f in ref["formulas"])
        tab = lrt(m1, m0)  # order does not matter: sorted by npar
    assert list(tab["npar"]) == ref["npar"]
    np.testing.assert_allclose(tab["loglik"], ref["loglik"], rtol=TOL_CRIT)
    np.testing.assert_allclose(tab["aic"], ref["aic"], rtol=TOL_CRIT)
    assert tab["chisq"].iloc[1] == pytest.approx(ref["chisq"][1], rel=1e-4)
    assert tab["df"].iloc[1] == ref["df"][1]
    assert tab["p"].iloc[1] == pytest.approx(ref["p"][1], rel=1e-3)
