"""Mixed models: lme4-style formulas, linear (``lmm``) and generalized (``glmm``) mixed models,
GEE, likelihood-ratio tests and the shared :class:`MixedResult`.

Modules: :mod:`.formula` (formula parser), :mod:`.design` (model matrices), :mod:`.lmm` and
:mod:`.lmm_core` (linear mixed models), :mod:`.results` (``MixedResult``, ``lrt``),
:mod:`.anova` (type III / I F tests behind ``MixedResult.anova``),
:mod:`.glmm` and :mod:`.gee` (generalized models).

Examples
--------
>>> from alliancestats.models import lmm, lrt, MixedResult
>>> callable(lmm) and callable(lrt)
True
"""

from __future__ import annotations

from alliancestats.models.gee import gee
from alliancestats.models.glmm import glmm
from alliancestats.models.lmm import lmm
from alliancestats.models.lrt import lrt
from alliancestats.models.results import MixedResult

__all__ = ["MixedResult", "gee", "glmm", "lmm", "lrt"]
