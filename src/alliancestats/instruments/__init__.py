"""Instrument registry, scoring, reliable change and clinically important difference.

- :mod:`.registry`: :class:`Instrument`, :func:`get_instrument`, :func:`register_instrument`,
  :func:`instruments` (the registry as a tidy table).
- :mod:`.definitions`: the built-in instruments (structure and keys only, no item wording).
- :mod:`.scoring`: :func:`score` and :func:`check_items`.
- :mod:`.change`: :func:`reliable_change`, :func:`clinical_significance`,
  :func:`clinical_cutoffs`, :func:`mcid_change`.

Import from this subpackage with ``from alliancestats.instruments import score``: the
top-level package re-exports the function :func:`instruments`, which shadows the subpackage
as an attribute of ``alliancestats``.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.instruments import score
>>> score("quickdash", pd.DataFrame([[2] * 10 + [None]]))["total"].tolist()
[25.0]
"""

from alliancestats.instruments.change import (
    clinical_cutoffs,
    clinical_significance,
    mcid_change,
    reliable_change,
)
from alliancestats.instruments.registry import (
    Instrument,
    get_instrument,
    instruments,
    register_instrument,
    unregister_instrument,
)
from alliancestats.instruments.scoring import UnverifiedKeyWarning, check_items, score

__all__ = [
    "Instrument",
    "UnverifiedKeyWarning",
    "check_items",
    "clinical_cutoffs",
    "clinical_significance",
    "get_instrument",
    "instruments",
    "mcid_change",
    "register_instrument",
    "reliable_change",
    "score",
    "unregister_instrument",
]
