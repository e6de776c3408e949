"""The structural-equation core: RAM algebra, FIML likelihood, derivatives, EM, estimation."""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats.errors import ModelSpecificationError
from alliancestats.panel import fiml
from alliancestats.panel.estimation import fit_sem, standard_errors
from alliancestats.panel.fiml import GroupData
from alliancestats.panel.ram import Implied, ModelSpec


def _cross_lagged_spec(n_groups: int = 1) -> ModelSpec:
    """x1 -> x2 -> x3 with a latent factor, an equality constraint and means."""
    spec = ModelSpec(["x1", "x2", "x3", "z"], ["f"], n_groups=n_groups)
    spec.add("f", "=~", "x1", fixed=1.0)
    spec.add("f", "=~", "x2")
    spec.add("f", "=~", "x3", label="lam", shared=False)
    spec.add("x2", "~", "x1", label="b")
    spec.add("x3", "~", "x2", label="b")
    spec.add("x3", "~", "z")
    spec.add("f", "~~", "f")
    spec.add("z", "~~", "z")
    spec.add("f", "~~", "z")
    for v in ("x1", "x2", "x3"):
        spec.add(v, "~~", v)
        spec.add(v, "~1")
    spec.add("z", "~1")
    return spec


def _data(rng: np.random.Generator, n: int = 400, missing: float = 0.15) -> np.ndarray:
    f = rng.normal(size=n)
    z = 0.5 * f + rng.normal(size=n)
    x1 = f + rng.normal(size=n)
    x2 = 0.4 * x1 + 0.8 * f + rng.normal(size=n)
    x3 = 0.4 * x2 + 0.7 * f + 0.3 * z + rng.normal(size=n)
    y = np.column_stack([x1, x2, x3, z]) + [1.0, 2.0, 3.0, 0.0]
    y[rng.random(y.shape) < missing] = np.nan
    return y


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(11)
    spec = _cross_lagged_spec(n_groups=2)
    model = spec.compile()
    data = [GroupData.from_array(_data(rng)), GroupData.from_array(_data(rng, 300))]
    return model, data, fit_sem(model, data)


def _numeric_gradient(fun, theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
    out = np.zeros_like(theta)
    for k in range(len(theta)):
        e = np.zeros_like(theta)
        e[k] = h
        out[k] = (fun(theta + e) - fun(theta - e)) / (2 * h)
    return out


def test_equality_labels_share_parameters():
    model = _cross_lagged_spec(n_groups=2).compile()
    # b shared over waves and groups; lam per group; the rest per group
    assert model.labels.count("b") == 1
    assert {"lam.g1", "lam.g2"} <= set(model.labels)
    rows = model.spec.rows
    b_rows = [k for k, r in enumerate(rows) if r.label == "b"]
    assert len(b_rows) == 4 and len(set(model.row_param[b_rows])) == 1


def test_implied_moments_follow_the_path_tracing_rules():
    spec = ModelSpec(["x", "y"])
    spec.add("y", "~", "x")
    spec.add("x", "~~", "x")
    spec.add("y", "~~", "y")
    spec.add("x", "~1")
    spec.add("y", "~1")
    model = spec.compile()
    b, vx, vy, mx, my = 0.5, 2.0, 1.0, 3.0, 1.0
    imp = model.implied(np.array([b, vx, vy, mx, my]))[0]
    assert np.allclose(imp.sigma, [[vx, b * vx], [b * vx, b * b * vx + vy]])
    assert np.allclose(imp.mu, [mx, my + b * mx])


def test_analytic_gradient_matches_numerical(fitted):
    model, data, fit = fitted
    rng = np.random.default_rng(3)
    theta = fit.theta + rng.normal(scale=0.05, size=fit.theta.size)
    implied = model.implied(theta)
    _, d_sigma, d_mu = fiml.loglik_gradient(data, implied)
    analytic = model.gradient(implied, d_sigma, d_mu)
    numeric = _numeric_gradient(lambda t: fiml.loglik(data, model.implied(t)), theta)
    # central differences of a ~1e3 log-likelihood: agreement to ~1e-6 relative
    assert np.allclose(analytic, numeric, rtol=1e-5, atol=1e-5)


def test_jacobian_matches_numerical(fitted):
    model, _, fit = fitted
    theta = fit.theta
    jac = model.jacobian(model.implied(theta))
    for g in range(2):
        def sigma(t, g=g):
            return model.implied(t)[g].sigma.ravel()

        def mu(t, g=g):
            return model.implied(t)[g].mu

        h = 1e-6
        for k in range(len(theta)):
            e = np.zeros_like(theta)
            e[k] = h
            ds = (sigma(theta + e) - sigma(theta - e)) / (2 * h)
            dm = (mu(theta + e) - mu(theta - e)) / (2 * h)
            # central differences of smooth matrix functions: ~1e-9 absolute
            assert np.allclose(jac[g][0][k].ravel(), ds, atol=1e-7)
            assert np.allclose(jac[g][1][k], dm, atol=1e-7)


def test_casewise_scores_sum_to_the_gradient(fitted):
    model, data, fit = fitted
    theta = fit.theta + 0.01
    implied = model.implied(theta)
    scores = fiml.casewise_scores(data, implied, model.jacobian(implied))
    _, d_sigma, d_mu = fiml.loglik_gradient(data, implied)
    assert scores.shape == (sum(gd.n for gd in data), model.n_free)
    assert np.allclose(scores.sum(axis=0), model.gradient(implied, d_sigma, d_mu), atol=1e-8)


def test_fit_reaches_a_stationary_point_with_identified_information(fitted):
    model, data, fit = fitted
    assert fit.converged
    assert fit.gradient_max < 1e-6
    assert np.all(np.isfinite(fit.se)) and np.all(fit.se > 0)


def test_observed_information_matches_a_numerical_hessian(fitted):
    model, data, fit = fitted
    vcov, messages = standard_errors(model, data, fit.theta, information="observed")
    assert messages == []

    def grad(t):
        implied = model.implied(t)
        _, ds, dm = fiml.loglik_gradient(data, implied)
        return model.gradient(implied, ds, dm)

    h = 1e-5
    hess = np.array([(grad(fit.theta + h * e) - grad(fit.theta - h * e)) / (2 * h)
                     for e in np.eye(model.n_free)])
    reference = np.linalg.inv(-(hess + hess.T) / 2)
    # two finite-difference Hessians with different steps: 1e-4 relative on the variances
    assert np.allclose(np.diag(vcov), np.diag(reference), rtol=1e-4)


def test_em_saturated_model_equals_a_fitted_saturated_ram_model():
    rng = np.random.default_rng(5)
    y = _data(rng, 250, missing=0.25)
    gd = GroupData.from_array(y)
    em = fiml.saturated_moments(gd)
    assert em.converged
    names = ["a", "b", "c", "d"]
    spec = ModelSpec(names)
    for i, v in enumerate(names):
        spec.add(v, "~1")
        for w in names[i:]:
            spec.add(v, "~~", w)
    fit = fit_sem(spec.compile(), [gd])
    # two algorithms (EM and Fisher scoring) for one maximum: 1e-7 on a ~1e3 log-likelihood
    assert abs(fit.loglik - em.loglik) < 1e-6
    assert fit.loglik_saturated == pytest.approx(em.loglik, abs=1e-9)


def test_saturated_moments_without_missing_values_are_the_sample_moments():
    rng = np.random.default_rng(2)
    y = rng.normal(size=(50, 3))
    sat = fiml.saturated_moments(GroupData.from_array(y))
    assert np.allclose(sat.mean, y.mean(axis=0))
    assert np.allclose(sat.cov, np.cov(y.T, bias=True))
    assert sat.iterations == 0


def test_independence_loglik_is_the_sum_of_univariate_normal_logliks():
    y = np.array([[1.0, 2.0], [2.0, np.nan], [4.0, 1.0], [np.nan, 5.0]])
    gd = GroupData.from_array(y)
    expected = 0.0
    for j in range(2):
        v = y[~np.isnan(y[:, j]), j]
        s2 = v.var()
        expected += float(np.sum(-0.5 * (np.log(2 * np.pi * s2) + (v - v.mean()) ** 2 / s2)))
    assert fiml.independence_loglik(gd) == pytest.approx(expected, abs=1e-12)


def test_group_data_patterns_and_dropped_rows():
    y = np.array([[1.0, np.nan], [2.0, 3.0], [np.nan, np.nan], [4.0, 5.0], [6.0, np.nan]])
    gd = GroupData.from_array(y)
    assert (gd.n, gd.n_dropped) == (4, 1)
    assert sorted(p.n for p in gd.patterns) == [2, 2]
    assert gd.kept.tolist() == [0, 1, 3, 4]
    assert gd.coverage().tolist() == [[4, 2], [2, 2]]


def test_loglik_of_a_known_normal_model():
    y = np.array([[0.0, 1.0], [1.0, np.nan]])
    gd = GroupData.from_array(y)
    sigma = np.array([[1.0, 0.5], [0.5, 2.0]])
    mu = np.zeros(2)
    imp = Implied(np.empty(0), sigma, mu, sigma, mu)
    r = y[0]
    inv = np.linalg.inv(sigma)
    first = -0.5 * (2 * np.log(2 * np.pi) + np.log(np.linalg.det(sigma)) + r @ inv @ r)
    second = -0.5 * (np.log(2 * np.pi) + 1.0)
    assert fiml.loglik([gd], [imp]) == pytest.approx(first + second, abs=1e-12)


def test_directed_cycles_and_repeated_rows_are_refused():
    spec = ModelSpec(["a", "b"])
    spec.add("a", "~", "b")
    spec.add("b", "~", "a")
    with pytest.raises(ModelSpecificationError, match="cycle"):
        spec.compile()
    spec = ModelSpec(["a", "b"])
    spec.add("a", "~~", "b")
    with pytest.raises(ModelSpecificationError, match="twice"):
        spec.add("b", "~~", "a")
    with pytest.raises(ModelSpecificationError, match="not a variable"):
        spec.add("a", "~", "c")
    with pytest.raises(ModelSpecificationError, match="unknown operator"):
        spec.add("a", "<-", "b")


def test_unidentified_model_reports_missing_standard_errors():
    # two loadings and a factor variance from one covariance: not identified
    rng = np.random.default_rng(1)
    f = rng.normal(size=200)
    y = np.column_stack([f + rng.normal(size=200), f + rng.normal(size=200)])
    spec = ModelSpec(["y1", "y2"], ["f"])
    spec.add("f", "=~", "y1")
    spec.add("f", "=~", "y2")
    spec.add("f", "~~", "f")
    for v in ("y1", "y2"):
        spec.add(v, "~~", v)
        spec.add(v, "~1")
    with pytest.warns(Warning):
        fit = fit_sem(spec.compile(), [GroupData.from_array(y)])
    assert any("not identified" in m for m in fit.messages)
    assert np.isnan(fit.se).all()
