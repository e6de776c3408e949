"""GOSH plot: one point per subset at (estimate, I²), highlighted subsets, axis labels."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from alliancestats.errors import MetaAnalysisError  # noqa: E402
from alliancestats.meta import gosh as gosh_fits  # noqa: E402
from alliancestats.meta import meta_analysis  # noqa: E402
from alliancestats.plot import gosh  # noqa: E402

YI = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15]
VI = [0.03, 0.03, 0.05, 0.01, 0.05, 0.02]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_points_are_the_subset_fits():
    res = meta_analysis(yi=YI, vi=VI, method="DL")
    fits = gosh_fits(res)
    ax = gosh(res)
    (points,) = [c for c in ax.collections if c.get_gid() == "gosh_points"]
    xy = np.asarray(points.get_offsets())
    np.testing.assert_allclose(xy[:, 0], fits.fits["estimate"], rtol=1e-12)  # copied values
    np.testing.assert_allclose(xy[:, 1], fits.fits["I2"], rtol=1e-12)  # copied values
    assert len(xy) == 2**6 - 1
    assert ax.get_ylabel() == "I² (%)" and ax.get_xlabel() == "Pooled estimate: Effect size"


def test_highlight_splits_the_subsets_by_one_study():
    res = meta_analysis(yi=YI, vi=VI, slab=list("abcdef"), measure="ZCOR")
    ax = gosh(res, highlight="d", transform="r")
    (hl,) = [c for c in ax.collections if c.get_gid() == "gosh_highlight"]
    assert len(hl.get_offsets()) == 2**5  # subsets containing study d
    assert ax.get_xlabel() == "Pooled estimate: Correlation r (Fisher's z scale)"
    with pytest.raises(MetaAnalysisError, match="not a study label"):
        gosh(res, highlight="z")
