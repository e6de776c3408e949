"""power_table: analytic power over a grid (powerlmm's get_power_table)."""

from __future__ import annotations

import pytest

from alliancestats.errors import ParameterError
from alliancestats.power import cohens_d, longitudinal_power, power_table, weibull_dropout

DESIGN = dict(n_sessions=11, icc_pre_subject=0.5, icc_pre_cluster=0, icc_slope=0.05,
              var_ratio=0.02, effect_size=cohens_d(-0.8))


def test_every_combination_once_and_equal_to_single_calls():
    grid = {"n_patients": [5, 10, 15], "n_therapists": [3, 6]}
    tab = power_table(grid, **DESIGN)
    assert len(tab) == 6
    assert set(map(tuple, tab[["n_patients", "n_therapists"]].values)) == {
        (a, b) for a in (5, 10, 15) for b in (3, 6)}
    for row in tab.itertuples():
        single = longitudinal_power(n_patients=row.n_patients, n_therapists=row.n_therapists,
                                    **DESIGN)
        assert row.power == single.power
        assert row.patients == 2 * row.n_patients * row.n_therapists
    assert not tab["dropout"].any()


def test_dropout_rows_are_paired_with_complete_data_rows():
    tab = power_table({"n_patients": [5, 10]}, n_therapists=4,
                      dropout=weibull_dropout(0.3, 0.5), **DESIGN)
    assert tab["dropout"].tolist() == [True, True, False, False]
    with_d = tab[tab["dropout"]].set_index("n_patients")["power"]
    without = tab[~tab["dropout"]].set_index("n_patients")["power"]
    assert (with_d < without).all()


@pytest.mark.parametrize("grid,match", [
    ({}, "non-empty mapping"),
    ({"patients": [5]}, "not an argument"),
    ({"n_therapists": []}, "non-empty list"),
    ({"effect_size": [1.0]}, "both in grid"),
])
def test_bad_grids(grid, match):
    with pytest.raises(ParameterError, match=match):
        power_table(grid, n_patients=5, **DESIGN)


def test_powerlmm_power_table_cases():
    # powerlmm tests.power_table.R: power rises with n2, totals are n2 x 6 x 2, complete data
    # beat dropout, partially nested beats fully nested at a common df of 8
    base = dict(n_sessions=11, n_therapists=6, icc_pre_subject=0.5, icc_pre_cluster=0,
                var_ratio=0.03, icc_slope=0.05, effect_size=cohens_d(-0.8))
    tab = power_table({"n_patients": list(range(10, 16))},
                      dropout=weibull_dropout(0.2, 2), **base)
    miss, full = tab[tab["dropout"]], tab[~tab["dropout"]]
    assert miss["patients"].tolist() == [n * 6 * 2 for n in range(10, 16)]
    assert (miss["power"].diff().dropna() > 0).all() and (full["power"].diff().dropna() > 0).all()
    assert (full["power"].to_numpy() > miss["power"].to_numpy()).all()
    pn = dict(base, n_therapists=5, var_ratio=0.03, icc_slope=0.1, df=8)
    for dropout in (weibull_dropout(0.3, 2), None):
        nested = power_table({"n_patients": [2, 3, 4, 5], "partially_nested": [True, False]},
                             dropout=dropout, **pn)
        nested = nested[nested["dropout"] == (dropout is not None)]
        part = nested[nested["partially_nested"]]["power"].to_numpy()
        fully = nested[~nested["partially_nested"]]["power"].to_numpy()
        assert (part > fully).all()
