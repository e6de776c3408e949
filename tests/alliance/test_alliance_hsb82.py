"""within_between() builds the Hsb82 predictors that reproduce the pinned lme4 fit.

Reference: tests/reference/lmm/lmm_reference.json (lme4 1.1-31, lmerTest 3.1-3; script
tests/reference/lmm/lmm_reference.R), case ``hsb82``: ``mAch ~ ses_within + ses_mean +
(1 | school)`` on mlmRev's Hsb82 (schools play the role of patients). DOMAIN.md section 5:
within 2.191 (SE .109), between 5.866 (SE .362), contextual 3.675.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alliancestats.alliance import within_between
from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import lmm

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((REF_DIR / "lmm_reference.json").read_text())
KEYS = ["hsb82_REML", "hsb82_ML"]

# tolerances as in tests/models/test_lmm_reference.py (issue 3)
TOL_CRIT = 1e-6  # criterion: both optimisers converge to ~1e-9
TOL_FIXED = 1e-4  # fixed effects, relative to max(1, |estimate|)
TOL_SE = 1e-3  # SEs depend on theta, which lme4's BOBYQA stops at to ~1e-5
TOL_DF = 1e-2  # Satterthwaite df rest on numerical second derivatives in both programs


@pytest.fixture(scope="module")
def hsb82() -> pd.DataFrame:
    raw = pd.read_csv(REF_DIR / "data" / "hsb82.csv")
    ours = within_between(
        raw.drop(columns=["ses_mean", "ses_within"]),
        "ses",
        patient="school",
        center=None,
        between_suffix="_mean",
    )
    # the R export computed the same columns; they agree to floating-point rounding
    np.testing.assert_allclose(ours["ses_mean"], raw["ses_mean"], atol=1e-12)
    np.testing.assert_allclose(ours["ses_within"], raw["ses_within"], atol=1e-12)
    return ours


def fit(data: pd.DataFrame, key: str, formula: str | None = None):
    ref = REF["fits"][key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return lmm(formula or ref["formula"], data, reml=ref["reml"])


def test_reference_cases_present():
    assert all(k in REF["fits"] for k in KEYS)
    for key in KEYS:
        assert REF["fits"][key]["formula"] == "mAch ~ ses_within + ses_mean + (1 | school)"
        assert REF["fits"][key]["data"] == "hsb82.csv"


@pytest.mark.parametrize("key", KEYS)
def test_hsb82_within_between_fit_matches_lme4(hsb82, key):
    ref = REF["fits"][key]
    m = fit(hsb82, key)
    assert m.nobs == ref["nobs"] == 7185
    assert m.deviance == pytest.approx(ref["criterion"], rel=TOL_CRIT)
    fx = pd.DataFrame(ref["fixed"]).set_index("term")
    assert list(m.fixed.index) == list(fx.index)
    scale = np.maximum(1.0, fx["estimate"].abs())
    np.testing.assert_array_less(np.abs(m.fixed["estimate"] - fx["estimate"]) / scale, TOL_FIXED)
    np.testing.assert_allclose(m.fixed["se"], fx["se"], rtol=TOL_SE)
    np.testing.assert_allclose(m.fixed["df"], fx["df"], rtol=TOL_DF)


def test_hsb82_published_values_and_contextual_effect(hsb82):
    m = fit(hsb82, "hsb82_REML")
    # DOMAIN.md values are printed to 3 decimals
    assert m.fixed.loc["ses_within", "estimate"] == pytest.approx(2.191, abs=5e-4)
    assert m.fixed.loc["ses_within", "se"] == pytest.approx(0.109, abs=5e-4)
    assert m.fixed.loc["ses_mean", "estimate"] == pytest.approx(5.866, abs=5e-4)
    assert m.fixed.loc["ses_mean", "se"] == pytest.approx(0.362, abs=5e-4)
    c = m.contrast({"ses_mean": 1, "ses_within": -1})
    fx = pd.DataFrame(REF["fits"]["hsb82_REML"]["fixed"]).set_index("term")["estimate"]
    # contextual effect = between - within, from the pinned estimates (fixed-effect tolerance)
    assert c["estimate"] == pytest.approx(fx["ses_mean"] - fx["ses_within"], abs=2 * TOL_FIXED)
    assert c["estimate"] == pytest.approx(3.675, abs=5e-4)  # DOMAIN.md, 3 decimals
    assert c["se"] > 0 and c["p"] < 1e-10


def test_grand_mean_centring_only_moves_the_intercept(hsb82):
    raw = pd.read_csv(REF_DIR / "data" / "hsb82.csv").drop(columns=["ses_mean", "ses_within"])
    centred = within_between(raw, "ses", patient="school", between_suffix="_mean")
    grand = raw["ses"].mean()
    np.testing.assert_allclose(centred["ses_mean"], hsb82["ses_mean"] - grand, atol=1e-12)
    m = fit(centred, "hsb82_REML")
    fx = pd.DataFrame(REF["fits"]["hsb82_REML"]["fixed"]).set_index("term")
    # slopes unchanged; intercept = b0 + b_between * grand mean (fixed-effect tolerance)
    for term in ("ses_within", "ses_mean"):
        assert m.fixed.loc[term, "estimate"] == pytest.approx(
            fx.loc[term, "estimate"], abs=TOL_FIXED * max(1, abs(fx.loc[term, "estimate"]))
        )
    expected = fx.loc["(Intercept)", "estimate"] + fx.loc["ses_mean", "estimate"] * grand
    assert m.fixed.loc["(Intercept)", "estimate"] == pytest.approx(expected, abs=TOL_FIXED * 13)
