"""lmm(weights=): prior weights pinned against lme4 1.1-31 / lmerTest 3.1-3 (lmm_weights.R),
refused bad weights, and the weights carried by the fitted model."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    AllianceStatsWarning,
    DataValidationError,
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
)
from alliancestats.models import lmm

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((REF_DIR / "lmm_weights.json").read_text())
CASES = [f"{name}_{method}" for name in ("sleepstudy", "penicillin", "sim_unbalanced")
         for method in ("REML", "ML")]


def test_reference_grid_is_complete():
    assert sorted(REF["fits"]) == sorted(CASES)


def case_data(ref: dict) -> pd.DataFrame:
    """The CSV with the weights of the R script: w_i = 0.5 + ((7 i) mod 5) / 2."""
    d = pd.read_csv(REF_DIR / "data" / ref["data"])
    i = np.arange(1, len(d) + 1)
    d["w"] = 0.5 + ((7 * i) % 5) / 2
    if ref["na_every"]:
        d.loc[i % ref["na_every"] == 0, "w"] = np.nan
    return d


@pytest.fixture(scope="module", params=CASES)
def pair(request):
    ref = REF["fits"][request.param]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DroppedRowsWarning)  # R drops the same rows silently
        fit = lmm(ref["formula"], case_data(ref), reml=ref["reml"], weights="w")
    return fit, ref


def test_criterion_and_loglik(pair):
    fit, ref = pair
    assert fit.nobs == ref["nobs"]
    # same profiled criterion, optimiser tolerance: 1e-6 relative; ours never higher
    assert fit.deviance == pytest.approx(ref["criterion"], rel=1e-6)
    assert fit.deviance <= ref["criterion"] + 1e-9 * abs(ref["criterion"])
    assert fit.loglik == pytest.approx(ref["loglik"], rel=1e-6)  # as the criterion


def test_fixed_effects(pair):
    fit, ref = pair
    fx = fit.fixed
    assert list(fx.index) == list(np.atleast_1d(ref["fixed"]["term"]))
    # lme4 stops when the deviance changes by < 1e-8, on a flat criterion: 1e-4 relative
    np.testing.assert_allclose(fx["estimate"], ref["fixed"]["estimate"], rtol=1e-4)
    # SEs depend on theta, which the flat criterion fixes to about 1e-4
    np.testing.assert_allclose(fx["se"], ref["fixed"]["se"], rtol=1e-3)
    # Satterthwaite df from numerical derivatives (lmerTest: numDeriv, ours: Richardson)
    np.testing.assert_allclose(fx["df"], ref["fixed"]["df"], rtol=1e-2)


def test_variance_components_and_fitted(pair):
    fit, ref = pair
    vc = fit.varcorr
    # SDs and correlations follow theta (optimiser tolerance): 1e-3 relative, 1e-3 absolute
    # for correlations near zero
    np.testing.assert_allclose(vc["sdcor"], ref["varcorr"]["sdcor"], rtol=1e-3, atol=1e-3)
    assert fit.sigma == pytest.approx(ref["sigma"], rel=1e-4)  # sqrt of pwrss / df at theta
    # fitted values combine beta and the modes: 1e-5 relative on responses of order 10-400
    np.testing.assert_allclose(fit.fitted[:10], ref["fitted_head"], rtol=1e-5)


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return case_data(REF["fits"]["sleepstudy_REML"])


SLEEP = "Reaction ~ Days + (Days | Subject)"


def test_weights_as_array_equal_weights_as_column(sleep):
    by_name = lmm(SLEEP, sleep, weights="w")
    by_array = lmm(SLEEP, sleep, weights=sleep["w"].to_numpy())
    assert by_array.deviance == by_name.deviance
    np.testing.assert_array_equal(by_array.model.prior_weights, sleep["w"])


def test_unit_weights_are_no_weights(sleep):
    plain = lmm(SLEEP, sleep)
    ones = lmm(SLEEP, sleep, weights=np.ones(len(sleep)))
    assert ones.deviance == plain.deviance
    np.testing.assert_array_equal(plain.model.prior_weights, np.ones(len(sleep)))


def test_scaling_all_weights_rescales_only_sigma(sleep):
    # w -> c w is sigma^2 -> c sigma^2 with the same beta (lme4 behaves alike)
    a = lmm(SLEEP, sleep, weights="w")
    b = lmm(SLEEP, sleep.assign(w=4 * sleep["w"]), weights="w")
    np.testing.assert_allclose(b.fixed["estimate"], a.fixed["estimate"], rtol=1e-6)
    assert b.sigma == pytest.approx(2 * a.sigma, rel=1e-5)  # optimiser tolerance


def test_refit_null_and_simulate_keep_the_weights(sleep):
    fit = lmm(SLEEP, sleep, weights="w")
    null = fit.model.refit_null()
    np.testing.assert_array_equal(null.model.prior_weights, sleep["w"])
    direct = lmm("Reaction ~ 1 + (Days | Subject)", sleep, weights="w")
    assert null.deviance == pytest.approx(direct.deviance, rel=1e-12)  # the same fit
    ml = fit.model.refit_ml()
    assert ml.method == "ML" and np.any(ml.model.prior_weights != 1)


def test_kenward_roger_refuses_weighted_fits(sleep):
    fit = lmm(SLEEP, sleep, weights="w")
    with pytest.raises(ModelSpecificationError, match="weights"):
        fit.model.kenward_roger()


def test_missing_weights_drop_rows_with_a_warning(sleep):
    d = sleep.copy()
    d.loc[[3, 50], "w"] = np.nan
    with pytest.warns(DroppedRowsWarning, match="2 with a missing weight"):
        fit = lmm(SLEEP, d, weights="w")
    assert fit.nobs == len(d) - 2 and fit.n_dropped == 2


@pytest.mark.parametrize(
    ("weights", "error", "match"),
    [(-1.0, DataValidationError, "positive"),
     (0.0, DataValidationError, "positive"),
     (np.inf, DataValidationError, "infinite"),
     ("text", DataValidationError, "non-numeric"),
     ],
)
def test_bad_weight_values_are_refused(sleep, weights, error, match):
    d = sleep.astype({"w": object})
    d.loc[7, "w"] = weights
    with pytest.raises(error, match=match):
        lmm(SLEEP, d, weights="w")


def test_bad_weight_arguments_are_refused(sleep):
    with pytest.raises(FormulaError, match="'W'.*did you mean 'w'"):
        lmm(SLEEP, sleep, weights="W")
    with pytest.raises(DataValidationError, match="179 values but the data have 180"):
        lmm(SLEEP, sleep, weights=np.ones(179))
    with pytest.raises(DataValidationError, match="must be numbers"):
        lmm(SLEEP, sleep, weights=["a"] * len(sleep))
    with pytest.raises(DataValidationError, match="one-dimensional"):
        lmm(SLEEP, sleep, weights=np.ones((len(sleep), 2)))
    with pytest.raises(DataValidationError, match="index"):
        lmm(SLEEP, sleep, weights=sleep["w"].reset_index(drop=True).set_axis(
            np.arange(len(sleep)) + 1000))


def test_no_warning_on_a_clean_weighted_fit(sleep):
    with warnings.catch_warnings():
        warnings.simplefilter("error", AllianceStatsWarning)
        lmm(SLEEP, sleep, weights="w")


def test_all_fit_of_a_weighted_lmm_reaches_lmer_with_every_optimizer():
    from alliancestats.models.all_fit import all_fit
    from alliancestats.models.control import OPTIMIZERS

    ref = REF["fits"]["sleepstudy_REML"]
    fit = lmm(ref["formula"], case_data(ref), reml=True, weights="w")
    af = all_fit(fit)
    assert af.table.index.tolist() == list(OPTIMIZERS)
    assert af.table["ok"].all()
    # every optimiser keeps REML and the weights: lmer's REML log-likelihood (1e-6 relative,
    # the criterion tolerance above) and fixed effects (1e-4 relative, as above)
    np.testing.assert_allclose(af.table["loglik"], ref["loglik"], rtol=1e-6)
    np.testing.assert_allclose(af.fixef[ref["fixed"]["term"]].to_numpy(),
                               np.tile(ref["fixed"]["estimate"], (len(OPTIMIZERS), 1)),
                               rtol=1e-4)
    assert af.loglik_range() < 1e-4
