"""Variance components against insight 0.19.0 ``get_variance`` (tests/reference/effects)."""

from __future__ import annotations

import math

import pytest
from reference_cases import ALL_CASES, tolerance

from alliancestats.effects import _model, variance_components
from alliancestats.errors import ModelSpecificationError


def test_grid_is_complete(effects_reference):
    assert sorted(effects_reference("variance_reference")["cases"]) == sorted(ALL_CASES)


@pytest.mark.parametrize("name", ALL_CASES)
def test_components_match_insight(name, effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"][name]
    comp = variance_components(reference_fit(case))
    ref = case["variance"]
    tol = tolerance(case)
    random = comp.random
    if name == "sleepstudy_uncorr":
        # insight takes the terms from ranef(), which merges (Days || Subject) into one entry,
        # so it drops the uncorrelated slope; Johnson (2014) counts it: compare without it
        days = comp.slope["Subject.1.Days"]
        assert days == pytest.approx(ref["slope"]["Subject.Days"], rel=tol)
        frame = _model.model_frame(reference_fit(case))
        random -= days * float((frame["Days"].astype(float) ** 2).mean())
    assert comp.fixed == pytest.approx(ref["fixed"], rel=tol, abs=1e-12)
    assert random == pytest.approx(ref["random"], rel=tol)
    assert comp.distribution == pytest.approx(ref["distribution"], rel=tol)
    assert comp.residual == pytest.approx(ref["residual"], rel=tol)
    assert comp.dispersion == pytest.approx(ref["dispersion"], abs=1e-12)
    for group, value in ref["intercept"].items():
        assert comp.intercept[group] == pytest.approx(value, rel=tol)


@pytest.mark.parametrize("name", ["grouseticks_tight", "adherence_counts_tight"])
def test_poisson_approximations(name, effects_reference, reference_fit):
    case = effects_reference("variance_reference")["cases"][name]
    fit = reference_fit(case)
    ref = case["poisson"]
    for approx, values in ref["approximations"].items():
        comp = variance_components(fit, poisson=approx)
        # the null model is refitted by both programs: optimiser differences ~1e-6 in b0
        assert comp.lam == pytest.approx(ref["lambda"], rel=1e-4)
        assert comp.distribution == pytest.approx(values["distribution"], rel=1e-4)
        assert approx in comp.method


def test_binomial_constants(reference_fit, effects_reference):
    cases = effects_reference("variance_reference")["cases"]
    expected = {"cbpp_logit": math.pi**2 / 3, "cbpp_probit": 1.0, "cbpp_cloglog": math.pi**2 / 6}
    for name, value in expected.items():
        comp = variance_components(reference_fit(cases[name]))
        assert comp.distribution == value
        assert comp.method.startswith(name.split("_")[1])


def test_not_a_fit_is_refused():
    with pytest.raises(ModelSpecificationError, match="fitted mixed model"):
        variance_components(object())


def test_unknown_poisson_approximation(reference_fit, effects_reference):
    case = effects_reference("variance_reference")["cases"]["iris"]
    with pytest.raises(ValueError, match="poisson"):
        variance_components(reference_fit(case), poisson="gamma")
