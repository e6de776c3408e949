"""Standardised effect sizes against powerlmm 0.4.0's tests.cohend.R.

powerlmm's cases give raw SDs (patient intercept 10, patient slope 2.2, therapist slope .5,
therapist intercept 2, residual 10); they are converted to the equivalent standardised inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats.errors import ParameterError
from alliancestats.power import cohens_d, longitudinal_power

U0, U1, V0, V1, SIGMA = 10.0, 2.2, 2.0, 0.5, 10.0


def _effect(d, *, therapist_slope=False, therapist_intercept=False, partially_nested=False):
    v0 = V0 if therapist_intercept else 0.0
    v1 = V1 if therapist_slope else 0.0
    total0 = U0**2 + v0**2 + SIGMA**2
    kw = dict(icc_pre_subject=(U0**2 + v0**2) / total0,
              var_ratio=(U1**2 + v1**2) / SIGMA**2, sigma_error=SIGMA)
    if therapist_intercept:
        kw["icc_pre_cluster"] = v0**2 / total0
    if therapist_slope:
        kw["icc_slope"] = v1**2 / (U1**2 + v1**2)
    res = longitudinal_power(11, 30, 2 if (therapist_slope or therapist_intercept) else None,
                             t_end=10, effect_size=d, partially_nested=partially_nested, **kw)
    return res.effect


CASES = [
    # (standardizer, arm, therapist slope, therapist intercept, partially nested, expected)
    ("slope_sd", "control", False, False, False, 0.5 * 2.2 * 10),
    ("slope_sd", "control", True, False, False, 0.5 * np.sqrt(2.2**2 + 0.5**2) * 10),
    ("slope_sd", "treatment", True, False, True, 0.5 * np.sqrt(2.2**2 + 0.5**2) * 10),
    ("slope_sd", "control", True, False, True, 0.5 * 2.2 * 10),
    ("pretest_sd", "control", False, False, False, 0.5 * np.sqrt(10**2 + 10**2)),
    ("pretest_sd", "control", True, True, False, 0.5 * np.sqrt(10**2 + 10**2 + 2**2)),
    ("pretest_sd", "treatment", True, True, True, 0.5 * np.sqrt(10**2 + 10**2 + 2**2)),
    ("pretest_sd", "control", True, True, True, 0.5 * np.sqrt(10**2 + 10**2)),
    ("posttest_sd", "control", False, False, False,
     0.5 * np.sqrt(10**2 + 10**2 + 2.2**2 * 10**2)),
    ("posttest_sd", "control", True, True, False,
     0.5 * np.sqrt(10**2 + 10**2 + 2.2**2 * 10**2 + 2**2 + 0.5**2 * 10**2)),
    ("posttest_sd", "treatment", True, True, True,
     0.5 * np.sqrt(10**2 + 10**2 + 2.2**2 * 10**2 + 2**2 + 0.5**2 * 10**2)),
    ("posttest_sd", "control", True, True, True, 0.5 * np.sqrt(10**2 + 10**2 + 2.2**2 * 10**2)),
]


def test_case_grid_is_complete():
    assert len(CASES) == 12


@pytest.mark.parametrize("std,arm,slope,intercept,pn,expected", CASES)
def test_powerlmm_standardizers(std, arm, slope, intercept, pn, expected):
    got = _effect(cohens_d(0.5, standardizer=std, arm=arm), therapist_slope=slope,
                  therapist_intercept=intercept, partially_nested=pn)
    # ICC round trip of the SDs only; the formulas are powerlmm's
    assert got == pytest.approx(expected, rel=1e-12)


def test_raw_effect_is_used_as_given():
    assert _effect(5.0) == 5.0


def test_cohens_d_rejects_unknown_standardizer_and_arm():
    with pytest.raises(ParameterError, match="standardizer must be one of"):
        cohens_d(0.5, standardizer="pooled")
    with pytest.raises(ParameterError, match="arm must be one of"):
        cohens_d(0.5, arm="both")
