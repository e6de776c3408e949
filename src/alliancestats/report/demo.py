"""The demo: the bundled example configuration run on the bundled sample cohort.

``alliancestats demo --out DIR`` is :func:`alliancestats.report.build_report` on the study
configuration that ``alliancestats init`` writes (:data:`~alliancestats.report.config.
DEMO_CONFIG`), which analyses the simulated physiotherapy cohort ``physio_cohort``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from alliancestats.report.config import example_config_text, load_config
from alliancestats.report.pipeline import Report, build_report

__all__ = ["run_demo"]


def run_demo(out: str | Path = "alliancestats-demo", *, progress: bool = False) -> Report:
    """Write the demo report to ``out`` (``index.md``, ``index.html``, tables, figures).

    Parameters
    ----------
    out : str or pathlib.Path, default "alliancestats-demo"
        Output folder.
    progress : bool, default False
        Progress bar on standard error.

    Returns
    -------
    Report
    """
    config = load_config(tomllib.loads(example_config_text()))
    return build_report(config, out=out, progress=progress, command="alliancestats demo")
