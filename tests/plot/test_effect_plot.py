"""Tests of alliancestats.plot.effect_plot: the drawn lines are the marginal means."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import alliancestats as als  # noqa: E402
from alliancestats.errors import ParameterError  # noqa: E402
from alliancestats.plot import effect_plot  # noqa: E402


@pytest.fixture(scope="module")
def data():
    df = als.simulate_sessions(n_therapists=8, seed=5)
    return df.dropna(subset=["pain", "alliance"])


@pytest.fixture(scope="module")
def fit(data):
    return als.lmm("pain ~ session * alliance + arm + (1 | patient)", data)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _effect_lines(ax):
    return [line for line in ax.lines if line.get_gid() == "effect"]


def test_lines_are_marginal_means_at_mean_and_sd(fit, data):
    ax = effect_plot(fit, "session", by="alliance", n_points=7)
    lines = _effect_lines(ax)
    assert len(lines) == 3
    a = data["alliance"]
    m, s = a.mean(), a.std()
    sessions = np.linspace(data["session"].min(), data["session"].max(), 7)
    mm = als.marginal_means(fit, "session", by="alliance",
                            at={"session": sessions, "alliance": [m - s, m, m + s]})
    for line, (_, part) in zip(lines, mm.table.groupby("alliance", sort=False), strict=True):
        np.testing.assert_allclose(line.get_xdata(), sessions)
        np.testing.assert_allclose(line.get_ydata(), part["estimate"], rtol=1e-12)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"-1 SD ({m - s:.2f})", f"mean ({m:.2f})", f"+1 SD ({m + s:.2f})"]
    assert sum(c.get_gid() == "ci" for c in ax.collections) == 3
    assert ax.get_xlabel() == "session" and ax.get_ylabel() == "Predicted pain"


def test_explicit_by_values_and_categorical_by(fit):
    ax = effect_plot(fit, "session", by="alliance", by_values=[3, 4])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["alliance = 3",
                                                                   "alliance = 4"]
    ax = effect_plot(fit, "session", by="arm")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["control", "intervention"]


def test_categorical_x_draws_points_with_error_bars(fit):
    ax = effect_plot(fit, "arm")
    (points,) = _effect_lines(ax)
    mm = als.marginal_means(fit, "arm")
    np.testing.assert_allclose(points.get_ydata(), mm.table["estimate"], rtol=1e-12)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["control", "intervention"]


def test_marginal_means_input_and_given_axes(fit):
    mm = als.marginal_means(fit, "session", by="arm", at={"session": [1, 4, 8]})
    fig, ax = plt.subplots()
    out = effect_plot(mm, ax=ax)
    assert out is ax
    assert [len(line.get_xdata()) for line in _effect_lines(ax)] == [3, 3]


def test_glmm_response_scale():
    d = als.simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
    fit = als.glmm("adhered ~ alliance + (1 | patient)", d)
    ax = effect_plot(fit, "alliance")
    y = _effect_lines(ax)[0].get_ydata()
    assert ((y > 0) & (y < 1)).all()


def test_bad_arguments(fit):
    with pytest.raises(ParameterError, match="name the predictor"):
        effect_plot(fit)
    with pytest.raises(ParameterError, match="not a predictor"):
        effect_plot(fit, "therapist")
    with pytest.raises(ParameterError, match="by_values"):
        effect_plot(fit, "session", by="alliance", by_values="quartiles")
    with pytest.raises(ParameterError):
        effect_plot(fit, "session", ax="axes")
