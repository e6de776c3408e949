"""p-curve against the published outputs of dmetar::pcurve (p-curve app 4.06 for z tests).

References: the printed examples of ``pcurve()`` in the dmetar reference manual (Harrer,
Cuijpers, Furukawa & Ebert; dmetar 0.1.0, https://dmetar.protectlab.org/reference/pcurve.html):
Example 1 (``ThirdWave``, 18 studies of third-wave psychotherapies; TE/seTE transcribed from
the package data) and Example 4 (18 simulated studies given inline in the manual). dmetar
prints 3 decimals and power to 0.1 percentage points. t tests, which dmetar does not take,
are checked against an independent computation with scipy's noncentral F distribution.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta import meta_analysis, pcurve
from alliancestats.plot import pcurve as pcurve_plot

THIRD_WAVE = pd.DataFrame({
    "TE": [0.709136234756933, 0.354864109077645, 1.79117003272488, 0.182455216323761,
           0.42185093084487, 0.63, 0.724883808783712, 0.528663812357321, 0.284,
           1.27506817139631, 0.10360817637506, 0.388390560376566, 0.540739823331358,
           0.426159311552595, 0.515396915332498, 1.47972601084922, 0.612578239930467, 0.6],
    "seTE": [0.260820178547769, 0.196362410818884, 0.345569205699001, 0.117787401662918,
             0.144812762024237, 0.196, 0.224664137749212, 0.210460918848162, 0.168,
             0.337199688565405, 0.194727463484504, 0.230768893346391, 0.244313267301974,
             0.257937944593587, 0.351273746997289, 0.315281680355345, 0.226683364977455, 0.249],
})  # fmt: skip
SIMULATED = pd.DataFrame({
    "TE": [0.561, 0.296, 0.648, 0.362, 0.770, 0.214, 0.476, 0.459, 0.343, 0.804, 0.357, 0.476,
           0.638, 0.396, 0.497, 0.384, 0.568, 0.415],
    "seTE": [0.338, 0.297, 0.264, 0.258, 0.279, 0.347, 0.271, 0.319, 0.232, 0.237, 0.385,
             0.398, 0.342, 0.351, 0.296, 0.325, 0.322, 0.225],
})  # fmt: skip

# printed dmetar output: (ksig, khalf, right-skew row, flatness row, power %, CI %, present,
# absent); rows are pBinomial, zFull, pFull, zHalf, pHalf
PUBLISHED = {
    "third_wave": (11, 10, (0.006, -5.943, 0.000, -4.982, 0.0), (0.975, 3.260, 0.999, 5.158, 1.0),
                   84, (62.7, 94.6), True, False),
    "simulated": (3, 3, (0.125, -2.295, 0.011, -1.437, 0.075), (1.000, 0.974, 0.835, 1.971, 0.976),
                  68, (13.0, 95.5), True, False),
}  # fmt: skip
DATA = {"third_wave": THIRD_WAVE, "simulated": SIMULATED}
PRINTED = 5e-4 + 1e-9  # half a unit in the 3rd printed decimal
PRINTED_POWER = 0.05 + 1e-9  # half a unit in the printed 0.1 percentage point


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_matches_dmetar_examples(name: str) -> None:
    ksig, khalf, right, flat, power, ci, present, absent = PUBLISHED[name]
    res = pcurve(DATA[name], yi="TE", sei="seTE")
    assert (res.k, res.ksig, res.khalf) == (18, ksig, khalf)
    cols = ["binomial_p", "z_full", "p_full", "z_half", "p_half"]
    for row, expected in (("right-skew", right), ("flatness", flat)):
        got = res.table.loc[row, cols].to_numpy(dtype=float)
        np.testing.assert_allclose(got, expected, atol=PRINTED)
    assert round(100 * res.power) == power  # the app reports power in whole percent
    assert 100 * res.power_low == pytest.approx(ci[0], abs=PRINTED_POWER)
    assert 100 * res.power_high == pytest.approx(ci[1], abs=PRINTED_POWER)
    assert (res.evidential_value_present, res.evidential_value_absent) == (present, absent)


def test_fitted_model_gives_the_same_analysis() -> None:
    fit = meta_analysis(yi=THIRD_WAVE["TE"], vi=THIRD_WAVE["seTE"] ** 2)
    a, b = pcurve(fit), pcurve(yi=THIRD_WAVE["TE"], sei=THIRD_WAVE["seTE"])
    pd.testing.assert_frame_equal(a.table, b.table)
    assert "11 of 18 results with p < .05" in a.summary()


# ---------------------------------------------------------------------------------------------
# t tests: an independent computation, one test at a time with scipy
T_STATS = np.array([2.9, 3.4, 2.2, 4.1, 2.6, 2.1, 3.0, 1.2])
T_DF = np.array([48.0, 60, 35, 80, 40, 22, 19, 50])


def _ncp(power: float, df: float, alpha: float = 0.05) -> float:
    crit = stats.f.isf(alpha, 1, df)
    return optimize.brentq(lambda lam: stats.ncf.sf(crit, 1, df, lam) - power, 1e-9, 200,
                           xtol=1e-13)  # fmt: skip


def test_t_tests_match_an_independent_computation() -> None:
    res = pcurve(ti=T_STATS, df=T_DF)
    p = 2 * stats.t.sf(T_STATS, T_DF)
    sig, half = p < 0.05, p < 0.025
    assert (res.ksig, res.khalf) == (int(sig.sum()), int(half.sum()))
    # right skew: pp = p/.05 (full) and p/.025 (half), combined by Stouffer
    z_full = stats.norm.ppf(p[sig] / 0.05).sum() / np.sqrt(sig.sum())
    z_half = stats.norm.ppf(p[half] / 0.025).sum() / np.sqrt(half.sum())
    # flatness: P(F < t² | 33% power), conditional on significance
    pp33, pp33_half = [], []
    for t, df, s, h in zip(T_STATS, T_DF, sig, half, strict=True):
        lam = _ncp(1 / 3, df)
        cdf = stats.ncf.cdf(t**2, 1, df, lam)
        share25 = 3 * stats.ncf.sf(stats.f.isf(0.025, 1, df), 1, df, lam)
        if s:
            pp33.append(3 * (cdf - 2 / 3))
        if h:
            pp33_half.append((cdf - (1 - share25)) / share25)  # the app's half-curve formula
    z33 = stats.norm.ppf(pp33).sum() / np.sqrt(len(pp33))
    z33_half = stats.norm.ppf(pp33_half).sum() / np.sqrt(len(pp33_half))
    expected = [z_full, z_half, z33, z33_half]
    got = [res.table.loc["right-skew", "z_full"], res.table.loc["right-skew", "z_half"],
           res.table.loc["flatness", "z_full"], res.table.loc["flatness", "z_half"]]  # fmt: skip
    # both sides solve λ to ~1e-12; noncentral F tail evaluations limit agreement
    np.testing.assert_allclose(got, expected, rtol=1e-7)
    assert res.table.loc["right-skew", "binomial_p"] == pytest.approx(
        stats.binom.sf(half.sum() - 1, sig.sum(), 0.5),
        rel=1e-12,  # closed form
    )


def test_t_test_power_interval_solves_its_equation() -> None:
    res = pcurve(ti=T_STATS, df=T_DF)
    sig = 2 * stats.t.sf(T_STATS, T_DF) < 0.05

    def stouffer(power: float) -> float:
        pp = [(stats.ncf.cdf(t**2, 1, df, _ncp(power, df)) - (1 - power)) / power
              for t, df in zip(T_STATS[sig], T_DF[sig], strict=True)]  # fmt: skip
        return stats.norm.ppf(pp).sum() / np.sqrt(len(pp))

    # the 90% bounds are where Stouffer's Z equals ±1.645 (independent recomputation)
    assert stouffer(res.power_low) == pytest.approx(stats.norm.ppf(0.95), abs=1e-6)
    assert stouffer(res.power_high) == pytest.approx(stats.norm.ppf(0.05), abs=1e-6)
    grid = np.concatenate([[0.051], np.arange(6, 100) / 100])
    best = grid[np.argmin([abs(stouffer(g)) for g in grid])]
    assert res.power == pytest.approx(0.05 if best == 0.051 else best, abs=1e-12)


def test_correlations_enter_as_t_tests() -> None:
    r, n = np.array([0.45, 0.30, 0.52, 0.28]), np.array([40, 90, 30, 60])
    t = r * np.sqrt((n - 2) / (1 - r**2))
    a, b = pcurve(ri=r, ni=n), pcurve(ti=t, df=n - 2)
    pd.testing.assert_frame_equal(a.table, b.table)


def test_curve_values_and_figure() -> None:
    res = pcurve(yi=THIRD_WAVE["TE"], sei=THIRD_WAVE["seTE"])
    p = 2 * stats.norm.sf(np.abs(THIRD_WAVE["TE"] / THIRD_WAVE["seTE"]))
    sig = p[p < 0.05]
    counts = [np.sum((sig > lo) & (sig <= lo + 0.01)) for lo in (0, 0.01, 0.02, 0.03, 0.04)]
    np.testing.assert_allclose(res.curve["observed"], 100 * np.array(counts) / len(sig))
    assert res.curve["power_33"].sum() == pytest.approx(100.0, abs=1e-9)
    ax = pcurve_plot(res)
    lines = {line.get_gid(): line for line in ax.get_lines()}
    assert set(lines) == {"pcurve_observed", "pcurve_no_effect", "pcurve_power33"}
    np.testing.assert_allclose(lines["pcurve_observed"].get_ydata(), res.curve["observed"])
    np.testing.assert_allclose(lines["pcurve_power33"].get_ydata(), res.curve["power_33"])
    assert ax.get_ylabel() == "Percentage of significant results"
    matplotlib.pyplot.close(ax.figure)


def test_errors() -> None:
    with pytest.raises(MetaAnalysisError, match="no result has p < .05"):
        pcurve(yi=[0.1, 0.05], vi=[0.04, 0.04])
    with pytest.raises(MetaAnalysisError, match="degrees of freedom"):
        pcurve(ti=[2.5, 3.1])
    with pytest.raises(MetaAnalysisError, match="one kind of result"):
        pcurve(ti=[2.5], df=[20], yi=[0.3], vi=[0.01])
