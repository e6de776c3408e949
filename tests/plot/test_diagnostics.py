"""Tests of alliancestats.plot.diagnostics: residual and random-effect QQ panels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import alliancestats as als
from alliancestats.errors import ParameterError
from alliancestats.plot import diagnostics, qq_ranef, qq_residuals, residuals_vs_fitted
from alliancestats.plot.diagnostics import theoretical_quantiles


@pytest.fixture(scope="module")
def fit(sleepstudy):
    return als.lmm("Reaction ~ Days + (Days | Subject)", sleepstudy)


@pytest.fixture(autouse=True)
def _close(close_figures):
    return close_figures


def _gid(ax, gid):
    return [line for line in ax.lines if line.get_gid() == gid]


def test_ppoints_match_r():
    # R 4.2.2: qnorm(ppoints(5)) and qnorm(ppoints(20))[1:2]
    np.testing.assert_allclose(theoretical_quantiles(5),
                               [-1.1797611, -0.4972006, 0.0, 0.4972006, 1.1797611], atol=1e-7)
    np.testing.assert_allclose(theoretical_quantiles(20)[:2], [-1.9599640, -1.4395315],
                               atol=1e-7)


def test_residuals_vs_fitted(fit):
    ax = residuals_vs_fitted(fit)
    (points,) = _gid(ax, "points")
    np.testing.assert_allclose(points.get_xdata(), fit.fitted.to_numpy())
    np.testing.assert_allclose(points.get_ydata(), fit.residuals.to_numpy())
    assert len(_gid(ax, "smooth")) == 1
    assert not _gid(residuals_vs_fitted(fit, smooth=False), "smooth")


def test_qq_residuals_are_scaled(fit):
    ax = qq_residuals(fit)
    (points,) = _gid(ax, "points")
    expected = np.sort(fit.residuals.to_numpy() / fit.sigma)
    np.testing.assert_allclose(points.get_ydata(), expected)
    np.testing.assert_allclose(points.get_xdata(), theoretical_quantiles(fit.nobs))
    (line,) = _gid(ax, "reference")
    q1, q3 = np.quantile(expected, [0.25, 0.75])
    slope = np.diff(line.get_ydata())[0] / np.diff(line.get_xdata())[0]
    assert slope == pytest.approx((q3 - q1) / (2 * 0.6744897501960817))  # qqline


def test_qq_ranef(fit):
    ax = qq_ranef(fit, "Subject", "Days")
    (points,) = _gid(ax, "points")
    np.testing.assert_allclose(points.get_ydata(), np.sort(fit.ranef["Subject"]["Days"]))
    with pytest.raises(ParameterError):
        qq_ranef(fit, "Subject", "session")


def test_three_panels_on_given_axes(fit):
    fig, axes = plt.subplots(1, 3)
    out = diagnostics(fit, axes=axes)
    assert all(a is b for a, b in zip(out, axes, strict=True))
    with pytest.raises(ParameterError, match="three"):
        diagnostics(fit, axes=axes[:2])
