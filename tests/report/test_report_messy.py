"""Reports on the messy samples: every planted problem listed, sections that cannot run
say why, and one failing analysis never costs the rest of the report."""

from __future__ import annotations

import pandas as pd
import pytest

from alliancestats.datasets import sample_path
from alliancestats.report import build_report

#: the planted problems of data/sample/README.md: (Excel row, column, kind)
PLANTED = {(4, "wai_7_s2", "invalid_item"), (8, "pain_s3", "not_numeric"),
           (12, "date_s4", "future_date"), (16, "patient_id", "missing_id"),
           (22, "patient_id", "duplicate_id"), (42, "patient_id", "duplicate_id")}


def _config(**sections):
    config = {
        "report": {"title": "Messy pilot"},
        "data": {"patient": "patient_id", "therapist": "therapist", "layout": "wide",
                 "date": "date", "instruments": {"wai_sr": "wai_{i}"},
                 "outcomes": ["pain", "adhered"], "covariates": ["arm", "sex", "age"]},
        "descriptives": {"group": "arm"},
        "trajectories": {"measures": ["pain"], "individual_lines": 5},
        "effects": {"effect_plots": False},
    }
    config.update(sections)
    return config


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    models = [
        {"name": "pain", "formula": "pain ~ session * arm + alliance_within + "
         "alliance_between + (1 | patient)"},
        {"name": "broken", "formula": "pain ~ session + not_a_column + (1 | patient)"},
    ]
    cfg = _config(models=models, ruptures={"reliability": 0.9},
                  sudden_gains={"score": "no_such_score", "cutoff": 2.0})
    out = tmp_path_factory.mktemp("messy")
    return build_report(cfg, sample_path("physio_messy"), out)


def test_every_planted_problem_is_listed_with_its_excel_row(messy):
    problems = pd.read_csv(messy.out / "tables" / "validation_problems.csv")
    assert set(zip(problems["row"], problems["column"], problems["kind"], strict=True)) == PLANTED
    md = messy.index_md.read_text()
    assert "236 patient-session records read, 215 kept" in md


def test_undeclared_columns_are_kept_so_an_arm_interaction_fits(messy):
    fixed = pd.read_csv(messy.out / "tables" / "model_pain_fixed.csv")
    assert "session:armintervention" in set(fixed["term"])


def test_a_failing_model_is_reported_and_the_others_run(messy):
    models = messy.section("models")
    assert models.status == "ok"
    text = " ".join(b.markdown for b in models.blocks if type(b).__name__ == "Text")
    assert "could not be fitted" in text and "not_a_column" in text
    assert messy.section("effects").status == "ok"  # uses the model that did fit
    assert messy.section("ruptures").status == "ok"


def test_a_section_needing_a_missing_column_says_why(messy):
    gains = messy.section("sudden_gains")
    assert gains.status == "skipped" and "no_such_score" in gains.reason
    md = messy.index_md.read_text()
    assert "*Not run: [sudden_gains] needs the column(s) ['no_such_score']" in md
    assert "## Also available" in md and "`[lagged]`" in md  # not configured, listed


def test_unloadable_data_fails_the_data_section_only(tmp_path):
    cfg = _config(meta={"sample": "molloy2014", "r": "ri", "n": "ni", "slab": "study"})
    cfg["data"]["patient"] = "patient"  # the wide file has patient_id
    rep = build_report(cfg, sample_path("physio_messy_spss"), tmp_path)
    assert rep.section("data").status == "failed"
    assert "patient" in rep.section("data").reason
    assert rep.section("descriptives").status == "skipped"
    assert rep.section("meta").status == "ok"  # needs no session data
    assert "Traceback" in (tmp_path / "report_errors.txt").read_text()
    html = rep.index_html.read_text()
    assert "This section could not be completed" in html


def test_spss_copy_gives_the_same_report_tables(messy, tmp_path):
    rep = build_report(_config(), sample_path("physio_messy_spss"), tmp_path)
    assert rep.section("data").status == "ok"
    for name in ("measures", "retention", "by_session"):
        a = pd.read_csv(messy.out / "tables" / f"{name}.csv")
        b = pd.read_csv(tmp_path / "tables" / f"{name}.csv")
        # the same cells in both files; float parsing of the same numbers only
        pd.testing.assert_frame_equal(a, b, rtol=1e-12)
