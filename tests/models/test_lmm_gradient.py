"""The compiled exact gradient of the LMM criterion against finite differences, and the
fits that use it against the derivative-free path (BOBYQA)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import lmm
from alliancestats.models.lmm_optim import canonical_signs
from alliancestats.simulate import simulate_sessions

FORMULAS = [
    "pain ~ session * arm + (1 + session | patient) + (1 | therapist)",  # nested, slope
    "pain ~ session + (1 | patient) + (1 | therapist)",  # nested intercepts
    "pain ~ session + (1 + session | patient)",  # one term
    "pain ~ session + (1 + session | therapist/patient)",  # 2x2 blocks in both terms
]
STEP = 1e-6  # central differences: truncation ~1e-12, rounding ~1e-10 of the gradient
TOL_GRAD = 1e-5  # relative to the largest gradient element: finite-difference noise


@pytest.fixture(scope="module")
def sessions():
    return simulate_sessions(n_therapists=10, seed=3).dropna(subset=["pain"])


def _problem(formula, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        fit = lmm(formula, data).model
    return fit.opt_problem, fit.theta_opt


@pytest.mark.parametrize("formula", FORMULAS)
@pytest.mark.parametrize("reml", [True, False])
def test_gradient_matches_finite_differences(sessions, formula, reml):
    problem, theta = _problem(formula, sessions)
    assert problem.has_gradient
    theta = theta + 0.05  # away from the optimum, where the gradient is not ~0
    value, grad = problem.criterion_gradient(theta, reml)
    assert value == pytest.approx(problem.criterion(theta, reml), rel=1e-12)  # same criterion
    eye = np.eye(theta.size)
    fd = np.array([(problem.criterion(theta + STEP * e, reml)
                    - problem.criterion(theta - STEP * e, reml)) / (2 * STEP) for e in eye])
    np.testing.assert_allclose(grad, fd, atol=TOL_GRAD * np.abs(fd).max())


@pytest.mark.parametrize("formula", FORMULAS[:2])
@pytest.mark.parametrize("reml", [True, False])
def test_jacobian_of_var_beta_matches_finite_differences(sessions, formula, reml):
    problem, theta = _problem(formula, sessions)
    _, _, _, _, cov, dcov = problem.gradient_parts(theta, reml, want_cov=True)
    np.testing.assert_allclose(cov, problem.deviance_parts(theta, reml)[2], rtol=1e-10)
    eye = np.eye(theta.size)
    fd = np.array([(problem.deviance_parts(theta + STEP * e, reml)[2]
                    - problem.deviance_parts(theta - STEP * e, reml)[2]) / (2 * STEP)
                   for e in eye])
    np.testing.assert_allclose(dcov, fd, atol=TOL_GRAD * np.abs(fd).max())


@pytest.mark.parametrize("formula", FORMULAS)
def test_gradient_fit_matches_bobyqa(sessions, formula):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        fast = lmm(formula, sessions)
        slow = lmm(formula, sessions, control={"optimizer": "bobyqa"})
    assert "exact gradient" in fast.optimizer["method"]
    assert "BOBYQA" in slow.optimizer["method"]
    # both optimise the same criterion to xtol 1e-8: ours never higher beyond rounding
    assert fast.deviance <= slow.deviance + 1e-9 * abs(slow.deviance)
    assert fast.optimizer["evaluations"] < slow.optimizer["evaluations"]
    # df from exact derivatives vs Richardson differences: both ~1e-6 relative
    np.testing.assert_allclose(fast.fixed["df"], slow.fixed["df"], rtol=1e-4)
    np.testing.assert_allclose(fast.fixed["se"], slow.fixed["se"], rtol=1e-5)
    assert fast.singular == slow.singular


def test_canonical_signs_keep_the_covariance(sessions):
    problem, theta = _problem(FORMULAS[0], sessions)
    flipped = theta.copy()
    flipped[[0, 1]] *= -1.0  # the first column of the patient factor
    flipped[3] *= -1.0  # the therapist SD
    assert problem.criterion(flipped, True) == pytest.approx(problem.criterion(theta, True),
                                                             rel=1e-12)
    np.testing.assert_array_equal(canonical_signs(problem.layout, flipped), theta)


def test_refit_recovers_the_fit(sessions):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        fit = lmm(FORMULAS[0], sessions)
    r = fit.model.refit(fit.model.response_values)
    # the same response from the fitted optimum: the same estimates to optimiser precision
    np.testing.assert_allclose(r.beta, fit.fixed["estimate"], rtol=1e-6)
    np.testing.assert_allclose(r.df, fit.fixed["df"], rtol=1e-4)
    assert r.converged
