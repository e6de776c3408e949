"""Internals of the GLMM engine: families, PIRLS/Laplace, AGQ, gradient, random-effects layout."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alliancestats.errors import ModelSpecificationError
from alliancestats.models.agq import agq_deviance, gauss_hermite_normal
from alliancestats.models.design import RandomBlock
from alliancestats.models.families import get_family
from alliancestats.models.glmm_inputs import prepare_inputs
from alliancestats.models.pirls import PirlsProblem, ReStructure

REF_DIR = pathlib.Path(__file__).resolve().parents[1] / "reference" / "glmm"
REF = json.loads((REF_DIR / "glmm_reference.json").read_text())["cases"]


def cbpp_problem(link="logit"):
    d = pd.read_csv(REF_DIR / "data" / "cbpp.csv")
    codes, levels = pd.factorize(d["herd"], sort=True)
    period = pd.get_dummies(d["period"].astype(str), drop_first=True).to_numpy(float)
    X = np.column_stack([np.ones(len(d)), period])
    y = (d["incidence"] / d["size"]).to_numpy()
    re = ReStructure.from_blocks([RandomBlock.from_codes("herd", codes)])
    return PirlsProblem(y, X, re, get_family("binomial", link), d["size"].to_numpy(float))


# ----------------------------------------------------------------------- families
@pytest.mark.parametrize("link", ["logit", "probit", "cloglog"])
def test_binomial_links_invert_and_differentiate(link):
    fam = get_family("binomial", link)
    eta = np.linspace(-4, 3, 15)
    mu = fam.link.linkinv(eta)
    np.testing.assert_allclose(fam.link.linkfun(mu), eta, atol=1e-10)
    h = 1e-6
    num = (fam.link.linkinv(eta + h) - fam.link.linkinv(eta - h)) / (2 * h)
    # central differences: error O(h^2) plus rounding ~1e-10 (mu near 1 is clamped as in R)
    np.testing.assert_allclose(fam.link.mu_eta(eta), num, rtol=1e-6, atol=1e-9)


def test_minus2_loglik_matches_scipy_densities():
    fam = get_family("binomial")
    y = np.array([0.0, 0.25, 1.0])
    m = np.array([1.0, 4.0, 3.0])
    mu = np.array([0.3, 0.4, 0.9])
    ref = -2 * stats.binom.logpmf(np.rint(y * m), m, mu)
    np.testing.assert_allclose(fam.minus2_loglik(y, mu, m), ref, rtol=1e-12)
    po = get_family("poisson")
    yc = np.array([0.0, 3.0, 7.0])
    np.testing.assert_allclose(
        po.minus2_loglik(yc, np.array([0.5, 2.0, 9.0]), np.ones(3)),
        -2 * stats.poisson.logpmf(yc, [0.5, 2.0, 9.0]),
        rtol=1e-12,
    )


def test_deviance_residuals_vanish_at_the_saturated_fit():
    fam = get_family("poisson")
    y = np.array([1.0, 4.0, 9.0])
    np.testing.assert_allclose(fam.dev_resids(y, y, np.ones(3)), 0, atol=1e-12)
    assert np.all(fam.dev_resids(y, y + 0.5, np.ones(3)) > 0)


def test_unknown_family_and_link():
    with pytest.raises(ModelSpecificationError, match="family"):
        get_family("negbin")
    with pytest.raises(ModelSpecificationError, match="link"):
        get_family("poisson", "logit")
    fam = get_family("binomial")
    assert get_family(fam, "cloglog").link.name == "cloglog"


# ----------------------------------------------------------------------- Laplace and AGQ
def test_laplace_at_lme4_tight_optimum_reproduces_its_loglik():
    c = REF["cbpp_logit_laplace"]["tight"]
    prob = cbpp_problem()
    dev = prob.laplace(np.atleast_1d(c["theta"]), np.array(c["estimate"]))
    # same criterion evaluated at lme4's reported (rounded-free) parameters
    assert -0.5 * dev == pytest.approx(c["loglik"], rel=1e-8)


def test_agq_with_one_node_is_the_laplace_approximation_up_to_the_saturated_constant():
    prob = cbpp_problem()
    th, b = np.array([0.6]), np.array([-1.4, -1.0, -1.1, -1.6])
    lap = prob.laplace(th, b)
    agq1, st = agq_deviance(prob, th, b, 1)
    # AGQ uses deviance residuals (lme4's convention), Laplace the full -2 log p
    assert agq1 == pytest.approx(lap - (st.minus2_cond - st.dev_cond), rel=1e-12)


def test_agq_at_lme4_optimum_reproduces_its_loglik():
    c = REF["cbpp_logit_agq9"]
    dev, _ = agq_deviance(cbpp_problem(), np.atleast_1d(c["theta"]), np.array(c["estimate"]), 9)
    # AGQ is insensitive to lme4's PIRLS tolerance, so agreement is near machine precision
    assert -0.5 * dev == pytest.approx(c["loglik"], rel=1e-9)


def test_gauss_hermite_rule_integrates_normal_moments():
    z, w = gauss_hermite_normal(6)
    assert w.sum() == pytest.approx(1.0)
    assert np.sum(w * z**4) == pytest.approx(3.0)
    with pytest.raises(ModelSpecificationError):
        gauss_hermite_normal(0)


def test_agq_refuses_vector_terms():
    n = 20
    Z = np.column_stack([np.ones(n), np.arange(n, dtype=float)])
    re = ReStructure.from_blocks(
        [RandomBlock.from_codes("g", np.repeat(np.arange(4), 5), Z, ["(Intercept)", "x"])]
    )
    prob = PirlsProblem(np.tile([0.0, 1.0], 10), np.ones((n, 1)), re, get_family("binomial"))
    with pytest.raises(ModelSpecificationError, match="single scalar"):
        agq_deviance(prob, np.array([1.0, 0.0, 1.0]), np.zeros(1), 5)


@pytest.mark.parametrize(
    ("family", "link"),
    [("binomial", "logit"), ("binomial", "probit"), ("binomial", "cloglog"), ("poisson", "log")],
)
def test_analytic_gradient_matches_finite_differences(family, link):
    rng = np.random.default_rng(5)
    g = np.repeat(np.arange(30), 6)
    x = rng.normal(size=g.size)
    X = np.column_stack([np.ones(g.size), x])
    eta = 0.2 + 0.5 * x + rng.normal(0, 0.7, 30)[g]
    y = (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(float)
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    re = ReStructure.from_blocks([RandomBlock.from_codes("g", g)])
    prob = PirlsProblem(y, X, re, get_family(family, link))
    assert prob.has_gradient
    par = np.array([0.8, 0.1, 0.4])
    f, grad = prob.laplace_gradient(par[:1], par[1:])
    num = []
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-5
        num.append(
            (
                prob.laplace((par + e)[:1], (par + e)[1:])
                - prob.laplace((par - e)[:1], (par - e)[1:])
            )
            / 2e-5
        )
    assert f == pytest.approx(prob.laplace(par[:1], par[1:]))
    # central differences of a PIRLS-converged (1e-11) criterion: ~1e-6 absolute accuracy
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-5)


@pytest.mark.parametrize("link", ["probit", "cloglog"])
def test_general_gradient_for_non_canonical_links(link):

    d = pd.read_csv(REF_DIR / "data" / "adherence.csv")
    f = "exercises_done ~ session + (1 + session | patient) + (1 | therapist)"
    prep = prepare_inputs(f, d, "binomial", link, "exercises_prescribed", None, None)
    re = ReStructure.from_blocks(prep.design.random)
    prob = PirlsProblem(prep.y, prep.design.X, re, prep.family, prep.pw, prep.offset)
    x = np.array([0.7, -0.05, 0.1, 0.3, -0.3, 0.05])
    nt = 4
    _, grad = prob.laplace_gradient(x[:nt], x[nt:])
    num = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = 1e-5
        fp = prob.laplace((x + e)[:nt], (x + e)[nt:])
        fm = prob.laplace((x - e)[:nt], (x - e)[nt:])
        num.append((fp - fm) / 2e-5)
    # observed vs Fisher information enter differently; both are exact here (1e-8 relative)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-4)


def test_scalar_and_general_paths_agree():
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(25), 4)
    X = np.column_stack([np.ones(100), rng.normal(size=100)])
    y = (rng.random(100) < 0.4).astype(float)
    term = RandomBlock.from_codes("g", g)
    scalar = PirlsProblem(y, X, ReStructure.from_blocks([term]), get_family("binomial"))
    general = PirlsProblem(y, X, ReStructure.from_blocks([term]), get_family("binomial"))
    general.is_scalar = False  # force the row-pattern path
    from alliancestats.models.pirls import _RowPattern

    general.ops = _RowPattern(general.re)
    th, b = np.array([1.1]), np.array([-0.3, 0.2])
    # two exact evaluations of one criterion: rounding-level agreement
    assert general.laplace(th, b) == pytest.approx(scalar.laplace(th, b), rel=1e-10)


def test_theta_layout_follows_lme4():
    n = 6
    Z = np.column_stack([np.ones(n), np.arange(n, dtype=float)])
    re = ReStructure.from_blocks(
        [
            RandomBlock.from_codes("g", np.array([0, 0, 1, 1, 2, 2]), Z, ["(Intercept)", "x"]),
            RandomBlock.from_codes("h", np.array([0, 1, 0, 1, 0, 1])),
        ]
    )
    assert re.q == 3 * 2 + 2
    np.testing.assert_array_equal(re.theta_start, [1.0, 0.0, 1.0, 1.0])
    np.testing.assert_array_equal(re.theta_lower, [0.0, -np.inf, 0.0, 0.0])
    T = re.term_factor(np.array([2.0, 0.5, 3.0, 4.0]), 0)
    np.testing.assert_array_equal(T, [[2.0, 0.0], [0.5, 3.0]])
    lam = re.lambda_matrix(np.array([2.0, 0.5, 3.0, 4.0])).toarray()
    np.testing.assert_array_equal(lam[2:4, 2:4], T)
    assert lam[7, 7] == 4.0


@pytest.mark.parametrize(
    ("formula", "modes"),
    [
        ("(1 | patient) + (1 | therapist)", {"dense", "block", "sparse"}),
        ("(1 + session | patient) + (1 | therapist)", {"dense", "block", "sparse"}),
        ("(1 + session | patient)", {"dense", "block"}),
    ],
)
def test_dense_block_and_sparse_factorisations_agree(monkeypatch, formula, modes):
    from alliancestats.models import pirls

    d = pd.read_csv(REF_DIR / "data" / "adherence.csv")
    prep = prepare_inputs(f"adhered ~ session + {formula}", d, "binomial", None, None, None, None)
    re = ReStructure.from_blocks(prep.design.random)
    th = np.array([1.1, 0.2, 0.3, 0.5][: re.theta_start.size])
    values, grads = {}, {}
    for limit in (10**6, 50, 5):  # dense; block (first term eliminated); sparse or block
        monkeypatch.setattr(pirls, "_DENSE_MAX_Q", limit)
        prob = PirlsProblem(prep.y, prep.design.X, re, prep.family)
        values[prob.ops.mode] = prob.laplace(th, np.array([0.3, 0.05]))
        if prob.has_gradient:
            grads[prob.ops.mode] = prob.laplace_gradient(th, np.array([0.3, 0.05]))[1]
    assert set(values) == modes
    for v in values.values():
        # exact factorisations of one matrix: rounding-level agreement
        assert v == pytest.approx(values["dense"], rel=1e-10)
    for g in grads.values():
        # the selected inverse differs between layouts only by rounding
        np.testing.assert_allclose(g, grads["dense"], rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(
    ("formula", "family", "theta"),
    [
        ("adhered ~ session + (1 | patient) + (1 | therapist)", "binomial", [0.9, 0.4]),
        ("adhered ~ session + (1 + session | patient)", "binomial", [1.1, -0.1, 0.2]),
        ("exercises_done ~ session + (1 | patient) + (1 | therapist)", "poisson", [0.8, 0.3]),
    ],
)
@pytest.mark.parametrize("limit", [10**6, 50])  # dense, then block (or sparse: no gradient)
def test_general_analytic_gradient(monkeypatch, formula, family, theta, limit):
    from alliancestats.models import pirls

    name = "adherence" if family == "binomial" else "adherence_counts"
    d = pd.read_csv(REF_DIR / "data" / f"{name}.csv")
    prep = prepare_inputs(formula, d, family, None, None, None, None)
    re = ReStructure.from_blocks(prep.design.random)
    monkeypatch.setattr(pirls, "_DENSE_MAX_Q", limit)
    prob = PirlsProblem(prep.y, prep.design.X, re, prep.family)
    if prob.ops.mode == "sparse":
        assert not prob.has_gradient
        return
    x = np.array([*theta, 0.3, 0.05])
    nt = len(theta)
    f, grad = prob.laplace_gradient(x[:nt], x[nt:])
    num = []
    for j in range(x.size):
        e = np.zeros(x.size)
        e[j] = 1e-5
        fp = prob.laplace((x + e)[:nt], (x + e)[nt:])
        fm = prob.laplace((x - e)[:nt], (x - e)[nt:])
        num.append((fp - fm) / 2e-5)
    assert f == pytest.approx(prob.laplace(x[:nt], x[nt:]))
    # central differences of a PIRLS-converged criterion: ~1e-6 absolute accuracy
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-5)
