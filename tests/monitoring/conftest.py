"""Shared fixtures of the monitoring tests: the psychotherapy sample split in two halves."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alliancestats import expected_response, read_sample

REF = json.loads((Path(__file__).parents[1] / "reference" / "monitoring"
                  / "monitoring_reference.json").read_text())


@pytest.fixture(scope="session")
def halves():
    """(reference half P001-P165, monitored half P166-P331) of the psychotherapy sample."""
    d = read_sample("psychotherapy_cohort")
    return d[d["patient"] <= "P165"], d[d["patient"] > "P165"]


@pytest.fixture(scope="session")
def pooled(halves):
    """The pooled expected-response model on the reference half (log time, 90% band)."""
    return expected_response(halves[0], "symptoms", time="log", level=0.9)
