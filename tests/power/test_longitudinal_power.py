"""longitudinal_power against powerlmm 0.4.0 (Magnusson).

powerlmm is not in Debian, so its published values are the reference: the exact powers for
the designs of its README and vignettes (two-level, three-level, partially nested, unequal
caseloads, Weibull dropout) and its own testthat cases (tests.power.R, tests.cohend.R).
"""

from __future__ import annotations

import numpy as np
import pytest

from alliancestats.errors import ParameterError
from alliancestats.power import (
    cohens_d,
    longitudinal_power,
    per_arm,
    random_caseloads,
    weibull_dropout,
)

THREE = dict(icc_pre_subject=0.5, icc_pre_cluster=0, icc_slope=0.05, var_ratio=0.02,
             effect_size=cohens_d(-0.8))
TWO = dict(icc_pre_subject=0.5, var_ratio=0.019, effect_size=cohens_d(-0.5))
WEIBULL = weibull_dropout(0.3, 0.5)

# (name, positional args, keyword args, powerlmm power, powerlmm df)
REFERENCE = [
    ("three_level", (11, 10, 4), THREE, 0.583549, 6),
    ("two_level", (11, 25), TWO, 0.309503, 48),
    ("two_level_weibull", (11, 25), dict(TWO, dropout=WEIBULL), 0.248772, 48),
    ("partially_nested", (11, 5, 5), dict(THREE, partially_nested=True), 0.415881, 4),
    ("partially_nested_caseloads", (11, [2, 5, 10, 30]), dict(THREE, partially_nested=True),
     0.490288, 3),
    ("fully_nested_caseloads", (11, [2, 5, 10, 30]), THREE, 0.562956, 6),
]


def test_reference_grid_is_complete():
    assert [r[0] for r in REFERENCE] == [
        "three_level", "two_level", "two_level_weibull", "partially_nested",
        "partially_nested_caseloads", "fully_nested_caseloads",
    ]


@pytest.mark.parametrize("name,args,kwargs,power,df", REFERENCE, ids=[r[0] for r in REFERENCE])
def test_powerlmm_reference_powers(name, args, kwargs, power, df):
    res = longitudinal_power(*args, **kwargs)
    # powerlmm's values are printed to 6 decimals; our computation is exact GLS algebra
    assert res.power == pytest.approx(power, abs=1e-6)
    assert res.df == df


def test_readme_unequal_caseloads_rounded_power():
    # powerlmm README: unequal_clusters(2, 3, 5, 20), printed as "power = 44%", df 6
    res = longitudinal_power(11, [2, 3, 5, 20], **THREE)
    assert round(100 * res.power) == 44
    assert res.df == 6


def test_three_level_dropout_expected_allocation_bounds_powerlmm():
    # powerlmm samples which patients drop out: 0.629081 with its seed, 0.62876-0.63046 over
    # seeds. Spreading dropout evenly over therapists maximises information (concavity), so the
    # deterministic value lies just above that range.
    res = longitudinal_power(11, 10, 5, dropout=WEIBULL, **THREE)
    assert res.df == 8
    assert 0.63046 <= res.power <= 0.63046 + 0.002  # bounded above: gain from balance is small
    assert res.power == pytest.approx(0.631280, abs=1e-6)  # pins the deterministic value


def test_three_level_dropout_random_allocation_matches_powerlmm_range():
    res = longitudinal_power(11, 10, 5, dropout=WEIBULL, dropout_allocation="random",
                             n_draws=200, seed=11, **THREE)
    assert len(res.draws) == 200
    # mean over 200 random allocations (MCSE ~2e-5) inside powerlmm's seed-to-seed range
    assert 0.62876 <= res.power <= 0.63046
    assert res.mcse < 1e-4


def test_readme_per_arm_dropout_satterthwaite():
    # powerlmm README: per-treatment Weibull dropout (.3, 2) / (.2, 2), 10 x 5, Satterthwaite:
    # df 7.971459, power 68% (one random allocation of the dropouts)
    drop = per_arm(control=weibull_dropout(0.3, 2), treatment=weibull_dropout(0.2, 2))
    res = longitudinal_power(11, 10, 5, dropout=drop, df="satterthwaite",
                             dropout_allocation="random", n_draws=40, seed=2, **THREE)
    assert res.draws["df"].min() <= 7.971459 <= res.draws["df"].max()
    assert round(100 * res.power) == 68
    pct = np.round(100 * res.dropout[["control", "treatment"]].to_numpy().T).astype(int)
    assert pct[0].tolist() == [0, 0, 1, 3, 6, 9, 12, 16, 20, 25, 30]
    assert pct[1].tolist() == [0, 0, 1, 2, 4, 5, 8, 10, 13, 17, 20]


def test_partially_nested_per_arm_df_is_treatment_therapists_minus_one():
    # powerlmm tests.power.R "power partially nested": n3 per_treatment(5, 10) -> df 10 - 1
    res = longitudinal_power(11, per_arm(2, 12), per_arm(5, 10), icc_pre_subject=0.5,
                             var_ratio=0.03, icc_slope=0.1, partially_nested=True,
                             dropout=weibull_dropout(0.3, 2), effect_size=cohens_d(-0.8))
    assert res.df == 9
    assert res.sample_sizes.loc["therapists"].tolist() == [0, 10, 10]
    assert res.sample_sizes.loc["patients"].tolist() == [10, 120, 130]


def test_more_dropout_less_power_both_df_methods():
    # powerlmm tests.power_satterth_df.R: dropout lowers power for both df methods,
    # partially and fully nested
    for pn in (True, False):
        for df in ("between", "satterthwaite"):
            kw = dict(icc_pre_subject=0.5, icc_pre_cluster=0, cor_subject=-0.4, icc_slope=0.05,
                      var_ratio=0.02, sigma_error=100, partially_nested=pn,
                      effect_size=cohens_d(0.5), df=df)
            with_drop = longitudinal_power(5, 4, 4, dropout=weibull_dropout(0.05, 0.5), **kw)
            without = longitudinal_power(5, 4, 4, **kw)
            assert with_drop.power < without.power


def test_random_caseloads_average_over_draws():
    rc = random_caseloads(lambda rng: rng.poisson(6, size=6))
    res = longitudinal_power(11, rc, icc_pre_subject=0.5, icc_pre_cluster=0, var_ratio=0.03,
                             icc_slope=0.1, effect_size=cohens_d(0.8), n_draws=5, seed=4)
    assert len(res.draws) == 5
    assert res.power == pytest.approx(res.draws["power"].mean(), rel=1e-12)  # a plain mean
    # shared realisation in both arms without per_arm (powerlmm's rule)
    assert res.sample_sizes.loc["patients", "control"] == res.sample_sizes.loc[
        "patients", "treatment"]
    again = longitudinal_power(11, rc, icc_pre_subject=0.5, icc_pre_cluster=0, var_ratio=0.03,
                               icc_slope=0.1, effect_size=cohens_d(0.8), n_draws=5, seed=4)
    assert again.power == res.power


def test_fixed_design_ignores_n_draws():
    res = longitudinal_power(11, 10, 4, n_draws=10, seed=1, **THREE)
    assert len(res.draws) == 1 and res.mcse == 0.0


def test_numeric_df_and_alpha():
    a = longitudinal_power(11, 10, 4, df=30, alpha=0.01, **THREE)
    b = longitudinal_power(11, 10, 4, df=30, alpha=0.05, **THREE)
    assert a.df == 30 and a.power < b.power


def test_raw_effect_equals_standardised_effect():
    # pretest SD is sigma / sqrt(1 - icc_pre_subject) = 10 / sqrt(.5)
    raw = -0.8 * 10 / np.sqrt(0.5)
    a = longitudinal_power(11, 10, 4, **dict(THREE, effect_size=raw))
    b = longitudinal_power(11, 10, 4, **THREE)
    assert a.power == pytest.approx(b.power, rel=1e-12)  # same effect, same arithmetic
    assert a.effect == pytest.approx(raw, rel=1e-12)


def test_summary_and_tables():
    res = longitudinal_power(11, 10, 5, dropout=WEIBULL, **THREE)
    text = res.summary()
    assert "three-level" in text and "Weibull" in text and "power: 0.6313" in text
    vc = res.variance_components
    assert vc.loc["subject_intercept", "sd"] == pytest.approx(10.0, rel=1e-12)
    assert vc.loc["cluster_slope", "variance"] == pytest.approx(0.1, rel=1e-12)
    assert vc.loc["cor_subject", "correlation"] == 0.0
    assert list(res.dropout.columns) == ["time", "control", "treatment"]


def test_two_level_has_no_therapist_components():
    res = longitudinal_power(11, 25, **TWO)
    assert np.isnan(res.variance_components.loc["cluster_slope", "sd"])
    assert res.sample_sizes.loc["therapists"].tolist() == [0, 0, 0]


@pytest.mark.parametrize("kwargs,match", [
    (dict(THREE, icc_pre_cluster=0.6), "cannot exceed icc_pre_subject"),
    (dict(icc_pre_subject=0.5, icc_slope=0.1, effect_size=1.0), "needs var_ratio"),
    (dict(THREE, var_ratio=0, icc_slope=0.1), "cannot be above 0"),
    (dict(TWO, partially_nested=True), "needs a therapist level"),
    (dict(THREE, effect_size="big"), "effect_size must be"),
    (dict(THREE, dropout=0.3), "dropout must be"),
    (dict(THREE, df="kr"), "df must be one of"),
    (dict(THREE, alpha=5), "alpha"),
])
def test_bad_inputs_raise_parameter_error(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        longitudinal_power(11, 10, 4, **kwargs)


def test_caseload_list_and_n_therapists_must_agree():
    with pytest.raises(ParameterError, match="lists 3 caseloads but n_therapists is 4"):
        longitudinal_power(11, [3, 4, 5], 4, **THREE)
    with pytest.raises(ParameterError, match="n_sessions must be at least 2"):
        longitudinal_power(1, 10, 4, **THREE)
