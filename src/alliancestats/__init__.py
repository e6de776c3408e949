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

# Public names by the module that defines them. They are imported on first use (PEP 562), so
# that "import alliancestats" stays fast: scipy, statsmodels, pyarrow and formulaic load only
# when a function that needs them is called. A new public name is added here only.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "alliancestats.alliance": (
        "rci_cutoff",
        "rupture_patterns",
        "ruptures",
        "select_cases",
        "sudden_gains",
        "sudden_losses",
    ),
    "alliancestats.datasets": ("list_samples", "read_sample"),
    "alliancestats.effects": (
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
        "within_between_alpha",
    ),
    "alliancestats.errors": (
        "AllianceStatsWarning",
        "ConfigError",
        "ConvergenceWarning",
        "DataValidationError",
        "DroppedRowsWarning",
        "FileFormatError",
        "SeparationWarning",
        "SingularFitWarning",
    ),
    "alliancestats.instruments": (
        "clinical_significance",
        "instruments",
        "mcid_change",
        "register_instrument",
        "reliable_change",
        "score",
    ),
    "alliancestats.io": ("SessionData", "load_sessions"),
    "alliancestats.meta": (
        "MetaResult",
        "blup",
        "cumulative",
        "effect_sizes",
        "egger_test",
        "fail_safe_n",
        "influence",
        "leave_one_out",
        "mantel_haenszel",
        "meta_analysis",
        "meta_lrt",
        "pcurve",
        "pet_peese",
        "peto",
        "puniform",
        "ranef",
        "rank_test",
        "selection_model",
        "trim_and_fill",
    ),
    "alliancestats.models": ("MixedResult", "gee", "glmm", "lmm", "lrt"),
    "alliancestats.models.all_fit": ("all_fit",),
    "alliancestats.models.control": ("Control",),
    "alliancestats.monitoring": (
        "ExpectedResponse",
        "evaluate_signals",
        "expected_response",
        "monitor",
    ),
    "alliancestats.panel": (
        "PanelResult",
        "clpm",
        "dynamic_panel",
        "nickell_bias",
        "riclpm",
        "simulate_riclpm",
    ),
    "alliancestats.power": (
        "longitudinal_power",
        "power_curve",
        "power_simulation",
        "weibull_dropout",
    ),
    "alliancestats.simulate": ("simulate_sessions", "simulate_studies"),
}

_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}

__version__ = "0.1.0"

__all__ = sorted(_LAZY)


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
