"""Event figures: what is drawn (positions, heights, counts, labels), not only that they run."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import alliancestats as als
from alliancestats.errors import ParameterError
from alliancestats.plot import event_panels, event_profile, event_series, event_sessions
from alliancestats.plot.event_summary import event_profile_table

WIDE = dict(patient="id", wide_pattern="{var}_s{session}")
EXACT = 1e-12  # drawn coordinates are the data's numbers, copied


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def sg():
    return als.sudden_gains(als.read_sample("sgdata"), "bdi", sessions=(1, 12), cutoff=7,
                            **WIDE)


def _v_shape():
    return pd.DataFrame({"patient": "a", "session": range(1, 9),
                         "alliance": [4.0, 4.1, 4.0, 2.9, 4.0, 4.1, 4.2, 4.1]})


def test_event_series_marks_rupture_and_repair_on_the_series():
    d = _v_shape()
    r = als.ruptures(d, "alliance", method="stiles2004")
    ax = event_series(d, "alliance", "a", events=r, band=2)
    marks = {line.get_label(): line.get_xydata().tolist() for line in ax.lines
             if line.get_gid() == "event"}
    assert marks == {"rupture (trough)": [[4.0, 2.9]], "repair": [[5.0, 4.0]]}
    band = [p for p in ax.patches if p.get_gid() == "band"][0]
    lo, hi = band.get_y(), band.get_y() + band.get_height()
    y = d["alliance"].to_numpy()
    assert lo == pytest.approx(y.mean() - 2 * y.std(ddof=1), abs=EXACT)
    assert hi == pytest.approx(y.mean() + 2 * y.std(ddof=1), abs=EXACT)
    assert ax.get_legend() is not None


def test_event_series_keeps_gaps_and_marks_sudden_gains_at_n_plus_1(sg):
    data = als.read_sample("sgdata")
    ax = event_series(data, "bdi", 1, events=sg, **WIDE)
    line = [ln for ln in ax.lines if ln.get_gid() == "series"][0]
    x, y = line.get_xdata(), line.get_ydata()
    assert x.tolist() == list(range(0, 13))  # bdi_s0 ... bdi_s12
    assert np.isnan(y).sum() == data.loc[0, [f"bdi_s{s}" for s in range(13)]].isna().sum()
    gains = [ln for ln in ax.lines if ln.get_gid() == "event"][0]
    expected = sg.events.loc[sg.events["patient"] == 1, ["next_session", "score_post1"]]
    assert gains.get_xydata().tolist() == expected.to_numpy(float).tolist()


def test_event_panels_draws_patients_with_events_and_one_legend():
    d = als.read_sample("psychotherapy_cohort")
    r = als.ruptures(d, "wai_sr", method="stiles2004")
    axes = event_panels(d, "wai_sr", events=r, max_patients=5)
    assert len(axes) == 5
    assert [a.get_title() for a in axes] == list(pd.unique(r["patient"]))[:5]
    assert len(axes[0].figure.legends) == 1
    fig, grid = plt.subplots(2, 4)
    drawn = event_panels(d, "wai_sr", events=r, patients=["P001", "P002"], ax=grid)
    assert len(drawn) == 2 and sum(a.get_visible() for a in grid.ravel()) == 2
    with pytest.raises(ParameterError, match="at least 2"):
        event_panels(d, "wai_sr", patients=["P001", "P002"], ax=grid[0, :1])
    with pytest.raises(ParameterError, match="not in the data"):
        event_panels(d, "wai_sr", patients=["nobody"])


def test_profile_table_is_the_aligned_means(sg):
    table = event_profile_table(sg)
    assert table["label"].tolist() == ["Start", "N-2", "N-1", "N", "N+1", "N+2", "N+3", "End"]
    ev = sg.events
    for label, column in (("N-2", "score_pre2"), ("N", "score_n"), ("N+1", "score_post1"),
                          ("N+3", "score_post3")):
        row = table.set_index("label").loc[label]
        values = ev[column].dropna()
        assert row["n"] == len(values)
        assert row["mean"] == pytest.approx(values.mean(), rel=EXACT)
        half = 1.959963984540054 * values.std(ddof=1) / np.sqrt(len(values))
        assert row["ci_high"] - row["mean"] == pytest.approx(half, rel=1e-9)  # z from scipy
    start = als.read_sample("sgdata").set_index("id").loc[ev["patient"].unique(), "bdi_s1"]
    assert table.loc[0, "n"] == start.notna().sum()
    assert table.loc[0, "mean"] == pytest.approx(start.mean(), rel=EXACT)


def test_profile_figure_labels_and_n(sg):
    fig, ax = plt.subplots()
    out = event_profile(sg, ylabel="BDI", ax=ax)
    assert out is ax
    assert [t.get_text() for t in ax.get_xticklabels()][:2] == ["Start", "N-2"]
    n_labels = [t.get_text() for t in ax.texts if t.get_gid() == "n"]
    assert n_labels == [f"n={n}" for n in event_profile_table(sg)["n"]]
    mean = [ln for ln in ax.lines if ln.get_gid() == "mean"][0]
    assert mean.get_ydata().tolist() == pytest.approx(
        event_profile_table(sg)["mean"].iloc[1:-1].tolist(), rel=EXACT)


def test_profile_of_ruptures_aligns_on_the_trough():
    d = _v_shape()
    r = als.ruptures(d, "alliance", method="stiles2004")
    table = event_profile_table(r, d, "alliance")
    assert table.set_index("label").loc["T", "mean"] == 2.9
    assert table.set_index("label").loc["T+1", "mean"] == 4.0
    with pytest.raises(ParameterError, match="needs data"):
        event_profile_table(r)


def test_event_sessions_counts(sg):
    ax = event_sessions(sg)
    heights = [int(p.get_height()) for p in ax.patches if p.get_gid() == "count"]
    assert heights == [3, 8, 1, 3, 1, 2, 5, 1, 0]
    judged = [int(p.get_height()) for p in ax.patches if p.get_gid() != "count"]
    iv = sg.intervals
    assert judged == iv[iv["evaluable"]].groupby("session").size().tolist()
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "2-3"
    d = als.read_sample("psychotherapy_cohort")
    r = als.ruptures(d, "wai_sr", method="gumz2012")
    ax2 = event_sessions(r)
    bars = {int(t.get_text()): int(p.get_height()) for t, p in
            zip(ax2.get_xticklabels(), [p for p in ax2.patches if p.get_gid() == "count"],
                strict=True)}
    assert bars == {int(k): int(v) for k, v in r.groupby("trough_session").size().items()
                    } | {k: 0 for k in bars if k not in set(r["trough_session"])}


def test_wrong_inputs():
    with pytest.raises(ParameterError, match="events must be"):
        event_sessions(pd.DataFrame({"x": [1]}))
    with pytest.raises(ParameterError, match="ax must be a matplotlib Axes"):
        event_series(_v_shape(), "alliance", "a", ax="left")
    with pytest.raises(ParameterError, match="events must be"):
        event_series(_v_shape(), "alliance", "a", events=[1])
