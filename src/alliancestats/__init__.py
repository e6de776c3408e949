"""alliancestats: therapeutic-alliance research analysis validated against R.

The top level re-exports the public functions; see the subpackages for the rest.

Examples
--------
>>> import alliancestats as als
>>> "load_sessions" in als.__all__
True
"""

from __future__ import annotations

from alliancestats.datasets import list_samples, read_sample
from alliancestats.errors import (
    AllianceStatsWarning,
    ConvergenceWarning,
    DataValidationError,
    DroppedRowsWarning,
    SeparationWarning,
    SingularFitWarning,
)
from alliancestats.instruments import (
    clinical_significance,
    instruments,
    mcid_change,
    register_instrument,
    reliable_change,
    score,
)
from alliancestats.io import SessionData, load_sessions
from alliancestats.meta import (
    MetaResult,
    blup,
    cumulative,
    effect_sizes,
    egger_test,
    fail_safe_n,
    influence,
    leave_one_out,
    mantel_haenszel,
    meta_analysis,
    meta_lrt,
    pet_peese,
    peto,
    ranef,
    rank_test,
    selection_model,
    trim_and_fill,
)
from alliancestats.models import MixedResult, gee, glmm, lmm, lrt
from alliancestats.simulate import simulate_sessions, simulate_studies

__version__ = "0.1.0"

__all__ = [
    "AllianceStatsWarning",
    "ConvergenceWarning",
    "DataValidationError",
    "DroppedRowsWarning",
    "MetaResult",
    "MixedResult",
    "SeparationWarning",
    "SessionData",
    "SingularFitWarning",
    "blup",
    "clinical_significance",
    "cumulative",
    "effect_sizes",
    "egger_test",
    "fail_safe_n",
    "gee",
    "glmm",
    "influence",
    "instruments",
    "leave_one_out",
    "list_samples",
    "lmm",
    "load_sessions",
    "lrt",
    "mantel_haenszel",
    "mcid_change",
    "meta_analysis",
    "meta_lrt",
    "pet_peese",
    "peto",
    "ranef",
    "rank_test",
    "read_sample",
    "register_instrument",
    "reliable_change",
    "score",
    "selection_model",
    "simulate_sessions",
    "simulate_studies",
    "trim_and_fill",
]
