"""riclpm(), clpm() and dynamic_panel() against pinned lavaan 0.6-14 fits.

Reference scripts: tests/reference/panel/riclpm_reference.R and dpm_reference.R. Every case
is compared on the log-likelihoods, chi-square and its df, the fit indices, every free
parameter, its standard error (observed information; expected and robust where pinned) and
its standardised value. Published numbers (Mulder & Hamaker 2021; Allison, Williams &
Moral-Benito 2017; dpm 1.2.0's test suite) are checked against the lavaan fits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from panel_reference import dpm_fit, matched_parameters, reference, riclpm_fit

from alliancestats.panel.estimation import standard_errors

RICLPM_CASES = [
    "riclpm", "clpm", "riclpm_paths", "riclpm_constrained", "riclpm_z_intercepts",
    "riclpm_z_observed", "riclpm_groups", "riclpm_groups_equal", "riclpm_missing",
    "clpm_missing", "psychotherapy_riclpm", "psychotherapy_clpm",
]
DPM_CASES = [
    "wks_error_inv", "lwage_pre", "wks_all_types", "wks_all_types_x2", "wks_no_lags",
    "wks_no_y_lag", "wks_no_y_lag_occ", "wks_random_effects", "wks_y_lags_12",
    "wks_y_lags_24", "wks_union_twice", "wks_const_inv", "wks_alpha_free", "wks_y_free",
    "wks_x_free", "wks_partial_pre", "wks_missing", "psychotherapy",
]
ALL = [("riclpm", c) for c in RICLPM_CASES] + [("dpm", c) for c in DPM_CASES]

# every tolerance with its reason
TOL_LOGLIK = 1e-4  # absolute; the JSON keeps 10 significant digits (|logL| up to 1.3e4)
TOL_CHISQ = 1e-4  # relative to max(1, chisq); lavaan's EM for the saturated model stops at 1e-5
TOL_EST_SE = 2e-3  # in standard errors: lavaan's nlminb stops up to ~1e-3 SE short (our logL >= its)
TOL_SE = 1e-3  # relative: SEs move with where each optimiser stopped; Hessians are numerical
TOL_STD = 1e-3  # absolute, standardised values: they inherit the estimates' TOL_EST_SE gaps
TOL_INDEX = 1e-5  # absolute, CFI / TLI / RMSEA / SRMR (smooth functions of chi-square)
TOL_IC = 1e-3  # absolute, AIC / BIC (from the log-likelihood; see TOL_LOGLIK)


def _fit(kind: str, name: str):
    return riclpm_fit(name) if kind == "riclpm" else dpm_fit(name)


def test_reference_grids_are_complete():
    assert sorted(reference("riclpm")["cases"]) == sorted(RICLPM_CASES)
    assert sorted(reference("dpm")["cases"]) == sorted(DPM_CASES)
    for kind in ("riclpm", "dpm"):
        assert reference(kind)["versions"]["lavaan"] == "0.6.14"
        assert all(c["converged"] for c in reference(kind)["cases"].values())


@pytest.mark.parametrize(("kind", "name"), ALL)
def test_global_fit_matches_lavaan(kind, name):
    case = reference(kind)["cases"][name]
    ref = case["fit"]
    res = _fit(kind, name)
    assert res.converged
    assert res.df == ref["df"]
    assert int(res.fit["npar"]) == ref["npar"]
    assert res.nobs == ref["ntotal"]
    assert abs(res.loglik - ref["logl"]) < TOL_LOGLIK
    assert abs(res.fit["unrestricted_loglik"] - ref["unrestricted.logl"]) < TOL_LOGLIK
    assert abs(res.chisq - ref["chisq"]) < TOL_CHISQ * max(1.0, ref["chisq"])
    assert abs(res.fit["baseline_chisq"] - ref["baseline.chisq"]) < TOL_CHISQ * ref["baseline.chisq"]
    assert res.fit["baseline_df"] == ref["baseline.df"]
    ours = res.fit
    for mine, theirs in [("pvalue", "pvalue"), ("cfi", "cfi"), ("tli", "tli"),
                         ("rmsea", "rmsea"), ("rmsea_ci_low", "rmsea.ci.lower"),
                         ("rmsea_ci_high", "rmsea.ci.upper"), ("rmsea_pvalue", "rmsea.pvalue"),
                         ("srmr", "srmr"), ("srmr_nomean", "srmr_bentler_nomean")]:
        assert abs(ours[mine] - ref[theirs]) < TOL_INDEX, mine
    assert abs(res.aic - ref["aic"]) < TOL_IC
    assert abs(res.bic - ref["bic"]) < TOL_IC


@pytest.mark.parametrize(("kind", "name"), ALL)
def test_parameters_match_lavaan(kind, name):
    case = reference(kind)["cases"][name]
    res = _fit(kind, name)
    m = matched_parameters(res, case)
    assert m.attrs["unmatched"] == 0
    assert m.attrs["n_ours"] == len(m)  # same free rows, none extra
    est_gap = np.abs(m["estimate"] - m["est"]) / m["se"]
    assert est_gap.max() < TOL_EST_SE, m.loc[est_gap.idxmax(), ["lhs", "op", "rhs"]].tolist()
    se_gap = np.abs(m["se_ours"] - m["se"]) / m["se"]
    assert se_gap.max() < TOL_SE
    both = m["std_all"].notna()
    assert (m["std_all_ours"].notna() == both).all()
    assert np.abs(m.loc[both, "std_all_ours"] - m.loc[both, "std_all"]).max() < TOL_STD


@pytest.mark.parametrize(("kind", "name"), [
    ("riclpm", "riclpm"), ("riclpm", "riclpm_missing"), ("riclpm", "psychotherapy_riclpm"),
    ("dpm", "wks_error_inv"), ("dpm", "wks_missing"), ("dpm", "psychotherapy"),
])
@pytest.mark.parametrize(("information", "se", "column"), [
    ("expected", "standard", "se_expected"), ("observed", "robust", "se_robust"),
])
def test_expected_and_robust_standard_errors_match_lavaan(kind, name, information, se, column):
    case = reference(kind)["cases"][name]
    res = _fit(kind, name)
    vcov, messages = standard_errors(res.sem.model, res.sem.data, res.sem.theta,
                                     information=information, se=se)
    assert messages == []
    by_label = dict(zip(res.sem.model.labels, np.sqrt(np.diag(vcov)), strict=True))
    m = matched_parameters(res, case)
    labels = res.parameters.set_index(["lhs", "op", "rhs"])["label"]
    ours = [by_label[labels.get((r.lhs, r.op, r.rhs), labels.get((r.rhs, r.op, r.lhs)))]
            for r in m.itertuples()]
    gap = np.abs(np.array(ours) - m[column]) / m[column]
    assert gap.max() < TOL_SE


def test_our_optimum_is_at_least_lavaans():
    # where estimates differ at all, lavaan stopped short: our log-likelihood is not lower
    for kind, names in (("riclpm", RICLPM_CASES), ("dpm", DPM_CASES)):
        for name in names:
            ref = reference(kind)["cases"][name]["fit"]
            assert _fit(kind, name).loglik >= ref["logl"] - TOL_LOGLIK, name


# ------------------------------------------------------------------ published numbers
def test_mulder_hamaker_riclpm_published_values():
    res = riclpm_fit("riclpm")
    case = reference("riclpm")["cases"]["riclpm"]
    assert case["published"] == {"chisq": 25.806, "df": 21, "logl": 531.75}
    assert round(res.chisq, 3) == 25.806
    assert res.df == 21
    assert round(res.loglik, 3) == 531.750
    c = res.coefficients
    wave2 = {(r.outcome, r.predictor): r for r in c[c["wave"] == 2].itertuples()}
    # Mulder & Hamaker (2021) wave-2 paths and the SEs printed with them
    assert round(wave2[("x", "x")].estimate, 3) == 0.232
    assert round(wave2[("x", "x")].se, 3) == 0.028
    assert round(wave2[("x", "y")].estimate, 3) == 0.009
    assert round(wave2[("y", "x")].estimate, 3) == 0.174
    assert round(wave2[("y", "x")].se, 3) == 0.045
    assert round(wave2[("y", "y")].estimate, 3) == 0.004
    ri = res.random_intercepts["estimate"].round(3).to_dict()
    assert ri == {"RI_x ~~ RI_x": 0.009, "RI_y ~~ RI_y": 0.032, "RI_x ~~ RI_y": 0.010}


def test_mulder_hamaker_clpm_published_chisq():
    res = riclpm_fit("clpm")
    assert (round(res.chisq, 3), res.df) == (202.225, 24)
    assert "random_intercepts" not in res.tables


def test_allison_williams_moral_benito_published_values():
    res = dpm_fit("wks_error_inv")
    assert (round(res.chisq, 3), res.df) == (138.476, 76)
    c = res.coefficients
    expected = {  # Allison, Williams & Moral-Benito (2017), observed-information SEs
        "lag(union)": (-1.206, 0.522),
        "lag(lwage)": (0.588, 0.488),
        "ed": (-0.107, 0.056),
        "lag(wks)": (0.188, 0.020),
    }
    assert list(c.index) == list(expected)
    for term, (b, se) in expected.items():
        assert round(c.loc[term, "estimate"], 3) == b
        assert round(c.loc[term, "se"], 3) == se


@pytest.mark.parametrize("name", DPM_CASES)
def test_lavaan_models_reproduce_dpm_published_chisq(name):
    case = reference("dpm")["cases"][name]
    published = case.get("published")
    if published is None:  # our own extra cases (missing data, partial_pre, sample data)
        assert name in ("wks_partial_pre", "wks_missing", "psychotherapy")
        return
    # dpm's tests compare at 1% relative (testthat's expect_equivalent tolerance = 0.01)
    assert case["fit"]["df"] == published["df"]
    assert abs(case["fit"]["chisq"] - published["chisq"]) <= 0.01 * published["chisq"]
    if "tolerance" not in published:  # all but wks_y_free agree to the printed digits
        assert abs(case["fit"]["chisq"] - published["chisq"]) < 0.006
    assert abs(dpm_fit(name).chisq - published["chisq"]) <= 0.01 * published["chisq"]


def test_domain_listed_dpm_chisq_values():
    assert (round(dpm_fit("lwage_pre").chisq, 2), dpm_fit("lwage_pre").df) == (271.23, 37)
    assert (round(dpm_fit("wks_no_lags").chisq, 2), dpm_fit("wks_no_lags").df) == (95.40, 66)


def test_long_run_effect_is_beta_over_one_minus_rho():
    res = dpm_fit("wks_error_inv")
    c = res.coefficients
    rho = c.loc["lag(wks)", "estimate"]
    lr = res.long_run
    assert np.allclose(lr["estimate"], c.loc[lr.index, "estimate"] / (1 - rho), rtol=1e-12)
    # delta-method SE against a numerical derivative of b / (1 - rho)
    labels = [c.loc["lag(union)", "label"], c.loc["lag(wks)", "label"]]
    v = res.vcov.loc[labels, labels].to_numpy()
    b = c.loc["lag(union)", "estimate"]
    h = 1e-6

    def f(x):
        return x[0] / (1 - x[1])

    x0 = np.array([b, rho])
    grad = np.array([(f(x0 + h * e) - f(x0 - h * e)) / (2 * h) for e in np.eye(2)])
    assert abs(lr.loc["lag(union)", "se"] - np.sqrt(grad @ v @ grad)) < 1e-6
    assert isinstance(lr, pd.DataFrame)
