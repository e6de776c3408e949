"""rci_cutoff: the Jacobson-Truax cut-off and Cronbach's alpha against R psych 2.2.9.

Reference values from tests/reference/dynamics/rci_reference.R (R 4.2.2, psych 2.2.9).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

import alliancestats as als
from alliancestats.alliance import RciCutoff
from alliancestats.errors import DataValidationError, ParameterError

REF = json.loads(
    (Path(__file__).parents[1] / "reference" / "dynamics" / "rci_reference.json").read_text()
)
WAI = [f"wai_{k}" for k in range(1, 13)]


def test_reference_file_is_complete():
    for key in ("alpha_all_items", "alpha_scattered", "sgdata_bdi_s0_sd", "sgdata_sem",
                "sgdata_rci"):
        assert key in REF


def test_alpha_from_items_matches_psych():
    items = als.read_sample("physio_cohort")[WAI]
    got = als.rci_cutoff(1.0, items)
    # same formula on the same covariance matrix; only summation order differs
    assert got.reliability == pytest.approx(REF["alpha_all_items"], abs=1e-10)
    assert got.reliability_source == "Cronbach's alpha of 12 items"


def test_alpha_with_scattered_missing_responses_matches_psych_pairwise():
    items = als.read_sample("physio_cohort")[WAI].dropna().iloc[:300].reset_index(drop=True)
    i = np.arange(1, 301)[:, None]
    j = np.arange(1, 13)[None, :]
    holes = (7 * i + 3 * j) % 23 == 0
    assert holes.sum() == REF["n_missing_scattered"]
    got = als.rci_cutoff(1.0, items.mask(holes))
    # pairwise-complete covariances as psych; summation order only
    assert got.reliability == pytest.approx(REF["alpha_scattered"], abs=1e-10)


def test_cutoff_from_scores_matches_r():
    got = als.rci_cutoff(als.read_sample("sgdata")["bdi_s0"], 0.931)
    # floating-point only
    assert got.sd == pytest.approx(REF["sgdata_bdi_s0_sd"], rel=1e-12)
    assert got.sem == pytest.approx(REF["sgdata_sem"], rel=1e-12)
    assert got.value == pytest.approx(REF["sgdata_rci"], rel=1e-12)
    assert float(got) == got.value and isinstance(got, RciCutoff)
    assert got.to_series()["cutoff"] == got.value
    assert "SD of 41 scores" in repr(got)


def test_formula_and_z():
    got = als.rci_cutoff(2.0, 0.75, z=1.645)
    assert got.value == pytest.approx(1.645 * math.sqrt(2) * 2.0 * 0.5, rel=1e-15)  # exact


@pytest.mark.parametrize(
    ("sd", "reliability", "error", "match"),
    [
        (-1.0, 0.9, ParameterError, "sd"),
        (1.0, 1.5, ParameterError, "reliability"),
        (1.0, None, ParameterError, "reliability"),
        ([1.0, "x", 3.0], 0.9, DataValidationError, "non-numeric"),
        ([5.0, 5.0], 0.9, DataValidationError, "no spread"),
        (1.0, np.zeros((3, 1)), ParameterError, "reliability"),
    ],
)
def test_errors(sd, reliability, error, match):
    with pytest.raises(error, match=match):
        als.rci_cutoff(sd, reliability)
