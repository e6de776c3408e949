"""Effect sizes and their sampling variances for meta-analysis, as metafor's ``escalc``.

:func:`effect_sizes` turns what primary studies report into a tidy table with ``yi`` and
``vi`` for :func:`alliancestats.meta.meta_analysis`: correlations (and t, F(1, df), χ²(1), β
converted to r), standardised and raw mean differences, ratios of means, change scores, 2×2
tables, proportions, incidence rates and (semi-)partial correlations. The formulas live in
:mod:`~alliancestats.meta.measures_counts` and :mod:`~alliancestats.meta.measures_continuous`;
conversions between metrics in :mod:`~alliancestats.meta.conversions`. A d or an odds ratio is
turned into r only when asked (``convert=True``); the ``source`` column records it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import as_frame
from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._inputs import numeric_input
from alliancestats.meta.conversions import (
    beta_to_r,
    chi2_to_r,
    d_to_r,
    f_to_r,
    odds_ratio_to_d,
    r_to_d,
    r_to_z,
    t_to_r,
    z_to_r,
)
from alliancestats.meta.measures_continuous import (
    CHANGE_MEASURES,
    CONTINUOUS_MEASURES,
    MEAN_MEASURES,
    change_scores,
    mean_differences,
    partial_correlations,
)
from alliancestats.meta.measures_counts import (
    COUNT_MEASURES,
    PROPORTION_MEASURES,
    RATE_MEASURES,
    incidence_rates,
    proportions,
    two_by_two,
)

__all__ = [
    "MEASURES",
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

#: every measure :func:`effect_sizes` computes
MEASURES = ("ZCOR", "COR") + COUNT_MEASURES + CONTINUOUS_MEASURES + ("GEN",)

# metafor's argument names and this library's older short names for the same inputs
_ALIASES = {"n1i": "n1", "n2i": "n2", "ri": "r", "ni": "n"}


def _fit_length(values: np.ndarray | None, what: str, length: int) -> np.ndarray | None:
    """Broadcast a single value to ``length`` studies; any other length mismatch is an error."""
    if values is None or len(values) == length:
        return values
    if len(values) == 1:
        return np.full(length, values[0])
    raise MetaAnalysisError(f"{what} has {len(values)} values but the effect sizes have {length}.")


class _Inputs:
    """The numeric inputs of one call, read on demand (column names or arrays)."""

    def __init__(self, data: pd.DataFrame | None, given: dict[str, Any]):
        self.data, self.given = data, given
        self.k = len(data) if data is not None else None
        self.used: set[str] = set()

    def has(self, name: str) -> bool:
        return self.given.get(name) is not None

    def get(self, name: str, required: str | None = None) -> np.ndarray | None:
        """Values of ``name`` (``None`` when not given; an error naming ``required`` if needed)."""
        self.used.add(name)
        value = self.given.get(name)
        if value is None:
            if required is not None:
                raise MetaAnalysisError(f"measure={required!r} needs {name}.")
            return None
        return numeric_input(self.data, value, name, self.k, function="effect_sizes")

    def check_unused(self, measure: str) -> None:
        extra = sorted(n for n, v in self.given.items() if v is not None and n not in self.used)
        if extra:
            raise MetaAnalysisError(
                f"measure={measure!r} does not use {', '.join(extra)}; remove them or choose "
                "the measure they belong to."
            )


def _same_length(arrays: dict[str, np.ndarray | None]) -> int:
    given = {k: v for k, v in arrays.items() if v is not None and len(v) != 1}
    lengths = {len(v) for v in given.values()}
    if len(lengths) > 1:
        raise MetaAnalysisError(
            "Inputs have different lengths: "
            + ", ".join(f"{k} ({len(v)})" for k, v in given.items())
            + "."
        )
    return lengths.pop() if lengths else 1


def _count_measure(
    measure: str, inp: _Inputs, add: float | None, to: str
) -> tuple[np.ndarray, np.ndarray]:
    if add is None:
        add = 0.0 if measure in ("PAS", "PFT") else 0.5
    if measure in PROPORTION_MEASURES:
        xi = inp.get("xi", measure)
        ni = inp.get("n")
        mi = inp.get("mi")
        if ni is None and mi is None:
            raise MetaAnalysisError(
                f"measure={measure!r} needs xi with ni (or mi, the non-events)."
            )
        ni = xi + mi if ni is None else ni
        return proportions(measure, xi, ni, add, to)
    if measure in RATE_MEASURES:
        if measure in ("IR", "IRLN"):
            x = inp.get("xi") if inp.has("xi") else inp.get("x1i", measure)
            t = inp.get("ti") if inp.has("ti") else inp.get("t1i", measure)
            return incidence_rates(measure, x, t, add=add, to=to)
        return incidence_rates(
            measure, inp.get("x1i", measure), inp.get("t1i", measure), inp.get("x2i", measure),
            inp.get("t2i", measure), add, to,
        )  # fmt: skip
    ai, ci = inp.get("ai", measure), inp.get("ci", measure)
    bi, di = inp.get("bi"), inp.get("di")
    n1, n2 = inp.get("n1"), inp.get("n2")
    if bi is None:
        if n1 is None:
            raise MetaAnalysisError(f"measure={measure!r} needs bi or n1i.")
        bi = n1 - ai
    if di is None:
        if n2 is None:
            raise MetaAnalysisError(f"measure={measure!r} needs di or n2i.")
        di = n2 - ci
    _same_length({"ai": ai, "bi": bi, "ci": ci, "di": di})
    return two_by_two(measure, ai, bi, ci, di, add, to)


def _continuous_measure(measure: str, inp: _Inputs) -> tuple[np.ndarray, np.ndarray]:
    if measure in MEAN_MEASURES:
        d = inp.get("d") if inp.has("d") else (inp.get("di") if measure == "SMD" else None)
        t = inp.get("ti") if measure == "SMD" else None
        means = [inp.get(n) for n in ("m1i", "m2i", "sd1i", "sd2i")]
        if measure != "SMD" or (d is None and t is None):
            means = [inp.get(n, measure) for n in ("m1i", "m2i", "sd1i", "sd2i")]
        n1, n2 = inp.get("n1", measure), inp.get("n2", measure)
        return mean_differences(measure, *means, n1, n2, d=d, t=t)
    if measure in CHANGE_MEASURES:
        sd2 = inp.get("sd2i", None if measure == "SMCR" else measure)
        return change_scores(
            measure, inp.get("m1i", measure), inp.get("m2i", measure), inp.get("sd1i", measure),
            sd2, inp.get("r", measure), inp.get("n", measure),
        )  # fmt: skip
    r2 = inp.get("r2i", "SPCOR" if measure == "SPCOR" else None)
    return partial_correlations(
        measure, inp.get("ti", measure), inp.get("n", measure), inp.get("mi", measure), r2
    )


_CONVERTED = ("d", "odds_ratio")


def _correlation_sources(inp: _Inputs, convert: bool) -> dict[str, np.ndarray]:
    sources = {
        key: inp.get(name)
        for key, name in (
            ("r", "r"), ("d", "d"), ("t", "t"), ("F", "f"), ("chi2", "chi2"),
            ("odds_ratio", "odds_ratio"), ("beta", "beta"),
        )
    }  # fmt: skip
    given = {key: val for key, val in sources.items() if val is not None}
    if not given:
        raise MetaAnalysisError(
            "Give at least one of r, t, f, chi2 or beta (or use measure='GEN')."
        )
    converted = [key for key in _CONVERTED if key in given]
    if converted and not convert:
        what = " and ".join("an odds ratio" if c == "odds_ratio" else "d" for c in converted)
        raise MetaAnalysisError(
            f"{what} given for a correlation measure: neither is a correlation. Analyse d with "
            "measure='SMD' (odds ratios as log odds ratios with measure='OR' from counts), or "
            "convert them to point-biserial r explicitly with convert=True (or d_to_r())."
        )
    length = len(next(iter(given.values())))
    if length == 0:
        raise MetaAnalysisError("No studies given: the effect-size inputs are empty.")
    if any(len(val) != length for val in given.values()):
        raise MetaAnalysisError("All effect-size inputs must have the same length.")
    return given


def _correlations(inp: _Inputs, convert: bool) -> tuple[np.ndarray, ...]:
    """r, n, source and approximation flag, filled row by row from the first statistic given."""
    given = _correlation_sources(inp, convert)
    length = len(next(iter(given.values())))
    nn, nn1, nn2, ddf, sign = (
        _fit_length(inp.get(name), name, length) for name in ("n", "n1", "n2", "df", "direction")
    )
    for what, values in (("n1", nn1), ("n2", nn2), ("df", ddf)):
        if values is not None and np.any(values[~np.isnan(values)] <= 0):
            bad = np.flatnonzero(~np.isnan(values) & (values <= 0)).tolist()[:10]
            raise MetaAnalysisError(f"{what} must be positive (rows {bad}).")
    sign = np.ones(length) if sign is None else np.where(np.isnan(sign), 1.0, np.sign(sign))
    n_used = nn.copy() if nn is not None else np.full(length, np.nan)
    if nn1 is not None and nn2 is not None:
        n_used = np.where(np.isnan(n_used), nn1 + nn2, n_used)
    r_out = np.full(length, np.nan)
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
            fill(d_to_r(given["d"], nn1, nn2), "d (converted)")
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
            orr = given["odds_ratio"]
            dval, _ = odds_ratio_to_d(np.where(np.isnan(orr), 1.0, orr))
            fill(d_to_r(np.where(np.isnan(orr), np.nan, dval), nn1, nn2), "odds_ratio (converted)")
        if "beta" in given:
            use = np.isnan(r_out) & ~np.isnan(given["beta"])
            if use.any():
                fill(beta_to_r(np.where(use, given["beta"], np.nan)), "beta")
                approx |= use
    return r_out, n_used, src, approx


def _check_correlations(r: np.ndarray, n: np.ndarray, measure: str) -> None:
    bad_r = ~np.isnan(r) & (np.abs(r) >= 1)
    if bad_r.any():
        raise MetaAnalysisError(
            "Correlations must lie strictly between -1 and 1 "
            f"(rows {np.flatnonzero(bad_r).tolist()[:10]})."
        )
    if np.all(np.isnan(n)):
        raise MetaAnalysisError("Sample sizes are needed: give n (or n1 and n2, or df).")
    min_n = 4 if measure == "ZCOR" else 2
    bad_n = ~np.isnan(n) & (n < min_n)
    if bad_n.any():
        raise MetaAnalysisError(
            f"Sample sizes must be at least {min_n} for measure {measure!r} "
            f"(rows {np.flatnonzero(bad_n).tolist()[:10]})."
        )


def _reliabilities(inp: _Inputs, length: int) -> np.ndarray | None:
    """Product ``rxx·ryy`` of the reliabilities (None when neither is given)."""
    if not (inp.has("rxx") or inp.has("ryy")):
        return None
    a_x = inp.get("rxx") if inp.has("rxx") else np.ones(length)
    a_y = inp.get("ryy") if inp.has("ryy") else np.ones(length)
    a_x = np.broadcast_to(_fit_length(a_x, "rxx", length), (length,)).astype(float)
    a_y = np.broadcast_to(_fit_length(a_y, "ryy", length), (length,)).astype(float)
    bad = (a_x <= 0) | (a_x > 1) | (a_y <= 0) | (a_y > 1)
    if np.any(bad & ~np.isnan(a_x) & ~np.isnan(a_y)):
        raise MetaAnalysisError("Reliabilities must lie in (0, 1].")
    return a_x * a_y


def _correlation_columns(measure: str, inp: _Inputs, convert: bool) -> dict[str, Any]:
    r_out, n_used, src, approx = _correlations(inp, convert)
    _check_correlations(r_out, n_used, measure)
    v = 1.0 / (n_used - 3) if measure == "ZCOR" else (1 - r_out**2) ** 2 / (n_used - 1)
    rel = _reliabilities(inp, len(r_out))
    r_final = r_out
    if rel is not None:
        r_final = r_out / np.sqrt(rel)
        if np.any(np.abs(r_final[~np.isnan(r_final)]) >= 1):
            raise MetaAnalysisError(
                "A disattenuated correlation reaches |r| >= 1; check the reliabilities."
            )
        v = v / rel
    cols: dict[str, Any] = {
        "yi": np.arctanh(r_final) if measure == "ZCOR" else r_final,
        "vi": v,
        "r": r_final,
        "n": n_used,
        "source": src,
        "approximate": approx,
    }
    if rel is not None:
        cols["r_observed"] = r_out
    return cols


def _arguments(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Merge metafor's argument names into the short ones (both given is an error)."""
    merged = dict(kwargs)
    for long, short in _ALIASES.items():
        if merged.get(long) is not None:
            if merged.get(short) is not None:
                raise MetaAnalysisError(f"Give {short} or {long} (the same input), not both.")
            merged[short] = merged[long]
        merged.pop(long, None)
    return merged


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
    n1i: Any = None,
    n2i: Any = None,
    x1i: Any = None,
    x2i: Any = None,
    t1i: Any = None,
    t2i: Any = None,
    m1i: Any = None,
    m2i: Any = None,
    sd1i: Any = None,
    sd2i: Any = None,
    xi: Any = None,
    mi: Any = None,
    ri: Any = None,
    ti: Any = None,
    r2i: Any = None,
    ni: Any = None,
    yi: Any = None,
    vi: Any = None,
    rxx: Any = None,
    ryy: Any = None,
    add: float | None = None,
    to: str = "only0",
    convert: bool = False,
) -> pd.DataFrame:
    """Compute effect sizes ``yi`` and sampling variances ``vi`` (metafor ``escalc``).

    Parameters
    ----------
    data : pandas.DataFrame or SessionData, optional
        Study table; the other arguments may then be column names.
    measure : str, default "ZCOR"
        One of :data:`MEASURES`: correlations ``ZCOR`` (Fisher z, ``vi = 1/(n − 3)``) and
        ``COR`` (``vi = (1 − r²)²/(n − 1)``); 2×2 tables ``RR``, ``OR``, ``RD``, ``PETO``;
        proportions ``PR``, ``PLN``, ``PLO``, ``PAS``, ``PFT``; incidence rates ``IR``,
        ``IRLN``, ``IRR``, ``IRD``; two groups ``MD``, ``SMD`` (Hedges' g), ``SMDH``, ``ROM``;
        change scores ``MC``, ``SMCC``, ``SMCR``; regression results ``PCOR``, ``ZPCOR``,
        ``SPCOR``; ``GEN`` passes ``yi``/``vi`` through. Formulas: see
        :mod:`alliancestats.meta.measures_counts` and
        :mod:`alliancestats.meta.measures_continuous`.
    r, n : column name or array-like
        Correlations and total sample sizes (metafor's ``ri``, ``ni`` are accepted too).
    d : column name or array-like
        Standardised mean differences: with ``measure="SMD"`` (and ``n1i``, ``n2i``) they
        become Hedges' g; with a correlation measure only when ``convert=True``.
    n1, n2 : column name or array-like
        Group sizes (metafor's ``n1i``, ``n2i``).
    t, df : column name or array-like
        t statistics and their degrees of freedom, converted to r (n defaults to ``df + 2``).
    f, chi2 : column name or array-like
        F(1, df) and χ²(1) statistics converted to r (signed by ``direction``).
    odds_ratio : column name or array-like
        Odds ratios turned into r through d (logit method) -- only with ``convert=True``.
    beta : column name or array-like
        Standardised regression coefficients, converted with Peterson & Brown (2005); such
        rows are flagged ``approximate=True`` and an ApproximationWarning is issued.
    direction : column name or array-like
        Sign (+1/−1) of the correlations converted from ``f`` and ``chi2``.
    ai, bi, ci, di : column name or array-like
        2×2 counts (treated events, treated non-events, control events, control non-events);
        ``bi``/``di`` may be replaced by ``n1i``/``n2i``. For ``measure="SMD"``, ``di`` is
        the d value, as in metafor.
    n1i, n2i : column name or array-like
        Group sizes: of the two arms of a 2×2 table (in place of ``bi``/``di``), or of the two
        groups of a mean difference.
    x1i, x2i, t1i, t2i : column name or array-like
        Events and person-times of two groups (IRR, IRD); ``xi``, ``ti`` for one group.
    m1i, m2i, sd1i, sd2i : column name or array-like
        Means and standard deviations of two groups, or post/pre of one group (change).
    xi, mi : column name or array-like
        Events and non-events of a proportion; ``mi`` is the number of predictors for partial
        correlations.
    ri : column name or array-like
        Correlations (metafor's name for ``r``).
    ti, r2i : column name or array-like
        t statistics of SMD or of a regression coefficient (PCOR, SPCOR), person-time of an
        incidence rate; ``r2i`` the model R² for SPCOR.
    ni : column name or array-like
        Total sample sizes (metafor's name for ``n``), or the sample size of a proportion.
    yi, vi : column name or array-like
        Ready-made effect sizes and variances (``measure="GEN"``).
    rxx, ryy : column name, array-like or float, optional
        Reliabilities of the alliance and outcome measures: correlations are disattenuated,
        ``r_c = r / sqrt(rxx·ryy)``, and the sampling variance is divided by ``rxx·ryy``
        (Hunter & Schmidt 2004, ch. 3).
    add, to : float, str
        Continuity correction for counts: ``add`` (1/2; 0 for PAS and PFT) added to tables
        with a zero cell (``to="only0"``), to all (``"all"``), to all when any has a zero
        (``"if0all"``) or never (``"none"``).
    convert : bool, default False
        Allow ``d`` and ``odds_ratio`` to be converted to a correlation (Borenstein et al.
        2009, ch. 7); the ``source`` column says which rows were converted.

    Returns
    -------
    pandas.DataFrame
        The input columns (when ``data`` is given) plus ``yi, vi``; correlation measures add
        ``r`` (correlation used), ``n``, ``source`` (statistic each row came from) and
        ``approximate``. ``attrs["measure"]`` records the metric.

    Raises
    ------
    MetaAnalysisError
        Out-of-range values, missing inputs, inputs the measure does not use, or a d given
        for a correlation measure without ``convert=True``.

    Notes
    -----
    For correlation measures each row uses the first statistic available in the order r, d,
    t, F, χ², odds ratio, β. Validated against metafor 3.8-1 ``escalc`` for every measure
    listed (dat.molloy2014, dat.bcg, dat.normand1999, dat.pritz1997, dat.hart1999,
    dat.aloe2013 and a change-score table), tolerance 1e-10 relative (closed forms).

    Examples
    --------
    >>> es = effect_sizes(r=[0.30, 0.10], n=[53, 103])
    >>> es[["yi", "vi"]].round(4)
           yi    vi
    0  0.3095  0.02
    1  0.1003  0.01
    >>> g = effect_sizes(measure="SMD", m1i=[10.0], m2i=[8.0], sd1i=[4.0], sd2i=[4.0],
    ...                  n1i=[20], n2i=[20])
    >>> g["yi"].round(4).tolist()
    [0.49]
    """
    measure = str(measure).upper()
    if measure not in MEASURES:
        raise MetaAnalysisError(
            f"Unknown measure {measure!r}; choose one of {', '.join(MEASURES)}."
        )
    frame = None if data is None else as_frame(data, "effect_sizes")
    given = _arguments(
        {name: value for name, value in locals().items()
         if name not in ("data", "measure", "add", "to", "convert", "frame")}
    )  # fmt: skip
    inp = _Inputs(frame, given)
    if measure in ("ZCOR", "COR"):
        cols = _correlation_columns(measure, inp, convert)
    elif measure == "GEN":
        cols = dict(zip(("yi", "vi"), (inp.get("yi", "GEN"), inp.get("vi", "GEN")), strict=True))
    else:
        if measure in COUNT_MEASURES:
            y, v = _count_measure(measure, inp, add, to)
        else:
            y, v = _continuous_measure(measure, inp)
        cols = {"yi": y, "vi": v}
    inp.check_unused(measure)
    length = len(cols["yi"])
    out = frame.copy() if frame is not None else pd.DataFrame(index=pd.RangeIndex(length))
    if len(out) != length:
        raise MetaAnalysisError(f"data has {len(out)} rows but the effect sizes have {length}.")
    out = out.assign(**cols)
    if "source" in out.columns:
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
    Checked against a hand computation of Borenstein
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
