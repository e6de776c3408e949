"""Kenward-Roger inference against pbkrtest 0.5.2 through lmerTest 3.1-3 and emmeans 1.8.4.

Reference values: ``tests/reference/lmm/lmm_kenward_roger.R`` (``vcovAdj``, ``Lb_ddf``,
``summary(fit, ddf = "Kenward-Roger")``, ``anova`` of type III and I, ``contest`` and
``emmeans(..., lmer.df = "kenward-roger")``). Two kinds of checks: the algorithm evaluated
at lme4's own estimates (tight: only floating-point differences), and the whole chain from
our own fits (looser: our REML optimum differs from lme4's in the 5th-6th digit).
"""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.effects import marginal_means
from alliancestats.errors import ModelSpecificationError
from alliancestats.models import glmm, lmm
from alliancestats.models import kenward_roger as kr_module
from alliancestats.models.anova import contrasts_type1, contrasts_type3, kenward_roger_f_test
from alliancestats.models.covariance import ThetaLayout
from alliancestats.models.kenward_roger import adjusted_covariance, check_ddf, kenward_roger
from alliancestats.models.varcomp import term_covariances

DATA = pathlib.Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((DATA / "lmm_kenward_roger.json").read_text())
CASES = REF["cases"]
EXPECTED = {"sleepstudy", "sleepstudy_uncorr", "therapy_few_therapists", "orthodont_missing",
            "ham_crossed", "therapy_singular"}
FACTORS = ("Subject", "Sex", "Consumer", "Product", "Information", "therapist", "patient",
           "clinic", "arm")

# at lme4's estimates the computation is the same linear algebra as pbkrtest's (dense there,
# blockwise here): floating-point differences only (observed 2e-12)
AT_LME4 = 1e-9
# from our own fits: the REML optima differ from lme4's in the 5th-6th digit (criterion
# within 1e-8 relative, ours never higher); KR quantities inherit that: observed worst
# relative differences estimate 5e-5, SE 2.1e-5, t 3.1e-5, df 5.8e-5, F 5.8e-5 (4.4e-4 for a
# joint test of two near-zero clinic effects), p 2.6e-4
SE_RTOL = 1e-4
EST_RTOL = 1e-4  # fixed effects: the LMM validation's tolerance (observed 5e-5 here)
DF_RTOL = 1e-3
P_RTOL = 1e-3


def _vec(x) -> np.ndarray:
    return np.atleast_1d(np.asarray(x, dtype=float))


def _data(case: dict) -> pd.DataFrame:
    d = pd.read_csv(DATA / "data" / case["data"])
    if case["therapists"]:
        d = d[d["therapist"].isin(sorted(d["therapist"].unique())[: case["therapists"]])]
    for col in FACTORS:
        if col in d.columns:
            d[col] = d[col].astype(str)
    return d


_FITS: dict[str, object] = {}


def _fit(name: str):
    if name not in _FITS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _FITS[name] = lmm(CASES[name]["formula"], _data(CASES[name]))
    return _FITS[name]


def _at_lme4(name: str):
    """Kenward-Roger evaluated at lme4's θ, σ and vcov on our design."""
    case, fit = CASES[name], _fit(name)
    design = fit.model.design
    layout = ThetaLayout.from_sizes([b.q for b in design.random])
    covs = term_covariances(layout, _vec(case["theta"]), case["sigma"])
    return adjusted_covariance(design.X, design.random, covs, case["sigma"],
                               np.array(case["vcov"], dtype=float))


def test_reference_grid_is_complete():
    assert set(CASES) == EXPECTED
    assert REF["meta"]["pbkrtest"] == "0.5.2" and REF["meta"]["lmerTest"] == "3.1.3"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_adjusted_covariance_and_df_at_lme4_estimates(name):
    case = CASES[name]
    kr = _at_lme4(name)
    Va = np.array(case["vcov_adj"], dtype=float)
    np.testing.assert_allclose(kr.vcov, Va, rtol=AT_LME4, atol=AT_LME4 * np.abs(Va).max())
    p = Va.shape[0]
    df = [kr.df(np.eye(p)[j]) for j in range(p)]
    np.testing.assert_allclose(df, _vec(case["fixed"]["df"]), rtol=AT_LME4)
    beta = _vec(case["fixed"]["estimate"])
    for con in case["contrasts"].values():
        L = np.atleast_2d(np.array(con["L"], dtype=float))
        np.testing.assert_allclose([kr.df(row) for row in L], _vec(con["rows"]["lb_ddf"]),
                                   rtol=AT_LME4)
        test = kenward_roger_f_test(L, beta, kr, case["sigma"])
        for key in ("F", "den_df", "sum_sq", "p"):
            np.testing.assert_allclose(test[key], _vec(con["joint"][key])[0], rtol=AT_LME4)
        assert test["num_df"] == _vec(con["joint"]["num_df"])[0]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_anova_tests_at_lme4_estimates(name):
    case = CASES[name]
    kr = _at_lme4(name)
    design = _fit(name).model.design
    beta = _vec(case["fixed"]["estimate"])
    for typ, contrasts in ((3, contrasts_type3(design)), (1, contrasts_type1(design))):
        ref = case[f"anova{typ}"]
        assert list(contrasts) == list(np.atleast_1d(ref["term"]))
        for k, L in enumerate(contrasts.values()):
            test = kenward_roger_f_test(L, beta, kr, case["sigma"])
            for key in ("F", "den_df", "sum_sq", "mean_sq", "p"):
                assert test[key] == pytest.approx(_vec(ref[key])[k], rel=AT_LME4), (typ, key)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixed_table_with_kenward_roger(name):
    case = CASES[name]
    fit = _fit(name)
    assert fit.deviance <= case["criterion"] + 1e-6  # the same optimum (ours never higher)
    fx = fit.with_ddf("Kenward-Roger").fixed
    ref = case["fixed"]
    assert list(fx.index) == list(np.atleast_1d(ref["term"]))
    np.testing.assert_allclose(fx["estimate"], _vec(ref["estimate"]), rtol=EST_RTOL)
    np.testing.assert_allclose(fx["se"], _vec(ref["se"]), rtol=SE_RTOL)
    np.testing.assert_allclose(fx["t"], _vec(ref["t"]), rtol=SE_RTOL)
    np.testing.assert_allclose(fx["df"], _vec(ref["df"]), rtol=DF_RTOL)
    np.testing.assert_allclose(fx["p"], _vec(ref["p"]), rtol=P_RTOL)


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("typ", [3, 1])
def test_anova_with_kenward_roger(name, typ):
    ref = CASES[name][f"anova{typ}"]
    tab = _fit(name).anova(type=typ, ddf="Kenward-Roger")
    assert list(tab.index) == list(np.atleast_1d(ref["term"]))
    np.testing.assert_array_equal(tab["num_df"], _vec(ref["num_df"]))
    for key in ("F", "den_df", "sum_sq", "mean_sq"):
        np.testing.assert_allclose(tab[key], _vec(ref[key]), rtol=DF_RTOL, err_msg=key)
    np.testing.assert_allclose(tab["p"], _vec(ref["p"]), rtol=P_RTOL)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_contrasts_with_kenward_roger(name):
    case = CASES[name]
    fit = _fit(name)
    model = fit.model
    for con in case["contrasts"].values():
        L = np.atleast_2d(np.array(con["L"], dtype=float))
        rows = con["rows"]
        for k, row in enumerate(L):
            c = fit.contrast(row, ddf="KR")
            # a contrast can be near zero: its estimate is also judged against its SE
            se_ref = _vec(rows["se"])[k]
            assert c["estimate"] == pytest.approx(_vec(rows["estimate"])[k], rel=EST_RTOL,
                                                  abs=1e-3 * se_ref)
            assert c["se"] == pytest.approx(_vec(rows["se"])[k], rel=SE_RTOL)
            assert c["df"] == pytest.approx(_vec(rows["df"])[k], rel=DF_RTOL)
            assert model.contrast_df(row, "kenward-roger") == c["df"]
        joint = kenward_roger_f_test(L, model.beta, model.kenward_roger(), model.sigma)
        assert joint["F"] == pytest.approx(_vec(con["joint"]["F"])[0], rel=DF_RTOL)
        assert joint["den_df"] == pytest.approx(_vec(con["joint"]["den_df"])[0], rel=DF_RTOL)


@pytest.mark.parametrize("name", ["sleepstudy", "therapy_few_therapists", "orthodont_missing"])
def test_marginal_means_with_kenward_roger(name):
    spec = CASES[name]["emmeans"]
    table = spec["table"]
    at = {k: list(_vec(v)) for k, v in spec["at"].items()}
    mm = marginal_means(_fit(name), spec["specs"], by=spec.get("by"), at=at,
                        ddf="kenward-roger")
    assert len(mm.table) == len(_vec(table["emmean"]))
    np.testing.assert_allclose(mm.table["estimate"], _vec(table["emmean"]), rtol=EST_RTOL)
    np.testing.assert_allclose(mm.table["se"], _vec(table["SE"]), rtol=SE_RTOL)
    np.testing.assert_allclose(mm.table["df"], _vec(table["df"]), rtol=DF_RTOL)
    assert "Kenward-Roger" in mm.summary()


def test_few_therapists_give_few_df():
    # clinic varies between six therapists only: Kenward-Roger's df are about three, far
    # below those of the session-level terms
    fx = _fit("therapy_few_therapists").with_ddf("KR").fixed
    clinic = fx.loc[[t for t in fx.index if t.startswith("clinic")], "df"]
    assert (clinic < 4).all() and fx.loc["session", "df"] > 20


def test_with_ddf_round_trip_and_summary():
    fit = _fit("sleepstudy_uncorr")
    kr = fit.with_ddf("kr")
    assert kr.ddf == "kenward-roger" and fit.ddf == "satterthwaite"
    np.testing.assert_allclose(kr.vcov.to_numpy(), fit.model.kenward_roger().vcov)
    back = kr.with_ddf("Satterthwaite")
    pd.testing.assert_frame_equal(back.fixed, fit.fixed)
    assert "Kenward-Roger's method" in fit.summary(ddf="Kenward-Roger")
    ci = kr.confint("wald")
    row = kr.fixed.loc["Days"]
    assert ci.loc["Days", "ci_high"] == pytest.approx(row["ci_high"])
    pred = kr.predict(pd.DataFrame({"Days": [0.0]}), random=False, se=True)
    intercept = kr.fixed.loc["(Intercept)"]
    assert pred["se"].iloc[0] == pytest.approx(intercept["se"])
    assert pred["df"].iloc[0] == pytest.approx(intercept["df"])


def test_refit_kenward_roger_matches_a_new_fit():
    fit = _fit("sleepstudy")
    y = fit.model.simulate(np.random.default_rng(5))
    refit = fit.model.refit(y, ddf=False)
    direct = lmm(CASES["sleepstudy"]["formula"],
                 _data(CASES["sleepstudy"]).assign(Reaction=y)).model.kenward_roger()
    via_refit = kenward_roger(fit.model, refit=refit)
    np.testing.assert_allclose(via_refit.vcov, direct.vcov, rtol=1e-5)


def test_refused_for_ml_fits_and_glmms():
    case = CASES["sleepstudy"]
    ml = lmm(case["formula"], _data(case), reml=False)
    with pytest.raises(ModelSpecificationError, match="REML"):
        ml.with_ddf("Kenward-Roger")
    with pytest.raises(ModelSpecificationError, match="REML"):
        ml.anova(ddf="KR")
    cbpp = pd.read_csv(DATA.parent / "glmm" / "data" / "cbpp.csv").astype({"herd": str,
                                                                             "period": str})
    g = glmm("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    with pytest.raises(ModelSpecificationError, match="linear mixed models"):
        g.with_ddf("Kenward-Roger")
    assert g.model.contrast_df(np.array([0, 1.0, 0, 0]), "kenward-roger") == np.inf


def test_ddf_names():
    assert check_ddf("Kenward-Roger") == check_ddf("KR") == "kenward-roger"
    with pytest.raises(ModelSpecificationError, match="ddf must be one of"):
        check_ddf("Welch")


def test_crossed_blocks_beyond_the_dense_limit_are_refused(monkeypatch):
    monkeypatch.setattr(kr_module, "MAX_BLOCK_EFFECTS", 50)
    with pytest.raises(ModelSpecificationError, match="crossed"):
        kenward_roger(_fit("ham_crossed").model)


def test_refused_for_weighted_fits(monkeypatch):
    model = _fit("sleepstudy").model
    weights = np.ones(model.design.nobs)
    weights[0] = 2.0
    monkeypatch.setattr(type(model), "prior_weights", property(lambda self: weights))
    with pytest.raises(ModelSpecificationError, match="weights"):
        kenward_roger(model)
