"""L'Abbé plot: arm outcomes on the measure's scale, no-effect diagonal and pooled line."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from alliancestats.errors import MetaAnalysisError  # noqa: E402
from alliancestats.meta import mantel_haenszel  # noqa: E402
from alliancestats.plot import labbe  # noqa: E402

BCG = pd.read_csv(Path(__file__).parents[1] / "reference" / "meta" / "data" / "bcg.csv")
CELLS = {"ai": "tpos", "bi": "tneg", "ci": "cpos", "di": "cneg"}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_points_lines_and_labels():
    mh = mantel_haenszel(BCG, measure="RR", **CELLS)
    ax = labbe(BCG, measure="RR", result=mh, **CELLS)
    (points,) = [c for c in ax.collections if c.get_gid() == "labbe_points"]
    xy = np.asarray(points.get_offsets())
    risk_c = BCG["cpos"] / (BCG["cpos"] + BCG["cneg"])
    risk_t = BCG["tpos"] / (BCG["tpos"] + BCG["tneg"])
    np.testing.assert_allclose(xy[:, 0], np.log(risk_c), rtol=1e-12)  # no zero cells: closed form
    np.testing.assert_allclose(xy[:, 1], np.log(risk_t), rtol=1e-12)  # no zero cells: closed form
    (pooled,) = [ln for ln in ax.lines if ln.get_gid() == "pooled_line"]
    x, y = pooled.get_data()
    np.testing.assert_allclose(y - x, mh.estimate, rtol=1e-12)  # y = x + log RR
    assert ax.get_xlabel() == "Control arm (log risk)" and ax.get_ylabel() == "Treated arm (log risk)"
    with pytest.raises(MetaAnalysisError, match="measure"):
        labbe(BCG, measure="RR", result=mantel_haenszel(BCG, measure="OR", **CELLS), **CELLS)
