"""Funnel plot: observed vs imputed markers, significance contours, axes, vector export."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from scipy import stats  # noqa: E402

from alliancestats.errors import MetaAnalysisError  # noqa: E402
from alliancestats.meta import meta_analysis, trim_and_fill  # noqa: E402
from alliancestats.plot import funnel  # noqa: E402

REFERENCE = Path(__file__).parents[1] / "reference" / "meta" / "bias.json"
MOLLOY = json.loads(REFERENCE.read_text())["cases"]["molloy2014"]["data"]
EXACT = 1e-12  # drawn coordinates are copies of the model's numbers


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def molloy():
    return meta_analysis(yi=MOLLOY["yi"], vi=MOLLOY["vi"], slab=MOLLOY["label"], measure="ZCOR")


def by_gid(ax, gid, kind="collections"):
    return [a for a in getattr(ax, kind) if a.get_gid() == gid]


def test_points_are_effects_against_standard_errors(molloy):
    ax = funnel(molloy)
    (observed,) = by_gid(ax, "observed")
    xy = np.asarray(observed.get_offsets())
    np.testing.assert_allclose(xy[:, 0], molloy.yi, rtol=EXACT)
    np.testing.assert_allclose(xy[:, 1], np.sqrt(molloy.vi), rtol=EXACT)
    assert by_gid(ax, "imputed") == []
    bottom, top = ax.get_ylim()
    assert top == 0.0 and bottom > np.sqrt(molloy.vi).max()  # SE grows downwards
    (line,) = by_gid(ax, "estimate_line", "lines")
    assert line.get_xdata()[0] == pytest.approx(molloy.estimate, rel=EXACT)
    pseudo = by_gid(ax, "pseudo_ci", "lines")
    assert len(pseudo) == 2
    x_end = sorted(p.get_xdata()[1] for p in pseudo)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(x_end, molloy.estimate + np.array([-z, z]) * bottom, rtol=1e-9)
    assert ax.get_xlabel() == "Fisher's z" and ax.get_ylabel() == "Standard error of Fisher's z"


def test_legend_names_every_line_and_marker(molloy):
    # the pooled-estimate and pseudo-CI lines used to be missing from the legend
    tf = trim_and_fill(molloy)
    ax = funnel(molloy, filled=tf)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Pooled estimate (after trim-and-fill, random-effects, REML)" in legend
    assert "Pseudo 95% CI (estimate ± 1.96 SE)" in legend
    assert "Estimate before trim-and-fill" in legend
    assert {"Study", "Imputed study"} <= set(legend)
    assert {".05 < p ≤ .10", ".01 < p ≤ .05", "p ≤ .01"} <= set(legend)
    drawn_lines = {line.get_gid() for line in ax.lines}
    assert drawn_lines == {"estimate_line", "pseudo_ci", "original_estimate_line"}


def test_trim_and_fill_result_draws_imputed_studies_open(molloy):
    tf = trim_and_fill(molloy)
    ax = funnel(tf)
    (observed,) = by_gid(ax, "observed")
    (imputed,) = by_gid(ax, "imputed")
    assert len(observed.get_offsets()) == 16
    assert len(imputed.get_offsets()) == tf.k0 == 2
    np.testing.assert_allclose(np.asarray(imputed.get_offsets())[:, 0], tf.yi[tf.filled])
    assert np.allclose(imputed.get_facecolors(), to_rgba("white"))  # open markers
    assert not np.allclose(observed.get_facecolors(), to_rgba("white"))  # filled markers
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "Imputed study" in legend


def test_filled_argument_overlays_a_trim_and_fill_result(molloy):
    tf = trim_and_fill(molloy)
    ax = funnel(molloy, filled=tf)
    assert len(by_gid(ax, "observed")[0].get_offsets()) == molloy.k
    assert len(by_gid(ax, "imputed")[0].get_offsets()) == 2
    (centre,) = by_gid(ax, "estimate_line", "lines")
    assert centre.get_xdata()[0] == pytest.approx(tf.estimate, rel=EXACT)  # adjusted centre
    (original,) = by_gid(ax, "original_estimate_line", "lines")
    assert original.get_xdata()[0] == pytest.approx(molloy.estimate, rel=EXACT)
    mask = np.zeros(molloy.k, dtype=bool)
    mask[:3] = True
    ax = funnel(molloy, filled=mask)
    assert len(by_gid(ax, "imputed")[0].get_offsets()) == 3
    assert len(by_gid(ax, "observed")[0].get_offsets()) == molloy.k - 3


def test_contour_regions_follow_significance_limits(molloy):
    ax = funnel(molloy, contours=(0.90, 0.95, 0.99))
    for level in (0.9, 0.95, 0.99):
        regions = by_gid(ax, f"contour_{level:g}")
        assert len(regions) == 2  # one on each side of zero
    se_max = ax.get_ylim()[0]
    # the 90% region starts at the 90% limit and ends at the 95% limit (right side, at se_max)
    right_90 = by_gid(ax, "contour_0.9")[0].get_paths()[0].vertices
    at_bottom = np.isclose(right_90[:, 1], se_max)
    xs = np.sort(np.unique(np.round(right_90[at_bottom, 0], 12)))
    expected = np.array([stats.norm.ppf(0.95), stats.norm.ppf(0.975)]) * se_max
    np.testing.assert_allclose(xs, expected, rtol=1e-9)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[:3] == [".05 < p ≤ .10", ".01 < p ≤ .05", "p ≤ .01"]
    assert not any(
        c.get_gid() and c.get_gid().startswith("contour")
        for c in funnel(molloy, contours=None).collections
    )


def test_transformed_axis_and_errors(molloy):
    ax = funnel(molloy, transform="r")
    for pos, text in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True):
        assert float(text.get_text().replace("\u2212", "-")) == pytest.approx(np.tanh(pos))
    with pytest.raises(MetaAnalysisError, match="contours"):
        funnel(molloy, contours=(95,))
    with pytest.raises(MetaAnalysisError, match="mask"):
        funnel(molloy, filled=[True, False])
    reg = meta_analysis(yi=MOLLOY["yi"], vi=MOLLOY["vi"], mods=np.asarray(MOLLOY["year"], float))
    with pytest.raises(MetaAnalysisError, match="moderators"):
        funnel(reg)
    fig, given = plt.subplots()
    assert funnel(molloy, ax=given) is given


@pytest.mark.parametrize("fmt,magic", [("svg", b"<?xml"), ("pdf", b"%PDF")])
def test_vector_export(molloy, tmp_path, fmt, magic):
    ax = funnel(trim_and_fill(molloy))
    path = tmp_path / f"funnel.{fmt}"
    ax.figure.savefig(path)
    content = path.read_bytes()
    assert content.startswith(magic) and len(content) > 3000


YI = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15]
VI = [0.03, 0.03, 0.05, 0.01, 0.05, 0.02]


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
