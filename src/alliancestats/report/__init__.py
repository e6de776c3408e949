"""Reports from a study configuration: the pipeline behind ``alliancestats report``.

One TOML file (column mapping, instruments, outcomes, models to fit, optional analyses)
produces a report with every table and figure the library offers -- data validation,
descriptives, attrition, trajectories, mixed models with within/between-patient effects,
ICC and R², sudden gains, ruptures, lagged effects, meta-analysis -- as ``index.html`` (one
self-contained file) and ``index.md``, each table as CSV and each figure as PNG and SVG.

* :func:`build_report` runs a configuration on data and writes the report;
* :func:`load_config` reads and checks a configuration; :func:`example_config_text` is the
  commented example that ``alliancestats init`` writes;
* :func:`validate_file` is ``alliancestats validate``: the loader's validation report;
* :func:`run_demo` is ``alliancestats demo``: the example configuration on the bundled
  sample.

Sections live in :mod:`alliancestats.report.sections`, one module each.

Examples
--------
>>> from alliancestats.report import example_config_text, load_config
>>> import tomllib
>>> cfg = load_config(tomllib.loads(example_config_text()))
>>> [m["name"] for m in cfg.sections["models"]]
['pain', 'odi', 'adherence']
"""

from __future__ import annotations

from alliancestats.report.config import StudyConfig, example_config_text, load_config
from alliancestats.report.demo import run_demo
from alliancestats.report.pipeline import Report, build_report
from alliancestats.report.validate import ValidationReport, validate_file

__all__ = [
    "Report",
    "StudyConfig",
    "ValidationReport",
    "build_report",
    "example_config_text",
    "load_config",
    "run_demo",
    "validate_file",
]
