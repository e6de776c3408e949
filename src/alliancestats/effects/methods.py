"""Thin ``MixedResult`` methods for the post-fit functions of :mod:`alliancestats.effects`.

The logic lives in the functions (:func:`~alliancestats.effects.tidy`,
:func:`~alliancestats.effects.glance`, :func:`~alliancestats.effects.apa`,
:func:`~alliancestats.effects.icc`, :func:`~alliancestats.effects.r2`); these methods let R
users write ``fit.tidy()`` as they would ``tidy(fit)``. They are attached when
``alliancestats`` is imported, unless the class already defines a method of that name.

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session + (1 | patient)", df)
>>> fit.tidy().equals(als.tidy(fit)) and fit.glance().equals(als.glance(fit))
True
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from alliancestats.effects.apa import apa
from alliancestats.effects.broom import glance, tidy
from alliancestats.effects.icc import IccResult, icc
from alliancestats.effects.r2 import R2Result, r2

__all__ = ["attach_methods"]


def _tidy(self: Any, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """broom.mixed-style parameter table; see :func:`alliancestats.effects.tidy`."""
    return tidy(self, *args, **kwargs)


def _glance(self: Any) -> pd.DataFrame:
    """broom.mixed-style one-row summary; see :func:`alliancestats.effects.glance`."""
    return glance(self)


def _apa(self: Any, **kwargs: Any) -> pd.Series:
    """APA sentence per fixed effect; see :func:`alliancestats.effects.apa`."""
    return apa(self, **kwargs)


def _icc(self: Any, by_level: bool = False) -> IccResult:
    """Intraclass correlations; see :func:`alliancestats.effects.icc`."""
    return icc(self, by_level=by_level)


def _r2(self: Any, **kwargs: Any) -> R2Result:
    """Marginal and conditional R²; see :func:`alliancestats.effects.r2`."""
    return r2(self, **kwargs)


def attach_methods(cls: type) -> None:
    """Add ``tidy, glance, apa, icc, r2`` to ``cls`` where it has no such attribute."""
    for name, fn in (("tidy", _tidy), ("glance", _glance), ("apa", _apa), ("icc", _icc),
                     ("r2", _r2)):
        if name not in cls.__dict__:
            fn.__name__ = name
            setattr(cls, name, fn)
