"""Behaviour of lmm(): paths, warnings, errors, prediction, tests and intervals."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    AllianceStatsWarning,
    ConvergenceWarning,
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
    RankDeficiencyWarning,
    SingularFitWarning,
)
from alliancestats.models import MixedResult, lmm, lrt
from alliancestats.models.design import build_design
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.simulate import simulate_sessions

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((REF_DIR / "lmm_reference.json").read_text())
FORMULA = "pain ~ session + alliance + (1 + session | patient) + (1 | therapist)"


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    return simulate_sessions(n_therapists=8, patients_per_therapist=(2, 6), sessions=(3, 8), seed=7)


def quiet_fit(formula, data, **kw) -> MixedResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return lmm(formula, data, **kw)


def dense_criterion(design, theta, reml):
    """Textbook marginal (RE)ML deviance from V = Z G Z' + sigma^2 I, sigma profiled out."""
    n, p = design.X.shape
    y = design.y
    blocks, off = [], 0
    for b in design.random:
        k = b.q * (b.q + 1) // 2
        L = np.zeros((b.q, b.q))
        iu = np.triu_indices(b.q)  # transposed: lower triangle column by column, as lme4
        L[iu[1], iu[0]] = theta[off : off + k]
        off += k
        Zb = np.zeros((n, b.nlevels * b.q))
        for j in range(b.q):
            Zb[np.arange(n), b.codes * b.q + j] = b.Z[:, j]
        blocks.append((Zb, np.kron(np.eye(b.nlevels), L @ L.T)))
    V = np.eye(n) + sum(Zb @ G @ Zb.T for Zb, G in blocks)
    Vi = np.linalg.inv(V)
    XtViX = design.X.T @ Vi @ design.X
    beta = np.linalg.solve(XtViX, design.X.T @ Vi @ y)
    r = y - design.X @ beta
    q = r @ Vi @ r
    logdetV = np.linalg.slogdet(V)[1]
    if reml:
        return (
            logdetV + np.linalg.slogdet(XtViX)[1] + (n - p) * (1 + np.log(2 * np.pi * q / (n - p)))
        )
    return logdetV + n * (1 + np.log(2 * np.pi * q / n))


@pytest.fixture(scope="module")
def with_clinic(sessions) -> pd.DataFrame:
    clinic = {t: f"C{i % 3}" for i, t in enumerate(sorted(sessions["therapist"].unique()))}
    return sessions.assign(clinic=sessions["therapist"].map(clinic))


@pytest.mark.parametrize(
    "formula",
    [
        "pain ~ session + (1 | clinic/therapist/patient)",
        "pain ~ session + (1 + session | patient) + (1 + session | therapist) + (1 | clinic)",
        "pain ~ session + (1 + session | patient) + (1 | therapist) + (1 + session | clinic)",
    ],
)
@pytest.mark.parametrize("reml", [True, False])
def test_three_level_chain_matches_dense_formula(with_clinic, formula, reml):
    design = build_design(formula, with_clinic.dropna(subset=["pain"]))
    prob = LmmProblem(design.X, design.y, design.random)
    assert prob.chain
    general = LmmProblem(design.X, design.y, design.random, allow_chain=False)
    assert not general.chain
    rng = np.random.default_rng(5)
    for _ in range(3):
        theta = rng.uniform(0.05, 1.0, prob.layout.n) * np.where(prob.layout.lower == 0, 1, 0.3)
        fast = prob.criterion(theta, reml)
        assert fast == pytest.approx(general.criterion(theta, reml), rel=1e-11)  # same algebra
        assert fast == pytest.approx(dense_criterion(design, theta, reml), rel=1e-10)
        # conditional modes and variances from the chain recursion equal the general path's
        f1, f2 = prob.factorize(theta, full=True), general.factorize(theta, full=True)
        beta = prob.beta(f1)
        np.testing.assert_allclose(beta, general.beta(f2), rtol=1e-9)
        modes = zip(prob.spherical_modes(f1, beta), general.spherical_modes(f2, beta), strict=True)
        for a, b in modes:
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
        cvs = zip(prob.cond_var_unscaled(f1), general.cond_var_unscaled(f2), strict=True)
        for a, b in cvs:
            np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize(
    "formula, nested",
    [
        ("pain ~ session + (1 + session | patient) + (1 | therapist)", True),
        ("pain ~ session + (1 + session | patient) + (1 + session | therapist)", True),
        ("pain ~ session + (1 + session + alliance | patient) + (1 | therapist)", True),
        ("pain ~ session + (1 | patient) + (1 | therapist) + (1 | arm)", False),
        ("pain ~ session + (1 + session | patient) + (1 | modality)", False),  # crossed
        ("pain ~ session + (1 + session + alliance | patient)", False),  # q = 3, single term
    ],
)
@pytest.mark.parametrize("reml", [True, False])
def test_criterion_matches_dense_formula(sessions, formula, nested, reml):
    design = build_design(formula, sessions.dropna(subset=["pain", "alliance"]))
    prob = LmmProblem(design.X, design.y, design.random)
    assert prob.nested == nested
    rng = np.random.default_rng(3)
    for _ in range(3):
        theta = rng.uniform(0.05, 1.0, prob.layout.n) * np.where(prob.layout.lower == 0, 1, 0.3)
        ours = prob.criterion(theta, reml)
        assert ours == pytest.approx(
            dense_criterion(design, theta, reml), rel=1e-10
        )  # exact algebra


def test_nested_and_general_paths_agree(sessions):
    data = sessions.dropna(subset=["pain"])
    m1 = quiet_fit("pain ~ session + (1 | patient) + (1 | therapist)", data)
    # the same model written with the therapist/patient slash syntax
    m2 = quiet_fit("pain ~ session + (1 | therapist/patient)", data)
    assert m1.deviance == pytest.approx(m2.deviance, rel=1e-9)  # identical model
    np.testing.assert_allclose(m1.fixed["estimate"], m2.fixed["estimate"], rtol=1e-6)


def test_result_contract(sessions):
    m = quiet_fit(FORMULA, sessions)
    assert list(m.fixed.columns) == ["estimate", "se", "df", "t", "p", "ci_low", "ci_high"]
    assert list(m.fixed.index) == ["(Intercept)", "session", "alliance"]
    assert list(m.varcorr.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert m.varcorr["grp"].iloc[-1] == "Residual"
    assert m.reml and m.method == "REML"
    assert m.deviance == pytest.approx(-2 * m.loglik)
    assert m.aic == pytest.approx(-2 * m.loglik + 2 * m.npar)
    assert m.npar == 3 + 4 + 1
    assert set(m.ngroups) == {"patient", "therapist"}
    assert m.nobs + m.n_dropped == len(sessions)
    assert m.n_dropped == int(sessions[["pain", "alliance"]].isna().any(axis=1).sum())
    np.testing.assert_allclose(m.fitted + m.residuals, sessions.loc[m.fitted.index, "pain"])
    assert m.ranef["patient"].shape == (m.ngroups["patient"], 2)
    assert m.cond_var["patient"].shape == (m.ngroups["patient"], 2, 2)
    assert m.converged and m.optimizer["evaluations"] > 0
    text = m.summary()
    assert "REML criterion at convergence" in text and "Satterthwaite" in text
    assert "therapist" in text and "(Intercept)" in text
    # 95% CI uses the t quantile with the Satterthwaite df
    from scipy import stats

    row = m.fixed.loc["session"]
    q = stats.t.ppf(0.975, row["df"])
    assert row["ci_high"] == pytest.approx(row["estimate"] + q * row["se"])


def test_dropped_rows_warning(sessions):
    with pytest.warns(DroppedRowsWarning):
        lmm("pain ~ session + (1 | patient)", sessions)


def test_predict_population_and_unseen_groups(sessions):
    m = quiet_fit(FORMULA, sessions)
    np.testing.assert_allclose(m.predict(), m.fitted)
    used = sessions.loc[m.fitted.index]
    np.testing.assert_allclose(m.predict(used), m.fitted, rtol=1e-10)
    pop = m.predict(used, random=False)
    X = np.column_stack([np.ones(len(used)), used["session"], used["alliance"]])
    np.testing.assert_allclose(pop, X @ m.fixed["estimate"].to_numpy())
    new = used.iloc[:3].copy()
    new["patient"] = ["new1", "new2", "new3"]
    new["therapist"] = "T99"
    np.testing.assert_allclose(m.predict(new), pop.iloc[:3].to_numpy())
    # only the therapist unseen: patient effects still apply
    new2 = used.iloc[:3].copy()
    new2["therapist"] = "T99"
    b = m.ranef["patient"].loc[new2["patient"]].to_numpy()
    expect = pop.iloc[:3].to_numpy() + b[:, 0] + b[:, 1] * new2["session"].to_numpy()
    np.testing.assert_allclose(m.predict(new2), expect)
    with pytest.raises(FormulaError, match="random=False"):
        m.predict(used[["session", "alliance"]])


def test_singular_fit_warns():
    d = pd.read_csv(REF_DIR / "data" / "sim_singular.csv")
    f = REF["fits"]["sim_singular_REML"]["formula"]
    with pytest.warns(DroppedRowsWarning, match="missing values"):
        with pytest.warns(SingularFitWarning, match="singular"):
            m = lmm(f, d)
    assert m.singular and m.converged
    assert "singular" in m.summary()


def test_lrt_refits_reml_and_checks_inputs(sessions):
    data = sessions.dropna(subset=["pain", "alliance"])
    m0 = quiet_fit("pain ~ session + (1 | patient)", data)
    m1 = quiet_fit("pain ~ session + alliance + (1 | patient)", data)
    tab = lrt(m0, m1)
    ml0 = quiet_fit("pain ~ session + (1 | patient)", data, reml=False)
    ml1 = quiet_fit("pain ~ session + alliance + (1 | patient)", data, reml=False)
    assert tab["loglik"].tolist() == pytest.approx([ml0.loglik, ml1.loglik], rel=1e-9)
    assert tab["chisq"].iloc[1] == pytest.approx(2 * (ml1.loglik - ml0.loglik), rel=1e-6)
    assert tab["df"].iloc[1] == 1
    assert m0.refit_ml().deviance == pytest.approx(ml0.deviance, rel=1e-9)
    assert ml0.refit_ml() is ml0
    with pytest.raises(ModelSpecificationError, match="at least two"):
        lrt(m0)
    other = quiet_fit("pain ~ session + (1 | patient)", sessions)
    with pytest.raises(ModelSpecificationError, match="different numbers of rows"):
        lrt(other, m1)


def test_contrast_between_minus_within():
    d = pd.read_csv(REF_DIR / "data" / "hsb82.csv")
    m = quiet_fit("mAch ~ ses_within + ses_mean + (1 | school)", d)
    c = m.contrast({"ses_mean": 1, "ses_within": -1})
    # DOMAIN.md section 5: contextual effect 3.675 (mlmRev Hsb82)
    assert c["estimate"] == pytest.approx(3.675, abs=5e-4)
    assert 100 < c["df"] < 7000
    assert c["se"] == pytest.approx(
        np.sqrt(
            m.vcov.loc["ses_mean", "ses_mean"]
            + m.vcov.loc["ses_within", "ses_within"]
            - 2 * m.vcov.loc["ses_mean", "ses_within"]
        )
    )
    same = m.contrast([0, 0, 1])
    assert same["df"] == pytest.approx(m.fixed.loc["ses_mean", "df"], rel=1e-10)
    with pytest.raises(ModelSpecificationError, match="unknown"):
        m.contrast({"nope": 1})


@pytest.mark.parametrize("name", ["dyestuff", "sleepstudy"])
def test_profile_intervals_match_lme4(name):
    ref = REF["profile"][name]
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    m = quiet_fit(ref["formula"], d)
    ci = m.confint("profile")
    assert list(ci.index) == ref["parm"]
    # lme4 interpolates its profile with splines; 1e-3 relative covers both approximations
    np.testing.assert_allclose(ci["ci_low"], ref["lower"], rtol=1e-3)
    np.testing.assert_allclose(ci["ci_high"], ref["upper"], rtol=1e-3)


def test_wald_intervals_bracket_estimates(sessions):
    m = quiet_fit(FORMULA, sessions)
    ci = m.confint("wald")
    assert ci.index[0] == "sd_(Intercept)|patient"
    assert "cor_session.(Intercept)|patient" in ci.index and "sigma" in ci.index
    assert (ci["ci_low"] <= ci["estimate"]).all() and (ci["estimate"] <= ci["ci_high"]).all()
    sd_rows = [i for i in ci.index if i.startswith("sd_") or i == "sigma"]
    assert (ci.loc[sd_rows, "ci_low"] >= 0).all()
    with pytest.raises(ValueError):
        m.confint("bootstrap")


def test_ml_fit_and_rank_deficiency(sessions):
    data = sessions.assign(session2=2 * sessions["session"])
    with pytest.warns(DroppedRowsWarning, match="missing values"):
        with pytest.warns(RankDeficiencyWarning, match="session2"):
            m = lmm("pain ~ session + session2 + (1 | patient)", data, reml=False)
    assert list(m.fixed.index) == ["(Intercept)", "session"]
    assert m.aliased == ["session2"]
    assert m.method == "ML" and m.deviance == pytest.approx(-2 * m.loglik)


def test_input_errors(sessions):
    sessions = sessions.dropna(subset=["pain", "exercises_done"])
    with pytest.raises(FormulaError, match="no random-effects term"):
        lmm("pain ~ session", sessions)
    with pytest.raises(FormulaError, match="'sesion'.*did you mean 'session'"):
        lmm("pain ~ sesion + (1 | patient)", sessions)
    with pytest.raises(FormulaError, match="numeric"):
        lmm("arm ~ session + (1 | patient)", sessions)
    with pytest.raises(FormulaError, match="cbind"):
        lmm("cbind(exercises_done, exercises_prescribed) ~ 1 + (1 | patient)", sessions)
    tiny = sessions.dropna(subset=["pain"]).groupby("patient").head(1)
    with pytest.raises(ModelSpecificationError, match="grouping factor 'patient'"):
        lmm("pain ~ 1 + (1 | patient)", tiny)
    few = sessions.dropna(subset=["pain"]).groupby("patient").head(2)
    with pytest.raises(ModelSpecificationError, match="random effects"):
        lmm("pain ~ 1 + (1 + session | patient)", few)
    one = sessions.assign(therapist="T01")
    # refused before missing values are handled, so no DroppedRowsWarning is emitted
    with pytest.raises(ModelSpecificationError, match="only 1 level"):
        lmm("pain ~ 1 + (1 | therapist)", one)


def test_domain_reference_values():
    """Published lme4 / lmerTest values quoted in DOMAIN.md section 5."""

    def fit(name, formula):
        return quiet_fit(formula, pd.read_csv(REF_DIR / "data" / f"{name}.csv"))

    ss = fit("sleepstudy", "Reaction ~ Days + (Days | Subject)")
    assert ss.deviance == pytest.approx(1743.628, abs=1e-3)
    np.testing.assert_allclose(ss.fixed["estimate"], [251.405, 10.467], atol=1e-3)
    np.testing.assert_allclose(ss.fixed["se"], [6.825, 1.546], atol=1e-3)
    assert ss.fixed.loc["Days", "df"] == pytest.approx(17.0, abs=0.05)
    np.testing.assert_allclose(ss.varcorr["sdcor"], [24.741, 5.922, 0.066, 25.592], atol=1e-3)
    pastes = fit("pastes", "strength ~ 1 + (1 | batch/cask)")
    assert pastes.deviance == pytest.approx(246.991, abs=1e-3)
    np.testing.assert_allclose(pastes.varcorr["sdcor"], [2.904, 1.287, 0.823], atol=1e-3)
    pen = fit("penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)")
    np.testing.assert_allclose(pen.varcorr["sdcor"], [0.847, 1.932, 0.550], atol=1e-3)
    hsb = fit("hsb82", "mAch ~ ses_within + ses_mean + (1 | school)")
    np.testing.assert_allclose(
        hsb.fixed.loc[["ses_within", "ses_mean"], "estimate"], [2.191, 5.866], atol=1e-3
    )
    np.testing.assert_allclose(
        hsb.fixed.loc[["ses_within", "ses_mean"], "se"], [0.109, 0.362], atol=1e-3
    )
    null = fit("hsb82", "mAch ~ 1 + (1 | school)")
    v = null.varcorr["vcov"].to_numpy()
    assert v[0] / v.sum() == pytest.approx(0.180, abs=1e-3)  # ICC


def test_no_false_convergence_alarm_on_larger_data():
    big = simulate_sessions(
        n_therapists=60, patients_per_therapist=(20, 40), sessions=(2, 14), seed=3
    ).dropna(subset=["pain", "alliance"])
    assert len(big) > 8_000
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # would fail the test
        m = lmm(FORMULA, big)
    # the raw gradient grows with the data; lme4's Hessian-scaled check stays small
    assert m.converged and m.optimizer["max_scaled_gradient"] < 2e-3


def test_failed_check_warns(sessions):
    strict = {"check_conv_grad_tol": 1e-300}  # no optimum can pass this
    with pytest.warns(DroppedRowsWarning, match="missing values"):
        with pytest.warns(ConvergenceWarning, match="verified optimum"):
            m = lmm("pain ~ session + (1 | patient)", sessions, control=strict)
    assert not m.converged and m.optimizer["restarts"] >= 1
    assert "did not reach a verified optimum" in m.summary()


def test_uncorrelated_terms_merge_in_ranef_like_lme4():
    d = pd.read_csv(REF_DIR / "data" / "sleepstudy.csv")
    m = quiet_fit("Reaction ~ Days + (Days || Subject)", d)
    assert list(m.ranef) == ["Subject"]
    assert list(m.ranef["Subject"].columns) == ["(Intercept)", "Days"]
    assert list(m.varcorr["grp"]) == ["Subject", "Subject.1", "Residual"]
    assert set(m.cond_var) == {"Subject", "Subject.1"}
    np.testing.assert_allclose(m.predict(d), m.fitted, rtol=1e-12)


def test_lrt_refuses_incomparable_models(sessions):
    data = sessions.dropna(subset=["pain", "alliance"])
    m0 = quiet_fit("pain ~ session + (1 | patient)", data)
    m1 = quiet_fit("pain ~ session + alliance + (1 | patient)", data)
    m1.nagq = 9  # as a GLMM fitted by adaptive quadrature would carry
    with pytest.raises(ModelSpecificationError, match="quadrature"):
        lrt(m0, m1)
    m1.nagq, m1.family = 1, "binomial"
    with pytest.raises(ModelSpecificationError, match="families"):
        lrt(m0, m1)


def test_exact_fit_is_refused():
    g = np.repeat(np.arange(10), 4)
    x = np.tile(np.arange(4.0), 10)
    df = pd.DataFrame({"g": g, "x": x, "y": 2 + 3 * x})
    with pytest.raises(ModelSpecificationError, match="exactly"):
        lmm("y ~ x + (1 | g)", df)
