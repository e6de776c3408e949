"""Shared fixtures of the figure tests."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

REF = Path(__file__).resolve().parents[1] / "reference"


@pytest.fixture(scope="session")
def sleepstudy() -> pd.DataFrame:
    """lme4's sleepstudy (tests/reference/lmm/data), Subject as text."""
    d = pd.read_csv(REF / "lmm" / "data" / "sleepstudy.csv")
    return d.astype({"Subject": str})


@pytest.fixture(scope="session")
def cbpp() -> pd.DataFrame:
    """lme4's cbpp (tests/reference/glmm/data), factors as text."""
    return pd.read_csv(REF / "glmm" / "data" / "cbpp.csv").astype({"period": str, "herd": str})


@pytest.fixture
def close_figures():
    """Close every figure a test opened."""
    yield
    plt.close("all")
