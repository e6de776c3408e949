"""Which cell contents the loader reads as missing.

Empty cells (and cells holding only spaces) are always missing. Besides them, the text codes of
:data:`alliancestats._validation.MISSING_CODES` are missing by default, compared after removing
surrounding spaces and ignoring letter case: ``NA``, ``N/A``, ``NaN``, ``NULL``, ``None``,
``.``, ``#N/A`` and ``missing``. ``na_values=`` adds codes (texts or numbers such as ``-99``);
with ``keep_default_na=False`` the default codes are dropped, so ``na_values=`` replaces them
(a column where ``None`` means "no medication" keeps that text).

Examples
--------
>>> codes = MissingCodes.from_user([-99, "not done"])
>>> codes.numbers, "not done" in codes.texts, "none" in codes.texts
((-99.0,), True, True)
>>> "none" in MissingCodes.from_user(["n/a"], keep_default_na=False).texts
False
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alliancestats._validation import MISSING_CODES
from alliancestats.errors import ParameterError

__all__ = ["MissingCodes", "number_text"]


def number_text(x: float) -> str:
    """``3`` for whole numbers, ``repr`` otherwise (how a numeric code or ID is written).

    Examples
    --------
    >>> number_text(-99.0), number_text(2.5)
    ('-99', '2.5')
    """
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@dataclass(frozen=True)
class MissingCodes:
    """Which cell contents count as missing.

    Parameters
    ----------
    texts : frozenset of str
        Texts meaning "missing", stored stripped and case-folded; ``""`` is always included.
    numbers : tuple of float
        Numeric codes meaning "missing" (e.g. ``-99``, ``999``).

    Examples
    --------
    >>> MissingCodes().is_code(" NA "), MissingCodes().is_code("0")
    (True, False)
    """

    texts: frozenset[str] = field(default_factory=lambda: frozenset(MISSING_CODES))
    numbers: tuple[float, ...] = ()

    @classmethod
    def from_user(
        cls, na_values: Iterable[Any] | None, keep_default_na: bool = True
    ) -> MissingCodes:
        """The default codes (unless ``keep_default_na=False``) plus ``na_values``."""
        if isinstance(na_values, str):
            na_values = [na_values]
        texts = {""} | (set(MISSING_CODES) if keep_default_na else set())
        numbers: list[float] = []
        for v in na_values or ():
            if isinstance(v, bool | np.bool_):
                raise ParameterError("na_values cannot contain True/False")
            if isinstance(v, int | float | np.number):
                if not np.isfinite(v):
                    raise ParameterError(f"na_values must be finite numbers or texts, got {v!r}")
                numbers.append(float(v))
                texts.add(number_text(float(v)))
            elif isinstance(v, str):
                t = v.strip().casefold()
                texts.add(t)
                try:
                    numbers.append(float(t))
                except ValueError:
                    pass
            else:
                raise ParameterError(
                    f"na_values holds texts and numbers, got {type(v).__name__} {v!r}"
                )
        return cls(frozenset(texts), tuple(dict.fromkeys(numbers)))

    def is_code(self, value: Any) -> bool:
        """Whether a text cell is empty or one of the codes (stripped, any letter case)."""
        return isinstance(value, str) and value.strip().casefold() in self.texts

    def spellings(self) -> list[str]:
        """The codes in the letter cases files usually use (``na``, ``NA``, ``Na``)."""
        out = set()
        for t in self.texts:
            out.update({t, t.upper(), t.lower(), t.capitalize(), t.title()})
        return sorted(out)

    @property
    def ascii_only(self) -> bool:
        """Whether every text code is plain ASCII (fast case-insensitive comparison)."""
        return all(t.isascii() for t in self.texts)
