"""Linear-programming separation check (alliancestats.models.separation)."""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats.models.separation import detect_separation


def design(*cols):
    return np.column_stack([np.ones(len(cols[0])), *cols])


def test_complete_separation_on_a_continuous_predictor():
    x = np.arange(8.0)
    y = (x > 3.5).astype(float)
    res = detect_separation(design(x), y, ["(Intercept)", "x"])
    assert res.separated and res.complete
    assert "x" in res.terms
    assert "complete separation" in res.message()


def test_quasi_complete_separation_names_the_indicator():
    rng = np.random.default_rng(0)
    n = 200
    flag = (rng.random(n) < 0.1).astype(float)
    x = rng.normal(size=n)
    y = (rng.random(n) < 0.5).astype(float)
    y[flag == 1] = 1.0
    res = detect_separation(design(flag, x), y, ["(Intercept)", "flag", "x"])
    assert res.separated and not res.complete
    assert res.terms == ["flag"]
    assert res.n_rows == int(flag.sum())
    assert "quasi-complete" in res.message()


def test_no_separation_with_one_failure_in_the_indicator():
    rng = np.random.default_rng(1)
    n = 200
    flag = (rng.random(n) < 0.1).astype(float)
    y = (rng.random(n) < 0.5).astype(float)
    y[flag == 1] = 1.0
    y[np.flatnonzero(flag)[0]] = 0.0
    res = detect_separation(design(flag), y, ["(Intercept)", "flag"])
    assert not res.separated and res.terms == []
    assert res.message() == "no separation detected"


def test_binomial_proportions_strictly_inside_do_not_separate():
    x = np.arange(6.0)
    y = np.array([0.0, 0.2, 0.5, 0.5, 0.8, 1.0])
    assert not detect_separation(design(x), y, ["(Intercept)", "x"]).separated


def test_zero_weight_rows_are_ignored():
    x = np.arange(6.0)
    y = np.array([0, 0, 0, 1, 1, 1.0])
    w = np.ones(6)
    assert detect_separation(design(x), y, ["(Intercept)", "x"], weights=w).separated
    y2 = np.array([0, 1, 0, 1, 0, 1.0])
    w2 = np.array([1, 0, 1, 0, 1, 1.0])  # the mixing rows get no weight -> separated again
    assert detect_separation(design(x), y2, ["(Intercept)", "x"], weights=w2).separated
    assert not detect_separation(design(x), y2, ["(Intercept)", "x"]).separated


def test_poisson_level_with_only_zero_counts():
    level = np.array([0, 0, 0, 0, 1, 1, 1, 1.0])
    y = np.array([2, 0, 3, 1, 0, 0, 0, 0.0])
    res = detect_separation(design(level), y, ["(Intercept)", "levelB"], family="poisson")
    assert res.separated and res.terms == ["levelB"]
    y[4] = 1.0
    assert not detect_separation(
        design(level), y, ["(Intercept)", "levelB"], family="poisson"
    ).separated


@pytest.mark.parametrize("n", [0])
def test_empty_design(n):
    res = detect_separation(np.zeros((n, 2)), np.zeros(n), ["a", "b"])
    assert not res.separated
