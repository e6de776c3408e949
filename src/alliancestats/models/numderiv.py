"""Richardson-extrapolated finite differences (the scheme of R's numDeriv, Gilbert & Varadhan).

lmerTest computes its Satterthwaite degrees of freedom from a numerical Hessian and Jacobian
obtained this way; using the same step rules (relative step ``d = 1e-4``, absolute ``eps =
1e-4`` near zero, four halvings, Richardson extrapolation) keeps our degrees of freedom
comparable to lmerTest's to many digits.

Examples
--------
>>> import numpy as np
>>> from alliancestats.models.numderiv import hessian, jacobian
>>> h = hessian(lambda x: x[0] ** 2 * x[1] + np.exp(x[1]), np.array([1.0, 0.0]))
>>> np.round(h, 6).tolist()
[[0.0, 2.0], [2.0, 1.0]]
>>> np.round(jacobian(lambda x: np.array([x[0] * x[1], x[1]]), np.array([2.0, 3.0])), 6).tolist()
[[3.0, 2.0], [0.0, 1.0]]
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["hessian", "jacobian"]

_ZERO_TOL = np.sqrt(np.finfo(float).eps / 7e-7)


def _steps(x: np.ndarray, d: float, eps: float) -> np.ndarray:
    return np.abs(d * x) + eps * (np.abs(x) < _ZERO_TOL)


def _richardson(approx: list) -> object:
    a = list(approx)
    r = len(a)
    for m in range(1, r):
        for k in range(r - m):
            a[k] = (a[k + 1] * 4.0**m - a[k]) / (4.0**m - 1.0)
    return a[0]


def jacobian(
    func: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    *,
    d: float = 1e-4,
    eps: float = 1e-4,
    r: int = 4,
) -> np.ndarray:
    """Jacobian of a vector function by central differences with Richardson extrapolation.

    Returns an array of shape ``(len(func(x)), len(x))``.
    """
    x = np.asarray(x, dtype=float)
    f0 = np.atleast_1d(np.asarray(func(x), dtype=float))
    h0 = _steps(x, d, eps)
    out = np.empty((f0.size, x.size))
    for i in range(x.size):
        h = h0.copy()
        approx = []
        for _ in range(r):
            e = np.zeros_like(x)
            e[i] = h[i]
            f1 = np.atleast_1d(np.asarray(func(x + e), dtype=float)).ravel()
            f2 = np.atleast_1d(np.asarray(func(x - e), dtype=float)).ravel()
            approx.append((f1 - f2) / (2.0 * h[i]))
            h = h / 2.0
        out[:, i] = _richardson(approx)
    return out


def hessian(
    func: Callable[[np.ndarray], float],
    x: np.ndarray,
    *,
    d: float = 1e-4,
    eps: float = 1e-4,
    r: int = 4,
) -> np.ndarray:
    """Hessian of a scalar function (numDeriv's ``genD`` scheme)."""
    x = np.asarray(x, dtype=float)
    n = x.size
    f0 = float(func(x))
    h0 = _steps(x, d, eps)
    hdiag = np.empty(n)
    for i in range(n):
        h = h0.copy()
        approx = []
        for _ in range(r):
            e = np.zeros(n)
            e[i] = h[i]
            approx.append((float(func(x + e)) - 2.0 * f0 + float(func(x - e))) / h[i] ** 2)
            h = h / 2.0
        hdiag[i] = _richardson(approx)
    H = np.diag(hdiag)
    for i in range(n):
        for j in range(i):
            h = h0.copy()
            approx = []
            for _ in range(r):
                e = np.zeros(n)
                e[i] = h[i]
                e[j] = h[j]
                f1 = float(func(x + e))
                f2 = float(func(x - e))
                approx.append(
                    (f1 - 2.0 * f0 + f2 - hdiag[i] * h[i] ** 2 - hdiag[j] * h[j] ** 2)
                    / (2.0 * h[i] * h[j])
                )
                h = h / 2.0
            H[i, j] = H[j, i] = _richardson(approx)
    return H
