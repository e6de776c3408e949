"""Feedback signals: white, green, yellow and red, with the rule behind each.

The signals of Lambert's feedback system (Finch, Lambert & Schaalje 2001; Lambert et al.
2001, Psychother Res 11(1)) compare a patient's score with the expected-recovery curve:

* **white** -- in the functional range and reliably improved since intake (the patient may
  be ready to end treatment);
* **green** -- on track: no worse than expected, or worse by less than the yellow share of
  the band;
* **yellow** -- less change than expected: worse than expected by at least ``yellow`` times
  the distance from the expected score to the tolerance bound;
* **red** -- not on track: beyond the tolerance bound on the worse side.

White takes precedence (a recovered patient is not "not on track"), then red, yellow, green.
Every threshold is an argument of :func:`alliancestats.monitor` and appears in its rules table
and in the ``signal_reason`` of every row. :class:`SignalRules` holds them;
:func:`outcome_rules` fills them from the instrument registry (OQ-45, ORS, ...) where not given.

Examples
--------
>>> rules = outcome_rules(instrument="ors", direction=None, cutoff=None, cutoff_rule=None,
...                       rci=None, level=0.9, yellow=0.5, update=False)
>>> rules.direction, rules.cutoff, rules.cutoff_rule, rules.rci
('higher_is_better', 25.0, '<', 5.0)
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._format import format_number
from alliancestats._validation import check_bool, check_choice, check_positive, check_real
from alliancestats.errors import ParameterError
from alliancestats.instruments import get_instrument
from alliancestats.instruments.instrument import CUTOFF_RULES

__all__ = ["DIRECTIONS", "SIGNALS", "SignalRules", "classify", "compare", "outcome_rules"]

#: Signal labels, from best to worst.
SIGNALS = ("white", "green", "yellow", "red")
#: Directions of the monitored score.
DIRECTIONS = ("lower_is_better", "higher_is_better")
_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def compare(values: Any, cutoff: float, rule: str) -> np.ndarray:
    """``values <rule> cutoff`` elementwise (False where a value is missing).

    Examples
    --------
    >>> compare([35.0, 36.0, float("nan")], 36.0, "<").tolist()
    [True, False, False]
    """
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.asarray(_OPS[rule](v, cutoff)) & ~np.isnan(v)


@dataclass(frozen=True)
class SignalRules:
    """Thresholds of the outcome signals and where they came from."""

    direction: str
    level: float
    yellow: float
    cutoff: float | None
    cutoff_rule: str | None
    rci: float | None
    update: bool
    cutoff_source: str
    rci_source: str

    @property
    def sign(self) -> float:
        """+1 when higher scores are worse (lower is better), -1 otherwise."""
        return 1.0 if self.direction == "lower_is_better" else -1.0

    @property
    def worse(self) -> str:
        """The word for a worse score: ``"above"`` or ``"below"``."""
        return "above" if self.sign > 0 else "below"

    def white_available(self) -> bool:
        """White needs both a cut-off and a reliable change."""
        return self.cutoff is not None and self.rci is not None

    def table(self) -> pd.DataFrame:
        """One row per signal: the condition in words and the numbers it uses."""
        pct = f"{100 * self.level:g}%"
        side = "upper" if self.sign > 0 else "lower"
        basis = ("expected score updated by the patient's earlier scores (empirical Bayes)"
                 if self.update else "expected score from intake")
        if self.white_available():
            white = (f"score not {self.cutoff_rule} {format_number(self.cutoff, 2)} (functional "
                     f"range; cut-off {self.cutoff_source}) and improved by at least "
                     f"{format_number(self.rci, 2)} since intake (RCI {self.rci_source})")
        else:
            white = "not used: needs a cut-off and a reliable change index (cutoff=, rci=)"
        rows = [
            ("white", white),
            ("green", f"neither white, yellow nor red ({basis})"),
            ("yellow", f"score {self.worse} the expected score by at least {self.yellow:g} x "
                       f"the distance to the {side} {pct} tolerance bound"),
            ("red", f"score beyond the {side} one-sided {pct} tolerance bound (not on track)"),
        ]
        return pd.DataFrame(rows, columns=["signal", "condition"])


def _threshold(value: Any, registered: Any, name: str, inst: Any, source: str | None
               ) -> tuple[float | None, str]:
    if value is not None:
        return check_real(name, value), "given"
    if registered is None:
        return None, "not available"
    verified = "" if inst.thresholds_verified else ", unverified"
    return float(registered), f"{inst.id} registry: {source or inst.citation}{verified}"


def outcome_rules(*, instrument: Any, direction: str | None, cutoff: Any, cutoff_rule: Any,
                  rci: Any, level: float, yellow: Any, update: Any) -> SignalRules:
    """Resolve the signal thresholds: arguments first, then the instrument's registry entry."""
    inst = None if instrument is None else get_instrument(instrument)
    if direction is None:
        direction = ("higher_is_better" if inst is not None and inst.higher_is_better
                     else "lower_is_better")
    check_choice("direction", direction, DIRECTIONS)
    cut, cut_source = _threshold(cutoff, getattr(inst, "cutoff", None), "cutoff", inst,
                                 getattr(inst, "cutoff_source", None))
    rc, rc_source = _threshold(rci, getattr(inst, "rci", None), "rci", inst,
                               getattr(inst, "rci_source", None))
    if rc is not None:
        rc = check_positive("rci", rc)
    if cutoff_rule is None:
        default = ">=" if direction == "lower_is_better" else "<"
        cutoff_rule = inst.cutoff_rule if inst is not None else default
    check_choice("cutoff_rule", cutoff_rule, CUTOFF_RULES)
    if (direction == "lower_is_better") != (cutoff_rule in (">", ">=")):
        raise ParameterError(
            f"cutoff_rule={cutoff_rule!r} (the clinical side of the cut-off) contradicts "
            f"direction={direction!r}: when lower is better the clinical range lies above the "
            "cut-off ('>' or '>='), when higher is better below it ('<' or '<=')"
        )
    yellow = check_real("yellow", yellow, low=0, high=1, low_open=True,
                        what="a share of the tolerance band")
    return SignalRules(direction, level, yellow, cut, cutoff_rule, rc, check_bool("update", update),
                       cut_source, rc_source)


def _reason(signal: str, score: float, expected: float, bound: float, worse_by: float,
            improved: float, rules: SignalRules) -> str:
    n = format_number
    if signal == "white":
        return (f"white: {n(score, 1)} in the functional range (not {rules.cutoff_rule} "
                f"{n(rules.cutoff, 1)}), {n(improved, 1)} better than intake (RCI {n(rules.rci, 1)})")
    if signal == "red":
        return (f"red: {n(score, 1)} is {n(worse_by, 1)} {rules.worse} the expected "
                f"{n(expected, 1)}, beyond the {100 * rules.level:g}% bound {n(bound, 1)}")
    if signal == "yellow":
        return (f"yellow: {n(score, 1)} is {n(worse_by, 1)} {rules.worse} the expected "
                f"{n(expected, 1)}, at least {rules.yellow:g} of the way to the bound {n(bound, 1)}")
    return f"green: {n(score, 1)} against the expected {n(expected, 1)} (bound {n(bound, 1)})"


def classify(frame: pd.DataFrame, rules: SignalRules, *, intake_row: np.ndarray
             ) -> tuple[pd.Categorical, list[Any], np.ndarray, np.ndarray]:
    """Signal, reason, worse-direction deviation and improvement of every row.

    ``frame`` has ``score, baseline, expected, band_low, band_high``; ``intake_row`` marks rows
    that are the intake itself (no signal). Rows without a score or expectation get no signal.
    """
    score = frame["score"].to_numpy(dtype=float)
    expected = frame["expected"].to_numpy(dtype=float)
    bound = frame["band_high" if rules.sign > 0 else "band_low"].to_numpy(dtype=float)
    worse_by = rules.sign * (score - expected)
    half = rules.sign * (bound - expected)
    improved = rules.sign * (frame["baseline"].to_numpy(dtype=float) - score)
    judged = ~np.isnan(score) & ~np.isnan(expected) & ~intake_row
    white = np.zeros(len(frame), dtype=bool)
    if rules.white_available():
        clinical = compare(score, rules.cutoff, rules.cutoff_rule)
        white = ~clinical & (improved >= rules.rci)
    with np.errstate(invalid="ignore"):
        label = np.select([white, worse_by > half, worse_by >= rules.yellow * half],
                          ["white", "red", "yellow"], "green")
    label = np.where(judged, label, None)
    signal = pd.Categorical(label, categories=list(SIGNALS), ordered=True)
    reasons: list[Any] = [
        _reason(s, *v, rules) if s is not None else None
        for s, v in zip(label, zip(score, expected, bound, worse_by, improved, strict=True),
                        strict=True)
    ]
    return signal, reasons, np.where(judged, worse_by, np.nan), improved
