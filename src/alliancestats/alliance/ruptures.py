"""Alliance ruptures and repairs in session-by-session alliance ratings.

A rupture is a deterioration in the collaboration between patient and therapist; a repair is
its resolution. Session-by-session alliance ratings show them as drops followed by recovery
(Stiles et al. 2004, J Couns Psychol 51(1)); repaired ruptures go with better outcomes
(Eubanks, Muran & Safran 2018, Psychotherapy 55(4): r = .29, 11 studies, 1,314 patients),
unrepaired ones with worse (McLaughlin et al. 2014, J Consult Clin Psychol 82(1)). The
published detection rules differ (Gumz et al. 2012, BMC Med Res Methodol 12:10), so
:func:`ruptures` applies one named rule at a time and every output row states it; run several
and compare (:func:`alliancestats.alliance.rupture_overview`). :func:`rupture_patterns`
classifies patients as Larsson et al. (2018, Psychother Res 28(1)) did.

A caveat for interpretation: alliance tends to fall between sessions and rise within them
(Zlotnick et al. 2020), so a post-session drop is not necessarily an in-session rupture.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.alliance import ruptures
>>> d = pd.DataFrame({"patient": "a", "session": range(1, 9),
...                   "alliance": [4.0, 4.1, 4.0, 2.9, 4.0, 4.1, 4.2, 4.1]})
>>> r = ruptures(d, "alliance", method="stiles2004")
>>> r[["patient", "start_session", "repair_session", "status", "pattern"]]
  patient  start_session  repair_session    status          pattern
0       a              4               5  repaired  V-shaped repair
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._format import format_number
from alliancestats._validation import (
    check_choice,
    check_int,
    check_positive,
    check_real,
)
from alliancestats.alliance.reliable import RciCutoff, rci_cutoff
from alliancestats.alliance.rupture_rules import (
    METHODS,
    Episode,
    RuptureRule,
    detect_below_typical,
    detect_declines,
    detect_steps,
    find_repair,
)
from alliancestats.alliance.series import SessionSeries, session_series
from alliancestats.alliance.sudden_criteria import Criteria, evaluate
from alliancestats.errors import DataValidationError, ParameterError

__all__ = ["COLUMNS", "SD_SOURCES", "rupture_detection", "ruptures"]

#: Columns of the :func:`ruptures` table, in order.
COLUMNS = (
    "patient", "method", "event", "start_session", "trough_session", "reference_level",
    "trough_score", "depth", "threshold", "threshold_source", "decline_sessions",
    "repair_session", "repair_sessions", "duration", "status", "pattern",
)
#: Where the standard deviation behind a threshold comes from.
SD_SOURCES = ("patient", "sample", "pooled", "stricter", "first_session")
_SD_FOR = {
    "below_typical": ("patient", "sample", "pooled", "stricter"),
    "decline": ("patient", "sample", "pooled", "stricter"),
    "step": ("sample", "pooled", "first_session"),
    "sudden_loss": ("sample", "pooled", "first_session"),
    "sudden_gain": ("sample", "pooled", "first_session"),
}


# ---------------------------------------------------------------------------------------------
# standard deviations and thresholds
# ---------------------------------------------------------------------------------------------
def _sample_sds(values: np.ndarray) -> dict[str, float]:
    """Sample-level SDs: all scores, pooled within patients, and first observed scores."""
    present = ~np.isnan(values)
    counts = present.sum(axis=1)
    all_scores = values[present]
    usable = counts >= 2
    with np.errstate(invalid="ignore", divide="ignore"):
        variances = np.nanvar(values[usable], axis=1, ddof=1) if usable.any() else np.empty(0)
        pooled = np.sqrt(np.sum((counts[usable] - 1) * variances) / np.sum(counts[usable] - 1))
    first = values[np.flatnonzero(counts > 0), present[counts > 0].argmax(axis=1)]
    return {
        "sample": float(np.std(all_scores, ddof=1)) if all_scores.size > 1 else float("nan"),
        "pooled": float(pooled) if usable.any() else float("nan"),
        "first_session": float(np.std(first, ddof=1)) if first.size > 1 else float("nan"),
    }


def _patient_sd(v: np.ndarray, source: Any, sample: dict[str, float]) -> tuple[float, str]:
    """The SD of one patient's threshold and its description."""
    if not isinstance(source, str):
        return float(source), f"SD {format_number(source, 3)} (given)"
    own = float(np.std(v, ddof=1)) if v.size > 1 else float("nan")
    if source == "patient":
        return own, f"patient SD {format_number(own, 3)}"
    if source == "stricter":
        value = max(own, sample["sample"])
        return value, (f"stricter of patient SD {format_number(own, 3)} and sample SD "
                       f"{format_number(sample['sample'], 3)}")
    return sample[source], f"{source} SD {format_number(sample[source], 3)}"


def _fixed_threshold(rule: RuptureRule, args: dict[str, Any], sample: dict[str, float]
                     ) -> tuple[float, str]:
    """Cut-off of the step and sudden-change rules: given, or the reliable change."""
    if args["cutoff"] is not None:
        value = args["cutoff"].value if isinstance(args["cutoff"], RciCutoff) else check_positive(
            "cutoff", args["cutoff"])
        return value, f"cut-off {format_number(value, 3)} (given)"
    if args["reliability"] is None:
        raise ParameterError(
            f"method={rule.name!r} needs reliability= (e.g. 0.92, the modal alpha of the WAI; "
            "Hanson, Curry & Bandalos 2002) or cutoff= for its reliable-change threshold"
        )
    source = args["sd"] if args["sd"] is not None else rule.sd
    sd_value = float(source) if not isinstance(source, str) else sample[source]
    if not np.isfinite(sd_value) or sd_value <= 0:
        raise DataValidationError(
            f"ruptures(): the {source} SD of the alliance scores is {sd_value}; the reliable "
            "change needs a positive SD (pass sd= as a number, e.g. a normative SD)"
        )
    rc = rci_cutoff(sd_value, args["reliability"])
    label = source if isinstance(source, str) else "given"
    return rc.value, (f"reliable change {format_number(rc.value, 3)} ({label} SD "
                      f"{format_number(sd_value, 3)}, reliability {format_number(rc.reliability, 3)})")


# ---------------------------------------------------------------------------------------------
# argument checks
# ---------------------------------------------------------------------------------------------
def _check_args(rule: RuptureRule, args: dict[str, Any]) -> dict[str, Any]:
    out = dict(args)
    sd = args["sd"]
    if sd is not None and isinstance(sd, str):
        check_choice("sd", sd, _SD_FOR[rule.detector])
    elif sd is not None:
        out["sd"] = check_positive("sd", sd, what="a standard deviation")
    not_used = []
    if not rule.uses_reliability:
        not_used += [n for n in ("reliability", "cutoff") if args[n] is not None]
    if rule.detector not in ("below_typical", "decline") and args["threshold_sd"] is not None:
        not_used.append("threshold_sd")
    if rule.detector != "decline" and args["max_decline"] is not None:
        not_used.append("max_decline")
    if not_used:
        raise ParameterError(f"{', '.join(not_used)} not used by method={rule.name!r}")
    if args["threshold_sd"] is not None:
        out["threshold_sd"] = check_positive("threshold_sd", args["threshold_sd"])
    if args["max_decline"] is not None:
        out["max_decline"] = check_int("max_decline", args["max_decline"])
    out["repair_fraction"] = check_real("repair_fraction", args["repair_fraction"], low=0,
                                        high=1, low_open=True, what="a share of the depth")
    if args["repair_window"] is not None:
        out["repair_window"] = check_int("repair_window", args["repair_window"])
    out["min_sessions"] = check_int("min_sessions", args["min_sessions"], minimum=2)
    if args["pct"] is not None:
        out["pct"] = check_real("pct", args["pct"], low=0, what="a proportion of the score at N")
    return out


# ---------------------------------------------------------------------------------------------
# detection
# ---------------------------------------------------------------------------------------------
def _pattern(event: str, status: str, decline: Any, repair_steps: Any) -> str:
    if event == "sudden_gain":
        return "sudden alliance gain"
    multi = decline is not None and decline > 1
    if status == "open":
        return "open (series ends)"
    if status == "unrepaired":
        return "unrepaired multi-session decline" if multi else "unrepaired drop"
    gradual = repair_steps is not None and repair_steps > 1
    if multi:
        return f"multi-session decline, {'gradual' if gradual else 'sudden'} repair"
    return "drop, gradual repair" if gradual else "V-shaped repair"


def _row(pid: Any, rule: RuptureRule, ep: Episode, threshold: float, source: str,
         repair: int | None, status: str, event: str = "rupture") -> dict[str, Any]:
    decline = ep.trough - ep.before if ep.before is not None else None
    steps = repair - ep.trough if repair is not None else None
    return {
        "patient": pid, "method": rule.name, "event": event, "start_session": ep.start,
        "trough_session": ep.trough, "reference_level": ep.reference,
        "trough_score": ep.trough_score, "depth": ep.depth, "threshold": threshold,
        "threshold_source": source, "decline_sessions": decline, "repair_session": repair,
        "repair_sessions": steps,
        "duration": repair - ep.start if repair is not None else None,
        "status": status, "pattern": _pattern(event, status, decline, steps),
    }


def _observed(series: SessionSeries, min_sessions: int, evaluable: np.ndarray):
    """Each patient with at least ``min_sessions`` scores: (row, ID, sessions, scores).

    Marks those patients in ``evaluable``."""
    for p, pid in enumerate(series.patients):
        obs = ~np.isnan(series.values[p])
        if obs.sum() >= min_sessions:
            evaluable[p] = True
            yield p, pid, series.sessions[obs], series.values[p, obs]


def _sd_rule_rows(series: SessionSeries, rule: RuptureRule, a: dict[str, Any],
                  sample: dict[str, float]) -> tuple[list[dict], np.ndarray]:
    """Rows of the below-typical and decline rules, patient by patient."""
    source = a["sd"] if a["sd"] is not None else rule.sd
    k = a["threshold_sd"] if a["threshold_sd"] is not None else rule.threshold_sd
    max_decline = a["max_decline"] if a["max_decline"] is not None else 6
    rows, evaluable = [], np.zeros(len(series.patients), dtype=bool)
    for _, pid, s, v in _observed(series, a["min_sessions"], evaluable):
        sd, sd_text = _patient_sd(v, source, sample)
        if not np.isfinite(sd) or sd <= 0:
            continue  # a flat series has no drop to find
        threshold = k * sd
        text = f"{format_number(k, 2)} x {sd_text}"
        if rule.detector == "below_typical":
            episodes = detect_below_typical(s, v, sd, k)
        else:
            episodes = detect_declines(s, v, threshold, max_decline)
        for ep in episodes:
            repair, status = find_repair(s, v, ep, a["repair_fraction"], a["repair_window"])
            rows.append(_row(pid, rule, ep, threshold, text, repair, status))
    return rows, evaluable


def _step_rows(series: SessionSeries, rule: RuptureRule, a: dict[str, Any],
               sample: dict[str, float]) -> tuple[list[dict], np.ndarray]:
    threshold, text = _fixed_threshold(rule, a, sample)
    rows, evaluable = [], np.zeros(len(series.patients), dtype=bool)
    for _, pid, s, v in _observed(series, a["min_sessions"], evaluable):
        for ep in detect_steps(s, v, threshold):
            repair, status = find_repair(s, v, ep, a["repair_fraction"], a["repair_window"])
            rows.append(_row(pid, rule, ep, threshold, text, repair, status))
    return rows, evaluable


def _sudden_rows(series: SessionSeries, rule: RuptureRule, a: dict[str, Any],
                 sample: dict[str, float]) -> tuple[list[dict], np.ndarray]:
    threshold, text = _fixed_threshold(rule, a, sample)
    kind = "loss" if rule.detector == "sudden_loss" else "gain"
    crit = Criteria(cutoff=threshold, pct=a["pct"], direction=-1, kind=kind, rule="symmetric")
    ev = evaluate(series.values, crit, first=1)
    crit2 = "" if a["pct"] is None else f"change >= {a['pct']:g} x score at N; "
    text = f"{text}; {crit2}window means apart by t x pooled SD"
    enough = (~np.isnan(series.values)).sum(axis=1) >= a["min_sessions"]
    evaluable = ev["evaluable"].any(axis=1) & enough
    rows = []
    for p, col in zip(*np.nonzero(ev["met"] == 1), strict=True):
        if not enough[p]:
            continue
        pid, pos = series.patients[p], int(ev["positions"][col])
        n, x_n, x_next = series.sessions[pos], *ev["around"][p, col, 2:4]
        obs = ~np.isnan(series.values[p])
        s, v = series.sessions[obs], series.values[p, obs]
        if kind == "loss":
            ep = Episode(int(n), int(n) + 1, int(n) + 1, int(n) + 1, float(x_n), float(x_next))
            repair, status = find_repair(s, v, ep, a["repair_fraction"], a["repair_window"])
            rows.append(_row(pid, rule, ep, threshold, text, repair, status))
        else:
            typical = float(ev["mean_pre"][p, col])
            ep = Episode(None, int(n), int(n), int(n), typical, float(x_n))
            row = _row(pid, rule, ep, threshold, text, int(n) + 1, "repaired", "sudden_gain")
            row["depth"] = float(x_next - x_n)  # the size of the gain
            rows.append(row)
    return rows, evaluable


_DETECTORS = {"below_typical": _sd_rule_rows, "decline": _sd_rule_rows, "step": _step_rows,
              "sudden_loss": _sudden_rows, "sudden_gain": _sudden_rows}


def _frame(rows: list[dict]) -> pd.DataFrame:
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    for col in ("decline_sessions", "repair_session", "repair_sessions", "duration"):
        out[col] = pd.array(out[col].tolist(), dtype="Int64")
    for col in ("start_session", "trough_session"):
        out[col] = out[col].astype("int64")
    for col in ("reference_level", "trough_score", "depth", "threshold"):
        out[col] = out[col].astype(float)
    return out


def rupture_detection(
    data: Any, alliance: str, args: dict[str, Any]
) -> tuple[pd.DataFrame, SessionSeries, np.ndarray, RuptureRule]:
    """Run one rule: the events table, the grid, which patients could be judged, the rule.

    The engine behind :func:`ruptures` and :func:`rupture_patterns`; ``args`` holds their
    keyword arguments.
    """
    rule = METHODS[check_choice("method", args["method"], tuple(METHODS))]
    a = _check_args(rule, args)
    series = session_series(data, alliance, patient=a["patient"], session=a["session"],
                            wide_pattern=a["wide_pattern"], sessions=a["sessions"],
                            function="ruptures")
    sample = _sample_sds(series.values)
    rows, evaluable = _DETECTORS[rule.detector](series, rule, a, sample)
    table = _frame(rows)
    table.attrs.update(method=rule.name, rule=rule.description, citation=rule.citation,
                       n_patients=len(series.patients), n_evaluable=int(evaluable.sum()))
    return table, series, evaluable, rule


def ruptures(
    data: Any,
    alliance: str,
    *,
    method: str,
    patient: str = "patient",
    session: str = "session",
    sd: str | float | None = None,
    threshold_sd: float | None = None,
    reliability: float | pd.DataFrame | None = None,
    cutoff: float | RciCutoff | None = None,
    pct: float | None = 0.25,
    max_decline: int | None = None,
    repair_window: int | None = 3,
    repair_fraction: float = 0.5,
    min_sessions: int = 3,
    sessions: int | tuple[int, int] | None = None,
    wide_pattern: str | re.Pattern | None = None,
) -> pd.DataFrame:
    """Detect alliance ruptures (and repairs) with a named published rule.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long data (one row per patient-session; a single patient's series so far is fine), or
        wide data with ``wide_pattern``.
    alliance : str
        The alliance score (higher = better alliance), e.g. the WAI-SR mean.
    method : {"stiles2004", "strauss2006", "gumz2012", "tang_derubeis", "zilcha_mano2019", "rci"}
        The rule (see Notes). Counts differ strongly between rules: state the rule when
        reporting, or compare several.
    patient, session : str
        Patient ID and session-number columns.
    sd : {"patient", "sample", "pooled", "stricter", "first_session"} or float, optional
        Source of the standard deviation behind the threshold: the patient's own scores
        (intra-individual), all scores of the sample, the pooled within-patient SD, the larger
        of patient and sample SD, the SD of every patient's first observed score, or a number
        (e.g. a normative SD when monitoring one patient). Default: the rule's.
    threshold_sd : float, optional
        Multiplier ``k`` of the SD for the SD-based rules (default 2 for stiles2004, 1 for
        strauss2006 and gumz2012).
    reliability : float or DataFrame, optional
        Reliability of the alliance scale (or its item responses, for Cronbach's alpha) for
        the reliable-change threshold of rci, tang_derubeis and zilcha_mano2019.
    cutoff : float or RciCutoff, optional
        A fixed threshold for those rules instead of the reliable change.
    pct : float or None, default 0.25
        Tang & DeRubeis criterion 2 for tang_derubeis and zilcha_mano2019 (the change must be
        at least this share of the score at N); None drops it.
    max_decline : int, optional
        gumz2012: longest decline in observed sessions still counted as one crisis (default
        6, the longest Gumz et al. observed); longer declines are trends, not ruptures.
    repair_window : int or None, default 3
        Sessions after the trough within which a repair must come; None allows any later
        session.
    repair_fraction : float, default 0.5
        Share of the depth that must be regained for a repair (0.5 mirrors the sudden-gain
        reversal rule; 1 asks for a full return to the reference level).
    min_sessions : int, default 3
        Patients with fewer observed scores are not judged.
    sessions : int or (int, int), optional
        Inclusive range of session numbers used.
    wide_pattern : str or re.Pattern, optional
        Wide column names, e.g. ``"{var}_s{session}"``.

    Returns
    -------
    pandas.DataFrame
        One row per rupture (per sudden gain for zilcha_mano2019): ``patient``, ``method``,
        ``event`` (``"rupture"`` or ``"sudden_gain"``), ``start_session`` (first lowered
        session; for sudden gains the pre-gain session N), ``trough_session``,
        ``reference_level`` (the level the drop is measured from), ``trough_score``,
        ``depth`` (reference minus trough; for sudden gains the size of the gain),
        ``threshold`` and ``threshold_source`` (the rule in words and numbers),
        ``decline_sessions`` (sessions from the last pre-rupture score to the trough),
        ``repair_session``, ``repair_sessions`` (trough to repair), ``duration`` (start to
        repair), ``status`` (``repaired``, ``unrepaired``, or ``open`` when the series ends
        before the repair window closes) and ``pattern`` (V-shaped repair, drop with gradual
        repair, multi-session decline with sudden or gradual repair, unrepaired drop or
        decline, open, sudden alliance gain). ``.attrs`` holds ``method``, ``rule``,
        ``citation``, ``n_patients`` and ``n_evaluable``.

    Notes
    -----
    The rules, and the choices made where the papers leave a detail open:

    * ``stiles2004`` -- Stiles et al. (2004, J Couns Psychol 51(1)) identified rupture-repair
      sequences as V-shaped deflections at least 2 SD below the client's typical level
      followed by recovery. Here: a session whose score is at least ``k = 2`` SDs (the
      patient's own SD of all observed scores) below the mean of the patient's other
      sessions; consecutive such sessions form one episode, measured from the mean of the
      sessions outside it.
    * ``strauss2006`` -- Strauss et al. (2006, J Consult Clin Psychol 74(2); PMC3268072) used
      the same idea with 1 SD: as stiles2004 with ``k = 1``.
    * ``gumz2012`` -- Gumz et al. (2012, BMC Med Res Methodol 12:10; PMC3320522) showed that
      the two criteria above find different numbers of ruptures, proposed taking the
      stricter of the intra- and inter-individual variability, and counted declines over
      several sessions (the longest lasted six sessions) with their repair. Here: a run of
      falling scores (up to ``max_decline`` sessions) whose fall from the last score before
      it is at least ``k = 1`` times the larger of the patient's SD and the SD of all the
      sample's scores (the inter-individual SD; the pooled within-patient SD is available as
      ``sd="pooled"``).
    * ``tang_derubeis`` -- a sudden alliance loss: the three Tang & DeRubeis (1999) criteria
      for a drop from N to N+1 (criterion 1 the reliable change or ``cutoff``; ``pct`` of
      the score at N; window means N-2..N vs N+1..N+3 apart by more than t x pooled SD,
      critical value adjusted for missing scores). The rupture session is N+1.
    * ``zilcha_mano2019`` -- sudden alliance gains (Zilcha-Mano, Eubanks & Muran 2019,
      J Consult Clin Psychol 87(6); PMC6533161), who found that rupture sessions predicted a
      sudden gain in alliance at the next session: the Tang & DeRubeis criteria for a rise
      from N to N+1; each row is a gain, N the candidate rupture session, N+1 its repair.
    * ``rci`` -- a drop between consecutive observed sessions of at least the reliable
      change (Jacobson & Truax 1991) computed from the SD of every patient's first observed
      score (``sd=``) and ``reliability``.

    Repair (all rupture rules): the first observed score after the lowered sessions that
    regains ``repair_fraction`` of the depth within ``repair_window`` sessions of the trough.
    McLaughlin et al. (2014, J Consult Clin Psychol 82(1); PMC3921691) distinguished repaired
    from unrepaired ruptures; the window and fraction they leave to the analyst are arguments
    here, defaulting to 3 sessions and half the depth.

    Scores are used as observed: a missed session neither starts nor ends an episode, and the
    session numbers reported are those of the data. The function works on a single patient's
    partial series (e.g. for routine monitoring); a rupture near the end of the data is
    ``open`` until the repair window has passed. With a patient-based SD the threshold of
    a partial series changes as sessions are added; pass ``sd=`` as a number to fix it.

    Validated on simulated cohorts with planted ruptures of known sessions (sensitivity and
    false-positive rate per rule, reported in the user guide page "Sudden gains and
    ruptures") and on hand-worked series; no reference software exists.

    Examples
    --------
    >>> import alliancestats as als
    >>> d = als.read_sample("psychotherapy_cohort")
    >>> r = ruptures(d, "wai_sr", method="gumz2012")
    >>> r.attrs["method"], list(r.columns[:4])
    ('gumz2012', ['patient', 'method', 'event', 'start_session'])
    """
    table, *_ = rupture_detection(data, alliance, dict(locals()))
    return table
