"""One optimizer record (keys and types) for lmm() and glmm() fits."""

from __future__ import annotations

import pathlib
import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import glmm, lmm

DATA = pathlib.Path(__file__).resolve().parents[1] / "reference" / "glmm" / "data"

KEYS = {
    "method",
    "evaluations",
    "restarts",
    "converged",
    "message",
    "gradient",
    "max_abs_gradient",
    "max_scaled_gradient",
    "seconds",
}


@pytest.fixture(scope="module")
def fits():
    d = pd.read_csv(DATA / "adherence.csv")
    d["patient"] = d["patient"].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return (
            lmm("alliance ~ session + (1 | patient)", d),
            glmm("adhered ~ session + (1 | patient)", d),
        )


@pytest.mark.parametrize("which", [0, 1])
def test_record_has_one_set_of_keys(fits, which):
    rec = fits[which].optimizer
    assert KEYS <= set(rec.keys())
    assert rec["evaluations"] > 0
    assert isinstance(rec["converged"], bool) and rec["converged"] == fits[which].converged
    assert rec["max_scaled_gradient"] < 2e-3
    assert np.asarray(rec["gradient"]).ndim == 1


def test_both_engines_share_the_keys(fits):
    assert set(fits[0].optimizer.keys()) == set(fits[1].optimizer.keys())
