"""Mixed models: lme4-style formulas, linear (``lmm``) and generalized (``glmm``) mixed models,
GEE, likelihood-ratio tests and the shared :class:`MixedResult`.

Examples
--------
>>> from alliancestats.models import lmm, lrt, MixedResult
>>> callable(lmm) and callable(lrt)
True
"""

from __future__ import annotations

from alliancestats.models.lmm import lmm
from alliancestats.models.results import MixedResult, lrt

# The GLMM and GEE engines belong to another module owner; until their modules exist the
# package must still import, so the names fall back to stubs that raise.
try:
    from alliancestats.models.glmm import glmm
except ImportError:  # pragma: no cover - temporary until glmm.py lands

    def glmm(*args, **kwargs):  # type: ignore[no-redef]
        """Generalized linear mixed model (not available yet)."""
        raise NotImplementedError("glmm is not implemented yet")


try:
    from alliancestats.models.gee import gee
except ImportError:  # pragma: no cover - temporary until gee.py lands

    def gee(*args, **kwargs):  # type: ignore[no-redef]
        """Generalized estimating equations (not available yet)."""
        raise NotImplementedError("gee is not implemented yet")


__all__ = ["MixedResult", "gee", "glmm", "lmm", "lrt"]
