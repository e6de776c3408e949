"""MixedResult.contrast(): t with Satterthwaite df for lmm(), Wald z for glmm()."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from alliancestats.errors import AllianceStatsWarning, ModelSpecificationError
from alliancestats.models import glmm, lmm


@pytest.fixture(scope="module")
def adherence(adherence_data) -> pd.DataFrame:
    return adherence_data


def test_glmm_contrast_is_a_z_test(adherence):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        fit = glmm("adhered ~ session + alliance_within + (1 | patient)", adherence)
    c = fit.contrast({"session": 1.0, "alliance_within": -1.0})
    assert list(c.index) == ["estimate", "se", "df", "z", "p"]
    assert np.isinf(c["df"])
    assert c["p"] == pytest.approx(2 * stats.norm.sf(abs(c["z"])), rel=1e-12)
    # a single coefficient reproduces its row of the fixed-effects table
    one = fit.contrast({"session": 1.0})
    assert one["z"] == pytest.approx(fit.fixed.loc["session", "z"], rel=1e-10)


def test_lmm_contrast_is_a_t_test_with_satterthwaite_df(adherence):
    fit = lmm("alliance ~ session + (1 | patient)", adherence)
    c = fit.contrast({"session": 1.0})
    assert list(c.index) == ["estimate", "se", "df", "t", "p"]
    assert c["df"] == pytest.approx(fit.fixed.loc["session", "df"], rel=1e-10)
    assert c["t"] == pytest.approx(fit.fixed.loc["session", "t"], rel=1e-10)


def test_contrast_weights_are_checked(adherence):
    fit = lmm("alliance ~ session + (1 | patient)", adherence)
    with pytest.raises(ModelSpecificationError, match="unknown fixed-effect"):
        fit.contrast({"nonsense": 1.0})
    with pytest.raises(ModelSpecificationError, match="need 2 weights"):
        fit.contrast([1.0, 2.0, 3.0])
