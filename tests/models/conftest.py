"""Shared fixtures of the model tests: the simulated adherence data used by several files."""

from __future__ import annotations

import pathlib

import pandas as pd
import pytest

GLMM_DATA = pathlib.Path(__file__).resolve().parents[1] / "reference" / "glmm" / "data"


@pytest.fixture(scope="session")
def adherence_data() -> pd.DataFrame:
    """Simulated adherence sessions (patients as text ids), read once per test session."""
    d = pd.read_csv(GLMM_DATA / "adherence.csv")
    d["patient"] = d["patient"].astype(str)
    return d
