"""What users read cites papers and the project's documentation pages, nothing of how it was made.

Users read the documentation pages, the README files, the notebooks (sources and stored
outputs), the docstrings and messages of the package (every string literal, so error
messages count) and the files the package ships (report templates, the example study
configuration). None of them may mention tracker issues ("issue 12", "#12"), the project's
planning files, or paths inside the test tree, which an installed package does not have.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "alliancestats"

FORBIDDEN = {
    "a tracker issue": re.compile(r"\bissues?\s*(?:no\.?\s*)?#?\s*\d+\b", re.I),
    "an issue number": re.compile(r"(?<![\w#&/'\"-])#\d{1,3}\b(?![\w;-])"),
    "a planning file": re.compile(
        r"\b(?:DOMAIN|DESIGN|TEAM|PLAN|PLANNING|ROADMAP|TODO|NOTES)\.md\b|\bissue-\d+", re.I),
    "a path of the test tree": re.compile(r"(?<![\w.])tests[/\\]|\bconftest\.py\b"),
    "a path of the build machine": re.compile(r"/work/(?:wt|main|shared)\b"),
}


def _docs_pages() -> Iterator[Path]:
    skipped = {"_build", "generated", "notebooks"}  # build output and copies of notebooks/
    for path in sorted((ROOT / "docs").rglob("*.md")):
        if not skipped & set(path.relative_to(ROOT / "docs").parts):
            yield path


def _notebook_text(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    parts = []
    for cell in cells:
        parts.append("".join(cell.get("source", "")))
        for output in cell.get("outputs", []):
            parts.append("".join(output.get("text", "")))
            for value in output.get("data", {}).values():
                if isinstance(value, (str, list)):
                    parts.append("".join(value))
    return "\n".join(parts)


def _string_literals(path: Path) -> str:
    """Every string constant of a module: docstrings, messages, f-string parts."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return "\n".join(node.value for node in ast.walk(tree)
                     if isinstance(node, ast.Constant) and isinstance(node.value, str))


def _sources() -> Iterator[tuple[str, str]]:
    """``(name, text)`` of everything a user reads."""
    for path in [*_docs_pages(), ROOT / "README.md", ROOT / "data" / "sample" / "README.md"]:
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        yield str(path.relative_to(ROOT)), _notebook_text(path)
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix == ".py":
            yield str(path.relative_to(ROOT)), _string_literals(path)
        elif path.suffix in {".j2", ".toml", ".md", ".txt", ".html"}:
            yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")


def _findings(name: str, text: str) -> list[str]:
    found = []
    for what, pattern in FORBIDDEN.items():
        for match in pattern.finditer(text):
            line = text[: match.start()].count("\n") + 1
            found.append(f"{name}: {what} {match.group(0)!r} (line {line} of the text read)")
    return found


def test_sources_are_found():
    names = [name for name, _ in _sources()]
    assert "README.md" in names and "docs/index.md" in names
    assert any(n.startswith("notebooks/") for n in names)
    assert any(n.endswith(".j2") for n in names)  # the report templates
    assert sum(n.endswith(".py") for n in names) > 100


def test_nothing_of_how_the_project_is_made_reaches_users():
    findings = [f for name, text in _sources() for f in _findings(name, text)]
    assert not findings, "\n".join(findings)


@pytest.mark.parametrize("text", [
    "fixed in issue 12", "see Issue #7", "as decided in #12.", "DOMAIN.md section 4",
    "planned in DESIGN.md", "read tests/reference/lmm/x.json", "from /work/main/src",
])
def test_each_kind_of_leak_is_caught(text):
    assert _findings("example", text)


@pytest.mark.parametrize("text", [
    "colour #0072B2 and #222222", "color: #222;", "Cohen's d (1988)", "n = 12 issues raised",
    "the test suite", "ids A#1 and p1#1", "a contrast.tests/ratio",
])
def test_ordinary_text_passes(text):
    assert not _findings("example", text)
