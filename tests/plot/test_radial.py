"""Radial plot: points at (precision, standardised effect), line with the pooled slope."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from alliancestats.errors import MetaAnalysisError  # noqa: E402
from alliancestats.meta import meta_analysis  # noqa: E402
from alliancestats.plot import radial  # noqa: E402

YI = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15]
VI = [0.03, 0.03, 0.05, 0.01, 0.05, 0.02]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_points_and_slope():
    res = meta_analysis(yi=YI, vi=VI)
    ax = radial(res)
    (points,) = [c for c in ax.collections if c.get_gid() == "radial_points"]
    xy = np.asarray(points.get_offsets())
    scale = np.sqrt(np.asarray(VI) + res.tau2)
    np.testing.assert_allclose(xy[:, 0], 1 / scale, rtol=1e-12)  # closed form
    np.testing.assert_allclose(xy[:, 1], np.asarray(YI) / scale, rtol=1e-12)  # closed form
    (line,) = [ln for ln in ax.lines if ln.get_gid() == "radial_line"]
    x, y = line.get_data()
    assert (y[1] - y[0]) / (x[1] - x[0]) == pytest.approx(res.estimate, rel=1e-12)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0].startswith("Estimate ± 1.96") and "Study" in legend


def test_radial_refuses_moderators():
    with pytest.raises(MetaAnalysisError, match="without moderators"):
        radial(meta_analysis(yi=YI, vi=VI, mods=[1, 2, 3, 4, 5, 6]))
