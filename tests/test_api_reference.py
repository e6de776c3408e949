"""The API reference (docs/api.md) lists every public name of the package and of its modules.

A name counts as listed when an ``autosummary`` entry of the page resolves to the very object
the public name refers to, so a name mentioned only in prose, or listed under the wrong
``currentmodule``, does not count.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

import alliancestats

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def _rst_blocks(text: str) -> list[str]:
    return re.findall(r"```\{eval-rst\}\n(.*?)```", text, re.S)


def _autosummary_entries(text: str) -> list[tuple[str, str]]:
    """``(currentmodule, entry)`` for every autosummary entry, in page order."""
    entries = []
    module = "alliancestats"
    for block in _rst_blocks(text):
        in_summary = False
        for line in block.splitlines():
            stripped = line.strip()
            if stripped.startswith(".. currentmodule::"):
                module = stripped.split("::", 1)[1].strip()
                in_summary = False
            elif stripped.startswith(".. autosummary::"):
                in_summary = True
            elif in_summary and stripped and not stripped.startswith(":"):
                if not line.startswith("   ") or stripped.startswith(".."):
                    in_summary = False
                else:
                    entries.append((module, stripped))
    return entries


def _resolve(module: str, entry: str) -> object:
    """The object an entry names, found the way autosummary finds it."""
    parts = f"{module}.{entry}".split(".")
    try:  # first as MODULE.OBJECT
        return getattr(importlib.import_module(".".join(parts[:-1])), parts[-1])
    except (ImportError, AttributeError):
        pass
    for cut in range(len(parts) - 1, 0, -1):  # then the longest importable module, attributes
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(entry)


def _public_names() -> list[tuple[str, str]]:
    """``(module, name)`` for ``alliancestats.__all__`` and every public module's ``__all__``."""
    names = [("alliancestats", n) for n in alliancestats.__all__]
    for info in pkgutil.iter_modules(alliancestats.__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"alliancestats.{info.name}")
        assert hasattr(module, "__all__"), f"alliancestats.{info.name} has no __all__"
        names += [(module.__name__, n) for n in module.__all__]
    return names


def test_every_autosummary_entry_resolves():
    entries = _autosummary_entries(API_PAGE.read_text(encoding="utf-8"))
    assert len(entries) > 100  # the parser found the page's lists
    unresolved = []
    for module, entry in entries:
        try:
            _resolve(module, entry)
        except (ImportError, AttributeError):
            unresolved.append(f"{module}.{entry}")
    assert not unresolved, f"entries of docs/api.md that do not exist: {unresolved}"


def test_every_public_name_is_in_the_api_reference():
    listed = []
    for module, entry in _autosummary_entries(API_PAGE.read_text(encoding="utf-8")):
        try:
            listed.append(_resolve(module, entry))
        except (ImportError, AttributeError):
            continue  # reported by the test above
    missing = [f"{module}.{name}" for module, name in _public_names()
               if not any(getattr(importlib.import_module(module), name) is obj
                          for obj in listed)]
    assert not missing, f"public names missing from docs/api.md: {missing}"


def test_the_check_sees_a_missing_name():
    entries = _autosummary_entries(
        "```{eval-rst}\n.. currentmodule:: alliancestats.plot\n\n.. autosummary::\n"
        "   :toctree: generated\n\n   forest\n   funnel\n```\n")
    assert entries == [("alliancestats.plot", "forest"), ("alliancestats.plot", "funnel")]
    listed = [_resolve(m, e) for m, e in entries]
    from alliancestats import plot

    assert plot.forest in listed and plot.gosh not in listed
