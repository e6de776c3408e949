"""Read a two-level text, boolean or categorical response as 0/1 for binomial models, as R does.

R's ``binomial()`` family codes a factor response by its levels: the first level is failure
(0), the other success (1); ``TRUE`` is success. A text column becomes a factor with sorted
levels, so ``"N"/"Y"`` and ``"no"/"yes"`` count ``"Y"``/``"yes"`` as success. Here text is
sorted ignoring case first (as R's ``sort`` does in an English locale, so ``"no"`` precedes
``"Yes"``); a pandas Categorical keeps its category order, which is how a user chooses the
success level. A response with a single observed value is refused (R would count every row
as failure), as is one with more than two values.

:func:`code_binary_response` returns the recoded data and a :class:`BinaryCoding` whose
``note`` says which level counts as success, for the model summary.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.models.binary_response import code_binary_response
>>> d = pd.DataFrame({"use": ["N", "Y", None, "Y"], "age": [1, 2, 3, 4]})
>>> coded, coding = code_binary_response(d, "use ~ age + (1 | g)", "binomial")
>>> coded["use"].tolist()
[0.0, 1.0, nan, 1.0]
>>> coding.note
"response 'use': 'Y' counts as success (1), 'N' as failure (0)"
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from alliancestats.errors import DataValidationError
from alliancestats.models.formula import split_top_level

__all__ = ["BinaryCoding", "binary_levels", "code_binary_response"]


@dataclass(frozen=True)
class BinaryCoding:
    """How a non-numeric binomial response was coded."""

    column: str
    failure: str
    success: str

    @property
    def note(self) -> str:
        """One line for a model summary."""
        return (
            f"response {self.column!r}: {self.success!r} counts as success (1), "
            f"{self.failure!r} as failure (0)"
        )


def _needs_coding(values: pd.Series) -> bool:
    """Categorical, boolean and text responses are coded; numbers are left alone."""
    if isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(values.dtype):
        return True
    if pd.api.types.is_numeric_dtype(values.dtype):
        return False
    present = values.dropna()
    return not all(
        isinstance(v, int | float | np.number) and not isinstance(v, bool | np.bool_)
        for v in present
    )


def binary_levels(values: pd.Series, column: str) -> tuple[list[str], np.ndarray]:
    """The two levels of a non-numeric response (failure first) and each row's 0/1 code.

    Missing values (and empty text, as SPSS writes missing strings) get NaN.

    Raises
    ------
    DataValidationError
        Other than two levels (two categories for a Categorical), or booleans mixed with text.

    Examples
    --------
    >>> binary_levels(pd.Series(["yes", "No", "yes"]), "y")
    (['No', 'yes'], array([1., 0., 1.]))
    """
    blank = values.map(lambda v: isinstance(v, str) and not v.strip()).to_numpy(dtype=bool)
    missing = values.isna().to_numpy() | blank  # an empty text cell is a missing value
    present = values[~missing]
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = [str(c) for c in values.cat.categories]
        codes = values.cat.codes.to_numpy().astype(float)
    elif len(present) and all(isinstance(v, bool | np.bool_) for v in present):
        levels = ["FALSE", "TRUE"]
        codes = np.where(missing, np.nan, values.astype(object).eq(True).to_numpy(dtype=float))
    else:
        kinds = {type(v).__name__ for v in present if not isinstance(v, str)}
        if kinds:
            raise DataValidationError(
                f"response {column!r} mixes text with {sorted(kinds)} values; a binomial "
                "response is 0/1, TRUE/FALSE or two text labels such as 'N'/'Y'"
            )
        levels = sorted(set(present.astype(str)), key=lambda s: (s.casefold(), s))
        lookup = {lev: k for k, lev in enumerate(levels)}
        codes = np.array(
            [np.nan if m else lookup[str(v)] for v, m in zip(values, missing, strict=True)],
            dtype=float,
        )
    if len(levels) != 2:
        found = f"only the value {levels[0]!r}" if len(levels) == 1 else f"the values {levels[:10]}"
        raise DataValidationError(
            f"response {column!r} has {found}; a binomial response needs exactly two "
            "categories (the first counts as failure, as in R). Recode it to 0/1, or make it a "
            "pandas Categorical with both categories to fix which level is success"
        )
    codes[missing] = np.nan
    return levels, codes


def code_binary_response(
    data: pd.DataFrame, formula: str, family: str
) -> tuple[pd.DataFrame, BinaryCoding | None]:
    """Code a text, boolean or categorical response column as 0/1 for a binomial model.

    Parameters
    ----------
    data : pandas.DataFrame
        The model data.
    formula : str
        Model formula; only a left-hand side that is a single column of ``data`` is coded.
    family : str
        Family name; other families get an error for a non-numeric response column.

    Returns
    -------
    (pandas.DataFrame, BinaryCoding or None)
        A copy of ``data`` with the response coded (``data`` itself when nothing was coded)
        and the coding, or None.

    Raises
    ------
    DataValidationError
        A non-numeric response for a non-binomial family, or not exactly two levels.
    """
    sides = split_top_level(formula, "~") if isinstance(formula, str) else []
    column = sides[0].strip().strip("`") if len(sides) == 2 else ""
    if column not in data.columns or not _needs_coding(data[column]):
        return data, None
    if family != "binomial":
        if pd.api.types.is_bool_dtype(data[column].dtype):
            return data, None  # TRUE/FALSE counts are read as 1/0
        raise DataValidationError(
            f"response {column!r} is not numeric (dtype {data[column].dtype}); a text or "
            f"categorical response is accepted only for the binomial family, not {family!r}"
        )
    levels, codes = binary_levels(data[column], column)
    return data.assign(**{column: codes}), BinaryCoding(column, levels[0], levels[1])
