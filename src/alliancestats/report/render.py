"""Writing the report: ``index.md`` and a self-contained ``index.html``.

Templates are jinja2 (``templates/report.md.j2`` and ``report.html.j2``); Markdown paragraphs
become HTML through markdown-it-py (CommonMark with tables; raw HTML in a paragraph is shown
as text, so nothing from a data file can inject markup). The HTML file embeds its figures as
PNG data, so it can be mailed or moved on its own; the CSV, PNG and SVG files sit next to it.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd
from markdown_it import MarkdownIt

__all__ = ["environment", "format_cell", "render_html", "render_markdown", "table_rows"]

_MD = MarkdownIt("commonmark", {"html": False}).enable("table")


def format_cell(value: Any) -> str:
    """A cell as shown in the report (4 significant digits; full precision stays in CSV).

    Examples
    --------
    >>> format_cell(0.123456), format_cell(12345.678), format_cell(3), format_cell(None)
    ('0.1235', '12345.68', '3', '')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "Inf" if value > 0 else "-Inf"
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.3g}"
        return f"{value:.4g}" if abs(value) < 1000 else f"{value:.2f}"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return str(value)


def table_rows(frame: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and formatted rows of a table."""
    head = [str(c) for c in frame.columns]
    rows = [[format_cell(v.item() if hasattr(v, "item") else v) for v in row]
            for row in frame.itertuples(index=False, name=None)]
    return head, rows


def _md_cell(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _embed(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def environment(autoescape: bool) -> jinja2.Environment:
    """The jinja2 environment of the report templates (HTML when ``autoescape``)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("alliancestats.report", "templates"),
        autoescape=autoescape, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
    )
    env.filters["markdown"] = lambda text: markupsafe.Markup(_MD.render(text))
    env.filters["mdcell"] = _md_cell
    env.filters["posix"] = lambda p: Path(p).as_posix()
    env.globals["table_rows"] = table_rows
    env.globals["kind"] = lambda block: type(block).__name__
    return env


def render_markdown(context: dict[str, Any]) -> str:
    """``index.md`` from the report's sections."""
    return environment(False).get_template("report.md.j2").render(**context)


def render_html(context: dict[str, Any], out: Path) -> str:
    """``index.html`` with figures embedded (``out``: folder the figure paths are under)."""
    env = environment(True)
    env.globals["embed"] = lambda rel: _embed(out / rel)
    return env.get_template("report.html.j2").render(**context)
