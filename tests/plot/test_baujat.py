"""Baujat plot: drawn coordinates equal metafor's baujat() values; labels; vector export."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from alliancestats.meta import meta_analysis  # noqa: E402
from alliancestats.plot import baujat  # noqa: E402

REFERENCE = Path(__file__).parents[1] / "reference" / "meta" / "bias.json"
CASES = json.loads(REFERENCE.read_text())["cases"]
ITERATIVE = 1e-5  # coordinates involve τ² re-estimated (REML) for every deletion


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def fit(name):
    d = CASES[name]["data"]
    mods = np.asarray(d["ablat"], float) if "ablat" in d else None
    return meta_analysis(
        yi=d["yi"], vi=d["vi"], slab=d["label"], measure=CASES[name]["measure"], mods=mods
    )


def points(ax):
    (pts,) = [c for c in ax.collections if c.get_gid() == "baujat_points"]
    return np.asarray(pts.get_offsets())


@pytest.mark.parametrize("name", ["molloy2014", "bcg", "bcg_ablat"])
def test_drawn_coordinates_match_metafor(name):
    ref = CASES[name]["baujat"]
    ax = baujat(fit(name))
    xy = points(ax)
    np.testing.assert_allclose(xy[:, 0], ref["x"], rtol=ITERATIVE)
    np.testing.assert_allclose(xy[:, 1], ref["y"], rtol=ITERATIVE)
    ids = [t.get_text() for t in ax.texts if t.get_gid() == "baujat_label"]
    assert ids == [str(i) for i in range(1, len(ref["x"]) + 1)]
    for text, (x, y) in zip(ax.texts, xy, strict=True):
        assert text.get_position() == pytest.approx((x, y))


def test_axis_labels_and_symbols():
    res = fit("molloy2014")
    ax = baujat(res)
    assert ax.get_xlabel() == "Squared Pearson residual"
    assert ax.get_ylabel() == "Influence on overall result"
    assert baujat(fit("bcg_ablat")).get_ylabel() == "Influence on fitted value"
    labelled = baujat(res, symbol="labels")
    assert [t.get_text() for t in labelled.texts] == list(res.labels)
    plain = baujat(res, symbol="points")
    assert len(plain.texts) == 0
    pts = [c for c in plain.collections if c.get_gid() == "baujat_points"][0]
    assert pts.get_alpha() == 1.0  # visible markers
    fe = baujat(res.refit(method="FE"))
    assert fe.get_xlabel() == "Contribution to overall heterogeneity"
    with pytest.raises(ValueError, match="symbol"):
        baujat(res, symbol="stars")
    fig, ax_given = plt.subplots()
    assert baujat(res, ax=ax_given) is ax_given


@pytest.mark.parametrize("fmt,magic", [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_vector_export(tmp_path, fmt, magic):
    ax = baujat(fit("bcg"))
    path = tmp_path / f"baujat.{fmt}"
    ax.figure.savefig(path)
    content = path.read_bytes()
    assert content.startswith(magic) and len(content) > 2000
