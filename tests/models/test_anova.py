"""MixedResult.anova (lmerTest's type III / type I F tests with Satterthwaite df) against
pinned lmerTest 3.1-3 results (tests/reference/lmm/lmm_review_cases.R -> lmm_review_cases.json)."""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    AllianceStatsWarning,
    DataQualityWarning,
    ModelSpecificationError,
)
from alliancestats.models import glmm, lmm
from alliancestats.models.anova import combine_ddf

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((REF_DIR / "lmm_review_cases.json").read_text())

CASES = [
    "sites",
    "sites_slope",
    "ham",
    "orthodont",
    "sites_threeway",
    "sites_no_intercept",
    "sites_missing_cell",
]
KEYS = [f"{c}_{m}" for c in CASES for m in ("REML", "ML")]

TOL_F = 1e-2  # F depends on theta (two optimisers' optima differ by ~1e-5)
TOL_DF = 1e-2  # den df rest on numerical second derivatives in both programs (5e-4 seen)
TOL_P = 1e-2  # p follows from F and df; compared relative to max(p, 1e-3)


@cache
def read_data(name: str) -> pd.DataFrame:
    d = pd.read_csv(REF_DIR / "data" / name)
    if name == "ham.csv":  # R factors with numeric labels
        for col in ["Consumer", "Product", "Information", "Gender"]:
            d[col] = d[col].astype(str)
    return d


@cache
def fit(key: str):
    ref = REF["anova"][key]
    d = read_data(ref["data"])
    if ref.get("drop") == "west:intervention":
        d = d[~((d["site"] == "west") & (d["arm"] == "intervention"))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return lmm(ref["formula"], d, reml=ref["reml"])


def test_reference_grid_is_complete():
    assert sorted(REF["anova"]) == sorted(KEYS)
    for key in KEYS:
        assert set(REF["anova"][key]) >= {"type3", "type1", "formula", "reml"}
    assert REF["meta"]["lmerTest"] == "3.1.3"


@pytest.mark.parametrize("anova_type", [3, 1])
@pytest.mark.parametrize("key", KEYS)
def test_anova_matches_lmertest(key, anova_type):
    ref = pd.DataFrame(REF["anova"][key][f"type{anova_type}"]).set_index("term")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)  # missing cells (tested below)
        tab = fit(key).anova(type=anova_type)
    assert list(tab.index) == list(ref.index)
    assert tab["num_df"].tolist() == ref["num_df"].astype(int).tolist()
    np.testing.assert_allclose(tab["F"], ref["F"], rtol=TOL_F)
    np.testing.assert_allclose(tab["den_df"], ref["den_df"], rtol=TOL_DF)
    np.testing.assert_allclose(tab["sum_sq"], ref["sum_sq"], rtol=TOL_F)
    np.testing.assert_allclose(tab["mean_sq"], ref["mean_sq"], rtol=TOL_F)
    p_ref = ref["p"].to_numpy(float)
    assert np.all(np.abs(tab["p"].to_numpy() - p_ref) <= TOL_P * np.maximum(p_ref, 1e-3))


def test_single_df_terms_agree_with_t_tests():
    # a 1-df F test is the squared t test of the same coefficient (type III, treatment coding)
    res = fit("orthodont_REML")
    tab = res.anova()
    row = res.fixed.loc["age:SexMale"]
    assert tab.loc["age:Sex", "F"] == pytest.approx(row["t"] ** 2, rel=1e-10)
    assert tab.loc["age:Sex", "den_df"] == pytest.approx(row["df"], rel=1e-10)


def test_type3_does_not_depend_on_term_order():
    d = read_data("review_sites.csv")
    a = fit("sites_REML").anova()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        b = lmm("pain ~ arm + site * session + (1 | patient) + (1 | therapist)", d).anova()
    b = b.rename(index={"site:session": "session:site"}).loc[a.index]
    np.testing.assert_allclose(b["F"], a["F"], rtol=1e-6)  # same model, other column order


def test_combine_ddf_rules():
    assert combine_ddf(np.array([7.5])) == 7.5
    assert combine_ddf(np.array([1.5, 30.0])) == 2.0  # any nu <= 2 gives 2, as lmerTest
    nu = np.array([10.0, 30.0])
    e = np.sum(nu / (nu - 2))
    assert combine_ddf(nu) == pytest.approx(2 * e / (e - 2))


def test_anova_bad_arguments():
    res = fit("sites_REML")
    with pytest.raises(ModelSpecificationError, match="type must be 1 or 3"):
        res.anova(type=2)
    with pytest.raises(ModelSpecificationError, match="ddf must be one of"):
        res.anova(ddf="Welch")


def test_anova_refuses_glmm():
    d = read_data("review_sites.csv").assign(high=lambda x: (x["pain"] > 6).astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        res = glmm("high ~ session + site + (1 | patient)", d, family="binomial")
    with pytest.raises(ModelSpecificationError, match="linear mixed models"):
        res.anova()


def test_intercept_only_model_has_empty_table():
    d = read_data("review_sites.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        tab = lmm("pain ~ 1 + (1 | patient)", d).anova()
    assert tab.empty and list(tab.columns) == ["sum_sq", "mean_sq", "num_df", "den_df", "F", "p"]


def test_missing_cells_are_reported_for_type3():
    # lmerTest prints "Missing cells for: ... Interpret type III hypotheses with care."
    with pytest.warns(DataQualityWarning, match="missing cells"):
        fit("sites_missing_cell_REML").anova(type=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        fit("sites_REML").anova(type=3)  # all cells observed: no warning


@pytest.mark.parametrize("anova_type", [3, 1])
def test_aliased_term_has_zero_df_row(anova_type):
    d = read_data("review_sites.csv").assign(s2=lambda x: 2 * x["session"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        tab = lmm("pain ~ session + s2 + site + (1 | patient)", d).anova(type=anova_type)
    assert list(tab.index) == ["session", "s2", "site"]
    assert tab.loc["s2", "num_df"] == 0 and np.isnan(tab.loc["s2", "F"])
    assert tab.loc["site", "num_df"] == 2 and np.isfinite(tab.loc["site", "F"])
