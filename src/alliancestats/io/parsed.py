"""The result of converting one column of cells: typed values plus per-cell masks.

Every converter (numbers, identifiers, dates) returns a :class:`Parsed` so that the loader can
report each cell that could not be converted with its original content, and never has to
guess what happened to a cell.

Examples
--------
>>> import numpy as np, pandas as pd
>>> p = Parsed(pd.Series([1.0, np.nan]), np.array([False, True]), np.array([False, False]))
>>> p.reason_at(0, "not a number"), p.kind_at(0, "not_numeric")
('not a number', 'not_numeric')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["Parsed"]


@dataclass
class Parsed:
    """Converted values with ``missing`` and ``bad`` masks (one entry per cell).

    Attributes
    ----------
    values : pandas.Series
        Converted values (missing and bad cells are NA).
    missing : numpy.ndarray
        Cells that are empty or a missing-value code.
    bad : numpy.ndarray
        Cells holding something that is not a valid value.
    reasons : dict
        Position -> reason text, for bad cells (others use the caller's default reason).
    kinds : dict
        Position -> problem kind, for bad cells whose kind differs from the caller's default
        (e.g. ``"ambiguous_number"``).
    codes : dict
        Position -> the missing-value code as written, for missing cells that held a code
        rather than nothing.
    order : numpy.ndarray or None
        Integer ranks that sort like the values (missing last), when the parser has them.
    """

    values: pd.Series
    missing: np.ndarray
    bad: np.ndarray
    reasons: dict[int, str] = field(default_factory=dict)
    kinds: dict[int, str] = field(default_factory=dict)
    codes: dict[int, str] = field(default_factory=dict)
    order: np.ndarray | None = None  # sort rank of each cell's value, when the parser knows it

    def reason_at(self, i: int, default: str) -> str:
        """Reason for the bad cell at position ``i``."""
        return self.reasons.get(int(i)) or default

    def kind_at(self, i: int, default: str) -> str:
        """Problem kind of the bad cell at position ``i``."""
        return self.kinds.get(int(i)) or default

    def code_at(self, i: int) -> str | None:
        """The missing-value code written in cell ``i`` (``None`` for an empty cell)."""
        return self.codes.get(int(i))
