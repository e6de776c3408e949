"""Session-data loaders: files or DataFrames in, a validated canonical long table out.

:func:`load_sessions` reads CSV/TSV, Excel, SPSS, Stata, Parquet or a DataFrame, maps the
columns to standard names (``patient``, ``therapist``, ``session``, ``alliance``, outcome and
covariate names), reshapes wide data, turns session dates into session order, scores
item-level questionnaires and validates every row, returning a :class:`SessionData`.
:func:`read_table` reads a file's cells without interpreting them.

Modules: :mod:`.readers` (file formats), :mod:`.mapping` (column roles), :mod:`.reshape`
(wide to long, dates to session order), :mod:`.convert` (cell conversion),
:mod:`.validation` (problem collection), :mod:`.items` (item-level scoring),
:mod:`.session_data` (:class:`SessionData`), :mod:`.load` (:func:`load_sessions`).

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io import load_sessions
>>> df = pd.DataFrame({"id": ["a", "a"], "visit": [1, 2], "wai": [3.5, 4.0]})
>>> load_sessions(df, patient="id", session="visit", alliance="wai").data.columns.tolist()
['patient', 'session', 'alliance', 'source_row']
"""

from alliancestats.io.load import load_sessions
from alliancestats.io.readers import RawTable, read_table
from alliancestats.io.session_data import SessionData, SessionSummary
from alliancestats.io.validation import PROBLEM_KINDS

__all__ = [
    "PROBLEM_KINDS",
    "RawTable",
    "SessionData",
    "SessionSummary",
    "load_sessions",
    "read_table",
]
