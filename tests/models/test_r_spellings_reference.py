"""Formulas written as R users write them, fitted on public data and compared with lme4.

The reference values (tests/reference/lmm/lmm_r_spellings.json, from lmm_r_spellings.R: R 4.2.2,
lme4 1.1-31) cover ``I(age^2)``, ``poly(age, 2)``, ``factor(nitro)``, ``scale(IQ.verb)`` (a
dotted column inside a call, also in a random term), ``log(total.fruits + 1)`` on the left,
``sin``/``cos``/``sqrt``/``exp``/``pi`` without ``np.``, ``log(base/4)``,
``offset(log(size))``, ``relevel(livch, ref = "3+")`` and a text ``"N"``/``"Y"`` response.
Term names must equal R's row names exactly.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import glmm, lmm
from alliancestats.models.formula_functions import factor_labels, r_number
from alliancestats.models.formula_translate import translate_expression
from alliancestats.models.term_names import r_expression

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((REF_DIR / "lmm_r_spellings.json").read_text())
CASES = [
    "oxboys_I_power",
    "oxboys_poly",
    "oats_factor",
    "bdf_scale_dotted",
    "arabidopsis_log_response",
    "sleepstudy_math",
    "epil_log_poisson",
    "cbpp_offset_poisson",
    "contraception_text_response",
    "contraception_relevel",
]


@cache
def read(path: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / path)


@cache
def fit(case: str):
    ref = REF["fits"][case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        if ref["family"] == "gaussian":
            return lmm(ref["formula"], read(ref["data"]))
        return glmm(ref["formula"], read(ref["data"]), family=ref["family"])


def test_reference_grid_is_complete():
    assert sorted(REF["fits"]) == sorted(CASES)
    assert REF["meta"]["lme4"] == "1.1.31"
    assert len(REF["deparse"]["input"]) == len(REF["deparse"]["output"]) == 24
    assert len(REF["numbers"]["value"]) == len(REF["numbers"]["as_character"]) == 11


@pytest.mark.parametrize("case", CASES)
def test_term_names_are_r_names(case):
    assert list(fit(case).fixed.index) == REF["fits"][case]["fixed"]["term"]


@pytest.mark.parametrize("case", CASES)
def test_estimates_and_standard_errors_match_lme4(case):
    ref, m = REF["fits"][case], fit(case)
    est, se = np.asarray(ref["fixed"]["estimate"]), np.asarray(ref["fixed"]["se"])
    if ref["family"] == "gaussian":
        # same tolerances as the lmm reference suite: lme4's BOBYQA stops at ~1e-5 in theta
        scale = np.maximum(1.0, np.abs(est))
        np.testing.assert_allclose(m.fixed["estimate"] / scale, est / scale, atol=1e-4)
        np.testing.assert_allclose(m.fixed["se"], se, rtol=1e-3)
        # the REML criterion: both optimisers converge to ~1e-9 relative
        assert m.deviance == pytest.approx(ref["criterion"], rel=1e-6)
    else:
        # glmer's default PIRLS tolerance moves its estimates by ~1e-4 and its
        # finite-difference SEs by up to ~1.5% (as in the glmm reference suite)
        np.testing.assert_allclose(m.fixed["estimate"], est, atol=1e-3)
        np.testing.assert_allclose(m.fixed["se"], se, rtol=1.5e-2)
        # Laplace log-likelihood: glmer's inexact PIRLS leaves it off by <= ~3e-6 relative
        assert m.loglik == pytest.approx(ref["loglik"], rel=1e-5)
    assert m.nobs == ref["nobs"]


def _keyed(grp, var1, var2) -> list[str]:
    """``grp|var1|var2`` keys; missing names (None or NaN) become ``-``."""

    def text(v):
        return v if isinstance(v, str) else "-"

    return [f"{g}|{text(a)}|{text(b)}" for g, a, b in zip(grp, var1, var2, strict=True)]


@pytest.mark.parametrize("case", CASES)
def test_random_effect_sds_match_lme4(case):
    ref, m = REF["fits"][case], fit(case)
    # jsonlite writes one-row tables as scalars
    vc = {k: np.atleast_1d(np.asarray(v, dtype=object)) for k, v in ref["varcorr"].items()}
    want = pd.Series(vc["sdcor"].astype(float), index=_keyed(vc["grp"], vc["var1"], vc["var2"]))
    ours = m.varcorr
    got = pd.Series(ours["sdcor"].to_numpy(), index=_keyed(ours["grp"], ours["var1"], ours["var2"]))
    assert sorted(got.index) == sorted(want.index)
    # SDs and correlations: the glmm suite's tolerance (theta to ~1e-2 under glmer's default
    # PIRLS tolerance); LMM components agree as in the lmm suite
    atol = 1e-2 if ref["family"] != "gaussian" else 1e-3
    np.testing.assert_allclose(got[want.index], want, atol=atol)


def test_text_response_success_level_is_reported():
    m = fit("contraception_text_response")
    assert REF["fits"]["contraception_text_response"]["response_levels"] == ["N", "Y"]
    assert "'Y' counts as success (1), 'N' as failure (0)" in m.summary()


@pytest.mark.parametrize(
    "recode",
    [
        pytest.param(lambda s: s.astype("string"), id="string-dtype"),
        pytest.param(lambda s: s.astype("string[pyarrow]"), id="pyarrow-string"),
        pytest.param(lambda s: s.astype(object), id="object"),
        pytest.param(lambda s: s.eq("Y"), id="bool"),
        pytest.param(lambda s: s.eq("Y").astype("boolean"), id="nullable-bool"),
        pytest.param(lambda s: pd.Categorical(s, categories=["N", "Y"]), id="categorical"),
        pytest.param(lambda s: s.eq("Y").astype(float), id="zero-one"),
    ],
)
def test_text_and_boolean_responses_give_the_lme4_fit(recode):
    ref = REF["fits"]["contraception_text_response"]
    d = read(ref["data"]).copy()
    d["use"] = recode(d["use"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        m = glmm(ref["formula"], d, family="binomial")
    # same tolerance as the text-response case above: glmer's default PIRLS tolerance
    np.testing.assert_allclose(m.fixed["estimate"], ref["fixed"]["estimate"], atol=1e-3)


@pytest.mark.parametrize("k", range(24))
def test_term_text_is_deparsed_as_r_does(k):
    source, r_text = REF["deparse"]["input"][k], REF["deparse"]["output"][k]
    assert r_expression(translate_expression(source)) == r_text


def test_numbers_and_factor_levels_are_labelled_as_r_does():
    values = REF["numbers"]["value"]
    assert [r_number(v) for v in values] == REF["numbers"]["as_character"]
    assert factor_labels(np.asarray(values, dtype=float))[1] == REF["numbers"]["factor_levels"]
