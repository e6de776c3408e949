"""Routine outcome monitoring: expected-recovery curves, signals and alliance alerts."""

from alliancestats.monitoring.evaluation import evaluate_signals
from alliancestats.monitoring.expected import ExpectedResponse, expected_response
from alliancestats.monitoring.monitor import monitor

__all__ = ["ExpectedResponse", "evaluate_signals", "expected_response", "monitor"]
