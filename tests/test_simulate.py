"""Tests of the simulators: structure, determinism, argument checks, and parameter recovery.

Recovery tests draw large samples and compare moment or OLS estimates with the true values;
each tolerance is a multiple of the estimate's own standard error, stated where it is used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from alliancestats import simulate_sessions as top_level_simulate_sessions
from alliancestats.simulate import simulate_sessions, simulate_studies

# switch off everything that is not under test, so each test isolates one mechanism
QUIET = dict(
    dropout_rate=0.0,
    missed_session_rate=0.0,
    missing_alliance_rate=0.0,
    missing_outcome_rate=0.0,
    telehealth_rate=0.0,
    alliance_growth=0.0,
    alliance_sd_growth=0.0,
)
Z = 4.0  # tolerance in standard errors: a correct simulator fails with probability < 1e-4


def _ols(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    sigma2 = resid @ resid / (len(y) - X.shape[1])
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(X.T @ X)))
    return beta, se


# ---------------------------------------------------------------------------------------------
# structure and determinism
# ---------------------------------------------------------------------------------------------
def test_top_level_export_is_the_simulator():
    assert top_level_simulate_sessions is simulate_sessions


def test_columns_and_types():
    df = simulate_sessions(n_therapists=5, seed=1, items=True)
    expected = [
        "therapist",
        "patient",
        "session",
        "arm",
        "modality",
        "attended",
        "date",
        "days",
        "alliance",
        *[f"wai_{k}" for k in range(1, 13)],
        "pain",
        "function",
        "adhered",
        "exercises_done",
        "exercises_prescribed",
        "sessions_planned",
        "dropped_out",
    ]
    assert list(df.columns) == expected
    assert pd.api.types.is_datetime64_any_dtype(df["date"])
    assert set(df["arm"]) == {"control", "intervention"}
    assert set(df["modality"]) <= {"in_person", "telehealth"}
    assert set(df["attended"]) <= {0, 1}
    assert set(df["adhered"].dropna()) <= {0.0, 1.0}
    # measurements are missing exactly at missed sessions (plus MCAR gaps at attended ones)
    missed = df["attended"] == 0
    assert df.loc[missed, ["alliance", "pain", "function", "adhered"]].isna().all().all()
    assert df.loc[~missed, "adhered"].notna().all()


def test_session_structure_caseloads_and_dropout_flags():
    df = simulate_sessions(
        n_therapists=30, patients_per_therapist=(2, 9), sessions=(4, 10), dropout_rate=0.1, seed=7
    )
    loads = df.groupby("therapist")["patient"].nunique()
    assert loads.between(2, 9).all() and loads.nunique() > 1  # unbalanced caseloads
    assert df.groupby("patient")["therapist"].nunique().eq(1).all()  # patients nested
    per_patient = df.groupby("patient").agg(
        first=("session", "min"),
        last=("session", "max"),
        rows=("session", "size"),
        planned=("sessions_planned", "first"),
        dropped=("dropped_out", "first"),
    )
    assert per_patient["first"].eq(1).all()
    assert per_patient["rows"].eq(per_patient["last"]).all()  # consecutive sessions 1..last
    assert per_patient["planned"].between(4, 10).all()
    # dropped-out patients stop early; the others reach their planned session count
    stopped_early = per_patient["last"] < per_patient["planned"]
    assert stopped_early.equals(per_patient["dropped"])
    assert per_patient["dropped"].any() and not per_patient["dropped"].all()
    # days increase within patient and start at 0
    assert (
        df.groupby("patient")["days"]
        .apply(lambda d: d.iloc[0] == 0 and d.is_monotonic_increasing)
        .all()
    )
    assert df.groupby("patient")["date"].apply(lambda d: d.is_monotonic_increasing).all()


def test_explicit_caseloads():
    loads = [3, 1, 4, 1, 5]
    df, truth = simulate_sessions(n_therapists=5, caseloads=loads, seed=2, return_truth=True)
    got = df.groupby("therapist")["patient"].nunique().to_list()
    assert got == loads
    assert truth["caseloads"] == tuple(loads)
    assert truth["n_patients"] == 14


def test_deterministic_given_seed():
    a = simulate_sessions(n_therapists=6, seed=123, items=True)
    b = simulate_sessions(n_therapists=6, seed=123, items=True)
    c = simulate_sessions(n_therapists=6, seed=124, items=True)
    pd.testing.assert_frame_equal(a, b)
    assert not a["alliance"].equals(c["alliance"])
    g1 = simulate_sessions(n_therapists=6, seed=np.random.default_rng(5))
    g2 = simulate_sessions(n_therapists=6, seed=np.random.default_rng(5))
    pd.testing.assert_frame_equal(g1, g2)


def test_truth_exposed_in_attrs_and_return_value():
    df, truth = simulate_sessions(n_therapists=4, seed=3, pain_within=-0.7, return_truth=True)
    assert df.attrs["truth"] == truth
    assert truth["pain_within"] == -0.7
    assert truth["n_patients"] == df["patient"].nunique()
    # default rel 1e-6: same formula, floating-point rounding only
    assert truth["alliance_icc_therapist"] == pytest.approx(0.04 / (0.04 + 0.2025 + 0.09))


def test_items_reproduce_alliance_up_to_rounding():
    df = simulate_sessions(n_therapists=20, seed=11, items=True, alliance_sd_patient=0.8)
    items = df[[f"wai_{k}" for k in range(1, 13)]]
    seen = df["alliance"].notna()
    assert items[~seen].isna().all().all()
    vals = items[seen].to_numpy()
    assert np.isin(vals, [1, 2, 3, 4, 5]).all()
    err = np.abs(vals.mean(axis=1) - df.loc[seen, "alliance"].clip(1, 5).to_numpy())
    assert err.max() <= 1 / 24 + 1e-12  # total rounded to the nearest integer: |error| <= 0.5/12
    # items vary within a row (not 12 copies of one value) in most rows
    assert (vals.std(axis=1) > 0).mean() > 0.5


# ---------------------------------------------------------------------------------------------
# parameter recovery
# ---------------------------------------------------------------------------------------------
def test_alliance_variance_components_recovered_by_nested_anova():
    a, b, n = 800, 5, 10  # balanced: therapists, patients per therapist, sessions
    sd_t, sd_p, sd_s, mu = 0.4, 0.45, 0.3, 3.7
    df = simulate_sessions(
        a,
        b,
        n,
        alliance_mean=mu,
        alliance_sd_therapist=sd_t,
        alliance_sd_patient=sd_p,
        alliance_sd_session=sd_s,
        seed=2024,
        **QUIET,
    )
    y = df["alliance"].to_numpy().reshape(a, b, n)
    grand = y.mean()
    m_t = y.mean(axis=(1, 2))
    m_p = y.mean(axis=2)
    ms_t = b * n * ((m_t - grand) ** 2).sum() / (a - 1)
    ms_p = n * ((m_p - m_t[:, None]) ** 2).sum() / (a * (b - 1))
    ms_e = ((y - m_p[:, :, None]) ** 2).sum() / (a * b * (n - 1))
    est = {"s": ms_e, "p": (ms_p - ms_e) / n, "t": (ms_t - ms_p) / (b * n)}
    # SEs of the ANOVA estimators from the chi-square distributions of the mean squares
    e_ms = {"e": sd_s**2, "p": sd_s**2 + n * sd_p**2, "t": sd_s**2 + n * sd_p**2 + b * n * sd_t**2}
    df_ms = {"e": a * b * (n - 1), "p": a * (b - 1), "t": a - 1}
    var_ms = {k: 2 * e_ms[k] ** 2 / df_ms[k] for k in e_ms}
    se = {
        "s": np.sqrt(var_ms["e"]),
        "p": np.sqrt(var_ms["p"] + var_ms["e"]) / n,
        "t": np.sqrt(var_ms["t"] + var_ms["p"]) / (b * n),
    }
    truth = {"s": sd_s**2, "p": sd_p**2, "t": sd_t**2}
    for k in truth:
        assert abs(est[k] - truth[k]) < Z * se[k], (k, est[k], truth[k], se[k])
    se_mean = np.sqrt(e_ms["t"] / (a * b * n))  # SE of the grand mean in a balanced design
    assert abs(grand - mu) < Z * se_mean


def test_alliance_mean_recovered():
    sds = dict(alliance_sd_therapist=0.05, alliance_sd_patient=0.1, alliance_sd_session=0.3)
    df = simulate_sessions(200, 8, 10, alliance_mean=3.6, seed=99, **sds, **QUIET)
    se = np.sqrt(0.05**2 / 200 + 0.1**2 / 1600 + 0.3**2 / 16000)  # balanced nested design
    assert abs(df["alliance"].mean() - 3.6) < Z * se


def test_alliance_growth_and_telehealth_shift_recovered():
    quiet = {**QUIET, "telehealth_rate": 0.4, "alliance_growth": 0.05}
    df = simulate_sessions(
        100, 10, 12, telehealth_alliance=-0.2, alliance_sd_therapist=0.0, seed=9, **quiet
    )
    # within-patient regression removes the patient intercepts; residual errors are then iid
    g = df.groupby("patient")
    yd = (df["alliance"] - g["alliance"].transform("mean")).to_numpy()
    xd = (df["session"] - g["session"].transform("mean")).to_numpy()
    tele = (df["modality"] == "telehealth").astype(float)
    td = (tele - tele.groupby(df["patient"]).transform("mean")).to_numpy()
    beta, se = _ols(yd, np.column_stack([xd, td]))
    assert abs(beta[0] - 0.05) < Z * se[0]
    assert abs(beta[1] - (-0.2)) < Z * se[1]
    assert abs((tele.mean()) - 0.4) < Z * np.sqrt(0.4 * 0.6 / len(df))


@pytest.mark.parametrize("outcome", ["pain", "function"])
def test_within_and_between_alliance_effects_recovered(outcome):
    within, between, slope = (-0.6, -1.2, -0.3) if outcome == "pain" else (2.5, 7.0, 1.2)
    sd_patient, sd_resid = (0.5, 0.5) if outcome == "pain" else (3.0, 2.0)
    kwargs = {
        f"{outcome}_sd_patient": sd_patient,
        f"{outcome}_sd_residual": sd_resid,
        f"{outcome}_within": within,
        f"{outcome}_between": between,
        f"{outcome}_slope": slope,
        f"{outcome}_sd_slope": 0.0,
        f"{outcome}_sd_therapist": 0.0,
        f"arm_effect_{outcome}": 0.0,
    }
    df = simulate_sessions(300, 8, 12, seed=31, alliance_sd_session=0.5, **QUIET, **kwargs)
    g = df.groupby("patient")
    pmean = g["alliance"].transform("mean")
    # within: demean inside patient (removes a_i); errors iid -> plain OLS SEs are valid
    yd = (df[outcome] - g[outcome].transform("mean")).to_numpy()
    wd = (df["alliance"] - pmean).to_numpy()
    xd = (df["session"] - g["session"].transform("mean")).to_numpy()
    beta, se = _ols(yd, np.column_stack([wd, xd]))
    assert abs(beta[0] - within) < Z * se[0]
    assert abs(beta[1] - slope) < Z * se[1]
    # between: patient means (balanced, complete) on the person-mean alliance; error a_i + mean eps
    pm = df.groupby("patient").agg(y=(outcome, "mean"), a=("alliance", "mean"))
    X = np.column_stack([np.ones(len(pm)), pm["a"].to_numpy()])
    beta_b, se_b = _ols(pm["y"].to_numpy(), X)
    assert abs(beta_b[1] - between) < Z * se_b[1]


def test_therapist_mean_alliance_effect_recovered():
    # Baldwin et al. (2007) split: patient deviation from the therapist mean vs therapist mean
    df = simulate_sessions(
        400,
        6,
        8,
        pain_between=-0.2,
        pain_therapist_alliance=-1.5,
        pain_sd_therapist=0.0,
        pain_sd_patient=0.5,
        pain_sd_slope=0.0,
        alliance_sd_therapist=0.4,
        seed=41,
        **QUIET,
    )
    pm = df.groupby("patient").agg(
        y=("pain", "mean"), m=("alliance", "mean"), t=("therapist", "first")
    )
    tmean = pm.groupby("t")["m"].transform("mean")
    X = np.column_stack([np.ones(len(pm)), (pm["m"] - tmean).to_numpy(), tmean.to_numpy()])
    beta, se = _ols(pm["y"].to_numpy(), X)
    assert abs(beta[1] - (-0.2)) < Z * se[1]
    assert abs(beta[2] - (-0.2 - 1.5)) < Z * se[2]


def test_random_effect_sds_of_outcome_recovered_from_patient_means():
    df = simulate_sessions(
        150,
        8,
        10,
        pain_within=0.0,
        pain_between=0.0,
        pain_sd_slope=0.0,
        pain_sd_therapist=0.5,
        pain_sd_patient=1.2,
        pain_sd_residual=1.0,
        arm_effect_pain=0.0,
        seed=77,
        **QUIET,
    )
    a, b, n = 150, 8, 10
    resid = df["pain"] - (6.5 - 0.25 * (df["session"] - 1))  # remove the known fixed part
    y = resid.to_numpy().reshape(a, b, n)
    m_t, m_p = y.mean(axis=(1, 2)), y.mean(axis=2)
    ms_e = ((y - m_p[:, :, None]) ** 2).sum() / (a * b * (n - 1))
    ms_p = n * ((m_p - m_t[:, None]) ** 2).sum() / (a * (b - 1))
    var_p = (ms_p - ms_e) / n
    se_e = 1.0 * np.sqrt(2 / (a * b * (n - 1)))
    se_p = np.sqrt(2 * (1 + n * 1.44) ** 2 / (a * (b - 1)) + 2 / (a * b * (n - 1))) / n
    assert abs(ms_e - 1.0) < Z * se_e
    assert abs(var_p - 1.44) < Z * se_p


def test_dropout_hazard_recovered():
    h = 0.06
    df = simulate_sessions(400, 6, 12, **{**QUIET, "dropout_rate": h}, dropout_alliance=0.0, seed=5)
    pp = df.groupby("patient").agg(last=("session", "max"), dropped=("dropped_out", "first"))
    events = pp["dropped"].sum()
    at_risk = (pp["last"] - 1).sum() + events  # survived transitions plus one failure each
    est = events / at_risk
    assert abs(est - h) < Z * np.sqrt(h * (1 - h) / at_risk)


def test_dropout_depends_on_alliance_in_the_stated_direction():
    df = simulate_sessions(
        200, 6, 12, **{**QUIET, "dropout_rate": 0.08}, dropout_alliance=-2.0, seed=6
    )
    first = df[df["session"] == 1].set_index("patient")
    gap = (
        first.loc[~first["dropped_out"], "alliance"].mean()
        - first.loc[first["dropped_out"], "alliance"].mean()
    )
    assert gap > 0.1  # with OR = e^-2 per point, dropouts have clearly lower early alliance


def test_adherence_rate_and_alliance_slope_recovered():
    import statsmodels.api as sm

    df = simulate_sessions(
        150,
        8,
        10,
        adherence_intercept=0.4,
        adherence_alliance=1.0,
        adherence_sd_patient=0.0,
        adherence_sd_therapist=0.0,
        seed=12,
        **QUIET,
    )
    X = sm.add_constant(df["alliance"] - 3.8)
    fit = sm.GLM(df["adhered"], X, family=sm.families.Binomial()).fit()
    assert abs(fit.params.iloc[0] - 0.4) < Z * fit.bse.iloc[0]
    assert abs(fit.params.iloc[1] - 1.0) < Z * fit.bse.iloc[1]

    df0 = simulate_sessions(
        150,
        8,
        10,
        adherence_intercept=0.4,
        adherence_alliance=0.0,
        adherence_sd_patient=0.0,
        adherence_sd_therapist=0.0,
        seed=13,
        **QUIET,
    )
    p = expit(0.4)
    assert abs(df0["adhered"].mean() - p) < Z * np.sqrt(p * (1 - p) / len(df0))


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_exercise_counts_recovered(family):
    df = simulate_sessions(
        150,
        8,
        10,
        exercises_family=family,
        exercises_intercept=-0.3,
        exercises_alliance=0.0,
        adherence_sd_patient=0.0,
        adherence_sd_therapist=0.0,
        seed=21,
        **QUIET,
    )
    done = df["exercises_done"].to_numpy()
    presc = df["exercises_prescribed"].to_numpy()
    assert df["exercises_prescribed"].between(3, 8).all()
    if family == "binomial":
        p = expit(-0.3)
        assert (done <= presc).all()
        est = done.sum() / presc.sum()
        se = np.sqrt(p * (1 - p) / presc.sum())
        assert abs(est - p) < Z * se
    else:
        rate = np.exp(-0.3)
        est = done.sum() / presc.sum()
        se = np.sqrt(rate / presc.sum())  # Poisson: Var(sum) = mean
        assert abs(est - rate) < Z * se


def test_missingness_rates_recovered():
    df = simulate_sessions(
        150,
        8,
        10,
        dropout_rate=0.0,
        missed_session_rate=0.1,
        missing_alliance_rate=0.05,
        missing_outcome_rate=0.07,
        seed=8,
    )
    later = df[df["session"] >= 2]
    assert df.loc[df["session"] == 1, "attended"].eq(1).all()
    miss = 1 - later["attended"].mean()
    assert abs(miss - 0.1) < Z * np.sqrt(0.1 * 0.9 / len(later))
    att = df[df["attended"] == 1]
    for col, rate in [("alliance", 0.05), ("pain", 0.07), ("function", 0.07)]:
        est = att[col].isna().mean()
        assert abs(est - rate) < Z * np.sqrt(rate * (1 - rate) / len(att)), col


# ---------------------------------------------------------------------------------------------
# study-level simulator
# ---------------------------------------------------------------------------------------------
def test_studies_sampling_variance_matches_fisher_z_theory():
    # tau = 0 and fixed n: Var(z) should be close to 1 / (n - 3) (Fisher's approximation)
    d = simulate_studies(4000, mean_r=0.3, tau=0.0, n=50, seed=4)
    mean_z = np.arctanh(0.3)
    assert (
        abs(d["yi"].mean() - mean_z) < Z * np.sqrt(1 / 47 / 4000) + 0.005
    )  # +bias of z(r) ~ r/2(n-1)
    var = d["yi"].var()
    assert abs(var - 1 / 47) < Z * (1 / 47) * np.sqrt(2 / 3999) + 0.0015  # +Fisher approx error
    assert (d["vi"] == 1 / 47).all()


def test_studies_heterogeneity_and_moderator_recovered():
    k = 3000
    d = simulate_studies(k, mean_r=0.2, tau=0.15, n=(100, 400), moderator_effect=0.1, seed=10)
    X = np.column_stack([np.ones(k), d["moderator"].to_numpy()])
    beta, se = _ols(d["yi"].to_numpy(), X)
    assert abs(beta[0] - np.arctanh(0.2)) < Z * se[0] + 0.003  # + small-sample bias of z(r)
    assert abs(beta[1] - 0.1) < Z * se[1]
    resid = d["yi"].to_numpy() - X @ beta
    tau2_mom = resid.var(ddof=2) - d["vi"].mean()  # method of moments
    se_tau2 = np.sqrt(2 / k) * (0.15**2 + d["vi"].mean())
    assert abs(tau2_mom - 0.15**2) < Z * se_tau2
    assert d["n"].between(100, 400).all()


def test_studies_three_level_structure_and_determinism():
    d, truth = simulate_studies(
        12, effects_per_study=(2, 5), sigma_within=0.1, seed=1, return_truth=True
    )
    counts = d.groupby("study").size()
    assert counts.between(2, 5).all() and len(counts) == 12
    assert d.groupby("study")["es_id"].apply(lambda s: list(s) == list(range(1, len(s) + 1))).all()
    assert d.groupby("study")["n"].nunique().eq(1).all()
    assert truth["mean_z"] == pytest.approx(np.arctanh(0.25))  # same formula: rounding only
    pd.testing.assert_frame_equal(
        d, simulate_studies(12, effects_per_study=(2, 5), sigma_within=0.1, seed=1)
    )
