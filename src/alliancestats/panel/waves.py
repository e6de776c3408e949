"""Long session data to the wide layout of panel models: one row per patient, one column per
variable and wave.

A wave is a session number: session 3 is wave 3 for every patient. A session without a
record (or with a missing value) is a missing cell of that wave, never a reason to shift the
later sessions forward -- shifting would make "the next session" mean different time spans
for different patients and bias every lagged effect. Full-information ML then uses whatever
each patient has.

Checks (each failure names the offending rows): the patient and session columns exist and
have no missing values, sessions are whole numbers, no patient has the same session twice,
the analysed variables are numeric, time-invariant covariates and the group do not change
within a patient, and every analysed wave has enough observations to estimate its variance.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.panel.waves import to_wide
>>> long = pd.DataFrame({"patient": ["a", "a", "b", "b", "b", "c", "c"],
...                      "session": [1, 3, 1, 2, 3, 2, 3],
...                      "x": [1.0, 2.0, 3.0, 4.0, 5.0, 2.5, 3.5]})
>>> panel = to_wide(long, ["x"], patient="patient", session="session", function="example",
...                 min_observed=1)
>>> panel.waves, panel.wide.columns.tolist()
([1, 2, 3], ['x_1', 'x_2', 'x_3'])
>>> panel.wide.loc["a"].tolist()
[1.0, nan, 2.0]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import (
    as_frame,
    id_column,
    numeric_column,
    problems_frame,
    raise_problems,
    require_columns,
)
from alliancestats.errors import (
    DataQualityWarning,
    DataValidationError,
    DroppedRowsWarning,
    ParameterError,
)

__all__ = ["WidePanel", "to_wide", "wave_name"]


def wave_name(variable: str, wave: int) -> str:
    """Column name of ``variable`` at ``wave`` in the wide layout (``"alliance_3"``)."""
    return f"{variable}_{wave}"


@dataclass
class WidePanel:
    """Wide data for a panel model.

    Attributes
    ----------
    wide : pandas.DataFrame
        One row per patient (index: patient IDs, sorted), columns ``<variable>_<wave>`` for
        every variable and wave, then the time-invariant covariates.
    waves : list of int
        The session numbers analysed, consecutive.
    groups : list
        Group labels (sorted) when a group column was given, else ``[None]``.
    group_of : pandas.Series or None
        Group label of each patient.
    dropped : pandas.DataFrame
        Rows or patients left out, with columns ``row, column, value, reason``.
    """

    wide: pd.DataFrame
    waves: list[int]
    groups: list[Any]
    group_of: pd.Series | None
    dropped: pd.DataFrame = field(default_factory=lambda: problems_frame([], "", [], ""))

    def arrays(self, columns: Sequence[str]) -> list[np.ndarray]:
        """The ``columns`` as one float array per group (patients in index order)."""
        values = self.wide[list(columns)].to_numpy(dtype=float)
        if self.group_of is None:
            return [values]
        return [values[(self.group_of == g).to_numpy()] for g in self.groups]


def _waves(value: Any, sessions: pd.Series, function: str) -> list[int]:
    if value is None:
        return list(range(int(sessions.min()), int(sessions.max()) + 1))
    if isinstance(value, Integral) and not isinstance(value, bool):
        if value < 2:
            raise ParameterError(f"{function}(): waves must be at least 2, got {value}")
        first = int(sessions.min())
        return list(range(first, first + int(value)))
    try:
        waves = [int(w) for w in value]
    except (TypeError, ValueError) as exc:
        raise ParameterError(
            f"{function}(): waves must be a number of waves or a list of consecutive session "
            f"numbers, got {value!r}"
        ) from exc
    if any(w != float(v) for w, v in zip(waves, value, strict=True)):
        raise ParameterError(f"{function}(): waves must be whole session numbers, got {value!r}")
    if len(waves) < 2 or waves != list(range(waves[0], waves[0] + len(waves))):
        raise ParameterError(
            f"{function}(): waves must be at least two consecutive session numbers (a skipped "
            f"session is a missing wave, not a shorter lag), got {value!r}"
        )
    return waves


def _session_numbers(data: pd.DataFrame, session: str, function: str) -> pd.Series:
    values = numeric_column(data, session, function)
    missing = values.isna()
    if missing.any():
        raise_problems(
            problems_frame(values.index[missing], session, [None] * int(missing.sum()),
                           "missing session number"),
            f"{function}(): {int(missing.sum())} row(s) have no session number",
        )
    whole = np.isclose(values, np.round(values))
    if not whole.all():
        raise_problems(
            problems_frame(values.index[~whole], session, values[~whole].tolist(),
                           "session number is not a whole number"),
            f"{function}(): session numbers must be whole numbers (waves are sessions)",
        )
    return np.round(values).astype(int)


def _constant_within(
    data: pd.DataFrame, column: str, ids: pd.Series, function: str, numeric: bool
) -> pd.Series:
    """One value per patient; a value that changes within a patient is an error."""
    values = numeric_column(data, column, function) if numeric else data[column]
    frame = pd.DataFrame({"id": ids, "v": values}).dropna(subset=["v"])
    counts = frame.groupby("id", sort=True)["v"].nunique()
    bad = counts[counts > 1].index
    if len(bad):
        rows = frame.index[frame["id"].isin(bad)]
        raise_problems(
            problems_frame(rows, column, values.loc[rows].tolist(),
                           "value changes within the patient"),
            f"{function}(): {column!r} must be constant within each patient (it changes for "
            f"{len(bad)} patient(s))",
        )
    return frame.groupby("id", sort=True)["v"].first()


def to_wide(
    data: Any,
    variables: Sequence[str],
    *,
    patient: str,
    session: str,
    function: str,
    waves: Any = None,
    covariates: Sequence[str] = (),
    group: str | None = None,
    min_observed: int = 3,
    required: Callable[[list[int]], list[str]] | None = None,
) -> WidePanel:
    """Reshape long session data to one row per patient (see the module docstring).

    Parameters
    ----------
    data : DataFrame or SessionData
    variables : list of str
        Time-varying variables (one column per wave each).
    patient, session : str
        Identifier and session-number columns.
    function : str
        Name of the calling public function (for messages).
    waves : int or sequence of int, optional
        The sessions analysed: ``None`` for every session from the first to the last, an
        integer ``k`` for the first ``k`` sessions, or consecutive session numbers. Rows of
        other sessions are left out (recorded in ``dropped``).
    covariates : list of str
        Time-invariant numeric columns (constant within patient; missing values allowed).
    group : str, optional
        Column with a group label per patient (e.g. treatment arm).
    min_observed : int
        Fewest observed values a variable needs at each wave (and in each group).
    required : callable, optional
        Given the waves, the wide columns the model uses (default: every variable at every
        wave); only these are checked for coverage.

    Raises
    ------
    DataValidationError
        Missing columns, IDs or session numbers; fractional or duplicated sessions;
        non-numeric values; covariates or groups that change within a patient; a wave with
        too few observations.
    """
    frame = as_frame(data, function)
    names = [patient, session, *variables, *covariates] + ([group] if group else [])
    require_columns(frame, list(dict.fromkeys(names)), function)
    ids = id_column(frame, patient, function)
    sessions = _session_numbers(frame, session, function)
    duplicated = pd.DataFrame({"p": ids, "s": sessions}).duplicated(keep=False)
    if duplicated.any():
        raise_problems(
            problems_frame(frame.index[duplicated], session, sessions[duplicated].tolist(),
                           "patient has this session more than once"),
            f"{function}(): {int(duplicated.sum())} row(s) repeat a patient's session; keep "
            "one row per patient and session",
        )
    values = {v: numeric_column(frame, v, function) for v in variables}
    chosen = _waves(waves, sessions, function)
    inside = sessions.isin(chosen)
    dropped = problems_frame(frame.index[~inside], session, sessions[~inside].tolist(),
                             f"session outside the analysed waves {chosen[0]}-{chosen[-1]}")
    long = pd.DataFrame({"id": ids, "wave": sessions, **values})[inside]
    wide = long.pivot(index="id", columns="wave", values=list(variables))
    wide = wide.reindex(columns=pd.MultiIndex.from_product([list(variables), chosen]))
    wide.columns = [wave_name(v, w) for v, w in wide.columns]
    all_ids = pd.Index(sorted(ids.unique(), key=str))
    wide = wide.reindex(index=all_ids)
    for c in covariates:
        wide[c] = _constant_within(frame, c, ids, function, numeric=True).reindex(all_ids)
    group_of = None
    groups: list[Any] = [None]
    if group is not None:
        labels = _constant_within(frame, group, ids, function, numeric=False)
        if labels.reindex(all_ids).isna().any():
            lacking = all_ids[labels.reindex(all_ids).isna()]
            raise DataValidationError(
                f"{function}(): {len(lacking)} patient(s) have no {group!r} value; a "
                "multiple-group model needs every patient's group",
                problems=problems_frame(lacking, group, [None] * len(lacking), "missing group"),
            )
        group_of = labels.reindex(all_ids)
        groups = sorted(group_of.unique(), key=str)
    wave_cols = [wave_name(v, w) for v in variables for w in chosen]
    empty = wide[wave_cols].isna().all(axis=1)
    if empty.any():
        gone = wide.index[empty]
        dropped = pd.concat([dropped, problems_frame(
            gone, patient, list(gone), "no observed value in the analysed waves")],
            ignore_index=True)
        warnings.warn(
            f"{function}(): {len(gone)} patient(s) have no observed value in sessions "
            f"{chosen[0]}-{chosen[-1]} and are left out (see .dropped)",
            DroppedRowsWarning,
            stacklevel=3,
        )
        wide = wide.loc[~empty]
        if group_of is not None:
            group_of = group_of.loc[~empty]
    panel = WidePanel(wide, chosen, groups, group_of, dropped)
    checked = wave_cols if required is None else required(chosen)
    _check_coverage(panel, checked + list(covariates), function, min_observed)
    return panel


def _check_coverage(panel: WidePanel, columns: list[str], function: str, minimum: int) -> None:
    for g, values in zip(panel.groups, panel.arrays(columns), strict=True):
        seen = ~np.isnan(values)
        counts = seen.sum(axis=0)
        thin = [c for c, k in zip(columns, counts, strict=True) if k < minimum]
        where = "" if g is None else f" in group {g!r}"
        if thin:
            raise DataValidationError(
                f"{function}(): too few observations{where} for {thin} (fewer than {minimum}); "
                "analyse fewer sessions with waves=...",
                problems=problems_frame(["-"] * len(thin), "-", thin, "too few observations"),
            )
        with np.errstate(invalid="ignore"):
            spread = np.nanstd(values, axis=0)
        constant = [c for c, v in zip(columns, spread, strict=True) if not v > 0]
        if constant:
            raise DataValidationError(
                f"{function}(): {constant} do not vary{where} (every observed value is the "
                "same); a variable without variance cannot be modelled",
                problems=problems_frame(["-"] * len(constant), "-", constant, "no variance"),
            )
        pairs = seen.T.astype(int) @ seen.astype(int)
        share = pairs.min() / max(len(values), 1)
        if share < 0.1:
            warnings.warn(
                f"{function}(): some pairs of waves{where} are observed together for fewer than "
                f"10% of patients ({pairs.min()} of {len(values)}); estimates for late "
                "sessions rest on few patients -- consider fewer waves",
                DataQualityWarning,
                stacklevel=3,
            )
