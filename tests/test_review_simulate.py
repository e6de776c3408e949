"""Regression tests from the review: simulator argument errors are alliancestats errors."""

from __future__ import annotations

import pytest

from alliancestats.errors import AllianceStatsError, ParameterError
from alliancestats.simulate import simulate_sessions, simulate_studies


@pytest.mark.parametrize(
    ("kwargs", "match", "builtin"),
    [
        ({"n_therapists": 0}, "n_therapists must be at least 1", ValueError),
        ({"n_therapists": 2.5}, "n_therapists must be an integer", TypeError),
        ({"alliance_mean": float("nan")}, "alliance_mean must be a finite number", TypeError),
        ({"dropout_rate": 1.5}, "dropout_rate is a probability", ValueError),
        ({"pain_corr": 2.0}, "pain_corr is a correlation", ValueError),
        ({"seed": "x"}, "seed must be an integer", TypeError),
    ],
)
def test_sessions_argument_errors(kwargs, match, builtin):
    # these used to be bare ValueError/TypeError; ParameterError is both and an
    # AllianceStatsError, so old and new ways of catching them work
    with pytest.raises(ParameterError, match=match) as info:
        simulate_sessions(**{"n_therapists": 2, "patients_per_therapist": 2, **kwargs})
    assert isinstance(info.value, builtin)
    assert isinstance(info.value, AllianceStatsError)


def test_studies_argument_error_is_a_parameter_error():
    with pytest.raises(ParameterError, match="mean_r is a correlation"):
        simulate_studies(5, mean_r=1.0)


def test_one_session_and_one_study_are_valid_edge_cases():
    d = simulate_sessions(2, 2, 1, seed=1)
    assert (d["session"] == 1).all()
    assert len(simulate_studies(1, seed=1)) == 1
