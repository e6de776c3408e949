"""lmm() on badly scaled random slopes reaches lmer's optimum (or a lower one).

Simulated family (tests/reference/lmm/lmm_scaling.R): covariates with SDs 10 and 5, slope
SDs 1/10 and 1/100 of the intercept SD, 2x2 and 3x3 covariance matrices, REML and ML.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import lmm

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((REF_DIR / "lmm_scaling.json").read_text())["fits"]
KEYS = [
    f"scaling_gaussian_q{q}_r{r}_{m}" for q in (2, 3) for r in ("01", "001") for m in ("REML", "ML")
]
TOL_CRIT = 1e-6  # relative: ours may be lower (better), never higher by more than this


def test_grid_is_complete():
    assert sorted(REF) == sorted(KEYS)


@pytest.mark.parametrize("key", KEYS)
def test_optimum_is_at_least_as_good_as_lmer(key):
    ref = REF[key]
    d = pd.read_csv(REF_DIR / "data" / f"{ref['data']}.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        m = lmm(ref["formula"], d, reml=ref["reml"])
    assert m.deviance <= ref["criterion"] * (1 + TOL_CRIT)
    assert m.converged
    theta = np.asarray(ref["theta"], float)
    diag = np.asarray(ref["lower"], float) == 0
    if m.deviance < ref["criterion"] - TOL_CRIT * abs(ref["criterion"]):
        return  # lmer stopped short of this optimum: its flag describes another point
    if np.any((theta[diag] > 1e-5) & (theta[diag] < 1e-3)):
        # lmer within a factor 10 of isSingular's tolerance: both fits near the boundary
        assert np.min(m.theta[diag]) < 1e-3
    else:
        assert m.singular == ref["singular"]
