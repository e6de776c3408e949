"""plot_power_curve: simulated points with intervals, analytic lines, shared axes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.axes import Axes

from alliancestats.errors import ParameterError
from alliancestats.power import plot_power_curve

SIM = pd.DataFrame({"n_patients": [10, 5], "power": [0.6, 0.4], "ci_low": [0.5, 0.3],
                    "ci_high": [0.7, 0.5], "power_clean": [0.55, 0.35],
                    "ci_low_clean": [0.45, 0.25], "ci_high_clean": [0.65, 0.45]})


def teardown_function():
    plt.close("all")


def test_interval_points_and_analytic_line_share_axes():
    fig, ax = plt.subplots()
    out = plot_power_curve(SIM, label="simulated", ax=ax)
    assert out is ax
    analytic = pd.DataFrame({"n_patients": [5, 10], "power": [0.38, 0.58]})
    plot_power_curve(analytic, label="analytic", color="grey", ax=ax)
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(texts) == ["analytic", "simulated"]
    # error bars are drawn sorted by x, with the Clopper-Pearson limits
    line = ax.get_lines()[0]
    assert line.get_xdata().tolist() == [5, 10]
    assert line.get_ydata().tolist() == [0.4, 0.6]
    assert [float(v) for v in ax.get_ylim()] == [0.0, 1.0]
    assert ax.get_xlabel() == "patients per therapist" and ax.get_ylabel() == "power"


def test_clean_power_and_target_line():
    ax = plot_power_curve(SIM, clean=True, target=0.9)
    assert ax.get_lines()[0].get_ydata().tolist() == [0.35, 0.55]
    hlines = [ln for ln in ax.get_lines() if list(ln.get_ydata()) == [0.9, 0.9]]
    assert len(hlines) == 1
    assert isinstance(plot_power_curve(SIM, target=None), Axes)


def test_bad_inputs():
    with pytest.raises(ParameterError, match="'power' column"):
        plot_power_curve(pd.DataFrame({"x": [1]}))
    with pytest.raises(ParameterError, match="not a column"):
        plot_power_curve(SIM, x="therapists")
    with pytest.raises(ParameterError, match="matplotlib Axes"):
        plot_power_curve(SIM, ax="left")
