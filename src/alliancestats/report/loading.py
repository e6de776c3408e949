"""Loading the study's data as the configuration's [data] table says.

Examples
--------
>>> from alliancestats.report.config import load_config
>>> cfg = load_config({"data": {"sample": "physio_cohort", "patient": "patient",
...                             "session": "session", "outcomes": ["pain"]}})
>>> load_study_data(cfg).n_patients
182
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from alliancestats.errors import ConfigError
from alliancestats.report.config import StudyConfig

__all__ = ["load_study_data", "source_name"]


def source_name(source: Any) -> str:
    """How to name the data source in the report."""
    if isinstance(source, Path):
        return source.name
    if isinstance(source, str):
        return f"bundled sample {source!r}"
    if isinstance(source, pd.DataFrame):
        return "a DataFrame"
    return type(source).__name__


def load_study_data(config: StudyConfig, source: Any = None) -> Any:
    """Load (and validate) the data: a :class:`~alliancestats.SessionData`.

    Parameters
    ----------
    config : StudyConfig
        Its [data] table holds the :func:`alliancestats.load_sessions` keywords; ``strict``
        defaults to False (problem rows are dropped and listed) and the loader's own warning
        is silenced because the report lists every drop.
    source : path, DataFrame or SessionData, optional
        Overrides ``file`` / ``sample`` of the configuration. A SessionData is used as it is.

    Returns
    -------
    SessionData
    """
    from alliancestats.datasets import sample_path
    from alliancestats.io import SessionData, load_sessions

    if isinstance(source, SessionData):
        return source
    src = config.data_source(source)
    options = {"strict": False, "warn": False, **config.load_options()}
    if "patient" not in options:
        raise ConfigError(
            'the [data] table must name the patient ID column, e.g. patient = "patient_id"'
        )
    if isinstance(src, str):  # a bundled sample by name
        src = sample_path(src)
    return load_sessions(src, **options)
