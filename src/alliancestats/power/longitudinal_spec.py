"""Simulation specification of powerlmm's two-arm longitudinal trial (see :func:`longitudinal_spec`).

Examples
--------
>>> from alliancestats.power import longitudinal_spec, cohens_d
>>> spec = longitudinal_spec(5, 4, 3, icc_pre_subject=0.5, icc_slope=0.1, var_ratio=0.03,
...                          effect_size=cohens_d(0.8))
>>> spec.formula
'y ~ time * treatment + (1 + time | patient) + (0 + time | therapist)'
>>> len(spec.data), spec.term
(120, 'time:treatment')
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import ParameterError
from alliancestats.power.design import ARMS, LongitudinalDesign, resolve_design
from alliancestats.power.dropout import dropout_counts
from alliancestats.power.spec import Nesting, SimulationSpec, design_for

__all__ = ["longitudinal_spec"]

TERM = "time:treatment"


def _term(level: str, intercept: bool, slope: bool, correlated: bool, pn: bool) -> str | None:
    one, t = ("treatment", "treatment:time") if pn else ("1", "time")
    parts = [p for p, keep in ((one, intercept), (t, slope)) if keep]
    if not parts:
        return None
    lead = "" if (intercept and not pn) else "0 + "
    bar = "|" if (correlated or len(parts) == 1) else "||"
    return f"({lead}{' + '.join(parts)} {bar} {level})"


def _formula(d: LongitudinalDesign) -> str:
    sd, cor = d.sd, d.cor
    terms = [_term("patient", True, sd["subject_slope"] is not None, cor["subject"] is not None,
                   False)]
    if d.three_level:
        terms.append(_term("therapist", sd["cluster_intercept"] is not None,
                           sd["cluster_slope"] is not None, cor["cluster"] is not None,
                           d.partially_nested))
    return "y ~ time * treatment + " + " + ".join(t for t in terms if t)


def _observed_sessions(counts: np.ndarray, caseloads: list[int]) -> list[np.ndarray]:
    """Sessions observed per patient of each therapist, dropout spread evenly over therapists.

    Patients are dealt to therapists in turn, so each caseload gets a near-equal share of
    every dropout pattern (the allocation of the analytic "expected" dropout).
    """
    n_obs = np.repeat(np.arange(1, len(counts) + 1), counts)
    slots = sorted(((j, k) for k, size in enumerate(caseloads) for j in range(size)))
    out = [np.zeros(size, dtype=int) for size in caseloads]
    for (j, k), m in zip(slots, n_obs, strict=True):
        out[k][j] = m
    return out


def _rows(d: LongitudinalDesign) -> pd.DataFrame:
    t = d.time
    frames = []
    for a, arm in enumerate(ARMS):
        caseloads = d.caseloads[arm]
        counts = dropout_counts(d.dropout[arm], t, int(sum(caseloads)))
        clustered = d.three_level and not (d.partially_nested and arm == "control")
        for k, n_obs in enumerate(_observed_sessions(counts, caseloads)):
            for j, m in enumerate(n_obs):
                pid = f"{arm[0].upper()}{k + 1:02d}-{j + 1:03d}"
                frames.append(pd.DataFrame({
                    "therapist": f"{arm[0].upper()}{k + 1:02d}" if clustered else pid,
                    "patient": pid,
                    "treatment": a,
                    "time": t[:m],
                }))
    return pd.concat(frames, ignore_index=True)


def _covariances(d: LongitudinalDesign, formula: str, rows: pd.DataFrame) -> dict[str, np.ndarray]:
    design, _ = design_for(formula, rows)
    covs = {}
    for b in design.random:
        arm = "treatment"
        Gu, Gv, _ = d.covariances(arm)
        G = Gu if b.group_vars == ("patient",) else Gv
        idx = [1 if (c == "time" or ":" in c) else 0 for c in b.colnames]
        covs[b.group] = G[np.ix_(idx, idx)]
    return covs


def longitudinal_spec(
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
) -> SimulationSpec:
    """Simulation specification of a two-arm longitudinal trial (powerlmm's model).

    Parameters
    ----------
    n_sessions, n_patients, n_therapists, t_end, icc_pre_subject, icc_pre_cluster, icc_slope, var_ratio, effect_size, cor_subject, cor_cluster, sigma_error, partially_nested, dropout
        As in :func:`~alliancestats.power.longitudinal_power` (caseloads must be fixed).

    Returns
    -------
    SimulationSpec
        Rows ``therapist, patient, treatment (0/1), time``; the formula is powerlmm's
        ``create_lmer_formula``: ``y ~ time * treatment`` with a patient term and, in
        three-level designs, a therapist term (``(0 + treatment + treatment:time | therapist)``
        when partially nested, where control patients are their own singleton "therapists"
        without variance). Components set to ``None`` are left out, those set to 0 are kept
        (and are then estimated at the boundary). Fixed effects are 0 except
        ``time:treatment`` (the slope difference), the tested ``term``.
        :func:`~alliancestats.power.power_curve` rebuilds the design for other sizes.

    Notes
    -----
    Dropouts lose their later sessions; an arm's dropout patterns are dealt to therapists in
    turn, so each caseload carries a near-equal share, which is what the analytic default
    (``dropout_allocation="expected"``) assumes.

    Examples
    --------
    >>> from alliancestats.power import cohens_d, weibull_dropout
    >>> spec = longitudinal_spec(11, 25, icc_pre_subject=0.5, var_ratio=0.019,
    ...                          effect_size=cohens_d(-0.5), dropout=weibull_dropout(0.3, 0.5))
    >>> int(spec.data.groupby("patient").size().min()), len(spec.data)
    (1, 440)
    """
    args = dict(n_sessions=n_sessions, n_patients=n_patients, n_therapists=n_therapists,
                t_end=t_end, icc_pre_subject=icc_pre_subject, icc_pre_cluster=icc_pre_cluster,
                icc_slope=icc_slope, var_ratio=var_ratio, effect_size=effect_size,
                cor_subject=cor_subject, cor_cluster=cor_cluster, sigma_error=sigma_error,
                partially_nested=partially_nested, dropout=dropout)
    d = resolve_design(**args)
    if d.random_sizes:
        raise ParameterError(
            "longitudinal_spec needs fixed caseloads; simulate each realisation of "
            "random_caseloads(...) as its own design"
        )
    formula = _formula(d)
    rows = _rows(d)
    fixed = {"(Intercept)": 0.0, "time": 0.0, "treatment": 0.0, TERM: d.slope_difference()}
    return SimulationSpec(
        formula=formula,
        data=rows,
        fixed=fixed,
        covariances=_covariances(d, formula, rows),
        sigma=float(d.sd["error"]),
        term=TERM,
        nesting=Nesting("patient", "therapist" if d.three_level else None, "time", "treatment"),
        builder=partial(longitudinal_spec, **args),
        design_args=args,
    )
