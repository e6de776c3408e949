"""Shared publication defaults for alliancestats figures (internal).

Figures use a small fixed set of font sizes, dark-grey ink, no top/right spines and no grid,
so that they drop into a manuscript without restyling. Everything is plain matplotlib, so
figures export to vector formats (SVG, PDF) and work with the Agg backend.

Any figure module may use these helpers; none of them changes global ``rcParams``.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from alliancestats.errors import ParameterError

__all__ = [
    "ACCENT",
    "FONT_SIZE",
    "INK",
    "MUTED",
    "SMALL_FONT_SIZE",
    "despine",
    "label_axes",
    "new_axes",
]

#: main text size in points (axis labels, row labels)
FONT_SIZE = 9.0
#: secondary text (tick labels, annotations, legends)
SMALL_FONT_SIZE = 8.0
#: colour of data marks and text
INK = "#222222"
#: colour of reference lines and secondary marks
MUTED = "#8c8c8c"
#: single accent colour (summary estimates)
ACCENT = "#1f4e79"


def new_axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    """Return ``ax`` or a new Axes on a constrained-layout figure of ``size`` inches."""
    if ax is not None:
        if not isinstance(ax, Axes):
            raise ParameterError(
                f"ax must be a matplotlib Axes (e.g. from plt.subplots()), not {type(ax).__name__}"
            )
        return ax
    _, new = plt.subplots(figsize=size, layout="constrained")
    return new


def despine(ax: Axes, *, left: bool = False) -> None:
    """Remove the top and right spines (and the left one when ``left``); style the ticks."""
    ax.spines["top"].set_visible(False)
    ax.spines["right"].set_visible(False)
    if left:
        ax.spines["left"].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(INK)
        ax.spines[side].set_linewidth(0.8)
    ax.tick_params(colors=INK, labelsize=SMALL_FONT_SIZE, width=0.8, length=3)


def label_axes(ax: Axes, xlabel: str | None = None, ylabel: str | None = None, **kw: Any) -> None:
    """Set axis labels in the house style."""
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=FONT_SIZE, color=INK, **kw)
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=FONT_SIZE, color=INK, **kw)
