"""glmm(control=...) (glmerControl's options) and all_fit() (lme4's allFit) against glmer.

Reference: the Gamma and binomial cases of tests/reference/glmm/glmm_families.json (lme4
1.1-31, glmerControl(tolPwrss = 1e-10) refits), so every optimiser is held to glmer's optimum.
"""

from __future__ import annotations

import json
import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import (
    AllianceStatsWarning,
    ConvergenceWarning,
    EstimationError,
    ModelSpecificationError,
    ParameterError,
)
from alliancestats.models.all_fit import all_fit
from alliancestats.models.control import OPTIMIZERS, Control
from alliancestats.models.gee import gee
from alliancestats.models.glmm import glmm

REF_DIR = pathlib.Path(__file__).resolve().parents[1] / "reference" / "glmm"
CASES = json.loads((REF_DIR / "glmm_families.json").read_text())["cases"]


def case_data(cid: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / f"{CASES[cid]['data']}.csv",
                       dtype={"patient": str, "therapist": str})


def fit_case(cid: str, quiet: bool = True, **kwargs):
    c = CASES[cid]
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", AllianceStatsWarning)
        return glmm(c["formula"], case_data(cid), family=c["family"], link=c["link"],
                    nAGQ=c["nAGQ"], **kwargs)


@pytest.mark.parametrize("optimizer", [*OPTIMIZERS, ("bobyqa", "nelder_mead")])
def test_every_optimizer_reaches_glmers_optimum(optimizer):
    t = CASES["gamma_log_nested"]["tight"]
    f = fit_case("gamma_log_nested", control=Control(optimizer=optimizer))
    # every optimiser stops within 1e-4 of glmer's tight log-likelihood (derivative-free
    # ones end on a 1e-8 step, L-BFGS-B on a 1e-13 relative change)
    assert f.loglik == pytest.approx(t["loglik"], abs=1e-4)
    # fixed effects within 1e-4 (the tolerance of test_glmm_families)
    np.testing.assert_allclose(f.fixed["estimate"], t["estimate"], atol=1e-4)
    assert f.converged
    name = optimizer if isinstance(optimizer, str) else optimizer[1]
    assert name in f.optimizer["method"]


def test_control_as_dict_and_unknown_options():
    f = fit_case("poisson_sqrt", control={"optimizer": "nelder_mead"})
    assert "nelder_mead" in f.optimizer["method"]
    with pytest.raises(ParameterError, match="unknown control"):
        fit_case("poisson_sqrt", control={"optimiser": "nelder_mead"})
    with pytest.raises(ParameterError, match="optimizer"):
        fit_case("poisson_sqrt", control=Control(optimizer="newuoa"))


def test_calc_derivs_false_uses_the_rx_covariance():
    t = CASES["gamma_log"]["tight"]
    f = fit_case("gamma_log", control=Control(calc_derivs=False))
    # without derivatives lme4's vcov() is the RX-based one, as ours (1e-3: optimum
    # without the Newton polish)
    assert f.vcov_method == "rx"
    np.testing.assert_allclose(f.fixed["se"], t["se_rx"], rtol=1e-3)
    assert np.isnan(f.optimizer["max_scaled_gradient"])


def test_convergence_check_levels():
    strict = Control(check_conv_grad_tol=1e-30)
    with pytest.warns(ConvergenceWarning, match="failed to converge"):
        f = fit_case("poisson_sqrt", quiet=False, control=strict)
    assert not f.converged
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        quiet = fit_case("poisson_sqrt", quiet=False,
                         control=strict.with_(check_conv_grad="message"))
    assert any("failed to converge" in m for m in quiet.messages)
    ignored = fit_case("poisson_sqrt", control=strict.with_(check_conv_grad="ignore"))
    assert ignored.converged
    with pytest.raises(EstimationError, match="failed to converge"):
        fit_case("poisson_sqrt", control=strict.with_(check_conv_grad="stop"))


def test_all_fit_tabulates_every_optimizer():
    t = CASES["binomial_nagq0"]["tight"]
    c = CASES["binomial_nagq0"]
    d = case_data("binomial_nagq0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        fit = glmm(c["formula"], d)  # the Laplace fit of the nAGQ = 0 case's model
    af = all_fit(fit)
    assert af.table.index.tolist() == list(OPTIMIZERS)
    assert af.table["ok"].all() and af.table["converged"].all()
    # all optimisers agree with the original fit (1e-4: see the test above)
    assert af.loglik_range() < 1e-4
    assert np.all(np.abs(af.table["loglik"] - fit.loglik) < 1e-4)
    assert af.fixef.columns.tolist() == t["terms"]
    np.testing.assert_allclose(af.fixef.to_numpy() - fit.fixed["estimate"].to_numpy(), 0,
                               atol=1e-3)
    assert af.sdcor.shape == (len(OPTIMIZERS), 2) and af.theta.shape[1] == 2
    assert "Refits with each optimizer" in af.summary()


def test_all_fit_records_a_failed_refit():
    fit = fit_case("poisson_sqrt")
    af = all_fit(fit, ["bobyqa", "lbfgsb"],
                 control={"check_conv_grad_tol": 1e-30, "check_conv_grad": "stop"})
    assert not af.table["ok"].any()
    assert af.table["messages"].str.contains("failed to converge").all()
    assert "failed to converge" in af.summary()


def test_all_fit_refuses_what_it_cannot_refit():
    d = case_data("gaussian_log")
    with pytest.raises(ModelSpecificationError, match="refits linear and generalised"):
        all_fit(gee("pain ~ session", d, groups="patient", family="gaussian"))
    with pytest.raises(ParameterError, match="optimizer"):
        all_fit(fit_case("poisson_sqrt"), ["newuoa"])
