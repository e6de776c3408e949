"""What glmm() accepts as data and how it refuses the rest."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import alliancestats as als
from alliancestats.errors import AllianceStatsWarning, ParameterError
from alliancestats.models import glmm
from alliancestats.simulate import simulate_sessions


def test_session_data_is_accepted_like_its_frame():
    raw = simulate_sessions(n_therapists=6, seed=2)
    sd = als.load_sessions(
        raw, patient="patient", session="session", therapist="therapist",
        outcomes=["pain"], covariates=["adhered"], strict=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        from_sd = glmm("adhered ~ session + (1 | patient)", sd)
        from_df = glmm("adhered ~ session + (1 | patient)", sd.data)
    np.testing.assert_allclose(from_sd.fixed["estimate"], from_df.fixed["estimate"])
    assert from_sd.nobs == from_df.nobs


@pytest.mark.parametrize("bad", [{"a": [1, 2]}, [1, 2, 3], None])
def test_other_data_types_get_one_error_class(bad):
    with pytest.raises(ParameterError, match="DataFrame or a SessionData"):
        glmm("adhered ~ session + (1 | patient)", bad)
