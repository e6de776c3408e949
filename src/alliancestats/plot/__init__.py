"""Publication-ready figures. Every function takes ``ax=None`` and returns the Axes it drew on.

Examples
--------
>>> import alliancestats.plot as aplot
>>> callable(aplot.forest)
True
"""

from __future__ import annotations

from alliancestats.plot.baujat import baujat
from alliancestats.plot.caterpillar import caterpillar
from alliancestats.plot.diagnostics import (
    diagnostics,
    qq_ranef,
    qq_residuals,
    residuals_vs_fitted,
)
from alliancestats.plot.effects import effect_plot

# --- meta-analysis figures ---
from alliancestats.plot.forest import forest
from alliancestats.plot.funnel import funnel

# --- session-data figures ---
from alliancestats.plot.trajectories import trajectories

__all__ = [
    "baujat",
    "caterpillar",
    "diagnostics",
    "effect_plot",
    "forest",
    "funnel",
    "qq_ranef",
    "qq_residuals",
    "residuals_vs_fitted",
    "trajectories",
]
