"""Analytic and simulated power agree within Monte Carlo error on powerlmm's designs.

For each design of the powerlmm reference grid the simulation (refits with Satterthwaite t
tests) must match the analytic power of the same test (``df="satterthwaite"``), the analytic
SE must match the spread of the simulated estimates, and the estimates must be centred on the
true slope difference, each within three Monte Carlo standard errors. (With powerlmm's
"between" df the partially nested design is conservative -- .416 against .566 -- which is why
powerlmm recommends Satterthwaite df or simulation there.) Three-level designs are simulated without the therapist
intercept term, whose true variance is 0 (the analytic variance is the same either way).
"""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats.power import (
    cohens_d,
    longitudinal_power,
    longitudinal_spec,
    power_simulation,
    weibull_dropout,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::alliancestats.errors.ConvergenceWarning")]

THREE = dict(icc_pre_subject=0.5, icc_slope=0.05, var_ratio=0.02, effect_size=cohens_d(-0.8))
TWO = dict(icc_pre_subject=0.5, var_ratio=0.019, effect_size=cohens_d(-0.5))
DESIGNS = {
    # name: (design, replicates, analytic power printed by powerlmm)
    "two_level": (dict(n_sessions=11, n_patients=25, **TWO), 300, 0.309503),
    "two_level_weibull": (dict(n_sessions=11, n_patients=25, dropout=weibull_dropout(0.3, 0.5),
                               **TWO), 200, 0.248772),
    "three_level": (dict(n_sessions=11, n_patients=10, n_therapists=4, **THREE), 100, 0.583549),
    "partially_nested": (dict(n_sessions=11, n_patients=5, n_therapists=5,
                              partially_nested=True, **THREE), 100, 0.415881),
}


def test_design_grid_is_complete():
    assert sorted(DESIGNS) == ["partially_nested", "three_level", "two_level",
                               "two_level_weibull"]


@pytest.mark.parametrize("name", sorted(DESIGNS))
def test_simulation_agrees_with_analytic_power(name):
    design, nsim, reference = DESIGNS[name]
    assert longitudinal_power(**design).power == pytest.approx(reference, abs=1e-6)  # powerlmm
    analytic = longitudinal_power(**design, df="satterthwaite")
    sim = power_simulation(longitudinal_spec(**design), nsim=nsim, seed=2024, backend="serial")
    est = sim.replicates["estimate"]
    mc_power = np.sqrt(analytic.power * (1 - analytic.power) / nsim)
    # three Monte Carlo SEs: a false alarm about 1 run in 370 per check
    assert abs(sim.power - analytic.power) <= 3 * mc_power
    assert abs(est.mean() - analytic.slope_difference) <= 3 * analytic.se / np.sqrt(nsim)
    assert abs(est.std(ddof=1) / analytic.se - 1) <= 3 / np.sqrt(2 * (nsim - 1))
    assert sim.n_failed == 0
