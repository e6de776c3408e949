"""Effect sizes from means, change scores and regression results (metafor ``escalc``).

=========  =================================================================================
``MD``     raw mean difference, variance ``sd1²/n1 + sd2²/n2``
``SMD``    Hedges' g: ``c(m)·(m1 − m2)/s_pooled`` with the exact correction
           ``c(m) = Γ(m/2) / (√(m/2) Γ((m−1)/2))``, ``m = n1 + n2 − 2`` (Hedges 1981); variance
           ``1/n1 + 1/n2 + g²/(2(n1 + n2))``; also from a given d or t statistic
``SMDH``   heteroscedastic SMD: ``c(m)·(m1 − m2)/√((sd1² + sd2²)/2)`` (Bonett 2009)
``ROM``    log ratio of means, variance ``sd1²/(n1 m1²) + sd2²/(n2 m2²)``
``MC``     raw mean change ``m1 − m2`` (e.g. post − pre), variance
           ``(sd1² + sd2² − 2 r sd1 sd2)/n``
``SMCC``   standardised mean change with change-score standardisation (Gibbons et al. 1993)
``SMCR``   standardised mean change with raw-score (pre-test SD) standardisation
           (Becker 1988), variance ``2(1 − r)/n + g²/(2n)``
``PCOR``   partial correlation from a t statistic: ``t/√(t² + n − m − 1)``
``ZPCOR``  its Fisher z, variance ``1/(n − m − 1)``
``SPCOR``  semi-partial correlation ``t √(1 − R²)/√(n − m − 1)`` (Aloe & Becker 2012)
=========  =================================================================================

``m`` in the partial correlations is the number of predictors of the regression model, ``R²``
its coefficient of determination. Variances are metafor's default ``vtype="LS"`` forms.
"""

from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from alliancestats.errors import MetaAnalysisError

__all__ = [
    "CONTINUOUS_MEASURES",
    "change_scores",
    "hedges_correction",
    "mean_differences",
    "partial_correlations",
]

MEAN_MEASURES = ("MD", "SMD", "SMDH", "ROM")
CHANGE_MEASURES = ("MC", "SMCC", "SMCR")
PARTIAL_MEASURES = ("PCOR", "ZPCOR", "SPCOR")
#: measures computed from means, change scores or regression t statistics
CONTINUOUS_MEASURES = MEAN_MEASURES + CHANGE_MEASURES + PARTIAL_MEASURES


def hedges_correction(m: np.ndarray) -> np.ndarray:
    """Exact small-sample correction ``c(m)`` of the standardised mean difference (Hedges 1981).

    Examples
    --------
    >>> import numpy as np
    >>> round(float(hedges_correction(np.array(18.0))), 6)
    0.957646
    """
    m = np.asarray(m, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.exp(gammaln(m / 2) - np.log(np.sqrt(m / 2)) - gammaln((m - 1) / 2))
    return np.where(m > 1, value, np.nan)


def _check_sizes(**sizes: np.ndarray | None) -> None:
    for name, values in sizes.items():
        if values is not None and np.any(values[~np.isnan(values)] <= 0):
            raise MetaAnalysisError(f"{name} must be positive.")


def _check_sds(**sds: np.ndarray | None) -> None:
    for name, values in sds.items():
        if values is not None and np.any(values[~np.isnan(values)] < 0):
            raise MetaAnalysisError(f"{name} must be non-negative (standard deviations).")


def mean_differences(
    measure: str,
    m1i: np.ndarray | None,
    m2i: np.ndarray | None,
    sd1i: np.ndarray | None,
    sd2i: np.ndarray | None,
    n1i: np.ndarray,
    n2i: np.ndarray,
    d: np.ndarray | None = None,
    t: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``yi, vi`` for two independent groups; SMD may come from ``d`` or ``t`` instead of means.

    Examples
    --------
    >>> import numpy as np
    >>> y, v = mean_differences("SMD", np.array([10.]), np.array([8.]), np.array([4.]),
    ...                         np.array([4.]), np.array([20.]), np.array([20.]))
    >>> round(float(y[0]), 4), round(float(v[0]), 4)
    (0.49, 0.103)
    """
    _check_sizes(n1i=n1i, n2i=n2i)
    _check_sds(sd1i=sd1i, sd2i=sd2i)
    n = n1i + n2i
    m = n - 2
    if measure == "SMD":
        given = None if d is None else d.copy()
        if t is not None:
            from_t = t * np.sqrt(1 / n1i + 1 / n2i)
            given = from_t if given is None else np.where(np.isnan(given), from_t, given)
        raw = np.full(len(n), np.nan)
        if m1i is not None:
            pooled = np.sqrt(((n1i - 1) * sd1i**2 + (n2i - 1) * sd2i**2) / m)
            raw = (m1i - m2i) / pooled
        if given is not None:
            raw = np.where(np.isnan(given), raw, given)
        g = hedges_correction(m) * raw
        return g, 1 / n1i + 1 / n2i + g**2 / (2 * n)
    if m1i is None or m2i is None or sd1i is None or sd2i is None:
        raise MetaAnalysisError(f"measure={measure!r} needs m1i, m2i, sd1i, sd2i, n1i and n2i.")
    if measure == "MD":
        return m1i - m2i, sd1i**2 / n1i + sd2i**2 / n2i
    if measure == "SMDH":
        c = hedges_correction(m)
        s2 = sd1i**2 + sd2i**2
        y = c * (m1i - m2i) / np.sqrt(s2 / 2)
        v = y**2 * (sd1i**4 / (n1i - 1) + sd2i**4 / (n2i - 1)) / (2 * s2**2) + (
            sd1i**2 / (n1i - 1) + sd2i**2 / (n2i - 1)
        ) / (s2 / 2)
        return y, c**2 * v
    with np.errstate(divide="ignore", invalid="ignore"):  # ROM
        return np.log(m1i / m2i), sd1i**2 / (n1i * m1i**2) + sd2i**2 / (n2i * m2i**2)


def change_scores(
    measure: str,
    m1i: np.ndarray,
    m2i: np.ndarray,
    sd1i: np.ndarray,
    sd2i: np.ndarray | None,
    ri: np.ndarray,
    ni: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``yi, vi`` of a mean change in one group (``m1i`` e.g. post, ``m2i`` pre, correlation ``ri``).

    SMCR standardises by ``sd1i`` (give the pre-test SD there, as metafor); MC and SMCC need
    both SDs.

    Examples
    --------
    >>> import numpy as np
    >>> y, v = change_scores("MC", np.array([12.]), np.array([10.]), np.array([3.]),
    ...                      np.array([3.]), np.array([0.5]), np.array([25.]))
    >>> float(y[0]), round(float(v[0]), 4)
    (2.0, 0.36)
    """
    _check_sizes(ni=ni)
    _check_sds(sd1i=sd1i, sd2i=sd2i)
    if np.any(np.abs(ri[~np.isnan(ri)]) > 1):
        raise MetaAnalysisError("ri (pre-post correlations) must lie between -1 and 1.")
    c = hedges_correction(ni - 1)
    if measure == "SMCR":
        y = c * (m1i - m2i) / sd1i
        return y, 2 * (1 - ri) / ni + y**2 / (2 * ni)
    if sd2i is None:
        raise MetaAnalysisError(f"measure={measure!r} needs both sd1i and sd2i.")
    var_change = sd1i**2 + sd2i**2 - 2 * ri * sd1i * sd2i
    if measure == "MC":
        return m1i - m2i, var_change / ni
    y = c * (m1i - m2i) / np.sqrt(var_change)  # SMCC
    return y, 1 / ni + y**2 / (2 * ni)


def partial_correlations(
    measure: str, ti: np.ndarray, ni: np.ndarray, mi: np.ndarray, r2i: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``yi, vi`` of a (semi-)partial correlation from a regression coefficient's t statistic.

    Examples
    --------
    >>> import numpy as np
    >>> y, v = partial_correlations("PCOR", np.array([2.5]), np.array([100.]), np.array([3.]))
    >>> round(float(y[0]), 4), round(float(v[0]), 5)
    (0.2472, 0.00918)
    """
    _check_sizes(ni=ni)
    if np.any(mi[~np.isnan(mi)] < 0):
        raise MetaAnalysisError("mi (number of predictors) must be non-negative.")
    df = ni - mi - 1
    if np.any(df[~np.isnan(df)] <= 0):
        raise MetaAnalysisError("ni - mi - 1 must be positive (more cases than predictors).")
    if measure in ("PCOR", "ZPCOR"):
        r = ti / np.sqrt(ti**2 + df)
        if measure == "PCOR":
            return r, (1 - r**2) ** 2 / df
        return np.arctanh(r), 1 / df
    if r2i is None:
        raise MetaAnalysisError("measure='SPCOR' needs r2i (the model's R²).")
    if np.any((r2i < 0) | (r2i > 1)):
        raise MetaAnalysisError("r2i must lie between 0 and 1.")
    r = ti * np.sqrt(1 - r2i) / np.sqrt(df)
    return r, (r2i**2 - 2 * r2i + (r2i - r**2) + 1 - (r2i - r**2) ** 2) / ni
