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
    assert ax.get_legend_handles_labels()[1] == ["Observed mean (95% CI)"]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    n_with_pain = cohort.dropna(subset=["pain"])["patient"].nunique()
    assert legend[-1] == f"12 of {n_with_pain} patients, random (thin lines)"
    # the mean line goes through the per-session means of the observed values
    expected = cohort.groupby("session")["pain"].mean()
    np.testing.assert_allclose(mean_line.get_xdata(), expected.index.to_numpy(float))
    np.testing.assert_allclose(mean_line.get_ydata(), expected.to_numpy())


def test_each_individual_line_is_one_patients_observed_values(cohort):
    ax = trajectories(cohort, "alliance", n_patients=None, mean=False)
    lines = _by_gid(ax, "trajectory")
    observed = cohort.dropna(subset=["alliance"])
    assert len(lines) == observed["patient"].nunique()
    assert not _by_gid(ax, "mean")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [f"all {observed['patient'].nunique()} patients (thin lines)"]
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
    assert ax.get_legend().get_title().get_text() == "Arm"  # readable, not the raw column
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


def _texts(ax, gid):
    return [t for t in ax.texts if t.get_gid() == gid]


def test_n_per_session_is_written_above_the_plot(cohort):
    ax = trajectories(cohort, "pain", n_patients=3)
    labels = _texts(ax, "n_per_session")
    counts = cohort.dropna(subset=["pain"]).groupby("session")["pain"].size()
    assert labels[-1].get_text() == "n"  # the row label
    assert [int(t.get_text()) for t in labels[:-1]] == counts.tolist()
    assert [t.xy[0] for t in labels[:-1]] == counts.index.astype(float).tolist()
    grouped = trajectories(cohort, "pain", group="arm", n_patients=0)
    rows = [t.get_text() for t in _texts(grouped, "n_per_session") if not t.get_text().isdigit()]
    assert rows == ["control", "intervention"]  # one coloured row per group


def test_large_attrition_is_said_on_the_figure():
    d = pd.DataFrame({"patient": [1, 1, 1, 2, 2, 3, 3, 4], "session": [1, 2, 3, 1, 2, 1, 2, 1],
                      "pain": [5.0, 4, 3, 6, 5, 7, 6, 5]})
    (note,) = _texts(trajectories(d, "pain"), "attrition_note")
    assert note.get_text().replace("\n", " ") == (
        "n falls from 4 (session 1) to 1 (session 3): later means describe only the "
        "patients still observed")
    assert not _texts(trajectories(d, "pain", attrition=None), "attrition_note")
    assert not _texts(trajectories(d, "pain", attrition=0.8), "attrition_note")  # 75% < 80%
    with pytest.raises(ValueError, match="attrition must be a share"):
        trajectories(d, "pain", attrition=30)


def test_min_n_leaves_sparse_sessions_without_a_mean(cohort):
    counts = cohort.dropna(subset=["pain"]).groupby("session")["pain"].size()
    ax = trajectories(cohort, "pain", n_patients=0, min_n=int(counts.iloc[-1]) + 1)
    (mean_line,) = _by_gid(ax, "mean")
    assert mean_line.get_xdata().tolist() == counts.index[counts > counts.iloc[-1]].tolist()
    assert len(_texts(ax, "n_per_session")) == len(counts) + 1  # n still shown everywhere


def test_model_implied_means_are_overlaid(cohort):
    from alliancestats import lmm, marginal_means

    data = cohort.dropna(subset=["pain"])
    fit = lmm("pain ~ session * arm + (1 | patient)", data)
    ax = trajectories(data, "pain", group="arm", model=fit, n_patients=0)
    lines = _by_gid(ax, "model")
    assert len(lines) == 2
    sessions = sorted(data["session"].unique())
    mm = marginal_means(fit, "session", by="arm", at={"session": sessions}).table
    control = mm[mm["arm"] == "control"]
    # the same marginal means, drawn as they are
    np.testing.assert_allclose(lines[0].get_ydata(), control["estimate"], rtol=1e-12)
    assert "model-implied means (dashed)" in [t.get_text() for t in ax.get_legend().get_texts()]
    single = trajectories(data, "pain", model=fit, n_patients=0)
    assert [m.get_label() for m in _by_gid(single, "model")] == ["Model-implied mean"]
    with pytest.raises(ValueError, match="fitted to 'pain', not to the plotted 'alliance'"):
        trajectories(cohort, "alliance", model=fit)


def test_panels_give_each_group_its_own_axes(cohort):
    from alliancestats.plot import trajectory_panels

    axes = trajectory_panels(cohort, "pain", group="arm", n_patients=4, legend_title="Group")
    assert [a.get_title(loc="left") for a in axes] == ["Group: control", "Group: intervention"]
    for a, (_, part) in zip(axes, cohort.groupby("arm"), strict=True):
        (mean_line,) = _by_gid(a, "mean")
        expected = part.groupby("session")["pain"].mean().dropna()
        np.testing.assert_allclose(mean_line.get_ydata(), expected.to_numpy())
        assert len(_by_gid(a, "trajectory")) == 4
    assert axes[0].get_shared_y_axes().joined(axes[0], axes[1])
    fig, grid = plt.subplots(1, 3)
    drawn = trajectory_panels(cohort, "pain", group="arm", ax=grid)
    assert list(drawn) == list(grid[:2])
    with pytest.raises(ValueError, match="at least 2 matplotlib Axes"):
        trajectory_panels(cohort, "pain", group="arm", ax=grid[:1])


def test_narrow_styles_stack_panels_at_column_width(cohort):
    from alliancestats.plot import trajectory_panels

    axes = trajectory_panels(cohort, "pain", group="arm", style="single_column")
    width, _ = axes[0].figure.get_size_inches()
    assert width * 25.4 == pytest.approx(90)
    assert axes[0].get_position().x0 == pytest.approx(axes[1].get_position().x0)  # one column
    assert axes[0].xaxis.label.get_fontsize() == 8.0
