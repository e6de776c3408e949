"""One replicate: its p value is the refit's own and scipy's t / normal tail."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from alliancestats.power.engine import fit_replicate, make_template, simulate_response, t_test_p


@pytest.mark.parametrize("statistic,df", [(2.1, 7.3), (-0.4, 250.0), (-3.3, 1.5), (0.0, 12.0)])
def test_t_test_p_is_scipys_two_sided_t_tail(statistic, df):
    assert t_test_p(statistic, df) == 2 * stats.t.sf(abs(statistic), df)


def test_t_test_p_without_df_is_the_normal_tail():
    assert t_test_p(-1.7, np.inf) == 2 * stats.norm.sf(1.7)
    assert t_test_p(1.7, np.nan) == 2 * stats.norm.sf(1.7)


def test_replicate_p_value_is_the_refits(small_spec):
    t = make_template(small_spec, "session", "satterthwaite")
    y = simulate_response(t, np.random.default_rng(4))
    rec = fit_replicate(t, y)
    refit = t.models[0].refit(y)
    assert rec["p"] == refit.p_values()[t.index]
    assert rec["df"] == refit.df[t.index]
