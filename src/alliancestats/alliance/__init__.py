"""Alliance over time: level decompositions, lags, sudden gains and losses, ruptures.

* :func:`within_between`, :func:`therapist_patient`, :func:`lagged` -- derived predictors
  for multilevel models (in :mod:`.decompose`);
* :func:`sudden_gains`, :func:`sudden_losses`, :func:`rci_cutoff`, :func:`select_cases` --
  sudden changes in session-by-session scores (Tang & DeRubeis 1999), with the rules of the R
  package suddengains on long data (:mod:`.sudden`, :mod:`.reliable`, :mod:`.select`);
* :func:`ruptures`, :func:`rupture_patterns` -- alliance rupture-repair detectors after the
  published rules (:mod:`.ruptures`); ``rupture_overview`` in :mod:`.rupture_overview` (imported
  on its own, as it draws figures) collects the tables and figures of a report section.

The event functions are also at the top level (``als.sudden_gains``, ``als.ruptures``, ...).

Examples
--------
>>> from alliancestats.alliance import lagged, therapist_patient, within_between
>>> callable(within_between) and callable(therapist_patient) and callable(lagged)
True
"""

from __future__ import annotations

from alliancestats.alliance.decompose import lagged, therapist_patient, within_between
from alliancestats.alliance.reliable import RciCutoff, rci_cutoff
from alliancestats.alliance.rupture_patterns import rupture_patterns
from alliancestats.alliance.ruptures import ruptures
from alliancestats.alliance.select import select_cases
from alliancestats.alliance.sudden import sudden_gains, sudden_losses
from alliancestats.alliance.sudden_result import SuddenChangeResult

__all__ = [
    "RciCutoff",
    "SuddenChangeResult",
    "lagged",
    "rci_cutoff",
    "rupture_patterns",
    "ruptures",
    "select_cases",
    "sudden_gains",
    "sudden_losses",
    "therapist_patient",
    "within_between",
]
