"""Publication-ready figures. Every function takes ``ax=None`` and returns the Axes it drew on.

Examples
--------
>>> import alliancestats.plot as aplot
>>> callable(aplot.forest)
True
"""

from __future__ import annotations

# meta-analysis figures: baujat, forest, funnel; session-data figures: event_*, trajectories
from alliancestats.plot.baujat import baujat
from alliancestats.plot.event_series import event_panels, event_series
from alliancestats.plot.event_summary import event_profile, event_sessions
from alliancestats.plot.forest import forest
from alliancestats.plot.funnel import funnel
from alliancestats.plot.trajectories import trajectories

__all__ = [
    "baujat",
    "event_panels",
    "event_profile",
    "event_series",
    "event_sessions",
    "forest",
    "funnel",
    "trajectories",
]
