"""Caterpillar plot: conditional modes of one random effect with their intervals.

Each group's conditional mode (BLUP; lme4's ``ranef``) is drawn with the interval
``mode +/- z * sqrt(conditional variance)`` (lme4's ``condVar``, as ``lattice::dotplot(ranef(fit,
condVar = TRUE))`` draws them), sorted by the mode, with a reference line at zero.

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session + (1 | patient) + (1 | therapist)", df)
>>> from alliancestats.plot import caterpillar
>>> ax = caterpillar(fit, "therapist")
>>> len(ax.get_yticks())
6
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats

from alliancestats._validation import check_bool, check_level
from alliancestats.errors import ModelSpecificationError, ParameterError
from alliancestats.plot._style import (
    ACCENT,
    MUTED,
    SMALL_FONT_SIZE,
    despine,
    label_axes,
    new_axes,
)

__all__ = ["caterpillar", "conditional_modes"]

MODE_GID = "mode"
INTERVAL_GID = "interval"


def _condvar_entry(result: Any, group: str, term: str) -> tuple[str, int] | None:
    """The ``cond_var`` key and position holding ``term`` of grouping factor ``group``."""
    vc = result.varcorr
    for key in dict.fromkeys(vc["grp"]):
        if key != group and key.rsplit(".", 1)[0] != group:
            continue
        names = list(vc[(vc["grp"] == key) & vc["var2"].isna()]["var1"])
        if term in names and key in result.cond_var:
            return key, names.index(term)
    return None


def conditional_modes(result: Any, group: str | None = None, term: str = "(Intercept)",
                      level: float = 0.95) -> pd.DataFrame:
    """Conditional modes of ``term`` for every level of ``group`` with intervals.

    Returns
    -------
    pandas.DataFrame
        Indexed by group level: ``mode, se, ci_low, ci_high``.

    Raises
    ------
    ParameterError
        Unknown grouping factor or term.
    ModelSpecificationError
        The fit holds no conditional variances for this term.
    """
    if not hasattr(result, "ranef") or not result.ranef:
        raise ModelSpecificationError("the fit has no random effects to plot")
    group = next(iter(result.ranef)) if group is None else group
    if group not in result.ranef:
        raise ParameterError(f"group={group!r}; the grouping factors are {list(result.ranef)}")
    modes = result.ranef[group]
    if term not in modes.columns:
        raise ParameterError(f"term={term!r}; {group!r} has {list(modes.columns)}")
    entry = _condvar_entry(result, group, term)
    if entry is None:
        raise ModelSpecificationError(f"no conditional variances for {term!r} | {group!r}")
    key, pos = entry
    se = np.sqrt(np.asarray(result.cond_var[key])[:, pos, pos])
    z = stats.norm.ppf(0.5 + check_level(level) / 2)
    m = modes[term].to_numpy(float)
    return pd.DataFrame({"mode": m, "se": se, "ci_low": m - z * se, "ci_high": m + z * se},
                        index=modes.index.astype(str))


def caterpillar(
    result: Any,
    group: str | None = None,
    term: str = "(Intercept)",
    *,
    level: float = 0.95,
    sort: bool = True,
    xlabel: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Plot the conditional modes of one random effect with intervals, one row per group.

    Parameters
    ----------
    result : MixedResult
        A fit from :func:`~alliancestats.lmm` or :func:`~alliancestats.glmm`.
    group : str, optional
        Grouping factor (default: the first in ``result.ranef``).
    term : str, default "(Intercept)"
        Random effect to show (e.g. ``"session"`` for random slopes).
    level : float, default 0.95
        Coverage of the normal intervals.
    sort : bool, default True
        Order rows by the conditional mode (otherwise by group label).
    xlabel : str, optional
        Horizontal-axis label (default ``"<term> | <group>"``).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure sized to the number of groups otherwise.

    Returns
    -------
    matplotlib.axes.Axes
        Markers have ``gid`` ``"mode"``, interval lines ``"interval"``.

    Raises
    ------
    ParameterError
        Unknown grouping factor or term.
    ModelSpecificationError
        The fit holds no conditional variances for this term.

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
    >>> fit = als.lmm("pain ~ session + (1 + session | patient)", df)
    >>> from alliancestats.plot import caterpillar
    >>> ax = caterpillar(fit, "patient", "session")
    >>> ax.get_xlabel()
    'session | patient'
    """
    sort = check_bool("sort", sort)
    tab = conditional_modes(result, group, term, level)
    group = next(iter(result.ranef)) if group is None else group
    tab = tab.sort_values("mode") if sort else tab.sort_index()
    n = len(tab)
    ax = new_axes(ax, (4.0, min(max(2.0, 0.16 * n + 0.8), 9.0)))
    y = np.arange(n)
    lines = ax.hlines(y, tab["ci_low"], tab["ci_high"], color=MUTED, linewidth=0.9)
    lines.set_gid(INTERVAL_GID)
    ax.plot(tab["mode"], y, "o", color=ACCENT, markersize=3, gid=MODE_GID)
    ax.axvline(0.0, color=MUTED, linewidth=0.8, linestyle="--")
    ax.set_yticks(y, tab.index.tolist() if n <= 60 else [""] * n, fontsize=SMALL_FONT_SIZE)
    ax.set_ylim(-0.7, n - 0.3)
    despine(ax)
    label_axes(ax, f"{term} | {group}" if xlabel is None else xlabel)
    return ax
