"""Alliance alerts for session-by-session feedback.

Three alerts sit next to the outcome signal in :func:`alliancestats.monitor`:

* **SRS below the cut-off** -- the Session Rating Scale total under 36 (Duncan et al. 2003,
  J Brief Ther 3(1)); published descriptions differ on ``<`` and ``<=``, so the comparison is
  an argument and is written in every alert;
* **WAI drop** -- the alliance fell by at least the reliable change (Jacobson & Truax 1991)
  since the previous rating (or since the first);
* **rupture** -- a rupture found by one of the published detectors of
  :func:`alliancestats.ruptures` on the sessions seen *so far*: at session ``k`` only
  sessions up to ``k`` are used, as a clinician would see them. A rupture is ``new`` at the
  session it is first found, ``open`` while its repair window runs, then ``repaired`` (at the
  repair session) or ``unrepaired`` (at the session the window closes).

Examples
--------
>>> import pandas as pd
>>> d = pd.DataFrame({"patient": "a", "session": range(1, 7),
...                   "srs": [38.0, 37.0, 33.0, 36.0, 38.0, 39.0]})
>>> a, rules = alliance_alerts(d, patient="patient", session="session", srs="srs")
>>> a["srs_alert"].tolist()
[False, False, True, False, False, False]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats._format import format_number
from alliancestats._validation import check_choice, check_positive, numeric_column
from alliancestats.alliance import rci_cutoff, ruptures
from alliancestats.errors import DataValidationError
from alliancestats.instruments import get_instrument
from alliancestats.instruments.instrument import CUTOFF_RULES
from alliancestats.monitoring.signals import compare

__all__ = ["ALERT_COLUMNS", "RUPTURE_STATES", "alliance_alerts", "rupture_states"]

#: Columns the alerts add (those of alerts not requested are left out).
ALERT_COLUMNS = ("srs_alert", "wai_drop", "wai_drop_alert", "rupture_status",
                 "rupture_session", "rupture_alert", "alliance_alert", "alert_reason")
#: States of a rupture at a session, as seen with the sessions so far.
RUPTURE_STATES = ("new", "open", "repaired", "unrepaired")
_RANK = {"new": 0, "open": 1, "unrepaired": 2, "repaired": 3}


def _state(status: str, previous: str | None, repair: Any, k: int) -> str | None:
    """The state of one rupture at session ``k`` given its status on sessions up to ``k``."""
    if status == "open":
        return "new" if previous is None else "open"
    if status == "repaired" and not pd.isna(repair) and int(repair) == k:
        return "repaired"
    if status == "unrepaired" and previous in (None, "open"):
        return "unrepaired"
    return None


def rupture_states(data: pd.DataFrame, alliance: str, *, patient: str, session: str,
                   method: str, options: dict[str, Any]) -> pd.DataFrame:
    """Rupture state at every patient-session, using only the sessions up to it.

    Returns a frame with columns ``patient, session, rupture_status, rupture_session`` (the
    trough session of the rupture the state belongs to), one row per patient-session with a
    state.
    """
    d = data[[patient, session, alliance]]
    last: dict[tuple, str] = {}
    found: dict[tuple, tuple[str, int]] = {}
    for k in np.sort(d[session].unique()):
        at_k = d.loc[d[session] == k, patient].unique()
        sub = d[(d[session] <= k) & d[patient].isin(at_k)]
        events = ruptures(sub, alliance, method=method, patient=patient, session=session,
                          **options)
        events = events[events["event"] == "rupture"]
        for e in events.itertuples(index=False):
            key = (e.patient, int(e.start_session))
            state = _state(e.status, last.get(key), e.repair_session, int(k))
            last[key] = e.status
            here = (e.patient, int(k))
            if state is not None and (here not in found
                                      or _RANK[state] < _RANK[found[here][0]]):
                found[here] = (state, int(e.trough_session))
    rows = [(p, k, s, t) for (p, k), (s, t) in found.items()]
    out = pd.DataFrame(rows, columns=["patient", "session", "rupture_status", "rupture_session"])
    return out.astype({"rupture_session": "int64"})


def _wai_threshold(data: pd.DataFrame, reference: pd.DataFrame | None, wai: str, *,
                   patient: str, session: str, wai_rci: Any, reliability: float
                   ) -> tuple[float, str]:
    if wai_rci is not None:
        value = float(check_positive("wai_rci", wai_rci))
        return value, f"reliable change {format_number(value, 3)} (given)"
    source = reference if reference is not None and wai in reference.columns else data
    where = "reference" if source is reference else "monitored data"
    ordered = source.sort_values([patient, session])
    first = ordered.dropna(subset=[wai]).groupby(patient, sort=False)[wai].first()
    rc = rci_cutoff(first.to_numpy(dtype=float), reliability)
    return rc.value, (f"reliable change {format_number(rc.value, 3)} (SD of first scores in the "
                      f"{where} {format_number(rc.sd, 3)}, reliability {reliability:g})")


def _wai_drop(data: pd.DataFrame, wai: str, *, patient: str, session: str,
              drop_from: str) -> np.ndarray:
    values = numeric_column(data, wai, "monitor")
    order = np.lexsort((data[session].to_numpy(), pd.factorize(data[patient])[0]))
    v = values.iloc[order]
    groups = data[patient].iloc[order]
    if drop_from == "previous":
        before = v.groupby(groups, sort=False).transform(lambda s: s.ffill().shift(1))
    else:
        before = v.groupby(groups, sort=False).transform(
            lambda s: s.where(s.index == s.first_valid_index()).ffill().shift(1))
    return (before - v).reindex(data.index).to_numpy(dtype=float)


def _rupture_columns(data, alliance, *, patient, session, method, options, reference):
    """Rupture state columns aligned with ``data`` and the rule in words."""
    opts = dict(options or {})
    note = ""
    if "sd" not in opts and method in ("gumz2012", "stiles2004", "strauss2006"):
        source = reference if reference is not None and alliance in reference.columns else data
        scores = numeric_column(source, alliance, "monitor").dropna()
        if len(scores) < 2:
            raise DataValidationError(f"monitor(): too few {alliance!r} scores for a rupture SD")
        opts["sd"] = float(scores.std(ddof=1))
        where = "reference" if source is reference else "monitored data"
        note = f", SD {format_number(opts['sd'], 3)} of all {alliance} scores in the {where}"
    states = rupture_states(data, alliance, patient=patient, session=session, method=method,
                            options=opts)
    key = pd.MultiIndex.from_frame(data[[patient, session]])
    states = states.set_index(["patient", "session"]).reindex(key)
    status = pd.array(states["rupture_status"].to_numpy(dtype=object), dtype="string")
    trough = pd.array(states["rupture_session"].to_numpy(dtype=float), dtype="Float64")
    return status, trough.astype("Int64"), f"rupture ({method}{note}), sessions so far only"


def alliance_alerts(
    data: pd.DataFrame,
    *,
    patient: str,
    session: str,
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
    reference: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Alliance alert columns aligned with ``data`` and the rules used, as (name, condition).

    See :func:`alliancestats.monitor` for the arguments.
    """
    out = pd.DataFrame(index=data.index)
    reasons = [[] for _ in range(len(data))]
    rules: list[tuple[str, str]] = []
    if srs is not None:
        registry = get_instrument("srs")
        cut = float(registry.cutoff if srs_cutoff is None else srs_cutoff)
        rule = check_choice("srs_rule", registry.cutoff_rule if srs_rule is None else srs_rule,
                            CUTOFF_RULES)
        values = numeric_column(data, srs, "monitor").to_numpy()
        out["srs_alert"] = compare(values, cut, rule)
        source = "given" if srs_cutoff is not None else registry.cutoff_source
        rules.append(("srs_alert", f"{srs} {rule} {format_number(cut, 1)} ({source})"))
        for i in np.flatnonzero(out["srs_alert"].to_numpy()):
            reasons[i].append(f"SRS {format_number(values[i], 1)} {rule} {format_number(cut, 1)}")
    if wai is not None:
        check_choice("wai_drop_from", wai_drop_from, ("previous", "first"))
        threshold, text = _wai_threshold(data, reference, wai, patient=patient, session=session,
                                         wai_rci=wai_rci, reliability=wai_reliability)
        out["wai_drop"] = _wai_drop(data, wai, patient=patient, session=session,
                                    drop_from=wai_drop_from)
        with np.errstate(invalid="ignore"):
            out["wai_drop_alert"] = out["wai_drop"].to_numpy() >= threshold
        rules.append(("wai_drop_alert", f"{wai} fell since the {wai_drop_from} rating by at least "
                                        f"the {text}"))
        for i in np.flatnonzero(out["wai_drop_alert"].to_numpy()):
            reasons[i].append(f"{wai} down {format_number(out['wai_drop'].iloc[i], 2)}")
    alliance = rupture_alliance or wai or srs
    if rupture_method is not None and alliance is not None:
        status, trough, text = _rupture_columns(
            data, alliance, patient=patient, session=session, method=rupture_method,
            options=rupture_options, reference=reference)
        out["rupture_status"], out["rupture_session"] = status, trough
        out["rupture_alert"] = pd.Series(status).isin(["new", "open", "unrepaired"]).to_numpy()
        rules.append(("rupture_alert", f"{text}: alert while new, open or just unrepaired"))
        for i in np.flatnonzero(out["rupture_alert"].to_numpy()):
            reasons[i].append(f"rupture {status[i]} (trough at session {trough[i]})")
    flags = [c for c in ("srs_alert", "wai_drop_alert", "rupture_alert") if c in out]
    if flags:
        out["alliance_alert"] = out[flags].any(axis=1).to_numpy()
        out["alert_reason"] = pd.array(["; ".join(r) if r else None for r in reasons],
                                       dtype="string")
    return out, rules
