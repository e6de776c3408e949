"""lmm() on awkward but valid specifications gives lme4 / lmerTest's answer.

Pinned by tests/reference/lmm/lmm_review_cases.R: an unused factor level, responses in
unit and micro scales, a random slope on a factor, ``0 +`` terms, an interaction as the
grouping factor and slopes in huge units.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lmm_review_data import REF, complete, quiet_fit, ref_fit, sites

from alliancestats.errors import (
    DroppedRowsWarning,
    ModelSpecificationError,
    RankDeficiencyWarning,
)
from alliancestats.models import lmm

FIT_CASES = [
    "unused_level",
    "unit_scale",
    "micro_scale",
    "slope_on_factor",
    "zero_plus_x",
    "interaction_group",
    "slope_units",
    "big_slope_units",
]


TOL_CRIT = 1e-6  # criterion: both optimisers converge to ~1e-9 relative


TOL_FIXED = 1e-4  # fixed effects relative to max(1, |estimate|) (the LMM reference tolerance)


TOL_SE = 1e-3  # SEs depend on theta, which BOBYQA stops at to ~1e-5


TOL_DF = 1e-2  # Satterthwaite df rest on numerical second derivatives in both programs


TOL_SD = 1e-3  # SDs relative to sigma (the LMM reference tolerance)


def fixed_ref(key: str) -> pd.DataFrame:
    return pd.DataFrame(REF["fits"][key]["fixed"]).set_index("term")


def test_reference_grid_is_complete():
    assert sorted(REF["fits"]) == sorted(FIT_CASES)
    assert sorted(REF["profile"]) == ["slope_units"]
    assert REF["meta"]["lme4"] == "1.1.31"


@pytest.mark.parametrize(
    "key", [k for k in FIT_CASES if k not in ("micro_scale", "big_slope_units")]
)
def test_awkward_specifications_match_lme4(key):
    ref = REF["fits"][key]
    res = ref_fit(key)
    fx = fixed_ref(key)
    assert list(res.fixed.index) == list(fx.index)
    assert res.deviance == pytest.approx(ref["criterion"], rel=TOL_CRIT)
    est = fx["estimate"].to_numpy()
    assert np.all(np.abs(res.fixed["estimate"] - est) <= TOL_FIXED * np.maximum(1, np.abs(est)))
    np.testing.assert_allclose(res.fixed["se"], fx["se"], rtol=TOL_SE)
    np.testing.assert_allclose(res.fixed["df"], fx["df"], rtol=TOL_DF)
    sd_ref = np.asarray(ref["varcorr"]["sdcor"], dtype=float)
    is_sd = np.array([v is None for v in ref["varcorr"]["var2"]])
    sd = res.varcorr["sdcor"].to_numpy(float)
    assert np.all(np.abs(sd[is_sd] - sd_ref[is_sd]) <= TOL_SD * ref["sigma"])


def test_unused_level_is_dropped_as_lme4_does():
    # old: the unused first category became the reference level, one column was dropped as
    # aliased (RankDeficiencyWarning) and the site effects were relative to the wrong level
    d = sites().assign(
        site=pd.Categorical(sites()["site"], categories=["aaa", "north", "south", "west"])
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", RankDeficiencyWarning)
        with pytest.warns(DroppedRowsWarning, match="38 of 394 rows"):  # missing pain scores
            res = lmm("pain ~ session + site + (1 | patient)", d)
    assert list(res.fixed.index) == ["(Intercept)", "session", "sitesouth", "sitewest"]


def test_micro_units_give_scaled_estimates_and_unchanged_df():
    # lmerTest 3.1-3 itself gets the df wrong in micro-units (numDeriv's absolute step 1e-4
    # swamps sigma ~ 1e-6: df 5.3 instead of 77.6, pinned in the JSON), so our df are compared
    # with lmerTest's df for the same model in ordinary units
    micro, unit = REF["fits"]["micro_scale"], REF["fits"]["unit_scale"]
    res = ref_fit("micro_scale")
    fx_micro, fx_unit = fixed_ref("micro_scale"), fixed_ref("unit_scale")
    assert res.deviance == pytest.approx(micro["criterion"], rel=TOL_CRIT)
    est = fx_micro["estimate"].to_numpy()
    np.testing.assert_allclose(res.fixed["estimate"], est, rtol=TOL_FIXED, atol=TOL_FIXED * 1e-6)
    np.testing.assert_allclose(res.fixed["se"], fx_micro["se"], rtol=TOL_SE)
    np.testing.assert_allclose(res.fixed["df"], fx_unit["df"], rtol=TOL_DF)
    assert np.max(np.asarray(fx_micro["df"]) / np.asarray(fx_unit["df"])) < 0.2  # lmerTest's
    np.testing.assert_allclose(res.sigma, unit["sigma"] * 1e-6, rtol=TOL_SD)


@pytest.mark.parametrize("scale", [1e-6, 1e6])
def test_rescaled_response_rescales_everything(scale):
    d = sites()
    base = ref_fit("unit_scale")
    res = quiet_fit(
        "pain ~ session + site + (1 + session | patient)", d.assign(pain=d["pain"] * scale)
    )
    np.testing.assert_allclose(res.fixed["estimate"], base.fixed["estimate"] * scale, rtol=1e-5)
    np.testing.assert_allclose(res.fixed["df"], base.fixed["df"], rtol=1e-3)  # numerical df
    np.testing.assert_allclose(res.sigma, base.sigma * scale, rtol=1e-6)
    # old: Wald intervals of the SDs were NaN in micro-units (step 1e-4 >> SD)
    ci, ci0 = res.confint("wald"), base.confint("wald")
    sd_rows = [r for r in ci.index if r.startswith("sd_") or r == "sigma"]
    assert np.isfinite(ci.loc[sd_rows, "ci_high"]).all()
    np.testing.assert_allclose(
        ci.loc[sd_rows, "ci_high"], ci0.loc[sd_rows, "ci_high"] * scale, rtol=1e-3
    )


@pytest.mark.parametrize(
    "formula",
    [
        "pain ~ session + (1 | patient) + (1 | patient)",
        "pain ~ session + (1 + session | patient) + (1 | patient)",
        "pain ~ session + (1 | therapist/patient) + (1 | therapist)",
        "pain ~ session + (1 | therapist:patient) + (1 | patient:therapist)",
    ],
)
def test_duplicated_random_effects_are_refused(formula):
    # old: fitted, splitting one variance arbitrarily between two identical terms
    with pytest.raises(ModelSpecificationError, match="cannot be told apart"):
        lmm(formula, complete())


def test_split_terms_for_one_factor_are_still_allowed():
    a = quiet_fit("pain ~ session + (1 | patient) + (0 + session | patient)", complete())
    b = quiet_fit("pain ~ session + (session || patient)", complete())
    assert a.deviance == pytest.approx(b.deviance, rel=1e-10)
