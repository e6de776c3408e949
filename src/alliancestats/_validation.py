"""Argument and data checks shared by every public function (private module).

One home for the checks that public functions run on what a researcher passes in, so the same
mistake raises the same exception class with the same kind of message everywhere:

* data: :func:`as_frame` (a DataFrame or a ``SessionData``), :func:`column_names`,
  :func:`require_columns`, :func:`numeric_column`, :func:`id_column`,
  :func:`whole_number_column` (session numbers), :func:`require_unique_rows`;
* problems: :func:`problems_frame` and :func:`raise_problems` build and raise a
  :class:`~alliancestats.errors.DataValidationError` whose ``.problems`` has the columns
  ``row, column, value, reason``;
* parameters: :func:`check_int`, :func:`check_int_range`, :func:`check_real`,
  :func:`check_positive`, :func:`check_nonnegative`, :func:`check_probability`,
  :func:`check_correlation`, :func:`check_level`, :func:`check_choice`, :func:`check_bool`.

Missing-value codes: :data:`MISSING_CODES` is the one list of text codes read as missing, used
by the loaders and by every numeric column check (case-insensitive, surrounding spaces ignored).

Examples
--------
>>> from alliancestats._validation import check_level, check_probability
>>> check_level(0.9)
0.9
>>> check_probability("dropout", 0.3)
0.3
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import DataValidationError, ParameterError

__all__ = [
    "MISSING_CODES",
    "as_frame",
    "check_bool",
    "check_choice",
    "check_correlation",
    "check_int",
    "check_int_range",
    "check_level",
    "check_nonnegative",
    "check_positive",
    "check_probability",
    "check_real",
    "column_names",
    "id_column",
    "is_missing_code",
    "numeric_column",
    "problems_frame",
    "raise_problems",
    "require_columns",
    "require_unique_rows",
    "whole_number_column",
]

#: Text codes read as missing (compared lower-case after stripping surrounding spaces).
MISSING_CODES: tuple[str, ...] = ("", "na", "n/a", "nan", "null", "none", ".", "#n/a", "missing")


def is_missing_code(value: Any, codes: Iterable[str] = MISSING_CODES) -> bool:
    """Whether ``value`` is a text cell holding one of the missing-value ``codes``.

    Examples
    --------
    >>> is_missing_code(" NA "), is_missing_code("0")
    (True, False)
    """
    if not isinstance(value, str):
        return False
    return value.strip().lower() in {c.lower() for c in codes}


# ---------------------------------------------------------------------------------------------
# problems
# ---------------------------------------------------------------------------------------------
def problems_frame(
    rows: Sequence[Any], column: str, values: Sequence[Any], reason: str
) -> pd.DataFrame:
    """One problem per row, in the ``row, column, value, reason`` layout of ``.problems``.

    Examples
    --------
    >>> problems_frame([2, 5], "pain", ["x", "y"], "not a number").shape
    (2, 4)
    """
    rows = list(rows)
    values = list(values)
    return pd.DataFrame(
        {
            "row": rows,
            "column": [column] * len(rows),
            "value": values,
            "reason": [reason] * len(rows),
        },
        columns=["row", "column", "value", "reason"],
    )


def raise_problems(problems: pd.DataFrame, what: str) -> None:
    """Raise a :class:`DataValidationError` listing the first problems and carrying all.

    Examples
    --------
    >>> try:
    ...     raise_problems(problems_frame([3], "pain", ["x"], "not a number"), "lmm()")
    ... except DataValidationError as e:
    ...     print(len(e.problems))
    1
    """
    shown = "; ".join(
        f"row {r.row}: {r.reason} ({r.column} = {r.value!r})"
        for r in problems.head(5).itertuples(index=False)
    )
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    raise DataValidationError(
        f"{what}: {len(problems)} problem(s): {shown}{more}; the full list is on .problems",
        problems=problems.reset_index(drop=True),
    )


# ---------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------
def as_frame(data: Any, function: str) -> pd.DataFrame:
    """The DataFrame behind ``data``: a ``pandas.DataFrame`` or a ``SessionData`` (its ``.data``).

    Parameters
    ----------
    data : DataFrame or SessionData
        What the user passed.
    function : str
        Name of the public function, used in the message (e.g. ``"glmm"``).

    Raises
    ------
    ParameterError
        For anything else, naming what was received and what to pass instead.

    Examples
    --------
    >>> import pandas as pd
    >>> as_frame(pd.DataFrame({"a": [1]}), "f").shape
    (1, 1)
    """
    if isinstance(data, pd.DataFrame):
        return data
    inner = getattr(data, "data", None)
    if isinstance(inner, pd.DataFrame) and hasattr(data, "dropped"):
        return inner
    raise ParameterError(
        f"{function}() needs a pandas DataFrame or a SessionData (from load_sessions), "
        f"got {type(data).__name__}"
    )


def column_names(value: str | Sequence[str], what: str) -> list[str]:
    """One or several column names as a list; refuses empty, non-text and repeated names.

    Examples
    --------
    >>> column_names("pain", "outcome"), column_names(["a", "b"], "items")
    (['pain'], ['a', 'b'])
    """
    names = [value] if isinstance(value, str) else list(value)
    if not names:
        raise ParameterError(f"{what}: give at least one column name")
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise ParameterError(f"{what}: column names must be strings, got {bad!r}")
    if len(set(names)) != len(names):
        raise ParameterError(f"{what}: column names repeat: {names!r}")
    return names


def require_columns(data: pd.DataFrame, names: Sequence[str], function: str) -> None:
    """Raise :class:`DataValidationError` listing the ``names`` missing from ``data``.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a"], "f")
    """
    missing = [n for n in names if n not in data.columns]
    if missing:
        available = list(map(str, data.columns))
        raise DataValidationError(
            f"{function}(): column(s) {missing} not in the data; available columns: {available}",
            problems=problems_frame(["-"] * len(missing), "-", missing, "column not found"),
        )


def numeric_column(
    data: pd.DataFrame,
    column: str,
    function: str,
    *,
    allow_infinite: bool = False,
    missing_codes: Iterable[str] = MISSING_CODES,
) -> pd.Series:
    """The column as float64, or a :class:`DataValidationError` naming the offending rows.

    Text cells holding a missing-value code (:data:`MISSING_CODES`) become missing, as in the
    loaders; any other text that is not a number is a problem (never silently missing).
    Categorical, boolean and date/time columns are refused.

    Examples
    --------
    >>> import pandas as pd
    >>> numeric_column(pd.DataFrame({"x": ["1", "NA", 2.5]}), "x", "f").tolist()
    [1.0, nan, 2.5]
    """
    col = data[column]
    if (
        isinstance(col.dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(col.dtype)
        or col.dtype.kind in "mM"  # to_numeric would turn dates into nanosecond counts
    ):
        raise DataValidationError(
            f"{function}(): column {column!r} is {col.dtype}, not numeric",
            problems=problems_frame(["-"], column, [str(col.dtype)], "column is not numeric"),
        )
    if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
        codes = {c.lower() for c in missing_codes}
        col = col.map(
            lambda v: np.nan if isinstance(v, str) and v.strip().lower() in codes else v
        )
    values = pd.to_numeric(col, errors="coerce").astype("float64")
    bad = values.isna() & col.notna()
    if bad.any():
        raise_problems(
            problems_frame(col.index[bad], column, col[bad].tolist(), "not a number"),
            f"{function}(): column {column!r} has non-numeric values",
        )
    if not allow_infinite:
        infinite = np.isinf(values.to_numpy())
        if infinite.any():
            raise_problems(
                problems_frame(col.index[infinite], column, col[infinite].tolist(),
                               "infinite value"),
                f"{function}(): column {column!r} has infinite values",
            )
    return values


def id_column(data: pd.DataFrame, column: str, function: str) -> pd.Series:
    """The identifier column; rows without an identifier are a :class:`DataValidationError`.

    Examples
    --------
    >>> import pandas as pd
    >>> id_column(pd.DataFrame({"p": ["a", "b"]}), "p", "f").tolist()
    ['a', 'b']
    """
    ids = data[column]
    missing = ids.isna()
    if missing.any():
        raise_problems(
            problems_frame(ids.index[missing], column, [None] * int(missing.sum()), "missing ID"),
            f"{function}(): {int(missing.sum())} row(s) have no {column!r}; drop or fill them "
            "first",
        )
    return ids


def whole_number_column(data: pd.DataFrame, column: str, function: str) -> pd.Series:
    """The column as int64 whole numbers (e.g. session numbers), or a :class:`DataValidationError`.

    Missing, fractional, infinite and non-numeric values are problems named by row: a session
    number is never guessed from the row order.

    Examples
    --------
    >>> import pandas as pd
    >>> whole_number_column(pd.DataFrame({"s": [1.0, "2", 3]}), "s", "f").tolist()
    [1, 2, 3]
    """
    col = data[column]
    values = pd.to_numeric(col, errors="coerce").astype("float64")
    bad = values.isna() | ~np.isfinite(values) | (values != np.round(values))
    if bad.any():
        raise_problems(
            problems_frame(col.index[bad], column, col[bad].tolist(), "session is not a whole number"),
            f"{function}(): column {column!r} must hold whole session numbers",
        )
    return values.astype("int64")


def require_unique_rows(
    data: pd.DataFrame, keys: Sequence[pd.Series], names: Sequence[str], function: str
) -> None:
    """Raise :class:`DataValidationError` naming every row whose key combination repeats.

    ``keys`` are the key columns as already validated series (same index as ``data``); ``names``
    their column names, for the message (e.g. ``["patient", "session"]``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"p": ["a", "a"], "s": [1, 2]})
    >>> require_unique_rows(d, [d["p"], d["s"]], ["p", "s"], "f")
    """
    index = pd.MultiIndex.from_arrays([k.to_numpy() for k in keys])
    dup = index.duplicated(keep=False)
    if dup.any():
        rows = data.index[dup]
        last = names[-1]
        raise_problems(
            problems_frame(rows, last, data[last].to_numpy()[dup].tolist(),
                           f"duplicate {'-'.join(names)}"),
            f"{function}(): {int(dup.sum())} rows share a {' and '.join(names)}; one row per "
            f"{'-'.join(names)} is needed",
        )


# ---------------------------------------------------------------------------------------------
# parameters
# ---------------------------------------------------------------------------------------------
def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (NumPy bools included), else :class:`ParameterError`.

    Examples
    --------
    >>> check_bool("reml", True)
    True
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise ParameterError(f"{name} must be True or False, got {value!r}")


def check_int(name: str, value: Any, minimum: int | None = 1, maximum: int | None = None) -> int:
    """An integer within ``[minimum, maximum]`` (bounds optional); bools are refused.

    Examples
    --------
    >>> check_int("n_patients", 40)
    40
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name} must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"{name} must be at most {maximum}, got {value}")
    return int(value)


def check_int_range(name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """An integer or a ``(low, high)`` pair of integers, as an inclusive ``(low, high)``.

    Examples
    --------
    >>> check_int_range("sessions", 8), check_int_range("sessions", (6, 12))
    ((8, 8), (6, 12))
    """
    if isinstance(value, Integral) and not isinstance(value, (bool, np.bool_)):
        v = check_int(name, value, minimum)
        return v, v
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        lo = check_int(f"{name}[0]", value[0], minimum)
        hi = check_int(f"{name}[1]", value[1], minimum)
        if lo > hi:
            raise ParameterError(f"{name} range must be (low, high) with low <= high, got {value!r}")
        return lo, hi
    raise ParameterError(f"{name} must be an integer or a (low, high) pair of integers, got {value!r}")


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    what: str = "",
) -> float:
    """A finite real number, optionally within a (half-)open or closed interval.

    ``what`` describes the quantity in the message (e.g. ``"a standard deviation"``).

    Examples
    --------
    >>> check_real("alpha", 0.05, low=0, high=1, low_open=True, high_open=True)
    0.05
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not np.isfinite(value):
        raise ParameterError(f"{name} must be a finite number, got {value!r}")
    v = float(value)
    below = low is not None and (v <= low if low_open else v < low)
    above = high is not None and (v >= high if high_open else v > high)
    if below or above:
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{left}, {right}" + (
            ")" if high_open or high is None else "]"
        )
        kind = f" is {what} and" if what else ""
        raise ParameterError(f"{name}{kind} must lie in {interval}, got {v:g}")
    return v


def check_positive(name: str, value: Any, what: str = "") -> float:
    """A finite number > 0.

    Examples
    --------
    >>> check_positive("sd", 2.5)
    2.5
    """
    return check_real(name, value, low=0, low_open=True, what=what)


def check_nonnegative(name: str, value: Any, what: str = "") -> float:
    """A finite number >= 0 (e.g. a standard deviation or variance).

    Examples
    --------
    >>> check_nonnegative("sd_slope", 0.0)
    0.0
    """
    return check_real(name, value, low=0, what=what)


def check_probability(name: str, value: Any, *, allow_zero: bool = True,
                      allow_one: bool = False) -> float:
    """A probability or proportion in [0, 1) by default (ends configurable).

    Examples
    --------
    >>> check_probability("dropout", 0.25)
    0.25
    """
    return check_real(name, value, low=0, high=1, low_open=not allow_zero,
                      high_open=not allow_one, what="a probability")


def check_correlation(name: str, value: Any, *, allow_bounds: bool = False) -> float:
    """A correlation strictly between -1 and 1 (or including the bounds).

    Examples
    --------
    >>> check_correlation("rho", -0.3)
    -0.3
    """
    open_ = not allow_bounds
    return check_real(name, value, low=-1, high=1, low_open=open_, high_open=open_,
                      what="a correlation")


def check_level(value: Any, name: str = "level") -> float:
    """A confidence level strictly between 0 and 1; a percentage gets a pointed hint.

    Examples
    --------
    >>> check_level(0.95)
    0.95
    >>> try:
    ...     check_level(95)
    ... except ValueError as e:
    ...     print(str(e)[:60])
    level must be a proportion strictly between 0 and 1 (e.g. 0.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real) or not np.isfinite(value):
        raise ParameterError(f"{name} must be a number strictly between 0 and 1, got {value!r}")
    v = float(value)
    if not 0 < v < 1:
        hint = f"; did you mean {v / 100:g}?" if 1 < v < 100 else ""
        raise ParameterError(
            f"{name} must be a proportion strictly between 0 and 1 (e.g. 0.95), got {v:g}{hint}"
        )
    return v


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """``value`` if it is one of ``choices`` (strings compared exactly), else a listing error.

    Examples
    --------
    >>> check_choice("method", "REML", ["REML", "ML"])
    'REML'
    """
    options = list(choices)
    try:
        ok = value in options
    except (TypeError, ValueError):  # arrays or uncomparable values
        ok = False
    if not ok:
        shown = ", ".join(repr(c) for c in options)
        raise ParameterError(f"{name} must be one of {shown}; got {value!r}")
    return value
