"""Power for longitudinal therapist/patient designs: analytic (powerlmm's model) and simulation.

Analytic power (:func:`longitudinal_power`) for two- and three-level, fully and partially
nested designs with unequal caseloads and dropout (:func:`weibull_dropout`,
:func:`manual_dropout`); the design effect of ignoring the therapist slope
(:func:`design_effect`), variance partitioning (:func:`variance_partition`), the implied
correlation matrix (:func:`implied_correlation`) and power tables (:func:`power_table`).

Examples
--------
>>> from alliancestats.power import longitudinal_power, cohens_d
>>> round(longitudinal_power(11, 25, icc_pre_subject=0.5, var_ratio=0.019,
...                          effect_size=cohens_d(-0.5)).power, 6)
0.309503
"""

from __future__ import annotations

from alliancestats.power.analytic import PowerResult, longitudinal_power
from alliancestats.power.design import cohens_d, per_arm, random_caseloads
from alliancestats.power.design_effect import design_effect
from alliancestats.power.dropout import manual_dropout, weibull_dropout
from alliancestats.power.table import power_table
from alliancestats.power.variance import implied_correlation, variance_partition

__all__ = [
    "PowerResult",
    "cohens_d",
    "design_effect",
    "implied_correlation",
    "longitudinal_power",
    "manual_dropout",
    "per_arm",
    "power_table",
    "random_caseloads",
    "variance_partition",
    "weibull_dropout",
]
