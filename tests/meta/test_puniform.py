"""p-uniform against the R package puniform 0.2.7 (van Aert; CRAN, 2023-09-19).

puniform is not in Debian, so its own numbers are the reference. The McCall & Carriger (1993)
correlations are the package's documented example (``example(puniform)``, data
``data.mccall93``); the two-group, ``yi/vi`` and left-sided cases are puniform's ``MD``,
``SPE`` and ``side = "left"`` paths on the small inline data below. All values were produced
by puniform 0.2.7's published R source under R 4.2.2 (printed to 10 decimals; the package
itself prints 4) by ``tests/reference/meta/puniform.R``. Every case is consumed (asserted below).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import DroppedRowsWarning, MetaAnalysisError, ParameterError
from alliancestats.meta import meta_analysis, puniform
from alliancestats.meta.irwin_hall import irwin_hall_quantile

# McCall & Carriger (1993), Child Dev 64(1): habituation/recognition memory in infancy and
# later IQ; the 12 (r, n) of puniform's data.mccall93
MCCALL_R = [0.61, 0.43, 0.29, 0.55, 0.60, 0.54, 0.29, 0.46, 0.52, 0.40, 0.39, 0.39]
MCCALL_N = [11, 21, 91, 18, 28, 14, 96, 20, 22, 57, 29, 40]

TWO_GROUP = pd.DataFrame({
    "m1": [5.4, 6.1, 5.9, 6.6, 5.2, 6.3, 5.8, 6.9, 5.5],
    "m2": [4.6, 5.0, 5.1, 5.2, 4.9, 5.0, 5.3, 5.1, 5.2],
    "sd1": [1.1, 1.3, 1.0, 1.5, 1.2, 1.4, 1.1, 1.6, 1.0],
    "sd2": [1.0, 1.2, 1.1, 1.4, 1.3, 1.2, 1.0, 1.5, 1.1],
    "n1": [25, 40, 30, 22, 60, 35, 45, 20, 50],
    "n2": [24, 38, 31, 20, 58, 36, 44, 21, 52],
})  # fmt: skip
GENERIC = pd.DataFrame({
    "yi": [0.42, 0.55, 0.18, 0.61, 0.30, 0.25, 0.48, 0.70, 0.12, 0.36],
    "vi": [0.040, 0.030, 0.020, 0.050, 0.015, 0.025, 0.045, 0.060, 0.010, 0.020],
})  # fmt: skip

# (est, ci.lb, ci.ub, ksig, L.0, pval.0, L.pb, pval.pb, est.fe, Qstat) from puniform 0.2.7,
# written by tests/reference/meta/puniform.R
_PUNIFORM = json.loads((Path(__file__).parents[1] / "reference" / "meta" / "puniform.json")
                       .read_text())  # fmt: skip
_FIELDS = ("est", "ci_lb", "ci_ub", "ksig", "L_0", "pval_0", "L_pb", "pval_pb", "est_fe", "Qstat")


def _values(key: str) -> tuple:
    case = _PUNIFORM["cases"][key]
    return tuple(case[f] for f in _FIELDS)


REFERENCE = {
    tuple(key.split("/")): _values(key) for key in _PUNIFORM["cases"] if key.count("/") == 1
}
# puniform(yi, vi, side = "right", alpha = 0.10): one-tailed primary tests at .05
GENERIC_ALPHA10 = _values("generic/P/alpha10")
# side = "left" on the mirrored data
LEFT = {"two_group": _values("two_group/P/left"), "generic": _values("generic/P/left")}

# puniform stops its bisection once the bracket is narrower than 1e-4 (we solve to 1e-12)
ROOT_TOL = 2e-4
# closed-form statistics of the given data: only floating-point rounding differs
EXACT_TOL = 1e-8


def _fit(data: str, method: str, **kw):  # noqa: ANN202
    if data == "mccall":
        return puniform(ri=MCCALL_R, ni=MCCALL_N, method=method, **kw)
    if data == "two_group":
        return puniform(TWO_GROUP, m1i="m1", m2i="m2", sd1i="sd1", sd2i="sd2", n1i="n1",
                        n2i="n2", method=method, **kw)  # fmt: skip
    return puniform(GENERIC, yi="yi", vi="vi", method=method, **kw)


def _check(res, ref) -> None:  # noqa: ANN001
    est, lo, hi, ksig, l0, p0, lpb, ppb = ref[:8]
    assert res.ksig == ksig
    assert res.estimate == pytest.approx(est, abs=ROOT_TOL)
    assert res.ci_low == pytest.approx(lo, abs=ROOT_TOL)
    assert res.ci_high == pytest.approx(hi, abs=ROOT_TOL)
    assert res.stat_effect == pytest.approx(l0, rel=EXACT_TOL)
    assert res.p_effect == pytest.approx(p0, rel=EXACT_TOL)
    assert res.stat_bias == pytest.approx(lpb, rel=EXACT_TOL)
    assert res.p_bias == pytest.approx(ppb, rel=EXACT_TOL)


def test_reference_grid_is_complete() -> None:
    assert len(_PUNIFORM["cases"]) == len(REFERENCE) + 3
    assert list(_PUNIFORM["data"]["mccall_ri"]) == MCCALL_R
    assert list(_PUNIFORM["data"]["mccall_ni"]) == MCCALL_N
    assert sorted(REFERENCE) == sorted(
        (d, m) for d in ("mccall", "two_group", "generic") for m in ("P", "LNP", "LN1MINP")
    )


@pytest.mark.parametrize(("data", "method"), sorted(REFERENCE))
def test_matches_puniform(data: str, method: str) -> None:
    ref = REFERENCE[(data, method)]
    res = _fit(data, method)
    _check(res, ref)
    assert res.fixed["estimate"] == pytest.approx(ref[8], rel=EXACT_TOL)
    assert res.fixed["q"] == pytest.approx(ref[9], rel=EXACT_TOL)
    # the conditional p values at the estimate average one half for the P estimator
    if method == "P":
        assert np.nanmean(res.studies["q"]) == pytest.approx(0.5, abs=1e-9)


def test_alpha_for_one_tailed_primary_tests() -> None:
    _check(_fit("generic", "P", alpha=0.10), GENERIC_ALPHA10)


@pytest.mark.parametrize("data", ["two_group", "generic"])
def test_left_side(data: str) -> None:
    if data == "two_group":
        res = puniform(TWO_GROUP, m1i="m2", m2i="m1", sd1i="sd1", sd2i="sd2", n1i="n1",
                       n2i="n2", side="left")  # fmt: skip
    else:
        res = puniform(yi=-GENERIC["yi"], vi=GENERIC["vi"], side="left")
    _check(res, LEFT[data])
    assert res.fixed["estimate"] == pytest.approx(LEFT[data][8], rel=EXACT_TOL)
    # mirroring the data mirrors the estimate and bounds of the right-sided analysis
    right = REFERENCE[(data, "P")]
    assert res.estimate == pytest.approx(-right[0], abs=ROOT_TOL)
    assert (res.ci_low, res.ci_high) == pytest.approx((-right[2], -right[1]), abs=ROOT_TOL)


def test_two_group_t_input_equals_summary_input() -> None:
    pooled = np.sqrt(((TWO_GROUP.n1 - 1) * TWO_GROUP.sd1**2 + (TWO_GROUP.n2 - 1) * TWO_GROUP.sd2**2)
                     / (TWO_GROUP.n1 + TWO_GROUP.n2 - 2))  # fmt: skip
    t = (TWO_GROUP.m1 - TWO_GROUP.m2) / (pooled * np.sqrt(1 / TWO_GROUP.n1 + 1 / TWO_GROUP.n2))
    res = puniform(ti=t, n1i=TWO_GROUP.n1, n2i=TWO_GROUP.n2)
    _check(res, REFERENCE[("two_group", "P")])


def test_fitted_model_input_equals_correlation_input() -> None:
    # meta_analysis(r, n) analyses Fisher's z with vi = 1/(n - 3), puniform's COR input
    fit = meta_analysis(r=MCCALL_R, n=MCCALL_N)
    res = puniform(fit, method="LNP")
    _check(res, REFERENCE[("mccall", "LNP")])
    assert "p-uniform (method LNP; 11 of 12 studies" in res.summary()
    assert res.table.loc["p-uniform", "k"] == 11


def test_irwin_hall_quantiles_match_puniform_table() -> None:
    # puniform's get_cv_P table (2.5% quantiles computed in Mathematica), n = 1, 2, 3, 11, 100
    table = {1: 0.025, 2: 0.2236068, 3: 0.5313293, 11: 3.6308158, 100: 44.3444582}
    for n, value in table.items():
        assert irwin_hall_quantile(0.025, n) == pytest.approx(value, abs=5e-8)  # 7-decimal table
    assert irwin_hall_quantile(0.975, 11) == pytest.approx(11 - 3.6308158, abs=5e-8)


def test_level_changes_only_the_interval() -> None:
    wide, narrow = _fit("mccall", "P"), _fit("mccall", "P", level=80)
    assert narrow.estimate == pytest.approx(wide.estimate, abs=1e-10)
    assert wide.ci_low < narrow.ci_low < narrow.estimate < narrow.ci_high < wide.ci_high
    assert _fit("mccall", "P", level=0.8).ci_low == pytest.approx(narrow.ci_low, abs=1e-12)


def test_no_significant_study_is_a_clear_error() -> None:
    with pytest.raises(MetaAnalysisError, match="no study is significant on the left side"):
        puniform(ri=MCCALL_R, ni=MCCALL_N, side="left")


def test_bad_arguments() -> None:
    with pytest.raises(ParameterError, match="method"):
        puniform(ri=MCCALL_R, ni=MCCALL_N, method="ML")
    with pytest.raises(ParameterError, match="side"):
        puniform(ri=MCCALL_R, ni=MCCALL_N, side="two.sided")
    with pytest.raises(MetaAnalysisError, match="two-group data need"):
        puniform(m1i=[1.0], m2i=[0.5], n1i=[10], n2i=[10])
    with pytest.raises(MetaAnalysisError, match="either a fitted model"):
        puniform(meta_analysis(r=MCCALL_R, n=MCCALL_N), yi=[0.1])
    with pytest.raises(MetaAnalysisError, match="without moderators"):
        puniform(meta_analysis(r=MCCALL_R, n=MCCALL_N, mods=np.arange(12.0)))
    with pytest.raises(MetaAnalysisError, match="one value per study"):
        puniform(yi=[0.5, 0.6, 0.7], vi=[0.01, 0.02])
    with pytest.raises(MetaAnalysisError, match="strictly within"):
        puniform(ri=[1.0, 0.5], ni=[20, 30])


def test_missing_values_are_dropped_and_reported() -> None:
    data = GENERIC.copy()
    data.loc[3, "vi"] = None
    with pytest.warns(DroppedRowsWarning, match="Study 4"):
        res = puniform(data, yi="yi", vi="vi")
    assert res.k == 9 and "Study 4" not in res.studies.index
