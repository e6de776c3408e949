"""Variance components reported the same way by lmm() and glmm(): varcorr, ranef, ngroups."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from alliancestats.errors import AllianceStatsWarning
from alliancestats.models import glmm, lmm


@pytest.fixture(scope="module")
def adherence(adherence_data) -> pd.DataFrame:
    return adherence_data


def quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return fn(*args, **kwargs)


@pytest.fixture(scope="module")
def uncorrelated_fits(adherence):
    lin = quiet(lmm, "alliance ~ session + (1 + session || patient)", adherence)
    gen = quiet(glmm, "adhered ~ session + (1 + session || patient)", adherence)
    return lin, gen


@pytest.mark.parametrize("engine", ["lmm", "glmm"])
def test_double_bar_terms_merge_in_ranef_and_ngroups(uncorrelated_fits, engine):
    # lme4 reports one grouping factor "patient" for (1 + session || patient) in ranef()
    # and ngrps(), and keeps "patient" and "patient.1" apart only in VarCorr
    fit = uncorrelated_fits[0 if engine == "lmm" else 1]
    n_patients = fit.model.design.data["patient"].nunique()
    assert fit.ngroups == {"patient": n_patients}
    assert list(fit.ranef) == ["patient"]
    assert list(fit.ranef["patient"].columns) == ["(Intercept)", "session"]
    assert [g for g in fit.varcorr["grp"] if g != "Residual"] == ["patient", "patient.1"]


def test_lmm_and_glmm_report_the_same_layout(uncorrelated_fits):
    lin, gen = uncorrelated_fits
    assert list(lin.varcorr.columns) == list(gen.varcorr.columns)
    assert lin.ngroups.keys() == gen.ngroups.keys()
    assert lin.ranef.keys() == gen.ranef.keys()
    assert lin.cond_var.keys() == gen.cond_var.keys() == {"patient", "patient.1"}


def test_separately_written_terms_for_one_factor_merge(adherence):
    # (1 | patient) + (0 + session | patient) is lme4's other spelling of ||
    fit = quiet(glmm, "adhered ~ session + (1 | patient) + (0 + session | patient)", adherence)
    assert list(fit.ranef) == ["patient"]
    assert list(fit.ngroups) == ["patient"]


def test_wald_table_names_match_between_engines(uncorrelated_fits):
    lin, gen = uncorrelated_fits
    names_lin = list(lin.confint("wald").index)
    names_gen = list(gen.confint("wald").index)
    assert names_lin[:2] == names_gen[:2] == ["sd_(Intercept)|patient", "sd_session|patient.1"]
    assert np.isfinite(gen.confint("wald")["ci_high"]).all()
