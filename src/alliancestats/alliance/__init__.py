"""Alliance-specific analysis helpers: within/between and therapist/patient decompositions, lags.

Import from here (these names are not re-exported at the top level)::

    from alliancestats.alliance import within_between, therapist_patient, lagged

Examples
--------
>>> from alliancestats.alliance import lagged, therapist_patient, within_between
>>> callable(within_between) and callable(therapist_patient) and callable(lagged)
True
"""

from __future__ import annotations

from alliancestats.alliance.decompose import lagged, therapist_patient, within_between

__all__ = ["lagged", "therapist_patient", "within_between"]
