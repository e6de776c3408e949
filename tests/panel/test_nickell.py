"""nickell_bias(): Nickell's (1981) formula, its published values and a simulation."""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats import nickell_bias
from alliancestats.errors import ParameterError


@pytest.mark.parametrize(("t", "plim"), [(4, 0.0887), (9, 0.3188), (19, 0.4172), (39, 0.4606)])
def test_published_values_for_rho_one_half(t, plim):
    # the published probability limits are printed to four decimals
    assert round(0.5 + nickell_bias(0.5, t), 4) == plim


def test_known_special_cases():
    # rho = 0: the bias is -1/T (Nickell 1981)
    for t in (2, 5, 12):
        assert nickell_bias(0.0, t) == pytest.approx(-1.0 / t, abs=1e-15)
    # the bias shrinks towards zero as T grows
    values = [nickell_bias(0.5, t) for t in (5, 20, 100, 1000)]
    assert all(a < b < 0 for a, b in zip(values, values[1:], strict=False))


def test_vectorised_over_rho_and_waves():
    out = nickell_bias(np.array([[0.2], [0.5]]), np.array([4, 9]))
    assert out.shape == (2, 2)
    assert out[1, 0] == pytest.approx(nickell_bias(0.5, 4))
    assert isinstance(nickell_bias(0.5, 4), float)
    assert isinstance(nickell_bias(np.float64(0.5), np.int64(4)), float)


def test_invalid_arguments():
    for rho in (1.0, -1.0, 1.5, np.nan, "0.5", True):
        with pytest.raises(ParameterError):
            nickell_bias(rho, 5)
    for t in (1, 0, 4.5, np.inf):
        with pytest.raises(ParameterError):
            nickell_bias(0.5, t)


@pytest.mark.parametrize("t", [4, 9])
def test_within_estimate_converges_to_the_formula(t):
    """Fixed-effects (person-mean-centred) AR(1) estimate on a simulated stationary panel."""
    rho, n = 0.5, 100_000
    rng = np.random.default_rng(1981 + t)
    alpha = rng.normal(size=n)
    y = np.empty((n, t + 1))
    y[:, 0] = alpha / (1 - rho) + rng.normal(size=n) / np.sqrt(1 - rho**2)
    for s in range(1, t + 1):
        y[:, s] = alpha + rho * y[:, s - 1] + rng.normal(size=n)
    outcome, lagged = y[:, 1:], y[:, :-1]
    outcome = outcome - outcome.mean(axis=1, keepdims=True)
    lagged = lagged - lagged.mean(axis=1, keepdims=True)
    estimate = float((outcome * lagged).sum() / (lagged * lagged).sum())
    # sampling SD of the estimate with n * T = 4e5..9e5 rows is about .0015: allow 4 SDs
    assert abs(estimate - (rho + nickell_bias(rho, t))) < 0.006
    assert estimate < rho - 0.15  # far from the truth: the bias is real
