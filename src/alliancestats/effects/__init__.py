"""After the fit: variance shares, explained variance, marginal means, predictions and tables.

Modules: :mod:`.variance` (variance components), :mod:`.icc` (intraclass correlations),
:mod:`.r2` (marginal and conditional R²), :mod:`.bootstrap` (parametric bootstrap).

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session + (1 | patient)", df)
>>> round(als.icc(fit).adjusted, 2) > 0
True
"""

from __future__ import annotations

from alliancestats.effects.icc import IccResult, icc
from alliancestats.effects.r2 import R2Result, r2
from alliancestats.effects.variance import VarianceComponents, variance_components

__all__ = ["IccResult", "R2Result", "VarianceComponents", "icc", "r2", "variance_components"]
