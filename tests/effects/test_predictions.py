"""predictions(): intervals for means and new observations (tests/reference/effects)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.errors import ModelSpecificationError


@pytest.fixture(scope="module")
def ref(effects_reference):
    return effects_reference("emmeans_reference")["models"]["sleepstudy"]["results"]


@pytest.fixture(scope="module")
def fit(reference_fit):
    return reference_fit("../lmm/data/sleepstudy.csv", "Reaction ~ Days + (Days | Subject)")


def test_population_confidence(ref, fit):
    want = ref["predictions"]
    tab = als.predictions(fit, pd.DataFrame({"Days": want["Days"]}))
    # fixed effects ~1e-7 apart; SEs follow theta (~1e-6); df by numerical derivatives
    assert tab["estimate"].to_numpy() == pytest.approx(want["estimate"], rel=1e-6)
    assert tab["se"].to_numpy() == pytest.approx(want["se"], rel=1e-4)
    assert tab["df"].to_numpy() == pytest.approx(want["df"], rel=1e-3)
    assert tab["ci_low"].to_numpy() == pytest.approx(want["confidence_low"], rel=1e-5)
    assert tab["ci_high"].to_numpy() == pytest.approx(want["confidence_high"], rel=1e-5)


def test_population_prediction(ref, fit):
    want = ref["predictions"]
    tab = als.predictions(fit, pd.DataFrame({"Days": want["Days"]}), interval="prediction")
    assert tab["se"].to_numpy() == pytest.approx(want["se_prediction"], rel=1e-4)  # as above
    assert tab["pi_low"].to_numpy() == pytest.approx(want["prediction_low"], rel=1e-5)
    assert tab["pi_high"].to_numpy() == pytest.approx(want["prediction_high"], rel=1e-5)


def test_conditional_on_fitted_subjects(ref, fit):
    want = ref["predictions"]
    for case in want["conditional"]:
        new = pd.DataFrame({"Days": want["Days"], "Subject": case["subject"]})
        conf = als.predictions(fit, new, random=True)
        pred = als.predictions(fit, new, random=True, interval="prediction")
        # conditional modes and their variances follow theta (~1e-6 apart)
        assert conf["estimate"].to_numpy() == pytest.approx(case["estimate"], rel=1e-5)
        assert conf["se"].to_numpy() == pytest.approx(case["se_confidence"], rel=1e-4)
        assert pred["se"].to_numpy() == pytest.approx(case["se_prediction"], rel=1e-4)


def test_unseen_subject_is_a_new_group(fit):
    new = pd.DataFrame({"Days": [0.0, 5.0], "Subject": "not in the study"})
    a = als.predictions(fit, new, random=True, interval="prediction")
    b = als.predictions(fit, new[["Days"]], interval="prediction")
    np.testing.assert_allclose(a[["estimate", "se"]], b[["estimate", "se"]], rtol=1e-12)


def test_fitted_rows_by_default(fit):
    tab = als.predictions(fit, interval=None)
    assert list(tab.columns) == ["estimate", "se", "df"] and len(tab) == fit.nobs
    np.testing.assert_allclose(tab["estimate"], fit.predict(random=False), rtol=1e-12)


def test_glmm_response_scale(reference_fit):
    fit = reference_fit("../glmm/data/cbpp.csv",
                        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                        "binomial", "logit")
    new = pd.DataFrame({"period": ["1", "4"]})
    link = als.predictions(fit, new, type="link")
    resp = als.predictions(fit, new)
    p = 1 / (1 + np.exp(-link["estimate"]))
    np.testing.assert_allclose(resp["estimate"], p, rtol=1e-12)
    np.testing.assert_allclose(resp["se"], p * (1 - p) * link["se"], rtol=1e-12)
    np.testing.assert_allclose(resp["ci_low"], 1 / (1 + np.exp(-link["ci_low"])), rtol=1e-12)
    with pytest.raises(ModelSpecificationError, match="linear mixed models"):
        als.predictions(fit, new, interval="prediction")
    # the period means of emmeans are these predictions (one factor, no covariates)
    mm = als.marginal_means(fit, "period").table.set_index("period")
    assert resp["estimate"].to_numpy() == pytest.approx(mm.loc[["1", "4"], "estimate"])
