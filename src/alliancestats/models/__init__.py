"""Mixed models: lme4-style formulas, linear (``lmm``) and generalized (``glmm``) mixed models,
GEE, likelihood-ratio tests and the shared :class:`MixedResult`.

The layout of this subpackage is described on the documentation page "How the code is laid
out". Public names are imported on first use, so that importing the package does not load
statsmodels (for ``gee``) before it is needed.

Examples
--------
>>> from alliancestats.models import lmm, lrt, MixedResult
>>> callable(lmm) and callable(lrt)
True
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

_LAZY = {
    "MixedResult": "alliancestats.models.results",
    "gee": "alliancestats.models.gee",
    "glmm": "alliancestats.models.glmm",
    "lmm": "alliancestats.models.lmm",
    "lrt": "alliancestats.models.lrt",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from alliancestats.models.gee import gee  # noqa: F401
    from alliancestats.models.glmm import glmm  # noqa: F401
    from alliancestats.models.lmm import lmm  # noqa: F401
    from alliancestats.models.lrt import lrt  # noqa: F401
    from alliancestats.models.results import MixedResult  # noqa: F401

__all__ = ["MixedResult", "gee", "glmm", "lmm", "lrt"]


class _Package(types.ModuleType):
    """This package's module object: a public function survives the import of the
    same-named submodule.

    Importing ``alliancestats.models.glmm`` by name (``from alliancestats.models.glmm import
    GlmmResult``) makes the import system bind the submodule as the package attribute
    ``glmm``, which would hide the function ``glmm`` from every later
    ``from alliancestats.models import glmm`` (and ``alliancestats.glmm``).
    """

    def __setattr__(self, name: str, value: object) -> None:
        if (isinstance(value, types.ModuleType) and _LAZY.get(name) == value.__name__
                and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alliancestats.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
