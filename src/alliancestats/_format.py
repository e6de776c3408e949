"""Number and p-value formatting shared by every summary, table and report (private module).

Three p-value styles are used across the library:

* ``"apa"`` — APA 7th edition: no leading zero, three decimals, ``< .001`` floor
  (``p = .023``, ``p < .001``);
* ``"metafor"`` — as metafor prints: four decimals, ``<.0001`` floor;
* ``"r"`` — as R's ``format.pval`` inside ``printCoefmat`` (lme4/lmerTest summaries): two
  significant digits, scientific notation when shorter, ``< 2e-16`` floor (machine epsilon).

Examples
--------
>>> from alliancestats._format import format_p
>>> format_p(0.0234), format_p(0.00002, style="metafor"), format_p(1e-20, style="r")
('= .023', '<.0001', '< 2e-16')
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "format_ci",
    "format_number",
    "format_p",
    "no_leading_zero",
    "significance_stars",
]

_EPS = float(np.finfo(float).eps)


def _is_missing(x: Any) -> bool:
    if x is None:
        return True
    try:
        return not math.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def format_number(x: Any, digits: int = 2, *, missing: str = "NA") -> str:
    """``x`` with ``digits`` decimals; ``missing`` for None, NaN or infinite values.

    Negative zero prints as ``0.00``, never ``-0.00``.

    Examples
    --------
    >>> format_number(3.14159), format_number(-0.0001, 2), format_number(float("nan"))
    ('3.14', '0.00', 'NA')
    """
    if _is_missing(x):
        if x is not None and isinstance(x, (int, float, np.floating)) and np.isinf(x):
            return "Inf" if x > 0 else "-Inf"
        return missing
    text = f"{float(x):.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text


def no_leading_zero(x: Any, digits: int = 2) -> str:
    """APA style for quantities that cannot exceed 1 in absolute value (r, p, R², ICC).

    Examples
    --------
    >>> no_leading_zero(0.278, 3), no_leading_zero(-0.05)
    ('.278', '-.05')
    """
    text = format_number(x, digits)
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


def _r_pval(p: float, digits: int) -> str:
    """R's ``format.pval(p, digits)`` for a single finite p."""
    if p < _EPS:
        return "< 2e-16" if digits <= 2 else f"< {_EPS:.{max(digits - 1, 0)}e}"
    fixed = f"{p:.{digits}g}"
    if "e" in fixed:  # R keeps fixed notation when it is not wider than scientific
        mantissa, exponent = fixed.split("e")
        sci = f"{mantissa}e{exponent[0]}{exponent[1:].lstrip('0').zfill(2)}"
        decimals = -int(exponent) + max(len(mantissa.replace(".", "").lstrip("-")) - 1, 0)
        as_fixed = f"{p:.{decimals}f}"
        return as_fixed if len(as_fixed) <= len(sci) else sci
    return fixed


def format_p(p: Any, *, style: str = "apa", digits: int | None = None) -> str:
    """Format a p value.

    Parameters
    ----------
    p : float
        The p value; None or NaN gives ``"NA"``.
    style : {"apa", "metafor", "r"}
        ``"apa"`` gives ``"= .023"`` / ``"< .001"`` (prefix the letter yourself: ``"p " + ...``),
        ``"metafor"`` gives ``"0.0234"`` / ``"<.0001"``, ``"r"`` gives ``"0.023"`` /
        ``"1.2e-05"`` / ``"< 2e-16"`` as lme4's summaries.
    digits : int, optional
        Decimals (apa: 3, metafor: 4) or significant digits (r: 2).

    Examples
    --------
    >>> format_p(0.5), format_p(0.0004), format_p(0.0234, style="metafor")
    ('= .500', '< .001', '0.0234')
    >>> format_p(0.000012, style="r"), format_p(0.0123, style="r")
    ('1.2e-05', '0.012')
    """
    if _is_missing(p):
        return "NA"
    p = float(p)
    if style == "apa":
        d = 3 if digits is None else digits
        floor = 10.0**-d
        if p < floor:
            return "< " + no_leading_zero(floor, d)
        return "= " + no_leading_zero(p, d)
    if style == "metafor":
        d = 4 if digits is None else digits
        if p < 10.0**-d:
            return "<." + "0" * (d - 1) + "1"
        return f"{p:.{d}f}"
    if style == "r":
        return _r_pval(p, 2 if digits is None else digits)
    raise ValueError(f"style must be 'apa', 'metafor' or 'r', got {style!r}")


def significance_stars(p: Any) -> str:
    """R's significance codes: ``***`` < .001, ``**`` < .01, ``*`` < .05, ``.`` < .1.

    Examples
    --------
    >>> [significance_stars(p) for p in (0.0001, 0.004, 0.03, 0.07, 0.5)]
    ['***', '**', '*', '.', '']
    """
    if _is_missing(p):
        return ""
    p = float(p)
    for cut, mark in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return mark
    return ""


def format_ci(low: Any, high: Any, digits: int = 2, *, apa_bounded: bool = False) -> str:
    """A confidence interval as ``[low, high]``; ``apa_bounded`` drops leading zeros.

    Examples
    --------
    >>> format_ci(0.0878, 0.2087, 3, apa_bounded=True), format_ci(-1.5, 2.25)
    ('[.088, .209]', '[-1.50, 2.25]')
    """
    fmt = no_leading_zero if apa_bounded else format_number
    return f"[{fmt(low, digits)}, {fmt(high, digits)}]"
