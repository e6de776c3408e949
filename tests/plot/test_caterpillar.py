"""Tests of alliancestats.plot.caterpillar: modes and intervals from the fit."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

import alliancestats as als
from alliancestats.errors import ParameterError
from alliancestats.plot import caterpillar
from alliancestats.plot.caterpillar import conditional_modes


@pytest.fixture(scope="module")
def fit(sleepstudy):
    return als.lmm("Reaction ~ Days + (Days || Subject)", sleepstudy)


@pytest.fixture(autouse=True)
def _close(close_figures):
    return close_figures


def test_modes_and_intervals(fit):
    tab = conditional_modes(fit, "Subject", "Days", level=0.9)
    modes = fit.ranef["Subject"]["Days"]
    np.testing.assert_allclose(tab["mode"], modes.to_numpy())
    # the uncorrelated slope's conditional variances sit under lme4's "Subject.1"
    se = np.sqrt(fit.cond_var["Subject.1"][:, 0, 0])
    np.testing.assert_allclose(tab["se"], se)
    np.testing.assert_allclose(tab["ci_high"] - tab["mode"], stats.norm.ppf(0.95) * se)


def test_plot_is_sorted(fit):
    ax = caterpillar(fit, "Subject")
    (points,) = [line for line in ax.lines if line.get_gid() == "mode"]
    x = points.get_xdata()
    assert np.all(np.diff(x) >= 0) and len(x) == 18
    labels = [t.get_text() for t in ax.get_yticklabels()]
    ranef = fit.ranef["Subject"]["(Intercept)"]
    assert labels == list(ranef.sort_values().index.astype(str))
    assert ax.get_xlabel() == "(Intercept) | Subject"


def test_unsorted_and_given_axes(fit):
    fig, ax = plt.subplots()
    out = caterpillar(fit, term="Days", sort=False, ax=ax)
    assert out is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == sorted(fit.ranef["Subject"].index)


def test_glmm_modes(cbpp):
    g = als.glmm("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    tab = conditional_modes(g)
    assert len(tab) == 15 and (tab["se"] > 0).all()


def test_bad_arguments(fit):
    with pytest.raises(ParameterError, match="grouping factors"):
        caterpillar(fit, "patient")
    with pytest.raises(ParameterError, match="term"):
        caterpillar(fit, "Subject", "session")
