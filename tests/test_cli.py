"""Tests of the ``alliancestats`` command line: the demo's files, contents and extensibility."""

from __future__ import annotations

import contextlib
import io
import re

import pandas as pd
import pytest

from alliancestats import read_sample
from alliancestats.cli import DEMO_STEPS, DemoStep, build_parser, main, run_demo

TABLES = ["sessions", "validation_problems", "overview", "patients", "missingness", "by_session"]
FIGURES = ["alliance_trajectories", "pain_trajectories", "odi_trajectories"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "results"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["demo", "--out", str(out)])
    return out, status, stdout.getvalue(), stderr.getvalue()


def test_demo_exits_zero_and_writes_index(demo):
    out, status, _, _ = demo
    assert status == 0
    assert (out / "index.md").stat().st_size > 0
    assert (out / "index.html").read_text().startswith("<!DOCTYPE html>")


def test_demo_writes_every_table_and_figure(demo):
    out = demo[0]
    for name in TABLES:
        assert (out / "tables" / f"{name}.csv").is_file(), name
    for stem in FIGURES:
        png = (out / "figures" / f"{stem}.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        svg = (out / "figures" / f"{stem}.svg").read_text()
        assert "<svg" in svg and "</svg>" in svg
    assert "rows: 1413 read" in (out / "load_summary.txt").read_text()


def test_index_links_every_file_and_every_link_exists(demo):
    out = demo[0]
    md = (out / "index.md").read_text()
    links = set(re.findall(r"\]\(([^)]+)\)", md))
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written - {"index.md", "index.html"} == links
    html = (out / "index.html").read_text()
    for link in links:
        assert f'href="{link}"' in html
    assert "<table>" in html and "<code>physio_cohort</code>" in html


def test_stdout_reports_where_files_went_and_progress_goes_to_stderr(demo):
    out, _, stdout, stderr = demo
    n_files = sum(1 for path in out.rglob("*") if path.is_file())
    assert f"wrote {n_files} files to {out}" in stdout
    for name in TABLES:
        assert str(out / "tables" / f"{name}.csv") in stdout
    assert str(out / "index.md") in stdout
    n_steps = len(DEMO_STEPS)
    assert "alliancestats demo" in stderr and f"{n_steps}/{n_steps}" in stderr  # tqdm progress


def test_scored_sessions_match_the_sample_items(demo):
    sessions = pd.read_csv(demo[0] / "tables" / "sessions.csv")
    raw = read_sample("physio_cohort")
    merged = sessions.merge(raw, on=["patient", "session"], suffixes=("", "_raw"))
    assert len(merged) == len(raw) == 1413
    wai = merged[[f"wai_{k}" for k in range(1, 13)]]
    expected = wai.mean(axis=1).where(wai.notna().all(axis=1))
    # atol: floating-point summation order only
    pd.testing.assert_series_equal(merged["alliance"], expected, check_names=False, atol=1e-9)
    # ODI percentage: sum / (5 x sections answered) x 100 (Fairbank & Pynsent 2000)
    odi = merged[[f"odi_{k}" for k in range(1, 11)]]
    odi_expected = odi.sum(axis=1, min_count=1) / (5 * odi.notna().sum(axis=1)) * 100
    # atol: floating-point summation order only
    pd.testing.assert_series_equal(merged["odi"], odi_expected, check_names=False, atol=1e-9)


def test_descriptive_tables_contents(demo):
    out = demo[0]
    overview = pd.read_csv(out / "tables" / "overview.csv").set_index("quantity")["value"]
    assert overview["patients"] == 182 and overview["therapists"] == 24
    assert overview["session records"] == 1413
    patients = pd.read_csv(out / "tables" / "patients.csv")
    assert len(patients) == 182 and patients["patient"].is_unique
    assert patients["sessions_recorded"].sum() == 1413
    by_session = pd.read_csv(out / "tables" / "by_session.csv")
    assert set(by_session["variable"]) == {"alliance", "pain", "odi", "rmdq", "adhered"}
    pain1 = by_session.query("variable == 'pain' and session == 1").iloc[0]
    raw = read_sample("physio_cohort")
    assert pain1["n"] == raw.loc[raw["session"] == 1, "pain"].notna().sum()
    # abs: by_session.csv rounds means to 4 decimals
    assert pain1["mean"] == pytest.approx(raw.loc[raw["session"] == 1, "pain"].mean(), abs=1e-4)
    assert (
        by_session["ci_low"].dropna() <= by_session.loc[by_session["ci_low"].notna(), "mean"]
    ).all()
    miss = pd.read_csv(out / "tables" / "missingness.csv").set_index("variable")
    assert miss.loc["pain", "n_missing"] == raw["pain"].isna().sum()


def test_steps_are_a_list_that_later_features_extend(tmp_path):
    assert [s.name for s in DEMO_STEPS][:3] == [
        "load and validate the sample cohort",
        "descriptive tables",
        "trajectory figures",
    ]

    def model_step(ctx):
        ctx.note("Models", "A model step would write its results here.")
        ctx.write_table("Models", "Fixed effects", "models/fixed.csv", pd.DataFrame({"b": [1.0]}))

    stream = io.StringIO()
    ctx = run_demo(tmp_path, steps=[DemoStep("models", model_step)], progress=False, stream=stream)
    assert (tmp_path / "models" / "fixed.csv").is_file()
    md = (tmp_path / "index.md").read_text()
    assert "## Models" in md and "[Fixed effects](models/fixed.csv)" in md
    assert [a.title for a in ctx.artifacts] == ["Fixed effects"]
    assert "wrote 3 files" in stream.getvalue()


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "demo" in capsys.readouterr().err


def test_unwritable_output_reports_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["demo", "--out", str(blocker / "sub"), "--quiet"]) == 1
    assert "cannot write to" in capsys.readouterr().err


def test_parser_defaults():
    args = build_parser().parse_args(["demo"])
    assert args.out == "alliancestats-demo" and args.quiet is False
    with pytest.raises(SystemExit):
        build_parser().parse_args(["nonsense"])
