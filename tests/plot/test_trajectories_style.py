"""The house style of the figures: named styles, restyling a drawn figure, editable text."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from alliancestats.errors import ParameterError  # noqa: E402
from alliancestats.plot import STYLES, apply_style, figure_style, forest, trajectories  # noqa: E402
from alliancestats.plot._style import PALETTE, readable_label  # noqa: E402
from alliancestats.simulate import simulate_sessions  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _sizes(fig):
    fig.canvas.draw()  # tick labels exist only once drawn
    return sorted(t.get_fontsize() for t in fig.findobj(matplotlib.text.Text) if t.get_text())


def test_styles_cover_apa_and_journal_widths():
    assert {"default", "apa", "single_column", "one_and_half_column", "double_column"} <= set(
        STYLES)
    mm = {k: s.width * 25.4 for k, s in STYLES.items() if s.width}
    assert mm["single_column"] == pytest.approx(90) and mm["double_column"] == pytest.approx(190)
    assert 8 <= STYLES["apa"].small_font_size <= STYLES["apa"].font_size <= 14  # APA 7: 8-14 pt


def test_apply_style_rescales_every_text_once():
    d = simulate_sessions(n_therapists=3, seed=1)
    ax = trajectories(d, "pain", group="arm", n_patients=3)
    before = _sizes(ax.figure)
    apply_style(ax, "apa")
    after = _sizes(ax.figure)
    assert after == pytest.approx([s * 10 / 9 for s in before])
    assert ax.figure.get_size_inches()[0] == pytest.approx(6.5)
    apply_style(ax, "apa")  # a second call does not compound
    assert _sizes(ax.figure) == pytest.approx(after)
    apply_style(ax, "default")  # and another style starts from the original sizes
    assert _sizes(ax.figure) == pytest.approx(before)
    ticks = ax.xaxis.get_ticklabels()
    assert ticks[0].get_fontsize() == pytest.approx(8.0)


def test_apply_style_works_on_other_figure_modules():
    from alliancestats import meta_analysis, read_sample

    res = meta_analysis(read_sample("molloy2014"), r="ri", n="ni", slab="study")
    ax = forest(res, transform="r")
    fig = apply_style(ax, "single_column")
    assert fig.get_size_inches()[0] * 25.4 == pytest.approx(90)
    assert max(_sizes(fig)) <= 9.0


def test_figure_style_keeps_svg_text_editable_and_sets_the_palette(tmp_path):
    with figure_style("apa"):
        assert mpl.rcParams["svg.fonttype"] == "none"
        assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == list(PALETTE)
        fig, ax = plt.subplots()
        ax.set_xlabel("Session")
        fig.savefig(tmp_path / "f.svg")
    assert "<text" in (tmp_path / "f.svg").read_text() and "Session" in (
        tmp_path / "f.svg").read_text()
    assert mpl.rcParams["svg.fonttype"] != "none" or mpl.rcParamsDefault["svg.fonttype"] == "none"


def test_unknown_style_is_a_parameter_error():
    with pytest.raises(ParameterError, match="style must be one of"):
        apply_style(plt.figure(), "nature")
    with pytest.raises(ParameterError, match="Figure or Axes"):
        apply_style("figure", "apa")


def test_readable_labels():
    assert readable_label("treatment_arm") == "Treatment arm"
    assert readable_label("ODI") == "ODI"
