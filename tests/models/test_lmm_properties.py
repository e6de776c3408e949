"""Invariances of the LMM criterion and estimates (property-based)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import lmm
from alliancestats.models.design import build_design
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.simulate import simulate_sessions

DATA = simulate_sessions(n_therapists=6, patients_per_therapist=(2, 5), sessions=(3, 7), seed=21)
DATA = DATA.dropna(subset=["pain", "alliance"]).reset_index(drop=True)
FORMULA = "pain ~ session + alliance + (1 + session | patient) + (1 | therapist)"


def criterion(data: pd.DataFrame, theta: np.ndarray, reml: bool) -> float:
    d = build_design(FORMULA, data)
    return LmmProblem(d.X, d.y, d.random).criterion(theta, reml)


theta_st = st.tuples(
    st.floats(0.05, 3.0), st.floats(-0.5, 0.5), st.floats(0.0, 1.0), st.floats(0.0, 2.0)
).map(np.array)


@settings(max_examples=15)
@given(theta=theta_st, seed=st.integers(0, 2**16), reml=st.booleans())
def test_criterion_invariant_to_row_order(theta, seed, reml):
    shuffled = DATA.sample(frac=1.0, random_state=seed)
    # summation order changes rounding only
    assert criterion(shuffled, theta, reml) == pytest.approx(
        criterion(DATA, theta, reml), rel=1e-11
    )


@settings(max_examples=15)
@given(theta=theta_st, shift=st.floats(-50, 50), slope=st.floats(-5, 5))
def test_reml_criterion_invariant_to_adding_fixed_effects_to_y(theta, shift, slope):
    moved = DATA.assign(pain=DATA["pain"] + shift + slope * DATA["session"])
    # y -> y + X c leaves the REML and ML criteria unchanged (beta absorbs c)
    assert criterion(moved, theta, True) == pytest.approx(criterion(DATA, theta, True), rel=1e-10)


def test_estimates_equivariant_to_rescaling_y():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        m1 = lmm(FORMULA, DATA)
        m2 = lmm(FORMULA, DATA.assign(pain=10 * DATA["pain"]))
    np.testing.assert_allclose(m2.fixed["estimate"], 10 * m1.fixed["estimate"], rtol=1e-5)
    np.testing.assert_allclose(m2.fixed["df"], m1.fixed["df"], rtol=1e-3)  # scale-free
    np.testing.assert_allclose(m2.theta, m1.theta, atol=1e-5)  # θ is relative to sigma
    assert m2.sigma == pytest.approx(10 * m1.sigma, rel=1e-6)
