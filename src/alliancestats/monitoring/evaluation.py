"""How well early signals predict the end of treatment: :func:`evaluate_signals`.

Lutz et al. (2006, Clin Psychol Psychother 13) judged expected-recovery curves by how well a
not-on-track signal early in treatment predicted treatment failure, and compared them with a
*rational* rule that needs no reference data (a patient is flagged when worse than at intake
by at least the reliable change). :func:`evaluate_signals` computes the same comparison from a
:func:`alliancestats.monitor` table: at session ``k``, the red signal (empirical rule) and the
rational rule against final non-response or deterioration, with sensitivity, specificity,
PPV, NPV and the AUC of the continuous score behind each rule, all with confidence intervals.

Examples
--------
>>> import alliancestats as als
>>> d = als.read_sample("psychotherapy_cohort")
>>> er = als.expected_response(d[d["patient"] <= "P165"], "symptoms")
>>> m = als.monitor(d[d["patient"] > "P165"], er, rci=14)
>>> ev = als.evaluate_signals(m, session=4)
>>> ev["rule"].tolist()
['empirical', 'rational']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._format import format_number
from alliancestats._validation import check_bool, check_choice, check_int, check_level
from alliancestats.errors import ParameterError
from alliancestats.monitoring.accuracy import accuracy_table

__all__ = ["CRITERIA", "evaluate_signals"]

#: Definitions of final treatment failure computed from the table.
CRITERIA = ("nonresponse", "deterioration")


def _final_outcome(table: pd.DataFrame, patient: str, session: str, criterion: str,
                   rci: float) -> tuple[pd.Series, pd.Series, str]:
    """Failure per patient from the last scored session, that session, and the definition."""
    scored = table[table["phase"].eq("treatment") & table["change"].notna()]
    last = scored.sort_values(session).groupby(patient, sort=False).tail(1).set_index(patient)
    change = last["change"]
    if criterion == "nonresponse":
        failed = change < rci
        text = f"non-response: improved by less than the RCI {format_number(rci, 2)} at the last score"
    else:
        failed = change <= -rci
        text = f"deterioration: worse than intake by at least the RCI {format_number(rci, 2)} at the last score"
    return failed, last[session], text


def _given_truth(truth: Any, table: pd.DataFrame, patient: str) -> pd.Series:
    if isinstance(truth, str):
        if truth not in table.columns:
            raise ParameterError(f"truth={truth!r} is not a column of the monitor table")
        per = table.groupby(patient, sort=False)[truth]
        if (per.nunique(dropna=False) > 1).any():
            raise ParameterError(f"truth column {truth!r} must be constant within each patient")
        return per.first().astype(bool)
    if isinstance(truth, Mapping | pd.Series):
        return pd.Series(dict(truth) if isinstance(truth, Mapping) else truth).astype(bool)
    raise ParameterError("truth must be a column name, a mapping or a Series of patient -> bool")


def _at_session(table: pd.DataFrame, patient: str, session: str, k: int, cumulative: bool
                ) -> pd.DataFrame:
    """Per patient with a signal at session k: red, rational flag and continuous scores."""
    rows = table[table["signal"].notna() & (table[session] <= k)]
    at_k = rows.loc[rows[session] == k, patient]
    rows = rows[rows[patient].isin(at_k)] if cumulative else rows[rows[session] == k]
    worse = -rows["change"]
    d = pd.DataFrame({patient: rows[patient], "red": rows["signal"].eq("red").to_numpy(),
                      "z": rows["z"], "worse": worse})
    return d.groupby(patient, sort=False).agg(red=("red", "any"), z=("z", "max"),
                                              worse=("worse", "max"))


def evaluate_signals(
    monitored: pd.DataFrame,
    *,
    session: int | Iterable[int],
    criterion: str = "nonresponse",
    truth: Any = None,
    cumulative: bool = False,
    rci: float | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Accuracy of red signals at session ``k`` for final failure, next to a rational rule.

    Parameters
    ----------
    monitored : pandas.DataFrame
        A :func:`alliancestats.monitor` table (complete courses, so the end is known).
    session : int or iterable of int
        Session number(s) ``k`` at which the signals are judged.
    criterion : {"nonresponse", "deterioration"}, default "nonresponse"
        Final failure computed from each patient's last score: not reliably improved since
        intake (improvement < RCI; includes deterioration), or reliably worse (worsening >=
        RCI). Only patients whose last score comes after session ``k`` are judged.
    truth : str, mapping or Series, optional
        Known failure per patient instead (a patient-level column of the table, or patient ->
        bool), e.g. planted non-responders in simulated data; then every patient with a
        signal at ``k`` is judged.
    cumulative : bool, default False
        Flag patients with a red signal at any session up to ``k`` (the rational rule: worse
        by the RCI at any session up to ``k``), instead of at ``k`` itself.
    rci : float, optional
        Reliable change index (default: the one the table was made with).
    level : float, default 0.95
        Confidence level of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per session and rule: ``session``, ``rule`` (``"empirical"``: red signal;
        ``"rational"``: worse than intake by at least the RCI), ``definition``, ``n``,
        ``n_failure``, ``tp``, ``fp``, ``fn``, ``tn``, ``sensitivity``, ``specificity``,
        ``ppv``, ``npv`` (each with ``_ci_low`` / ``_ci_high``), and ``auc``, ``auc_se``,
        ``auc_ci_low``, ``auc_ci_high`` for the continuous score behind the rule (``z``, the
        standardised distance from the expected score, and the worsening since intake).
        ``.attrs`` holds ``truth`` (the definition) and ``excluded`` (patients without a
        signal at ``k`` or without a later score).

    Notes
    -----
    Proportions have exact Clopper-Pearson intervals; the AUC has DeLong's variance with a
    normal interval clipped to [0, 1]. Validated against R 4.2.2: ``binom.test`` intervals
    and pROC 1.18.0 ``auc`` / ``ci.auc(method = "delong")`` to 1e-10. Lutz et al. (2006, Clin
    Psychol Psychother 13) made this comparison of empirical and rational rules.
    """
    if not isinstance(monitored, pd.DataFrame) or "rules" not in monitored.attrs:
        raise ParameterError("evaluate_signals() needs the table returned by monitor()")
    patient, sess = monitored.attrs["patient"], monitored.attrs["session"]
    sessions = [session] if isinstance(session, int | np.integer) else list(session)
    sessions = [check_int("session", int(k), minimum=None) for k in sessions]
    check_choice("criterion", criterion, CRITERIA)
    cumulative = check_bool("cumulative", cumulative)
    level = check_level(level)
    rci = monitored.attrs.get("rci") if rci is None else float(rci)
    if rci is None and truth is None:
        raise ParameterError("evaluate_signals() needs rci= (or a monitor table made with one) "
                             "to define final failure and the rational rule, or truth=")
    if truth is None:
        failed, last, text = _final_outcome(monitored, patient, sess, criterion, rci)
    else:
        failed, last, text = _given_truth(truth, monitored, patient), None, "given truth"
    rows, excluded = [], {}
    for k in sessions:
        flags = _at_session(monitored, patient, sess, k, cumulative)
        keep = flags.index.isin(failed.index)
        if last is not None:
            keep &= flags.index.isin(last.index[last > k])
        excluded[k] = int((~keep).sum())
        flags = flags[keep]
        truth_k = failed.reindex(flags.index).to_numpy(dtype=bool)
        when = f"by session {k}" if cumulative else f"at session {k}"
        rules = [("empirical", f"red signal {when}", flags["red"], flags["z"])]
        if rci is not None:
            rules.append(("rational", f"worse than intake by >= RCI {format_number(rci, 2)} {when}",
                          flags["worse"] >= rci, flags["worse"]))
        for name, definition, flagged, score in rules:
            acc = accuracy_table(truth_k, flagged.to_numpy(bool), score.to_numpy(float), level)
            rows.append({"session": k, "rule": name, "definition": definition, **acc})
    out = pd.DataFrame(rows)
    out.attrs.update(truth=text, excluded=excluded, level=level, cumulative=cumulative)
    return out
