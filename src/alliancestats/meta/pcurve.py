"""p-curve: is there evidential value in a set of significant results? (p-curve app 4.06)

p-curve looks only at the significant (p < .05) results. With no true effect their p values
are uniform; with a true effect they are right-skewed (more p's near .01 than near .05).
Following the p-curve app 4.06 (Simonsohn, Nelson & Simmons 2014, J Exp Psychol Gen 143(2);
Simonsohn, Simmons & Nelson 2015, J Exp Psychol Gen 144(6)):

* every result is a chi-square (z tests: z²) or F test (t tests: F(1, df) = t²), and its
  *pp value* is its p value conditional on significance under a null: ``p/.05`` for the
  **right-skew** test (no effect), ``P(stat ≤ x | λ33)`` rescaled to the significant range
  for the **flatness** test, where λ33 gives the test 33% power at α = .05;
* the **full** p-curve uses all p < .05, the **half** p-curve only p < .025 (robust to
  ambitious p-hacking); the pp values are combined with Stouffer's method,
  ``Z = Σ Φ⁻¹(pp)/√k``, p = Φ(Z);
* binomial tests compare the share of p < .025 with one half (flat) and with what 33%
  power implies (a Poisson-binomial distribution);
* **power** is estimated as the value whose pp values give Stouffer's Z = 0, with a 90%
  interval where Z = ±1.645 (grid and root search as in the app).

Evidential value is *present* when the half curve's right-skew test has p < .05 or both the
half and full tests have p < .1; it is *absent or inadequate* when the full flatness test has
p < .05 or both the half flatness and the 33%-power binomial test have p < .1 (Simonsohn et
al. 2015).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alliancestats._format import format_p
from alliancestats._validation import as_frame
from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._inputs import numeric_input
from alliancestats.meta._study_tests import (
    drop_incomplete,
    is_fitted_model,
    labels_for,
    study_table,
)

__all__ = ["PCurveResult", "pcurve"]

_P_FLOOR = 2.2e-16  # the app bounds p and pp values to [2.2e-16, 1 − 2.2e-16]
_BINS = (0.01, 0.02, 0.03, 0.04, 0.05)


@dataclass(frozen=True)
class PCurveResult:
    """Result of :func:`pcurve`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``right-skew`` and ``flatness``: ``binomial_p``, ``z_full, p_full`` and
        ``z_half, p_half`` (Stouffer tests; NaN when no p < .025).
    power, power_low, power_high : float
        Estimated average power of the significant tests and its 90% interval.
    evidential_value_present, evidential_value_absent : bool
        The app's two conclusions (see the module description).
    tests : pandas.DataFrame
        Per study: the test (``family, df1, df2, statistic``), ``p``, ``significant`` and the
        pp values ``pp_right, pp_right_half, pp_33, pp_33_half`` (NaN where not used).
    curve : pandas.DataFrame
        The p-curve figure: for the bins .01–.05, the observed percentage of significant
        results, the 20% expected with no effect and the percentage expected with 33% power.
    k, ksig, khalf : int
        Results given, significant (p < .05), and with p < .025.
    """

    table: pd.DataFrame
    power: float
    power_low: float
    power_high: float
    evidential_value_present: bool
    evidential_value_absent: bool
    tests: pd.DataFrame
    curve: pd.DataFrame
    k: int
    ksig: int
    khalf: int

    def to_series(self) -> pd.Series:
        """The main numbers as a pandas Series."""
        t = self.table
        return pd.Series({
            "ksig": self.ksig, "khalf": self.khalf,
            "right_p_full": t.loc["right-skew", "p_full"], "right_p_half": t.loc["right-skew", "p_half"],
            "flat_p_full": t.loc["flatness", "p_full"], "flat_p_half": t.loc["flatness", "p_half"],
            "power": self.power, "power_low": self.power_low, "power_high": self.power_high,
            "evidential_value_present": self.evidential_value_present,
            "evidential_value_absent": self.evidential_value_absent,
        }, name="pcurve", dtype=object)  # fmt: skip

    def summary(self) -> str:
        """Text report in the layout of the p-curve app."""
        rows = []
        for name, row in self.table.iterrows():
            rows.append(
                f"{name:<12} binomial p {format_p(row['binomial_p'])}; full: Z = "
                f"{row['z_full']:.2f}, p {format_p(row['p_full'])}; half: Z = "
                f"{row['z_half']:.2f}, p {format_p(row['p_half'])}"
            )
        yes_no = {True: "yes", False: "no"}
        return (
            f"p-curve ({self.ksig} of {self.k} results with p < .05, {self.khalf} with p < .025)\n\n"
            + "\n".join(rows)
            + f"\n\nPower of the significant tests: {100 * self.power:.0f}% (90% CI "
            f"{100 * self.power_low:.1f}% to {100 * self.power_high:.1f}%)\n"
            f"Evidential value present: {yes_no[self.evidential_value_present]}; absent or "
            f"inadequate: {yes_no[self.evidential_value_absent]}\n"
        )

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------------------------
# the tests as chi-square and F statistics
# --------------------------------------------------------------------------------------------
def _test_table(data: Any, yi, vi, sei, ri, ni, ti, df, slab) -> pd.DataFrame:  # noqa: ANN001
    """family ('chi2' or 'F'), df1, df2 and the statistic of every result, with its label."""
    if ti is not None or ri is not None:
        if (ti is None) == (ri is None) or any(v is not None for v in (yi, vi, sei)):
            raise MetaAnalysisError(
                "pcurve(): give one kind of result: ti with df (t tests), ri with ni "
                "(correlations), or yi with vi/sei (z tests)."
            )
        if is_fitted_model(data):
            raise MetaAnalysisError("pcurve(): with a fitted model, give no other columns.")
        return _t_tests(data, ti, df, ri, ni, slab)
    if df is not None or ni is not None:
        raise MetaAnalysisError("pcurve(): df= goes with ti=, ni= with ri=.")
    table = study_table(data, "pcurve", slab=slab, yi=yi, vi=vi, sei=sei)
    return pd.DataFrame({"family": "chi2", "df1": 1.0, "df2": np.nan,
                         "statistic": table["z"].to_numpy() ** 2},
                        index=pd.Index(table["label"], name="study"))  # fmt: skip


def _t_tests(data: Any, ti: Any, df: Any, ri: Any, ni: Any, slab: Any) -> pd.DataFrame:
    frame = None if data is None else as_frame(data, "pcurve")
    if ti is not None:
        if df is None:
            raise MetaAnalysisError("pcurve(): t tests need their degrees of freedom (df=).")
        t = numeric_input(frame, ti, "ti", None, "pcurve")
        dfs = numeric_input(frame, df, "df", len(t), "pcurve")
    else:
        if ni is None:
            raise MetaAnalysisError("pcurve(): correlations need their sample sizes (ni=).")
        r = numeric_input(frame, ri, "ri", None, "pcurve")
        n = numeric_input(frame, ni, "ni", len(r), "pcurve")
        if np.any(np.abs(r[~np.isnan(r)]) >= 1) or np.any(n[~np.isnan(n)] <= 2):
            raise MetaAnalysisError("pcurve(): need |r| < 1 and n > 2 for every correlation.")
        dfs = n - 2.0  # the app's r(df) entry: t = r √(df / (1 − r²))
        t = r * np.sqrt(dfs / (1.0 - r**2))
    if len(dfs) != len(t):
        raise MetaAnalysisError("pcurve(): give one df (or n) per result.")
    if np.any(dfs[~np.isnan(dfs)] <= 0):
        raise MetaAnalysisError("pcurve(): degrees of freedom must be positive.")
    table = pd.DataFrame({"label": labels_for(frame, len(t), slab), "t": t, "df": dfs})
    table = drop_incomplete(table, "pcurve")
    return pd.DataFrame({"family": "F", "df1": 1.0, "df2": table["df"].to_numpy(),
                         "statistic": table["t"].to_numpy() ** 2},
                        index=pd.Index(table["label"], name="study"))  # fmt: skip


# --------------------------------------------------------------------------------------------
# noncentral distributions: power, λ for a given power, pp values
# --------------------------------------------------------------------------------------------
class _Family:
    """The chi-square (z tests) or F (t tests) family of a set of results."""

    def __init__(self, tests: pd.DataFrame) -> None:
        self.is_f = bool((tests["family"] == "F").any())
        self.df1 = tests["df1"].to_numpy(dtype=float)
        self.df2 = tests["df2"].to_numpy(dtype=float)
        self.value = tests["statistic"].to_numpy(dtype=float)

    def central_isf(self, p: float, df2: np.ndarray) -> np.ndarray:
        if self.is_f:
            return stats.f.isf(p, 1.0, df2)
        return np.broadcast_to(stats.chi2.isf(p, 1.0), np.shape(df2))

    def cdf(self, x: np.ndarray, df2: np.ndarray, ncp: np.ndarray) -> np.ndarray:
        if self.is_f:
            return stats.ncf.cdf(x, 1.0, df2, ncp)
        return stats.ncx2.cdf(x, 1.0, ncp)

    def p_values(self) -> np.ndarray:
        if self.is_f:
            return stats.f.sf(self.value, self.df1, self.df2)
        return stats.chi2.sf(self.value, self.df1)

    def ncp(self, power: np.ndarray, df2: np.ndarray) -> np.ndarray:
        """λ giving each test ``power`` at α = .05 (vectorised bisection on [0, 1000])."""
        power, df2 = np.broadcast_arrays(np.asarray(power, dtype=float), df2)
        crit = self.central_isf(0.05, df2)
        lo, hi = np.zeros(power.shape), np.full(power.shape, 1000.0)
        for _ in range(48):  # interval width 1000/2^48 ≈ 4e-12
            mid = (lo + hi) / 2
            too_weak = 1.0 - self.cdf(crit, df2, mid) < power
            lo, hi = np.where(too_weak, mid, lo), np.where(too_weak, hi, mid)
        return (lo + hi) / 2


def _bound(p: np.ndarray) -> np.ndarray:
    return np.clip(p, _P_FLOOR, 1.0 - _P_FLOOR)


def _stouffer(pp: np.ndarray) -> float:
    pp = pp[~np.isnan(pp)]
    return float(np.sum(stats.norm.ppf(pp)) / np.sqrt(len(pp))) if len(pp) else float("nan")


def _poisson_binomial_cdf(k: int, probs: np.ndarray) -> float:
    """P(X ≤ k) for a sum of independent Bernoulli(p_i) (exact convolution)."""
    dist = np.array([1.0])
    for p in probs:
        dist = np.convolve(dist, [1.0 - p, p])
    return float(np.sum(dist[: k + 1]))


def _stouffer_at_power(fam: _Family, sig: np.ndarray, power: float) -> float:
    """Stouffer's Z of the pp values of the significant tests if their power were ``power``."""
    ncp = fam.ncp(np.full(sig.sum(), power), fam.df2[sig])
    cdf = fam.cdf(fam.value[sig], fam.df2[sig], ncp)
    return _stouffer(_bound((cdf - (1.0 - power)) / power))


def _power_estimate(fam: _Family, sig: np.ndarray) -> tuple[float, float, float]:
    """Power whose pp values give Z = 0 (app grid .051, .06, ..., .99) and its 90% interval."""
    grid = np.concatenate([[0.051], np.arange(6, 100) / 100])
    ncp = fam.ncp(grid[:, None], fam.df2[sig][None, :])
    cdf = fam.cdf(fam.value[sig][None, :], fam.df2[sig][None, :], ncp)
    pp = _bound((cdf - (1.0 - grid[:, None])) / grid[:, None])
    z = stats.norm.ppf(pp).sum(axis=1) / np.sqrt(sig.sum())
    hat = (int(np.argmin(np.abs(z))) + 5) / 100  # the app reports .05 for its first point .051
    p_low, p_high = stats.norm.cdf(z[0]), stats.norm.cdf(z[-1])

    def at(target: float) -> float:
        return float(optimize.brentq(
            lambda pw: _stouffer_at_power(fam, sig, pw) - stats.norm.ppf(target), 0.0501, 0.99,
            xtol=1e-10,
        ))  # fmt: skip

    def bound(target: float) -> float:
        if p_low > target > p_high:
            return at(target)
        return 0.99 if p_high >= target else 0.05

    return hat, bound(0.95), bound(0.05)


def _pp_values(fam: _Family, p: np.ndarray) -> pd.DataFrame:
    """pp values of every test under no effect and under 33% power (full and half curves)."""
    sig, half = p < 0.05, p < 0.025
    ncp33 = fam.ncp(np.full(len(p), 1 / 3), fam.df2)
    cdf33 = fam.cdf(fam.value, fam.df2, ncp33)
    # P(p < .025 | significant) under 33% power; the app's half-curve pp value rescales by it
    prop25 = 3.0 * (1.0 - fam.cdf(fam.central_isf(0.025, fam.df2), fam.df2, ncp33))
    return pd.DataFrame({
        "pp_right": np.where(sig, _bound(20.0 * p), np.nan),
        "pp_right_half": np.where(half, _bound(40.0 * p), np.nan),
        "pp_33": np.where(sig, _bound(3.0 * (cdf33 - 2.0 / 3.0)), np.nan),
        "pp_33_half": np.where(half, _bound((cdf33 - (1.0 - prop25)) / prop25), np.nan),
        "prop25": prop25,
    })  # fmt: skip


def _curve(fam: _Family, p: np.ndarray, sig: np.ndarray) -> pd.DataFrame:
    """Observed and expected percentages of significant p values in the bins .01, ..., .05."""
    ncp33 = fam.ncp(np.full(sig.sum(), 1 / 3), fam.df2[sig])
    below = [
        1.0 - fam.cdf(fam.central_isf(b, fam.df2[sig]), fam.df2[sig], ncp33) for b in _BINS[:-1]
    ]
    shares = np.diff(np.vstack([np.zeros(sig.sum()), *below, np.full(sig.sum(), 1 / 3)]), axis=0)
    binned = np.ceil(np.round(p[sig] * 100, 10)) / 100
    observed = [100.0 * np.mean(np.isclose(binned, b)) for b in _BINS]
    return pd.DataFrame(
        {"observed": observed, "no_effect": 20.0, "power_33": 300.0 * shares.mean(axis=1)},
        index=pd.Index(_BINS, name="p"),
    )


def pcurve(
    data: Any = None,
    *,
    yi: Any = None,
    vi: Any = None,
    sei: Any = None,
    ti: Any = None,
    df: Any = None,
    ri: Any = None,
    ni: Any = None,
    slab: Any = None,
) -> PCurveResult:
    """p-curve analysis of the significant results (p-curve app 4.06).

    Parameters
    ----------
    data : MetaResult, DataFrame or SessionData, optional
        A fitted univariate model of :func:`~alliancestats.meta.meta_analysis` (each effect
        is tested with ``z = yi/√vi``, as the R function ``dmetar::pcurve``), or a table
        holding the columns named by the other arguments.
    yi, vi, sei : str or array-like, optional
        Effect sizes with variances or standard errors (z tests).
    ti, df : str or array-like, optional
        t statistics with their degrees of freedom (the app's ``t(df)`` entries).
    ri, ni : str or array-like, optional
        Correlations with sample sizes (the app's ``r(n − 2)`` entries).
    slab : str or sequence, optional
        Study labels.

    Returns
    -------
    PCurveResult
        The right-skew and flatness tests (``table``), power with its 90% interval, the two
        conclusions, per-test pp values (``tests``), the values of the p-curve figure
        (``curve``; drawn by :func:`alliancestats.plot.pcurve`) and ``summary()``.

    Raises
    ------
    MetaAnalysisError
        No result with p < .05, or inputs of more than one kind.

    Notes
    -----
    p values are two-sided and the sign of a result is ignored, as in the app: enter only
    results testing the hypothesis of interest, in its predicted direction. Validated against
    the published outputs of ``dmetar::pcurve`` (Harrer, Cuijpers, Furukawa & Ebert 2019,
    dmetar 0.1.0 reference manual), which reimplements app 4.06 for z tests: the third-wave
    psychotherapy example (18 studies) and the simulated 18-study example, to the 3 printed
    decimals of Z and p and the printed power (0.1 percentage points); t tests against an
    independent computation with scipy's noncentral F. The half-curve flatness pp values
    follow the app's formula, which rescales by the share of significant results expected
    below .025 under 33% power. p-curve ignores heterogeneity and p-hacking direction; an
    effect-size estimate from p-curve is not offered (use :func:`puniform`, whose estimator
    is the same idea with a closed-form interval; van Aert, Wicherts & van Assen 2016).

    Examples
    --------
    >>> from alliancestats.meta import pcurve
    >>> res = pcurve(ti=[2.9, 3.4, 2.2, 4.1, 2.6], df=[48, 60, 35, 80, 40])
    >>> res.ksig, res.table.index.tolist()
    (5, ['right-skew', 'flatness'])
    """
    tests = _test_table(data, yi, vi, sei, ri, ni, ti, df, slab)
    fam = _Family(tests)
    p = _bound(fam.p_values())
    sig, half = p < 0.05, p < 0.025
    ksig, khalf = int(sig.sum()), int(half.sum())
    if ksig == 0:
        raise MetaAnalysisError(
            "pcurve(): no result has p < .05; p-curve analyses significant results only."
        )
    pp = _pp_values(fam, p)
    z = {name: _stouffer(pp[name].to_numpy()) for name in ("pp_right", "pp_right_half",
                                                           "pp_33", "pp_33_half")}  # fmt: skip
    binom_right = float(stats.binom.sf(khalf - 1, ksig, 0.5))
    binom_33 = _poisson_binomial_cdf(khalf, pp["prop25"].to_numpy()[sig])
    table = pd.DataFrame({
        "binomial_p": [binom_right, binom_33],
        "z_full": [z["pp_right"], z["pp_33"]], "p_full": stats.norm.cdf([z["pp_right"], z["pp_33"]]),
        "z_half": [z["pp_right_half"], z["pp_33_half"]],
        "p_half": stats.norm.cdf([z["pp_right_half"], z["pp_33_half"]]),
    }, index=pd.Index(["right-skew", "flatness"], name="test"))  # fmt: skip
    power = _power_estimate(fam, sig)
    r, f = table.loc["right-skew"], table.loc["flatness"]
    present = bool(r["p_half"] < 0.05 or (r["p_half"] < 0.1 and r["p_full"] < 0.1))
    absent = bool(f["p_full"] < 0.05 or (f["p_half"] < 0.1 and f["binomial_p"] < 0.1))
    per_test = tests.assign(
        p=p, significant=sig, **pp.drop(columns="prop25").set_index(tests.index)
    )
    return PCurveResult(
        table=table, power=power[0], power_low=power[1], power_high=power[2],
        evidential_value_present=present, evidential_value_absent=absent, tests=per_test,
        curve=_curve(fam, p, sig), k=len(tests), ksig=ksig, khalf=khalf,
    )  # fmt: skip
