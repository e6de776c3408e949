"""Publication-ready figures. Every function takes ``ax=None`` and returns the Axes it drew on.

Figure families: meta-analysis (``forest``, ``funnel``, ``baujat``, ``bubble``, ``gosh``,
``labbe``, ``pcurve``, ``radial``), session data (``trajectories``), events over sessions
(``event_series``, ``event_panels``, ``event_profile``, ``event_sessions``) and fitted models
(``effect_plot``, ``caterpillar``, ``diagnostics``, ``residuals_vs_fitted``, ``qq_residuals``,
``qq_ranef``), routine outcome monitoring (``feedback_chart``, ``signal_overview``). One
house style: ``apply_style(figure, "apa")`` resizes a drawn figure for a journal
(``STYLES``: APA, single/one-and-a-half/double column) and ``figure_style()`` keeps saved
SVG/PDF text editable.

Examples
--------
>>> import alliancestats.plot as aplot
>>> callable(aplot.forest)
True
"""

from __future__ import annotations

from alliancestats.plot._style import STYLES, apply_style, figure_style
from alliancestats.plot.baujat import baujat
from alliancestats.plot.bubble import bubble
from alliancestats.plot.caterpillar import caterpillar
from alliancestats.plot.diagnostics import (
    diagnostics,
    qq_ranef,
    qq_residuals,
    residuals_vs_fitted,
)
from alliancestats.plot.effects import effect_plot
from alliancestats.plot.event_series import event_panels, event_series
from alliancestats.plot.event_summary import event_profile, event_sessions
from alliancestats.plot.feedback import feedback_chart, signal_overview
from alliancestats.plot.forest import forest
from alliancestats.plot.funnel import funnel
from alliancestats.plot.gosh import gosh
from alliancestats.plot.labbe import labbe
from alliancestats.plot.pcurve import pcurve
from alliancestats.plot.radial import radial
from alliancestats.plot.trajectories import trajectories, trajectory_panels

__all__ = [
    "STYLES",
    "apply_style",
    "baujat",
    "bubble",
    "caterpillar",
    "diagnostics",
    "effect_plot",
    "event_panels",
    "event_profile",
    "event_series",
    "event_sessions",
    "feedback_chart",
    "figure_style",
    "forest",
    "funnel",
    "gosh",
    "labbe",
    "pcurve",
    "qq_ranef",
    "qq_residuals",
    "radial",
    "residuals_vs_fitted",
    "signal_overview",
    "trajectories",
    "trajectory_panels",
]
