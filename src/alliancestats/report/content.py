"""What a report section holds: paragraphs, tables and figures, and how it ended.

A section's ``run`` function fills a :class:`SectionOutput` with blocks in reading order --
:class:`Text` (Markdown), :class:`Heading`, :class:`Table` (a DataFrame written to CSV and
shown inline when short) and :class:`Figure` (PNG and SVG files) -- and the pipeline records
whether it ran, was skipped (the configuration or the data do not allow it; the reason is
shown in the report) or failed (the error is shown, the rest of the report goes on).

Examples
--------
>>> out = SectionOutput("descriptives", "Descriptive statistics")
>>> out.text("Patients were seen weekly.")
>>> [type(b).__name__ for b in out.blocks], out.status
(['Text'], 'ok')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = [
    "Figure",
    "Heading",
    "SectionOutput",
    "SectionSkipped",
    "Table",
    "Text",
]


class SectionSkipped(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a section that cannot run on this configuration or data; says why."""


@dataclass
class Text:
    """A paragraph of Markdown (inline code, emphasis, lists; raw HTML is shown as text)."""

    markdown: str


@dataclass
class Heading:
    """A sub-heading inside a section (e.g. one fitted model)."""

    title: str


@dataclass
class Table:
    """A table written as ``path`` (CSV) and shown inline when it has few rows."""

    title: str
    frame: pd.DataFrame
    path: Path
    caption: str = ""
    inline: bool = True


@dataclass
class Figure:
    """A figure written as PNG and SVG (``png`` and ``svg`` relative to the output folder)."""

    title: str
    png: Path
    svg: Path
    caption: str = ""


@dataclass
class SectionOutput:
    """The content and the outcome of one report section.

    Attributes
    ----------
    key, title : str
        Configuration table name and heading.
    blocks : list
        :class:`Text`, :class:`Heading`, :class:`Table` and :class:`Figure` in reading order.
    files : list of (str, pathlib.Path)
        Other files written (model summaries as text), with a title.
    status : {"ok", "skipped", "failed"}
        How the section ended.
    reason : str
        Why it was skipped or failed.
    warnings : list of str
        Warnings raised while it ran (convergence, singular fits, dropped rows).
    """

    key: str
    title: str
    blocks: list = field(default_factory=list)
    files: list[tuple[str, Path]] = field(default_factory=list)
    status: str = "ok"
    reason: str = ""
    warnings: list[str] = field(default_factory=list)

    def text(self, markdown: str) -> None:
        """Add a paragraph."""
        self.blocks.append(Text(markdown))

    def heading(self, title: str) -> None:
        """Add a sub-heading."""
        self.blocks.append(Heading(title))

    @property
    def tables(self) -> list[Table]:
        """The tables, in order."""
        return [b for b in self.blocks if isinstance(b, Table)]

    @property
    def figures(self) -> list[Figure]:
        """The figures, in order."""
        return [b for b in self.blocks if isinstance(b, Figure)]
