"""The figure gallery (docs/gallery/) draws every figure function of ``alliancestats.plot``.

The gallery pages are executed when the documentation is built, so a function that is called
in one of their code cells is shown with the code that drew it.
"""

from __future__ import annotations

import re
from pathlib import Path

from alliancestats import plot

GALLERY = Path(__file__).resolve().parents[1] / "docs" / "gallery"


def _gallery_code() -> str:
    cells = []
    for page in sorted(GALLERY.glob("*.md")):
        cells += re.findall(r"```\{code-cell\}[^\n]*\n(.*?)```", page.read_text("utf-8"), re.S)
    return "\n".join(cells)


def test_gallery_has_executed_pages():
    assert len(list(GALLERY.glob("*.md"))) >= 5
    assert "trajectories(" in _gallery_code()


def test_every_figure_function_is_drawn_in_the_gallery():
    code = _gallery_code()
    functions = [n for n in plot.__all__ if callable(getattr(plot, n))]
    assert len(functions) > 15
    missing = [n for n in functions if not re.search(rf"\b{n}\(", code)]
    assert not missing, f"figure functions not drawn in docs/gallery: {missing}"
