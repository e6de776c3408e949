"""Shared fixtures for the meta tests: the metafor bias/sensitivity reference cases."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from alliancestats.meta.rma import meta_analysis

BIAS_REFERENCE = Path(__file__).parents[1] / "reference" / "meta" / "bias.json"


@pytest.fixture(scope="session")
def bias_cases() -> dict[str, Any]:
    """The pinned cases of tests/reference/meta/bias.R -> bias.json (metafor 3.8-1)."""
    return json.loads(BIAS_REFERENCE.read_text())["cases"]


@pytest.fixture(scope="session")
def fit_case(bias_cases) -> Callable[[str], Any]:
    """Fit a reference case with the settings metafor used for it."""

    def fit(name: str):
        case = bias_cases[name]
        d = case["data"]
        frame = pd.DataFrame({"year": d["year"]})
        mods = None
        if "ablat" in d:
            frame["ablat"] = d["ablat"]
            mods = "ablat"
        return meta_analysis(
            frame,
            yi=d["yi"],
            vi=d["vi"],
            slab=d["label"],
            measure=case["measure"],
            method=case["method"],
            test=case["test"],
            mods=mods,
        )

    return fit
