"""Feedback figures: the clinician's chart for one patient and the clinic's signal overview."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from alliancestats import expected_response, monitor, read_sample  # noqa: E402
from alliancestats.errors import ParameterError  # noqa: E402
from alliancestats.plot import apply_style, feedback_chart, signal_overview  # noqa: E402
from alliancestats.plot.feedback import SIGNAL_COLORS, signal_shares  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def table():
    d = read_sample("psychotherapy_cohort")
    er = expected_response(d[d["patient"] <= "P165"], "symptoms")
    return monitor(d[d["patient"] > "P165"], er, rci=14, cutoff=63, wai="wai_sr")


def _gid(ax, gid):
    return [a for a in ax.get_children() if a.get_gid() == gid]


def test_chart_draws_scores_expected_curve_band_and_signal_colours(table):
    rows = table[table["patient"] == "P172"].sort_values("session")
    ax = feedback_chart(table, "P172")
    (observed,) = _gid(ax, "observed")
    seen = rows["symptoms"].notna()
    np.testing.assert_array_equal(observed.get_ydata(), rows.loc[seen, "symptoms"])
    (expected,) = _gid(ax, "expected")
    np.testing.assert_allclose(expected.get_ydata(), rows["expected"].dropna())
    (markers,) = _gid(ax, "signal")
    colours = [to_hex(c) for c in markers.get_facecolors()]
    want = [to_hex(SIGNAL_COLORS.get(s, "#8c8c8c")) if isinstance(s, str) else "#8c8c8c"
            for s in rows.loc[seen, "signal"].astype(object)]
    assert colours == want
    assert len(_gid(ax, "band")) == 1
    twin = ax.alliance_axes
    (alliance,) = _gid(twin, "alliance")
    np.testing.assert_allclose(alliance.get_ydata(), rows["wai_sr"].dropna())
    alerts = _gid(twin, "alert")[0]
    assert len(alerts.get_xdata()) == int(rows["alliance_alert"].sum())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:3] == ["observed", "expected", "tolerance band"]
    assert "alliance alert" in labels


def test_worse_side_band_lies_between_curve_and_upper_bound(table):
    ax = feedback_chart(table, "P172", band="worse", legend=False, alliance=None)
    (band,) = _gid(ax, "band")
    ys = band.get_paths()[0].vertices[:, 1]
    rows = table[(table["patient"] == "P172") & table["expected"].notna()]
    assert ys.min() >= rows["expected"].min() - 1e-9  # the lower edge is the curve itself
    assert ys.max() == pytest.approx(rows["band_high"].max())


def test_overview_bars_are_the_signal_shares(table):
    shares = signal_shares(table)
    assert (shares[list(SIGNAL_COLORS)].sum(axis=1) == shares["n"]).all()
    judged = table[table["signal"].notna()]
    assert shares["n"].sum() == len(judged)
    ax = signal_overview(table, min_n=20)
    kept = shares[shares["n"] >= 20]
    for s in SIGNAL_COLORS:
        heights = [b.get_height() for b in ax.patches if b.get_gid() == f"signal_{s}"]
        np.testing.assert_allclose(heights, kept[f"share_{s}"])
    by_session = signal_shares(table, by="session")
    assert by_session["n"].sum() == len(judged)


def test_house_style_applies(table):
    ax = signal_overview(table)
    fig = apply_style(ax.figure, "single_column")
    assert round(fig.get_size_inches()[0] * 25.4) == 90


def test_errors(table):
    with pytest.raises(ParameterError, match="monitor"):
        feedback_chart(pd.DataFrame({"a": [1]}), "P172")
    with pytest.raises(ParameterError, match="not in the table"):
        feedback_chart(table, "nobody")
    with pytest.raises(ParameterError, match="band"):
        feedback_chart(table, "P172", band="upper")
    with pytest.raises(ParameterError, match="by"):
        signal_overview(table, by="week")
