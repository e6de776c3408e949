"""Shared helpers for the effects tests: R reference values and the fits they describe.

Fits are cached per test session (one entry per data file, formula and options) so that the
reference grids of icc, r2, marginal means and tidy share them.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from alliancestats import glmm, lmm

REF = Path(__file__).resolve().parents[1] / "reference" / "effects"

#: columns R reads as factors in the reference scripts
FACTORS = ("Subject", "batch", "cask", "plate", "sample", "school", "therapist", "patient",
           "species", "herd", "period", "BROOD", "LOCATION", "YEAR", "arm", "modality", "site")


def reference(name: str) -> dict:
    """The JSON written by ``tests/reference/effects/<name>.R``."""
    return json.loads((REF / f"{name}.json").read_text())


@cache
def load(path: str) -> pd.DataFrame:
    """A reference CSV (path relative to the effects reference folder), factors as text."""
    d = pd.read_csv(REF / path)
    for col in FACTORS:
        if col in d.columns:
            d[col] = d[col].astype(str)
    return d


@cache
def fit(path: str, formula: str, family: str = "gaussian", link: str | None = None,
        reml: bool = True):
    """The alliancestats fit of a reference case (cached; warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if family == "gaussian":
            return lmm(formula, load(path), reml=reml)
        return glmm(formula, load(path), family=family, link=link)


def fit_case(case: dict):
    """Fit a case of variance_reference.json / broom_reference.json."""
    family = case.get("family", "gaussian")
    return fit(case["data"], case["formula"], family,
               None if family == "gaussian" else case.get("link", "logit"),
               bool(case.get("reml", True)))


@pytest.fixture(scope="session")
def effects_reference():
    """``effects_reference(name)``: the JSON of ``tests/reference/effects/<name>.R``."""
    return reference


@pytest.fixture(scope="session")
def reference_data():
    """``reference_data(path)``: a reference CSV with R's factor columns as text."""
    return load


@pytest.fixture(scope="session")
def reference_fit():
    """``reference_fit(case)`` or ``reference_fit(path, formula, family, link, reml)``."""

    def get(case_or_path, *args):
        if isinstance(case_or_path, dict):
            return fit_case(case_or_path)
        return fit(case_or_path, *args)

    return get
