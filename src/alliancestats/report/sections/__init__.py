"""The report's sections, one module each, run in the order of :data:`SECTION_MODULES`.

A section module defines ``SECTION``, a :class:`Section`: its configuration key (the TOML
table that switches it on and holds its options), its title, its options and a ``run(ctx,
options, out)`` function that writes tables and figures through the
:class:`~alliancestats.report.context.ReportContext` into the
:class:`~alliancestats.report.content.SectionOutput`. A section that cannot run on the data
raises :class:`~alliancestats.report.content.SectionSkipped` with the reason; any other error
is caught by the pipeline and shown in the report, so one analysis that fails never costs the
others.

Adding an analysis to the report is one module here plus its name in
:data:`SECTION_MODULES`.

Examples
--------
>>> [s.key for s in SECTIONS][:3]
['data', 'descriptives', 'attrition']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alliancestats.report.options import Option

__all__ = ["SECTIONS", "SECTION_MODULES", "Section", "defaults", "section"]


@dataclass(frozen=True)
class Section:
    """One part of the report.

    Attributes
    ----------
    key : str
        Name of its configuration table (``[ruptures]``, ``[[models]]``).
    title : str
        Heading in the report.
    run : callable
        ``run(ctx, options, out)``; ``options`` is the checked table (a list of tables when
        ``many``), or the defaults when the section runs without one.
    options : mapping of str to Option
        Keys its table accepts.
    always : bool
        Runs without a table in the configuration (with default options).
    many : bool
        Configured as an array of tables (``[[models]]``).
    summary : str
        What it shows, in one line (listed when it is not configured).
    """

    key: str
    title: str
    run: Callable[..., None]
    options: Mapping[str, Option] = field(default_factory=dict)
    always: bool = False
    many: bool = False
    summary: str = ""


#: section modules in report order
SECTION_MODULES = (
    "data",
    "descriptives",
    "attrition",
    "trajectories",
    "models",
    "effects",
    "sudden_gains",
    "ruptures",
    "monitoring",
    "lagged",
    "meta",
)


def _load() -> list[Section]:
    return [importlib.import_module(f"{__name__}.{name}").SECTION for name in SECTION_MODULES]


#: the sections, in report order
SECTIONS: list[Section] = _load()


def section(key: str) -> Section:
    """The section with configuration key ``key``."""
    for s in SECTIONS:
        if s.key == key:
            return s
    raise KeyError(key)


def defaults(key: str) -> dict[str, Any]:
    """The default options of section ``key``."""
    return {k: o.default for k, o in section(key).options.items()}
