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
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

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
# argument checks
# ----------------------------------------------------------------------------------------------
def _check_int(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise ParameterError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ParameterError(f"{name} must be at least {minimum}, got {value}")
    return int(value)


def _check_range(name: str, value: Any, minimum: int = 1) -> tuple[int, int]:
    """Accept an integer or a (low, high) pair of integers; return the inclusive range."""
    if isinstance(value, Integral) and not isinstance(value, bool):
        v = _check_int(name, value, minimum)
        return v, v
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
        lo = _check_int(f"{name}[0]", value[0], minimum)
        hi = _check_int(f"{name}[1]", value[1], minimum)
        if lo > hi:
            raise ParameterError(
                f"{name} range must be (low, high) with low <= high, got {value!r}"
            )
        return lo, hi
    raise ParameterError(
        f"{name} must be an integer or a (low, high) pair of integers, got {value!r}"
    )


def _check_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise ParameterError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _check_sd(name: str, value: Any) -> float:
    v = _check_real(name, value)
    if v < 0:
        raise ParameterError(f"{name} is a standard deviation and must be >= 0, got {v}")
    return v


def _check_rate(name: str, value: Any, *, allow_one: bool = False) -> float:
    v = _check_real(name, value)
    upper_ok = v <= 1 if allow_one else v < 1
    if v < 0 or not upper_ok:
        bound = "[0, 1]" if allow_one else "[0, 1)"
        raise ParameterError(f"{name} is a probability and must lie in {bound}, got {v}")
    return v


def _check_corr(name: str, value: Any) -> float:
    v = _check_real(name, value)
    if not -1 < v < 1:
        raise ParameterError(
            f"{name} is a correlation and must lie strictly between -1 and 1, got {v}"
        )
    return v


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
        patient left before the planned last session).

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

    Notes
    -----
    The alliance and outcome models are the multilevel models of the field: random
    intercepts and time slopes for patients nested in therapists (Baldwin, Wampold & Imel
    2007, JCCP 75(6)), with alliance split into within- and between-patient parts (Curran &
    Bauer 2011, Annu Rev Psychol 62). Validated in ``tests/test_simulate.py`` by parameter
    recovery on large draws: alliance variance components (nested ANOVA), mean and growth,
    within/between and therapist-level alliance effects on pain and function (within-patient
    and patient-mean OLS fits), random-effect SDs, dropout hazard, adherence and exercise-count slopes and
    missingness rates, each within a few standard errors of the true value.

    See Also
    --------
    simulate_studies : study-level correlations for meta-analysis.

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
    n_th = _check_int("n_therapists", n_therapists)
    if caseloads is not None:
        loads = np.asarray(caseloads)
        if loads.ndim != 1 or loads.size != n_th:
            raise ParameterError(
                f"caseloads must list one patient count per therapist ({n_th} values), "
                f"got {loads.size}"
            )
        for k, c in enumerate(caseloads):
            _check_int(f"caseloads[{k}]", c)
        loads = loads.astype(np.int64)
    else:
        ppt = _check_range("patients_per_therapist", patients_per_therapist)
    ses = _check_range("sessions", sessions)
    prescribed_range = _check_range("exercises_prescribed", exercises_prescribed)
    for name in (
        "alliance_sd_therapist",
        "alliance_sd_patient",
        "alliance_sd_growth",
        "alliance_sd_session",
        "pain_sd_therapist",
        "pain_sd_patient",
        "pain_sd_slope",
        "pain_sd_residual",
        "function_sd_therapist",
        "function_sd_patient",
        "function_sd_slope",
        "function_sd_residual",
        "adherence_sd_patient",
        "adherence_sd_therapist",
        "item_sd",
    ):
        _check_sd(name, args[name])
    for name in (
        "alliance_mean",
        "alliance_growth",
        "telehealth_alliance",
        "pain_intercept",
        "pain_slope",
        "pain_within",
        "pain_between",
        "pain_therapist_alliance",
        "function_intercept",
        "function_slope",
        "function_within",
        "function_between",
        "function_therapist_alliance",
        "arm_effect_pain",
        "arm_effect_function",
        "adherence_intercept",
        "adherence_alliance",
        "exercises_intercept",
        "exercises_alliance",
        "dropout_alliance",
    ):
        _check_real(name, args[name])
    _check_corr("pain_corr", pain_corr)
    _check_corr("function_corr", function_corr)
    _check_rate("telehealth_rate", telehealth_rate, allow_one=True)
    for name in ("dropout_rate", "missed_session_rate", "missing_alliance_rate"):
        _check_rate(name, args[name])
    _check_rate("missing_outcome_rate", missing_outcome_rate)
    if exercises_family not in ("binomial", "poisson"):
        raise ParameterError(
            f"exercises_family must be 'binomial' or 'poisson', got {exercises_family!r}"
        )
    _check_int("recruitment_days", recruitment_days, minimum=0)
    _check_int("session_interval", session_interval, minimum=3)
    try:
        start = pd.Timestamp(start_date)
    except (ValueError, TypeError) as exc:
        raise ParameterError(
            f"start_date must be a date such as '2024-01-08', got {start_date!r}"
        ) from exc
    if not isinstance(seed, np.random.Generator) and seed is not None:
        _check_int("seed", seed, minimum=0)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    # ---- structure --------------------------------------------------------------------------
    if caseloads is None:
        loads = _draw_range(rng, ppt, n_th)
    n_pat = int(loads.sum())
    th_of_pat = np.repeat(np.arange(n_th), loads)
    planned = _draw_range(rng, ses, n_pat)
    arm = rng.permutation(np.arange(n_pat) % 2)
    prescribed = _draw_range(rng, prescribed_range, n_pat)
    first_day = rng.integers(0, recruitment_days + 1, size=n_pat)

    # ---- random effects ---------------------------------------------------------------------
    u_t = rng.normal(0, alliance_sd_therapist, n_th)
    v_i = rng.normal(0, alliance_sd_patient, n_pat)
    g_i = rng.normal(0, alliance_sd_growth, n_pat)

    def _patient_pair(sd0: float, sd1: float, rho: float) -> tuple[np.ndarray, np.ndarray]:
        z0 = rng.standard_normal(n_pat)
        z1 = rng.standard_normal(n_pat)
        return sd0 * z0, sd1 * (rho * z0 + np.sqrt(1 - rho**2) * z1)

    w_pain = rng.normal(0, pain_sd_therapist, n_th)
    a_pain, b_pain = _patient_pair(pain_sd_patient, pain_sd_slope, pain_corr)
    w_fun = rng.normal(0, function_sd_therapist, n_th)
    a_fun, b_fun = _patient_pair(function_sd_patient, function_sd_slope, function_corr)
    r_i = rng.normal(0, adherence_sd_patient, n_pat)
    q_t = rng.normal(0, adherence_sd_therapist, n_th)

    # ---- planned sessions and the alliance process ------------------------------------------
    pat = np.repeat(np.arange(n_pat), planned)
    session = _within_group_counter(planned)
    x = (session - 1).astype(float)
    th = th_of_pat[pat]
    n_rows = pat.size
    tele = rng.random(n_rows) < telehealth_rate
    alliance = (
        alliance_mean
        + u_t[th]
        + v_i[pat]
        + (alliance_growth + g_i[pat]) * x
        + telehealth_alliance * tele
        + rng.normal(0, alliance_sd_session, n_rows)
    )
    gaps = rng.integers(session_interval - 2, session_interval + 4, size=n_rows)
    gaps[session == 1] = 0
    days = np.cumsum(gaps)
    days = days - np.repeat(days[np.cumsum(planned) - planned], planned)

    # ---- dropout ----------------------------------------------------------------------------
    draw = rng.random(n_rows)
    event = np.zeros(n_rows, dtype=bool)
    if dropout_rate > 0:
        later = session >= 2
        prev = np.roll(alliance, 1)[later]
        hazard = expit(logit(dropout_rate) + dropout_alliance * (prev - alliance_mean))
        event[later] = draw[later] < hazard
    cum = np.cumsum(event)
    cum_before = np.repeat(np.concatenate([[0], cum[np.cumsum(planned)[:-1] - 1]]), planned)
    keep = (cum - cum_before) == 0
    dropped_pat = np.zeros(n_pat, dtype=bool)
    dropped_pat[pat[event]] = True

    pat, session, x, th = pat[keep], session[keep], x[keep], th[keep]
    tele, alliance, days = tele[keep], alliance[keep], days[keep]
    n_rows = pat.size

    # ---- attendance and missing measurements ------------------------------------------------
    attended = (session == 1) | (rng.random(n_rows) >= missed_session_rate)
    alliance_seen = attended & (rng.random(n_rows) >= missing_alliance_rate)
    pain_seen = attended & (rng.random(n_rows) >= missing_outcome_rate)
    fun_seen = attended & (rng.random(n_rows) >= missing_outcome_rate)

    # person mean of the observed alliance (fallback: attended sessions' alliance)
    def _patient_mean(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        total = np.bincount(pat, weights=np.where(mask, alliance, 0.0), minlength=n_pat)
        count = np.bincount(pat, weights=mask.astype(float), minlength=n_pat)
        return total, count

    tot, cnt = _patient_mean(alliance_seen)
    tot_att, cnt_att = _patient_mean(attended)
    pmean = np.where(cnt > 0, tot / np.maximum(cnt, 1), tot_att / np.maximum(cnt_att, 1))
    within = np.where(alliance_seen, alliance - pmean[pat], 0.0)
    between = pmean[pat] - alliance_mean
    caseload_pat = np.bincount(th_of_pat, minlength=n_th)
    tmean = np.bincount(th_of_pat, weights=pmean, minlength=n_th) / np.maximum(caseload_pat, 1)
    therapist_level = tmean[th] - alliance_mean

    pain = (
        pain_intercept
        + w_pain[th]
        + a_pain[pat]
        + (pain_slope + b_pain[pat] + arm_effect_pain * arm[pat]) * x
        + pain_within * within
        + pain_between * between
        + pain_therapist_alliance * therapist_level
        + rng.normal(0, pain_sd_residual, n_rows)
    )
    function = (
        function_intercept
        + w_fun[th]
        + a_fun[pat]
        + (function_slope + b_fun[pat] + arm_effect_function * arm[pat]) * x
        + function_within * within
        + function_between * between
        + function_therapist_alliance * therapist_level
        + rng.normal(0, function_sd_residual, n_rows)
    )

    centred = alliance - alliance_mean
    p_adh = expit(adherence_intercept + adherence_alliance * centred + r_i[pat] + q_t[th])
    adhered = (rng.random(n_rows) < p_adh).astype(float)
    eta = exercises_intercept + exercises_alliance * centred + r_i[pat] + q_t[th]
    n_presc = prescribed[pat]
    if exercises_family == "binomial":
        done = rng.binomial(n_presc, expit(eta)).astype(float)
    else:
        done = rng.poisson(n_presc * np.exp(eta)).astype(float)

    item_values = _wai_sr_items(alliance, item_sd, rng) if items else None

    # ---- assemble -------------------------------------------------------------------------
    therapist_ids = _ids("T", n_th)
    patient_ids = _ids("P", n_pat)
    missing = ~attended
    columns: dict[str, Any] = {
        "therapist": therapist_ids[th],
        "patient": patient_ids[pat],
        "session": session.astype(np.int64),
        "arm": np.where(arm[pat] == 1, "intervention", "control"),
        "modality": np.where(tele, "telehealth", "in_person"),
        "attended": attended.astype(np.int64),
        "date": start + pd.to_timedelta(first_day[pat] + days, unit="D"),
        "days": days.astype(np.int64),
        "alliance": np.where(alliance_seen, alliance, np.nan),
    }
    if item_values is not None:
        for k in range(12):
            columns[f"wai_{k + 1}"] = np.where(alliance_seen, item_values[:, k], np.nan)
    columns.update(
        {
            "pain": np.where(pain_seen, pain, np.nan),
            "function": np.where(fun_seen, function, np.nan),
            "adhered": np.where(missing, np.nan, adhered),
            "exercises_done": np.where(missing, np.nan, done),
            "exercises_prescribed": n_presc.astype(np.int64),
            "sessions_planned": planned[pat].astype(np.int64),
            "dropped_out": dropped_pat[pat],
        }
    )
    df = pd.DataFrame(columns)
    df["date"] = df["date"].astype("datetime64[ns]")

    truth = {k: v for k, v in args.items() if k not in ("seed", "return_truth", "caseloads")}
    for key in ("patients_per_therapist", "sessions", "exercises_prescribed"):
        if isinstance(truth[key], Sequence):
            truth[key] = tuple(truth[key])
    var_t, var_p, var_s = alliance_sd_therapist**2, alliance_sd_patient**2, alliance_sd_session**2
    total_var = var_t + var_p + var_s
    truth.update(
        seed=seed if not isinstance(seed, np.random.Generator) else None,
        n_patients=n_pat,
        caseloads=tuple(int(c) for c in loads),
        alliance_icc_therapist=var_t / total_var if total_var > 0 else float("nan"),
        alliance_icc_patient=(var_t + var_p) / total_var if total_var > 0 else float("nan"),
    )
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
    distribution is the exact finite-sample distribution of Pearson's r. Validated in
    ``tests/test_simulate.py``: the empirical variance of ``yi`` matches the Fisher z theory
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
    k = _check_int("k", k)
    mean_r = _check_real("mean_r", mean_r)
    if not -1 < mean_r < 1:
        raise ParameterError(
            f"mean_r is a correlation and must lie strictly between -1 and 1, got {mean_r}"
        )
    _check_sd("tau", tau)
    _check_sd("sigma_within", sigma_within)
    _check_real("moderator_effect", moderator_effect)
    n_lo, n_hi = _check_range("n", n, minimum=5)
    eps = _check_range("effects_per_study", effects_per_study)
    if not isinstance(seed, np.random.Generator) and seed is not None:
        _check_int("seed", seed, minimum=0)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

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
