"""Repeated-measures correlation, Cronbach's alpha and rater ICCs on session data (pingouin).

Thin wrappers that accept a ``SessionData`` (or a DataFrame) with alliancestats' column names,
report dropped rows instead of discarding them silently, and return tidy results; the
statistics are pingouin's (Vallat 2018, J Open Source Softw 3(31)):

* :func:`rm_corr` -- repeated-measures correlation (Bakdash & Marusich 2017, Front Psychol
  8:456): the common within-patient association of two session-level measures;
* :func:`cronbach_alpha` -- Cronbach's (1951) alpha with Feldt's confidence interval;
* :func:`intraclass_corr` -- Shrout & Fleiss (1979) ICCs (e.g. patients rated at several
  sessions, or by several raters).

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=4, seed=2).dropna(subset=["alliance", "pain"])
>>> res = als.rm_corr(df, "alliance", "pain")
>>> list(res.index)
['r', 'dof', 'p', 'ci_low', 'ci_high', 'power', 'n_rows', 'n_patients']
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import (
    as_frame,
    check_choice,
    check_level,
    column_names,
    id_column,
    numeric_column,
    require_columns,
)
from alliancestats.errors import DataValidationError, DroppedRowsWarning

__all__ = ["cronbach_alpha", "intraclass_corr", "rm_corr"]

#: pingouin's ICC labels -> psych's (Shrout & Fleiss 1979 numbering)
_PSYCH_NAMES = {"ICC(1,1)": "ICC1", "ICC(A,1)": "ICC2", "ICC(C,1)": "ICC3",
                "ICC(1,k)": "ICC1k", "ICC(A,k)": "ICC2k", "ICC(C,k)": "ICC3k"}


@contextlib.contextmanager
def _quiet_pingouin() -> Iterator[None]:
    """Silence pingouin's own notices about deprecated pandas use (nothing a user can act on)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", module="pingouin")
        yield


def _complete(frame: pd.DataFrame, ids: list[str], values: list[str], function: str,
              what: str) -> pd.DataFrame:
    """Identifier and numeric columns, rows with a missing value dropped with a warning."""
    require_columns(frame, [*ids, *values], function)
    out = pd.DataFrame({c: id_column(frame, c, function) for c in ids})
    for c in values:
        out[c] = numeric_column(frame, c, function)
    keep = out[values].notna().all(axis=1)
    if not keep.all():
        warnings.warn(
            f"{function}: {int((~keep).sum())} of {len(out)} rows dropped because {what} is "
            "missing",
            DroppedRowsWarning,
            stacklevel=3,
        )
    return out.loc[keep]


def rm_corr(data: Any, x: str, y: str, *, patient: str = "patient") -> pd.Series:
    """Repeated-measures correlation of two session-level measures within patients.

    Parameters
    ----------
    data : pandas.DataFrame or SessionData
        One row per session.
    x, y : str
        The two numeric columns (e.g. ``"alliance"`` and ``"pain"``).
    patient : str, default "patient"
        Column identifying the patient.

    Returns
    -------
    pandas.Series
        ``r, dof, p, ci_low, ci_high, power`` (pingouin's ``rm_corr``; its CI is rounded to
        two decimals), ``n_rows`` and ``n_patients`` used.

    Raises
    ------
    DataValidationError
        Missing or non-numeric columns, or fewer than three rows or two patients.

    Warns
    -----
    DroppedRowsWarning
        Rows where ``x`` or ``y`` is missing.

    Notes
    -----
    ``r`` is the partial correlation of ``x`` and ``y`` after removing patient means (an
    ANCOVA with a patient factor). Validated against that definition computed with R 4.2.2
    ``lm`` on simulated WAI-SR ratings: r and p within 1e-10.

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=4, seed=2).dropna(subset=["alliance", "pain"])
    >>> bool(als.rm_corr(df, "alliance", "pain")["r"] < 0)
    True
    """
    import pingouin as pg

    frame = as_frame(data, "rm_corr")
    d = _complete(frame, [patient], column_names([x, y], "x and y"), "rm_corr", "x or y")
    if len(d) < 3 or d[patient].nunique() < 2:
        raise DataValidationError("rm_corr needs at least three rows from two or more patients")
    with _quiet_pingouin():
        res = pg.rm_corr(data=d, x=x, y=y, subject=patient).iloc[0]
    ci = np.asarray(res[next(k for k in res.index if str(k).startswith("CI95"))], dtype=float)
    return pd.Series(
        {"r": float(res["r"]), "dof": float(res["dof"]), "p": float(res["pval"]),
         "ci_low": ci[0], "ci_high": ci[1], "power": float(res["power"]),
         "n_rows": len(d), "n_patients": int(d[patient].nunique())},
        name="rm_corr",
    )


def cronbach_alpha(data: Any, items: Any, *, level: float = 0.95,
                   missing: str = "pairwise") -> pd.Series:
    """Cronbach's alpha of item columns, with a confidence interval.

    Parameters
    ----------
    data : pandas.DataFrame or SessionData
        One row per administration (e.g. per session), one column per item.
    items : list of str
        Item columns (at least two).
    level : float, default 0.95
        Confidence level of Feldt's interval.
    missing : {"pairwise", "listwise"}
        Pairwise-complete covariances (pingouin's default) or complete rows only.

    Returns
    -------
    pandas.Series
        ``alpha, ci_low, ci_high, n_items, n_rows``.

    Raises
    ------
    DataValidationError
        Missing or non-numeric columns or fewer than two items.

    Notes
    -----
    Rows of repeated sessions are not independent, so the interval is too narrow for
    session data; for within- and between-patient consistency see
    :func:`~alliancestats.effects.within_between_alpha`. Validated against psych 2.2.9
    ``alpha()`` (raw alpha) on simulated WAI-SR ratings (all sessions; first sessions):
    within 1e-10.

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=4, items=True, seed=2)
    >>> res = als.cronbach_alpha(df, [f"wai_{i}" for i in range(1, 13)])
    >>> bool(res["ci_low"] < res["alpha"] < res["ci_high"])
    True
    """
    import pingouin as pg

    frame = as_frame(data, "cronbach_alpha")
    items = column_names(items, "items")
    if len(items) < 2:
        raise DataValidationError(f"cronbach_alpha needs at least two items, got {items}")
    level = check_level(level)
    check_choice("missing", missing, ("pairwise", "listwise"))
    require_columns(frame, items, "cronbach_alpha")
    values = pd.DataFrame({c: numeric_column(frame, c, "cronbach_alpha") for c in items})
    with _quiet_pingouin():
        alpha, ci = pg.cronbach_alpha(data=values, nan_policy=missing, ci=level)
    n = len(values) if missing == "pairwise" else int(values.notna().all(axis=1).sum())
    return pd.Series(
        {"alpha": float(alpha), "ci_low": float(ci[0]), "ci_high": float(ci[1]),
         "n_items": len(items), "n_rows": n},
        name="cronbach_alpha",
    )


def intraclass_corr(data: Any, ratings: str, *, targets: str = "patient",
                    raters: str = "session") -> pd.DataFrame:
    """Intraclass correlations of ratings of targets by raters (Shrout & Fleiss 1979).

    Parameters
    ----------
    data : pandas.DataFrame or SessionData
        Long format, one row per target and rater.
    ratings : str
        Numeric rating column (e.g. ``"alliance"``).
    targets : str, default "patient"
        Column identifying what is rated.
    raters : str, default "session"
        Column identifying who (or when) rates; with sessions as raters the ICC describes
        how stable patients' ratings are across sessions.

    Returns
    -------
    pandas.DataFrame
        One row per ICC type (``ICC1, ICC2, ICC3, ICC1k, ICC2k, ICC3k`` as psych names them;
        pingouin's label in ``pingouin_type``), columns ``icc, F, df1, df2, p, ci_low,
        ci_high``.

    Raises
    ------
    DataValidationError
        Missing columns, non-numeric ratings, or an unbalanced design (every target must be
        rated by every rater).

    Warns
    -----
    DroppedRowsWarning
        Rows with a missing rating.

    Notes
    -----
    Validated against psych 2.2.9 ``ICC()`` on simulated alliance ratings of 40 patients at
    6 sessions: ICC, F, df and p within 1e-10 (pingouin rounds the interval ends to two
    decimals).

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=3, patients_per_therapist=4, sessions=4,
    ...                            missed_session_rate=0, dropout_rate=0,
    ...                            missing_alliance_rate=0, seed=2)
    >>> list(als.intraclass_corr(df, "alliance").index)
    ['ICC1', 'ICC2', 'ICC3', 'ICC1k', 'ICC2k', 'ICC3k']
    """
    import pingouin as pg

    frame = as_frame(data, "intraclass_corr")
    d = _complete(frame, [targets, raters], [ratings], "intraclass_corr", "the rating")
    counts = d.groupby(targets)[raters].nunique()
    if counts.nunique() != 1 or counts.iloc[0] != d[raters].nunique():
        raise DataValidationError(
            f"intraclass_corr needs every {targets} rated by every {raters} (a balanced "
            f"design); {int((counts < d[raters].nunique()).sum())} of {len(counts)} targets "
            "miss some raters"
        )
    with _quiet_pingouin():
        res = pg.intraclass_corr(data=d, targets=targets, raters=raters, ratings=ratings)
    res = res.set_index(res["Type"].map(_PSYCH_NAMES)).loc[list(_PSYCH_NAMES.values())]
    ci = np.vstack(res["CI95"].to_numpy()).astype(float)
    return pd.DataFrame(
        {"pingouin_type": res["Type"].to_numpy(), "icc": res["ICC"].to_numpy(float),
         "F": res["F"].to_numpy(float), "df1": res["df1"].to_numpy(float),
         "df2": res["df2"].to_numpy(float), "p": res["pval"].to_numpy(float),
         "ci_low": ci[:, 0], "ci_high": ci[:, 1]},
        index=pd.Index(list(_PSYCH_NAMES.values()), name="type"),
    )
