"""Data and cached fits of the pinned lme4 review cases (lmm_review_cases.json), shared by
the LMM test files."""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path

import pandas as pd

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import lmm

REF_DIR = Path(__file__).resolve().parents[1] / "reference" / "lmm"
REF = json.loads((REF_DIR / "lmm_review_cases.json").read_text())


@cache
def sites() -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / "review_sites.csv")


@cache
def complete() -> pd.DataFrame:
    """Rows with an observed pain score (the simulator leaves some missing)."""
    return sites().dropna(subset=["pain"]).reset_index(drop=True)


def quiet_fit(formula: str, data, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return lmm(formula, data, **kw)


@cache
def ref_fit(key: str):
    ref = REF["fits"][key]
    d = sites()
    if key == "unused_level":
        d = d.assign(site=pd.Categorical(d["site"], categories=ref["levels"]))
    if key == "big_slope_units":
        d = d.assign(session_big=d["session"] * 1e6)
    return quiet_fit(ref["formula"], d, reml=ref["reml"])
