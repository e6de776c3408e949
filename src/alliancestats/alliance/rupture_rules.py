"""Published rupture rules as data, and the detectors that apply them to one patient's series.

No software implements alliance rupture detection, and the published rules differ in their
threshold, in the standard deviation behind it and in what counts as a repair; the number of
ruptures found depends strongly on the rule (Gumz, Brähler, Geyer & Erices 2012, BMC Med Res
Methodol 12:10). Every rule is therefore a named, documented :class:`RuptureRule`, and every
choice the papers leave open is a parameter with a stated default (see :func:`ruptures`).

Three detectors cover the rules (all work on the observed scores of one patient, in session
order; a missed session neither starts nor ends an episode):

* :func:`detect_below_typical` -- sessions at least ``k`` SDs below the patient's typical level
  (the mean of the patient's other sessions); consecutive such sessions form one episode
  (Stiles et al. 2004; Strauss et al. 2006);
* :func:`detect_declines` -- runs of falling scores (up to ``max_decline`` sessions) whose total
  fall from the last score before the decline reaches ``k`` SDs (Gumz et al. 2012);
* :func:`detect_steps` -- a fall between consecutive observed scores of at least a fixed
  threshold, e.g. the reliable change (Jacobson & Truax 1991).

Repairs are found by :func:`find_repair`.

Examples
--------
>>> import numpy as np
>>> from alliancestats.alliance.rupture_rules import detect_declines
>>> s = np.array([1, 2, 3, 4, 5, 6]); v = np.array([4.0, 4.1, 3.5, 3.0, 4.0, 4.1])
>>> [(e.start, e.trough, e.reference) for e in detect_declines(s, v, threshold=1.0)]
[(3, 4, 4.1)]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "METHODS",
    "Episode",
    "RuptureRule",
    "detect_below_typical",
    "detect_declines",
    "detect_steps",
    "find_repair",
]


@dataclass(frozen=True)
class RuptureRule:
    """A published rupture (or sudden alliance change) rule and its defaults."""

    name: str
    detector: str  # "below_typical", "decline", "step", "sudden_loss", "sudden_gain"
    threshold_sd: float | None  # k, for SD-based rules
    sd: str  # default SD source
    citation: str
    description: str

    @property
    def uses_reliability(self) -> bool:
        return self.detector in ("step", "sudden_loss", "sudden_gain")


METHODS: dict[str, RuptureRule] = {
    r.name: r
    for r in (
        RuptureRule(
            "stiles2004", "below_typical", 2.0, "patient",
            "Stiles et al. 2004, J Couns Psychol 51(1)",
            "a session at least 2 SD below the patient's typical level (mean of the other "
            "sessions), then recovery (V-shaped deflection)",
        ),
        RuptureRule(
            "strauss2006", "below_typical", 1.0, "patient",
            "Strauss et al. 2006, J Consult Clin Psychol 74(2)",
            "a session at least 1 SD below the patient's typical level, then recovery",
        ),
        RuptureRule(
            "gumz2012", "decline", 1.0, "stricter",
            "Gumz, Brähler, Geyer & Erices 2012, BMC Med Res Methodol 12:10",
            "a decline over one or more sessions (up to max_decline) by at least 1 SD, the "
            "stricter (larger) of the patient's and the sample's SD, then recovery",
        ),
        RuptureRule(
            "tang_derubeis", "sudden_loss", None, "first_session",
            "Tang & DeRubeis 1999, J Consult Clin Psychol 67(6), applied to alliance",
            "a sudden alliance loss: the three Tang & DeRubeis criteria for a worsening "
            "from session N to N+1",
        ),
        RuptureRule(
            "zilcha_mano2019", "sudden_gain", None, "first_session",
            "Zilcha-Mano, Eubanks & Muran 2019, J Consult Clin Psychol 87(6)",
            "a sudden alliance gain: the three Tang & DeRubeis criteria for a rise from "
            "session N (the candidate rupture session) to N+1",
        ),
        RuptureRule(
            "rci", "step", None, "first_session",
            "Jacobson & Truax 1991, J Consult Clin Psychol 59(1)",
            "a drop between consecutive observed sessions of at least the reliable change "
            "1.96 x sqrt(2) x SD x sqrt(1 - reliability)",
        ),
    )
}


@dataclass(frozen=True)
class Episode:
    """One rupture episode in session numbers: ``before`` is the last session at the
    reference level (the pre-rupture session), ``start`` the first lowered session,
    ``trough`` the lowest one, ``end`` the last lowered one."""

    before: int | None
    start: int
    trough: int
    end: int
    reference: float
    trough_score: float

    @property
    def depth(self) -> float:
        return self.reference - self.trough_score


def detect_below_typical(
    sessions: np.ndarray, values: np.ndarray, sd: float, k: float
) -> list[Episode]:
    """Episodes of observed scores at least ``k * sd`` below the mean of the other scores.

    ``sessions`` and ``values`` are the patient's observed sessions and scores, in order.
    Consecutive flagged scores form one episode; its reference level is the mean of the scores
    outside the episode.
    """
    n = values.size
    if n < 2 or not sd > 0:
        return []
    others = (values.sum() - values) / (n - 1)
    flagged = values <= others - k * sd
    episodes = []
    i = 0
    while i < n:
        if not flagged[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and flagged[j + 1]:
            j += 1
        inside = np.zeros(n, dtype=bool)
        inside[i:j + 1] = True
        low = i + int(np.argmin(values[i:j + 1]))
        reference = float(values[~inside].mean()) if (~inside).any() else float("nan")
        episodes.append(Episode(int(sessions[i - 1]) if i else None, int(sessions[i]),
                                int(sessions[low]), int(sessions[j]), reference,
                                float(values[low])))
        i = j + 1
    return episodes


def detect_declines(
    sessions: np.ndarray, values: np.ndarray, threshold: float, max_decline: int | None = None
) -> list[Episode]:
    """Runs of strictly falling scores whose total fall is at least ``threshold``.

    The reference is the score before the run; a run longer than ``max_decline`` observed
    sessions is a trend, not a crisis, and is not reported.
    """
    n = values.size
    episodes = []
    i = 0
    while i < n - 1:
        if not values[i + 1] < values[i]:
            i += 1
            continue
        j = i + 1
        while j + 1 < n and values[j + 1] < values[j]:
            j += 1
        length = j - i
        if values[i] - values[j] >= threshold and (max_decline is None or length <= max_decline):
            episodes.append(Episode(int(sessions[i]), int(sessions[i + 1]), int(sessions[j]),
                                    int(sessions[j]), float(values[i]), float(values[j])))
        i = j
    return episodes


def detect_steps(sessions: np.ndarray, values: np.ndarray, threshold: float) -> list[Episode]:
    """Falls of at least ``threshold`` between consecutive observed scores."""
    drops = np.flatnonzero(values[:-1] - values[1:] >= threshold)
    return [
        Episode(int(sessions[i]), int(sessions[i + 1]), int(sessions[i + 1]),
                int(sessions[i + 1]), float(values[i]), float(values[i + 1]))
        for i in drops
    ]


def find_repair(
    sessions: np.ndarray,
    values: np.ndarray,
    episode: Episode,
    fraction: float,
    window: int | None,
) -> tuple[int | None, str]:
    """The repair session (or None) and the status ``repaired`` / ``unrepaired`` / ``open``.

    A repair is the first observed score after the episode's last lowered session that regains
    at least ``fraction`` of the depth (``score >= trough + fraction * depth``) within
    ``window`` sessions of the trough (any later session when ``window`` is None). Without
    one, the status is ``open`` when the patient's observed series ends before the window
    closes (with no window: when nothing was observed after the episode), as in a series that
    is still running, else ``unrepaired``.
    """
    target = episode.trough_score + fraction * episode.depth
    last = episode.trough + window if window is not None else None
    after = sessions > episode.end
    if last is not None:
        after &= sessions <= last
    hits = np.flatnonzero(after & (values >= target))
    if hits.size:
        return int(sessions[hits[0]]), "repaired"
    ended_early = sessions[-1] < last if last is not None else sessions[-1] <= episode.end
    return None, "open" if ended_early else "unrepaired"
