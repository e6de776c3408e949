"""Sphinx configuration for the alliancestats documentation (install with ``pip install .[docs]``).

Build with ``sphinx-build -b html docs docs/_build/html``. The example notebooks live in
``notebooks/`` at the repository root (where the test suite runs them); Sphinx only reads sources
below ``docs/``, so :func:`_copy_notebooks` copies them into ``docs/notebooks/`` (git-ignored)
before the sources are read.
"""

import shutil
from pathlib import Path

DOCS_DIR = Path(__file__).resolve().parent
NOTEBOOK_SOURCE = DOCS_DIR.parent / "notebooks"
NOTEBOOK_COPY = DOCS_DIR / "notebooks"  # generated at build time, listed in .gitignore


def _copy_notebooks() -> None:
    """Mirror ``../notebooks/*.ipynb`` into ``docs/notebooks/``, keeping modification times.

    Copies only files that changed, so incremental builds do not re-read unchanged notebooks,
    and removes copies whose original was deleted.
    """
    NOTEBOOK_COPY.mkdir(exist_ok=True)
    originals = {p.name: p for p in NOTEBOOK_SOURCE.glob("*.ipynb")}
    for stale in NOTEBOOK_COPY.glob("*.ipynb"):
        if stale.name not in originals:
            stale.unlink()
    for name, original in originals.items():
        copy = NOTEBOOK_COPY / name
        if not copy.exists() or copy.stat().st_mtime_ns != original.stat().st_mtime_ns:
            shutil.copy2(original, copy)


_copy_notebooks()

project = "alliancestats"
author = "alliancestats developers"
copyright = "2026, alliancestats developers (GPL-3.0-or-later)"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_nb",
]
autosummary_generate = True  # writes docs/generated/ (git-ignored)
numpydoc_show_class_members = False
# The notebooks are stored without outputs; the test suite checks them (pytest --nbmake) and the
# docs build executes them once more so the rendered pages show tables and figures. A failing
# cell fails the build rather than publishing a page with a traceback.
nb_execution_mode = "auto"
nb_execution_timeout = 300
nb_execution_raise_on_error = True
html_theme = "pydata_sphinx_theme"
html_title = "alliancestats"
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "numpy": ("https://numpy.org/doc/stable", None),
}
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
