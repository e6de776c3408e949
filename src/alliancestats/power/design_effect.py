"""Design effect of ignoring the therapist slope (powerlmm's ``get_DEFT``).

Examples
--------
>>> from alliancestats.power import design_effect
>>> de = design_effect(11, 30, 3, icc_pre_subject=0.5, icc_pre_cluster=0, icc_slope=0.05,
...                    var_ratio=0.02)
>>> round(float(de["deft"]), 4), round(float(de["approx_type1"]), 4)
(1.4131, 0.1654)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
from scipy import stats

from alliancestats.errors import ParameterError
from alliancestats.power.design import resolve_design
from alliancestats.power.information import build_groups, effect_information

__all__ = ["design_effect"]


def design_effect(
    n_sessions: int,
    n_patients: Any,
    n_therapists: Any = None,
    *,
    t_end: float | None = None,
    icc_pre_subject: float,
    icc_pre_cluster: float | None = None,
    icc_slope: float,
    var_ratio: float,
    cor_subject: float | None = 0.0,
    cor_cluster: float | None = 0.0,
    sigma_error: float = 10.0,
    dropout: Any = None,
) -> pd.Series:
    """Design effect (DEFT) of leaving the therapist random slope out of the model.

    Parameters
    ----------
    n_sessions, n_patients, n_therapists, t_end, icc_pre_subject, icc_pre_cluster, icc_slope, var_ratio, cor_subject, cor_cluster, sigma_error, dropout
        As in :func:`~alliancestats.power.longitudinal_power` (a fully nested three-level
        design with a therapist slope).

    Returns
    -------
    pandas.Series
        ``se_correct`` (SE of the time x treatment effect under the three-level model),
        ``se_misspecified`` (under a model that adds the therapist slope variance to the
        patient slope), ``deft`` (their ratio), ``approx_type1`` (the Type I error of a
        nominal .05 test under the misspecified model), ``icc_slope`` and ``var_ratio``.

    Raises
    ------
    ParameterError
        Invalid design inputs or random caseloads.

    Notes
    -----
    ``approx_type1 = 2 Phi(z_.025 (1 + b))`` with ``b = (se_mis - se) / se``, as powerlmm
    0.4.0's ``get_DEFT`` (Magnusson; see also Moerbeek 2004, Multivariate Behav Res 39(1) on
    ignoring a level). Its test case (``deft`` equals the ratio of the SEs with and without
    the therapist slope) is reproduced exactly.

    Examples
    --------
    >>> de = design_effect(11, 10, 3, icc_pre_subject=0.5, icc_pre_cluster=0, icc_slope=0.1,
    ...                    var_ratio=0.05, sigma_error=1)
    >>> bool(de["deft"] > 1)
    True
    """
    d = resolve_design(n_sessions, n_patients, n_therapists, t_end=t_end,
                       icc_pre_subject=icc_pre_subject, icc_pre_cluster=icc_pre_cluster,
                       icc_slope=icc_slope, var_ratio=var_ratio, effect_size=0.0,
                       cor_subject=cor_subject, cor_cluster=cor_cluster,
                       sigma_error=sigma_error, dropout=dropout)
    if d.random_sizes:
        raise ParameterError("design_effect needs fixed caseloads, not random_caseloads(...)")
    sd = dict(d.sd)
    mis = dict(sd, subject_slope=(sd["subject_slope"] ** 2 + sd["cluster_slope"] ** 2) ** 0.5,
               cluster_slope=None)
    se1 = effect_information(d, build_groups(d), satterthwaite=False).se
    d2 = replace(d, sd=mis)
    se2 = effect_information(d2, build_groups(d2), satterthwaite=False).se
    bias = (se2 - se1) / se1
    return pd.Series({
        "se_correct": se1,
        "se_misspecified": se2,
        "deft": se1 / se2,
        "approx_type1": 2 * stats.norm.cdf(stats.norm.ppf(0.025) * (1 + bias)),
        "icc_slope": d.inputs["icc_slope"],
        "var_ratio": d.inputs["var_ratio"],
    })
