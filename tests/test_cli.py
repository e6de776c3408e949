"""The ``alliancestats`` command line: validate, init, report (demo: tests/report)."""

from __future__ import annotations

import tomllib

import pandas as pd
import pytest

from alliancestats.cli import build_parser, main, mapping_from_args
from alliancestats.datasets import sample_path
from alliancestats.report import example_config_text

MESSY_MAPPING = ["--patient", "patient_id", "--therapist", "therapist", "--layout", "wide",
                 "--date", "date", "--instrument", "wai_sr=wai_{i}", "--outcome", "pain",
                 "--outcome", "adhered", "--covariate", "arm"]


@pytest.mark.parametrize("sample", ["physio_messy", "physio_messy_spss"])
def test_validate_lists_every_problem_and_fails(sample, tmp_path, capsys):
    status = main(["validate", str(sample_path(sample)), *MESSY_MAPPING,
                   "--out", str(tmp_path)])
    shown = capsys.readouterr().out
    assert status == 1  # strict loading would stop
    assert "6 problem(s)" in shown and "'7-8': not a number" in shown
    assert "patients with gaps in session numbers: 18" in shown
    problems = pd.read_csv(tmp_path / "validation_problems.csv")
    assert len(problems) == 6 and {"row", "column", "value", "reason"} <= set(problems)
    assert set(problems["kind"]) == {"invalid_item", "not_numeric", "future_date",
                                     "missing_id", "duplicate_id"}
    gaps = pd.read_csv(tmp_path / "validation_gaps.csv")
    assert len(gaps) == 18
    html = (tmp_path / "validation.html").read_text()
    assert "6 problem(s) found" in html and "<td>7-8</td>" in html


def test_validate_clean_file_with_a_config_exits_zero(tmp_path, capsys):
    config = tmp_path / "study.toml"
    config.write_text(example_config_text(), encoding="utf-8")
    assert main(["validate", "--config", str(config)]) == 0
    shown = capsys.readouterr().out
    assert "No problems: all 1413 rows pass validation." in shown


def test_validate_unreadable_mapping_exits_two(capsys):
    status = main(["validate", str(sample_path("physio_messy")), "--patient", "nope",
                   "--layout", "wide"])
    assert status == 2
    assert "alliancestats validate:" in capsys.readouterr().err


def test_init_writes_the_example_and_refuses_to_overwrite(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["init"]) == 0
    written = (tmp_path / "study.toml").read_text()
    assert written == example_config_text()
    assert tomllib.loads(written)["data"]["sample"] == "physio_cohort"
    assert main(["init"]) == 1
    assert "exists" in capsys.readouterr().err
    assert main(["init", "--force", "--data", "my data.csv"]) == 0
    data = tomllib.loads((tmp_path / "study.toml").read_text())["data"]
    assert data["file"] == str(tmp_path / "my data.csv") and "sample" not in data


def test_report_command_end_to_end_on_the_spss_sample(tmp_path, capsys):
    config = tmp_path / "study.toml"
    config.write_text(
        '[report]\ntitle = "Pilot"\nstyle = "apa"\n'
        '[data]\npatient = "patient_id"\ntherapist = "therapist"\nlayout = "wide"\n'
        'date = "date"\ninstruments = { wai_sr = "wai_{i}" }\noutcomes = ["pain"]\n'
        'covariates = ["arm"]\n'
        '[trajectories]\nmeasures = ["pain"]\n'
        '[[models]]\nname = "pain"\n'
        'formula = "pain ~ session + alliance_within + alliance_between + (1 | patient)"\n'
        '[effects]\neffect_plots = false\n', encoding="utf-8")
    out = tmp_path / "report"
    status = main(["report", str(sample_path("physio_messy_spss")), "--config", str(config),
                   "--out", str(out), "--quiet"])
    shown = capsys.readouterr().out
    assert status == 0
    assert "Data and validation: 6 tables" in shown and str(out / "index.html") in shown
    md = (out / "index.md").read_text()
    assert md.startswith("# Pilot") and "with `study.toml`" in md
    # APA style: figures 6.5 inches wide (200 dpi)
    from PIL import Image

    with Image.open(out / "figures" / "trajectories_pain.png") as img:
        assert img.size[0] == pytest.approx(6.5 * 200, abs=2)


@pytest.mark.parametrize(
    ("text", "message"),
    [('[ruptures]\nreliabilty = 0.9\n', "did you mean 'reliability'"),
     ('[rupture]\n', "has no table 'rupture' (did you mean 'ruptures'?)"),
     ('[report]\nstyle = "nature"\n', "style must be one of"),
     ('[sudden_gains]\ncutoff = 2\n', "score is required"),
     ('[lagged]\ny = 3\n', "y must be a text value"),
     ('[report\n', "not valid TOML")],
)
def test_report_bad_configuration_exits_two_with_a_clear_message(text, message, tmp_path,
                                                                 capsys):
    config = tmp_path / "study.toml"
    config.write_text(text, encoding="utf-8")
    assert main(["report", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written for an invalid configuration


def test_report_missing_configuration_points_to_init(tmp_path, capsys):
    assert main(["report", "--config", str(tmp_path / "none.toml")]) == 2
    assert "alliancestats init" in capsys.readouterr().err


def test_mapping_options_become_load_sessions_keywords():
    args = build_parser().parse_args(
        ["validate", "f.csv", "--patient", "id", "--alliance", "total=wai",
         "--alliance", "bond=wai_bond", "--scale", "pain=nrs", "--na-value", "-99",
         "--na-value", "missing", "--dayfirst", "--planned-sessions", "12"])
    assert mapping_from_args(args) == {
        "patient": "id", "planned_sessions": 12, "alliance": {"total": "wai", "bond": "wai_bond"},
        "scales": {"pain": "nrs"}, "na_values": ["-99", "missing"], "dayfirst": True}


def test_mixed_name_forms_are_refused(capsys):
    assert main(["validate", "f.csv", "--patient", "id", "--outcome", "pain=nrs",
                 "--outcome", "odi"]) == 2
    assert "NAME=COLUMN for every value" in capsys.readouterr().err


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    err = capsys.readouterr().err
    assert all(c in err for c in ("demo", "validate", "init", "report"))


def test_unwritable_output_reports_error(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert main(["demo", "--out", str(blocker / "sub"), "--quiet"]) == 2
    assert "alliancestats demo:" in capsys.readouterr().err


def test_parser_defaults():
    args = build_parser().parse_args(["demo"])
    assert args.out == "alliancestats-demo" and args.quiet is False
    assert build_parser().parse_args(["report", "--config", "s.toml"]).out == (
        "alliancestats-report")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["nonsense"])
