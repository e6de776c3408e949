"""Argument checks of the simulators: every bad argument is a ParameterError naming it.

ParameterError subclasses ValueError, TypeError and AllianceStatsError, so code catching the
built-in exceptions keeps working.
"""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats.errors import AllianceStatsError, ParameterError
from alliancestats.simulate import simulate_sessions, simulate_studies


# ---------------------------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_therapists": 0}, ValueError, "n_therapists must be at least 1"),
        ({"n_therapists": 2.5}, TypeError, "n_therapists must be an integer"),
        ({"patients_per_therapist": (5, 2)}, ValueError, "low <= high"),
        ({"patients_per_therapist": "many"}, TypeError, "patients_per_therapist"),
        ({"sessions": (0, 4)}, ValueError, r"sessions\[0\] must be at least 1"),
        ({"caseloads": [1, 2]}, ValueError, "one patient count per therapist"),
        ({"alliance_sd_patient": -0.1}, ValueError, "alliance_sd_patient is a standard deviation"),
        ({"pain_corr": 1.0}, ValueError, "pain_corr is a correlation"),
        ({"dropout_rate": 1.0}, ValueError, "dropout_rate is a probability"),
        ({"missing_outcome_rate": -0.2}, ValueError, "missing_outcome_rate"),
        ({"exercises_family": "gaussian"}, ValueError, "exercises_family must be"),
        ({"pain_within": float("nan")}, TypeError, "pain_within must be a finite number"),
        ({"start_date": "not a date"}, ValueError, "start_date"),
        ({"seed": -1}, ValueError, "seed must be at least 0"),
    ],
)
def test_invalid_arguments_raise_clear_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        simulate_sessions(n_therapists=kwargs.pop("n_therapists", 3), **kwargs)



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


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "k must be at least 1"),
        ({"mean_r": 1.2}, "mean_r is a correlation"),
        ({"tau": -1.0}, "tau is a standard deviation"),
        ({"n": (3, 10)}, r"n\[0\] must be at least 5"),
        ({"effects_per_study": (3, 1)}, "low <= high"),
    ],
)
def test_studies_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate_studies(**{"k": 5, **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sudden_gain_rate": 1.5}, "sudden_gain_rate is a probability"),
        ({"rupture_rate": -0.1}, "rupture_rate is a probability"),
        ({"rupture_repair_rate": 2}, "rupture_repair_rate is a probability"),
        ({"rupture_depth": -1.0}, "rupture_depth is a drop"),
        ({"rupture_decline": 0}, "rupture_decline must be at least 1"),
        ({"sudden_gain_size": np.inf}, "sudden_gain_size must be a finite number"),
        ({"nonresponder_rate": 1.5}, "nonresponder_rate is a probability"),
        ({"nonresponder_change": np.nan}, "nonresponder_change must be a finite number"),
        ({"items": "yes"}, "items must be True or False"),
    ],
)
def test_planted_event_argument_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        simulate_sessions(2, 2, 6, **kwargs)
