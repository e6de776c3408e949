"""After the fit: variance shares, explained variance, marginal means, predictions and tables.

Modules: :mod:`.variance` (variance components), :mod:`.icc` (intraclass correlations),
:mod:`.r2` (marginal and conditional R²), :mod:`.bootstrap` (parametric bootstrap),
:mod:`.reliability` (multilevel reliability, within/between alpha), :mod:`.classical`
(pingouin's repeated-measures correlation, alpha and rater ICCs on session data),
:mod:`.grid`, :mod:`.marginal`, :mod:`.contrasts` and :mod:`.adjust` (marginal means and
their contrasts), :mod:`.prediction` (predictions with intervals),
:mod:`.broom` (``tidy``/``glance``), :mod:`.apa` (APA sentences), :mod:`.tables`
(``compare_models``: side-by-side tables and their exports). ``MixedResult`` has thin
``tidy/glance/apa/icc/r2`` methods that call these functions.

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session + (1 | patient)", df)
>>> round(als.icc(fit).adjusted, 2) > 0
True
"""

from __future__ import annotations

from alliancestats.effects.apa import apa
from alliancestats.effects.broom import glance, tidy
from alliancestats.effects.classical import cronbach_alpha, intraclass_corr, rm_corr
from alliancestats.effects.icc import IccResult, icc
from alliancestats.effects.marginal import ContrastResult, MarginalMeans, marginal_means
from alliancestats.effects.prediction import predictions
from alliancestats.effects.r2 import R2Result, r2
from alliancestats.effects.reliability import (
    MultilevelReliability,
    multilevel_reliability,
    within_between_alpha,
)
from alliancestats.effects.tables import ModelTable, compare_models
from alliancestats.effects.variance import VarianceComponents, variance_components

__all__ = [
    "ContrastResult",
    "IccResult",
    "MarginalMeans",
    "ModelTable",
    "MultilevelReliability",
    "R2Result",
    "VarianceComponents",
    "apa",
    "compare_models",
    "cronbach_alpha",
    "glance",
    "icc",
    "intraclass_corr",
    "marginal_means",
    "multilevel_reliability",
    "predictions",
    "r2",
    "rm_corr",
    "tidy",
    "variance_components",
    "within_between_alpha",
]
