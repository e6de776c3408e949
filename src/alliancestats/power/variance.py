"""What the variance components of a longitudinal design imply over the sessions.

* :func:`variance_partition` -- the share of the outcome variance at each level per session
  (powerlmm's ``get_VPC``) and the implied outcome SD (``get_sds``);
* :func:`implied_correlation` -- the correlation between a patient's sessions implied by the
  random intercepts and slopes (powerlmm's ``get_correlation_matrix``).

Both take the variance arguments of :func:`~alliancestats.power.longitudinal_power`.

Examples
--------
>>> from alliancestats.power import variance_partition
>>> vp = variance_partition(11, icc_pre_subject=0.5, icc_pre_cluster=0.1, icc_slope=0.05,
...                         var_ratio=0.02)
>>> vp.loc[0, ["therapists", "patients", "within"]].round(1).tolist()
[10.0, 40.0, 50.0]
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from alliancestats.power.design import LongitudinalDesign, resolve_design

__all__ = ["implied_correlation", "variance_partition"]


def _design(n_sessions: int, **variances) -> LongitudinalDesign:
    return resolve_design(n_sessions, 1, None, effect_size=0.0, **variances)


def _level_variances(d: LongitudinalDesign, arm: str) -> tuple[np.ndarray, np.ndarray, float]:
    Gu, Gv, s2 = d.covariances(arm)
    t = d.time
    patient = Gu[0, 0] + 2 * Gu[0, 1] * t + Gu[1, 1] * t**2
    therapist = (np.zeros_like(t) if Gv is None
                 else Gv[0, 0] + 2 * Gv[0, 1] * t + Gv[1, 1] * t**2)
    return therapist, patient, s2


def variance_partition(
    n_sessions: int,
    *,
    t_end: float | None = None,
    icc_pre_subject: float,
    icc_pre_cluster: float | None = None,
    icc_slope: float | None = None,
    var_ratio: float | None = None,
    cor_subject: float | None = 0.0,
    cor_cluster: float | None = 0.0,
    sigma_error: float = 10.0,
) -> pd.DataFrame:
    """Variance partition coefficients per session (therapist, patient and within-patient).

    Parameters
    ----------
    n_sessions, t_end, icc_pre_subject, icc_pre_cluster, icc_slope, var_ratio, cor_subject, cor_cluster, sigma_error
        As in :func:`~alliancestats.power.longitudinal_power`.

    Returns
    -------
    pandas.DataFrame
        One row per session: ``time``, the percentage of the outcome variance between
        therapists (``therapists``), between patients (``patients``) and within patients
        (``within``), ``total_change`` (percentage change of the total variance since the
        first session) and ``sd`` (the implied outcome SD, the denominator of
        ``cohens_d(..., standardizer="pretest_sd" / "posttest_sd")``).

    Notes
    -----
    With random slopes the variance changes over time:
    ``var(t) = u0² + 2 u01 t + u1² t² + v0² + 2 v01 t + v1² t² + sigma²``
    (Goldstein, Browne & Rasbash 2002, Underst Stat 1(4)). Matches powerlmm 0.4.0's
    ``get_VPC`` and ``get_sds`` (its test cases exactly).

    Examples
    --------
    >>> vp = variance_partition(3, icc_pre_subject=0.5, var_ratio=0.05)
    >>> vp["sd"].round(3).tolist()
    [14.142, 14.318, 14.832]
    """
    d = _design(n_sessions, t_end=t_end, icc_pre_subject=icc_pre_subject,
                icc_pre_cluster=icc_pre_cluster, icc_slope=icc_slope, var_ratio=var_ratio,
                cor_subject=cor_subject, cor_cluster=cor_cluster, sigma_error=sigma_error)
    therapist, patient, s2 = _level_variances(d, "treatment")
    total = therapist + patient + s2
    return pd.DataFrame({
        "time": d.time,
        "therapists": 100 * therapist / total,
        "patients": 100 * patient / total,
        "within": 100 * s2 / total,
        "total_change": 100 * (total / total[0] - 1),
        "sd": np.sqrt(total),
    })


def implied_correlation(
    n_sessions: int,
    *,
    t_end: float | None = None,
    icc_pre_subject: float,
    icc_pre_cluster: float | None = None,
    icc_slope: float | None = None,
    var_ratio: float | None = None,
    cor_subject: float | None = 0.0,
    cor_cluster: float | None = 0.0,
    sigma_error: float = 10.0,
) -> pd.DataFrame:
    """Correlation between a patient's sessions implied by the model.

    Parameters
    ----------
    n_sessions, t_end, icc_pre_subject, icc_pre_cluster, icc_slope, var_ratio, cor_subject, cor_cluster, sigma_error
        As in :func:`~alliancestats.power.longitudinal_power`.

    Returns
    -------
    pandas.DataFrame
        ``n_sessions x n_sessions`` correlation matrix, rows and columns labelled by time
        (rounded to 1 decimal), including the therapist-level variance as powerlmm does.

    Notes
    -----
    ``cov2cor(Z (G_u + G_v) Z' + sigma² I)`` with ``Z = [1, t]``; powerlmm 0.4.0's
    ``get_correlation_matrix`` (its test cases: .5 off the diagonal without slopes).

    Examples
    --------
    >>> r = implied_correlation(4, icc_pre_subject=0.5)
    >>> float(r.iloc[0, 3])
    0.5
    """
    d = _design(n_sessions, t_end=t_end, icc_pre_subject=icc_pre_subject,
                icc_pre_cluster=icc_pre_cluster, icc_slope=icc_slope, var_ratio=var_ratio,
                cor_subject=cor_subject, cor_cluster=cor_cluster, sigma_error=sigma_error)
    Gu, Gv, s2 = d.covariances("treatment")
    G = Gu if Gv is None else Gu + Gv
    Z = np.column_stack([np.ones(d.n_sessions), d.time])
    V = Z @ G @ Z.T + s2 * np.eye(d.n_sessions)
    sd = np.sqrt(np.diag(V))
    R = V / np.outer(sd, sd)
    np.fill_diagonal(R, 1.0)  # exactly 1, as R's cov2cor
    labels = np.round(d.time, 1)
    return pd.DataFrame(R, index=labels, columns=labels)
