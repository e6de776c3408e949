"""alliancestats: therapeutic-alliance research analysis validated against R.

The top level re-exports the public functions; see the subpackages for the rest.

Examples
--------
>>> import alliancestats as als
>>> "load_sessions" in als.__all__
True
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

# Public names and the modules that define them. They are imported on first use (PEP 562), so
# that "import alliancestats" stays fast: scipy, statsmodels, pyarrow and formulaic load only
# when a function that needs them is called. Add a name here and to __all__ below.
_LAZY = {
    "list_samples": "alliancestats.datasets",
    "read_sample": "alliancestats.datasets",
    "AllianceStatsWarning": "alliancestats.errors",
    "ConvergenceWarning": "alliancestats.errors",
    "DataValidationError": "alliancestats.errors",
    "DroppedRowsWarning": "alliancestats.errors",
    "SeparationWarning": "alliancestats.errors",
    "SingularFitWarning": "alliancestats.errors",
    "clinical_significance": "alliancestats.instruments",
    "instruments": "alliancestats.instruments",
    "mcid_change": "alliancestats.instruments",
    "register_instrument": "alliancestats.instruments",
    "reliable_change": "alliancestats.instruments",
    "score": "alliancestats.instruments",
    "SessionData": "alliancestats.io",
    "load_sessions": "alliancestats.io",
    "MetaResult": "alliancestats.meta",
    "cumulative": "alliancestats.meta",
    "effect_sizes": "alliancestats.meta",
    "egger_test": "alliancestats.meta",
    "influence": "alliancestats.meta",
    "leave_one_out": "alliancestats.meta",
    "meta_analysis": "alliancestats.meta",
    "rank_test": "alliancestats.meta",
    "trim_and_fill": "alliancestats.meta",
    "MixedResult": "alliancestats.models",
    "gee": "alliancestats.models",
    "glmm": "alliancestats.models",
    "lmm": "alliancestats.models",
    "lrt": "alliancestats.models",
    "simulate_sessions": "alliancestats.simulate",
    "simulate_studies": "alliancestats.simulate",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from alliancestats.datasets import list_samples, read_sample  # noqa: F401
    from alliancestats.errors import (  # noqa: F401
        AllianceStatsWarning,
        ConvergenceWarning,
        DataValidationError,
        DroppedRowsWarning,
        SeparationWarning,
        SingularFitWarning,
    )
    from alliancestats.instruments import (  # noqa: F401
        clinical_significance,
        instruments,
        mcid_change,
        register_instrument,
        reliable_change,
        score,
    )
    from alliancestats.io import SessionData, load_sessions  # noqa: F401
    from alliancestats.meta import (  # noqa: F401
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
    from alliancestats.models import MixedResult, gee, glmm, lmm, lrt  # noqa: F401
    from alliancestats.simulate import simulate_sessions, simulate_studies  # noqa: F401


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
    "clinical_significance",
    "cumulative",
    "effect_sizes",
    "egger_test",
    "gee",
    "glmm",
    "influence",
    "instruments",
    "leave_one_out",
    "list_samples",
    "lmm",
    "load_sessions",
    "lrt",
    "mcid_change",
    "meta_analysis",
    "rank_test",
    "read_sample",
    "register_instrument",
    "reliable_change",
    "score",
    "simulate_sessions",
    "simulate_studies",
    "trim_and_fill",
]


class _Package(types.ModuleType):
    """The package module: a public function named like its subpackage (``instruments``)
    stays the function when the subpackage is imported (the import system would otherwise
    set the attribute to the subpackage)."""

    def __setattr__(self, name: str, value) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alliancestats' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
