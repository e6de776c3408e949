"""Analytic power over a grid of design values (powerlmm's ``get_power_table``).

Examples
--------
>>> from alliancestats.power import power_table, cohens_d
>>> tab = power_table({"n_patients": [5, 10]}, n_sessions=11, n_therapists=4,
...                   icc_pre_subject=0.5, icc_pre_cluster=0, icc_slope=0.05, var_ratio=0.02,
...                   effect_size=cohens_d(-0.8))
>>> tab[["n_patients", "patients", "power"]].round(4).values.tolist()
[[5.0, 40.0, 0.3806], [10.0, 80.0, 0.5835]]
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from alliancestats.errors import ParameterError
from alliancestats.power.analytic import longitudinal_power

__all__ = ["power_table"]

_ARGS = [n for n in inspect.signature(longitudinal_power).parameters]


def power_table(grid: Mapping[str, Sequence[Any]], **design: Any) -> pd.DataFrame:
    """Analytic power for every combination of the values in ``grid``.

    Parameters
    ----------
    grid : mapping
        Argument name of :func:`~alliancestats.power.longitudinal_power` to a list of values
        (e.g. ``{"n_patients": [5, 10, 15], "n_therapists": [4, 6]}``).
    **design
        The other arguments of :func:`~alliancestats.power.longitudinal_power`, held fixed.

    Returns
    -------
    pandas.DataFrame
        One row per combination (in the order of ``itertools.product`` over ``grid``):
        the grid columns, ``therapists`` and ``patients`` (totals over both arms),
        ``power``, ``df``, ``se`` and ``dropout`` (whether the row includes the design's
        dropout). When the design has dropout every combination appears a second time
        without it (``dropout`` False), as in powerlmm, to show what dropout costs.

    Raises
    ------
    ParameterError
        An unknown argument name, an empty list, or an argument both in ``grid`` and
        ``design``.

    Notes
    -----
    Each row is :func:`~alliancestats.power.longitudinal_power`, validated against powerlmm
    0.4.0 (1e-6 in power); see there.

    Examples
    --------
    >>> from alliancestats.power import cohens_d, weibull_dropout
    >>> tab = power_table({"n_patients": [20, 30]}, n_sessions=11, icc_pre_subject=0.5,
    ...                   var_ratio=0.02, effect_size=cohens_d(-0.5),
    ...                   dropout=weibull_dropout(0.3, 1))
    >>> tab["dropout"].tolist()
    [True, True, False, False]
    """
    if not isinstance(grid, Mapping) or not grid:
        raise ParameterError("grid must be a non-empty mapping of argument names to value lists")
    for name, values in grid.items():
        if name not in _ARGS:
            raise ParameterError(f"grid: {name!r} is not an argument of longitudinal_power")
        if name in design:
            raise ParameterError(f"{name!r} is given both in grid and as a fixed argument")
        if isinstance(values, str) or not isinstance(values, Sequence) or len(values) == 0:
            raise ParameterError(f"grid[{name!r}] must be a non-empty list of values")
    names = list(grid)
    variants = [True, False] if design.get("dropout") is not None else [True]
    rows = []
    for with_dropout in variants:
        fixed = dict(design) if with_dropout else dict(design, dropout=None)
        for combo in itertools.product(*(grid[n] for n in names)):
            args = dict(zip(names, combo, strict=True))
            res = longitudinal_power(**fixed, **args)
            ss = res.sample_sizes
            rows.append({**args, "therapists": ss.loc["therapists", "total"],
                         "patients": ss.loc["patients", "total"], "power": res.power,
                         "df": res.df, "se": res.se,
                         "dropout": with_dropout and design.get("dropout") is not None})
    return pd.DataFrame(rows)
