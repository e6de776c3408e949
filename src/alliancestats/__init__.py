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
from alliancestats.effects import (
    apa,
    compare_models,
    cronbach_alpha,
    glance,
    icc,
    intraclass_corr,
    marginal_means,
    multilevel_reliability,
    predictions,
    r2,
    rm_corr,
    tidy,
    within_between_alpha,
)
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
    cumulative,
    effect_sizes,
    egger_test,
    influence,
    leave_one_out,
    meta_analysis,
    rank_test,
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
    "apa",
    "clinical_significance",
    "compare_models",
    "cronbach_alpha",
    "cumulative",
    "effect_sizes",
    "egger_test",
    "gee",
    "glance",
    "glmm",
    "icc",
    "influence",
    "instruments",
    "intraclass_corr",
    "leave_one_out",
    "list_samples",
    "lmm",
    "load_sessions",
    "lrt",
    "marginal_means",
    "mcid_change",
    "meta_analysis",
    "multilevel_reliability",
    "predictions",
    "r2",
    "rank_test",
    "read_sample",
    "register_instrument",
    "reliable_change",
    "rm_corr",
    "score",
    "simulate_sessions",
    "simulate_studies",
    "tidy",
    "trim_and_fill",
    "within_between_alpha",
]
