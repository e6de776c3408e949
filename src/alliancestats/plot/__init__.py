"""Publication-ready figures. Every function takes ``ax=None`` and returns the Axes it drew on.

Examples
--------
>>> import alliancestats.plot as aplot
>>> callable(aplot.forest)
True
"""

from __future__ import annotations

from alliancestats.plot.baujat import baujat

# --- meta-analysis figures ---
from alliancestats.plot.bubble import bubble
from alliancestats.plot.forest import forest
from alliancestats.plot.funnel import funnel
from alliancestats.plot.gosh import gosh
from alliancestats.plot.labbe import labbe
from alliancestats.plot.radial import radial

# --- session-data figures ---
from alliancestats.plot.trajectories import trajectories

__all__ = ["baujat", "bubble", "forest", "funnel", "gosh", "labbe", "radial", "trajectories"]
