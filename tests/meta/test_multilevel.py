"""Three-level models and CR2 inference beyond the pinned metafor grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import DataQualityWarning, MetaAnalysisError
from alliancestats.meta import meta_analysis
from alliancestats.meta.multilevel import build_model
from alliancestats.meta.random_effects import parse_random
from alliancestats.meta.robust import cr2_vcov

DATA = Path(__file__).parents[1] / "reference" / "meta" / "data"


@pytest.fixture(scope="module")
def assink() -> pd.DataFrame:
    return pd.read_csv(DATA / "assink2016.csv")


def _simulated(seed: int = 1, within: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for study in range(12):
        u = rng.normal(0, 0.3)
        for es in range(int(rng.integers(1, 5))):
            v = rng.uniform(0.01, 0.05)
            rows.append(
                {
                    "study": f"s{study}",
                    "es": es,
                    "vi": v,
                    "yi": 0.3 + u + rng.normal(0, np.sqrt(within)) + rng.normal(0, np.sqrt(v)),
                }
            )
    return pd.DataFrame(rows)


def test_parse_random_forms():
    assert parse_random("~ 1 | study/es").columns == ["study", "es"]
    assert parse_random("1|study").nested[0].columns == ("study",)
    assert parse_random(("a", "b")).nested[0].level_labels() == ["a", "a/b"]
    crossed = parse_random(["~ 1 | study", "~ 1 | lab"])
    assert [t.columns for t in crossed.nested] == [("study",), ("lab",)]
    structured = parse_random("~ outcome | trial", struct="HCS").structured[0]
    assert (structured.inner, structured.outer, structured.struct) == ("outcome", "trial", "HCS")
    with pytest.raises(MetaAnalysisError, match="Cannot read"):
        parse_random("~ study")
    with pytest.raises(MetaAnalysisError, match="struct must be one of"):
        parse_random("~ x | study", struct="XYZ")


def test_level_specific_i2_and_interface(assink):
    res = meta_analysis(assink, random=("study", "esid"))
    assert res.i2_levels.sum() == pytest.approx(res.i2)
    assert res.tau2 == pytest.approx(res.sigma2.sum())
    assert res.n_groups == (17, 100)
    assert res.weights.sum() == pytest.approx(100.0)
    text = res.summary()
    assert "sigma^2.1" in text and "study/esid" in text
    assert list(res.components.index) == ["sigma^2.1", "sigma^2.2"]
    assert "σ²1 = 0.188" in res.apa()


def test_reml_optimum_is_a_maximum_on_the_boundary():
    # no within-study heterogeneity: sigma^2_2 should sit at (or very near) zero
    df = _simulated(seed=3, within=0.0)
    res = meta_analysis(df, random="~ 1 | study/es")
    assert np.all(res.sigma2 >= 0)
    model, _ = build_model(res.spec)
    best = model.evaluate(res.theta, reml=True)["ll"]
    for delta in ([1e-4, 0], [-1e-4, 0], [0, 1e-4], [0, -1e-4]):
        trial = res.theta + np.array(delta)
        if np.all(trial >= 0):
            assert model.evaluate(trial, reml=True)["ll"] <= best + 1e-12


def test_three_level_collapses_to_fixed_effects_when_components_vanish():
    # identical effects within and between studies: both variance components are 0 and the
    # estimate is the inverse-variance mean
    df = pd.DataFrame(
        {
            "study": [1, 1, 2, 2, 3],
            "es": [1, 2, 1, 2, 1],
            "yi": [0.2] * 5,
            "vi": [0.01, 0.02, 0.03, 0.01, 0.02],
        }
    )
    res = meta_analysis(df, random="~ 1 | study/es")
    np.testing.assert_allclose(res.sigma2, 0.0, atol=1e-12)
    assert res.estimate == pytest.approx(0.2)


def test_ml_and_t_options(assink):
    ml = meta_analysis(assink, random="~ 1 | study/esid", method="ML")
    reml = meta_analysis(assink, random="~ 1 | study/esid")
    assert ml.sigma2[0] < reml.sigma2[0]  # ML shrinks variance components
    with pytest.warns(DataQualityWarning, match="no Knapp-Hartung rescaling"):
        t = meta_analysis(assink, random="~ 1 | study/esid", test="knha")
    assert t.test == "t" and t.df == 99
    with pytest.raises(MetaAnalysisError, match="REML"):
        meta_analysis(assink, random="~ 1 | study/esid", method="DL")


def test_refit_keeps_three_level_structure(assink):
    res = meta_analysis(assink, random="~ 1 | study/esid", robust=True)
    sub = res.refit(subset=assink["study"].to_numpy() != 1)
    direct = meta_analysis(assink[assink["study"] != 1], random="~ 1 | study/esid", robust="study")
    # same data, same algorithm
    np.testing.assert_allclose(sub.sigma2, direct.sigma2, rtol=1e-8)
    np.testing.assert_allclose(sub.table["se"], direct.table["se"], rtol=1e-8)


def test_robust_errors(assink):
    with pytest.raises(MetaAnalysisError, match="not nested"):
        meta_analysis(assink, random="~ 1 | study/esid", robust="deltype")
    one = assink.assign(all=1)
    with pytest.raises(MetaAnalysisError, match="two clusters"):
        meta_analysis(one, robust="all")
    with pytest.raises(MetaAnalysisError, match="robust=True"):
        meta_analysis(assink, robust=True)


def test_cr2_equals_hc2_type_correction_for_singletons():
    # one effect per cluster with a common-effect working model: CR2 reduces to the HC2 form
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(6), rng.normal(size=6)])
    v = rng.uniform(0.5, 1.5, 6)
    e = rng.normal(size=6)
    V = np.diag(v)
    out = cr2_vcov(X, e, V, np.arange(6))
    W = np.diag(1 / v)
    M = np.linalg.inv(X.T @ W @ X)
    h = np.diag(X @ M @ X.T @ W)
    meat = sum(np.outer(X[i], X[i]) * (e[i] / v[i]) ** 2 / (1 - h[i]) for i in range(6))
    np.testing.assert_allclose(out["vcov"], M @ meat @ M, rtol=1e-10)


def test_single_level_random_equals_univariate_reml(assink):
    # one random effect per row is the ordinary random-effects model
    uni = meta_analysis(assink)
    ml1 = meta_analysis(assink, random="~ 1 | id")
    # both iterate to ~1e-12 absolute change; only round-off differs
    assert ml1.sigma2[0] == pytest.approx(uni.tau2, rel=1e-8)
    assert ml1.estimate == pytest.approx(uni.estimate, rel=1e-8)
    assert ml1.se == pytest.approx(uni.se, rel=1e-8)
    assert ml1.i2 == pytest.approx(uni.i2, rel=1e-8)
