"""Conversions between effect-size metrics (explicit: nothing converts d to r behind your back).

Fisher's z, d ↔ r (Borenstein, Hedges, Higgins & Rothstein 2009, *Introduction to
Meta-Analysis*, ch. 7; Jacobs & Viechtbauer 2017), t, F(1, df) and χ²(1) → r (Rosenthal 1991),
odds ratio → d (Hasselblad & Hedges 1995) and standardised β → r (Peterson & Brown 2005,
J Appl Psychol 90(1)).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import ApproximationWarning, MetaAnalysisError

__all__ = [
    "beta_to_r",
    "chi2_to_r",
    "d_to_r",
    "f_to_r",
    "odds_ratio_to_d",
    "r_to_d",
    "r_to_z",
    "t_to_r",
    "z_to_r",
]

ArrayLike = Sequence[float] | np.ndarray | pd.Series | float


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def r_to_z(r: ArrayLike) -> np.ndarray:
    """Fisher's z transformation ``atanh(r)``.

    Parameters
    ----------
    r : float or array-like
        Correlations in (-1, 1).

    Returns
    -------
    numpy.ndarray
        ``0.5 · ln((1 + r) / (1 − r))`` (Fisher 1921), whose sampling variance is close to
        ``1 / (n − 3)``.

    Notes
    -----
    Checked against the closed form (1e-12 relative);
    round trip with :func:`z_to_r`.

    Examples
    --------
    >>> round(float(r_to_z(0.5)), 6)
    0.549306
    """
    return np.arctanh(_arr(r))


def z_to_r(z: ArrayLike) -> np.ndarray:
    """Back-transform Fisher z to r (``tanh``), metafor's ``transf.ztor``.

    Parameters
    ----------
    z : float or array-like
        Values on the Fisher z scale.

    Returns
    -------
    numpy.ndarray
        Correlations ``tanh(z)``.

    Notes
    -----
    Inverse of :func:`r_to_z` (Fisher 1921); checked against the closed
    form (1e-12 relative).

    Examples
    --------
    >>> round(float(z_to_r(0.549306)), 5)
    0.5
    """
    return np.tanh(_arr(z))


def _group_factor(
    n1: ArrayLike | None, n2: ArrayLike | None, method: str = "borenstein"
) -> np.ndarray | float:
    """The constant ``a`` of the d-r conversions; 4 when group sizes are unknown (equal groups).

    ``"borenstein"``: ``(n1 + n2)²/(n1 n2)`` (Borenstein et al. 2009, eq. 7.5);
    ``"jacobs"``: ``m/n1 + m/n2`` with ``m = n1 + n2 − 2`` (Jacobs & Viechtbauer 2017, Res Synth
    Methods 8(2); metafor's ``transf.dtorpb``).
    """
    if method not in ("borenstein", "jacobs"):
        raise MetaAnalysisError(f"method must be 'borenstein' or 'jacobs', not {method!r}.")
    if n1 is None or n2 is None:
        return 4.0
    a1, a2 = _arr(n1), _arr(n2)
    if method == "jacobs":
        m = a1 + a2 - 2
        return m / a1 + m / a2
    return (a1 + a2) ** 2 / (a1 * a2)


def d_to_r(
    d: ArrayLike,
    n1: ArrayLike | None = None,
    n2: ArrayLike | None = None,
    *,
    method: str = "borenstein",
) -> np.ndarray:
    """Convert a standardised mean difference to a (point-biserial) correlation.

    ``r = d / sqrt(d² + a)`` with ``a = (n1 + n2)² / (n1 n2)`` (``a = 4`` for equal or unknown
    group sizes; Borenstein et al. 2009, eq. 7.5), or with ``method="jacobs"``
    ``a = m/n1 + m/n2``, ``m = n1 + n2 − 2`` (Jacobs & Viechtbauer 2017), which is metafor's
    ``transf.dtorpb``.

    Parameters
    ----------
    d : float or array-like
        Standardised mean differences.
    n1, n2 : float or array-like, optional
        Group sizes; both or neither.
    method : {"borenstein", "jacobs"}, default "borenstein"
        Constant of the conversion (they agree for equal groups as n grows).

    Returns
    -------
    numpy.ndarray
        Point-biserial correlations.

    Notes
    -----
    Closed form; ``method="jacobs"`` is validated against metafor 3.8-1 ``transf.dtorpb``
    (1e-12 relative), the default against Borenstein et al.'s formula; round trip with
    :func:`r_to_d`.

    Examples
    --------
    >>> round(float(d_to_r(0.5)), 4)
    0.2425
    >>> round(float(d_to_r(0.5, 20, 80)), 4)
    0.1961
    >>> round(float(d_to_r(0.5, 20, 80, method="jacobs")), 4)
    0.198
    """
    d = _arr(d)
    return d / np.sqrt(d**2 + _group_factor(n1, n2, method))


def r_to_d(
    r: ArrayLike,
    n1: ArrayLike | None = None,
    n2: ArrayLike | None = None,
    *,
    method: str = "borenstein",
) -> np.ndarray:
    """Convert a correlation to d: ``d = sqrt(a) r / sqrt(1 − r²)`` (inverse of :func:`d_to_r`).

    Parameters
    ----------
    r : float or array-like
        Correlations in (-1, 1).
    n1, n2 : float or array-like, optional
        Group sizes; ``a = (n1 + n2)² / (n1 n2)``, or 4 when not given.
    method : {"borenstein", "jacobs"}, default "borenstein"
        Constant of the conversion, as in :func:`d_to_r`.

    Returns
    -------
    numpy.ndarray
        Standardised mean differences.

    Notes
    -----
    Borenstein et al. (2009), eq. 7.6. Checked against the closed form (1e-12 relative).

    Examples
    --------
    >>> round(float(r_to_d(0.2425356)), 4)
    0.5
    """
    r = _arr(r)
    return np.sqrt(_group_factor(n1, n2, method)) * r / np.sqrt(1 - r**2)


def t_to_r(t: ArrayLike, df: ArrayLike) -> np.ndarray:
    """Convert a t statistic to r: ``r = t / sqrt(t² + df)`` (sign kept).

    Parameters
    ----------
    t : float or array-like
        t statistics (the sign gives the direction).
    df : float or array-like
        Their degrees of freedom (positive).

    Returns
    -------
    numpy.ndarray
        Correlations.

    Notes
    -----
    Rosenthal (1991), *Meta-Analytic Procedures for Social Research*, ch. 2. Checked against the closed form (1e-12 relative).

    Examples
    --------
    >>> round(float(t_to_r(2.0, 36)), 4)
    0.3162
    """
    t, df = _arr(t), _arr(df)
    return t / np.sqrt(t**2 + df)


def f_to_r(f: ArrayLike, df: ArrayLike, direction: ArrayLike = 1.0) -> np.ndarray:
    """Convert F(1, df) to r: ``r = sqrt(F / (F + df))``, signed by ``direction`` (+1 / −1).

    F carries no direction, so give ``direction=-1`` for effects against the hypothesis.

    Parameters
    ----------
    f : float or array-like
        F statistics with one numerator degree of freedom (non-negative).
    df : float or array-like
        Denominator degrees of freedom.
    direction : float or array-like, default 1.0
        Sign of each effect.

    Returns
    -------
    numpy.ndarray
        Signed correlations, one per F statistic.

    Notes
    -----
    Uses ``F(1, df) = t²`` (Rosenthal 1991) and so agrees with :func:`t_to_r`; the test
    suite checks it against that closed form (1e-12 relative).

    Examples
    --------
    >>> round(float(f_to_r(4.0, 36)), 4)
    0.3162
    """
    f, df = _arr(f), _arr(df)
    if np.any(f < 0):
        raise MetaAnalysisError("F statistics must be non-negative; give the sign via direction.")
    return np.sign(_arr(direction)) * np.sqrt(f / (f + df))


def chi2_to_r(chi2: ArrayLike, n: ArrayLike, direction: ArrayLike = 1.0) -> np.ndarray:
    """Convert χ²(1) to r (φ): ``r = sqrt(χ² / N)``, signed by ``direction``.

    Parameters
    ----------
    chi2 : float or array-like
        χ² statistics with one degree of freedom (non-negative).
    n : float or array-like
        Total sample sizes.
    direction : float or array-like, default 1.0
        Sign of each effect.

    Returns
    -------
    numpy.ndarray
        Correlations (φ coefficients).

    Notes
    -----
    Rosenthal (1991), ch. 2. Checked against the closed form (1e-12 relative).

    Examples
    --------
    >>> round(float(chi2_to_r(9.0, 100)), 4)
    0.3
    """
    chi2, n = _arr(chi2), _arr(n)
    if np.any(chi2 < 0):
        raise MetaAnalysisError("chi-square statistics must be non-negative.")
    return np.sign(_arr(direction)) * np.sqrt(chi2 / n)


def odds_ratio_to_d(
    odds_ratio: ArrayLike, var_log_or: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Convert an odds ratio to d with the logit method: ``d = ln(OR)·√3/π``.

    The variance of ``ln(OR)`` becomes ``var·3/π²`` (Hasselblad & Hedges 1995; Borenstein et
    al. 2009, eq. 7.1–7.2).

    Parameters
    ----------
    odds_ratio : float or array-like
        Odds ratios (positive).
    var_log_or : float or array-like, optional
        Sampling variances of ``ln(OR)``.

    Returns
    -------
    tuple of numpy.ndarray
        ``d`` and its variance (``None`` when ``var_log_or`` is not given).

    Notes
    -----
    Checked against the closed form (1e-12 relative).

    Examples
    --------
    >>> d, v = odds_ratio_to_d(2.0, 0.1)
    >>> round(float(d), 4), round(float(v), 5)
    (0.3822, 0.0304)
    """
    orr = _arr(odds_ratio)
    if np.any(orr <= 0):
        raise MetaAnalysisError("Odds ratios must be positive.")
    d = np.log(orr) * np.sqrt(3) / np.pi
    v = None if var_log_or is None else _arr(var_log_or) * 3 / np.pi**2
    return d, v


def beta_to_r(beta: ArrayLike, *, warn: bool = True) -> np.ndarray:
    """Approximate r from a standardised regression coefficient (Peterson & Brown 2005).

    ``r ≈ β + .05λ`` with ``λ = 1`` when ``β ≥ 0`` and 0 otherwise. The approximation was
    derived for ``|β| < .50``; an :class:`~alliancestats.errors.ApproximationWarning` is issued.

    Parameters
    ----------
    beta : float or array-like
        Standardised regression coefficients.
    warn : bool, default True
        Issue the ApproximationWarning.

    Returns
    -------
    numpy.ndarray
        Approximate correlations.

    Notes
    -----
    Peterson & Brown (2005), J Appl Psychol 90(1). Checked against the closed form (1e-12 relative).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     print(beta_to_r([0.20, -0.10]).round(2))
    [ 0.25 -0.1 ]
    """
    b = _arr(beta)
    if warn:
        outside = np.abs(b) >= 0.5
        warnings.warn(
            "Standardised beta converted to r with Peterson & Brown's (2005) approximation "
            "r = beta + .05 (beta >= 0)"
            + (
                f"; {int(outside.sum())} value(s) with |beta| >= .50 lie outside its range"
                if outside.any()
                else ""
            )
            + ".",
            ApproximationWarning,
            stacklevel=2,
        )
    return b + 0.05 * (b >= 0)
