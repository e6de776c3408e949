"""Small designs shared by the simulation-power tests (fast fits)."""

from __future__ import annotations

import pandas as pd
import pytest

from alliancestats.power import cohens_d, longitudinal_spec, simulation_spec


@pytest.fixture(scope="session")
def small_spec():
    """Twelve patients with four sessions each; a moderate session effect."""
    rows = pd.DataFrame({"patient": [f"P{i // 4:02d}" for i in range(48)],
                         "session": [i % 4 for i in range(48)]})
    return simulation_spec("pain ~ session + (1 | patient)", rows,
                           fixed={"(Intercept)": 5.0, "session": -0.3},
                           random={"patient": {"sd": 1.0}}, sigma=1.0, term="session",
                           patient="patient", session="session")


@pytest.fixture(scope="session")
def trial_spec():
    """A small three-level trial in powerlmm's model (3 therapists x 4 patients per arm)."""
    return longitudinal_spec(5, 4, 3, icc_pre_subject=0.5, icc_slope=0.1, var_ratio=0.05,
                             effect_size=cohens_d(0.8))
