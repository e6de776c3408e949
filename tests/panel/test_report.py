"""lagged_effects_report(): the three models side by side on data with a known effect."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest

import alliancestats as als
from alliancestats.panel import lagged_effects_report, nickell_bias
from alliancestats.panel.report import plot_lagged_effects


@pytest.fixture(scope="module")
def report():
    df = als.simulate_riclpm(n_patients=500, n_waves=6, x_to_y=-4.0, ar_y=0.5, seed=44)
    rep = lagged_effects_report(df, "alliance", "symptoms")
    yield rep
    plt.close("all")


def test_tables(report):
    table = report.tables["comparison"]
    assert table.index.tolist() == ["lagged mixed model", "RI-CLPM", "dynamic panel (ML-SEM)"]
    assert table.columns.tolist() == ["effect", "se", "ci_low", "ci_high", "p",
                                      "autoregression", "long_run", "patients", "observations"]
    assert (table["patients"] == 500).all()
    fit = report.tables["fit"]
    assert fit.index.tolist() == ["RI-CLPM", "dynamic panel (ML-SEM)"]
    assert {"chisq", "df", "cfi", "rmsea", "srmr"} <= set(fit.columns)
    nick = report.tables["nickell"].iloc[0]
    assert nick["sessions_per_patient"] == 5
    assert nick["bias"] == pytest.approx(nickell_bias(nick["rho"], 5))


def test_structural_models_recover_the_truth_and_the_naive_model_does_not(report):
    table = report.tables["comparison"]
    for name in ("RI-CLPM", "dynamic panel (ML-SEM)"):
        r = table.loc[name]
        assert abs(r["effect"] + 4.0) < 4 * r["se"], name  # deterministic seed; 4 SEs
        assert abs(r["autoregression"] - 0.5) < 0.1, name
    naive = table.loc["lagged mixed model"]
    # Nickell bias: the person-mean-centred autoregression lands near rho + bias, far below .5
    expected = 0.5 + nickell_bias(0.5, 5)
    assert abs(naive["autoregression"] - expected) < 0.08
    assert naive["autoregression"] < 0.3
    dp = table.loc["dynamic panel (ML-SEM)"]
    assert dp["long_run"] == pytest.approx(dp["effect"] / (1 - dp["autoregression"]))
    assert np.isnan(naive["long_run"])


def test_text_and_figure(report):
    assert len(report.text) == 3
    assert report.text[0].startswith("Lagged effect of alliance at one session on symptoms")
    assert "Nickell bias" in report.text[1]
    assert "Falkenström" in report.text[2] and "long-run" in report.text[2]
    fig = report.figures["lagged_effects"]
    ax = fig.axes[0]
    # rows top to bottom in table order
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "lagged mixed model", "RI-CLPM", "dynamic panel (ML-SEM)"]
    assert list(ax.get_yticks()) == [2, 1, 0]
    assert set(report.fits) == {"lagged mixed model", "RI-CLPM", "dynamic panel (ML-SEM)"}


def test_plot_uses_a_given_axes(report):
    fig, ax = plt.subplots()
    out = plot_lagged_effects(report.tables["comparison"], ax=ax)
    assert out is ax and len(ax.lines) == 2 * 3 + 1
    plt.close(fig)
