"""riclpm() / clpm(): long data handling, options, results, errors, parameter recovery."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from panel_reference import long_data, riclpm_fit

import alliancestats as als
from alliancestats.errors import (
    AllianceStatsWarning,
    DataQualityWarning,
    DataValidationError,
    DroppedRowsWarning,
    ModelSpecificationError,
    ParameterError,
)
from alliancestats.panel.riclpm import riclpm_spec


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    return als.simulate_riclpm(n_patients=400, n_waves=5, dropout=0.05, missing_rate=0.03,
                               seed=21)


@pytest.fixture(scope="module")
def simulated_fit(simulated):
    return als.riclpm(simulated, "alliance", "symptoms", constraints="paths")


def test_session_numbers_are_waves_and_gaps_stay_missing():
    d = long_data("RICLPM.dat")
    # drop session 3 for the first 100 patients: their wave 3 is missing, not wave 4 moved up
    gap = d[~((d["patient"] <= 100) & (d["session"] == 3))]
    with_gap = als.riclpm(gap, "x", "y", constraints="paths")
    as_nan = d.copy()
    as_nan.loc[(as_nan["patient"] <= 100) & (as_nan["session"] == 3), ["x", "y"]] = np.nan
    explicit = als.riclpm(as_nan, "x", "y", constraints="paths")
    assert with_gap.waves == [1, 2, 3, 4, 5]
    assert with_gap.wide.loc[1, "x_3"] != with_gap.wide.loc[1, "x_3"]  # NaN
    assert with_gap.wide.loc[1, "x_4"] == d.loc[(d["patient"] == 1) & (d["session"] == 4),
                                                "x"].item()
    assert with_gap.loglik == pytest.approx(explicit.loglik, abs=1e-9)
    assert np.allclose(with_gap.coefficients["estimate"], explicit.coefficients["estimate"])


def test_row_order_and_session_data_do_not_matter():
    d = long_data("RICLPM.dat")
    shuffled = d.sample(frac=1.0, random_state=3)
    a = riclpm_fit("riclpm")
    b = als.riclpm(shuffled, "x", "y")
    assert b.loglik == pytest.approx(a.loglik, abs=1e-8)
    sd = als.load_sessions(d, patient="patient", session="session", outcomes=["x", "y"])
    c = als.riclpm(sd, "x", "y")
    assert c.loglik == pytest.approx(a.loglik, abs=1e-8)


def test_coefficients_table_layout(simulated_fit):
    c = simulated_fit.coefficients
    assert list(c.columns) == ["outcome", "predictor", "wave", "kind", "label", "estimate",
                               "se", "z", "p", "ci_low", "ci_high", "std_all"]
    assert c.index[0] == "symptoms_2 ~ alliance_1"
    assert len(c) == 4 * 4  # four paths for each of waves 2..5
    assert set(c["kind"]) == {"autoregressive", "cross-lagged"}
    # equal over waves: one estimate per path
    assert c.groupby(["outcome", "predictor"])["estimate"].nunique().eq(1).all()
    assert np.allclose(c["ci_high"] - c["estimate"], 1.959964 * c["se"], rtol=1e-6)
    assert simulated_fit.highlights == ["symptoms_2 ~ alliance_1", "alliance_2 ~ symptoms_1"]


def test_summary_and_apa(simulated_fit):
    text = simulated_fit.summary()
    assert text.splitlines()[0].startswith("RI-CLPM: alliance and symptoms, sessions 1-5")
    assert "Chi-square (df)" in text and "Random intercepts:" in text
    apa = simulated_fit.apa()
    assert apa.startswith("RI-CLPM for alliance and symptoms")
    assert "χ²(" in apa and "CFI = " in apa and "symptoms_2 ~ alliance_1: b = " in apa
    one = simulated_fit.apa(["alliance_2 ~ alliance_1"])
    assert "alliance_2 ~ alliance_1: b" in one and "symptoms_2" not in one
    with pytest.raises(KeyError, match="not in coefficients"):
        simulated_fit.apa(["nope"])
    assert "PanelResult RI-CLPM" in repr(simulated_fit)


def test_parameters_recovered_from_simulated_data():
    truth = dict(ar_x=0.3, ar_y=0.4, x_to_y=-4.0, y_to_x=0.02)
    df = als.simulate_riclpm(n_patients=1500, n_waves=5, seed=7, **truth)
    fit = als.riclpm(df, "alliance", "symptoms",
                     constraints=["paths", "innovations", "means"])
    c = fit.coefficients[fit.coefficients["wave"] == 2].set_index(["outcome", "predictor"])
    targets = {("alliance", "alliance"): truth["ar_x"], ("symptoms", "symptoms"): truth["ar_y"],
               ("symptoms", "alliance"): truth["x_to_y"], ("alliance", "symptoms"): truth["y_to_x"]}
    for key, value in targets.items():
        # deterministic seed; 4 standard errors keeps a false alarm below 1e-4 per parameter
        assert abs(c.loc[key, "estimate"] - value) < 4 * c.loc[key, "se"], key
    ri = fit.random_intercepts["estimate"]
    t = df.attrs["truth"]
    ri_truth = {"RI_alliance ~~ RI_alliance": t["ri_sd_x"] ** 2,
                "RI_symptoms ~~ RI_symptoms": t["ri_sd_y"] ** 2,
                "RI_alliance ~~ RI_symptoms": t["ri_corr"] * t["ri_sd_x"] * t["ri_sd_y"]}
    for key, value in ri_truth.items():
        assert abs(ri[key] - value) < 4 * fit.random_intercepts.loc[key, "se"], key


def test_clpm_is_biased_where_the_riclpm_is_not():
    df = als.simulate_riclpm(n_patients=1500, n_waves=5, seed=9, ri_sd_x=0.6, ri_sd_y=20.0,
                             ri_corr=-0.6)
    kw = {"constraints": "paths"}
    ri = als.riclpm(df, "alliance", "symptoms", **kw).coefficients
    cl = als.clpm(df, "alliance", "symptoms", **kw).coefficients
    key = "symptoms_2 ~ alliance_1"
    assert abs(ri.loc[key, "estimate"] + 4.0) < 4 * ri.loc[key, "se"]
    # stable between-patient differences leak into the CLPM's cross-lagged path
    assert abs(cl.loc[key, "estimate"] + 4.0) > 4 * cl.loc[key, "se"]


def test_groups_and_covariates():
    res = riclpm_fit("riclpm_groups_equal")
    c = res.coefficients
    assert res.groups == [1, 2]
    assert "group" in c.columns and c.index[0].endswith("[1]")
    # lagged paths equal across groups (per wave)
    assert c.groupby(["outcome", "predictor", "wave"])["estimate"].nunique().eq(1).all()
    z = riclpm_fit("riclpm_z_intercepts")
    assert list(z.covariate_effects.index) == ["RI_x ~ z1", "RI_y ~ z1"]


def test_clpm_covariates_predict_the_observed_scores():
    d = long_data("RICLPM-Z.dat")
    fit = als.clpm(d, "x", "y", covariates="z1", constraints="paths")
    effects = fit.covariate_effects
    assert len(effects) == 10  # x_1..x_5 and y_1..y_5 on z1, one label each
    assert effects.loc["x_1 ~ z1", "estimate"] == pytest.approx(effects.loc["x_5 ~ z1",
                                                                            "estimate"])


def test_waves_argument():
    d = long_data("RICLPM.dat")
    first3 = als.riclpm(d, "x", "y", waves=3)
    assert first3.waves == [1, 2, 3]
    assert len(first3.dropped) == 2 * 1189  # sessions 4 and 5 left out, recorded
    assert set(first3.dropped["reason"]) == {"session outside the analysed waves 1-3"}
    later = als.riclpm(d, "x", "y", waves=[3, 4, 5])
    assert later.waves == [3, 4, 5]
    with pytest.raises(ParameterError, match="consecutive"):
        als.riclpm(d, "x", "y", waves=[1, 3, 5])
    with pytest.raises(ParameterError, match="at least 2"):
        als.riclpm(d, "x", "y", waves=1)


def test_bad_input_gives_clear_errors():
    d = long_data("RICLPM.dat")
    with pytest.raises(DataValidationError, match="more than once|repeat"):
        als.riclpm(pd.concat([d, d.head(1)]), "x", "y")
    frac = d.astype({"session": float})
    frac.loc[0, "session"] = 1.5
    with pytest.raises(DataValidationError, match="whole"):
        als.riclpm(frac, "x", "y")
    text = d.astype({"x": object})
    text.loc[3, "x"] = "high"
    with pytest.raises(DataValidationError, match="non-numeric") as err:
        als.riclpm(text, "x", "y")
    assert err.value.problems["row"].tolist() == [3]
    with pytest.raises(DataValidationError, match="not in the data"):
        als.riclpm(d, "x", "nope")
    with pytest.raises(ParameterError):
        als.riclpm(d, "x", "y", constraints="everything")
    with pytest.raises(ParameterError, match="group"):
        als.riclpm(d, "x", "y", constraints="groups")
    with pytest.raises(ParameterError):
        als.riclpm(d, "x", "x")
    with pytest.raises(ParameterError):
        als.riclpm(d, "x", "y", level=95)
    with pytest.raises(ParameterError):
        als.riclpm(d, "x", "y", information="hessian")
    with pytest.raises(ParameterError):
        als.riclpm([1, 2, 3], "x", "y")


def test_covariate_changing_within_patient_is_refused():
    d = long_data("RICLPM-Z.dat").copy()
    d.loc[d.index[1], "z1"] = d.loc[d.index[1], "z1"] + 1.0
    with pytest.raises(DataValidationError, match="constant within each patient") as err:
        als.riclpm(d, "x", "y", covariates="z1")
    assert len(err.value.problems) >= 2


def test_thin_waves_and_empty_patients():
    df = als.simulate_riclpm(n_patients=60, n_waves=6, dropout=0.5, seed=2)
    with pytest.raises(DataValidationError, match="too few observations"):
        als.riclpm(df, "alliance", "symptoms")
    d = long_data("RICLPM.dat").copy()
    d.loc[d["patient"] == 5, ["x", "y"]] = np.nan
    with pytest.warns(DroppedRowsWarning, match="1 patient"):
        fit = als.riclpm(d, "x", "y", constraints="paths")
    assert fit.nobs == 1188
    assert "no observed value" in fit.dropped["reason"].iloc[-1]


def test_improper_solution_warns():
    # no stable differences in symptoms: with this seed its random-intercept variance is
    # estimated below zero, a Heywood case lavaan also warns about
    df = als.simulate_riclpm(n_patients=300, n_waves=4, ri_sd_y=0.0, ri_corr=0.0, seed=12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AllianceStatsWarning)
        fit = als.riclpm(df, "alliance", "symptoms", constraints="paths")
    assert fit.random_intercepts.loc["RI_symptoms ~~ RI_symptoms", "estimate"] < 0
    names = {w.category.__name__ for w in caught}
    assert names == {"ImproperSolutionWarning"}
    assert any("negative variance estimate(s) for RI_symptoms" in m for m in fit.messages)
    assert any("not positive definite" in m for m in fit.messages)
    assert "negative variance" in fit.summary()


def test_spec_counts_match_the_model_definition():
    waves = [1, 2, 3, 4]
    free = riclpm_spec("x", "y", waves).compile().n_free
    # 3 RI (co)variances + 4 paths x 3 waves + 3 wave-1 + 3 x 3 innovations + 8 means
    assert free == 3 + 12 + 3 + 9 + 8
    equal = riclpm_spec("x", "y", waves, equal={"paths", "innovations", "means"})
    assert equal.compile().n_free == 3 + 4 + 3 + 3 + 2
    clpm = riclpm_spec("x", "y", waves, random_intercepts=False).compile()
    assert clpm.n_free == free - 3 and clpm.spec.latent == []


def test_degenerate_data_are_refused_with_a_reason():
    d = long_data("RICLPM.dat")
    with pytest.raises(ModelSpecificationError, match="at least 3 waves"):
        als.riclpm(d, "x", "y", waves=2)
    assert als.clpm(d, "x", "y", waves=2).df == 0  # the CLPM is saturated with two waves
    flat = d.copy()
    flat.loc[flat["session"] == 2, "y"] = 1.0
    with pytest.raises(DataValidationError, match="do not vary"):
        als.riclpm(flat, "x", "y")
    twin = d.assign(x=d["y"])
    with pytest.raises(ModelSpecificationError, match="singular"):
        als.riclpm(twin, "x", "y")
    z = long_data("RICLPM-Z.dat").assign(z1=3.0)
    with pytest.raises(DataValidationError, match="do not vary"):
        als.riclpm(z, "x", "y", covariates="z1")


def test_fit_without_an_estimable_saturated_model():
    # 14 patients, 12 variables, dropout: the unrestricted covariance is singular, the
    # structured model is not; chi-square and the indices built on it are withheld
    df = als.simulate_riclpm(n_patients=14, n_waves=6, dropout=0.1, seed=0)
    with pytest.warns(DataQualityWarning, match="saturated"):
        fit = als.clpm(df, "alliance", "symptoms", constraints="paths")
    assert fit.converged
    assert np.isnan(fit.chisq) and np.isnan(fit.fit["cfi"]) and np.isnan(fit.fit["srmr"])
    assert np.isfinite(fit.loglik) and np.isfinite(fit.aic)
    assert fit.fit_text().startswith("χ² and fit indices not available")
    assert any("saturated" in m for m in fit.messages)
