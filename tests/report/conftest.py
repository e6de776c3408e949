"""Shared fixtures of the report tests: the demo report, written once per test process."""

from __future__ import annotations

import contextlib
import io

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """``alliancestats demo --out DIR`` as a user runs it: (folder, exit status, stdout, stderr)."""
    from alliancestats.cli import main

    out = tmp_path_factory.mktemp("demo") / "results"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["demo", "--out", str(out)])
    return out, status, stdout.getvalue(), stderr.getvalue()
