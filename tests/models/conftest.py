"""Shared fixtures of the model tests (simulated data used by several files)."""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd
import pytest

GLMM_DATA = pathlib.Path(__file__).resolve().parents[1] / "reference" / "glmm" / "data"


@pytest.fixture(scope="session")
def adherence_data() -> pd.DataFrame:
    """Simulated adherence sessions (patients as text ids), read once per test session."""
    d = pd.read_csv(GLMM_DATA / "adherence.csv")
    d["patient"] = d["patient"].astype(str)
    return d


@pytest.fixture(scope="session")
def small() -> pd.DataFrame:
    """300 rows in 30 groups: binary ``y``, counts ``cnt``, a 3-level factor and a session."""
    rng = np.random.default_rng(1)
    n = 300
    d = pd.DataFrame({"g": np.repeat([f"G{i}" for i in range(30)], 10), "x": rng.normal(size=n)})
    d["y"] = (rng.random(n) < 1 / (1 + np.exp(-(0.3 + 0.8 * d["x"])))).astype(int)
    d["cnt"] = rng.poisson(np.exp(0.5 + 0.3 * d["x"]))
    d["f3"] = np.tile(["a", "b", "c"], 100)
    d["s"] = np.tile(np.arange(10), 30)
    return d
