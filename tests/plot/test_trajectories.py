"""Tests of alliancestats.plot.trajectories: what is drawn, labels, summaries and errors."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

from alliancestats.errors import DataValidationError  # noqa: E402
from alliancestats.plot import trajectories  # noqa: E402
from alliancestats.plot.trajectories import session_summary  # noqa: E402
from alliancestats.simulate import simulate_sessions  # noqa: E402


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate_sessions(n_therapists=8, patients_per_therapist=(3, 6), sessions=(4, 8), seed=4)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _by_gid(ax, gid):
    return [line for line in ax.lines if line.get_gid() == gid]


def test_draws_subsample_and_mean(cohort):
    ax = trajectories(cohort, "pain", n_patients=12)
    assert len(_by_gid(ax, "trajectory")) == 12
    (mean_line,) = _by_gid(ax, "mean")
    assert len([c for c in ax.collections if c.get_gid() == "ci"]) == 1
    assert ax.get_xlabel() == "Session" and ax.get_ylabel() == "pain"
    assert ax.get_legend_handles_labels()[1] == ["Mean (95% CI)"]
    # the mean line goes through the per-session means of the observed values
    expected = cohort.groupby("session")["pain"].mean()
    np.testing.assert_allclose(mean_line.get_xdata(), expected.index.to_numpy(float))
    np.testing.assert_allclose(mean_line.get_ydata(), expected.to_numpy())


def test_each_individual_line_is_one_patients_observed_values(cohort):
    ax = trajectories(cohort, "alliance", n_patients=None, mean=False)
    lines = _by_gid(ax, "trajectory")
    observed = cohort.dropna(subset=["alliance"])
    assert len(lines) == observed["patient"].nunique()
    assert not _by_gid(ax, "mean") and ax.get_legend() is None
    drawn = sorted(tuple(np.round(line.get_ydata(), 12)) for line in lines)
    truth = sorted(
        tuple(np.round(g.sort_values("session")["alliance"].to_numpy(), 12))
        for _, g in observed.groupby("patient")
    )
    assert drawn == truth


def test_groups_get_their_own_means_colours_and_subsamples(cohort):
    ax = trajectories(cohort, "function", group="arm", n_patients=5, ylabel="Function (0-100)")
    assert len(_by_gid(ax, "trajectory")) == 10  # 5 per arm
    means = _by_gid(ax, "mean")
    assert [m.get_label() for m in means] == ["control", "intervention"]
    assert means[0].get_color() != means[1].get_color()
    assert ax.get_legend().get_title().get_text() == "arm"
    assert ax.get_ylabel() == "Function (0-100)"


def test_subsample_is_reproducible_and_respects_small_groups(cohort):
    a = trajectories(cohort, "pain", n_patients=7, seed=3)
    b = trajectories(cohort, "pain", n_patients=7, seed=3)
    ya = [tuple(line.get_ydata()) for line in _by_gid(a, "trajectory")]
    yb = [tuple(line.get_ydata()) for line in _by_gid(b, "trajectory")]
    assert ya == yb
    c = trajectories(cohort, "pain", n_patients=10_000)
    with_pain = cohort.dropna(subset=["pain"])["patient"].nunique()
    assert with_pain < cohort["patient"].nunique()  # one patient has no observed pain at all
    assert len(_by_gid(c, "trajectory")) == with_pain
    d = trajectories(cohort, "pain", n_patients=0)
    assert not _by_gid(d, "trajectory") and len(_by_gid(d, "mean")) == 1


def test_draws_on_given_axes_and_accepts_sessiondata_like(cohort):
    fig, (ax1, ax2) = plt.subplots(1, 2)

    class Wrapped:  # anything with a .data DataFrame, like SessionData
        data = cohort

    out = trajectories(Wrapped(), "pain", ax=ax2, n_patients=3)
    assert out is ax2 and not ax1.lines
    assert all(tick == int(tick) for tick in ax2.xaxis.get_major_locator()())


def test_session_summary_matches_hand_computation():
    d = pd.DataFrame(
        {"session": [1, 1, 1, 2, 2, 3], "y": [1.0, 2.0, 6.0, 4.0, 5.0, 7.0], "g": list("aabbab")}
    )
    s = session_summary(d, "y")
    row = s.iloc[0]
    half = stats.t.ppf(0.975, 2) * np.std([1, 2, 6], ddof=1) / np.sqrt(3)
    assert (row["n"], row["mean"]) == (3, 3.0)
    # default rel 1e-6: same formula, floating-point rounding only
    assert row["ci_low"] == pytest.approx(3 - half) and row["ci_high"] == pytest.approx(3 + half)
    assert np.isnan(s.iloc[2]["ci_low"])  # a single value has no interval
    g = session_summary(d, "y", group="g", level=0.9)
    assert list(g.columns) == ["g", "session", "n", "mean", "sd", "ci_low", "ci_high"]
    assert g["n"].sum() == 6


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"y": "nope"}, DataValidationError, "y='nope' is not a column"),
        ({"y": "pain", "patient": "id"}, DataValidationError, "patient='id' is not a column"),
        ({"y": "arm"}, DataValidationError, "must be numeric"),
        ({"y": "pain", "n_patients": -1}, ValueError, "n_patients must be"),
    ],
)
def test_bad_input_raises_clear_errors(cohort, kwargs, error, match):
    with pytest.raises(error, match=match):
        trajectories(cohort, **kwargs)


def test_rejects_non_dataframe():
    with pytest.raises(TypeError, match="DataFrame or a SessionData"):
        trajectories([1, 2, 3], "pain")
