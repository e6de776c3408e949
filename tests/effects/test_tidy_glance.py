"""tidy() and glance() against broom.mixed 0.2.9.4 (tests/reference/effects)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.errors import ModelSpecificationError, ParameterError

REF = Path(__file__).resolve().parents[1] / "reference" / "effects"
CASES = ["sleepstudy", "sleepstudy_ml", "sleepstudy_uncorr", "pastes", "sim_slopes", "cbpp"]
NUMERIC = ["estimate", "std.error", "statistic", "df", "p.value", "conf.low", "conf.high"]


@pytest.fixture(scope="module")
def cases(effects_reference):
    return effects_reference("broom_reference")["cases"]


def frame(columns: dict) -> pd.DataFrame:
    """A broom.mixed table from the JSON (R's NA as NaN)."""
    out = pd.DataFrame(columns)
    for col in out.columns:
        if col in NUMERIC or col == "estimate":
            out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    return out


def assert_columns_close(got: pd.DataFrame, want: pd.DataFrame, rel: float) -> None:
    assert list(got.columns) == list(want.columns)
    for col in want.columns:
        if col in NUMERIC:
            a, b = got[col].to_numpy(float), want[col].to_numpy(float)
            assert np.array_equal(np.isnan(a), np.isnan(b)), col
            ok = ~np.isnan(b)
            assert a[ok] == pytest.approx(b[ok], rel=rel, abs=1e-10), col
        else:
            assert [None if pd.isna(v) else v for v in got[col]] == \
                [None if pd.isna(v) else v for v in want[col]], col


def test_grid_is_complete(cases):
    assert sorted(cases) == sorted(CASES)


@pytest.mark.parametrize("name", CASES)
def test_tidy_matches_broom(name, cases, reference_fit):
    case = cases[name]
    got = als.tidy(reference_fit(case), conf_int=True)
    # estimates, SEs and df agree to the optimisers' precision (theta ~1e-6 apart)
    assert_columns_close(got, frame(case["tidy"]), rel=2e-4)


@pytest.mark.parametrize("name", CASES)
def test_glance_matches_broom(name, cases, reference_fit):
    got = als.glance(reference_fit(cases[name]))
    want = pd.DataFrame([cases[name]["glance"]])
    assert list(got.columns) == list(want.columns)
    # log-likelihoods agree to ~1e-8 relative; sigma (ML) and GLMM deviance residuals follow
    # the optimisers' theta (~1e-6 apart): 1e-5
    assert got.iloc[0].to_numpy(float) == pytest.approx(want.iloc[0].to_numpy(float), rel=1e-5)


@pytest.mark.parametrize("name", CASES)
def test_ran_vals_match_broom(name, cases, reference_fit):
    got = als.tidy(reference_fit(cases[name]), "ran_vals")
    want = frame(cases[name]["ran_vals"])
    key = ["group", "level", "term"]
    merged = want.merge(got, on=key, suffixes=("_r", ""), validate="one_to_one")
    assert len(merged) == len(want) == len(got)
    # conditional modes follow theta, which lme4's ML fit of sleepstudy leaves ~1e-4 from
    # the optimum: 5e-4 relative, 1e-5 absolute for modes near zero
    assert merged["estimate"].to_numpy() == pytest.approx(merged["estimate_r"].to_numpy(),
                                                           rel=5e-4, abs=1e-5)
    # conditional SDs: GLMM ones rest on PIRLS weights at slightly different optima
    assert merged["std.error"].to_numpy() == pytest.approx(merged["std.error_r"].to_numpy(),
                                                            rel=1e-3)
    # broom.mixed's order: group, then term, then level
    assert list(dict.fromkeys(got["term"])) == list(dict.fromkeys(want["term"]))


def test_exponentiated_glmm(cases, reference_fit):
    case = cases["cbpp"]
    got = als.tidy(reference_fit(case), conf_int=True, exponentiate=True)
    assert_columns_close(got, frame(case["tidy_exponentiated"]), rel=2e-4)  # as above


def test_exponentiate_refused_for_lmm(cases, reference_fit):
    with pytest.raises(ModelSpecificationError, match="odds or rate ratios"):
        als.tidy(reference_fit(cases["sleepstudy"]), exponentiate=True)


def test_profile_intervals_cover_variance_parameters(reference_fit):
    fit = reference_fit("../lmm/data/dyestuff.csv", "Yield ~ 1 + (1 | Batch)")
    tab = als.tidy(fit, conf_int=True, conf_method="profile")
    # lme4 1.1-31 confint(method = "profile") on Dyestuff, pinned by the LMM references
    prof = json.loads((REF / ".." / "lmm" / "lmm_reference.json").read_text())
    prof = prof["profile"]["dyestuff"]
    order = [prof["parm"].index(p) for p in ("(Intercept)", "sd_(Intercept)|Batch", "sigma")]
    # lme4 interpolates its profile with splines: ends agree to 1e-3 relative
    assert tab["conf.low"].to_numpy() == pytest.approx(np.take(prof["lower"], order), rel=1e-3)
    assert tab["conf.high"].to_numpy() == pytest.approx(np.take(prof["upper"], order), rel=1e-3)
    assert tab[["conf.low", "conf.high"]].notna().all().all()
    assert (tab["conf.low"] < tab["estimate"]).all() and (tab["estimate"] < tab["conf.high"]).all()


def test_methods_attached(cases, reference_fit):
    fit = reference_fit(cases["sleepstudy"])
    pd.testing.assert_frame_equal(fit.tidy("fixed"), als.tidy(fit, "fixed"))
    pd.testing.assert_frame_equal(fit.glance(), als.glance(fit))
    assert fit.icc().adjusted == als.icc(fit).adjusted
    assert fit.r2().marginal == als.r2(fit).marginal


def test_bad_arguments(cases, reference_fit):
    fit = reference_fit(cases["sleepstudy"])
    with pytest.raises(ParameterError):
        als.tidy(fit, "random")
    with pytest.raises(ParameterError):
        als.tidy(fit, conf_method="boot")
    with pytest.raises(ModelSpecificationError):
        als.tidy(pd.DataFrame())
