"""Which patients have enough session scores for a sudden-gains analysis.

Two rules from the R package suddengains 0.7.2 (Wiedemann et al. 2020, PLOS ONE
15(3):e0230276; ``select_cases``):

* ``"pattern"``: the patient's sequence of present (P) and missing (m) scores contains, at
  consecutive sessions, one of ``P P P P``, ``P P P m P``, ``P m P P P`` or ``P m P P m P`` --
  the patterns in which at least one interval can be judged on all three Tang & DeRubeis
  criteria (both scores present, two scores in each window);
* ``"min_sess"``: at least ``min_sessions`` scores present.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.alliance import select_cases
>>> d = pd.DataFrame({"patient": ["a"] * 5 + ["b"] * 3, "session": [1, 2, 3, 4, 6, 1, 3, 6],
...                   "bdi": [20.0, 18, 15, 14, 12, 30, 28, 25]})
>>> select_cases(d, "bdi")
  patient  n_scores  selected
0       a         5      True
1       b         3     False
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import check_choice, check_int
from alliancestats.alliance.series import session_series
from alliancestats.errors import ParameterError

__all__ = ["PATTERNS", "select_cases"]

#: Present (1) / missing (0) runs that let at least one interval be judged (suddengains).
PATTERNS = ((1, 1, 1, 1), (1, 1, 1, 0, 1), (1, 0, 1, 1, 1), (1, 0, 1, 1, 0, 1))


def _contains(present: np.ndarray, pattern: tuple[int, ...]) -> np.ndarray:
    """Per row: does the 0/1 sequence contain ``pattern`` at consecutive positions?"""
    n, k = present.shape
    width = len(pattern)
    if k < width:
        return np.zeros(n, dtype=bool)
    windows = np.lib.stride_tricks.sliding_window_view(present, width, axis=1)
    return (windows == np.asarray(pattern)).all(axis=2).any(axis=1)


def select_cases(
    data: Any,
    score: str,
    *,
    patient: str = "patient",
    session: str = "session",
    method: str = "pattern",
    min_sessions: int | None = None,
    sessions: int | tuple[int, int] | None = None,
    wide_pattern: str | re.Pattern | None = None,
) -> pd.DataFrame:
    """Flag the patients whose scores allow a sudden-gains analysis.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long data, or wide data with ``wide_pattern`` (as :func:`alliancestats.sudden_gains`).
    score : str
        Score column (long) or variable stem (wide).
    patient, session : str
        Patient ID and session-number columns.
    method : {"pattern", "min_sess"}
        Selection rule (see the module notes).
    min_sessions : int, optional
        Minimum number of scores for ``method="min_sess"`` (required there).
    sessions : int or (int, int), optional
        Inclusive range of session numbers considered.
    wide_pattern : str or re.Pattern, optional
        Wide column names, e.g. ``"{var}_s{session}"``.

    Returns
    -------
    pandas.DataFrame
        One row per patient: ``patient``, ``n_scores`` (scores present in the range) and
        ``selected``.

    Notes
    -----
    Session numbers come from the data, so a missed session counts as missing in the pattern.
    Validated against the testthat cases of suddengains 0.7.2 (both rules, exact).
    """
    check_choice("method", method, ("pattern", "min_sess"))
    series = session_series(data, score, patient=patient, session=session,
                            wide_pattern=wide_pattern, sessions=sessions,
                            function="select_cases")
    present = (~np.isnan(series.values)).astype(np.int8)
    n_scores = present.sum(axis=1)
    if method == "pattern":
        if min_sessions is not None:
            raise ParameterError("min_sessions is used with method='min_sess' only")
        selected = np.zeros(len(present), dtype=bool)
        for pattern in PATTERNS:
            selected |= _contains(present, pattern)
    else:
        if min_sessions is None:
            raise ParameterError("method='min_sess' needs min_sessions= (e.g. 5)")
        minimum = check_int("min_sessions", min_sessions)
        if minimum > series.sessions.size:
            raise ParameterError(
                f"min_sessions={minimum} is more than the {series.sessions.size} sessions in "
                "the range"
            )
        selected = n_scores >= minimum
    return pd.DataFrame(
        {"patient": series.patients, "n_scores": n_scores.astype(np.int64), "selected": selected}
    )
