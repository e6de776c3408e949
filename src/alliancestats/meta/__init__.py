"""Meta-analysis: effect sizes, random-effects and three-level models, bias diagnostics.

Examples
--------
>>> from alliancestats.meta import meta_analysis
>>> res = meta_analysis(r=[0.20, 0.35, 0.10, 0.28, 0.15], n=[60, 120, 85, 40, 200])
>>> res.k
5
"""

from __future__ import annotations

from alliancestats.meta.bias import egger_test, rank_test, trim_and_fill
from alliancestats.meta.blup import blup, ranef
from alliancestats.meta.compare import meta_lrt
from alliancestats.meta.effect_sizes import (
    beta_to_r,
    chi2_to_r,
    combine_dependent,
    d_to_r,
    effect_sizes,
    f_to_r,
    odds_ratio_to_d,
    r_to_d,
    r_to_z,
    t_to_r,
    z_to_r,
)
from alliancestats.meta.failsafe import fail_safe_n
from alliancestats.meta.gosh import gosh
from alliancestats.meta.mantel_haenszel import mantel_haenszel, peto
from alliancestats.meta.pcurve import pcurve
from alliancestats.meta.pet_peese import pet_peese
from alliancestats.meta.puniform import puniform
from alliancestats.meta.result import MetaResult
from alliancestats.meta.rma import meta_analysis
from alliancestats.meta.selection import selection_model
from alliancestats.meta.sensitivity import cumulative, influence, leave_one_out

__all__ = [
    "MetaResult",
    "beta_to_r",
    "blup",
    "chi2_to_r",
    "combine_dependent",
    "cumulative",
    "d_to_r",
    "effect_sizes",
    "egger_test",
    "fail_safe_n",
    "f_to_r",
    "gosh",
    "influence",
    "leave_one_out",
    "mantel_haenszel",
    "meta_analysis",
    "meta_lrt",
    "odds_ratio_to_d",
    "pcurve",
    "pet_peese",
    "peto",
    "puniform",
    "r_to_d",
    "r_to_z",
    "ranef",
    "rank_test",
    "selection_model",
    "t_to_r",
    "trim_and_fill",
    "z_to_r",
]
