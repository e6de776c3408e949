"""Effect sizes from counts: 2×2 tables, single proportions and incidence rates (metafor ``escalc``).

=========  =================================================================================
``RR``     log risk ratio ``ln(p1/p2)``, variance ``1/a − 1/n1 + 1/c − 1/n2``
``OR``     log odds ratio, variance ``1/a + 1/b + 1/c + 1/d``
``RD``     risk difference ``p1 − p2``, variance ``p1(1−p1)/n1 + p2(1−p2)/n2``
``PETO``   Peto's log odds ratio ``(a − E)/V`` with hypergeometric mean and variance
``PR``     raw proportion ``x/n``, variance ``p(1−p)/n``
``PLN``    log proportion, variance ``1/x − 1/n``
``PLO``    logit proportion, variance ``1/x + 1/(n − x)``
``PAS``    arcsine square-root proportion ``asin(√p)``, variance ``1/(4n)``
``PFT``    Freeman-Tukey double arcsine, variance ``1/(4n + 2)``
``IR``     incidence rate ``x/t``, variance ``x/t²``
``IRLN``   log incidence rate, variance ``1/x``
``IRR``    log incidence rate ratio, variance ``1/x1 + 1/x2``
``IRD``    incidence rate difference, variance ``x1/t1² + x2/t2²``
=========  =================================================================================

Zero cells: ``add`` (default 1/2; 0 for PAS and PFT, which need none) is added to the cells
of tables with a zero cell (``to="only0"``), to every table (``"all"``), to every table when
any has a zero (``"if0all"``) or never (``"none"``), as in metafor (Peto's method included). References: Fleiss & Berlin (2009) in
Cooper, Hedges & Valentine (Eds.), *The Handbook of Research Synthesis*, ch. 13; Freeman &
Tukey (1950, Ann Math Stat 21(4)); Yusuf et al. (1985, Prog Cardiovasc Dis 27(5)) for Peto.
"""

from __future__ import annotations

import numpy as np

from alliancestats.errors import MetaAnalysisError

__all__ = ["COUNT_MEASURES", "incidence_rates", "proportions", "two_by_two"]

TABLE_MEASURES = ("RR", "OR", "RD", "PETO")
PROPORTION_MEASURES = ("PR", "PLN", "PLO", "PAS", "PFT")
RATE_MEASURES = ("IR", "IRLN", "IRR", "IRD")
#: measures computed from counts
COUNT_MEASURES = TABLE_MEASURES + PROPORTION_MEASURES + RATE_MEASURES
_TO = ("only0", "all", "if0all", "none")


def _continuity(cells: list[np.ndarray], add: float, to: str) -> list[np.ndarray]:
    """Add ``add`` to the cells as metafor's ``to=`` rule says."""
    if to not in _TO:
        raise MetaAnalysisError(f"to must be one of {', '.join(_TO)}; got {to!r}.")
    zero = np.any(np.column_stack(cells) == 0, axis=1)
    if to == "all" or (to == "if0all" and zero.any()):
        return [c + add for c in cells]
    if to == "only0":
        return [c + add * zero for c in cells]
    return cells


def _nonnegative(arrays: dict[str, np.ndarray]) -> None:
    for name, values in arrays.items():
        if np.any(values[~np.isnan(values)] < 0):
            raise MetaAnalysisError(f"{name} must be non-negative counts.")


def two_by_two(
    measure: str,
    ai: np.ndarray,
    bi: np.ndarray,
    ci: np.ndarray,
    di: np.ndarray,
    add: float = 0.5,
    to: str = "only0",
) -> tuple[np.ndarray, np.ndarray]:
    """``yi, vi`` of a 2×2 table measure (treated events ``ai``, non-events ``bi``; control ``ci``, ``di``).

    Examples
    --------
    >>> import numpy as np
    >>> y, v = two_by_two("RD", np.array([10.]), np.array([90.]), np.array([20.]), np.array([80.]))
    >>> round(float(y[0]), 2), round(float(v[0]), 4)
    (-0.1, 0.0025)
    """
    _nonnegative({"ai": ai, "bi": bi, "ci": ci, "di": di})
    a, b, c, d = _continuity([ai, bi, ci, di], add, to)
    n1, n2 = a + b, c + d
    if measure == "PETO":
        n = n1 + n2
        events = a + c
        Vh = events * (b + d) * (n1 / n) * (n2 / n) / (n - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (a - events * n1 / n) / Vh, 1.0 / Vh
    p1, p2 = a / n1, c / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RR":
            return np.log(p1) - np.log(p2), 1 / a - 1 / n1 + 1 / c - 1 / n2
        if measure == "OR":
            return np.log(p1 / (1 - p1)) - np.log(p2 / (1 - p2)), 1 / a + 1 / b + 1 / c + 1 / d
        return p1 - p2, p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2


def proportions(
    measure: str, xi: np.ndarray, ni: np.ndarray, add: float = 0.5, to: str = "only0"
) -> tuple[np.ndarray, np.ndarray]:
    """``yi, vi`` of a single-group proportion (``xi`` events out of ``ni``).

    Examples
    --------
    >>> import numpy as np
    >>> y, v = proportions("PLO", np.array([20.]), np.array([100.]))
    >>> round(float(y[0]), 4), round(float(v[0]), 4)
    (-1.3863, 0.0625)
    """
    _nonnegative({"xi": xi, "ni": ni})
    if np.any(xi > ni):
        raise MetaAnalysisError("xi (events) cannot exceed ni (sample size).")
    x, m = _continuity([xi, ni - xi], add, to)
    n = x + m
    p = x / n
    if measure == "PFT":
        half = np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1)))
        return 0.5 * half, 1.0 / (4 * n + 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "PR":
            return p, p * (1 - p) / n
        if measure == "PLN":
            return np.log(p), 1 / x - 1 / n
        if measure == "PLO":
            return np.log(p / (1 - p)), 1 / x + 1 / m
        return np.arcsin(np.sqrt(p)), 1.0 / (4 * n)  # PAS


def incidence_rates(
    measure: str,
    x1i: np.ndarray,
    t1i: np.ndarray,
    x2i: np.ndarray | None = None,
    t2i: np.ndarray | None = None,
    add: float = 0.5,
    to: str = "only0",
) -> tuple[np.ndarray, np.ndarray]:
    """``yi, vi`` of incidence rates (events ``x`` over person-time ``t``; two groups for IRR/IRD).

    Examples
    --------
    >>> import numpy as np
    >>> y, v = incidence_rates("IRLN", np.array([25.]), np.array([1000.]))
    >>> round(float(y[0]), 4), round(float(v[0]), 4)
    (-3.6889, 0.04)
    """
    _nonnegative({"events": x1i})
    if np.any(t1i[~np.isnan(t1i)] <= 0) or (t2i is not None and np.any(t2i[~np.isnan(t2i)] <= 0)):
        raise MetaAnalysisError("Person-times must be positive.")
    if measure in ("IR", "IRLN"):
        (x,) = _continuity([x1i], add, to)
        rate = x / t1i
        with np.errstate(divide="ignore"):
            return (rate, rate / t1i) if measure == "IR" else (np.log(rate), 1.0 / x)
    if x2i is None or t2i is None:
        raise MetaAnalysisError(f"measure={measure!r} needs x1i, t1i, x2i and t2i.")
    _nonnegative({"x2i": x2i})
    x1, x2 = _continuity([x1i, x2i], add, to)
    r1, r2 = x1 / t1i, x2 / t2i
    with np.errstate(divide="ignore"):
        if measure == "IRR":
            return np.log(r1) - np.log(r2), 1 / x1 + 1 / x2
    return r1 - r2, r1 / t1i + r2 / t2i
