"""Session-data loaders: files or DataFrames in, a validated canonical long table out.

:func:`load_sessions` reads CSV/TSV, Excel, SPSS, Stata, Parquet or a DataFrame, maps the
columns to standard names (``patient``, ``therapist``, ``session``, ``alliance``, outcome and
covariate names), reshapes wide data, turns session dates into session order, scores
item-level questionnaires and validates every row, returning a :class:`SessionData`.
:func:`read_table` reads a file's cells without interpreting them.

A typical session
-----------------
1. Load strictly (the default). Any problem raises one
   :class:`~alliancestats.errors.DataValidationError`; ``err.problems`` has one line per
   problem (``file, row, column, value, reason, kind``) with the row as you see it in the
   file (header = row 1 for text and Excel files).
2. Fix the file, or load with ``strict=False``: rows with problems are dropped and listed in
   ``SessionData.dropped``; ``n_read == n_kept + n_dropped`` always.
3. Check ``SessionData.summary()``: patients, therapists, sessions per patient, missing
   values per column, drops by reason, gaps in session numbers, early dropout.
4. Analyse ``SessionData.data``: one row per patient-session, sorted, with ``source_row``.

Problem kinds are listed in :data:`PROBLEM_KINDS`.

Modules: :mod:`.readers` (file formats), :mod:`.mapping` (column roles), :mod:`.reshape`
(wide to long, dates to session order), :mod:`.convert` (cell conversion),
:mod:`.validation` (problem collection), :mod:`.items` (item-level scoring),
:mod:`.session_data` (:class:`SessionData`), :mod:`.load` (:func:`load_sessions`).

Examples
--------
>>> import pandas as pd
>>> from alliancestats.io import load_sessions
>>> from alliancestats.errors import DataValidationError
>>> df = pd.DataFrame({"id": ["a", "a", "b"], "visit": [1, 2, 1], "wai": [3.5, 4.0, 6.0]})
>>> try:
...     load_sessions(df, patient="id", session="visit", alliance="wai",
...                   scales={"alliance": "wai_sr"})
... except DataValidationError as err:
...     print(err.problems[["row", "column", "value", "kind"]])
   row column value          kind
0    2    wai   6.0  out_of_range
>>> sd = load_sessions(df, patient="id", session="visit", alliance="wai",
...                    scales={"alliance": "wai_sr"}, strict=False, warn=False)
>>> sd.n_read, sd.n_kept, sd.n_dropped
(3, 2, 1)
>>> sd.data.columns.tolist()
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
