"""The report's monitoring section on the demo data: curves, signals, alerts and figures."""

from __future__ import annotations

import tomllib

import pandas as pd
import pytest

from alliancestats.errors import ConfigError
from alliancestats.report.config import example_config_text, load_config
from alliancestats.report.pipeline import build_report


def _config(**monitoring):
    cfg = tomllib.loads(example_config_text())
    keep = {k: cfg[k] for k in ("report", "data", "labels", "monitoring")}
    keep["monitoring"].update(monitoring)
    return load_config(keep)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("monitoring") / "results"
    return build_report(_config(), out=out), out


def test_section_runs_and_renders_on_the_demo_data(report):
    rep, out = report
    assert rep.section("monitoring").status == "ok"
    md = (out / "index.md").read_text()
    part = md.split("## Session-by-session feedback", 1)[1]
    assert "first 91 of 182 patients" in part
    assert "score ~ time * intake + (time | patient)" in part
    assert "Red signals and final outcome" in part
    for stem in ("monitoring_overview", "monitoring_patient_1", "monitoring_patient_2"):
        assert (out / "figures" / f"{stem}.png").exists()
        assert f"figures/{stem}.png" in md
    html = (out / "index.html").read_text()
    assert "Session-by-session feedback" in html


def test_tables_hold_the_monitor_output(report):
    _, out = report
    sessions = pd.read_csv(out / "tables" / "monitoring_sessions.csv")
    assert set(sessions["patient"]) == {f"P{i:03d}" for i in range(92, 183)}  # monitored half
    assert {"expected", "band_high", "signal", "wai_drop_alert", "rupture_alert"} <= set(
        sessions.columns)
    signals = pd.read_csv(out / "tables" / "monitoring_signals.csv")
    assert signals["n"].sum() == sessions["signal"].notna().sum()
    rules = pd.read_csv(out / "tables" / "monitoring_rules.csv").set_index("signal")
    assert "not used" in rules.loc["white", "condition"]  # no cut-off in the demo
    ev = pd.read_csv(out / "tables" / "monitoring_evaluation.csv")
    assert ev["session"].tolist() == [3, 3, 4, 4]


def test_all_patients_as_reference_and_bad_share(tmp_path):
    rep = build_report(_config(reference_share=1.0, wai="missing_column"), out=tmp_path / "a")
    sec = rep.section("monitoring")
    assert sec.status == "skipped" and "missing_column" in sec.reason
    with pytest.raises(ConfigError, match="reference_share"):
        _config(reference_share="half")
