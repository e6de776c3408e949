"""Shared fixtures of the monitoring tests: the psychotherapy sample split in two halves."""

from __future__ import annotations

import pytest

from alliancestats import expected_response, read_sample


@pytest.fixture(scope="session")
def halves():
    """(reference half P001-P165, monitored half P166-P331) of the psychotherapy sample."""
    d = read_sample("psychotherapy_cohort")
    return d[d["patient"] <= "P165"], d[d["patient"] > "P165"]


@pytest.fixture(scope="session")
def pooled(halves):
    """The pooled expected-response model on the reference half (log time, 90% band)."""
    return expected_response(halves[0], "symptoms", time="log", level=0.9)
