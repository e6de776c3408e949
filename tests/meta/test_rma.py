"""Behaviour of meta_analysis / MetaResult beyond the pinned metafor grid."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import alliancestats as als
from alliancestats.errors import (
    DroppedRowsWarning,
    FormulaError,
    MetaAnalysisError,
    RankDeficiencyWarning,
)
from alliancestats.meta import MetaResult, effect_sizes, meta_analysis

# Same data, same algorithm, different call path: only round-off may differ.
SAME = 1e-10

# metafor 3.8-1 values: tests/reference/meta/edge_cases.R -> edge_cases.json
EDGE_CASES = json.loads(
    (Path(__file__).parents[1] / "reference" / "meta" / "edge_cases.json").read_text()
)["cases"]

YI = np.array([0.10, 0.30, 0.35, 0.65, 0.45, 0.15, 0.22, -0.05])
VI = np.array([0.03, 0.03, 0.05, 0.01, 0.05, 0.02, 0.04, 0.02])
MOD = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])


@pytest.fixture(scope="module")
def molloy() -> pd.DataFrame:
    return als.read_sample("molloy2014")


def test_molloy_sample_reproduces_published_pooled_r(molloy):
    res = meta_analysis(molloy, r="ri", n="ni", slab="study")
    pred = res.predict(transform="r").iloc[0]
    # Molloy et al. 2014 report r = .15 [.09, .21] (DOMAIN.md 4); metafor 3.8-1 with a tight
    # threshold: rma(yi, vi, method="REML") on Fisher z, predict(transf=transf.ztor)
    ref = EDGE_CASES["molloy2014_reml_r"]
    np.testing.assert_allclose(res.yi, ref["yi"], rtol=1e-12)  # atanh(r), same inputs as R
    bounds = {"ci_low": "ci_lb", "ci_high": "ci_ub", "pi_low": "pi_lb", "pi_high": "pi_ub"}
    for ours, key in {"pred": "pred", **bounds}.items():
        assert pred[ours] == pytest.approx(ref[key], rel=1e-5), key  # iterative REML tau2
    assert res.tau2 == pytest.approx(ref["tau2"], rel=1e-5)  # iterative REML
    assert res.i2 == pytest.approx(ref["i2"], rel=1e-5)  # depends on iterative tau2
    assert res.q == pytest.approx(ref["q"], rel=1e-8)  # closed form, independent of tau2
    assert res.apa().startswith("r = .15, 95% CI [.09, .21], k = 16")
    assert res.labels[0] == "Axelsson et al. (2009)"


def test_result_carries_interface_attributes(molloy):
    res = meta_analysis(molloy, r="ri", n="ni", mods="~ meanage")
    assert isinstance(res, MetaResult)
    for name in ("yi", "vi", "X", "weights", "fitted", "residuals"):
        assert isinstance(getattr(res, name), np.ndarray), name
    assert res.X.shape == (16, 2) and res.mod_names == ["(Intercept)", "meanage"]
    assert res.weights.sum() == pytest.approx(100.0)
    np.testing.assert_allclose(res.fitted + res.residuals, res.yi, rtol=SAME)
    assert {"yi", "vi", "meanage", "authors"} <= set(res.data.columns)
    assert res.measure == "ZCOR" and res.method == "REML" and res.test == "z"
    assert list(res.table.columns) == ["estimate", "se", "z", "df", "p", "ci_low", "ci_high"]
    assert res.table.index.tolist() == ["(Intercept)", "meanage"]
    assert res.qe == res.q and res.qe_p == res.q_p
    assert np.isnan(res.pi_low)  # use predict() with moderators


def test_refit_on_subset_equals_direct_fit():
    res = meta_analysis(yi=YI, vi=VI, mods=MOD)
    keep = np.array([True, True, False, True, True, True, False, True])
    sub = res.refit(subset=keep)
    direct = meta_analysis(yi=YI[keep], vi=VI[keep], mods=MOD[keep])
    np.testing.assert_allclose(sub.beta, direct.beta, rtol=SAME)
    assert sub.tau2 == pytest.approx(direct.tau2, rel=SAME)
    assert sub.refit(subset=[0, 1, 2]).k == 3
    assert list(sub.labels) == [lab for lab, k in zip(res.labels, keep, strict=True) if k]


def test_refit_changes_settings():
    res = meta_analysis(yi=YI, vi=VI)
    fe = res.refit(method="FE")
    assert fe.tau2 == 0.0 and fe.method == "FE"
    shifted = res.refit(yi=YI + 1.0)
    assert shifted.estimate == pytest.approx(res.estimate + 1.0, rel=SAME)
    knha = res.refit(test="knha")
    assert "t" in knha.table.columns and knha.df == len(YI) - 1
    with pytest.raises(MetaAnalysisError, match="cannot change"):
        res.refit(mods="~ x")


def test_refit_drops_moderator_column_without_variation():
    df = pd.DataFrame({"yi": YI, "vi": VI, "g": list("aabbaabb")})
    res = meta_analysis(df, mods="~ g")
    with pytest.warns(RankDeficiencyWarning, match="g"):
        sub = res.refit(subset=(df["g"] == "a").to_numpy())
    assert sub.mod_names == ["(Intercept)"]


def test_fixed_tau2_and_common_effect():
    res = meta_analysis(yi=YI, vi=VI, tau2=0.02)
    w = 1 / (VI + 0.02)
    assert res.estimate == pytest.approx(np.sum(w * YI) / w.sum(), rel=SAME)
    fe = meta_analysis(yi=YI, vi=VI, method="FE")
    w = 1 / VI
    assert fe.estimate == pytest.approx(np.sum(w * YI) / w.sum(), rel=SAME)
    assert fe.se == pytest.approx(1 / np.sqrt(w.sum()), rel=SAME)
    assert fe.i2 == pytest.approx(max(0, 100 * (fe.q - 7) / fe.q), rel=SAME)
    with pytest.warns(UserWarning, match="Knapp"):
        meta_analysis(yi=YI, vi=VI, method="FE", test="knha")


def test_knha_prediction_interval_uses_t_quantile():
    from scipy import stats

    res = meta_analysis(yi=YI, vi=VI, test="knha")
    half = stats.t.ppf(0.975, 7) * np.sqrt(res.se**2 + res.tau2)
    assert res.pi_high - res.estimate == pytest.approx(half, rel=SAME)


def test_sei_input_and_study_order_invariance():
    a = meta_analysis(yi=YI, sei=np.sqrt(VI))
    order = np.array([3, 0, 7, 1, 6, 2, 5, 4])
    b = meta_analysis(yi=YI[order], vi=VI[order])
    assert a.estimate == pytest.approx(b.estimate, rel=SAME)
    assert a.tau2 == pytest.approx(b.tau2, rel=SAME)


def test_moderator_inputs_agree():
    df = pd.DataFrame({"yi": YI, "vi": VI, "x": MOD})
    by_formula = meta_analysis(df, mods="~ x")
    by_list = meta_analysis(df, mods=["x"])
    by_array = meta_analysis(yi=YI, vi=VI, mods=MOD)
    np.testing.assert_allclose(by_formula.beta, by_list.beta, rtol=SAME)
    np.testing.assert_allclose(by_formula.beta, by_array.beta, rtol=SAME)
    assert by_array.mod_names == ["(Intercept)", "mod1"]
    pred = by_formula.predict(newmods=[0.0, 2.0])
    assert pred["pred"].iloc[0] == pytest.approx(by_formula.beta[0], rel=SAME)
    assert pred["pred"].iloc[1] == pytest.approx(by_formula.beta[0] + 2 * by_formula.beta[1])


def test_missing_values_are_dropped_with_warning():
    yi = YI.copy()
    yi[2] = np.nan
    df = pd.DataFrame({"yi": yi, "vi": VI, "x": MOD})
    df.loc[5, "x"] = np.nan
    with pytest.warns(DroppedRowsWarning, match="2 studies"):
        res = meta_analysis(df, mods="~ x")
    assert res.k == 6
    # a missing category must not be read as the reference level
    cat = pd.DataFrame({"yi": YI, "vi": VI, "g": ["a", "b", None, "b", "a", "b", "a", "a"]})
    with pytest.warns(DroppedRowsWarning, match="Study 3"):
        res = meta_analysis(cat, mods="~ g")
    assert res.k == 7 and res.mod_names == ["(Intercept)", "g[T.b]"]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"yi": YI, "vi": -VI}, MetaAnalysisError, "positive"),
        ({"yi": YI, "vi": VI, "method": "XX"}, MetaAnalysisError, "Unknown method"),
        ({"yi": YI, "vi": VI, "test": "f"}, MetaAnalysisError, "Unknown test"),
        ({"yi": YI, "vi": VI[:3]}, MetaAnalysisError, "vi has 3"),
        ({"yi": YI}, MetaAnalysisError, "sampling variances"),
        ({"r": [0.1, 0.2]}, MetaAnalysisError, "both r and n"),
        (
            {"yi": YI, "vi": VI, "mods": np.column_stack([MOD, 2 * MOD])},
            MetaAnalysisError,
            "full rank",
        ),
        ({"yi": YI[:2], "vi": VI[:2], "mods": MOD[:2]}, MetaAnalysisError, "k = 2"),
        ({"yi": YI, "vi": VI, "level": 0.95}, MetaAnalysisError, None),
        ({"yi": YI, "vi": VI, "level": 100}, MetaAnalysisError, "percentage"),
        ({"yi": YI, "vi": VI, "control": {"tol": 1}}, MetaAnalysisError, "control"),
    ],
)
def test_invalid_input_raises(kwargs, error, message):
    if message is None:  # level=0.95 is read as a proportion, as in metafor
        res = meta_analysis(**kwargs)
        assert res.level == 95.0
        return
    with pytest.raises(error, match=message):
        meta_analysis(**kwargs)


def test_bad_formula_and_missing_column():
    df = pd.DataFrame({"yi": YI, "vi": VI})
    with pytest.raises(FormulaError):
        meta_analysis(df, mods="~ nothere")
    with pytest.raises(MetaAnalysisError, match="'effect'"):
        meta_analysis(df, yi="effect", vi="vi")


def test_single_study():
    res = meta_analysis(yi=[0.3], vi=[0.01])
    assert res.estimate == pytest.approx(0.3) and res.tau2 == 0.0 and res.k == 1


def test_confint_requires_random_effects():
    with pytest.raises(MetaAnalysisError, match="common-effect"):
        meta_analysis(yi=YI, vi=VI, method="FE").confint()


def test_summary_and_transforms(molloy):
    res = meta_analysis(molloy, r="ri", n="ni")
    text = res.summary(transform="r")
    assert "Random-Effects Model (k = 16; tau^2 estimator: REML)" in text
    assert "Q(df = 15) = 38.1595" in text
    assert "Back-transformed (r): 0.1488" in text
    assert str(res) == res.summary()
    assert "estimate=0.1499" in repr(res)
    mreg = meta_analysis(molloy, r="ri", n="ni", mods="~ meanage + quality", test="knha")
    text = mreg.summary()
    assert "F(df1 = 2, df2 = 13)" in text and "R^2" in text
    with pytest.raises(MetaAnalysisError, match="Unknown transform"):
        res.summary(transform="log")
    assert res.apa(transform=None).startswith("z = .15") is False  # z keeps its leading zero
    assert res.apa(transform=None).startswith("z = 0.15")


def test_apa_for_ratio_measure():
    es = effect_sizes(
        measure="RR",
        ai=[4, 6, 3, 62],
        bi=[119, 300, 228, 13536],
        ci=[11, 29, 11, 248],
        di=[128, 274, 209, 12619],
    )
    res = meta_analysis(es)
    assert res.measure == "RR"
    sentence = res.apa()
    assert sentence.startswith("RR = 0.")
    assert "(random-effects model, REML)" in sentence


def test_subgroup_option_conflicts(molloy):
    with pytest.raises(MetaAnalysisError, match="intercept-only"):
        meta_analysis(molloy, r="ri", n="ni", subgroup="design", mods="~ meanage")
    with pytest.raises(MetaAnalysisError, match="use sigma2= with random="):
        meta_analysis(molloy, r="ri", n="ni", random="~ 1 | study", tau2=0.01)


def test_subgroups_drop_missing_and_report(molloy):
    df = molloy.copy()
    df.loc[0, "design"] = None
    with pytest.warns(DroppedRowsWarning):
        res = meta_analysis(df, r="ri", n="ni", subgroup="design")
    assert res.subgroups["k"].sum() == 15 == res.k
    assert res.q_between_df == 1
    assert "Test for subgroup differences" in res.summary()


def test_metafor_default_threshold_reproducible(molloy):
    tight = meta_analysis(molloy, r="ri", n="ni")
    loose = meta_analysis(molloy, r="ri", n="ni", control={"threshold": 1e-5})
    assert loose.iterations < tight.iterations
    # metafor's default stopping point differs from the optimum by ~1e-4 relative in tau^2
    assert abs(loose.tau2 / tight.tau2 - 1) < 1e-3


def test_no_warnings_on_clean_input(molloy):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        meta_analysis(molloy, r="ri", n="ni", mods="~ meanage + quality", test="knha")


@given(
    shift=st.floats(-5, 5),
    scale=st.floats(0.2, 5),
    method=st.sampled_from(["REML", "ML", "DL", "PM", "HE", "SJ", "HS", "EB"]),
)
def test_location_scale_equivariance(shift, scale, method):
    # y -> a + b*y, v -> b^2 v: estimate -> a + b*mu, tau2 -> b^2 tau2, I^2 and Q unchanged
    base = meta_analysis(yi=YI, vi=VI, method=method)
    moved = meta_analysis(yi=shift + scale * YI, vi=scale**2 * VI, method=method)
    # iterative estimators stop at an absolute tau2 threshold of 1e-12
    assert moved.estimate == pytest.approx(shift + scale * base.estimate, rel=1e-7, abs=1e-9)
    assert moved.tau2 == pytest.approx(scale**2 * base.tau2, rel=1e-7, abs=1e-10)
    assert moved.q == pytest.approx(base.q, rel=1e-9)
    assert moved.i2 == pytest.approx(base.i2, rel=1e-6, abs=1e-8)


def test_nonconvergence_is_reported():
    from alliancestats.errors import ConvergenceWarning

    with pytest.warns(ConvergenceWarning, match="did not converge"):
        res = meta_analysis(yi=YI, vi=VI, control={"maxiter": 1})
    assert res.converged is False


def test_summary_reports_trim_and_fill_k0(molloy):
    from alliancestats.meta import trim_and_fill

    filled = trim_and_fill(meta_analysis(molloy, r="ri", n="ni"))
    text = filled.summary()
    assert text.splitlines()[1] == (
        "Estimated number of missing studies on the left side: 2 (SE = 2.7118)"
    )
