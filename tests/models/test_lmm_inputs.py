"""What lmm() accepts: responses on any scale, SessionData, and clear refusals."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from alliancestats.errors import AllianceStatsWarning, ModelSpecificationError
from alliancestats.models import lmm
from alliancestats.simulate import simulate_sessions


@pytest.fixture(scope="module")
def sessions():
    return simulate_sessions(n_therapists=6, seed=8).dropna(subset=["pain"])


@pytest.mark.parametrize("factor", [1e-12, 1e12])
def test_response_on_a_tiny_or_huge_scale_is_fitted(sessions, factor):
    # an exact-fit check with an absolute threshold refused y * 1e-12
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        base = lmm("pain ~ session + (1 | patient)", sessions)
        scaled = lmm("y ~ session + (1 | patient)", sessions.assign(y=sessions["pain"] * factor))
    np.testing.assert_allclose(scaled.fixed["estimate"], base.fixed["estimate"] * factor, rtol=1e-5)
    np.testing.assert_allclose(scaled.fixed["df"], base.fixed["df"], rtol=1e-3)
    assert scaled.sigma == pytest.approx(base.sigma * factor, rel=1e-5)


def test_response_reproduced_by_the_fixed_part_is_refused(sessions):
    d = sessions.assign(y=1e-12 * (2.0 + 0.5 * sessions["session"]))
    with pytest.raises(ModelSpecificationError, match="exactly"):
        lmm("y ~ session + (1 | patient)", d)
