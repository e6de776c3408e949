"""MixedResult.summary() against lme4 / lmerTest's printed summaries.

The reference is the text R prints (``tests/reference/lmm/lmm_summary.R``); sections are
compared line by line, words exactly and numbers to the digits R printed (whitespace is not
compared: R's layout depends on the console width and locale).
"""

from __future__ import annotations

import json
import pathlib
import re
import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.models import glmm, lmm
from alliancestats.models.summary_text import (
    abbreviate,
    coefficient_lines,
    r_format,
    r_format_pvalues,
    zapsmall,
)

REF = pathlib.Path(__file__).resolve().parents[1] / "reference"
CASES = json.loads((REF / "lmm" / "lmm_summary.json").read_text())["cases"]
EXPECTED = {"sleepstudy_REML", "sleepstudy_ML", "sleepstudy_uncorr_KR", "pastes", "sim_arms",
            "sim_singular", "cbpp", "grouseticks"}
SECTIONS = ("Scaled residuals:", "Random effects:", "Fixed effects:",
            "Correlation of Fixed Effects:")
NUMBER = re.compile(r"^-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$")
# LMM: our optimum differs from lme4's in the 5th-6th digit, so printed numbers may differ by
# one unit in the last printed digit plus 1e-3 relative (Satterthwaite df, the most sensitive
# printed quantity, agree within 1e-3). GLMM: lme4's standard errors come from a
# finite-difference Hessian; the engine's validation allows 1.5e-2 for SEs and 2e-2 for z
RTOL = {"lmer": 1e-3, "glmer": 2e-2}
# p values of z tests that differ by 2% differ by up to ~15% near p = 1e-3: compared on the
# log10 scale for GLMMs
P_LOG10_TOL = 0.1


def test_reference_grid_is_complete():
    assert set(CASES) == EXPECTED


def _fit(case: dict):
    folder = "glmm" if case["engine"] == "glmer" else "lmm"
    d = pd.read_csv(REF / folder / "data" / case["data"])
    for col in ("Subject", "batch", "cask", "therapist", "patient", "arm", "modality",
                "herd", "period", "BROOD", "YEAR", "LOCATION"):
        if col in d.columns:
            d[col] = d[col].astype(str)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if case["engine"] == "lmer":
            fit = lmm(case["formula"], d, reml=case["reml"])
            return fit.summary(ddf=case["ddf"]) if case["ddf"] else fit.summary()
        return glmm(case["formula"], d, family=case["family"]).summary()


def _sections(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"head": []}
    current = "head"
    for line in text.splitlines():
        s = line.strip()
        if s in SECTIONS:
            current = s
            out[current] = []
        elif s and not s.startswith("("):  # our note on dropped rows has no R counterpart
            out[current].append(s)
    return out


def _tokens(line: str) -> list[str]:
    return re.sub(r"<\s*2e-16", "<2e-16", line).replace("‘", "'").replace("’", "'").split()


def _unit(token: str) -> float:
    """One unit in the last printed digit of a number token."""
    mantissa, _, exponent = token.partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (-decimals + (int(exponent) if exponent else 0))


def _same_line(ours: str, theirs: str, rtol: float = RTOL["lmer"],
               p_at: int | None = None) -> None:
    """Words equal, numbers to R's printed digits; token ``p_at`` (a p value) on log10 scale."""
    a, b = _tokens(ours), _tokens(theirs)
    assert len(a) == len(b), (ours, theirs)
    for k, (x, y) in enumerate(zip(a, b, strict=True)):
        if NUMBER.match(y):
            assert NUMBER.match(x), (ours, theirs)
            if k == p_at:
                assert abs(np.log10(float(x) / float(y))) <= P_LOG10_TOL, (ours, theirs)
            else:
                assert abs(float(x) - float(y)) <= _unit(y) + rtol * abs(float(y)), (ours, theirs)
        elif k != p_at:  # significance stars follow the p value
            assert x == y, (ours, theirs)


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def pair(request):
    case = CASES[request.param]
    return _sections(_fit(case)), _sections("\n".join(case["text"])), case


def test_title_family_and_criterion(pair):
    ours, theirs, _ = pair
    title = re.sub(r"\s*\[.*$", "", theirs["head"][0]).replace("likelihood .", "likelihood.")
    assert ours["head"][0] == title
    for key in ("Family:", "REML criterion", "AIC"):
        r_at = [i for i, line in enumerate(theirs["head"]) if line.startswith(key)]
        o_at = [i for i, line in enumerate(ours["head"]) if line.startswith(key)]
        assert len(r_at) == len(o_at)
        for i, j in zip(o_at, r_at, strict=True):
            _same_line(ours["head"][i], theirs["head"][j])
            if key == "AIC":  # the values under the header
                _same_line(ours["head"][i + 1], theirs["head"][j + 1])


def test_scaled_residuals(pair):
    ours, theirs, _ = pair
    assert len(ours["Scaled residuals:"]) == len(theirs["Scaled residuals:"]) == 2
    for a, b in zip(ours["Scaled residuals:"], theirs["Scaled residuals:"], strict=True):
        _same_line(a, b)


def test_random_effects_and_groups(pair):
    ours, theirs, case = pair
    a, b = ours["Random effects:"], theirs["Random effects:"]
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        _same_line(x, y, RTOL[case["engine"]])
    assert b[-1].startswith("Number of obs")


def test_fixed_effects_table(pair):
    ours, theirs, case = pair
    a, b = ours["Fixed effects:"], theirs["Fixed effects:"]
    assert len(a) == len(b)
    glmer = case["engine"] == "glmer"
    _same_line(a[0], b[0])  # the header
    for x, y in zip(a[1:], b[1:], strict=True):
        p_at = 4 if glmer and not y.startswith(("---", "Signif")) else None
        if p_at is not None and len(_tokens(y)) > 5:  # stars may differ with the p value
            x, y = " ".join(_tokens(x)[:5]), " ".join(_tokens(y)[:5])
        _same_line(x, y, RTOL[case["engine"]], p_at)


def test_correlation_block_and_messages(pair):
    ours, theirs, case = pair
    a = ours.get("Correlation of Fixed Effects:", [])
    b = theirs.get("Correlation of Fixed Effects:", [])
    singular = any("boundary (singular) fit" in line for line in b)
    assert any("boundary (singular) fit" in line for line in a) == singular
    table_b = [line for line in b if not line.startswith(("optimizer", "boundary"))]
    table_a = [line for line in a if not line.startswith(("boundary", "Overdispersion"))]
    assert len(table_a) == len(table_b)
    for x, y in zip(table_a, table_b, strict=True):
        _same_line(x, y, RTOL[case["engine"]])


def test_no_correlation_block_without_a_second_coefficient():
    d = pd.read_csv(REF / "lmm" / "data" / "dyestuff.csv")
    text = lmm("Yield ~ 1 + (1 | Batch)", d).summary()
    assert "Correlation of Fixed Effects" not in text
    assert "Number of obs: 30, groups:  Batch, 6" in text


# ---------------------------------------------------------------------------- formatting
def test_r_format_matches_r_common_formatting():
    # values from R 4.2.2: format(c(612.10, 35.07, 654.94), digits = 4) etc.
    assert r_format([612.1, 35.07, 654.94], 4) == ["612.10", " 35.07", "654.94"]
    assert r_format([24.741, 5.9221, 25.592], 4) == ["24.741", " 5.922", "25.592"]
    assert r_format([1.47e-14], 3) == ["1.47e-14"]
    assert r_format([0.0, -0.0001], 7, nsmall=3) == [" 0e+00", "-1e-04"]
    assert r_format([1.0, -0.424, 0.0], 7, nsmall=3) == [" 1.000", "-0.424", " 0.000"]
    assert r_format([np.nan, 2.5], 4) == [" NA", "2.5"]


def test_p_values_formatted_by_column_with_the_r_floor():
    # format.pval(c(0.015044, 3.93e-07, 0.000124, 1.08e-11), digits = 3) in R 4.2.2
    assert r_format_pvalues([0.015044, 3.93e-07, 0.000124, 1.08e-11], 3) == [
        "0.015044", "3.93e-07", "0.000124", "1.08e-11"]
    assert r_format_pvalues([1e-20, 0.836, 0.549], 3) == ["< 2e-16", "0.836", "0.549"]


def test_abbreviate_matches_r():
    # abbreviate(names, 6) and abbreviate(names, 11) in R 4.2.2
    names = ["(Intercept)", "session", "armintervention", "modalitytelehealth",
             "alliance_within", "alliance_between", "session:armintervention", "cHEIGHT"]
    assert abbreviate(names, 6) == ["(Intr)", "sessin", "armntr", "mdltyt", "allnc_w",
                                    "allnc_b", "sssn:r", "cHEIGH"]
    assert abbreviate(names, 11) == ["(Intercept)", "session", "armintrvntn", "mdltytlhlth",
                                     "allinc_wthn", "allinc_btwn", "sssn:rmntrv", "cHEIGHT"]


def test_zapsmall_rounds_relative_to_the_largest_value():
    np.testing.assert_array_equal(zapsmall([1.66098, 1.8e-13, 0.81837]),
                                  [1.66098, 0.0, 0.81837])


def test_coefficient_table_without_small_p_has_no_stars():
    tab = pd.DataFrame({"Estimate": [0.1], "Std. Error": [0.2], "z value": [0.5],
                        "Pr(>|z|)": [0.62]}, index=["x"])
    lines = coefficient_lines(tab)
    assert lines == ["  Estimate Std. Error z value Pr(>|z|)", "x      0.1        0.2     0.5     0.62"]
