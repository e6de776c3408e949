"""Power for longitudinal therapist/patient designs: analytic (powerlmm's model) and simulation.

Analytic power (:func:`longitudinal_power`) for two- and three-level, fully and partially
nested designs with unequal caseloads and dropout (:func:`weibull_dropout`,
:func:`manual_dropout`); the design effect of ignoring the therapist slope
(:func:`design_effect`), variance partitioning (:func:`variance_partition`), the implied
correlation matrix (:func:`implied_correlation`) and power tables (:func:`power_table`).

Simulation power (:func:`power_simulation`, :func:`power_curve`) for any linear mixed model
specified with :func:`simulation_spec` or :func:`longitudinal_spec`, or fitted with
:func:`~alliancestats.lmm`; replicates run in local processes or on Dask, every replicate is
recorded, intervals are exact (:func:`clopper_pearson`); :func:`plot_power_curve` draws the
curves.

Examples
--------
>>> from alliancestats.power import longitudinal_power, cohens_d
>>> round(longitudinal_power(11, 25, icc_pre_subject=0.5, var_ratio=0.019,
...                          effect_size=cohens_d(-0.5)).power, 6)
0.309503
"""

from __future__ import annotations

from alliancestats.power.analytic import PowerResult, longitudinal_power
from alliancestats.power.curve import PowerCurve, power_curve
from alliancestats.power.design import cohens_d, per_arm, random_caseloads
from alliancestats.power.design_effect import design_effect
from alliancestats.power.dropout import manual_dropout, weibull_dropout
from alliancestats.power.intervals import clopper_pearson
from alliancestats.power.longitudinal_spec import longitudinal_spec
from alliancestats.power.plot import plot_power_curve
from alliancestats.power.simulation import SimulationResult, power_simulation
from alliancestats.power.spec import SimulationSpec, simulation_spec
from alliancestats.power.table import power_table
from alliancestats.power.variance import implied_correlation, variance_partition

__all__ = [
    "PowerCurve",
    "PowerResult",
    "SimulationResult",
    "SimulationSpec",
    "clopper_pearson",
    "cohens_d",
    "design_effect",
    "implied_correlation",
    "longitudinal_power",
    "longitudinal_spec",
    "manual_dropout",
    "per_arm",
    "plot_power_curve",
    "power_curve",
    "power_simulation",
    "power_table",
    "random_caseloads",
    "simulation_spec",
    "variance_partition",
    "weibull_dropout",
]
