"""Session-by-session feedback table: :func:`monitor`.

One row per patient-session with the expected score and tolerance band
(:class:`~alliancestats.monitoring.ExpectedResponse`), the outcome signal (white / green /
yellow / red, :mod:`.signals`) and the alliance alerts (:mod:`.alerts`). The rules and
thresholds are arguments; the table carries them in ``.attrs["rules"]`` and every signal and
alert row says in words why it fired.

Examples
--------
>>> import alliancestats as als
>>> d = als.read_sample("psychotherapy_cohort")
>>> er = als.expected_response(d[d["patient"] <= "P165"], "symptoms")
>>> m = als.monitor(d[d["patient"] > "P165"], er, rci=14, wai="wai_sr")
>>> m["signal"].value_counts().index.tolist()
['green', 'yellow', 'red', 'white']
>>> m.attrs["rules"]["signal"].tolist()[:4]
['white', 'green', 'yellow', 'red']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import as_frame, check_level, column_names, require_columns
from alliancestats.errors import ParameterError
from alliancestats.monitoring.alerts import alliance_alerts
from alliancestats.monitoring.expected import ExpectedResponse
from alliancestats.monitoring.signals import SignalRules, classify, outcome_rules

__all__ = ["monitor"]

_NO_SIGNAL = {"no intake": "no intake (no score, or an intake variable missing)",
              "before intake": "before the intake session"}


def _quiet_reasons(frame: pd.DataFrame, reasons: list[Any], intake_row: np.ndarray) -> list[Any]:
    """Why rows without a signal have none."""
    out = list(reasons)
    phase = frame["phase"].to_numpy()
    score = frame["score"].to_numpy(dtype=float)
    for i, r in enumerate(out):
        if r is not None:
            continue
        if phase[i] in _NO_SIGNAL:
            out[i] = _NO_SIGNAL[phase[i]]
        elif intake_row[i]:
            out[i] = "intake: the start of the expected curve"
        elif np.isnan(score[i]):
            out[i] = "no score at this session"
    return out


def _outcome_table(frame: pd.DataFrame, model: ExpectedResponse, rules: SignalRules
                   ) -> pd.DataFrame:
    """Scores, expectation, band and signal, with the user's column names."""
    intake_row = (frame["phase"] == "intake").to_numpy() & model.intake.first_score
    signal, reasons, worse_by, improved = classify(frame, rules, intake_row=intake_row)
    side = "band_high" if rules.sign > 0 else "band_low"
    table = pd.DataFrame({
        model.patient: frame["patient"], model.session: frame["session"], "t": frame["t"],
        model.outcome: frame["score"], **{n: frame[n] for n in model.intake.names
                                          if n != model.outcome},
        "baseline": frame["baseline"], "phase": frame["phase"],
        "expected": frame["expected"], "sd": frame["sd"], "band_low": frame["band_low"],
        "band_high": frame["band_high"], "bound": frame[side], "n_prior": frame["n_prior"],
        "deviation": worse_by, "z": worse_by / frame["sd"].to_numpy(dtype=float),
        "change": np.where(frame["score"].notna(), improved, np.nan),
    }, index=frame.index)
    table["signal"] = signal
    table["signal_reason"] = pd.array(_quiet_reasons(frame, reasons, intake_row), dtype="string")
    return table


def monitor(
    data: Any,
    model: ExpectedResponse,
    *,
    cutoff: float | None = None,
    rci: float | None = None,
    direction: str | None = None,
    instrument: Any = None,
    cutoff_rule: str | None = None,
    level: float | None = None,
    yellow: float = 0.5,
    update: bool = False,
    srs: str | None = None,
    srs_cutoff: float | None = None,
    srs_rule: str | None = None,
    wai: str | None = None,
    wai_rci: float | None = None,
    wai_reliability: float = 0.92,
    wai_drop_from: str = "previous",
    rupture_method: str | None = "gumz2012",
    rupture_alliance: str | None = None,
    rupture_options: dict[str, Any] | None = None,
    keep: str | list[str] | None = None,
) -> pd.DataFrame:
    """Feedback signal and alliance alerts at every session of every patient.

    Parameters
    ----------
    data : DataFrame or SessionData
        Long session data of the patients to monitor, with the model's outcome, patient and
        session columns (sessions so far, or complete courses for a retrospective check).
    model : ExpectedResponse
        Expected-recovery curves from :func:`alliancestats.expected_response`.
    cutoff : float, optional
        Clinical cut-off of the outcome (default: the instrument's). Needed for white.
    rci : float, optional
        Reliable change index in score points (default: the instrument's, e.g. 14 for the
        OQ-45, 5 for the ORS). Needed for white.
    direction : {"lower_is_better", "higher_is_better"}, optional
        Default: the instrument's direction, else ``"lower_is_better"`` (symptom scales).
    instrument : str or Instrument, optional
        Registry entry whose cut-off, cut-off rule, RCI and direction are the defaults
        (``"oq45"``, ``"ors"``, ...); values marked unverified there are named so in the rules.
    cutoff_rule : {"<", "<=", ">", ">="}, optional
        How a score compares with ``cutoff`` to lie in the clinical range (default: the
        instrument's, else ``">="`` when lower is better and ``"<"`` otherwise).
    level : float, optional
        One-sided level of the tolerance band (default: the model's).
    yellow : float, default 0.5
        Share of the distance from the expected score to the bound beyond which a worse
        score is yellow.
    update : bool, default False
        Update each expectation by the patient's earlier scores (empirical Bayes); the
        default compares with the curve from intake, as the expected-treatment-response
        charts do.
    srs : str, optional
        Column of the Session Rating Scale total; alerts when ``srs <srs_rule> srs_cutoff``.
    srs_cutoff : float, optional
        Default 36 (Duncan et al. 2003).
    srs_rule : {"<", "<="}, optional
        Default ``"<"``; sources differ, so say which you use.
    wai : str, optional
        Column of a Working Alliance Inventory score; alerts on a drop of at least the
        reliable change.
    wai_rci : float, optional
        Reliable change of the WAI score; default from the SD of the patients' first WAI
        scores (reference cohort if it has the column, else the monitored data) and
        ``wai_reliability``.
    wai_reliability : float, default 0.92
        Reliability for the WAI reliable change (modal alpha of the WAI; Hanson, Curry &
        Bandalos 2002, Educ Psychol Meas 62(4)).
    wai_drop_from : {"previous", "first"}, default "previous"
        Drop since the previous WAI rating or since the patient's first.
    rupture_method : str or None, default "gumz2012"
        Rupture rule of :func:`alliancestats.ruptures` applied to the sessions so far (None:
        no rupture alerts). The SD-based rules use a fixed SD (all alliance scores of the
        reference, else of the monitored data) unless ``rupture_options`` gives ``sd``.
    rupture_alliance : str, optional
        Alliance column for ruptures (default ``wai``, else ``srs``).
    rupture_options : dict, optional
        Other keyword arguments of :func:`alliancestats.ruptures` (``repair_window``,
        ``reliability``, ``sd``, ...).
    keep : str or list of str, optional
        Columns of ``data`` copied into the table (e.g. therapist).

    Returns
    -------
    pandas.DataFrame
        Indexed like ``data``. Columns: patient, session (the model's names), ``t``
        (sessions since intake), the outcome, the intake variables, ``baseline`` (first
        score), ``phase``, ``expected``, ``sd``, ``band_low``, ``band_high``, ``bound`` (the
        band's worse side), ``n_prior``, ``deviation`` (how much worse than expected; negative
        = better), ``z`` (deviation / sd), ``change`` (improvement since intake), ``signal``
        (categorical white < green < yellow < red; missing at intake and without a score),
        ``signal_reason``; with alliance columns also the alliance scores,
        ``srs_alert``, ``wai_drop``, ``wai_drop_alert``, ``rupture_status``,
        ``rupture_session``, ``rupture_alert``, ``alliance_alert`` and ``alert_reason``.
        ``.attrs`` holds ``rules`` (one row per signal and alert: the condition with its
        numbers), the thresholds, ``direction``, ``update`` and the column names.

    Notes
    -----
    Signals follow Lambert's feedback system (Finch, Lambert & Schaalje 2001; Lambert et al.
    2001, Psychother Res 11(1)) as re-implemented here; see :mod:`alliancestats.monitoring`
    and the user guide page "Session-by-session feedback". White needs a cut-off and an RCI;
    without them it is not assigned and the rules table says so. No reference software
    exists (the published systems are proprietary), so the signals are validated by an
    independent re-computation of the rules with pandas and on simulated cohorts with
    planted non-responders and ruptures (flagging rates with known truth; band coverage of
    on-track patients at the nominal level), as described in the user guide.

    Examples
    --------
    >>> import alliancestats as als
    >>> d = als.read_sample("psychotherapy_cohort")
    >>> er = als.expected_response(d[d["patient"] <= "P165"], "symptoms")
    >>> m = als.monitor(d[d["patient"] > "P165"], er, rci=14, cutoff=63)
    >>> m.loc[m["signal"] == "red", "signal_reason"].iloc[0][:4]
    'red:'
    """
    if not isinstance(model, ExpectedResponse):
        raise ParameterError("monitor() needs the model from expected_response(), got "
                             f"{type(model).__name__}")
    frame = as_frame(data, "monitor")
    level = model.level if level is None else check_level(level)
    rules = outcome_rules(instrument=instrument, direction=direction, cutoff=cutoff,
                          cutoff_rule=cutoff_rule, rci=rci, level=level, yellow=yellow,
                          update=update)
    kept = [] if keep is None else column_names(keep, "keep")
    alliance_cols = [c for c in dict.fromkeys([srs, wai, rupture_alliance]) if c is not None]
    require_columns(frame, kept + alliance_cols, "monitor")
    predicted = model.predict(frame, update=update, level=level)
    table = _outcome_table(predicted, model, rules)
    for column in kept + alliance_cols:
        if column not in table:
            table[column] = frame[column]
    alerts, alert_rules = alliance_alerts(
        frame, patient=model.patient, session=model.session, srs=srs, srs_cutoff=srs_cutoff,
        srs_rule=srs_rule, wai=wai, wai_rci=wai_rci, wai_reliability=wai_reliability,
        wai_drop_from=wai_drop_from, rupture_method=rupture_method,
        rupture_alliance=rupture_alliance, rupture_options=rupture_options,
        reference=model.reference_data)
    table = table.join(alerts)
    rule_table = pd.concat([rules.table(), pd.DataFrame(alert_rules, columns=["signal",
                                                                              "condition"])],
                           ignore_index=True)
    table.attrs.update(
        rules=rule_table, outcome=model.outcome, patient=model.patient, session=model.session,
        direction=rules.direction, level=level, yellow=rules.yellow, cutoff=rules.cutoff,
        cutoff_rule=rules.cutoff_rule, rci=rules.rci, update=rules.update,
        alliance={"srs": srs, "wai": wai,
                  "rupture": (rupture_alliance or wai or srs) if rupture_method else None},
    )
    return table
