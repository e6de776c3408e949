"""Power curve figure: simulated power with exact intervals, analytic power as a line.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import pandas as pd
>>> from alliancestats.power import plot_power_curve
>>> tab = pd.DataFrame({"n_patients": [5, 10, 15], "power": [0.38, 0.58, 0.72]})
>>> ax = plot_power_curve(tab, x="n_patients", label="analytic")
>>> [float(v) for v in ax.get_ylim()]
[0.0, 1.0]
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from alliancestats.errors import ParameterError
from alliancestats.plot._style import ACCENT, MUTED, SMALL_FONT_SIZE, despine, label_axes, new_axes

__all__ = ["plot_power_curve"]

_XLABELS = {
    "n_patients": "patients per therapist",
    "n_therapists": "therapists",
    "n_sessions": "sessions per patient",
    "patients": "patients (total)",
    "therapists": "therapists (total)",
}


def plot_power_curve(
    curve: Any,
    *,
    x: str | None = None,
    clean: bool = False,
    target: float | None = 0.8,
    label: str | None = None,
    color: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw power against design size.

    Parameters
    ----------
    curve : PowerCurve or pandas.DataFrame
        A :func:`~alliancestats.power.power_curve` result (points with Clopper-Pearson
        intervals) or a table with a ``power`` column, e.g. from
        :func:`~alliancestats.power.power_table` (a line; optional ``ci_low``/``ci_high``
        columns are drawn as intervals).
    x : str, optional
        Column for the x axis (default: the curve's ``along``; for a table its first column).
    clean : bool, default False
        For a simulated curve, plot power among converged, non-singular fits instead of over
        all replicates.
    target : float or None, default 0.8
        Draw a dotted reference line at this power.
    label : str, optional
        Legend label (a legend is drawn when given).
    color : str, optional
        Line/marker colour.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (several curves can share one); a new figure otherwise.

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    ParameterError
        Not a curve or table with a ``power`` column, or an unknown ``x`` column.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> sim = pd.DataFrame({"n_patients": [5, 10], "power": [0.4, 0.6],
    ...                     "ci_low": [0.3, 0.5], "ci_high": [0.5, 0.7]})
    >>> ax = plot_power_curve(sim, label="simulated")
    >>> ax.get_legend().get_texts()[0].get_text()
    'simulated'
    """
    along = getattr(curve, "along", None)
    table = getattr(curve, "table", curve)
    if not isinstance(table, pd.DataFrame) or "power" not in table.columns:
        raise ParameterError("curve must be a power_curve() result or a table with a 'power' "
                             "column (e.g. from power_table())")
    xcol = x or along or table.columns[0]
    if xcol not in table.columns:
        raise ParameterError(f"x={xcol!r} is not a column of the table: {list(table.columns)}")
    suffix = "_clean" if clean and "power_clean" in table.columns else ""
    ycol = f"power{suffix}"
    ax = new_axes(ax, (4.5, 3.2))
    col = color or ACCENT
    data = table.sort_values(xcol)
    has_ci = {f"ci_low{suffix}", f"ci_high{suffix}"} <= set(data.columns)
    if has_ci:
        y = data[ycol]
        err = [y - data[f"ci_low{suffix}"], data[f"ci_high{suffix}"] - y]
        ax.errorbar(data[xcol], y, yerr=err, fmt="o-", color=col, ms=4, lw=1.2, capsize=2.5,
                    label=label)
    else:
        ax.plot(data[xcol], data[ycol], "-", color=col, lw=1.5, label=label)
    if target is not None:
        ax.axhline(target, color=MUTED, lw=0.8, ls=":", zorder=0)
    ax.set_ylim(0.0, 1.0)
    if pd.api.types.is_integer_dtype(data[xcol]):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    despine(ax)
    label_axes(ax, _XLABELS.get(xcol, xcol), "power")
    if label is not None:
        ax.legend(frameon=False, fontsize=SMALL_FONT_SIZE)
    return ax
