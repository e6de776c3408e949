"""lmm(control=): optimiser choice, budgets and tolerances, check levels, refused options."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    ConvergenceWarning,
    DataQualityWarning,
    EstimationError,
    ModelSpecificationError,
    ParameterError,
    SingularFitWarning,
)
from alliancestats.models import lmm
from alliancestats.models.control import Control

DATA = Path(__file__).resolve().parents[1] / "reference" / "lmm" / "data"
SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return pd.read_csv(DATA / "sleepstudy.csv")


@pytest.fixture(scope="module")
def singular() -> pd.DataFrame:
    return pd.read_csv(DATA / "sim_singular.csv").dropna(subset=["pain", "alliance_within"])


@pytest.fixture(scope="module")
def default_fit(sleep):
    return lmm(SLEEP, sleep)


@pytest.mark.parametrize(
    ("optimizer", "label"),
    [("nelder_mead", "Nelder-Mead"), ("Nelder_Mead", "Nelder-Mead"), ("cobyqa", "COBYQA"),
     ("lbfgsb", "L-BFGS-B"), ("nloptwrap", "BOBYQA")],
)
def test_every_optimizer_reaches_the_same_optimum(sleep, default_fit, optimizer, label):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # each must pass the check
        m = lmm(SLEEP, sleep, control={"optimizer": optimizer})
    assert label in m.optimizer["method"]
    # the scaled-gradient check allows 2e-3; REML criteria of converged fits agree far closer
    assert m.deviance == pytest.approx(default_fit.deviance, rel=1e-7)
    # estimates move with the criterion's flatness only: 1e-4 of their size
    np.testing.assert_allclose(m.fixed["estimate"], default_fit.fixed["estimate"], rtol=1e-4)


def test_evaluation_budget_is_reported(sleep):
    with pytest.warns(ConvergenceWarning, match="evaluation budget"):
        m = lmm(SLEEP, sleep, control=Control(maxfun=5, calc_derivs=False))
    assert not m.converged
    assert any("maxfun = 5" in note for note in m.messages)


def test_tolerances_reach_the_optimiser(sleep, default_fit):
    tight = lmm(SLEEP, sleep, control={"calc_derivs": False})
    loose = lmm(SLEEP, sleep, control={"xtol_abs": 1e-2, "ftol_abs": 1e-1, "ftol_rel": 0.0,
                                       "calc_derivs": False})
    assert loose.optimizer["evaluations"] < tight.optimizer["evaluations"]
    assert loose.deviance >= default_fit.deviance - 1e-9  # never below the optimum


@pytest.mark.parametrize("level", ["ignore", "message", "warning", "stop"])
def test_gradient_check_levels(sleep, level):
    control = Control(check_conv_grad=level, check_conv_grad_tol=1e-300)  # always fails
    if level == "stop":
        with pytest.raises(EstimationError, match="verified optimum"):
            lmm(SLEEP, sleep, control=control)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = lmm(SLEEP, sleep, control=control)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert warned == (level != "ignore")
    assert not m.converged and "verified optimum" in m.summary()


@pytest.mark.parametrize("level", ["ignore", "warning", "stop"])
def test_singular_check_levels(singular, level):
    formula = "pain ~ session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)"
    control = Control(check_conv_singular=level)
    if level == "stop":
        with pytest.raises(EstimationError, match="singular"):
            lmm(formula, singular, control=control)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m = lmm(formula, singular, control=control)
    assert m.singular
    assert any(issubclass(w.category, SingularFitWarning) for w in caught) == (level != "ignore")


def test_calc_derivs_false_skips_the_checks(sleep, default_fit):
    m = lmm(SLEEP, sleep, control={"calc_derivs": False})
    assert m.converged and m.optimizer["restarts"] == 0
    assert m.optimizer["max_abs_gradient"] == 0.0  # no gradient was computed
    # same optimiser, same start: the same optimum (to the optimiser's tolerance)
    np.testing.assert_allclose(m.fixed["estimate"], default_fit.fixed["estimate"], rtol=1e-6)


def test_nobs_checks_follow_their_levels(sleep):
    data = sleep.assign(row=np.arange(len(sleep)).astype(str))
    formula = "Reaction ~ Days + (1 | Subject) + (1 | row)"
    with pytest.raises(ModelSpecificationError, match="check_nobs_vs_nlev"):
        lmm(formula, data)
    with pytest.warns(DataQualityWarning, match="number of levels"):
        m = lmm(formula, data, control={"check_nobs_vs_nlev": "warning",
                                        "check_nobs_vs_nRE": "ignore",
                                        "check_conv_hess": "ignore"})  # unidentifiable
    assert np.isfinite(m.deviance)


@pytest.mark.parametrize(
    ("control", "match"),
    [({"optimizer": ("bobyqa", "nelder_mead")}, "one optimisation stage"),
     ({"tol_pwrss": 1e-10}, "tol_pwrss"),
     ({"options": {"maxiter": 5}}, "optimiser-specific"),
     ({"optimizer": "optimx"}, "optimizer"),
     ({"maxfun": 0}, "maxfun"),
     ({"checkConvGrad": "ignore"}, "unknown control option"),
     ("bobyqa", "control must be")],
)
def test_options_lmm_cannot_use_are_refused(sleep, control, match):
    with pytest.raises(ParameterError, match=match):
        lmm(SLEEP, sleep, control=control)
