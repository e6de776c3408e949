"""Sphinx configuration for the alliancestats documentation (install with ``pip install .[docs]``)."""

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
autosummary_generate = True
numpydoc_show_class_members = False
nb_execution_mode = "off"  # notebooks are executed by the test suite (pytest --nbmake)
html_theme = "pydata_sphinx_theme"
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "pandas": ("https://pandas.pydata.org/docs", None),
    "numpy": ("https://numpy.org/doc/stable", None),
}
exclude_patterns = ["_build"]
