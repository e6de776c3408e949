"""Effect sizes and their sampling variances for meta-analysis.

:func:`effect_sizes` turns what primary studies report (correlations, d, t, F(1, df), χ²(1),
odds ratios, standardised β, 2×2 counts, or ready-made yi/vi) into a tidy table with ``yi`` and
``vi`` for :func:`alliancestats.meta.meta_analysis`. Conversions to r follow Borenstein,
Hedges, Higgins & Rothstein (2009, *Introduction to Meta-Analysis*, ch. 7) and Lipsey & Wilson
(2001); β → r follows Peterson & Brown (2005, J Appl Psychol 90(1)).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import ApproximationWarning, MetaAnalysisError
from alliancestats.meta._inputs import numeric_input

__all__ = [
    "beta_to_r",
    "chi2_to_r",
    "combine_dependent",
    "d_to_r",
    "effect_sizes",
    "f_to_r",
    "odds_ratio_to_d",
    "r_to_d",
    "r_to_z",
    "t_to_r",
    "z_to_r",
]

ArrayLike = Sequence[float] | np.ndarray | pd.Series | float

_MEASURES = ("ZCOR", "COR", "RR", "OR", "GEN")


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
    Checked in ``tests/meta/test_effect_sizes.py`` against the closed form (1e-12 relative);
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
    Inverse of :func:`r_to_z` (Fisher 1921); checked in ``tests/meta/test_effect_sizes.py``
    against the closed form (1e-12 relative).

    Examples
    --------
    >>> round(float(z_to_r(0.549306)), 5)
    0.5
    """
    return np.tanh(_arr(z))


def _group_factor(n1: ArrayLike | None, n2: ArrayLike | None) -> np.ndarray | float:
    """``a = (n1 + n2)² / (n1 n2)``; 4 when group sizes are unknown (equal groups)."""
    if n1 is None or n2 is None:
        return 4.0
    a1, a2 = _arr(n1), _arr(n2)
    return (a1 + a2) ** 2 / (a1 * a2)


def d_to_r(d: ArrayLike, n1: ArrayLike | None = None, n2: ArrayLike | None = None) -> np.ndarray:
    """Convert a standardised mean difference to a (point-biserial) correlation.

    ``r = d / sqrt(d² + a)`` with ``a = (n1 + n2)² / (n1 n2)`` (``a = 4`` for equal or unknown
    group sizes; Borenstein et al. 2009, eq. 7.5).

    Parameters
    ----------
    d : float or array-like
        Standardised mean differences.
    n1, n2 : float or array-like, optional
        Group sizes; both or neither.

    Returns
    -------
    numpy.ndarray
        Point-biserial correlations.

    Notes
    -----
    Checked in ``tests/meta/test_effect_sizes.py`` against the closed form (1e-12 relative);
    round trip with :func:`r_to_d`.

    Examples
    --------
    >>> round(float(d_to_r(0.5)), 4)
    0.2425
    >>> round(float(d_to_r(0.5, 20, 80)), 4)
    0.1961
    """
    d = _arr(d)
    return d / np.sqrt(d**2 + _group_factor(n1, n2))


def r_to_d(r: ArrayLike, n1: ArrayLike | None = None, n2: ArrayLike | None = None) -> np.ndarray:
    """Convert a correlation to d: ``d = sqrt(a) r / sqrt(1 − r²)`` (inverse of :func:`d_to_r`).

    Parameters
    ----------
    r : float or array-like
        Correlations in (-1, 1).
    n1, n2 : float or array-like, optional
        Group sizes; ``a = (n1 + n2)² / (n1 n2)``, or 4 when not given.

    Returns
    -------
    numpy.ndarray
        Standardised mean differences.

    Notes
    -----
    Borenstein et al. (2009), eq. 7.6. Checked in ``tests/meta/test_effect_sizes.py`` against
    the closed form (1e-12 relative).

    Examples
    --------
    >>> round(float(r_to_d(0.2425356)), 4)
    0.5
    """
    r = _arr(r)
    return np.sqrt(_group_factor(n1, n2)) * r / np.sqrt(1 - r**2)


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
    Rosenthal (1991), *Meta-Analytic Procedures for Social Research*, ch. 2. Checked in
    ``tests/meta/test_effect_sizes.py`` against the closed form (1e-12 relative).

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
    Rosenthal (1991), ch. 2. Checked in ``tests/meta/test_effect_sizes.py`` against the closed
    form (1e-12 relative).

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
    Checked in ``tests/meta/test_effect_sizes.py`` against the closed form (1e-12 relative).

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
    Peterson & Brown (2005), J Appl Psychol 90(1). Checked in
    ``tests/meta/test_effect_sizes.py`` against the closed form (1e-12 relative).

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


def _log_ratio(
    ai: np.ndarray, bi: np.ndarray, ci: np.ndarray, di: np.ndarray, measure: str, add: float
) -> tuple[np.ndarray, np.ndarray]:
    cells = np.column_stack([ai, bi, ci, di])
    if np.any(cells < 0):
        raise MetaAnalysisError("2x2 cell counts must be non-negative.")
    zero = np.any(cells == 0, axis=1)
    cells = cells + add * zero[:, None]  # metafor's to="only0": add only where a cell is 0
    a, b, c, d = cells.T
    if measure == "RR":
        yi = np.log(a / (a + b)) - np.log(c / (c + d))
        vi = 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)
    else:
        yi = np.log(a * d / (b * c))
        vi = 1 / a + 1 / b + 1 / c + 1 / d
    return yi, vi


def _fit_length(values: np.ndarray | None, what: str, length: int) -> np.ndarray | None:
    """Broadcast a single value to ``length`` studies; any other length mismatch is an error."""
    if values is None or len(values) == length:
        return values
    if len(values) == 1:
        return np.full(length, values[0])
    raise MetaAnalysisError(f"{what} has {len(values)} values but the effect sizes have {length}.")


def _get(data: pd.DataFrame | None, value: Any, what: str, k: int | None) -> np.ndarray | None:
    return numeric_input(data, value, what, k)


def effect_sizes(
    data: pd.DataFrame | None = None,
    *,
    measure: str = "ZCOR",
    r: Any = None,
    n: Any = None,
    d: Any = None,
    n1: Any = None,
    n2: Any = None,
    t: Any = None,
    df: Any = None,
    f: Any = None,
    chi2: Any = None,
    odds_ratio: Any = None,
    beta: Any = None,
    direction: Any = None,
    ai: Any = None,
    bi: Any = None,
    ci: Any = None,
    di: Any = None,
    yi: Any = None,
    vi: Any = None,
    rxx: Any = None,
    ryy: Any = None,
    add: float = 0.5,
) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` (metafor ``escalc`` style).

    Parameters
    ----------
    data : pandas.DataFrame, optional
        Study table; the other arguments may then be column names.
    measure : {"ZCOR", "COR", "RR", "OR", "GEN"}
        Output metric: Fisher z of r (``vi = 1/(n − 3)``), raw r
        (``vi = (1 − r²)²/(n − 1)``), log risk ratio or log odds ratio from 2×2 counts, or
        generic ``yi``/``vi`` passed through.
    r, n : column name or array-like
        Correlations and total sample sizes.
    d, n1, n2 : column name or array-like
        Standardised mean differences with group sizes (n defaults to ``n1 + n2``).
    t, df : column name or array-like
        t statistics and their degrees of freedom (n defaults to ``df + 2``).
    f : column name or array-like
        F(1, df) statistics (with ``df``); use ``direction`` for the sign.
    chi2 : column name or array-like
        χ²(1) statistics (with ``n``); use ``direction`` for the sign.
    odds_ratio : column name or array-like
        Odds ratios, converted to d (logit method) and then to r (with ``n1``/``n2`` or ``n``).
    beta : column name or array-like
        Standardised regression coefficients, converted with Peterson & Brown (2005);
        such rows are flagged ``approximate=True`` and an ApproximationWarning is issued.
    direction : column name or array-like, optional
        +1 / −1 sign for F and χ² conversions (default +1).
    ai, bi, ci, di : column name or array-like
        2×2 counts (treated events, treated non-events, control events, control non-events).
    yi, vi : column name or array-like
        Ready-made effect sizes and variances (``measure="GEN"``).
    rxx, ryy : column name, array-like or float, optional
        Reliabilities of the alliance and outcome measures: correlations are disattenuated,
        ``r_c = r / sqrt(rxx·ryy)``, and the sampling variance is divided by ``rxx·ryy``
        (Hunter & Schmidt 2004, ch. 3).
    add : float
        Added to all cells of a 2×2 table that has a zero cell (metafor ``to="only0"``).

    Returns
    -------
    pandas.DataFrame
        The input columns (when ``data`` is given) plus ``yi, vi`` and, for correlation
        measures, ``r`` (correlation used), ``n``, ``source`` (statistic each row came from)
        and ``approximate``. ``attrs["measure"]`` records the metric.

    Raises
    ------
    MetaAnalysisError
        Out-of-range correlations, too-small samples, or missing inputs.

    Notes
    -----
    For each row the first available statistic is used in the order r, d, t, F, χ², odds
    ratio, β. Validated against metafor 3.8-1 ``escalc`` for "ZCOR", "COR" (dat.molloy2014)
    and "RR" (dat.bcg) to 1e-12 relative (closed forms); conversions are checked against the
    textbook formulas cited in each helper (Borenstein et al. 2009, ch. 7).

    Examples
    --------
    >>> es = effect_sizes(r=[0.30, 0.10], n=[53, 103])
    >>> es[["yi", "vi"]].round(4)
           yi    vi
    0  0.3095  0.02
    1  0.1003  0.01
    >>> effect_sizes(t=[2.0], df=[36], measure="COR")["r"].round(4).tolist()
    [0.3162]
    """
    measure = str(measure).upper()
    if measure not in _MEASURES:
        raise MetaAnalysisError(
            f"Unknown measure {measure!r}; choose one of {', '.join(_MEASURES)}."
        )
    if data is not None and not isinstance(data, pd.DataFrame):
        raise MetaAnalysisError("data must be a pandas DataFrame.")
    k = len(data) if data is not None else None

    def g(v: Any, what: str) -> np.ndarray | None:
        return _get(data, v, what, k)

    out = data.copy() if data is not None else pd.DataFrame()

    if measure in ("RR", "OR"):
        cells = [g(ai, "ai"), g(bi, "bi"), g(ci, "ci"), g(di, "di")]
        if any(c is None for c in cells):
            raise MetaAnalysisError(f"measure={measure!r} needs the 2x2 counts ai, bi, ci, di.")
        y, v = _log_ratio(*cells, measure=measure, add=add)  # type: ignore[misc]
        if data is None:
            out = pd.DataFrame(index=pd.RangeIndex(len(y)))
        out = out.assign(yi=y, vi=v)
        out.attrs["measure"] = measure
        return out

    if measure == "GEN":
        y, v = g(yi, "yi"), g(vi, "vi")
        if y is None or v is None:
            raise MetaAnalysisError("measure='GEN' needs yi and vi.")
        if data is None:
            out = pd.DataFrame(index=pd.RangeIndex(len(y)))
        out = out.assign(yi=y, vi=v)
        out.attrs["measure"] = "GEN"
        return out

    # correlation measures: build r row by row from the first available statistic
    sources = {
        "r": g(r, "r"),
        "d": g(d, "d"),
        "t": g(t, "t"),
        "F": g(f, "f"),
        "chi2": g(chi2, "chi2"),
        "odds_ratio": g(odds_ratio, "odds_ratio"),
        "beta": g(beta, "beta"),
    }
    given = {key: val for key, val in sources.items() if val is not None}
    if not given:
        raise MetaAnalysisError(
            "Give at least one of r, d, t, f, chi2, odds_ratio or beta (or use measure='GEN')."
        )
    length = len(next(iter(given.values())))
    if length == 0:
        raise MetaAnalysisError("No studies given: the effect-size inputs are empty.")
    if any(len(val) != length for val in given.values()):
        raise MetaAnalysisError("All effect-size inputs must have the same length.")
    nn, nn1, nn2, ddf = g(n, "n"), g(n1, "n1"), g(n2, "n2"), g(df, "df")
    sign = g(direction, "direction")
    nn, nn1, nn2 = (
        _fit_length(nn, "n", length),
        _fit_length(nn1, "n1", length),
        _fit_length(nn2, "n2", length),
    )
    ddf, sign = _fit_length(ddf, "df", length), _fit_length(sign, "direction", length)
    for what, values in (("n1", nn1), ("n2", nn2), ("df", ddf)):
        if values is not None and np.any(values[~np.isnan(values)] <= 0):
            bad = np.flatnonzero(~np.isnan(values) & (values <= 0)).tolist()[:10]
            raise MetaAnalysisError(f"{what} must be positive (rows {bad}).")
    sign = np.ones(length) if sign is None else np.where(np.isnan(sign), 1.0, np.sign(sign))
    nan = np.full(length, np.nan)
    n_used = nn.copy() if nn is not None else nan.copy()
    if nn1 is not None and nn2 is not None:
        n_used = np.where(np.isnan(n_used), nn1 + nn2, n_used)
    r_out = nan.copy()
    src = np.full(length, "", dtype=object)
    approx = np.zeros(length, dtype=bool)

    def fill(values: np.ndarray, label: str) -> None:
        take = np.isnan(r_out) & ~np.isnan(values)
        r_out[take] = values[take]
        src[take] = label

    with np.errstate(invalid="ignore", divide="ignore"):
        if "r" in given:
            fill(given["r"], "r")
        if "d" in given:
            fill(d_to_r(given["d"], nn1, nn2), "d")
        if "t" in given or "F" in given:
            if ddf is None:
                raise MetaAnalysisError("t and F conversions need df.")
            n_used = np.where(np.isnan(n_used), ddf + 2, n_used)
            if "t" in given:
                fill(t_to_r(given["t"], ddf), "t")
            if "F" in given:
                fval = given["F"]
                if np.any(fval[~np.isnan(fval)] < 0):
                    raise MetaAnalysisError("F statistics must be non-negative; use direction.")
                fill(sign * np.sqrt(fval / (fval + ddf)), "F")
        if "chi2" in given:
            cval = given["chi2"]
            if np.any(cval[~np.isnan(cval)] < 0):
                raise MetaAnalysisError("chi-square statistics must be non-negative.")
            fill(sign * np.sqrt(cval / n_used), "chi2")
        if "odds_ratio" in given:
            dval, _ = odds_ratio_to_d(
                np.where(np.isnan(given["odds_ratio"]), 1.0, given["odds_ratio"])
            )
            dval[np.isnan(given["odds_ratio"])] = np.nan
            fill(d_to_r(dval, nn1, nn2), "odds_ratio")
        if "beta" in given:
            bval = given["beta"]
            use = np.isnan(r_out) & ~np.isnan(bval)
            if use.any():
                fill(beta_to_r(np.where(use, bval, np.nan)), "beta")
                approx |= use

    bad_r = ~np.isnan(r_out) & (np.abs(r_out) >= 1)
    if bad_r.any():
        raise MetaAnalysisError(
            f"Correlations must lie strictly between -1 and 1 (rows {np.flatnonzero(bad_r).tolist()[:10]})."
        )
    if np.all(np.isnan(n_used)):
        raise MetaAnalysisError("Sample sizes are needed: give n (or n1 and n2, or df).")
    min_n = 4 if measure == "ZCOR" else 2
    bad_n = ~np.isnan(n_used) & (n_used < min_n)
    if bad_n.any():
        raise MetaAnalysisError(
            f"Sample sizes must be at least {min_n} for measure {measure!r} "
            f"(rows {np.flatnonzero(bad_n).tolist()[:10]})."
        )

    if measure == "ZCOR":
        vvals = 1.0 / (n_used - 3)
    else:
        vvals = (1 - r_out**2) ** 2 / (n_used - 1)

    rel = None
    if rxx is not None or ryy is not None:
        a_x = g(rxx, "rxx") if rxx is not None else np.ones(length)
        a_y = g(ryy, "ryy") if ryy is not None else np.ones(length)
        a_x, a_y = _fit_length(a_x, "rxx", length), _fit_length(a_y, "ryy", length)
        a_x = np.broadcast_to(a_x, (length,)).astype(float)
        a_y = np.broadcast_to(a_y, (length,)).astype(float)
        bad = (a_x <= 0) | (a_x > 1) | (a_y <= 0) | (a_y > 1)
        if np.any(bad & ~np.isnan(a_x) & ~np.isnan(a_y)):
            raise MetaAnalysisError("Reliabilities must lie in (0, 1].")
        rel = a_x * a_y
        r_corr = r_out / np.sqrt(rel)
        if np.any(np.abs(r_corr[~np.isnan(r_corr)]) >= 1):
            raise MetaAnalysisError(
                "A disattenuated correlation reaches |r| >= 1; check the reliabilities."
            )
        vvals = vvals / rel
        r_final = r_corr
    else:
        r_final = r_out
    yvals = np.arctanh(r_final) if measure == "ZCOR" else r_final

    if data is None:
        out = pd.DataFrame(index=pd.RangeIndex(length))
    cols: dict[str, Any] = {
        "yi": yvals,
        "vi": vvals,
        "r": r_final,
        "n": n_used,
        "source": src,
        "approximate": approx,
    }
    if rel is not None:
        cols["r_observed"] = r_out
    out = out.assign(**cols)
    out["source"] = out["source"].astype("str")
    out.attrs["measure"] = measure
    return out


def combine_dependent(
    data: pd.DataFrame,
    cluster: str,
    *,
    yi: str = "yi",
    vi: str = "vi",
    rho: float = 0.5,
) -> pd.DataFrame:
    """Average dependent effect sizes within a study with an assumed correlation ``rho``.

    For ``m`` effects in one study the composite is the mean, with variance
    ``(1/m)² (Σ v_j + Σ_{j≠l} ρ sqrt(v_j v_l))`` (Borenstein et al. 2009, ch. 24, eq. 24.6).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per effect size.
    cluster : str
        Column identifying the study.
    yi, vi : str
        Effect-size and variance columns.
    rho : float
        Assumed correlation between effects within a study (0 = independent, 1 = redundant).

    Returns
    -------
    pandas.DataFrame
        One row per study: ``cluster`` column, ``yi``, ``vi``, ``m`` (effects combined);
        ``attrs["measure"]`` is carried over.

    Raises
    ------
    MetaAnalysisError
        Missing cluster, effect or variance values, non-positive variances, or no rows.

    Notes
    -----
    Checked in ``tests/meta/test_effect_sizes.py`` against a hand computation of Borenstein
    et al.'s eq. 24.6 (1e-12 relative). With ``rho = 1`` the composite variance equals the
    variance of one effect when all variances are equal (no information gained).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"study": [1, 1, 2], "yi": [0.2, 0.4, 0.1], "vi": [0.01, 0.01, 0.02]})
    >>> combine_dependent(df, "study", rho=0.5).round(4)
       study   yi      vi  m
    0      1  0.3  0.0075  2
    1      2  0.1  0.0200  1
    """
    if not -1 <= rho <= 1:
        raise MetaAnalysisError("rho must lie between -1 and 1.")
    for col in (cluster, yi, vi):
        if col not in data.columns:
            raise MetaAnalysisError(f"Column {col!r} not found.")
    if len(data) == 0:
        raise MetaAnalysisError("combine_dependent() got no rows.")
    y_all = numeric_input(data, yi, "yi")
    v_all = numeric_input(data, vi, "vi")
    missing = data[cluster].isna().to_numpy() | np.isnan(y_all) | np.isnan(v_all)
    if missing.any():
        raise MetaAnalysisError(
            f"{int(missing.sum())} row(s) have a missing {cluster}, {yi} or {vi} (index labels "
            f"{data.index[missing].tolist()[:10]}); drop or fill them before combining."
        )
    if np.any(v_all <= 0):
        raise MetaAnalysisError(
            f"Sampling variances must be positive (index labels "
            f"{data.index[v_all <= 0].tolist()[:10]})."
        )
    rows = []
    positions = pd.Series(np.arange(len(data)))
    for key, pos in positions.groupby(data[cluster].to_numpy(), sort=False):
        y, v = y_all[pos.to_numpy()], v_all[pos.to_numpy()]
        m = len(y)
        s = np.sqrt(v)
        cov_sum = rho * (np.sum(np.outer(s, s)) - np.sum(v))
        rows.append({cluster: key, "yi": y.mean(), "vi": (v.sum() + cov_sum) / m**2, "m": m})
    out = pd.DataFrame(rows)
    if "measure" in data.attrs:
        out.attrs["measure"] = data.attrs["measure"]
    return out
