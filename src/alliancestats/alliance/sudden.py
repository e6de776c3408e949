"""Sudden gains and sudden losses in session-by-session scores (Tang & DeRubeis 1999).

A sudden gain is a large, stable improvement between two consecutive sessions N and N+1
(Tang & DeRubeis 1999, J Consult Clin Psychol 67(6)); a sudden loss is the mirror image (Lutz
et al. 2013, Psychother Res 23(1)). Meta-analyses find that patients with sudden gains end
treatment better off (Aderka et al. 2012, 16 studies, g = 0.62; Shalom & Aderka 2020, 50
studies, g = 0.68). The only other implementation is the R package suddengains 0.7.2
(Wiedemann, Thew, Stott & Ehlers 2020, PLOS ONE 15(3):e0230276), which takes wide data only;
:func:`sudden_gains` and :func:`sudden_losses` reproduce its rules on long data (one row per
patient-session), on ``SessionData`` and on wide data named by a pattern.

Examples
--------
>>> import alliancestats as als
>>> sg = als.sudden_gains(als.read_sample("sgdata"), "bdi", patient="id",
...                       wide_pattern="{var}_s{session}", sessions=(1, 12), cutoff=7)
>>> sg.events.groupby("session").size().tolist()
[3, 8, 1, 3, 1, 2, 5, 1]
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import (
    check_bool,
    check_choice,
    check_int,
    check_positive,
    check_probability,
    check_real,
)
from alliancestats.alliance.reliable import RciCutoff
from alliancestats.alliance.series import SessionSeries, session_series
from alliancestats.alliance.sudden_criteria import Criteria, evaluate
from alliancestats.alliance.sudden_result import SuddenChangeResult
from alliancestats.errors import ParameterError

__all__ = ["RULES", "sudden_gains", "sudden_losses"]

#: ``"suddengains"`` reproduces the R package 0.7.2 exactly; ``"symmetric"`` uses the
#: documented rules (reversal checked from N+2; a loss needs a 25% worsening).
RULES = ("suddengains", "symmetric")

_SCORE_COLUMNS = ("score_pre2", "score_pre1", "score_n", "score_post1", "score_post2",
                  "score_post3")


def _check_cutoff(cutoff: Any) -> float | None:
    if cutoff is None:
        return None
    if isinstance(cutoff, RciCutoff):
        return cutoff.value
    value = check_real("cutoff", cutoff)
    if value <= 0:
        raise ParameterError(
            f"cutoff is the size of the change (criterion 1) and must be positive, got {value:g}; "
            "for losses too (suddengains' identify_sl writes -7 for a worsening of 7: pass 7)"
        )
    return value


def _criteria(kind: str, cutoff: Any, pct: Any, crit3: Any, crit3_adjust: Any, alpha: Any,
              critical_value: Any, rule: Any, higher_is_better: Any) -> Criteria:
    check_choice("rule", rule, RULES)
    if pct is not None:
        pct = check_real("pct", pct, low=0, what="a proportion of x_N")
    crit = Criteria(
        cutoff=_check_cutoff(cutoff),
        pct=pct,
        crit3=check_bool("crit3", crit3),
        crit3_adjust=check_bool("crit3_adjust", crit3_adjust),
        alpha=check_probability("alpha", alpha, allow_zero=False),
        critical_value=check_positive("critical_value", critical_value),
        direction=-1 if check_bool("higher_is_better", higher_is_better) else 1,
        kind=kind,
        rule=rule,
    )
    if not any(crit.active):
        raise ParameterError(
            "no criterion is applied: give cutoff=, pct= or crit3=True (Tang & DeRubeis use all "
            "three)"
        )
    return crit


def _change_position(series: SessionSeries, which: Any, default: int, name: str) -> int:
    if which is None:
        return default
    number = check_int(name, which, minimum=None)
    where = np.flatnonzero(series.sessions == number)
    if not where.size:
        raise ParameterError(
            f"{name}={number} is not a session of the grid "
            f"({int(series.sessions[0])}-{int(series.sessions[-1])})"
        )
    return int(where[0])


def _reversals(values: np.ndarray, rows: np.ndarray, pos: np.ndarray, target: np.ndarray,
               direction: int, kind: str, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """Whether, and at which grid position, a later score passes the reversal value."""
    flag = np.zeros(rows.size, dtype=bool)
    first = np.full(rows.size, -1, dtype=np.int64)
    sign = direction if kind == "gain" else -direction  # positive = back towards N
    for k, (r, p) in enumerate(zip(rows, pos, strict=True)):
        later = values[r, p + offset:]
        hit = np.flatnonzero(sign * (later - target[k]) > 0)
        if hit.size:
            flag[k] = True
            first[k] = p + offset + hit[0]
    return flag, first


def _event_frame(series: SessionSeries, ev: dict[str, np.ndarray], crit: Criteria,
                 change_at: tuple[int, int], reversal_offset: int) -> pd.DataFrame:
    """One row per interval whose criteria are all met."""
    rows, cols = np.nonzero(ev["met"] == 1)
    pos = ev["positions"][cols]
    around = ev["around"][rows, cols]
    improvement = ev["change"][rows, cols]
    magnitude = improvement if crit.kind == "gain" else -improvement
    d = crit.direction
    x_n, x_next = around[:, 2], around[:, 3]
    # the reversal value lies half the magnitude back towards x_N
    toward_n = d if crit.kind == "gain" else -d
    reversal_value = x_next + toward_n * magnitude / 2
    rev, rev_pos = _reversals(series.values, rows, pos, reversal_value, d, crit.kind,
                              reversal_offset)
    start, end = change_at
    total = d * (series.values[rows, start] - series.values[rows, end])
    with np.errstate(divide="ignore", invalid="ignore"):
        proportion = magnitude / total
        shift = d * (ev["mean_pre"][rows, cols] - ev["mean_post"][rows, cols])
        if crit.kind == "loss":
            shift = -shift
        t_value = shift / ev["pooled_sd"][rows, cols]
    out = pd.DataFrame({"patient": series.patients.to_numpy()[rows],
                        "session": series.sessions[pos],
                        "next_session": series.sessions[pos + 1],
                        "magnitude": magnitude,
                        "change": x_next - x_n})
    for k, name in enumerate(_SCORE_COLUMNS):
        out[name] = around[:, k]
    for k in (1, 2, 3):
        out[f"crit{k}"] = _nullable_bool(ev[f"crit{k}"][rows, cols])
    out["relative_change"] = magnitude / x_n
    out["mean_pre"] = ev["mean_pre"][rows, cols]
    out["mean_post"] = ev["mean_post"][rows, cols]
    out["pooled_sd"] = ev["pooled_sd"][rows, cols]
    out["n_pre"] = ev["n_pre"][rows, cols]
    out["n_post"] = ev["n_post"][rows, cols]
    out["window_difference"] = t_value
    out["critical_value"] = ev["critical_value"][rows, cols]
    out["total_change"] = total
    out["change_proportion"] = proportion
    out["reversal_value"] = reversal_value
    out["reversal"] = rev
    at = pd.Series(series.sessions[np.maximum(rev_pos, 0)]) if rows.size else pd.Series([])
    out["reversal_session"] = at.where(rev).astype("Int64").array
    return out  # rows come patient by patient, sessions ascending (np.nonzero order)


def _nullable_bool(values: np.ndarray) -> pd.arrays.BooleanArray:
    """1 / 0 / NaN as a nullable boolean array (NaN = could not be evaluated or not applied)."""
    flat = np.asarray(values, dtype=float).ravel()
    out = pd.array(flat == 1, dtype="boolean")
    out[np.isnan(flat)] = pd.NA
    return out


def _interval_frame(series: SessionSeries, ev: dict[str, np.ndarray]) -> pd.DataFrame:
    n_pat, n_int = ev["met"].shape
    pos = np.tile(ev["positions"], n_pat)
    out = pd.DataFrame({"patient": np.repeat(series.patients.to_numpy(), n_int),
                        "session": series.sessions[pos],
                        "next_session": series.sessions[pos + 1] if n_int else pos,
                        "score_n": ev["around"][:, :, 2].ravel(),
                        "score_post1": ev["around"][:, :, 3].ravel()})
    for name in ("n_pre", "n_post", "mean_pre", "mean_post", "pooled_sd", "critical_value"):
        out[name] = ev[name].ravel()
    for name in ("crit1", "crit2", "crit3", "met"):
        out[name] = _nullable_bool(ev[name])
    out["evaluable"] = ev["evaluable"].ravel()
    return out


def _search(kind: str, data: Any, score: str, args: dict[str, Any]) -> SuddenChangeResult:
    fn = "sudden_gains" if kind == "gain" else "sudden_losses"
    crit = _criteria(kind, args["cutoff"], args["pct"], args["crit3"], args["crit3_adjust"],
                     args["alpha"], args["critical_value"], args["rule"],
                     args["higher_is_better"])
    baseline = check_bool("first_is_baseline", args["first_is_baseline"])
    series = session_series(data, score, patient=args["patient"], session=args["session"],
                            wide_pattern=args["wide_pattern"], sessions=args["sessions"],
                            function=fn)
    n_ses = series.sessions.size
    change_at = (_change_position(series, args["change_from"], 0, "change_from"),
                 _change_position(series, args["change_to"], n_ses - 1, "change_to"))
    ev = evaluate(series.values, crit, first=1 if baseline else 0)
    # suddengains 0.7.2 (create_bysg, default mode) starts the reversal check at N+3
    offset = 3 if crit.rule == "suddengains" else 2
    events = _event_frame(series, ev, crit, change_at, offset)
    settings = {k: v for k, v in args.items() if k not in ("data",)}
    settings.update(kind=kind, score=score, cutoff=crit.cutoff, reversal_from=f"N+{offset}",
                    change_from=int(series.sessions[change_at[0]]),
                    change_to=int(series.sessions[change_at[1]]))
    return SuddenChangeResult(events, _interval_frame(series, ev), series, settings)


_SHARED_DOC = """
    Parameters
    ----------
    data : DataFrame or SessionData
        Long data (one row per patient-session), or wide data (one row per patient) when
        ``wide_pattern`` is given.
    score : str
        The symptom (or other) score: a column of long data, or the variable stem of wide
        data (``"bdi"`` for ``bdi_s0 ... bdi_s12``).
    patient, session : str
        Patient ID column and, for long data, the session-number column.
    cutoff : float, RciCutoff or None
        Criterion 1: the change from N to N+1 must be at least this large (positive, in score
        points; Tang & DeRubeis used 7 BDI points; :func:`rci_cutoff` gives the reliable
        change). ``None`` does not apply criterion 1.
    pct : float or None, default 0.25
        Criterion 2: the change must be at least this proportion of the score at N.
    crit3 : bool, default True
        Criterion 3: the mean of N-2..N and the mean of N+1..N+3 must differ by more than the
        critical t value times their pooled standard deviation (each window needs at least
        two scores, else the interval cannot be judged).
    crit3_adjust : bool, default True
        Critical value ``|t_{alpha/2}(n_pre + n_post - 2)|`` from the scores present (2.776,
        3.182 or 4.303 at alpha .05; Lutz et al. 2013); ``False`` uses ``critical_value``.
    alpha : float, default 0.05
        Two-sided level of the critical value.
    critical_value : float, default 2.776
        Critical value used for every interval when ``crit3_adjust=False``.
    first_is_baseline : bool, default True
        The first session of the grid is a baseline: it enters the pre-event window of the
        next interval but is never the pre-event session N (as in suddengains). ``False``
        also examines the interval from the first to the second session.
    rule : {"suddengains", "symmetric"}
        See Notes.
    higher_is_better : bool, default False
        ``False`` for symptom scores (a gain is a drop); ``True`` for scales where higher is
        better, such as alliance (a gain is a rise).
    sessions : int or (int, int), optional
        Inclusive range of session numbers searched (e.g. ``(1, 12)`` to leave out an intake
        assessment at session 0); default all.
    wide_pattern : str or re.Pattern, optional
        Wide column names, e.g. ``"{var}_s{session}"``; setting it means the data are wide.
    change_from, change_to : int, optional
        Sessions between which the total change (for ``change_proportion``) is taken;
        default the first and the last session of the grid (suddengains' ``tx_start_var_name``
        and ``tx_end_var_name``).

    Returns
    -------
    SuddenChangeResult
        ``.events`` has one row per event: ``patient``, ``session`` (the pre-event session N),
        ``next_session`` (N+1), ``magnitude`` (size of the change, positive), ``change``
        (``x_{N+1} - x_N``), ``score_pre2 ... score_post3`` (scores at N-2 ... N+3),
        ``crit1 ... crit3`` (criteria met; missing when not applied), ``relative_change``
        (``magnitude / x_N``, criterion 2's value), ``mean_pre``, ``mean_post``,
        ``pooled_sd``, ``n_pre``, ``n_post``, ``window_difference`` (mean difference in pooled
        SDs, criterion 3's value), ``critical_value``, ``total_change`` (improvement from
        ``change_from`` to ``change_to``), ``change_proportion`` (``magnitude /
        total_change``; infinite when the total change is 0), ``reversal_value``, ``reversal``
        and ``reversal_session``. ``.intervals``, ``.by_patient()``, ``.describe()`` and
        ``.count_intervals()`` give the rest; ``len(result)`` is the number of events.
"""


def sudden_gains(
    data: Any,
    score: str,
    *,
    patient: str = "patient",
    session: str = "session",
    cutoff: float | RciCutoff | None,
    pct: float | None = 0.25,
    crit3: bool = True,
    crit3_adjust: bool = True,
    alpha: float = 0.05,
    critical_value: float = 2.776,
    first_is_baseline: bool = True,
    rule: str = "suddengains",
    higher_is_better: bool = False,
    sessions: int | tuple[int, int] | None = None,
    wide_pattern: str | re.Pattern | None = None,
    change_from: int | None = None,
    change_to: int | None = None,
) -> SuddenChangeResult:
    """Find sudden gains: large, stable improvements between consecutive sessions.
    {shared}
    Notes
    -----
    An interval N -> N+1 is a sudden gain when every applied criterion holds (Tang &
    DeRubeis 1999): (1) ``x_N - x_{{N+1}} >= cutoff``; (2) ``x_N - x_{{N+1}} >= pct * x_N``;
    (3) ``mean(x_{{N-2..N}}) - mean(x_{{N+1..N+3}}) > t_crit * s_pooled``. A missing score in
    an applied criterion leaves the interval undecided (not a gain), as in suddengains.
    Intervals examined: N from the second session of the grid (the first with
    ``first_is_baseline=False``) to the third-to-last, so the post-event window can hold
    two scores. Session numbers come from the data: a missed session is a gap (missing
    score), never a shift of later sessions.

    Reversal: a gain is reversed when a later score is worse than ``x_{{N+1}} + magnitude /
    2``. Tang & DeRubeis and the suddengains documentation check from session N+2;
    suddengains 0.7.2's ``create_bysg`` in its default mode in fact starts at N+3 (an
    off-by-one in its session numbering). ``rule="suddengains"`` (the default here)
    reproduces the package, ``rule="symmetric"`` checks from N+2.

    Validated against suddengains 0.7.2 (exact counts and values; no tolerance needed beyond
    floating point): its example data ``sgdata`` (``read_sample("sgdata")``) with cut-off 7
    give 24 gains in 15 of 43 patients, 3, 8, 1, 3, 1, 2, 5, 1, 0 gains in the intervals
    2-3 ... 10-11, 4 reversals, magnitude mean 11 (SD 3.43); 26 gains without the missing-
    data adjustment; 29 with the reliable-change cut-off 4.65703; and the package's testthat
    tables (events, per-patient selections, interval counts) are reproduced cell by cell.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({{"patient": "a", "session": range(1, 7),
    ...                   "bdi": [35.0, 37, 34, 23, 24, 21]}})
    >>> sg = sudden_gains(d, "bdi", cutoff=7)
    >>> sg.events[["patient", "session", "next_session", "magnitude"]]
      patient  session  next_session  magnitude
    0       a        3             4       11.0
    """
    return _search("gain", data, score, dict(locals()))


def sudden_losses(
    data: Any,
    score: str,
    *,
    patient: str = "patient",
    session: str = "session",
    cutoff: float | RciCutoff | None,
    pct: float | None = 0.25,
    crit3: bool = True,
    crit3_adjust: bool = True,
    alpha: float = 0.05,
    critical_value: float = 2.776,
    first_is_baseline: bool = True,
    rule: str = "symmetric",
    higher_is_better: bool = False,
    sessions: int | tuple[int, int] | None = None,
    wide_pattern: str | re.Pattern | None = None,
    change_from: int | None = None,
    change_to: int | None = None,
) -> SuddenChangeResult:
    """Find sudden losses: large, stable worsenings between consecutive sessions.
    {shared}
    Notes
    -----
    The mirror image of :func:`sudden_gains` (Lutz et al. 2013): with lower scores better, (1)
    ``x_{{N+1}} - x_N >= cutoff``; (2) ``x_{{N+1}} - x_N >= pct * x_N``; (3)
    ``mean(x_{{N+1..N+3}}) - mean(x_{{N-2..N}}) > t_crit * s_pooled``. ``magnitude`` is the
    size of the worsening (positive); a loss is reversed when a later score is better than
    ``x_{{N+1}} - magnitude / 2``.

    ``rule="symmetric"`` (the default) uses these rules. ``rule="suddengains"`` reproduces
    suddengains 0.7.2's ``identify_sl``, whose criterion 2 tests ``x_N - x_{{N+1}} <= pct *
    x_N`` and so holds for almost any worsening (on ``sgdata`` for 260 of 304 intervals), and
    starts the reversal check at N+3. In both rules "largest" in ``by_patient`` is the largest
    worsening (the package picks the smallest, as it stores losses as negative magnitudes).

    Validated against suddengains 0.7.2: on ``sgdata`` with cut-off 7 (the package's -7) and
    ``rule="suddengains"``, 3 losses in 3 patients; the package's testthat cases for
    ``identify_sl`` give the same intervals.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({{"patient": "a", "session": range(1, 7),
    ...                   "bdi": [10.0, 11, 12, 30, 28, 33]}})
    >>> sudden_losses(d, "bdi", cutoff=7).events[["session", "magnitude"]]
       session  magnitude
    0        3       18.0
    """
    return _search("loss", data, score, dict(locals()))


sudden_gains.__doc__ = sudden_gains.__doc__.format(shared=_SHARED_DOC)
sudden_losses.__doc__ = sudden_losses.__doc__.format(shared=_SHARED_DOC)
