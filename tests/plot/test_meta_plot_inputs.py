"""Input handling shared by the meta-analysis figures (forest, funnel, Baujat)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from alliancestats.errors import MetaAnalysisError, ParameterError  # noqa: E402
from alliancestats.meta import meta_analysis  # noqa: E402
from alliancestats.plot import baujat, forest, funnel  # noqa: E402

YI = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15]
VI = [0.03, 0.03, 0.05, 0.01, 0.05, 0.02]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


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
