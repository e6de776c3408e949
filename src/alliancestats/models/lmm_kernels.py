"""Compiled kernel of the LMM criterion for one or two nested random-effects terms.

The profiled criterion on per-group sufficient statistics (:mod:`.lmm_core`) costs O(groups)
per evaluation, but in vectorised numpy each evaluation still runs some fifty array
operations on tiny blocks, about 0.4 ms whatever the data size. A fit needs a few hundred
evaluations and the Satterthwaite df a few hundred more, and a simulation-based power
analysis refits the model thousands of times, so that fixed cost dominates. This module
compiles the same block elimination with numba (one loop over patients, one over
therapists, Cholesky factors of the small blocks written out), which brings an
evaluation of the criterion for 400 patients to a few microseconds.

Covered: one term (``(1 + x | patient)``), two strictly nested terms (sessions in patients
in therapists), and the pair sums of crossed random intercepts. Other designs use the numpy
paths of :class:`~.lmm_core.LmmProblem`.
Without numba installed, everything falls back to those paths.

Examples
--------
>>> import numpy as np
>>> k = nested_kernel()
>>> k is None or callable(k)
True
"""

from __future__ import annotations

from functools import cache

import numpy as np

__all__ = [
    "crossed_kernel",
    "gradient_kernel",
    "group_first",
    "nested_criterion",
    "nested_deviance_parts",
    "nested_kernel",
]


@cache
def gradient_kernel():
    """Compiled exact gradient of the nested-path criterion, or None without numba."""
    try:
        from alliancestats.models.lmm_gradient_kernel import gradient
    except ImportError:  # pragma: no cover - numba is a declared dependency
        return None
    return gradient


@cache
def crossed_kernel():
    """Compiled pair sums for crossed scalar terms, or None without numba."""
    try:
        from alliancestats.models.lmm_criterion_kernel import crossed_sums
    except ImportError:  # pragma: no cover - numba is a declared dependency
        return None
    return crossed_sums


@cache
def _compiled():
    try:
        from alliancestats.models.lmm_criterion_kernel import criterion, deviance_parts, kernel
    except ImportError:  # pragma: no cover - numba is a declared dependency
        return None, None, None
    return kernel, criterion, deviance_parts


def nested_kernel():
    """The compiled kernel, or None when numba is not available."""
    return _compiled()[0]


def nested_criterion():
    """The compiled criterion on top of :func:`nested_kernel`, or None without numba."""
    return _compiled()[1]


def nested_deviance_parts():
    """Compiled log determinants, r^2 and unscaled Var(beta), or None without numba."""
    return _compiled()[2]


def group_first(a: np.ndarray) -> np.ndarray:
    """(q1, q2, n) component-first blocks as contiguous (n, q1, q2)."""
    return np.ascontiguousarray(np.moveaxis(a, 2, 0))
