"""MixedResult.confint(): profile intervals that match lme4 also on badly scaled slopes."""

from __future__ import annotations

import numpy as np
from lmm_review_data import REF, ref_fit


def test_profile_intervals_with_a_slope_in_huge_units_match_lme4():
    # old: in these units the slope SD's interval collapsed to [0, estimate] and the other
    # ends moved (profiles ran on the badly scaled problem); in ordinary units the
    # correlation's lower end stopped at -0.498 (lme4 -0.729): a warm start with the slope SD
    # on its bound trapped the optimiser above the cut-off
    ref = REF["profile"]["slope_units"]
    assert ref["parm"][1].startswith("cor_")
    ci = ref_fit("big_slope_units").confint("profile")
    unit = np.array([1.0, 1.0, 1e-6, 1.0, 1.0, 1e-6])  # slope SD and slope in 1e6-fold units
    lo, hi = ci["ci_low"].to_numpy() / unit, ci["ci_high"].to_numpy() / unit
    is_cor = np.array([p.startswith("cor_") for p in ref["parm"]])
    # lme4 interpolates its profile with splines: SDs, sigma and fixed effects agree to 3e-3
    # relative (worst: slope SD lower end 0.047134 vs lme4 0.047220, where a direct profile
    # puts lme4's value 0.007 inside the cut-off and ours on it); the correlation's steep
    # profile near the boundary to 5e-3 absolute (at lme4's upper end 0.2744 the profiled
    # deviance is already 0.03 above the chi-square cut-off)
    np.testing.assert_allclose(lo[~is_cor], np.array(ref["lower"])[~is_cor], rtol=3e-3)
    np.testing.assert_allclose(hi[~is_cor], np.array(ref["upper"])[~is_cor], rtol=3e-3)
    np.testing.assert_allclose(lo[is_cor], np.array(ref["lower"])[is_cor], atol=5e-3)
    np.testing.assert_allclose(hi[is_cor], np.array(ref["upper"])[is_cor], atol=5e-3)
