"""glmm() against pinned lme4 1.1-31 glmer results (tests/reference/glmm/glmm_reference.json).

The JSON is written by tests/reference/glmm/glmm_reference.R from the CSV files in
tests/reference/glmm/data/ (lme4's cbpp and grouseticks; adherence data simulated with
alliancestats.simulate.simulate_sessions by glmm_make_data.py), so these tests need no R.
"""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models.glmm import glmm

REF_DIR = pathlib.Path(__file__).resolve().parents[1] / "reference" / "glmm"
REF = json.loads((REF_DIR / "glmm_reference.json").read_text())
CASES = REF["cases"]

EXPECTED_CASES = {
    "cbpp_logit_laplace",
    "cbpp_logit_agq9",
    "cbpp_probit_laplace",
    "cbpp_cloglog_laplace",
    "grouseticks_poisson_laplace",
    "grouseticks_poisson_agq8",
    "adherence_binary_laplace",
    "adherence_binary_agq7",
    "adherence_binary_slope",
    "adherence_trials_laplace",
    "adherence_poisson_offset_laplace",
    "adherence_poisson_offset_agq5",
    "adherence_nearsep_laplace",
}
FACTORS = ["herd", "period", "BROOD", "LOCATION", "YEAR", "INDEX", "therapist", "patient"]


def read_data(name: str) -> pd.DataFrame:
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    for v in FACTORS:
        if v in d.columns:
            d[v] = d[v].astype(str)
    return d


_FITS: dict[str, object] = {}


def fit_case(cid: str):
    if cid not in _FITS:
        c = CASES[cid]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AllianceStatsWarning)
            _FITS[cid] = glmm(
                c["py_formula"],
                read_data(c["data"]),
                family=c["family"],
                link=c["link"],
                nAGQ=c["nAGQ"],
                trials=c["py_trials"] or None,
                offset=c["py_offset"] or None,
            )
    return _FITS[cid]


def test_reference_grid_is_complete():
    assert set(CASES) == EXPECTED_CASES
    assert REF["lme4_version"] == "1.1.31"
    families = {(c["family"], c["link"]) for c in CASES.values()}
    assert families == {
        ("binomial", "logit"),
        ("binomial", "probit"),
        ("binomial", "cloglog"),
        ("poisson", "log"),
    }
    assert {c["nAGQ"] > 1 for c in CASES.values()} == {True, False}
    for c in CASES.values():
        for key in ("estimate", "se", "theta", "loglik", "varcorr", "ranef", "predict", "tight"):
            assert key in c, (c["id"], key)


@pytest.mark.parametrize("cid", sorted(EXPECTED_CASES))
def test_loglik_and_information_criteria(cid):
    c = CASES[cid]
    f = fit_case(cid)
    # lme4's default PIRLS tolerance (1e-7) leaves its Laplace deviance inexact by <= 3e-6
    assert f.loglik == pytest.approx(c["loglik"], rel=1e-5)
    # with glmerControl(tolPwrss = 1e-10) lme4 evaluates the same criterion as we do
    assert f.loglik == pytest.approx(c["tight"]["loglik"], rel=1e-6)
    assert f.nobs == c["nobs"]
    assert f.npar == c["npar"]
    # AIC/BIC follow from loglik and npar exactly, so inherit loglik's tolerance
    assert f.aic == pytest.approx(c["aic"], rel=1e-5)
    assert f.bic == pytest.approx(c["bic"], rel=1e-5)
    assert f.deviance == pytest.approx(-2 * f.loglik)
    assert f.ngroups == c["ngroups"]
    assert f.converged
    assert f.singular == c["singular"]


@pytest.mark.parametrize("cid", sorted(EXPECTED_CASES))
def test_fixed_effects(cid):
    c = CASES[cid]
    f = fit_case(cid)
    assert list(f.fixed.index) == c["terms"]
    # fixed effects: both optimisers stop within ~2e-4 of the same optimum
    np.testing.assert_allclose(f.fixed["estimate"], c["estimate"], atol=1e-3)
    # SEs within 1e-2 absolute (worst 5.4e-3, cbpp): lme4's Hessian is taken on a deviance
    # converged only to its default PIRLS tolerance, which moves its SEs by up to 1.3%
    np.testing.assert_allclose(f.fixed["se"], c["se"], atol=1e-2, rtol=0)
    np.testing.assert_allclose(f.fixed["se"], c["se"], rtol=1.5e-2)
    # against the tight-tolerance lme4 fit the Hessians agree to < 1% (worst: trials case)
    np.testing.assert_allclose(f.fixed["se"], c["tight"]["se"], rtol=1e-2)
    # z and p follow from estimate and SE; p compared on the log scale for tiny values
    np.testing.assert_allclose(f.fixed["z"], c["z"], rtol=2e-2)
    assert np.all(np.isinf(f.fixed["df"]))
    lo = f.fixed["estimate"] - 1.959963984540054 * f.fixed["se"]
    np.testing.assert_allclose(f.fixed["ci_low"], lo, rtol=1e-12)


@pytest.mark.parametrize("cid", sorted(EXPECTED_CASES))
def test_variance_components(cid):
    c = CASES[cid]
    f = fit_case(cid)
    vc = {k: v if isinstance(v, list) else [v] for k, v in c["varcorr"].items()}
    ref = pd.DataFrame(vc)
    ours = f.varcorr
    assert list(ours["grp"]) == list(ref["grp"])
    assert list(ours["var1"]) == list(ref["var1"])
    assert [v if isinstance(v, str) else "" for v in ours["var2"]] == list(ref["var2"])
    # variance components: SDs/correlations within 1e-2 (flat likelihood in theta)
    sd_rows = ref["var2"] == ""
    np.testing.assert_allclose(
        ours.loc[sd_rows.to_numpy(), "sdcor"], ref.loc[sd_rows, "sdcor"], atol=1e-2
    )
    np.testing.assert_allclose(f.theta, np.atleast_1d(c["theta"]), atol=1e-2)


@pytest.mark.parametrize("cid", sorted(EXPECTED_CASES))
def test_ranef_and_predictions(cid):
    c = CASES[cid]
    f = fit_case(cid)
    for grp, r in c["ranef"].items():
        ours = f.ranef[grp]
        terms = [r["terms"]] if isinstance(r["terms"], str) else r["terms"]
        assert list(ours.columns) == terms
        ours = ours.loc[[str(v) for v in r["levels"]]]
        cv = f.cond_var[grp]
        level_pos = [list(f.ranef[grp].index).index(str(v)) for v in r["levels"]]
        for k, term in enumerate(terms):
            # conditional modes inherit the <= 6e-4 differences in theta and beta (worst 4.3e-4)
            np.testing.assert_allclose(ours[term], r["values"][term], atol=2e-3)
            # conditional variances (lme4 condVar): same origin, relative (worst 4.7e-4)
            np.testing.assert_allclose(cv[level_pos, k, k], r["condvar"][term], rtol=2e-3)
    data = read_data(c["data"])
    if c["py_offset"] and c["py_offset"] not in data.columns:
        pytest.fail("offset column missing from the reference data")
    new = data.iloc[[i - 1 for i in c["predict_rows"]]]
    p = c["predict"]
    # predictions are smooth in the parameters: same tolerance as the fixed effects
    np.testing.assert_allclose(f.predict(new), p["link_re"], atol=2e-3)
    np.testing.assert_allclose(f.predict(new, random=False), p["link_fixed"], atol=2e-3)
    np.testing.assert_allclose(f.predict(new, type="response"), p["response_re"], atol=2e-3)
    np.testing.assert_allclose(
        f.predict(new, random=False, type="response"), p["response_fixed"], atol=2e-3
    )


@pytest.mark.parametrize(
    "cid", ["grouseticks_poisson_laplace", "adherence_poisson_offset_laplace", "cbpp_logit_laplace"]
)
def test_overdispersion_statistic(cid):
    c = CASES[cid]
    f = fit_case(cid)
    od = f.overdispersion
    # Pearson chi2 at the conditional modes inherits the small parameter differences
    assert od["pearson_chi2"] == pytest.approx(c["pearson_chi2"], rel=1e-3)
    assert od["df"] == c["df_residual"]
    assert od["ratio"] == pytest.approx(od["pearson_chi2"] / od["df"])
    assert 0 <= od["p"] <= 1


def test_binary_fit_has_no_overdispersion_statistic():
    assert fit_case("adherence_binary_laplace").overdispersion is None


def test_unseen_groups_get_population_predictions():
    u = REF["unseen_groups"]
    d = read_data("adherence")
    f = glmm("adhered ~ session + alliance_within + alliance_between + (1 | patient)", d)
    new = pd.DataFrame(u["newdata"])
    # same tolerance as other predictions
    np.testing.assert_allclose(f.predict(new, type="response"), u["response"], atol=2e-3)
    np.testing.assert_allclose(
        f.predict(new, type="response"), f.predict(new, random=False, type="response")
    )


PROFILED = ["cbpp_logit_laplace", "cbpp_logit_agq9", "adherence_binary_laplace"]


def test_profile_grid_is_complete():
    assert sorted(c for c in CASES if CASES[c].get("profile_ci")) == sorted(PROFILED)


@pytest.mark.parametrize("cid", PROFILED)
def test_profile_intervals(cid):
    ref = CASES[cid]["profile_ci"]
    ci = fit_case(cid).confint(method="profile")
    n_sd = sum(ci.index.str.startswith("sd_"))
    assert list(ci.index[n_sd:]) == CASES[cid]["terms"]
    # lme4 interpolates its profile with splines; we solve for the crossing directly
    # (worst observed difference 9e-4, adherence therapist SD upper end)
    np.testing.assert_allclose(ci["ci_low"], ref["lower"], atol=2e-3)
    np.testing.assert_allclose(ci["ci_high"], ref["upper"], atol=2e-3)
