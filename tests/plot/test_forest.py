"""Forest plot: checks what is drawn (rows, diamond vertices, ticks, weights), not only that it runs."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402

from alliancestats.errors import MetaAnalysisError  # noqa: E402
from alliancestats.meta import meta_analysis, trim_and_fill  # noqa: E402
from alliancestats.plot import forest  # noqa: E402

REFERENCE = Path(__file__).parents[1] / "reference" / "meta" / "bias.json"
MOLLOY = json.loads(REFERENCE.read_text())["cases"]["molloy2014"]["data"]
EXACT = 1e-12  # drawn coordinates are the model's numbers, copied


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def molloy():
    frame = pd.DataFrame({"year": MOLLOY["year"], "design": ["cross-sectional", "prospective"] * 8})
    return meta_analysis(
        frame, yi=MOLLOY["yi"], vi=MOLLOY["vi"], slab=MOLLOY["label"], measure="ZCOR"
    )


def by_gid(ax, gid, kind="collections"):
    return [a for a in getattr(ax, kind) if a.get_gid() == gid]


def texts(ax, gid):
    return [t.get_text() for t in ax.texts if t.get_gid() == gid]


def as_float(label: str) -> float:
    return float(label.replace("\u2212", "-"))


def test_one_row_per_study_plus_summary_rows(molloy):
    ax = forest(molloy)
    (points,) = by_gid(ax, "study_points")
    assert len(points.get_offsets()) == molloy.k
    (ci,) = by_gid(ax, "study_ci")
    assert len(ci.get_segments()) == molloy.k
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[: molloy.k] == list(molloy.labels)
    assert labels[molloy.k :] == ["Random-effects model (k = 16)", "95% prediction interval"]
    # each study's marker sits at its effect and its interval is y ± 1.96·sqrt(v)
    offsets = np.asarray(points.get_offsets())
    np.testing.assert_allclose(offsets[:, 0], molloy.yi, rtol=EXACT)
    seg = np.asarray(ci.get_segments())
    half = seg[:, 1, 0] - offsets[:, 0]
    np.testing.assert_allclose(half, 1.959963984540054 * np.sqrt(molloy.vi), rtol=1e-9)


def test_diamond_vertices_are_estimate_and_ci(molloy):
    ax = forest(molloy)
    (diamond,) = by_gid(ax, "summary_diamond", "patches")
    xy = diamond.get_xy()[:4]
    np.testing.assert_allclose(
        xy[:, 0], [molloy.ci_low, molloy.estimate, molloy.ci_high, molloy.estimate], rtol=EXACT
    )
    assert xy[0, 1] == xy[2, 1]  # left and right tips on the row
    assert xy[1, 1] > xy[0, 1] > xy[3, 1]  # top and bottom tips at the estimate
    (pi,) = by_gid(ax, "prediction_interval", "lines")
    np.testing.assert_allclose(pi.get_xdata(), [molloy.pi_low, molloy.pi_high], rtol=EXACT)


def test_sorting_by_estimate_and_by_column(molloy):
    ax = forest(molloy, sort="estimate")
    (points,) = by_gid(ax, "study_points")
    offsets = np.asarray(points.get_offsets())
    top_to_bottom = offsets[np.argsort(-offsets[:, 1]), 0]
    assert np.all(np.diff(top_to_bottom) >= 0)  # smallest effect on top
    labels = [t.get_text() for t in forest(molloy, sort="-year").get_yticklabels()]
    assert labels[0] == "Quine et al. 2012" and labels[molloy.k - 1] == "Christensen & Smith 1995"
    with pytest.raises(MetaAnalysisError, match="sort"):
        forest(molloy, sort="colour")


def test_back_transformed_axis_shows_r(molloy):
    ax = forest(molloy, transform="r")
    positions = ax.get_xticks()
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(positions) >= 3
    for pos, text in zip(positions, labels, strict=True):
        assert as_float(text) == pytest.approx(np.tanh(pos), abs=1e-9)  # label is r at the z tick
        assert round(as_float(text), 2) == as_float(text)  # round values of r
    # the label names the scale the axis is drawn on
    assert ax.get_xlabel() == "Correlation r (Fisher's z scale)"
    overall = texts(ax, "estimate_text")[molloy.k]
    est, lo, hi = np.tanh([molloy.estimate, molloy.ci_low, molloy.ci_high])
    assert overall == f"{est:.2f} [{lo:.2f}, {hi:.2f}]"
    assert overall == "0.15 [0.09, 0.21]"  # Molloy et al. (2014): r = .15 [.09, .21]
    # untransformed: labelled on the z scale
    assert forest(molloy).get_xlabel() == "Fisher's z"


@pytest.mark.parametrize("transform", [None, "r"])
def test_ticks_cover_every_interval(molloy, transform):
    # ticks used to stop inside the widest intervals, leaving their ends unlabelled
    ax = forest(molloy, transform=transform)
    ticks = ax.get_xticks()
    (ci,) = by_gid(ax, "study_ci")
    ends = np.asarray(ci.get_segments())[:, :, 0]
    drawn = [ends.min(), ends.max(), molloy.pi_low, molloy.pi_high]
    assert ticks.min() <= min(drawn) and ticks.max() >= max(drawn)
    lo, hi = ax.get_xlim()
    assert lo <= ticks.min() and hi >= ticks.max()


def test_sample_size_column_and_heterogeneity_line(molloy):
    n = np.arange(50, 50 + 10 * molloy.k, 10)
    ax = forest(molloy, n=n)
    shown = texts(ax, "n_text")
    assert shown[: molloy.k] == [f"{v:,}" for v in n]
    assert shown[-1] == f"{n.sum():,}"  # total N on the pooled row
    (het,) = texts(ax, "heterogeneity_text")
    assert het == (
        f"Heterogeneity: τ² = {molloy.tau2:.2f}; I² = {molloy.i2:.1f}%; "
        f"Q(15) = {molloy.q:.2f}, p < .001"
    )
    assert texts(forest(molloy, n=False, show_heterogeneity=False), "heterogeneity_text") == []
    # effect_sizes() output carries n, so the column appears by itself
    from alliancestats.meta import effect_sizes

    es = effect_sizes(r=[0.2, 0.3, 0.1], n=[40, 60, 80])
    assert texts(forest(meta_analysis(es)), "n_text")[-1] == "180"


def test_weights_column(molloy):
    ax = forest(molloy)
    weights = texts(ax, "weight_text")
    assert len(weights) == molloy.k + 1 and weights[-1] == "100%"
    assert weights[:-1] == [f"{w:.1f}%" for w in molloy.weights]
    assert texts(forest(molloy, show_weights=False), "weight_text") == []
    assert by_gid(forest(molloy, show_pi=False), "prediction_interval", "lines") == []


def test_subgroups_get_headers_and_subtotal_diamonds(molloy):
    ax = forest(molloy, subgroup="design")
    diamonds = by_gid(ax, "subgroup_diamond", "patches")
    assert len(diamonds) == 2
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "cross-sectional" in labels and "prospective" in labels
    bold = {t.get_text() for t in ax.get_yticklabels() if t.get_fontweight() == "bold"}
    assert {"cross-sectional", "prospective"} <= bold
    design = molloy.data["design"].to_numpy()
    for diamond, group in zip(diamonds, ["cross-sectional", "prospective"], strict=True):
        sub = molloy.refit(subset=design == group)
        xs = diamond.get_xy()[:4, 0]
        np.testing.assert_allclose(xs, [sub.ci_low, sub.estimate, sub.ci_high, sub.estimate])
    (points,) = by_gid(ax, "study_points")
    assert len(points.get_offsets()) == molloy.k
    assert len(by_gid(ax, "summary_diamond", "patches")) == 1


def test_trim_and_fill_studies_are_open_squares(molloy):
    tf = trim_and_fill(molloy)
    ax = forest(tf, transform="r")
    (points,) = by_gid(ax, "study_points")
    faces = points.get_facecolors()
    open_ = np.all(np.isclose(faces, to_rgba("white")), axis=1)
    assert open_.sum() == tf.k0 == 2
    assert [t.get_text() for t in ax.get_yticklabels()][16:18] == ["Filled 1", "Filled 2"]


def test_draws_on_given_axes_and_rejects_meta_regression(molloy):
    fig, ax = plt.subplots()
    assert forest(molloy, ax=ax) is ax
    reg = meta_analysis(molloy.data, mods="year")
    with pytest.raises(MetaAnalysisError, match="moderators"):
        forest(reg)
    with pytest.raises(MetaAnalysisError, match="transform"):
        forest(molloy, transform="logit")


@pytest.mark.parametrize("fmt,magic", [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_vector_export(molloy, tmp_path, fmt, magic):
    ax = forest(molloy, transform="r", subgroup="design")
    path = tmp_path / f"forest.{fmt}"
    ax.figure.savefig(path)
    content = path.read_bytes()
    assert content.startswith(magic)
    assert len(content) > 5000  # a real drawing, not an empty page


def test_risk_ratio_axis_and_common_effect_model():
    bcg = json.loads(REFERENCE.read_text())["cases"]["bcg"]["data"]
    res = meta_analysis(yi=bcg["yi"], vi=bcg["vi"], slab=bcg["label"], measure="RR")
    ax = forest(res, transform="auto")
    labels = [as_float(t.get_text()) for t in ax.get_xticklabels()]
    np.testing.assert_allclose(labels, np.exp(ax.get_xticks()), rtol=1e-9)  # ratios at log ticks
    assert 1.0 in labels and ax.get_xlabel() == "Risk ratio (log scale)"
    (null,) = by_gid(ax, "null_line", "lines")
    assert null.get_xdata()[0] == 0.0  # log RR 0 = RR 1
    fe = forest(res.refit(method="FE"))
    assert [t.get_text() for t in fe.get_yticklabels()][-1] == "Common-effect model (k = 13)"
    assert by_gid(fe, "prediction_interval", "lines") == []


def test_subgroup_defaults_to_the_models_subgroup(molloy):
    res = meta_analysis(molloy.data, measure="ZCOR", slab=MOLLOY["label"], subgroup="design")
    ax = forest(res)
    assert len(by_gid(ax, "subgroup_diamond", "patches")) == 2
    subtotal_weights = [
        t.get_text() for t in ax.texts if t.get_gid() == "weight_text" and t.get_text() != "100%"
    ][-1]
    design = res.data["design"].to_numpy()
    assert subtotal_weights == f"{res.weights[design == 'prospective'].sum():.1f}%"
