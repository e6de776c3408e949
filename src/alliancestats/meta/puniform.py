"""p-uniform: effect size and publication bias from the statistically significant studies only.

If every significant study of a literature was published, the significant studies are a
sample from the distribution of effects truncated at the significance threshold. For a true
effect δ the *conditional* p value of study i,

``q_i(δ) = P(Y ≥ y_i | δ) / P(Y ≥ y_cv,i | δ)``  (``y_cv,i`` the study's critical effect),

is uniform on (0, 1) (van Assen, van Aert & Wicherts 2015, Psychol Methods 20(3)). p-uniform
estimates δ as the value at which the q's look uniform:

* ``P`` (recommended; van Aert, Wicherts & van Assen 2016, Perspect Psychol Sci 11(5)):
  ``Σ q_i = k/2``; confidence bounds from the Irwin–Hall distribution of ``Σ q_i``;
* ``LNP``: Fisher's statistic ``Σ −ln q_i = k``, bounds from Gamma(k, 1);
* ``LN1MINP``: ``Σ −ln(1 − q_i) = k``, bounds from Gamma(k, 1).

The test of no effect evaluates the statistic at δ = 0; the publication-bias test evaluates
it at the fixed-effect estimate of *all* studies: if that estimate is right, the significant
studies' q's are uniform; if publication bias inflated it, they pile up near 0. Tail
probabilities are ratios of normal tails computed on the log scale (scipy's ``log_ndtr``),
accurate far into the tails where puniform switches to an asymptotic series.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alliancestats._format import format_p
from alliancestats._validation import check_choice, check_real
from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._study_tests import study_table
from alliancestats.meta.irwin_hall import irwin_hall_quantile

__all__ = ["PUniformResult", "puniform"]

_METHODS = ("P", "LNP", "LN1MINP")


@dataclass(frozen=True)
class PUniformResult:
    """Result of :func:`puniform`.

    Attributes
    ----------
    method, side : str
        Estimator (``"P"``, ``"LNP"``, ``"LN1MINP"``) and the direction of the tested effects.
    alpha, level : float
        Two-sided significance level of the primary studies; confidence level (percent).
    k, ksig : int
        Number of studies, and of those significant on ``side`` (the ones p-uniform uses).
    estimate, ci_low, ci_high : float
        p-uniform's effect size and confidence interval (analysis scale: Fisher's z for
        correlations, Hedges' g for two-group data).
    stat_effect, p_effect : float
        Test of no effect (one-sided p; a z value for ``P``, the summed log statistic else).
    stat_bias, p_bias : float
        Publication-bias test (one-sided p).
    fixed : pandas.Series
        Fixed-effect meta-analysis of all k studies: ``estimate, se, z, p`` (one-sided, in the
        direction of ``side``), ``ci_low, ci_high, q, q_p``.
    studies : pandas.DataFrame
        Per study: ``yi, vi, z, p`` (one-sided, towards ``side``), ``significant``, ``z_crit``
        and ``q`` (the conditional p value at the estimate; NaN for non-significant studies).
    """

    method: str
    side: str
    alpha: float
    level: float
    k: int
    ksig: int
    estimate: float
    ci_low: float
    ci_high: float
    stat_effect: float
    p_effect: float
    stat_bias: float
    p_bias: float
    fixed: pd.Series
    studies: pd.DataFrame

    @property
    def table(self) -> pd.DataFrame:
        """p-uniform and the fixed-effect model side by side (tidy)."""
        rows = {
            "p-uniform": [self.estimate, self.ci_low, self.ci_high, self.ksig],
            "fixed effect": [self.fixed["estimate"], self.fixed["ci_low"],
                             self.fixed["ci_high"], self.k],
        }  # fmt: skip
        return pd.DataFrame.from_dict(
            rows, orient="index", columns=["estimate", "ci_low", "ci_high", "k"]
        )

    def to_series(self) -> pd.Series:
        """The main numbers as a pandas Series."""
        keys = ("method", "side", "ksig", "estimate", "ci_low", "ci_high", "stat_effect",
                "p_effect", "stat_bias", "p_bias")  # fmt: skip
        return pd.Series({key: getattr(self, key) for key in keys}, name="puniform", dtype=object)

    def summary(self) -> str:
        """Text report in the layout of the R package puniform."""
        stat_name = "z" if self.method == "P" else "L"
        fe = self.fixed
        return (
            f"p-uniform (method {self.method}; {self.ksig} of {self.k} studies significant on "
            f"the {self.side} side at alpha = {self.alpha:g})\n\n"
            f"Effect size: {self.estimate:.4f}, {self.level:g}% CI [{self.ci_low:.4f}, "
            f"{self.ci_high:.4f}]\n"
            f"Test of no effect: {stat_name} = {self.stat_effect:.4f}, p {format_p(self.p_effect)}\n"
            f"Publication bias test: {stat_name} = {self.stat_bias:.4f}, p {format_p(self.p_bias)}\n\n"
            f"Fixed-effect meta-analysis (all {self.k} studies): {fe['estimate']:.4f} "
            f"(SE = {fe['se']:.4f}), z = {fe['z']:.4f}, one-sided p {format_p(fe['p'])}, "
            f"CI [{fe['ci_low']:.4f}, {fe['ci_high']:.4f}]; Q({self.k - 1}) = {fe['q']:.4f}, "
            f"p {format_p(fe['q_p'])}\n"
        )

    def __str__(self) -> str:
        return self.summary()


# --------------------------------------------------------------------------------------------
# the numerical core: conditional p values and the three statistics
# --------------------------------------------------------------------------------------------
def _log_q(delta: float, yi: np.ndarray, se: np.ndarray, ycv: np.ndarray) -> np.ndarray:
    """log of P(Y ≥ y | δ) / P(Y ≥ y_cv | δ) for each significant study."""
    return stats.norm.logsf((yi - delta) / se) - stats.norm.logsf((ycv - delta) / se)


def _statistic(method: str, log_q: np.ndarray) -> float:
    if method == "P":
        return float(np.sum(np.exp(log_q)))
    if method == "LNP":
        return float(-np.sum(log_q))
    return float(-np.sum(np.log(-np.expm1(log_q))))  # LN1MINP: Σ −ln(1 − q)


def _solve(f: Any, centre: float, spread: float) -> float:
    """Root of a monotone ``f`` found by widening a bracket around ``centre``; NaN if none."""
    lo, hi = centre - spread, centre + spread
    f_lo, f_hi = f(lo), f(hi)
    for _ in range(60):
        if np.sign(f_lo) != np.sign(f_hi):
            return float(optimize.brentq(f, lo, hi, xtol=1e-12, rtol=1e-12))
        width = hi - lo
        lo, hi = lo - width, hi + width
        f_lo, f_hi = f(lo), f(hi)
        if not (np.isfinite(f_lo) and np.isfinite(f_hi)):
            break
    return float("nan")


def _targets(method: str, ksig: int, level: float) -> tuple[float, float, float]:
    """Values of the statistic at the estimate, the lower and the upper confidence bound."""
    tail = (1.0 - level / 100.0) / 2.0
    if method == "P":
        low = irwin_hall_quantile(tail, ksig)
        return ksig / 2.0, low, ksig - low
    g_low, g_high = stats.gamma.ppf([tail, 1.0 - tail], ksig)
    if method == "LNP":  # −ln q falls as δ grows: the lower bound has the large quantile
        return float(ksig), float(g_high), float(g_low)
    return float(ksig), float(g_low), float(g_high)


def _estimate(method: str, yi, se, ycv, level: float) -> tuple[float, float, float]:  # noqa: ANN001
    ksig = len(yi)
    centre, spread = float(np.mean(yi)), 4.0 * float(np.max(se)) + 1.0
    values = []
    for target in _targets(method, ksig, level):
        values.append(_solve(lambda d, t=target: _statistic(method, _log_q(d, yi, se, ycv)) - t,
                             centre, spread))  # fmt: skip
    return values[0], values[1], values[2]


def _tests(method: str, log_q0: np.ndarray, log_q_fe: np.ndarray) -> tuple[float, ...]:
    """(statistic, p) of the test of no effect and of the publication-bias test."""
    ksig = len(log_q0)
    s0, s_fe = _statistic(method, log_q0), _statistic(method, log_q_fe)
    if method == "P":
        z0 = (s0 - ksig / 2.0) / np.sqrt(ksig / 12.0)
        z_fe = (s_fe - ksig / 2.0) / np.sqrt(ksig / 12.0)
        return z0, stats.norm.cdf(z0), z_fe, stats.norm.sf(z_fe)
    if method == "LNP":
        return s0, stats.gamma.sf(s0, ksig), s_fe, stats.gamma.cdf(s_fe, ksig)
    return s0, stats.gamma.cdf(s0, ksig), s_fe, stats.gamma.sf(s_fe, ksig)


def _oriented(table: pd.DataFrame, side: str, alpha: float) -> pd.DataFrame:
    """Effects turned to the right side, one-sided p values and critical values per study."""
    sign = 1.0 if side == "right" else -1.0
    out = pd.DataFrame({"yi": sign * table["yi"], "vi": table["vi"]})
    out.index = pd.Index(table["label"], name="study")
    half = alpha / 2.0
    if "t" in table.columns:  # two-group studies: their own t test
        df = table["df"].to_numpy()
        out["z"] = out["yi"] / np.sqrt(out["vi"])
        out["p"] = stats.t.sf(sign * table["t"].to_numpy(), df)
        j = 1.0 - 3.0 / (4.0 * df - 1.0)
        d_crit = stats.t.isf(half, df) * np.sqrt(1 / table["n1i"] + 1 / table["n2i"]).to_numpy()
        out["z_crit"] = j * d_crit / np.sqrt(out["vi"].to_numpy())
    else:
        out["z"] = out["yi"] / np.sqrt(out["vi"])
        out["p"] = stats.norm.sf(out["z"])
        out["z_crit"] = stats.norm.isf(half)
    out["significant"] = out["p"] < half
    return out


def _fixed_effect(yi: np.ndarray, vi: np.ndarray, sign: float, level: float) -> pd.Series:
    w = 1.0 / vi
    est = float(np.sum(w * yi) / np.sum(w))
    se = float(np.sqrt(1.0 / np.sum(w)))
    crit = stats.norm.isf((1.0 - level / 100.0) / 2.0)
    q = float(np.sum(w * (yi - est) ** 2))
    lo, hi = sorted((sign * (est - crit * se), sign * (est + crit * se)))
    return pd.Series({
        "estimate": sign * est, "se": se, "z": sign * est / se, "p": stats.norm.sf(est / se),
        "ci_low": lo, "ci_high": hi, "q": q,
        "q_p": stats.chi2.sf(q, len(yi) - 1) if len(yi) > 1 else float("nan"),
    }, name="fixed_effect")  # fmt: skip


def puniform(
    data: Any = None,
    *,
    yi: Any = None,
    vi: Any = None,
    sei: Any = None,
    ri: Any = None,
    ni: Any = None,
    m1i: Any = None,
    m2i: Any = None,
    sd1i: Any = None,
    sd2i: Any = None,
    n1i: Any = None,
    n2i: Any = None,
    ti: Any = None,
    slab: Any = None,
    alpha: float = 0.05,
    side: str = "right",
    method: str = "P",
    level: float = 95.0,
) -> PUniformResult:
    """p-uniform (van Assen, van Aert & Wicherts 2015; van Aert et al. 2016).

    Parameters
    ----------
    data : MetaResult, DataFrame or SessionData, optional
        A fitted univariate model of :func:`~alliancestats.meta.meta_analysis` (its ``yi``
        and ``vi``), or a table holding the columns named by the other arguments.
    yi, vi, sei : str or array-like, optional
        Effect sizes with sampling variances (or standard errors); each study's test is taken
        to be the z test ``yi/√vi``.
    ri, ni : str or array-like, optional
        Correlations and sample sizes (analysed as Fisher's z with variance ``1/(n − 3)``).
    m1i, m2i, sd1i, sd2i, n1i, n2i : str or array-like, optional
        Means, SDs and sizes of two independent groups; or ``ti`` with ``n1i, n2i``.
        Analysed as Hedges' g with each study's two-sample t test (as puniform's ``MD`` and
        ``MDT`` inputs).
    ti : str or array-like, optional
        Two-sample t statistics, given with ``n1i, n2i`` in place of the means and SDs.
    slab : str or sequence, optional
        Study labels (a column of ``data`` or one label per study).
    alpha : float, default 0.05
        Two-sided significance level of the primary studies; a study counts when its
        one-sided p on ``side`` is below ``alpha/2``. For one-tailed primary tests at .05,
        pass ``alpha=0.10``.
    side : {"right", "left"}, default "right"
        Direction of the hypothesised effects (``"left"``: negative effects).
    method : {"P", "LNP", "LN1MINP"}, default "P"
        Estimator (see the module description); ``"P"`` is recommended.
    level : float, default 95
        Confidence level of the interval, in percent (0.95 is read as 95%).

    Returns
    -------
    PUniformResult
        ``estimate, ci_low, ci_high``, ``p_effect`` (test of no effect), ``p_bias``
        (publication-bias test), ``fixed`` (fixed-effect model of all studies), ``studies``,
        ``table`` and ``summary()``.

    Raises
    ------
    MetaAnalysisError
        No study is significant on ``side``, a bracket for an estimate cannot be found, or
        the inputs are incomplete or out of range.

    Notes
    -----
    Validated against the R package puniform 0.2.7 (van Aert 2023), which is not part of
    Debian: its documented example (McCall & Carriger 1993 correlations) and two-group,
    ``yi/vi`` and left-sided cases, all three estimators. Test statistics and p values agree
    to 1e-9; estimates and bounds to 2e-4, because puniform stops its bisection at a width of
    1e-4 while this function solves to 1e-12. The ``P`` method's bounds use exact Irwin–Hall
    quantiles (puniform: a table for up to 100 significant studies, a normal approximation
    above). Like puniform, the test of no effect and the bias test of ``P`` use the normal
    approximation of the Irwin–Hall distribution.

    p-uniform assumes one true effect (no heterogeneity) and that all significant studies
    were published; with heterogeneity it overestimates the effect, and an estimate far below
    zero signals that its assumptions fail (van Aert et al. 2016). Read it with a selection
    model (:func:`selection_model`).

    Examples
    --------
    >>> from alliancestats.meta import puniform
    >>> res = puniform(ri=[0.61, 0.43, 0.29, 0.55, 0.60, 0.54], ni=[11, 21, 91, 18, 28, 14])
    >>> res.ksig, round(res.estimate, 2)
    (5, 0.13)
    """
    side = check_choice("side", side, ("right", "left"))
    method = check_choice("method", method, _METHODS)
    alpha = check_real("alpha", alpha, low=0, high=1, low_open=True, high_open=True)
    level = check_real("level", level, low=0, high=100, low_open=True, high_open=True)
    level = 100.0 * level if level < 1 else level  # 0.95 and 95 both mean 95%
    table = study_table(data, "puniform", slab=slab, yi=yi, vi=vi, sei=sei, ri=ri, ni=ni,
                        m1i=m1i, m2i=m2i, sd1i=sd1i, sd2i=sd2i, n1i=n1i, n2i=n2i, ti=ti)  # fmt: skip
    studies = _oriented(table, side, alpha)
    sig = studies[studies["significant"]]
    if sig.empty:
        raise MetaAnalysisError(
            f"puniform(): no study is significant on the {side} side (one-sided p < "
            f"{alpha / 2:g}, i.e. two-sided alpha = {alpha:g}); p-uniform uses only significant "
            "studies. Check side= (negative effects need side='left') and alpha=."
        )
    y, se = sig["yi"].to_numpy(), np.sqrt(sig["vi"].to_numpy())
    ycv = sig["z_crit"].to_numpy() * se
    est, lo, hi = _estimate(method, y, se, ycv, level)
    sign = 1.0 if side == "right" else -1.0
    fixed = _fixed_effect(studies["yi"].to_numpy(), studies["vi"].to_numpy(), sign, level)
    stat0, p0, stat_pb, p_pb = _tests(
        method, _log_q(0.0, y, se, ycv), _log_q(sign * fixed["estimate"], y, se, ycv)
    )
    q = np.full(len(studies), np.nan)
    if np.isfinite(est):
        q[studies["significant"].to_numpy()] = np.exp(_log_q(est, y, se, ycv))
    studies["q"] = q
    studies["yi"] = sign * studies["yi"]
    studies["z"] = sign * studies["z"]
    bounds = (-hi, -lo) if side == "left" else (lo, hi)
    return PUniformResult(
        method=method, side=side, alpha=alpha, level=level, k=len(studies), ksig=len(sig),
        estimate=sign * est, ci_low=bounds[0], ci_high=bounds[1], stat_effect=float(stat0),
        p_effect=float(p0), stat_bias=float(stat_pb), p_bias=float(p_pb), fixed=fixed,
        studies=studies,
    )  # fmt: skip
