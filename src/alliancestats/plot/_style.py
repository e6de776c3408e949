"""The house style of alliancestats figures, with a switch for journals (internal module).

Every figure module draws with the helpers and constants here: a small fixed set of font
sizes, dark-grey ink, no top/right spines, no grid, and the colour-blind-safe palette of
Okabe & Ito (2008). Everything is plain matplotlib, so figures export to vector formats (SVG,
PDF) and work with the Agg backend; none of the drawing helpers changes global ``rcParams``.

The *style switch* adapts a finished figure to where it will be printed:

* :data:`STYLES` names the styles -- ``"default"`` (the library's own look), ``"apa"``
  (APA 7th edition: sans-serif text between 8 and 14 pt in the figure image; American
  Psychological Association 2020, Publication Manual, section 7.26), and the journal column
  widths ``"single_column"`` (90 mm), ``"one_and_half_column"`` (140 mm) and
  ``"double_column"`` (190 mm), the artwork sizes of Elsevier's author artwork instructions
  that many journals share.
* :func:`apply_style` resizes a drawn figure to the style's width and rescales every text in
  it (axis labels, ticks, legends, annotations) so the sizes keep their ratios; the figure's
  own layout engine then re-arranges it. It works on any figure of the library because they
  all draw their text at :data:`FONT_SIZE` / :data:`SMALL_FONT_SIZE`.
* :func:`figure_style` is a context manager for drawing and saving: the style's font family,
  SVG/PDF text kept as editable text (``svg.fonttype = "none"``, Type 42 fonts in PDF) and the
  palette as matplotlib's colour cycle.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import matplotlib.pyplot as plt
>>> from alliancestats.plot import apply_style
>>> fig, ax = plt.subplots(figsize=(4.5, 3.2))
>>> _ = ax.set_xlabel("Session", fontsize=FONT_SIZE)
>>> _ = apply_style(fig, "single_column")
>>> round(float(fig.get_size_inches()[0] * 25.4))
90
>>> ax.xaxis.label.get_fontsize()
8.0
>>> plt.close(fig)
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure, SubFigure
from matplotlib.text import Text

from alliancestats.errors import ParameterError

__all__ = [
    "ACCENT",
    "FONT_SIZE",
    "INK",
    "MUTED",
    "PALETTE",
    "SMALL_FONT_SIZE",
    "STYLES",
    "FigureStyle",
    "apply_style",
    "despine",
    "figure_style",
    "get_style",
    "label_axes",
    "new_axes",
    "readable_label",
    "styled_size",
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
#: colours for groups, distinguishable with the common colour-vision deficiencies (Okabe & Ito
#: 2008, "Color Universal Design"); the palette's yellow is left out (too light on white)
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")

_SANS = ("Arial", "Helvetica", "Liberation Sans", "DejaVu Sans")
_MM = 1 / 25.4


@dataclass(frozen=True)
class FigureStyle:
    """Where a figure will be printed: width, text sizes and font family.

    Attributes
    ----------
    name : str
        Name in :data:`STYLES`.
    width : float or None
        Figure width in inches (``None`` keeps the figure's own width).
    font_size, small_font_size : float
        Sizes (points) that replace :data:`FONT_SIZE` and :data:`SMALL_FONT_SIZE`.
    font_family : tuple of str
        Preferred sans-serif fonts, first available wins (empty: matplotlib's default).
    description : str
        What the style is for and where its numbers come from.
    """

    name: str
    width: float | None
    font_size: float
    small_font_size: float
    font_family: tuple[str, ...]
    description: str

    @property
    def scale(self) -> float:
        """Factor applied to every text size (relative to the default style)."""
        return self.font_size / FONT_SIZE


#: The named styles of :func:`apply_style` and :func:`figure_style`.
STYLES: dict[str, FigureStyle] = {
    s.name: s
    for s in (
        FigureStyle("default", None, FONT_SIZE, SMALL_FONT_SIZE, (),
                    "alliancestats' own look: 9/8 pt text, figure sizes as drawn"),
        FigureStyle("apa", 6.5, 10.0, 9.0, _SANS,
                    "APA 7th edition: sans-serif text between 8 and 14 pt in the image; 6.5 in "
                    "is the text width of a letter page with 1-inch margins"),
        FigureStyle("single_column", 90 * _MM, 8.0, 7.0, _SANS,
                    "one journal column, 90 mm wide, 8/7 pt text"),
        FigureStyle("one_and_half_column", 140 * _MM, 8.5, 7.5, _SANS,
                    "one and a half journal columns, 140 mm wide"),
        FigureStyle("double_column", 190 * _MM, 9.0, 8.0, _SANS,
                    "full page width in a two-column journal, 190 mm wide"),
    )
}

# figures restyled so far and the scale their text is at, so that a second call rescales from
# the original sizes instead of compounding
_APPLIED: weakref.WeakKeyDictionary[Figure, float] = weakref.WeakKeyDictionary()


def get_style(style: str | FigureStyle | None) -> FigureStyle:
    """The :class:`FigureStyle` for a name (``None`` is ``"default"``).

    Examples
    --------
    >>> get_style("apa").font_size
    10.0
    """
    if style is None:
        return STYLES["default"]
    if isinstance(style, FigureStyle):
        return style
    if isinstance(style, str) and style in STYLES:
        return STYLES[style]
    raise ParameterError(
        f"style must be one of {sorted(STYLES)} or a FigureStyle, got {style!r}"
    )


def readable_label(name: Any) -> str:
    """A column name as a reader would write it: ``"treatment_arm"`` -> ``"Treatment arm"``.

    Examples
    --------
    >>> readable_label("treatment_arm"), readable_label("ODI"), readable_label("arm")
    ('Treatment arm', 'ODI', 'Arm')
    """
    text = str(name).replace("_", " ").strip()
    if not text or text.isupper():
        return text
    return text[0].upper() + text[1:]


def _available(families: tuple[str, ...]) -> list[str]:
    """The installed fonts among ``families`` (matplotlib warns for every missing one)."""
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [f for f in families if f in installed]


def _figure_of(target: Any) -> Figure:
    if isinstance(target, Figure):
        return target
    if isinstance(target, Axes | SubFigure):
        fig = target.figure
        while isinstance(fig, SubFigure):
            fig = fig.figure
        return fig
    if isinstance(target, np.ndarray | list | tuple) and len(target):
        return _figure_of(np.ravel(np.asarray(target, dtype=object))[0])
    raise ParameterError(
        f"apply_style needs a matplotlib Figure or Axes (or an array of Axes), got "
        f"{type(target).__name__}"
    )


def apply_style(target: Any, style: str | FigureStyle | None = "default") -> Figure:
    """Resize a drawn figure to a style's width and rescale all its text.

    Parameters
    ----------
    target : Figure, Axes or array of Axes
        What a plotting function returned (or its figure).
    style : str or FigureStyle, default "default"
        A name from :data:`STYLES` or a :class:`FigureStyle`.

    Returns
    -------
    matplotlib.figure.Figure
        The same figure, changed in place. Calling again with another style starts from the
        figure's original text sizes.

    Notes
    -----
    The height follows the width when the width grows, and shrinks no more than the text does
    when it narrows, so rows of text (forest plots, small multiples) keep their room.
    """
    spec = get_style(style)
    fig = _figure_of(target)
    before = _APPLIED.get(fig, 1.0)
    factor = spec.scale / before
    family = _available(spec.font_family) or None
    ticks: set[int] = set()
    for ax in fig.get_axes():
        for axis, name in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            labels = axis.get_ticklabels(which="both")
            for tick in [*axis.get_major_ticks(), *axis.get_minor_ticks()]:
                ticks.update((id(tick.label1), id(tick.label2)))
            size = labels[0].get_fontsize() if labels else SMALL_FONT_SIZE * before
            params: dict[str, Any] = {"labelsize": size * factor}
            if family:
                params["labelfontfamily"] = family
            ax.tick_params(axis=name, which="both", **params)
    for text in fig.findobj(Text):
        if id(text) in ticks:
            continue
        text.set_fontsize(text.get_fontsize() * factor)
        if family:
            text.set_fontfamily(family)
    _APPLIED[fig] = spec.scale
    size = tuple(fig.get_size_inches())
    if spec.width is not None and abs(size[0] - spec.width) > 1e-6:
        fig.set_size_inches(*styled_size(size, spec, factor))
    return fig


def styled_size(size: tuple[float, float], style: str | FigureStyle | None,
                text_factor: float | None = None) -> tuple[float, float]:
    """The size (inches) a figure drawn at ``size`` gets in ``style``.

    The width becomes the style's width; the height follows it when the figure widens and
    shrinks no more than the text does when it narrows (capped at 9 inches).

    Examples
    --------
    >>> styled_size((4.5, 3.2), "double_column")[0] * 25.4
    190.0
    """
    spec = get_style(style)
    width, height = size
    if spec.width is None:
        return float(width), float(height)
    factor = spec.scale if text_factor is None else text_factor
    ratio = spec.width / width
    return float(spec.width), float(min(height * max(ratio, factor), 9.0))


@contextmanager
def figure_style(style: str | FigureStyle | None = "default") -> Iterator[FigureStyle]:
    """Draw and save figures with a style's fonts, editable vector text and the palette.

    Inside the block, SVG files keep text as text (``svg.fonttype = "none"``) and PDF/PS
    embed TrueType fonts (Type 42), so labels stay editable in Illustrator or Inkscape; the
    colour cycle is :data:`PALETTE`; with a non-default style, text uses its font family.

    Parameters
    ----------
    style : str or FigureStyle, default "default"
        A name from :data:`STYLES` or a :class:`FigureStyle`.

    Yields
    ------
    FigureStyle
        The style in force inside the block.

    Examples
    --------
    >>> import matplotlib as mpl
    >>> with figure_style("apa") as style:
    ...     mpl.rcParams["svg.fonttype"], style.name
    ('none', 'apa')
    """
    spec = get_style(style)
    rc: dict[str, Any] = {
        "svg.fonttype": "none",
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "axes.prop_cycle": mpl.cycler(color=list(PALETTE)),
    }
    family = _available(spec.font_family)
    if family:
        rc["font.family"] = "sans-serif"
        rc["font.sans-serif"] = [*family, *mpl.rcParams["font.sans-serif"]]
    with mpl.rc_context(rc):
        yield spec


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
