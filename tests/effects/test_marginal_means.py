"""marginal_means() and contrasts against emmeans 1.8.4 (tests/reference/effects)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.errors import ModelSpecificationError, ParameterError

MODELS = {  # reference model -> (family, link)
    "sim_arms": ("gaussian", None), "sites": ("gaussian", None),
    "sleepstudy": ("gaussian", None), "cbpp_logit": ("binomial", "logit"),
    "cbpp_probit": ("binomial", "probit"), "grouseticks": ("poisson", "log"),
    "adherence": ("binomial", "logit"),
}
MEANS = [  # (model, result, table): every means table of emmeans_reference.json
    ("sim_arms", "arm_by_session", "means"), ("sim_arms", "session_by_arm", "means"),
    ("sim_arms", "arm", "means"), ("sim_arms", "arm_proportional", "means"),
    ("sim_arms", "arm_modality_at6", "means"), ("sites", "site", "means"),
    ("sites", "site_by_arm_at3", "means"), ("sites", "site_proportional", "means"),
    ("sites", "site_level90", "means"), ("sleepstudy", "days", "means"),
    ("cbpp_logit", "period", "link"), ("cbpp_logit", "period", "response"),
    ("cbpp_probit", "period", "link"), ("cbpp_probit", "period", "response"),
    ("grouseticks", "year", "link"), ("grouseticks", "year", "response"),
    ("grouseticks", "height", "response"), ("adherence", "alliance_between", "response"),
]
CONTRASTS = [  # (model, result, table, method, adjust, type)
    ("sim_arms", "arm_by_session", "pairs", "pairwise", "tukey", "link"),
    ("sim_arms", "arm", "pairs", "pairwise", "tukey", "link"),
    ("sim_arms", "arm_modality_at6", "pairs", "pairwise", "tukey", "link"),
    *[("sim_arms", "session_by_arm", f"pairs_{a}", "pairwise", a, "link")
      for a in ("tukey", "holm", "bonferroni", "sidak", "scheffe", "none", "fdr")],
    ("sim_arms", "session_by_arm", "revpairwise_tukey", "revpairwise", "tukey", "link"),
    ("sim_arms", "session_by_arm", "consec_holm", "consec", "holm", "link"),
    ("sim_arms", "session_by_arm", "trt_vs_ctrl_bonferroni", "trt.vs.ctrl", "bonferroni",
     "link"),
    ("sites", "site", "pairs_tukey", "pairwise", "tukey", "link"),
    ("sites", "site", "pairs_none", "pairwise", "none", "link"),
    ("sites", "site_by_arm_at3", "pairs_tukey", "pairwise", "tukey", "link"),
    ("sites", "site_level90", "pairs_tukey", "pairwise", "tukey", "link"),
    ("sleepstudy", "days", "pairs_tukey", "pairwise", "tukey", "link"),
    *[(m, "period", t, "pairwise", a, s) for m in ("cbpp_logit", "cbpp_probit")
      for t, a, s in (("pairs_link", "tukey", "link"), ("pairs_response", "tukey", "response"),
                      ("pairs_holm_response", "holm", "response"))],
    ("grouseticks", "year", "pairs_response", "pairwise", "tukey", "response"),
    ("adherence", "alliance_between", "pairs_response", "pairwise", "tukey", "response"),
]


@pytest.fixture(scope="module")
def models(effects_reference):
    return effects_reference("emmeans_reference")["models"]


def as_list(value):
    """jsonlite writes one-element vectors as scalars; R's Inf df as null."""
    values = value if isinstance(value, list) else [value]
    return [np.inf if v is None else v for v in values]


def column(table: dict, *names: str) -> np.ndarray:
    for n in names:
        if n in table:
            return np.asarray(as_list(table[n]), dtype=float)
    raise KeyError(names)


def get_fit(models, reference_fit, name):
    family, link = MODELS[name]
    return reference_fit(models[name]["data"], models[name]["formula"], family, link)


def means_of(models, reference_fit, name, key, scale):
    r = models[name]["results"][key]
    fit = get_fit(models, reference_fit, name)
    return als.marginal_means(
        fit, r["spec"], by=r.get("by"), at=r.get("at"), weights=r.get("weights", "equal"),
        level=r.get("level", 0.95), type="link" if scale == "link" else "response")


def test_grid_is_complete(models):
    listed = {(m, r, t) for m, r, t in MEANS} | {(m, r, t) for m, r, t, *_ in CONTRASTS}
    pinned = {(m, r, t) for m, res in models.items() for r, tabs in res["results"].items()
              if r != "predictions" for t in tabs if isinstance(tabs[t], dict) and t != "at"}
    assert listed == pinned
    assert set(models) == set(MODELS)


@pytest.mark.parametrize(("name", "key", "table"), MEANS)
def test_means_match_emmeans(name, key, table, models, reference_fit):
    want = models[name]["results"][key][table]
    got = means_of(models, reference_fit, name, key, table).table
    for col in as_list(models[name]["results"][key]["spec"]):
        if isinstance(want[col], list) and isinstance(want[col][0], str):
            assert got[col].astype(str).tolist() == want[col]  # same rows, same order
    # estimates follow beta (~1e-6 apart between the optimisers); SEs follow theta; the
    # Satterthwaite df rest on numerical derivatives in both programs (1e-3)
    assert got["estimate"].to_numpy() == pytest.approx(
        column(want, "emmean", "prob", "rate"), rel=1e-4)
    assert got["se"].to_numpy() == pytest.approx(column(want, "SE"), rel=5e-4)
    assert got["df"].to_numpy() == pytest.approx(column(want, "df"), rel=1e-3)
    lo = column(want, "lower.CL", "asymp.LCL")
    assert got["ci_low"].to_numpy() == pytest.approx(lo, rel=5e-4, abs=1e-6)
    assert got["p"].to_numpy() == pytest.approx(column(want, "p.value"), rel=5e-3, abs=1e-12)


@pytest.mark.parametrize(("name", "key", "table", "method", "adjust", "scale"), CONTRASTS)
def test_contrasts_match_emmeans(name, key, table, method, adjust, scale, models,
                                 reference_fit):
    want = models[name]["results"][key][table]
    mm = means_of(models, reference_fit, name, key, scale)
    got = mm.contrasts(method, adjust=adjust, type=scale).table
    assert got["contrast"].tolist() == as_list(want["contrast"])  # emmeans' labels
    est = column(want, "estimate", "odds.ratio", "ratio")
    assert got["estimate"].to_numpy() == pytest.approx(est, rel=1e-4, abs=1e-6)  # as means
    assert got["se"].to_numpy() == pytest.approx(column(want, "SE"), rel=5e-4)
    lo = column(want, "lower.CL", "asymp.LCL")
    hi = column(want, "upper.CL", "asymp.UCL")
    # adjusted critical values: scipy's studentized range matches R's qtukey to ~1e-9
    assert got["ci_low"].to_numpy() == pytest.approx(lo, rel=5e-4, abs=1e-5)
    assert got["ci_high"].to_numpy() == pytest.approx(hi, rel=5e-4, abs=1e-5)
    # p values inherit the statistic's 5e-4; tiny p values are compared absolutely
    assert got["p"].to_numpy() == pytest.approx(column(want, "p.value"), rel=5e-3, abs=1e-8)


def test_adjust_defaults_and_tukey_on_non_pairwise(models, reference_fit):
    mm = means_of(models, reference_fit, "sim_arms", "session_by_arm", "means")
    assert mm.contrasts().adjust == "tukey"
    assert mm.contrasts("consec").adjust == "holm"
    res = mm.contrasts("trt.vs.ctrl", adjust="tukey")
    assert res.adjust == "sidak" and "Sidak" in res.notes[0]


def test_custom_contrast(models, reference_fit):
    mm = means_of(models, reference_fit, "sites", "site", "means")
    res = mm.contrasts({"north vs rest": [1, -0.5, -0.5]}, adjust="none")
    t = mm.table.set_index("site")["estimate"]
    expected = t["north"] - (t["south"] + t["west"]) / 2
    assert res.table["estimate"].iloc[0] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ParameterError, match="3 weights"):
        mm.contrasts({"bad": [1, -1]})


def test_glmm_link_scale_contrasts_are_differences(models, reference_fit):
    mm = means_of(models, reference_fit, "cbpp_logit", "period", "response")
    assert mm.contrasts().scale == "odds ratio"
    assert mm.contrasts(type="link").scale == "difference"


def test_bad_arguments(models, reference_fit):
    fit = get_fit(models, reference_fit, "sim_arms")
    with pytest.raises(ParameterError, match="not predictors"):
        als.marginal_means(fit, "therapist")
    with pytest.raises(ParameterError, match="does not use"):
        als.marginal_means(fit, "arm", at={"age": 40})
    with pytest.raises(ParameterError, match="never saw"):
        als.marginal_means(fit, "arm", at={"arm": ["placebo"]})
    with pytest.raises(ParameterError):
        als.marginal_means(fit, "arm", weights="flat")
    with pytest.raises(ModelSpecificationError, match="ddf must be one of"):
        als.marginal_means(fit, "arm", ddf="welch")
    with pytest.raises(ModelSpecificationError):
        als.marginal_means(pd.DataFrame(), "arm")


def test_summary_text(models, reference_fit):
    mm = means_of(models, reference_fit, "sleepstudy", "days", "means")
    assert "Satterthwaite" in mm.summary()
    assert "tukey" in mm.contrasts().summary()
