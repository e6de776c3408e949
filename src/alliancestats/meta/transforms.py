"""Back-transformations of pooled effects for reporting (Fisher z to r, log ratios to ratios).

Examples
--------
>>> import numpy as np
>>> f = resolve_transform("auto", "ZCOR")
>>> round(float(f(np.array(0.5))), 4)
0.4621
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from alliancestats.errors import MetaAnalysisError

__all__ = ["Transform", "resolve_transform"]

Transform = str | Callable[[np.ndarray], np.ndarray] | None

#: measures whose natural report scale is exp() of the analysis scale
LOG_RATIO_MEASURES = ("RR", "OR", "ROM", "IRR", "PETO", "MH_OR", "MH_RR")


def resolve_transform(
    transform: Transform, measure: str | None = None
) -> Callable[[np.ndarray], np.ndarray] | None:
    """Map a transform name to a function (``"auto"`` picks one from ``measure``).

    Parameters
    ----------
    transform : {None, "auto", "r", "z2r", "tanh", "exp", "none"} or callable
        ``"auto"`` gives ``tanh`` for ``measure="ZCOR"``/``"ZPCOR"``, ``exp`` for log ratios
        (RR, OR, ROM, IRR) and nothing otherwise.
    measure : str, optional
        Effect-size measure of the model.

    Returns
    -------
    callable or None

    Examples
    --------
    >>> resolve_transform("auto", "GEN") is None
    True
    >>> resolve_transform("exp") is np.exp
    True
    """
    if transform is None:
        return None
    if callable(transform):
        return transform
    name = str(transform).lower()
    if name == "auto":
        m = (measure or "GEN").upper()
        if m in ("ZCOR", "ZPCOR"):
            return np.tanh
        if m in LOG_RATIO_MEASURES:
            return np.exp
        return None
    if name in ("r", "z2r", "tanh"):
        return np.tanh
    if name == "exp":
        return np.exp
    if name in ("none", "identity"):
        return None
    raise MetaAnalysisError(
        f"Unknown transform {transform!r}; use 'r' (Fisher z to r), 'exp', 'auto' or a function."
    )
