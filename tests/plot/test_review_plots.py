"""Regression tests from the adversarial review of the plotting functions."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from alliancestats.errors import DataValidationError, MetaAnalysisError, ParameterError  # noqa: E402
from alliancestats.meta import meta_analysis  # noqa: E402
from alliancestats.plot import baujat, forest, funnel, trajectories  # noqa: E402
from alliancestats.plot.trajectories import session_summary  # noqa: E402

YI = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15]
VI = [0.03, 0.03, 0.05, 0.01, 0.05, 0.02]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def contour_gids(ax) -> set[str]:
    return {c.get_gid() for c in ax.collections if str(c.get_gid()).startswith("contour_")}


def test_funnel_contours_true_means_the_default_levels():
    # contours=True used to raise TypeError: 'bool' object is not iterable
    res = meta_analysis(yi=YI, vi=VI)
    assert contour_gids(funnel(res, contours=True)) == contour_gids(funnel(res))
    assert contour_gids(funnel(res)) == {"contour_0.9", "contour_0.95", "contour_0.99"}


def test_funnel_contours_false_or_single_level():
    res = meta_analysis(yi=YI, vi=VI)
    assert contour_gids(funnel(res, contours=False)) == set()
    assert contour_gids(funnel(res, contours=0.95)) == {"contour_0.95"}


def test_funnel_percent_contours_are_refused_clearly():
    res = meta_analysis(yi=YI, vi=VI)
    with pytest.raises(MetaAnalysisError, match=r"confidence levels in \(0, 1\)"):
        funnel(res, contours=[90, 95])


@pytest.mark.parametrize("plot", [forest, funnel, baujat])
def test_meta_plots_refuse_objects_that_are_not_fitted_models(plot):
    with pytest.raises(MetaAnalysisError, match="needs a fitted model from meta_analysis"):
        plot(pd.DataFrame({"yi": YI, "vi": VI}))


def test_meta_plots_with_one_and_two_studies():
    one = meta_analysis(yi=[0.3], vi=[0.01])
    two = meta_analysis(yi=[0.3, 0.5], vi=[0.01, 0.02])
    ax = funnel(one)
    observed = [c for c in ax.collections if c.get_gid() == "observed"]
    assert len(observed[0].get_offsets()) == 1
    assert forest(two) is not None
    with pytest.raises(MetaAnalysisError, match="at least 2 studies"):
        baujat(one)


def test_baujat_bad_symbol_is_a_parameter_error():
    res = meta_analysis(yi=YI, vi=VI)
    with pytest.raises(ParameterError, match="symbol"):
        baujat(res, symbol="stars")


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient": [1, 1, 1, 2, 2, 2],
            "session": [1, 2, 3, 1, 2, 3],
            "pain": [6.0, 5.0, 4.0, 7.0, 5.0, 5.0],
        }
    )


def test_trajectories_level_accepts_a_percentage(sessions):
    # level=95 used to raise a bare ValueError; meta_analysis accepts both forms
    pd.testing.assert_frame_equal(
        session_summary(sessions, "pain", level=95), session_summary(sessions, "pain", level=0.95)
    )
    assert trajectories(sessions, "pain", level=95) is not None


@pytest.mark.parametrize("level", [0, 100, 150, -1])
def test_trajectories_impossible_level_is_a_parameter_error(sessions, level):
    with pytest.raises(ParameterError, match="level"):
        session_summary(sessions, "pain", level=level)


@pytest.mark.parametrize("n_patients", [-1, 2.5, "10", True])
def test_trajectories_bad_n_patients_is_a_parameter_error(sessions, n_patients):
    # "10" used to escape as a bare ValueError from int()
    with pytest.raises(ParameterError, match="n_patients"):
        trajectories(sessions, "pain", n_patients=n_patients)


def test_trajectories_nullable_dtypes_and_duplicate_index(sessions):
    data = sessions.astype({"pain": "Float64", "session": "Int64"}).set_index(
        pd.Index(np.zeros(len(sessions), dtype=int))
    )
    summary = session_summary(data, "pain")
    assert summary["mean"].tolist() == [6.5, 5.0, 4.5]
    assert trajectories(data, "pain") is not None


def test_trajectories_wrong_data_type_is_a_parameter_error():
    with pytest.raises(ParameterError, match="DataFrame or a SessionData"):
        trajectories([1, 2, 3], "pain")


@pytest.mark.parametrize("plot", [forest, funnel, baujat])
def test_meta_plots_refuse_an_ax_that_is_not_an_axes(plot):
    # used to fail with AttributeError: 'str' object has no attribute 'spines'
    res = meta_analysis(yi=YI, vi=VI)
    with pytest.raises(ParameterError, match="ax must be a matplotlib Axes"):
        plot(res, ax="left")


def test_meta_plots_draw_on_a_given_axes():
    res = meta_analysis(yi=YI, vi=VI)
    _, given = plt.subplots()
    assert forest(res, ax=given) is given
    assert funnel(res, ax=given) is given


def test_trajectories_refuse_an_ax_that_is_not_an_axes(sessions):
    with pytest.raises(ParameterError, match="ax must be a matplotlib Axes"):
        trajectories(sessions, "pain", ax=[1])


def test_trajectories_infinite_outcome_is_an_error_not_an_infinite_mean(sessions):
    # one inf used to give mean = inf and sd = NaN for that session without a word
    data = sessions.assign(pain=[np.inf, 5.0, 4.0, 7.0, 5.0, 5.0])
    with pytest.raises(DataValidationError, match="1 infinite value"):
        session_summary(data, "pain")
