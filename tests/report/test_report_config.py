"""Study configurations: the example, option checking, and what reaches the rendered report."""

from __future__ import annotations

import tomllib

import pandas as pd
import pytest

from alliancestats.errors import ConfigError
from alliancestats.report import example_config_text, load_config
from alliancestats.report.content import SectionOutput, Table
from alliancestats.report.options import Option, check_options
from alliancestats.report.render import render_html, render_markdown
from alliancestats.report.sections import SECTIONS


def test_the_example_configures_every_section():
    raw = tomllib.loads(example_config_text())
    cfg = load_config(raw)
    optional = {s.key for s in SECTIONS if not s.always}
    assert optional <= set(cfg.sections)  # the demo shows every analysis
    assert cfg.data_source() == "physio_cohort"
    assert cfg.label("pain") == "Pain (NRS 0-10)" and cfg.label("session") == "session"


def test_paths_are_relative_to_the_configuration(tmp_path):
    path = tmp_path / "sub" / "study.toml"
    path.parent.mkdir()
    path.write_text('[data]\nfile = "data/x.csv"\npatient = "id"\n', encoding="utf-8")
    assert load_config(path).data_source() == tmp_path / "sub" / "data" / "x.csv"
    assert load_config(path).data_source("other.csv").name == "other.csv"


@pytest.mark.parametrize(
    ("raw", "match"),
    [({"data": {"file": "a.csv", "sample": "physio_cohort"}}, "file or sample, not both"),
     ({"data": {"patinet": "id"}}, "did you mean 'patient'"),
     ({"labels": {"pain": 3}}, "map column names to text"),
     ({"models": [{"name": "m"}]}, r"\[\[models\]\] number 1 .*formula is required"),
     ({"report": {"dpi": "high"}}, "dpi must be a whole number")],
)
def test_invalid_configurations_raise_config_errors(raw, match):
    with pytest.raises(ConfigError, match=match):
        load_config(raw)


def test_check_options_converts_and_fills_defaults():
    spec = {"x": Option("float", 1.0), "w": Option("int_or_list"), "b": Option("bool", False)}
    assert check_options("[t]", {"x": 2, "w": [1, 2]}, spec) == {"x": 2.0, "w": [1, 2],
                                                                  "b": False}
    with pytest.raises(ConfigError, match="b must be true or false"):
        check_options("[t]", {"b": "yes"}, spec)
    with pytest.raises(ConfigError, match="must be a table"):
        check_options("[t]", 3, spec)


def _context(section):
    return {"title": "T <1>", "version": "0", "command": "c", "source": "s",
            "config_name": "", "elapsed": 0.0, "sections": [section], "unconfigured": []}


def test_text_from_data_cannot_inject_markup(tmp_path):
    out = SectionOutput("data", "Data")
    out.text("Patient <script>alert(1)</script> and `code`")
    frame = pd.DataFrame({"note": ["<b>x</b>", "a|b"], "value": [0.123456, None]})
    out.blocks.append(Table("Notes", frame, tmp_path / "t.csv"))
    html = render_html(_context(out), tmp_path)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<code>code</code>" in html  # Markdown still renders
    assert "<td>&lt;b&gt;x&lt;/b&gt;</td>" in html and "<td>0.1235</td>" in html
    md = render_markdown(_context(out))
    assert "| a\\|b |  |" in md  # a pipe in a cell does not break the Markdown table


def test_the_documentation_page_lists_every_option():
    from pathlib import Path

    from alliancestats.report.config import REPORT_OPTIONS

    page = (Path(__file__).resolve().parents[2] / "docs" / "report.md").read_text("utf-8")
    for s in SECTIONS:
        if s.options:
            head = f"[[{s.key}]]" if s.many else f"[{s.key}]"
            table = page.split(f"### `{head}`", 1)[1].split("\n### ", 1)[0]
            for key in s.options:
                assert f"| `{key}` |" in table, (s.key, key)
    for key in REPORT_OPTIONS:
        assert f"| `{key}` |" in page
