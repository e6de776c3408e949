"""Number and p-value formatting shared by summaries, tables and reports."""

import math

import pytest

from alliancestats._format import (
    format_ci,
    format_number,
    format_p,
    no_leading_zero,
    significance_stars,
)


@pytest.mark.parametrize(
    ("p", "expected"),
    # R 4.2.2: format.pval(p, digits = 2), one value at a time (printCoefmat's p column)
    [(0.0123, "0.012"), (0.000012, "1.2e-05"), (1e-20, "< 2e-16"), (0.5, "0.5"),
     (0.00012345, "0.00012"), (0.0009, "0.0009")],
)
def test_r_style_matches_format_pval(p, expected):
    assert format_p(p, style="r") == expected


@pytest.mark.parametrize(
    ("p", "expected"),
    [(0.0234, "= .023"), (0.0004, "< .001"), (0.001, "= .001"), (0.9999, "= 1.000")],
)
def test_apa_style(p, expected):
    assert format_p(p) == expected


def test_metafor_style_floor():
    assert format_p(0.00002, style="metafor") == "<.0001"
    assert format_p(0.04567, style="metafor") == "0.0457"


@pytest.mark.parametrize("p", [None, math.nan, math.inf])
def test_missing_p_is_na(p):
    assert format_p(p) == "NA"


def test_unknown_style_is_refused():
    with pytest.raises(ValueError, match="style"):
        format_p(0.1, style="spss")


def test_numbers_and_intervals():
    assert format_number(-0.0001) == "0.00"
    assert format_number(math.inf) == "Inf"
    assert no_leading_zero(-0.278, 3) == "-.278"
    assert format_ci(0.0878, 0.2087, 3, apa_bounded=True) == "[.088, .209]"
    assert [significance_stars(p) for p in (0.0001, 0.2)] == ["***", ""]
