"""Lagged within-person effects: RI-CLPM, CLPM and ML-SEM dynamic panel models.

Does a patient's alliance at one session, above the patient's own usual level, predict
symptoms at the next session? The lagged mixed model with person-mean-centred predictors is
biased when it also controls the previous outcome (Nickell 1981; :func:`nickell_bias`); the
structural equation models here are the recommended alternatives (Falkenström, Solomonov &
Rubel 2020; Falkenström 2024):

* :func:`riclpm` -- random-intercept cross-lagged panel model (Hamaker, Kuiper & Grasman
  2015) with Mulder & Hamaker's (2021) extensions; :func:`clpm` -- the plain cross-lagged
  panel model, for comparison;
* :func:`dynamic_panel` -- ML-SEM dynamic panel model with fixed effects (Allison, Williams &
  Moral-Benito 2017; R dpm, Stata xtdpdml) with long-run effects;
* :func:`simulate_riclpm` -- session data with known lagged effects;
* :func:`lagged_effects_report` -- the three models side by side, with tables and a figure.

All fits are full-information maximum likelihood on a small structural-equation core
(:mod:`.ram`, :mod:`.fiml`, :mod:`.estimation`, :mod:`.fit_measures`) validated against
lavaan. Results are :class:`PanelResult` objects (tidy tables, ``summary()``, ``apa()``).

Examples
--------
>>> from alliancestats.panel import riclpm, dynamic_panel, nickell_bias
>>> round(0.5 + nickell_bias(0.5, 4), 4)
0.0887
"""

from __future__ import annotations

from alliancestats.panel.dynamic import dynamic_panel
from alliancestats.panel.nickell import nickell_bias
from alliancestats.panel.report import LaggedEffectsReport, lagged_effects_report
from alliancestats.panel.results import PanelResult
from alliancestats.panel.riclpm import clpm, riclpm
from alliancestats.panel.simulate import simulate_riclpm

__all__ = [
    "LaggedEffectsReport",
    "PanelResult",
    "clpm",
    "dynamic_panel",
    "lagged_effects_report",
    "nickell_bias",
    "riclpm",
    "simulate_riclpm",
]
