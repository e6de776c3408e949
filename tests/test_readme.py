"""The README's code runs as written: its Python block, and its commands parse."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import matplotlib

from alliancestats.cli import build_parser

matplotlib.use("Agg")

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    """Code blocks, each preceded by blank lines so that tracebacks give README line numbers."""
    text = README.read_text(encoding="utf-8")
    return ["\n" * text[: m.start(1)].count("\n") + m.group(1)
            for m in re.finditer(rf"```{language}\n(.*?)```", text, re.S)]


def test_readme_python_runs_as_written():
    (code,) = _blocks("python")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})  # noqa: S102
    out = printed.getvalue()
    assert "1413 read, 1413 kept" in out  # the summary of the bundled cohort
    assert "Linear mixed model fit by REML" in out
    assert "odds_ratio" in out
    assert "r = .15, 95% CI [.09, .21], k = 16" in out  # as the comment in the README says


def test_readme_commands_are_valid():
    commands = [line.split("#")[0].strip() for block in _blocks("bash")
                for line in block.splitlines()]
    cli = [c.split("&&")[-1].strip() for c in commands if "alliancestats" in c]
    assert len(cli) == 4  # demo, init, validate, report
    parser = build_parser()
    for command in cli:
        words = shlex.split(command)
        assert words[0] == "alliancestats"
        parser.parse_args(words[1:])  # exits (fails the test) on an invalid command line
