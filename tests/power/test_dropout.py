"""Dropout processes (powerlmm 0.4.0's dropout_weibull / dropout_manual and its rounding)."""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats.errors import ParameterError
from alliancestats.power import cohens_d, longitudinal_power, manual_dropout, weibull_dropout
from alliancestats.power.dropout import dropout_counts


def test_weibull_percentages_match_powerlmm():
    # powerlmm two-level vignette: dropout_weibull(0.3, 1/2) over t = 0..10
    pct = np.round(100 * weibull_dropout(0.3, 0.5).proportions(np.arange(11))).astype(int)
    assert pct.tolist() == [0, 11, 15, 18, 20, 22, 24, 26, 27, 29, 30]


def test_weibull_scales_time_to_its_maximum():
    a = weibull_dropout(0.2, 2).proportions(np.linspace(0, 1, 6))
    b = weibull_dropout(0.2, 2).proportions(np.linspace(0, 20, 6))
    assert np.allclose(a, b, rtol=0, atol=1e-15)  # same relative times, same proportions
    assert a[0] == 0 and a[-1] == pytest.approx(0.2, abs=1e-15)  # exact ends up to rounding


@pytest.mark.parametrize("args,match", [
    ((1, 1), "proportion"), ((-1, 1), "proportion"), ((0.2, 0), "rate"), ((0.2, -1), "rate"),
])
def test_weibull_errors(args, match):
    # the cases of powerlmm tests.helpers_dropout.R
    with pytest.raises(ParameterError, match=match):
        weibull_dropout(*args)


@pytest.mark.parametrize("values,match", [
    ([0, 0, 1], "values\\[2\\]"), ([0, 0, -1], "values\\[2\\]"),
    ([0.1, 0.3, 0.5], "0 at the first session"), ([0, 0.3, 0.2], "cannot decrease"),
])
def test_manual_dropout_errors(values, match):
    with pytest.raises(ParameterError, match=match):
        manual_dropout(values)


def test_manual_dropout_needs_one_value_per_session():
    d = manual_dropout([0, 0.1, 0.2])
    with pytest.raises(ParameterError, match="3 proportions but the design has 11 sessions"):
        longitudinal_power(11, 20, icc_pre_subject=0.5, var_ratio=0.02, effect_size=1.0,
                           dropout=d)


def test_manual_dropout_equal_to_weibull_gives_same_power():
    w = weibull_dropout(0.3, 0.5)
    m = manual_dropout(w.proportions(np.arange(11)).tolist())
    kw = dict(icc_pre_subject=0.5, var_ratio=0.019, effect_size=cohens_d(-0.5))
    a = longitudinal_power(11, 25, dropout=w, **kw)
    b = longitudinal_power(11, 25, dropout=m, **kw)
    assert a.power == b.power


def test_counts_follow_powerlmm_rounding():
    counts = dropout_counts(weibull_dropout(0.3, 0.5), np.arange(11), 25)
    assert counts.sum() == 25
    # last session: round(18 - 0.7 * 25) = round(0.5) = 0 (R rounds half to even), so 7 of
    # 25 are lost, not 7.5 or 8
    assert counts[:-1].sum() == 7
    assert dropout_counts(None, np.arange(5), 9).tolist() == [0, 0, 0, 0, 9]


def test_more_dropout_less_power():
    kw = dict(icc_pre_subject=0.5, var_ratio=0.02, effect_size=cohens_d(-0.5))
    powers = [longitudinal_power(11, 30, dropout=weibull_dropout(p, 1), **kw).power
              for p in (0.0, 0.2, 0.4)]
    assert powers[0] > powers[1] > powers[2]
