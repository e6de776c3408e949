"""Bubble plot: effects against the moderator, bubbles sized by weight, fitted line and bands."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from alliancestats.errors import MetaAnalysisError  # noqa: E402
from alliancestats.meta import meta_analysis  # noqa: E402
from alliancestats.plot import bubble  # noqa: E402

DATA = pd.DataFrame(
    {
        "yi": [0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
        "vi": [0.03, 0.03, 0.05, 0.01, 0.05, 0.02],
        "dose": [1, 2, 3, 5, 4, 1],
        "age": [30, 40, 35, 50, 45, 32],
    }
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_points_line_and_bands():
    res = meta_analysis(DATA, mods="~ dose")
    ax = bubble(res)
    (dots,) = [c for c in ax.collections if c.get_gid() == "bubble_points"]
    xy = np.asarray(dots.get_offsets())
    np.testing.assert_allclose(xy[:, 0], DATA["dose"], rtol=1e-12)  # copied values
    np.testing.assert_allclose(xy[:, 1], DATA["yi"], rtol=1e-12)  # copied values
    sizes = dots.get_sizes()
    assert np.argmax(sizes) == np.argmax(res.weights)
    (line,) = [ln for ln in ax.lines if ln.get_gid() == "fitted_line"]
    x, y = line.get_data()
    np.testing.assert_allclose(y, res.beta[0] + res.beta[1] * x, rtol=1e-10)  # the fitted line
    gids = {c.get_gid() for c in ax.collections}
    assert {"confidence_band", "prediction_band"} <= gids
    assert ax.get_xlabel() == "dose" and ax.get_ylabel() == "Effect size"


def test_several_moderators_need_a_choice():
    res = meta_analysis(DATA, mods="~ dose + age")
    with pytest.raises(MetaAnalysisError, match="Choose the moderator"):
        bubble(res)
    assert bubble(res, "age").get_xlabel() == "age"
    with pytest.raises(MetaAnalysisError, match="needs a model with a moderator"):
        bubble(meta_analysis(DATA))
