"""Expected-recovery curves: the reference growth model, bands and updating against lme4."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from monitoring_reference import REF
from scipy import stats

from alliancestats import SessionData, expected_response, lmm
from alliancestats.errors import DataValidationError, ParameterError

POOLED = REF["pooled"]


def _reference_predictions() -> pd.DataFrame:
    return pd.DataFrame(POOLED["predictions"]).set_index(["patient", "session"])


def _ours(pooled, monitored, **kw) -> pd.DataFrame:
    p = pooled.predict(monitored, **kw)
    return p[p["phase"] == "treatment"].set_index(["patient", "session"])


def test_reference_model_matches_lme4(pooled):
    fixed = pooled.fit.fixed
    assert list(fixed.index) == ["(Intercept)", "time", "intake", "time:intake"]
    # 1e-4 relative: both optimisers stop within their tolerance of the same REML optimum
    # (worst observed 1.3e-5, on the small time:intake coefficient)
    np.testing.assert_allclose(fixed["estimate"], POOLED["fixed"], rtol=1e-4)
    assert pooled.centre["intake"] == pytest.approx(POOLED["centre"], abs=1e-12)  # a mean
    g = pooled.fit.model.covariances()[0].cov
    # variance components converge less tightly than the fixed effects (flat REML surface)
    np.testing.assert_allclose(np.ravel(g), POOLED["G"], rtol=1e-3)
    assert pooled.fit.sigma**2 == pytest.approx(POOLED["sigma2"], rel=1e-4)  # same reason
    assert pooled.fit.nobs == POOLED["n_obs"]
    assert pooled.fit.ngroups["patient"] == POOLED["n_patients"]


def test_every_reference_row_is_predicted(pooled, halves):
    ours = _ours(pooled, halves[1])
    ref = _reference_predictions()
    assert set(ours.index) == set(ref.index)  # no monitored session drops out of the grid
    assert len(ref) == 1060  # scored or not, every session after intake


@pytest.mark.parametrize(("kw", "mean_col", "sd_col"), [
    ({}, "expected", "sd"),
    ({"update": True}, "expected_updated", "sd_updated"),
])
def test_expectation_and_band_sd_match_batch_gls_in_r(pooled, halves, kw, mean_col, sd_col):
    ours = _ours(pooled, halves[1], **kw)
    ref = _reference_predictions().reindex(ours.index)
    # 1e-4 relative: the lme4 and alliancestats REML estimates differ in the 5th digit
    np.testing.assert_allclose(ours["expected"], ref[mean_col], rtol=1e-4)
    np.testing.assert_allclose(ours["sd"], ref[sd_col], rtol=1e-4)
    z = stats.norm.ppf(0.9)
    # band bounds are expected -/+ z sd exactly (same floating-point formula)
    np.testing.assert_allclose(ours["band_high"], ours["expected"] + z * ours["sd"], rtol=1e-14)
    np.testing.assert_allclose(ours["band_low"], ours["expected"] - z * ours["sd"], rtol=1e-14)


@pytest.mark.parametrize(("update", "sd_col"), [(False, "sd_beta"), (True, "sd_updated_beta")])
def test_parameter_uncertainty_adds_the_prediction_error_of_beta(halves, update, sd_col):
    er = expected_response(halves[0], "symptoms", parameter_uncertainty=True)
    ours = _ours(er, halves[1], update=update)
    ref = _reference_predictions().reindex(ours.index)
    np.testing.assert_allclose(ours["sd"], ref[sd_col], rtol=1e-4)  # as above: REML digits


def test_fixed_effects_curve_equals_lmm_predictions_exactly(pooled, halves):
    p = pooled.predict(halves[1])
    rows = p[p["phase"].isin(["intake", "treatment"])]  # the rows predict() evaluates
    newdata = pd.DataFrame({"time": rows["time"],
                            "intake": rows["intake"] - pooled.centre["intake"]})
    direct = pooled.fit.predict(newdata, random=False)
    np.testing.assert_array_equal(rows["expected"].to_numpy(), np.asarray(direct, dtype=float))


def test_refit_with_lmm_on_the_documented_frame_gives_the_same_model(pooled, halves):
    ref = halves[0].sort_values(["patient", "session"])
    ref = ref.assign(intake=ref.groupby("patient")["symptoms"].transform("first"))
    first = ref["session"].where(ref["symptoms"].notna()).groupby(ref["patient"]).transform("min")
    ref = ref.assign(t=ref["session"] - first + 1)
    rows = ref[(ref["t"] > 1) & ref["symptoms"].notna()].copy()
    rows["time"] = np.log(rows["t"])
    rows["intake"] -= rows.groupby("patient")["intake"].first().mean()
    fit = lmm("symptoms ~ time * intake + (time | patient)", rows)
    # same data and formula: identical up to floating-point summation order
    np.testing.assert_allclose(fit.fixed["estimate"], pooled.fit.fixed["estimate"], rtol=1e-10)


@pytest.mark.parametrize("patient", ["P170", "P200"])
def test_nearest_neighbour_curves_match_local_lme4_fits(halves, patient):
    ref = REF["neighbours"][patient]
    er = expected_response(halves[0], "symptoms", neighbours=60)
    new = halves[1][halves[1]["patient"] == patient]
    ours = _ours(er, new)
    fit = er.model_for(new["symptoms"].dropna().iloc[0])
    assert sorted(fit.patients) == sorted(ref["neighbours"])
    np.testing.assert_allclose(fit.result.fixed["estimate"], ref["fixed"], rtol=1e-4)  # REML digits
    assert list(ours.index.get_level_values("session")) == ref["sessions"]
    np.testing.assert_allclose(ours["expected"], ref["expected"], rtol=1e-4)  # REML digits
    np.testing.assert_allclose(ours["sd"], ref["sd"], rtol=1e-4)  # REML digits
    upd = _ours(er, new, update=True)
    np.testing.assert_allclose(upd["expected"], ref["expected_updated"], rtol=1e-4)  # REML digits
    np.testing.assert_allclose(upd["sd"], ref["sd_updated"], rtol=1e-4)  # REML digits


def test_curve_for_a_new_patient_matches_predict(pooled):
    c = pooled.curve(90, sessions=[1, 2, 4, 8])
    d = pd.DataFrame({"patient": "x", "session": [3, 4, 6, 10],
                      "symptoms": [90.0, np.nan, np.nan, np.nan]})
    p = pooled.predict(d)
    np.testing.assert_allclose(c["expected"].to_numpy()[1:], p["expected"].to_numpy()[1:],
                               rtol=1e-12)  # same formula, rows processed in another order
    assert c["t"].tolist() == [1, 2, 4, 8] and p["t"].tolist() == [1, 2, 4, 8]
    assert c["expected"].iloc[0] == pytest.approx(pooled.fit.fixed.loc["(Intercept)", "estimate"]
                                                  + pooled.fit.fixed.loc["intake", "estimate"]
                                                  * (90 - pooled.centre["intake"]), rel=1e-12)


def test_linear_time_and_intake_columns(halves):
    # a patient-level intake variable other than the first score (the first alliance rating)
    ref = halves[0].assign(severity=halves[0].groupby("patient")["wai_sr"].transform("first"))
    er = expected_response(ref, "symptoms", intake="severity", time="linear")
    assert er.formula == "score ~ time * severity + (time | patient)"
    assert not er.fit.singular
    assert er.fit.nobs == ref.dropna(subset=["symptoms", "severity"]).shape[0]  # intake modelled
    p = er.predict(ref.head(20))
    assert (p.loc[p["phase"] != "no intake", "time"] == p.loc[p["phase"] != "no intake", "t"]
            - 1).all()
    assert "intake variable(s) severity" in er.summary()


def test_session_data_is_accepted(halves):
    from alliancestats import load_sessions

    sd = load_sessions(halves[0], patient="patient", session="session", outcomes="symptoms")
    assert isinstance(sd, SessionData)
    er = expected_response(sd, "symptoms")
    er2 = expected_response(halves[0], "symptoms")
    np.testing.assert_allclose(er.fit.fixed["estimate"], er2.fit.fixed["estimate"], rtol=1e-12)


def test_bad_input_gets_clear_errors(halves):
    with pytest.raises(ParameterError, match="time"):
        expected_response(halves[0], "symptoms", time="quadratic")
    with pytest.raises(ParameterError, match="level"):
        expected_response(halves[0], "symptoms", level=1.5)
    with pytest.raises(DataValidationError, match="2 patient"):
        expected_response(halves[0][halves[0]["patient"] <= "P002"], "symptoms")
    with pytest.raises(ParameterError, match="neighbours"):
        expected_response(halves[0], "symptoms", neighbours=10_000)
    with pytest.raises(ParameterError, match="cannot be used"):
        expected_response(halves[0], "symptoms", intake="time")
    varying = halves[0].assign(sev=np.arange(len(halves[0])))
    with pytest.raises(DataValidationError, match="constant within each patient"):
        expected_response(varying, "symptoms", intake="sev")
