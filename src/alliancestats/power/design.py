"""Longitudinal two-arm designs: sample sizes, variance components and effect sizes.

The model is powerlmm's (Magnusson, powerlmm 0.4.0): sessions ``t`` in patients in
therapists, ``y = b0 + b1 t + e`` with patient (``u0, u1``) and therapist (``v0, v1``)
random intercepts and slopes, residual SD ``sigma``, and a treatment arm whose mean slope
differs by ``delta``; the tested effect is the ``time x treatment`` coefficient ``delta``.

Standardised inputs are turned into variance components exactly as powerlmm does:

* ``icc_pre_subject = (u0² + v0²) / (u0² + v0² + sigma²)`` and
  ``icc_pre_cluster = v0² / (u0² + v0² + sigma²)``;
* ``var_ratio = (u1² + v1²) / sigma²`` and ``icc_slope = v1² / (u1² + v1²)``.

``None`` for a component removes it from the model (powerlmm's ``NA``); ``0`` keeps it with a
true value of zero. The difference matters for the Satterthwaite df and for simulation.

This module holds the small objects users pass in (:func:`per_arm`, :func:`random_caseloads`,
:func:`cohens_d`) and :func:`resolve_design`, which checks a design and resolves it into a
:class:`LongitudinalDesign` used by the analytic and the simulation code.

Examples
--------
>>> from alliancestats.power.design import resolve_design, cohens_d
>>> d = resolve_design(11, 10, 4, icc_pre_subject=0.5, icc_pre_cluster=0, icc_slope=0.05,
...                    var_ratio=0.02, effect_size=cohens_d(-0.8))
>>> round(d.sd["subject_intercept"], 4), round(d.sd["cluster_slope"], 4)
(10.0, 0.3162)
>>> round(d.slope_difference(), 4)
-1.1314
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from typing import Any

import numpy as np

from alliancestats._validation import (
    check_bool,
    check_choice,
    check_correlation,
    check_int,
    check_positive,
    check_real,
)
from alliancestats.errors import ParameterError
from alliancestats.power.dropout import DropoutProcess

__all__ = [
    "ARMS",
    "CohensD",
    "LongitudinalDesign",
    "PerArm",
    "RandomCaseloads",
    "cohens_d",
    "per_arm",
    "random_caseloads",
    "resolve_design",
]

ARMS = ("control", "treatment")
STANDARDIZERS = ("pretest_sd", "posttest_sd", "slope_sd")


@dataclass(frozen=True)
class PerArm:
    """A setting that differs between the control and the treatment arm."""

    control: Any
    treatment: Any

    def get(self, arm: str) -> Any:
        """The value for ``arm`` (``"control"`` or ``"treatment"``)."""
        return self.control if arm == "control" else self.treatment


def per_arm(control: Any, treatment: Any) -> PerArm:
    """Give a design setting separately for the control and the treatment arm.

    Works for ``n_patients`` (patients per therapist, caseload lists or random caseloads),
    ``n_therapists`` and ``dropout`` (powerlmm's ``per_treatment``).

    Parameters
    ----------
    control : object
        The setting in the control arm (a number, a caseload list, random caseloads or a
        dropout).
    treatment : object
        The setting in the treatment arm.

    Returns
    -------
    PerArm
        The pair, accepted wherever the setting is.

    Examples
    --------
    >>> from alliancestats.power import per_arm, longitudinal_power
    >>> res = longitudinal_power(11, per_arm(control=10, treatment=50), icc_pre_subject=0.5,
    ...                          var_ratio=0.019, effect_size=cohens_d(-0.5))
    >>> res.sample_sizes.loc["patients"].tolist()
    [10, 50, 60]
    """
    return PerArm(control, treatment)


@dataclass(frozen=True)
class RandomCaseloads:
    """Therapist caseloads drawn at random for every realisation of the design."""

    draw: Callable[[np.random.Generator], Sequence[float]]
    minimum: int = 1

    def sample(self, rng: np.random.Generator) -> list[int]:
        """One realisation: rounded caseloads, values below ``minimum`` raised to it."""
        raw = np.asarray(self.draw(rng), dtype=float).ravel()
        if raw.size == 0 or not np.all(np.isfinite(raw)):
            raise ParameterError("random_caseloads: draw() must return finite caseloads")
        sizes = np.rint(raw).astype(int)
        sizes[sizes < self.minimum] = self.minimum
        return sizes.tolist()


def random_caseloads(draw: Callable[[np.random.Generator], Sequence[float]], *,
                     minimum: int = 1) -> RandomCaseloads:
    """Caseloads that vary at random between realisations of the design.

    Parameters
    ----------
    draw : callable
        ``draw(rng)`` returns one caseload per therapist of an arm for a NumPy
        ``Generator`` ``rng``, e.g. ``lambda rng: rng.poisson(5, size=5)``. Values are rounded.
    minimum : int, default 1
        Caseloads below this are raised to it (powerlmm's ``trunc``/``replace`` defaults).

    Notes
    -----
    Power is then the mean over ``n_draws`` realisations (powerlmm's ``R``). Without
    :func:`per_arm` both arms share each realisation, as in powerlmm; wrap it in
    ``per_arm(rc, rc)`` for independent draws per arm.

    Examples
    --------
    >>> import numpy as np
    >>> rc = random_caseloads(lambda rng: rng.poisson(5, size=4))
    >>> len(rc.sample(np.random.default_rng(1)))
    4
    """
    if not callable(draw):
        raise ParameterError(f"draw must be a function of a random generator, got {draw!r}")
    return RandomCaseloads(draw, check_int("minimum", minimum, 1))


@dataclass(frozen=True)
class CohensD:
    """A standardised effect size (see :func:`cohens_d`)."""

    d: float
    standardizer: str = "pretest_sd"
    arm: str = "control"


def cohens_d(d: float, standardizer: str = "pretest_sd", arm: str = "control") -> CohensD:
    """A standardised treatment effect for ``effect_size``.

    Parameters
    ----------
    d : float
        Cohen's d.
    standardizer : {"pretest_sd", "posttest_sd", "slope_sd"}
        ``"pretest_sd"`` and ``"posttest_sd"``: ``d`` is the difference between the arms at
        the last session divided by the model-implied outcome SD at the first (last) session,
        so the slope difference is ``d * SD / t_end``. ``"slope_sd"``: ``d`` is the
        difference in slopes per unit time divided by the SD of the random slopes,
        ``sqrt(u1² + v1²)`` (Raudenbush & Liu 2001, Psychol Methods 6(4)).
    arm : {"control", "treatment"}
        Whose SD standardises; matters only in partially nested designs, where the control
        arm has no therapist variance.

    Notes
    -----
    powerlmm 0.4.0's ``cohend``; its test cases (slope, pretest and posttest SDs, both arms
    of a partially nested design) are reproduced exactly.

    Examples
    --------
    >>> cohens_d(-0.8)
    CohensD(d=-0.8, standardizer='pretest_sd', arm='control')
    """
    value = check_real("d", d, what="Cohen's d")
    std = check_choice("standardizer", standardizer, STANDARDIZERS)
    return CohensD(value, std, check_choice("arm", arm, ARMS))


@dataclass(frozen=True)
class LongitudinalDesign:
    """A checked, resolved two-arm longitudinal design (see :func:`resolve_design`).

    ``sd`` holds the SDs ``subject_intercept, subject_slope, cluster_intercept,
    cluster_slope, error`` (``None`` when a component is not in the model) and ``cor`` the
    correlations ``subject, cluster`` (``None`` when not estimated).
    """

    n_sessions: int
    t_end: float
    sd: dict[str, float | None]
    cor: dict[str, float | None]
    caseloads: dict[str, list[int] | RandomCaseloads]
    shared_random: bool
    dropout: dict[str, DropoutProcess | None]
    effect_size: float | CohensD
    partially_nested: bool
    three_level: bool
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def time(self) -> np.ndarray:
        """Session times ``0 .. t_end`` (equally spaced, ``n_sessions`` values)."""
        return np.linspace(0.0, self.t_end, self.n_sessions)

    @property
    def random_sizes(self) -> bool:
        """Whether caseloads are drawn at random."""
        return any(isinstance(c, RandomCaseloads) for c in self.caseloads.values())

    def with_caseloads(self, caseloads: dict[str, list[int]]) -> LongitudinalDesign:
        """The same design with fixed caseloads (one realisation of random ones)."""
        return replace(self, caseloads=caseloads)

    def draw_caseloads(self, rng: np.random.Generator) -> LongitudinalDesign:
        """One realisation of the caseloads (the design itself when they are fixed)."""
        if not self.random_sizes:
            return self
        out: dict[str, list[int]] = {}
        for arm in ARMS:
            c = self.caseloads[arm]
            if isinstance(c, RandomCaseloads):
                if self.shared_random and arm == "treatment" and "control" in out:
                    out[arm] = list(out["control"])
                else:
                    out[arm] = c.sample(rng)
            else:
                out[arm] = list(c)
            if not self.three_level:
                out[arm] = [int(sum(out[arm]))]
        return self.with_caseloads(out)

    def covariances(self, arm: str) -> tuple[np.ndarray, np.ndarray | None, float]:
        """Patient and therapist random-effect covariance matrices and residual variance."""
        u0, u1, v0, v1 = (self.sd[k] or 0.0 for k in
                          ("subject_intercept", "subject_slope", "cluster_intercept",
                           "cluster_slope"))
        cu = self.cor["subject"] or 0.0
        cc = self.cor["cluster"] or 0.0
        Gu = np.array([[u0**2, u0 * u1 * cu], [u0 * u1 * cu, u1**2]])
        if not self.three_level or (self.partially_nested and arm == "control"):
            return Gu, None, float(self.sd["error"]) ** 2
        Gv = np.array([[v0**2, v0 * v1 * cc], [v0 * v1 * cc, v1**2]])
        return Gu, Gv, float(self.sd["error"]) ** 2

    def outcome_sd(self, arm: str) -> np.ndarray:
        """Model-implied SD of the outcome at every session for ``arm``."""
        Gu, Gv, s2 = self.covariances(arm)
        G = Gu if Gv is None else Gu + Gv
        t = self.time
        var = G[0, 0] + 2 * G[0, 1] * t + G[1, 1] * t**2 + s2
        return np.sqrt(var)

    def effect_at_end(self) -> float:
        """Raw difference between the arms at the last session."""
        es = self.effect_size
        if not isinstance(es, CohensD):
            return float(es)
        if es.standardizer == "slope_sd":
            Gu, Gv, _ = self.covariances(es.arm)
            slope_var = Gu[1, 1] + (0.0 if Gv is None else Gv[1, 1])
            return es.d * float(np.sqrt(slope_var)) * self.t_end
        sds = self.outcome_sd(es.arm)
        return es.d * float(sds[0] if es.standardizer == "pretest_sd" else sds[-1])

    def slope_difference(self) -> float:
        """Difference in mean slopes between the arms (the tested coefficient)."""
        return self.effect_at_end() / self.t_end

    def arm_sizes(self) -> dict[str, tuple[int, int]]:
        """Therapists and patients per arm for fixed caseloads (therapists 0 when none)."""
        out = {}
        for arm in ARMS:
            c = self.caseloads[arm]
            if isinstance(c, RandomCaseloads):
                raise ParameterError("caseloads are random; draw a realisation first")
            has_clusters = self.three_level and not (self.partially_nested and arm == "control")
            out[arm] = (len(c) if has_clusters else 0, int(sum(c)))
        return out


# ------------------------------------------------------------------------------------ checks
def _optional(name: str, value: Any, *, low: float, high: float, high_open: bool = True,
              what: str = "") -> float | None:
    if value is None:
        return None
    return check_real(name, value, low=low, high=high, high_open=high_open, what=what)


def _sizes(name: str, value: Any, n_therapists: Any) -> list[int] | RandomCaseloads:
    """Caseload list for one arm from ``n_patients`` and ``n_therapists``."""
    if isinstance(value, RandomCaseloads):
        return value
    if isinstance(value, Integral) and not isinstance(value, bool):
        n = check_int(name, value, 1)
        k = 1 if n_therapists is None else check_int("n_therapists", n_therapists, 1)
        return [n] * k
    if isinstance(value, Sequence | np.ndarray) and not isinstance(value, str):
        sizes = [check_int(f"{name}[{i}]", v, 1) for i, v in enumerate(value)]
        if not sizes:
            raise ParameterError(f"{name} must list at least one caseload")
        if n_therapists is not None and check_int("n_therapists", n_therapists, 1) != len(sizes):
            raise ParameterError(
                f"{name} lists {len(sizes)} caseloads but n_therapists is {n_therapists}; "
                "leave n_therapists out when caseloads are listed"
            )
        return sizes
    raise ParameterError(
        f"{name} must be an integer (patients per therapist), a list of caseloads or "
        f"random_caseloads(...), got {value!r}"
    )


def _check_effect(effect_size: Any) -> float | CohensD:
    if isinstance(effect_size, CohensD):
        return effect_size
    if isinstance(effect_size, Real) and not isinstance(effect_size, bool):
        return check_real("effect_size", effect_size, what="the raw difference at the last session")
    raise ParameterError(
        "effect_size must be a number (raw difference between the arms at the last session) "
        f"or cohens_d(...), got {effect_size!r}"
    )


def _check_dropout(value: Any, arm: str) -> DropoutProcess | None:
    v = value.get(arm) if isinstance(value, PerArm) else value
    if v is None or (isinstance(v, Real) and not isinstance(v, bool) and v == 0):
        return None
    if isinstance(v, DropoutProcess):
        return v
    raise ParameterError(
        "dropout must be None, weibull_dropout(...), manual_dropout(...) or per_arm(...) of "
        f"those, got {v!r}"
    )


def _variance_components(icc_s: float, icc_c: float | None, icc_slope: float | None,
                         var_ratio: float | None, sigma: float) -> dict[str, float | None]:
    """powerlmm's conversion of ICCs and the variance ratio into SDs."""
    s2 = sigma**2
    icc_c0 = 0.0 if icc_c is None else icc_c
    sd: dict[str, float | None] = {
        "subject_intercept": float(np.sqrt(s2 / (1 - icc_s) * (icc_s - icc_c0))),
        "subject_slope": None,
        "cluster_intercept": None if icc_c is None else float(np.sqrt(s2 / (1 - icc_s) * icc_c)),
        "cluster_slope": None,
        "error": sigma,
    }
    if var_ratio is not None:
        share = 0.0 if icc_slope is None else icc_slope
        sd["subject_slope"] = float(np.sqrt(var_ratio * s2 * (1 - share)))
        if icc_slope is not None:
            sd["cluster_slope"] = float(np.sqrt(var_ratio * s2 * icc_slope))
    return sd


def resolve_design(
    n_sessions: int,
    n_patients: Any,
    n_therapists: Any = None,
    *,
    t_end: float | None = None,
    icc_pre_subject: float,
    icc_pre_cluster: float | None = None,
    icc_slope: float | None = None,
    var_ratio: float | None = None,
    effect_size: Any,
    cor_subject: float | None = 0.0,
    cor_cluster: float | None = 0.0,
    sigma_error: float = 10.0,
    partially_nested: bool = False,
    dropout: Any = None,
) -> LongitudinalDesign:
    """Check a design and resolve it into a :class:`LongitudinalDesign`.

    Arguments are those of :func:`~alliancestats.power.longitudinal_power`. A design is
    three-level when ``icc_pre_cluster`` or ``icc_slope`` is given; otherwise ``n_patients``
    (times ``n_therapists`` when given) is the number of patients per arm.
    """
    n1 = check_int("n_sessions", n_sessions, 2)
    t_end_v = float(n1 - 1) if t_end is None else check_positive("t_end", t_end)
    icc_s = check_real("icc_pre_subject", icc_pre_subject, low=0, high=1, high_open=True,
                       what="a proportion of variance")
    icc_c = _optional("icc_pre_cluster", icc_pre_cluster, low=0, high=1,
                      what="a proportion of variance")
    icc_sl = _optional("icc_slope", icc_slope, low=0, high=1, high_open=False,
                       what="a proportion of slope variance")
    vr = None if var_ratio is None else check_real("var_ratio", var_ratio, low=0)
    sigma = check_positive("sigma_error", sigma_error, what="a standard deviation")
    pn = check_bool("partially_nested", partially_nested)
    if icc_c is not None and icc_c > icc_s:
        raise ParameterError(
            f"icc_pre_cluster ({icc_c:g}) cannot exceed icc_pre_subject ({icc_s:g}): the "
            "patient-level ICC includes the therapist variance"
        )
    if icc_sl is not None and vr is None:
        raise ParameterError("icc_slope needs var_ratio (the slope variance it splits)")
    if icc_sl is not None and icc_sl > 0 and vr == 0:
        raise ParameterError("icc_slope cannot be above 0 when var_ratio is 0")
    three = icc_c is not None or icc_sl is not None
    if pn and not three:
        raise ParameterError(
            "partially_nested needs a therapist level: give icc_pre_cluster and/or icc_slope"
        )
    cors = {
        "subject": None if cor_subject is None else check_correlation("cor_subject", cor_subject,
                                                                      allow_bounds=True),
        "cluster": None if cor_cluster is None else check_correlation("cor_cluster", cor_cluster,
                                                                      allow_bounds=True),
    }
    caseloads = _arm_caseloads(n_patients, n_therapists, three)
    return LongitudinalDesign(
        n_sessions=n1,
        t_end=t_end_v,
        sd=_variance_components(icc_s, icc_c, icc_sl, vr, sigma),
        cor=cors,
        caseloads=caseloads,
        shared_random=not isinstance(n_patients, PerArm),
        dropout={arm: _check_dropout(dropout, arm) for arm in ARMS},
        effect_size=_check_effect(effect_size),
        partially_nested=pn,
        three_level=three,
        inputs={"icc_pre_subject": icc_s, "icc_pre_cluster": icc_c, "icc_slope": icc_sl,
                "var_ratio": vr},
    )


def _arm_caseloads(n_patients: Any, n_therapists: Any,
                   three: bool) -> dict[str, list[int] | RandomCaseloads]:
    out: dict[str, list[int] | RandomCaseloads] = {}
    for arm in ARMS:
        n2 = n_patients.get(arm) if isinstance(n_patients, PerArm) else n_patients
        n3 = n_therapists.get(arm) if isinstance(n_therapists, PerArm) else n_therapists
        sizes = _sizes("n_patients", n2, n3)
        if not three and not isinstance(sizes, RandomCaseloads):
            sizes = [int(sum(sizes))]  # two-level: one group of all the arm's patients
        out[arm] = sizes
    return out
