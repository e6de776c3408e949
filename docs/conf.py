"""Sphinx configuration for the alliancestats documentation (install with ``pip install .[docs]``).

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (CI does the same
with a fresh execution cache; warnings are errors). The build needs no network: there is no
intersphinx, and every figure is drawn from bundled sample data while the pages are executed.

Executed pages
    The example notebooks live in ``notebooks/`` at the repository root (where the test suite runs
    them); Sphinx only reads sources below ``docs/``, so :func:`_copy_notebooks` copies them into
    ``docs/notebooks/`` (git-ignored) before the sources are read. The landing page, the gallery
    and some user-guide pages are MyST markdown notebooks (``file_format: mystnb``) whose code
    cells run during the build. myst-nb executes all of them once and keeps the results in a
    jupyter-cache directory, so an unchanged page is not executed again. The cache lives in
    ``docs/_build/.jupyter_cache`` unless ``ALLIANCESTATS_DOCS_CACHE`` names another directory.
"""

import os
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
# The pages' kernels inherit this environment. Without MPLBACKEND they use the inline backend,
# so plt.show() puts each figure into the page; a backend such as "Agg" (CI exports it for the
# test suite) would draw nothing into the pages.
os.environ.pop("MPLBACKEND", None)

project = "alliancestats"
author = "alliancestats developers"
copyright = "2026, alliancestats developers (GPL-3.0-or-later)"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]
# No sphinx.ext.intersphinx: it downloads other projects' inventories at build time, and the
# build must work (and pass with warnings as errors) without a network.

# --- API reference ----------------------------------------------------------------------------
autosummary_generate = True  # writes docs/generated/ (git-ignored)
templates_path = ["_templates"]  # autosummary/class.rst: classes list their public methods
autodoc_typehints = "none"  # types are given in the numpydoc Parameters sections
numpydoc_show_class_members = False  # the class template lists members instead
numpydoc_class_members_toctree = False

# numpydoc validation, chosen deliberately. Reported (and so fatal under -W) are the checks
# whose failure misleads a reader of the API reference: an object without a docstring or a
# summary (GL08, SS01), a parameter of the signature left undocumented (PR01), a documented
# parameter the function does not have (PR02) and a parameter without a description (PR07).
# Not reported: the order of parameters and sections (the reader finds them either way, and
# keyword-only signatures are often grouped by topic in the text), style-only checks
# (capitalisation, verb mood, line layout) and sections that are optional here (See Also,
# extended summary, Examples on every method, a type on every parameter, a Returns section on
# every property, a description under a return type such as ``matplotlib.axes.Axes`` that
# already says what comes back).
numpydoc_validation_checks = {"GL08", "SS01", "PR01", "PR02", "PR07"}
# Module-level constants (dicts, tuples) carry the docstring of their type; the API page
# describes them in its text.
numpydoc_validation_exclude = {
    r"\.PROBLEM_KINDS$", r"\.STYLES$", r"\.SAMPLES$", r"\.DEFAULT_METHODS$",
    r"\.WAI_SR_SUBSCALES$",
}
numpydoc_validation_overrides = {
    # Result containers document their fields under "Attributes": users read them, the library
    # builds them, so their constructor parameters need no second description.
    "PR01": [r"(?m)^\s*Attributes\n\s*-{3,}\s*$"],
}

# --- pages ------------------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_cache_path = os.environ.get(
    "ALLIANCESTATS_DOCS_CACHE", str(DOCS_DIR / "_build" / ".jupyter_cache")
)
nb_execution_timeout = 300  # seconds per cell; the slowest notebook cell takes about 20 s
nb_execution_raise_on_error = True  # a failing cell fails the build, never a published traceback
nb_execution_show_tb = True  # ... and the log shows the traceback
nb_merge_streams = True

html_theme = "pydata_sphinx_theme"
html_title = "alliancestats"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"index": []}
exclude_patterns = ["_build", "**.ipynb_checkpoints", "_templates"]
