"""Fitting controls (lme4's lmerControl / glmerControl): defaults and validation."""

import pytest

from alliancestats.errors import ParameterError
from alliancestats.models.control import CHECK_LEVELS, OPTIMIZERS, Control, as_control


def test_defaults_follow_lme4():
    c = Control()
    assert c.optimizer == "bobyqa"
    assert c.check_conv_grad == "warning" and c.check_conv_grad_tol == 2e-3
    assert c.check_conv_singular == "message" and c.check_conv_singular_tol == 1e-4
    assert c.check_conv_hess_tol == 1e-6
    assert c.tol_pwrss == 1e-7  # glmerControl(tolPwrss = 1e-7)
    assert c.calc_derivs and c.restart_edge


def test_two_stage_optimizers():
    assert Control(optimizer=("nelder_mead", "bobyqa")).stage_optimizers() == (
        "nelder_mead", "bobyqa")
    assert Control().stage_optimizers() == ("bobyqa", "bobyqa")


@pytest.mark.parametrize(
    "bad",
    [{"optimizer": "nlminbwrap"}, {"optimizer": ("a", "b", "c")}, {"maxfun": 0},
     {"check_conv_grad": "loud"}, {"tol_pwrss": -1.0}, {"calc_derivs": "yes"},
     {"ftol_rel": -1.0}],
)
def test_bad_options_are_refused(bad):
    with pytest.raises(ParameterError):
        Control(**bad)


def test_as_control_from_dict_names_unknown_options():
    assert as_control(None) == Control()
    assert as_control({"optimizer": "cobyqa"}).optimizer == "cobyqa"
    with pytest.raises(ParameterError, match="optimiser"):
        as_control({"optimiser": "cobyqa"})
    with pytest.raises(ParameterError):
        as_control("bobyqa")


def test_lme4_optimizer_spellings_are_synonyms():
    assert Control(optimizer="nloptwrap").optimizer == "bobyqa"
    assert Control(optimizer="Nelder_Mead").optimizer == "nelder_mead"
    assert Control(optimizer=("Nelder_Mead", "nloptwrap")).stage_optimizers() == (
        "nelder_mead", "bobyqa")


def test_documented_choices():
    assert "bobyqa" in OPTIMIZERS and "nelder_mead" in OPTIMIZERS
    assert CHECK_LEVELS == ("ignore", "message", "warning", "stop")
