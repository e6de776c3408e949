"""Generative models with known parameters: session-level cohorts and study-level tables.

Two simulators live here:

* :func:`simulate_sessions` draws therapists, their patients and the patients' sessions with
  alliance, pain, function, home-exercise adherence, attendance, dropout and missing values,
  every effect set by a documented argument. The result is a long DataFrame in the canonical
  layout (one row per patient-session) with the true parameters in ``df.attrs["truth"]``.
* :func:`simulate_studies` draws a study-level table of alliance-outcome correlations for
  meta-analysis (random effects on Fisher's z, optionally three-level).

Both are deterministic given ``seed`` (a :class:`numpy.random.Generator` is built from it).

Examples
--------
>>> from alliancestats.simulate import simulate_sessions
>>> df = simulate_sessions(n_therapists=3, patients_per_therapist=2, sessions=4, seed=1)
>>> df.shape[0] <= 3 * 2 * 4
True
>>> df.attrs["truth"]["alliance_mean"]
3.8
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from alliancestats._validation import (
    check_bool,
    check_choice,
    check_correlation,
    check_int,
    check_int_range,
    check_nonnegative,
    check_probability,
    check_real,
)
from alliancestats.errors import ParameterError

__all__ = ["WAI_SR_SUBSCALES", "simulate_sessions", "simulate_studies"]

#: WAI-SR subscales as 1-based item numbers (Hatcher & Gillaspy 2006).
WAI_SR_SUBSCALES: dict[str, tuple[int, ...]] = {
    "task": (1, 2, 10, 12),
    "goal": (4, 6, 8, 11),
    "bond": (3, 5, 7, 9),
}

_ITEM_SUBSCALE = np.empty(12, dtype=np.int64)
for _k, _items in enumerate(WAI_SR_SUBSCALES.values()):
    _ITEM_SUBSCALE[np.asarray(_items) - 1] = _k


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------
def _draw_range(rng: np.random.Generator, bounds: tuple[int, int], size: int) -> np.ndarray:
    lo, hi = bounds
    return rng.integers(lo, hi + 1, size=size)


def _within_group_counter(group_sizes: np.ndarray) -> np.ndarray:
    """1, 2, ..., size_g for every group, concatenated."""
    total = int(group_sizes.sum())
    starts = np.repeat(np.cumsum(group_sizes) - group_sizes, group_sizes)
    return np.arange(total) - starts + 1


def _ids(prefix: str, n: int) -> np.ndarray:
    width = max(2, len(str(n)))
    return np.array([f"{prefix}{i:0{width}d}" for i in range(1, n + 1)], dtype=object)


def _generator(seed: Any) -> np.random.Generator:
    """A Generator from an int seed (>= 0), None, or a Generator used as it is."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        check_int("seed", seed, minimum=0)
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------------------------
# item-level WAI-SR
# ----------------------------------------------------------------------------------------------
def _wai_sr_items(alliance: np.ndarray, item_sd: float, rng: np.random.Generator) -> np.ndarray:
    """Integer WAI-SR responses (1-5) whose mean equals round(12 * alliance) / 12.

    The alliance is clipped to 1-5 first; each item is the alliance plus a subscale deviation
    (SD ``item_sd / 2``) and an item deviation (SD ``item_sd``), rounded and clipped to 1-5, and
    the row total is then moved to ``round(12 * alliance)`` one point at a time on random items
    that have room, so the scored mean reproduces the alliance up to rounding (|error| <= 1/24).
    """
    m = alliance.shape[0]
    target = np.rint(12 * np.clip(alliance, 1, 5)).astype(np.int64)
    sub = rng.normal(0.0, item_sd / 2, size=(m, 3))[:, _ITEM_SUBSCALE]
    raw = alliance[:, None] + sub + rng.normal(0.0, item_sd, size=(m, 12))
    items = np.clip(np.rint(raw), 1, 5).astype(np.int64)
    diff = target - items.sum(axis=1)
    while np.any(diff != 0):
        rows = np.flatnonzero(diff != 0)
        step = np.sign(diff[rows])
        room = np.where(step[:, None] > 0, items[rows] < 5, items[rows] > 1)
        pick = np.where(room, rng.random((rows.size, 12)), -1.0).argmax(axis=1)
        items[rows, pick] += step
        diff[rows] -= step
    return items


# ----------------------------------------------------------------------------------------------
# session-level simulator: argument checks
# ----------------------------------------------------------------------------------------------
_SD_ARGS = (
    "alliance_sd_therapist", "alliance_sd_patient", "alliance_sd_growth", "alliance_sd_session",
    "pain_sd_therapist", "pain_sd_patient", "pain_sd_slope", "pain_sd_residual",
    "function_sd_therapist", "function_sd_patient", "function_sd_slope", "function_sd_residual",
    "adherence_sd_patient", "adherence_sd_therapist", "item_sd",
)
_REAL_ARGS = (
    "alliance_mean", "alliance_growth", "telehealth_alliance", "pain_intercept", "pain_slope",
    "pain_within", "pain_between", "pain_therapist_alliance", "function_intercept",
    "function_slope", "function_within", "function_between", "function_therapist_alliance",
    "arm_effect_pain", "arm_effect_function", "adherence_intercept", "adherence_alliance",
    "exercises_intercept", "exercises_alliance", "dropout_alliance", "sudden_gain_size",
    "nonresponder_change",
)
_RATE_ARGS = (
    "dropout_rate", "missed_session_rate", "missing_alliance_rate", "missing_outcome_rate",
)
_RATE_ARGS_TO_ONE = ("telehealth_rate", "sudden_gain_rate", "rupture_rate", "rupture_repair_rate",
                     "nonresponder_rate")


@dataclass(frozen=True)
class _SessionSpec:
    """Validated arguments of :func:`simulate_sessions` plus the derived integer ranges."""

    args: dict[str, Any]
    n_therapists: int
    loads: np.ndarray | None  # fixed caseloads, or None to draw them
    caseload_range: tuple[int, int] | None
    session_range: tuple[int, int]
    prescribed_range: tuple[int, int]
    start: pd.Timestamp

    def __getattr__(self, name: str) -> Any:  # the arguments read as attributes
        try:
            return self.__dict__.get("args", {})[name]
        except KeyError:
            raise AttributeError(name) from None


def _check_caseloads(caseloads: Any, n_therapists: int) -> np.ndarray:
    loads = np.asarray(caseloads)
    if loads.ndim != 1 or loads.size != n_therapists:
        raise ParameterError(
            f"caseloads must list one patient count per therapist ({n_therapists} values), "
            f"got {loads.size}"
        )
    for k, c in enumerate(caseloads):
        check_int(f"caseloads[{k}]", c)
    return loads.astype(np.int64)


def _check_session_args(args: dict[str, Any]) -> _SessionSpec:
    """Check every argument of :func:`simulate_sessions`; the message names the argument."""
    n_th = check_int("n_therapists", args["n_therapists"])
    loads = None if args["caseloads"] is None else _check_caseloads(args["caseloads"], n_th)
    ppt = None if loads is not None else check_int_range(
        "patients_per_therapist", args["patients_per_therapist"]
    )
    ses = check_int_range("sessions", args["sessions"])
    prescribed = check_int_range("exercises_prescribed", args["exercises_prescribed"])
    for name in _SD_ARGS:
        check_nonnegative(name, args[name], what="a standard deviation")
    for name in _REAL_ARGS:
        check_real(name, args[name])
    check_correlation("pain_corr", args["pain_corr"])
    check_correlation("function_corr", args["function_corr"])
    for name in _RATE_ARGS:
        check_probability(name, args[name])
    for name in _RATE_ARGS_TO_ONE:
        check_probability(name, args[name], allow_one=True)
    check_choice("exercises_family", args["exercises_family"], ("binomial", "poisson"))
    check_nonnegative("rupture_depth", args["rupture_depth"], what="a drop in WAI-SR points")
    check_int("rupture_decline", args["rupture_decline"], minimum=1)
    check_int("rupture_duration", args["rupture_duration"], minimum=1)
    check_bool("items", args["items"])
    check_int("recruitment_days", args["recruitment_days"], minimum=0)
    check_int("session_interval", args["session_interval"], minimum=3)
    try:
        start = pd.Timestamp(args["start_date"])
    except (ValueError, TypeError) as exc:
        raise ParameterError(
            f"start_date must be a date such as '2024-01-08', got {args['start_date']!r}"
        ) from exc
    return _SessionSpec(args, n_th, loads, ppt, ses, prescribed, start)


# ----------------------------------------------------------------------------------------------
# session-level simulator: drawing stages (each draws from ``rng`` in a fixed order)
# ----------------------------------------------------------------------------------------------
@dataclass
class _Patients:
    """Therapists, their patients and the patient-level draws."""

    loads: np.ndarray  # patients per therapist
    therapist: np.ndarray  # therapist index of each patient
    planned: np.ndarray  # planned sessions per patient
    arm: np.ndarray  # 1 = intervention
    prescribed: np.ndarray  # home exercises prescribed
    first_day: np.ndarray  # day of the first session after start_date

    @property
    def n(self) -> int:
        return int(self.loads.sum())


@dataclass
class _Effects:
    """Random effects: therapist (``_t``) and patient (``_i``) level."""

    alliance_t: np.ndarray
    alliance_i: np.ndarray
    growth_i: np.ndarray
    pain: tuple[np.ndarray, np.ndarray, np.ndarray]  # therapist, patient intercept, slope
    function: tuple[np.ndarray, np.ndarray, np.ndarray]
    adherence_i: np.ndarray
    adherence_t: np.ndarray


@dataclass
class _Sessions:
    """One entry per planned (later: kept) session, in therapist-patient-session order."""

    patient: np.ndarray
    session: np.ndarray
    therapist: np.ndarray
    telehealth: np.ndarray
    alliance: np.ndarray
    days: np.ndarray

    def subset(self, keep: np.ndarray) -> _Sessions:
        return _Sessions(*(getattr(self, f.name)[keep] for f in fields(self)))

    @property
    def x(self) -> np.ndarray:
        return (self.session - 1).astype(float)


def _draw_patients(rng: np.random.Generator, spec: _SessionSpec) -> _Patients:
    loads = spec.loads if spec.loads is not None else _draw_range(
        rng, spec.caseload_range, spec.n_therapists
    )
    n_pat = int(loads.sum())
    return _Patients(
        loads=loads,
        therapist=np.repeat(np.arange(spec.n_therapists), loads),
        planned=_draw_range(rng, spec.session_range, n_pat),
        arm=rng.permutation(np.arange(n_pat) % 2),
        prescribed=_draw_range(rng, spec.prescribed_range, n_pat),
        first_day=rng.integers(0, spec.recruitment_days + 1, size=n_pat),
    )


def _correlated_pair(
    rng: np.random.Generator, n: int, sd0: float, sd1: float, rho: float
) -> tuple[np.ndarray, np.ndarray]:
    z0 = rng.standard_normal(n)
    z1 = rng.standard_normal(n)
    return sd0 * z0, sd1 * (rho * z0 + np.sqrt(1 - rho**2) * z1)


def _draw_effects(rng: np.random.Generator, spec: _SessionSpec, n_pat: int) -> _Effects:
    n_th = spec.n_therapists
    alliance_t = rng.normal(0, spec.alliance_sd_therapist, n_th)
    alliance_i = rng.normal(0, spec.alliance_sd_patient, n_pat)
    growth_i = rng.normal(0, spec.alliance_sd_growth, n_pat)
    outcomes = {}
    for name in ("pain", "function"):
        w_t = rng.normal(0, spec.args[f"{name}_sd_therapist"], n_th)
        a_i, b_i = _correlated_pair(
            rng, n_pat, spec.args[f"{name}_sd_patient"], spec.args[f"{name}_sd_slope"],
            spec.args[f"{name}_corr"],
        )
        outcomes[name] = (w_t, a_i, b_i)
    adherence_i = rng.normal(0, spec.adherence_sd_patient, n_pat)
    adherence_t = rng.normal(0, spec.adherence_sd_therapist, n_th)
    return _Effects(alliance_t, alliance_i, growth_i, outcomes["pain"], outcomes["function"],
                    adherence_i, adherence_t)


def _draw_alliance(
    rng: np.random.Generator, spec: _SessionSpec, patients: _Patients, effects: _Effects
) -> _Sessions:
    """Every planned session: modality, alliance and the days since the first session."""
    pat = np.repeat(np.arange(patients.n), patients.planned)
    session = _within_group_counter(patients.planned)
    th = patients.therapist[pat]
    n_rows = pat.size
    tele = rng.random(n_rows) < spec.telehealth_rate
    x = (session - 1).astype(float)
    alliance = (
        spec.alliance_mean
        + effects.alliance_t[th]
        + effects.alliance_i[pat]
        + (spec.alliance_growth + effects.growth_i[pat]) * x
        + spec.telehealth_alliance * tele
        + rng.normal(0, spec.alliance_sd_session, n_rows)
    )
    gaps = rng.integers(spec.session_interval - 2, spec.session_interval + 4, size=n_rows)
    gaps[session == 1] = 0
    days = np.cumsum(gaps)
    planned = patients.planned
    days = days - np.repeat(days[np.cumsum(planned) - planned], planned)
    return _Sessions(pat, session, th, tele, alliance, days)


def _apply_dropout(
    rng: np.random.Generator, spec: _SessionSpec, patients: _Patients, rows: _Sessions
) -> tuple[_Sessions, np.ndarray]:
    """Drop every session after a dropout event; returns the kept rows and who dropped out."""
    n_rows = rows.patient.size
    draw = rng.random(n_rows)
    event = np.zeros(n_rows, dtype=bool)
    if spec.dropout_rate > 0:
        later = rows.session >= 2
        prev = np.roll(rows.alliance, 1)[later]
        hazard = expit(
            logit(spec.dropout_rate) + spec.dropout_alliance * (prev - spec.alliance_mean)
        )
        event[later] = draw[later] < hazard
    planned = patients.planned
    cum = np.cumsum(event)
    cum_before = np.repeat(np.concatenate([[0], cum[np.cumsum(planned)[:-1] - 1]]), planned)
    dropped = np.zeros(patients.n, dtype=bool)
    dropped[rows.patient[event]] = True
    return rows.subset((cum - cum_before) == 0), dropped


@dataclass
class _Observed:
    """Which sessions were attended and which measurements were recorded."""

    attended: np.ndarray
    alliance: np.ndarray
    pain: np.ndarray
    function: np.ndarray


def _draw_observation(rng: np.random.Generator, spec: _SessionSpec, rows: _Sessions) -> _Observed:
    n_rows = rows.patient.size
    attended = (rows.session == 1) | (rng.random(n_rows) >= spec.missed_session_rate)
    alliance = attended & (rng.random(n_rows) >= spec.missing_alliance_rate)
    pain = attended & (rng.random(n_rows) >= spec.missing_outcome_rate)
    function = attended & (rng.random(n_rows) >= spec.missing_outcome_rate)
    return _Observed(attended, alliance, pain, function)


def _alliance_parts(
    spec: _SessionSpec, patients: _Patients, rows: _Sessions, seen: _Observed
) -> dict[str, np.ndarray]:
    """Within, between and therapist-level alliance predictors of the outcome models.

    The person mean is that of the *observed* alliance (falling back to attended sessions).
    """
    pat, n_pat = rows.patient, patients.n

    def totals(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total = np.bincount(pat, weights=np.where(mask, rows.alliance, 0.0), minlength=n_pat)
        count = np.bincount(pat, weights=mask.astype(float), minlength=n_pat)
        return total, count

    tot, cnt = totals(seen.alliance)
    tot_att, cnt_att = totals(seen.attended)
    pmean = np.where(cnt > 0, tot / np.maximum(cnt, 1), tot_att / np.maximum(cnt_att, 1))
    n_th = spec.n_therapists
    caseload = np.bincount(patients.therapist, minlength=n_th)
    tmean = np.bincount(patients.therapist, weights=pmean, minlength=n_th) / np.maximum(
        caseload, 1
    )
    return {
        "within": np.where(seen.alliance, rows.alliance - pmean[pat], 0.0),
        "between": pmean[pat] - spec.alliance_mean,
        "therapist": tmean[rows.therapist] - spec.alliance_mean,
    }


def _draw_outcome(
    rng: np.random.Generator,
    name: str,
    spec: _SessionSpec,
    patients: _Patients,
    rows: _Sessions,
    effect: tuple[np.ndarray, np.ndarray, np.ndarray],
    parts: dict[str, np.ndarray],
) -> np.ndarray:
    """Pain or function: growth model plus alliance effects and a session residual."""
    a = spec.args
    w_t, a_i, b_i = effect
    pat = rows.patient
    slope = a[f"{name}_slope"] + b_i[pat] + a[f"arm_effect_{name}"] * patients.arm[pat]
    return (
        a[f"{name}_intercept"]
        + w_t[rows.therapist]
        + a_i[pat]
        + slope * rows.x
        + a[f"{name}_within"] * parts["within"]
        + a[f"{name}_between"] * parts["between"]
        + a[f"{name}_therapist_alliance"] * parts["therapist"]
        + rng.normal(0, a[f"{name}_sd_residual"], pat.size)
    )


def _draw_adherence(
    rng: np.random.Generator, spec: _SessionSpec, patients: _Patients, rows: _Sessions,
    effects: _Effects,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Adherence (0/1), exercises done, and exercises prescribed at every row."""
    pat, th = rows.patient, rows.therapist
    centred = rows.alliance - spec.alliance_mean
    shared = effects.adherence_i[pat] + effects.adherence_t[th]
    p_adh = expit(spec.adherence_intercept + spec.adherence_alliance * centred + shared)
    adhered = (rng.random(pat.size) < p_adh).astype(float)
    eta = spec.exercises_intercept + spec.exercises_alliance * centred + shared
    n_presc = patients.prescribed[pat]
    if spec.exercises_family == "binomial":
        done = rng.binomial(n_presc, expit(eta)).astype(float)
    else:
        done = rng.poisson(n_presc * np.exp(eta)).astype(float)
    return adhered, done, n_presc


# ----------------------------------------------------------------------------------------------
# session-level simulator: planted events
# ----------------------------------------------------------------------------------------------
@dataclass
class _Planted:
    """Per-patient sessions of planted events (-1 = none) and planted non-responders."""

    gain: np.ndarray
    rupture: np.ndarray
    repair: np.ndarray
    nonresponder: np.ndarray | None = None  # bool per patient, None when not planted


def _plant_sessions(
    rng: np.random.Generator, spec: _SessionSpec, planned: np.ndarray
) -> _Planted:
    """Choose who gets a planted sudden gain / rupture and at which planned session.

    A sudden gain at pre-gain session ``N`` needs the full Tang & DeRubeis windows
    (``3 <= N <= planned - 3``); a rupture starting at ``R`` needs two earlier sessions and its
    repair session ``R + rupture_decline - 1 + rupture_duration`` inside the plan. Patients
    whose plan is too short get no event.
    """
    n = planned.size
    gain = np.full(n, -1, dtype=np.int64)
    rupture = np.full(n, -1, dtype=np.int64)
    repair = np.full(n, -1, dtype=np.int64)
    if spec.sudden_gain_rate > 0:
        chosen = (rng.random(n) < spec.sudden_gain_rate) & (planned >= 6)
        hi = planned - 3
        gain[chosen] = rng.integers(3, hi[chosen] + 1)
    if spec.rupture_rate > 0:
        span = spec.rupture_decline - 1 + spec.rupture_duration  # first lowered to repair
        chosen = (rng.random(n) < spec.rupture_rate) & (planned >= span + 3)
        rupture[chosen] = rng.integers(3, planned[chosen] - span + 1)
        repaired = chosen & (rng.random(n) < spec.rupture_repair_rate)
        repair[repaired] = rupture[repaired] + span
    nonresponder = None
    if spec.nonresponder_rate > 0:  # drawn last: earlier draws match runs without it
        nonresponder = rng.random(n) < spec.nonresponder_rate
    return _Planted(gain, rupture, repair, nonresponder)


def _nonresponder_shift(spec: _SessionSpec, planted: _Planted, rows: _Sessions) -> np.ndarray:
    """Pain shift of every row: ``nonresponder_change`` per session since the first, for
    planted non-responders (0 elsewhere)."""
    if planted.nonresponder is None:
        return np.zeros(rows.patient.size)
    return spec.nonresponder_change * rows.x * planted.nonresponder[rows.patient]


def _rupture_shift(spec: _SessionSpec, planted: _Planted, rows: _Sessions) -> np.ndarray:
    """Alliance shift of every row: a linear decline to ``-rupture_depth`` over
    ``rupture_decline`` sessions, held for ``rupture_duration`` sessions at the bottom, until
    the repair session (or the end if unrepaired)."""
    start = planted.rupture[rows.patient]
    repair = planted.repair[rows.patient]
    d = spec.rupture_decline
    step = rows.session - start  # 0 at the first lowered session
    on = (start > 0) & (step >= 0) & ((repair < 0) | (rows.session < repair))
    depth = spec.rupture_depth * np.minimum(step + 1, d) / d
    return np.where(on, -depth, 0.0)


def _planted_columns(planted: _Planted, spec: _SessionSpec, pat: np.ndarray) -> dict[str, Any]:
    """Per-patient planted sessions repeated on every row (nullable integers, NA = none)."""
    out: dict[str, Any] = {}
    wanted = []
    if spec.sudden_gain_rate > 0:
        wanted.append(("planted_gain_session", planted.gain))
    if spec.rupture_rate > 0:
        wanted += [("planted_rupture_session", planted.rupture),
                   ("planted_repair_session", planted.repair)]
    for name, values in wanted:
        v = pd.Series(values[pat])
        out[name] = v.where(v > 0).astype("Int64").array
    if planted.nonresponder is not None:
        out["planted_nonresponder"] = planted.nonresponder[pat]
    return out


# ----------------------------------------------------------------------------------------------
# session-level simulator: assembly
# ----------------------------------------------------------------------------------------------
def _assemble(
    spec: _SessionSpec, patients: _Patients, rows: _Sessions, seen: _Observed,
    outcomes: dict[str, np.ndarray], dropped: np.ndarray, planted: _Planted,
    item_values: np.ndarray | None,
) -> pd.DataFrame:
    pat = rows.patient
    missing = ~seen.attended
    adhered, done, n_presc = outcomes["adherence"]
    columns: dict[str, Any] = {
        "therapist": _ids("T", spec.n_therapists)[rows.therapist],
        "patient": _ids("P", patients.n)[pat],
        "session": rows.session.astype(np.int64),
        "arm": np.where(patients.arm[pat] == 1, "intervention", "control"),
        "modality": np.where(rows.telehealth, "telehealth", "in_person"),
        "attended": seen.attended.astype(np.int64),
        "date": spec.start + pd.to_timedelta(patients.first_day[pat] + rows.days, unit="D"),
        "days": rows.days.astype(np.int64),
        "alliance": np.where(seen.alliance, rows.alliance, np.nan),
    }
    if item_values is not None:
        for k in range(12):
            columns[f"wai_{k + 1}"] = np.where(seen.alliance, item_values[:, k], np.nan)
    columns.update(
        {
            "pain": np.where(seen.pain, outcomes["pain"], np.nan),
            "function": np.where(seen.function, outcomes["function"], np.nan),
            "adhered": np.where(missing, np.nan, adhered),
            "exercises_done": np.where(missing, np.nan, done),
            "exercises_prescribed": n_presc.astype(np.int64),
            "sessions_planned": patients.planned[pat].astype(np.int64),
            "dropped_out": dropped[pat],
        }
    )
    columns.update(_planted_columns(planted, spec, pat))
    df = pd.DataFrame(columns)
    df["date"] = df["date"].astype("datetime64[ns]")
    return df


def _session_truth(spec: _SessionSpec, patients: _Patients, seed: Any) -> dict[str, Any]:
    skip = ("seed", "return_truth", "caseloads")
    truth = {k: v for k, v in spec.args.items() if k not in skip}
    for key in ("patients_per_therapist", "sessions", "exercises_prescribed"):
        if isinstance(truth[key], Sequence):
            truth[key] = tuple(truth[key])
    var_t = spec.alliance_sd_therapist**2
    var_p = spec.alliance_sd_patient**2
    total_var = var_t + var_p + spec.alliance_sd_session**2
    truth.update(
        seed=seed if not isinstance(seed, np.random.Generator) else None,
        n_patients=patients.n,
        caseloads=tuple(int(c) for c in patients.loads),
        alliance_icc_therapist=var_t / total_var if total_var > 0 else float("nan"),
        alliance_icc_patient=(var_t + var_p) / total_var if total_var > 0 else float("nan"),
    )
    return truth


# ----------------------------------------------------------------------------------------------
# session-level simulator
# ----------------------------------------------------------------------------------------------
def simulate_sessions(
    n_therapists: int = 20,
    patients_per_therapist: int | tuple[int, int] = (4, 12),
    sessions: int | tuple[int, int] = (6, 12),
    *,
    caseloads: Sequence[int] | None = None,
    alliance_mean: float = 3.8,
    alliance_growth: float = 0.03,
    alliance_sd_therapist: float = 0.2,
    alliance_sd_patient: float = 0.45,
    alliance_sd_growth: float = 0.02,
    alliance_sd_session: float = 0.3,
    telehealth_rate: float = 0.3,
    telehealth_alliance: float = -0.1,
    pain_intercept: float = 6.5,
    pain_slope: float = -0.25,
    pain_within: float = -0.4,
    pain_between: float = -1.0,
    pain_therapist_alliance: float = 0.0,
    pain_sd_therapist: float = 0.4,
    pain_sd_patient: float = 1.3,
    pain_sd_slope: float = 0.1,
    pain_corr: float = -0.2,
    pain_sd_residual: float = 1.0,
    function_intercept: float = 55.0,
    function_slope: float = 1.5,
    function_within: float = 2.0,
    function_between: float = 6.0,
    function_therapist_alliance: float = 0.0,
    function_sd_therapist: float = 3.0,
    function_sd_patient: float = 10.0,
    function_sd_slope: float = 0.6,
    function_corr: float = -0.2,
    function_sd_residual: float = 5.0,
    arm_effect_pain: float = -0.1,
    arm_effect_function: float = 0.5,
    adherence_intercept: float = 0.8,
    adherence_alliance: float = 0.8,
    adherence_sd_patient: float = 0.8,
    adherence_sd_therapist: float = 0.3,
    exercises_prescribed: int | tuple[int, int] = (3, 8),
    exercises_family: str = "binomial",
    exercises_intercept: float = 0.6,
    exercises_alliance: float = 0.6,
    dropout_rate: float = 0.04,
    dropout_alliance: float = -0.5,
    missed_session_rate: float = 0.08,
    missing_alliance_rate: float = 0.03,
    missing_outcome_rate: float = 0.05,
    sudden_gain_rate: float = 0.0,
    sudden_gain_size: float = 3.0,
    rupture_rate: float = 0.0,
    rupture_depth: float = 1.0,
    rupture_decline: int = 1,
    rupture_duration: int = 1,
    rupture_repair_rate: float = 0.7,
    nonresponder_rate: float = 0.0,
    nonresponder_change: float = 0.4,
    items: bool = False,
    item_sd: float = 0.35,
    start_date: str = "2024-01-08",
    recruitment_days: int = 365,
    session_interval: int = 7,
    seed: int | np.random.Generator | None = None,
    return_truth: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, Any]]:
    """Simulate session-level alliance, outcome and adherence data with known parameters.

    Therapists are drawn first, then each therapist's patients (unbalanced caseloads), then each
    patient's planned sessions. Index ``t`` = therapist, ``i`` = patient, ``s`` = session
    (1, 2, ...), ``x = s - 1`` (sessions since the first).

    **Alliance** (WAI-SR mean scale, 1-5; continuous, not clipped)::

        alliance = alliance_mean + u_t + v_i + (alliance_growth + g_i) * x
                   + telehealth_alliance * telehealth + e_tis

    with ``u_t ~ N(0, alliance_sd_therapist²)``, ``v_i ~ N(0, alliance_sd_patient²)``,
    ``g_i ~ N(0, alliance_sd_growth²)``, ``e ~ N(0, alliance_sd_session²)``.

    **Pain and function** (same model, each with its own prefixed parameters; shown for pain)::

        pain = pain_intercept + w_t + a_i + (pain_slope + b_i + arm_effect_pain * arm) * x
               + pain_within * alliance_within + pain_between * alliance_between
               + pain_therapist_alliance * alliance_therapist + eps

    where ``alliance_within = alliance - m_i`` and ``alliance_between = m_i - alliance_mean``
    with ``m_i`` the mean of patient *i*'s *observed* alliance values (the person mean a user
    computes from the returned data), ``alliance_within`` set to 0 at sessions whose alliance is
    missing, ``alliance_therapist = t_t - alliance_mean`` with ``t_t`` the mean of ``m_i`` over
    therapist *t*'s patients, ``arm`` = 1 in the intervention arm,
    ``w_t ~ N(0, pain_sd_therapist²)``,
    ``(a_i, b_i)`` bivariate normal with SDs ``pain_sd_patient``, ``pain_sd_slope`` and
    correlation ``pain_corr``, ``eps ~ N(0, pain_sd_residual²)``. Pain is NRS-like (0-10) and
    function is a 0-100 score where higher is better; neither is clipped or rounded.

    **Home-exercise adherence** (reported at each attended session; ``r_i``, ``q_t`` shared by
    both outcomes)::

        logit P(adhered = 1) = adherence_intercept + adherence_alliance * (alliance - alliance_mean)
                               + r_i + q_t
        exercises_done ~ Binomial(exercises_prescribed, expit(eta))        # exercises_family="binomial"
        exercises_done ~ Poisson(exercises_prescribed * exp(eta))          # exercises_family="poisson"
        eta = exercises_intercept + exercises_alliance * (alliance - alliance_mean) + r_i + q_t

    with ``r_i ~ N(0, adherence_sd_patient²)`` and ``q_t ~ N(0, adherence_sd_therapist²)``.
    Under the Poisson option ``exercises_done`` may exceed ``exercises_prescribed`` (extra sets).

    **Planted events** (off by default). With ``sudden_gain_rate > 0`` a patient, with that
    probability and at least 6 planned sessions, gets a sudden gain at a pre-gain session ``N``
    drawn uniformly from 3 to ``planned - 3`` (so the Tang & DeRubeis windows ``N - 2 ... N + 3``
    fit): pain falls by ``sudden_gain_size`` at every session after ``N``. With
    ``rupture_rate > 0`` a patient gets an alliance rupture starting at session ``R`` drawn from
    3 to ``planned - rupture_decline - rupture_duration + 1``: the alliance falls linearly to
    ``-rupture_depth`` over ``rupture_decline`` sessions (bottom reached at
    ``R + rupture_decline - 1``), stays there for ``rupture_duration`` sessions and, with
    probability ``rupture_repair_rate``, returns at the repair session
    ``R + rupture_decline - 1 + rupture_duration``; unrepaired ruptures stay at the bottom. The lowered alliance enters everything downstream (dropout,
    outcomes, adherence). With ``nonresponder_rate > 0`` a patient is, with that probability,
    a planted non-responder: ``nonresponder_change * x`` is added to pain at every session
    (the pain slope moves by ``nonresponder_change``), the not-on-track course that routine
    outcome monitoring should flag (Lambert et al.'s expected treatment response; Lutz et al.
    2006). Event sessions and non-responders come from a separate random stream, so a seed
    draws the same therapists, patients, random effects and alliance series with and without
    planted events (later draws differ once a rupture changes who drops out).

    **Dropout, attendance and missing values.** Before each session ``s >= 2`` the patient drops
    out with probability ``expit(logit(dropout_rate) + dropout_alliance * (alliance_{s-1} -
    alliance_mean))``; rows after dropout are not returned. Session 1 is always attended; later
    sessions are missed with probability ``missed_session_rate`` (row kept with ``attended = 0``
    and all measurements missing). At attended sessions alliance (and its items) is missing with
    probability ``missing_alliance_rate`` and pain and function are each missing with
    probability ``missing_outcome_rate`` (all missing completely at random).

    Parameters
    ----------
    n_therapists : int, default 20
        Number of therapists.
    patients_per_therapist : int or (int, int), default (4, 12)
        Caseload per therapist: a fixed number, or an inclusive range drawn uniformly per
        therapist (unbalanced caseloads). Ignored when ``caseloads`` is given.
    sessions : int or (int, int), default (6, 12)
        Planned sessions per patient: fixed, or an inclusive range drawn uniformly per patient.
    caseloads : sequence of int, optional
        Exact number of patients of each therapist (length ``n_therapists``).
    alliance_mean : float, default 3.8
        Mean alliance at session 1 (WAI-SR mean scale 1-5), in-person sessions.
    alliance_growth : float, default 0.03
        Mean change in alliance per session.
    alliance_sd_therapist, alliance_sd_patient : float, default 0.2, 0.45
        SDs of the therapist and patient random intercepts of alliance.
    alliance_sd_growth : float, default 0.02
        SD of the patient random slope of alliance over sessions (independent of the intercept).
    alliance_sd_session : float, default 0.3
        SD of the session-level (residual) alliance fluctuation.
    telehealth_rate : float, default 0.3
        Probability that a session is delivered by telehealth (``modality``).
    telehealth_alliance : float, default -0.1
        Shift in alliance at telehealth sessions.
    pain_intercept, pain_slope : float, default 6.5, -0.25
        Mean pain at session 1 (control arm, patient at the mean alliance) and per-session change.
    pain_within, pain_between : float, default -0.4, -1.0
        Within-patient and between-patient alliance effects on pain (per WAI-SR point).
    pain_therapist_alliance : float, default 0.0
        Extra effect of the therapist's mean alliance (Baldwin, Wampold & Imel 2007). Split
        the person mean into the therapist mean ``t_t`` and the patient's deviation
        ``m_i - t_t``: their coefficients are ``pain_between + pain_therapist_alliance`` and
        ``pain_between``.
    pain_sd_therapist, pain_sd_patient, pain_sd_slope : float, default 0.4, 1.3, 0.1
        SDs of the therapist intercept, patient intercept and patient session slope of pain.
    pain_corr : float, default -0.2
        Correlation of the patient intercept and slope of pain.
    pain_sd_residual : float, default 1.0
        Session-level residual SD of pain.
    function_intercept, function_slope : float, default 55.0, 1.5
        Mean function at session 1 and per-session change (0-100, higher is better).
    function_within, function_between : float, default 2.0, 6.0
        Within- and between-patient alliance effects on function.
    function_therapist_alliance : float, default 0.0
        Extra effect of the therapist's mean alliance on function (as for pain).
    function_sd_therapist, function_sd_patient, function_sd_slope : float, default 3.0, 10.0, 0.6
        SDs of the therapist intercept, patient intercept and patient slope of function.
    function_corr : float, default -0.2
        Correlation of the patient intercept and slope of function.
    function_sd_residual : float, default 5.0
        Session-level residual SD of function.
    arm_effect_pain, arm_effect_function : float, default -0.1, 0.5
        Difference in the per-session slope of pain / function in the intervention arm.
        Patients are randomised 1:1 to ``arm`` "control" / "intervention".
    adherence_intercept : float, default 0.8
        Log-odds of adherence at the mean alliance (patient and therapist effects at 0).
    adherence_alliance : float, default 0.8
        Log-odds ratio of adherence per WAI-SR point of alliance.
    adherence_sd_patient, adherence_sd_therapist : float, default 0.8, 0.3
        SDs of the patient and therapist random intercepts of adherence (logit / log scale).
    exercises_prescribed : int or (int, int), default (3, 8)
        Number of home exercises prescribed per patient (fixed or inclusive range, per patient).
    exercises_family : {"binomial", "poisson"}, default "binomial"
        Distribution of ``exercises_done``: binomial with logit link, or Poisson with log link
        and offset ``log(exercises_prescribed)``.
    exercises_intercept, exercises_alliance : float, default 0.6, 0.6
        Intercept and alliance slope of ``exercises_done`` on the logit or log scale.
    dropout_rate : float, default 0.04
        Per-session dropout hazard at the mean alliance.
    dropout_alliance : float, default -0.5
        Log-odds ratio of dropout per WAI-SR point of the previous session's alliance.
    missed_session_rate : float, default 0.08
        Probability that a scheduled session after the first is missed.
    missing_alliance_rate, missing_outcome_rate : float, default 0.03, 0.05
        Probability that alliance (with its items) / pain / function is missing at an attended
        session.
    sudden_gain_rate : float, default 0.0
        Probability that a patient has one planted sudden gain in pain (see Planted events).
    sudden_gain_size : float, default 3.0
        Drop in pain from the pre-gain session ``N`` to every later session (pain points).
    rupture_rate : float, default 0.0
        Probability that a patient has one planted alliance rupture.
    rupture_depth : float, default 1.0
        Alliance drop at the bottom of a planted rupture (WAI-SR points).
    rupture_decline : int, default 1
        Sessions over which the alliance falls to the bottom (1 = a V-shaped drop; larger
        values give the multi-session declines described by Gumz et al. 2012).
    rupture_duration : int, default 1
        Sessions the alliance stays at the bottom before a repair (1 = V-shaped; longer
        plateaus followed by a repair are the pattern of sudden alliance gains).
    rupture_repair_rate : float, default 0.7
        Probability that a planted rupture is repaired (alliance back on the patient's
        trajectory at the session after the bottom); otherwise it stays low to the end.
    nonresponder_rate : float, default 0.0
        Probability that a patient is a planted non-responder (see Planted events).
    nonresponder_change : float, default 0.4
        Change per session added to the pain slope of a planted non-responder (pain points;
        positive = less improvement than other patients, or worsening).
    items : bool, default False
        Add WAI-SR item responses ``wai_1`` ... ``wai_12`` (integers 1-5) whose mean equals
        ``round(12 * clip(alliance, 1, 5)) / 12``.
    item_sd : float, default 0.35
        Item-level spread around the alliance when ``items=True``.
    start_date : str, default "2024-01-08"
        First possible first-session date.
    recruitment_days : int, default 365
        First sessions are spread uniformly over this many days after ``start_date``.
    session_interval : int, default 7
        Typical days between sessions; actual gaps are drawn uniformly from
        ``session_interval - 2`` to ``session_interval + 3``.
    seed : int or numpy.random.Generator, optional
        Seed for :func:`numpy.random.default_rng` (or a Generator used directly).
    return_truth : bool, default False
        Also return the true-parameter dictionary as a second value.

    Returns
    -------
    pandas.DataFrame
        One row per patient-session, sorted by therapist, patient, session, with columns

        ``therapist`` (str "T01"...), ``patient`` (str "P001"...; unique across therapists),
        ``session`` (int, 1...), ``arm`` ("control"/"intervention"), ``modality``
        ("in_person"/"telehealth"), ``attended`` (int 0/1), ``date`` (datetime64 scheduled date),
        ``days`` (int, days since the patient's first session), ``alliance`` (float),
        ``wai_1``...``wai_12`` (float, only with ``items=True``), ``pain`` (float),
        ``function`` (float), ``adhered`` (float 0/1), ``exercises_done`` (float),
        ``exercises_prescribed`` (int), ``sessions_planned`` (int), ``dropped_out`` (bool,
        patient left before the planned last session), and with planted events
        ``planted_gain_session`` (the pre-gain session ``N``), ``planted_rupture_session``,
        ``planted_repair_session`` (nullable integers repeated on the patient's rows; missing
        when the patient has no such event or the rupture stays unrepaired) and
        ``planted_nonresponder`` (bool, with ``nonresponder_rate > 0``). Planted sessions
        refer to the plan: dropout or a missed session can hide them.

        Missing values are NaN. ``df.attrs["truth"]`` holds every argument value plus
        ``n_patients``, ``caseloads`` and the derived alliance ICCs at session 1
        (``alliance_icc_therapist``, ``alliance_icc_patient``).
    dict
        The same truth dictionary, only when ``return_truth=True``.

    Raises
    ------
    ParameterError
        For arguments of the wrong type or outside their range (message names the argument);
        it subclasses both ``ValueError`` and ``TypeError``.

    See Also
    --------
    simulate_studies : study-level correlations for meta-analysis.

    Notes
    -----
    The alliance and outcome models are the multilevel models of the field: random
    intercepts and time slopes for patients nested in therapists (Baldwin, Wampold & Imel
    2007, JCCP 75(6)), with alliance split into within- and between-patient parts (Curran &
    Bauer 2011, Annu Rev Psychol 62). Validated in the test suite by parameter recovery on
    large draws: alliance variance components (nested ANOVA), mean and growth,
    within/between and therapist-level alliance effects on pain and function (within-patient
    and patient-mean OLS fits), random-effect SDs, dropout hazard, adherence and exercise-count slopes and
    missingness rates, each within a few standard errors of the true value.

    Examples
    --------
    >>> df = simulate_sessions(n_therapists=4, patients_per_therapist=(2, 5), seed=42)
    >>> list(df.columns[:5])
    ['therapist', 'patient', 'session', 'arm', 'modality']
    >>> df["session"].min()
    np.int64(1)
    >>> df2, truth = simulate_sessions(n_therapists=4, patients_per_therapist=(2, 5), seed=42,
    ...                                return_truth=True)
    >>> df2.equals(df), truth["pain_within"]
    (True, -0.4)
    """
    args = dict(locals())
    spec = _check_session_args(args)
    rng = _generator(seed)
    patients = _draw_patients(rng, spec)
    effects = _draw_effects(rng, spec, patients.n)
    rows = _draw_alliance(rng, spec, patients, effects)
    planting = spec.sudden_gain_rate > 0 or spec.rupture_rate > 0 or spec.nonresponder_rate > 0
    # planted events come from a child generator: the draws above are the same with and
    # without them
    planted = _plant_sessions(rng.spawn(1)[0] if planting else rng, spec, patients.planned)
    rows.alliance = rows.alliance + _rupture_shift(spec, planted, rows)
    rows, dropped = _apply_dropout(rng, spec, patients, rows)
    seen = _draw_observation(rng, spec, rows)
    parts = _alliance_parts(spec, patients, rows, seen)
    outcomes: dict[str, Any] = {
        name: _draw_outcome(rng, name, spec, patients, rows, getattr(effects, name), parts)
        for name in ("pain", "function")
    }
    gain_at = planted.gain[rows.patient]
    outcomes["pain"] = outcomes["pain"] - spec.sudden_gain_size * (
        (gain_at > 0) & (rows.session > gain_at)
    ) + _nonresponder_shift(spec, planted, rows)
    outcomes["adherence"] = _draw_adherence(rng, spec, patients, rows, effects)
    item_values = _wai_sr_items(rows.alliance, item_sd, rng) if items else None
    df = _assemble(spec, patients, rows, seen, outcomes, dropped, planted, item_values)
    truth = _session_truth(spec, patients, seed)
    df.attrs["truth"] = truth
    if return_truth:
        return df, dict(truth)
    return df


# ----------------------------------------------------------------------------------------------
# study-level simulator
# ----------------------------------------------------------------------------------------------
def _sample_correlation(rho: np.ndarray, n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Pearson r of ``n`` bivariate-normal pairs with correlation ``rho`` (exact distribution).

    Uses the Bartlett decomposition of the 2x2 Wishart(n - 1) scatter matrix, so no raw pairs
    are generated.
    """
    df = n - 1
    c1 = np.sqrt(rng.chisquare(df))
    c2 = np.sqrt(rng.chisquare(df - 1))
    z = rng.standard_normal(rho.shape)
    s = np.sqrt(1 - rho**2)
    a = rho * c1 + s * z
    return a / np.sqrt(a**2 + (s * c2) ** 2)


def simulate_studies(
    k: int = 20,
    *,
    mean_r: float = 0.25,
    tau: float = 0.1,
    n: int | tuple[int, int] = (30, 300),
    effects_per_study: int | tuple[int, int] = 1,
    sigma_within: float = 0.0,
    moderator_effect: float = 0.0,
    seed: int | np.random.Generator | None = None,
    return_truth: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, Any]]:
    """Simulate a study-level table of alliance-outcome correlations for meta-analysis.

    On Fisher's z scale, study ``j`` has true effect ``zeta_j = atanh(mean_r) +
    moderator_effect * moderator_j + delta_j`` with ``delta_j ~ N(0, tau²)`` and
    ``moderator_j ~ N(0, 1)``; effect size ``l`` within the study has true effect
    ``zeta_j + epsilon_jl`` with ``epsilon_jl ~ N(0, sigma_within²)`` (three-level structure when
    ``effects_per_study`` > 1 and ``sigma_within`` > 0). Each observed correlation is the sample
    Pearson r of ``n_j`` bivariate-normal pairs with correlation ``tanh(true effect)``, drawn
    from its exact sampling distribution.

    Parameters
    ----------
    k : int, default 20
        Number of studies.
    mean_r : float, default 0.25
        Mean correlation (``tanh`` of the mean Fisher z); must lie in (-1, 1).
    tau : float, default 0.1
        Between-study SD of the true effects on the Fisher z scale.
    n : int or (int, int), default (30, 300)
        Sample size per study: fixed, or drawn log-uniformly from the inclusive range
        (at least 5).
    effects_per_study : int or (int, int), default 1
        Number of effect sizes per study (fixed or inclusive range).
    sigma_within : float, default 0.0
        SD of effect sizes within a study (Fisher z scale).
    moderator_effect : float, default 0.0
        Change in the true Fisher z per SD of the study-level ``moderator``.
    seed : int or numpy.random.Generator, optional
        Seed for :func:`numpy.random.default_rng` (or a Generator used directly).
    return_truth : bool, default False
        Also return the true-parameter dictionary.

    Returns
    -------
    pandas.DataFrame
        One row per effect size: ``study`` ("S01"...), ``es_id`` (1... within study), ``n``,
        ``r``, ``yi`` (Fisher z of r), ``vi`` (``1 / (n - 3)``), ``moderator``. The truth
        (arguments plus ``mean_z = atanh(mean_r)``) is in ``df.attrs["truth"]``.

    Notes
    -----
    The observed r is drawn without generating raw pairs, from the Bartlett decomposition of
    the 2 × 2 Wishart(n − 1) scatter matrix (Bartlett 1933; see Anderson 2003, *An
    Introduction to Multivariate Statistical Analysis*, 3rd ed., sec. 7.2), so its
    distribution is the exact finite-sample distribution of Pearson's r. Validated in the test
    suite: the empirical variance of ``yi`` matches the Fisher z theory
    ``1 / (n − 3)`` within sampling error, and :func:`alliancestats.meta.meta_analysis`
    recovers ``mean_r``, ``tau`` and ``moderator_effect`` on large draws.

    Examples
    --------
    >>> from alliancestats.simulate import simulate_studies
    >>> d = simulate_studies(16, mean_r=0.15, seed=3)
    >>> d.shape, bool(d["r"].between(-1, 1).all())
    ((16, 7), True)
    >>> d3 = simulate_studies(10, effects_per_study=(2, 4), sigma_within=0.08, seed=3)
    >>> int(d3["study"].nunique())
    10
    """
    args = dict(locals())
    k = check_int("k", k)
    mean_r = check_correlation("mean_r", mean_r)
    check_nonnegative("tau", tau, what="a standard deviation")
    check_nonnegative("sigma_within", sigma_within, what="a standard deviation")
    check_real("moderator_effect", moderator_effect)
    n_lo, n_hi = check_int_range("n", n, minimum=5)
    eps = check_int_range("effects_per_study", effects_per_study)
    rng = _generator(seed)

    mean_z = float(np.arctanh(mean_r))
    if n_lo == n_hi:
        n_study = np.full(k, n_lo)
    else:
        n_study = np.rint(np.exp(rng.uniform(np.log(n_lo), np.log(n_hi), k))).astype(np.int64)
        n_study = np.clip(n_study, n_lo, n_hi)
    moderator = rng.standard_normal(k)
    zeta = mean_z + moderator_effect * moderator + rng.normal(0, tau, k)
    m = _draw_range(rng, eps, k)
    study = np.repeat(np.arange(k), m)
    true_z = zeta[study] + rng.normal(0, sigma_within, study.size)
    n_row = n_study[study]
    r = _sample_correlation(np.tanh(true_z), n_row, rng)
    df = pd.DataFrame(
        {
            "study": _ids("S", k)[study],
            "es_id": _within_group_counter(m).astype(np.int64),
            "n": n_row.astype(np.int64),
            "r": r,
            "yi": np.arctanh(r),
            "vi": 1.0 / (n_row - 3),
            "moderator": moderator[study],
        }
    )
    truth = {key: v for key, v in args.items() if key not in ("seed", "return_truth")}
    for key in ("n", "effects_per_study"):
        if isinstance(truth[key], Sequence):
            truth[key] = tuple(truth[key])
    truth.update(mean_z=mean_z, seed=seed if not isinstance(seed, np.random.Generator) else None)
    df.attrs["truth"] = truth
    if return_truth:
        return df, dict(truth)
    return df
