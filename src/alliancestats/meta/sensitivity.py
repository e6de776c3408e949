"""Sensitivity analyses: leave-one-out, case-deletion influence diagnostics, cumulative meta-analysis.

Public functions
----------------
leave_one_out
    Refit the model k times, each time omitting one study (metafor ``leave1out``).
influence
    Case-deletion diagnostics of Viechtbauer & Cheung (2010): externally studentised residuals,
    DFFITS, Cook's distance, covariance ratio, τ² and Q_E after deletion, hat values, weights,
    DFBETAS and a flag for influential studies (metafor ``influence.rma.uni``).
cumulative
    Cumulative meta-analysis: add the studies one at a time in a chosen order (metafor
    ``cumul``).
baujat_values
    Coordinates of the Baujat et al. (2002) plot (metafor ``baujat``), used by
    :func:`alliancestats.plot.baujat`.

Every refit uses :meth:`MetaResult.refit`, i.e. the same τ² estimator, test and level as the
model passed in. Validated against metafor 3.8-1 (see the validation page of the
documentation).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import (
    require_intercept_only,
    require_result,
    require_univariate,
    safe_refit,
    study_arrays,
)
from alliancestats.meta.influence_multilevel import multilevel_influence

__all__ = ["baujat_values", "cumulative", "influence", "leave_one_out"]

_SUMMARY_COLUMNS = (
    "estimate",
    "se",
    "stat",
    "p",
    "ci_low",
    "ci_high",
    "q",
    "q_p",
    "tau2",
    "i2",
    "h2",
)


def _stat_name(result: Any) -> str:
    return "z" if str(result.test).lower() == "z" else "t"


def _summary_row(fit: Any | None) -> list[float]:
    if fit is None:
        return [float("nan")] * len(_SUMMARY_COLUMNS)
    stat = fit.estimate / fit.se if fit.se > 0 else float("nan")
    p_value = float(fit.table["p"].iloc[0])
    return [
        fit.estimate,
        fit.se,
        stat,
        p_value,
        fit.ci_low,
        fit.ci_high,
        fit.q,
        fit.q_p,
        fit.tau2,
        fit.i2,
        fit.h2,
    ]


def _summary_frame(rows: list[list[float]], index: pd.Index, result: Any) -> pd.DataFrame:
    frame = pd.DataFrame(rows, index=index, columns=list(_SUMMARY_COLUMNS), dtype=float)
    return frame.rename(columns={"stat": _stat_name(result)})


def leave_one_out(result: Any) -> pd.DataFrame:
    """Leave-one-out sensitivity analysis: the pooled result without each study in turn.

    Parameters
    ----------
    result : MetaResult
        Fitted model without moderators.

    Returns
    -------
    pandas.DataFrame
        One row per omitted study (index ``omitted``, the study labels) with columns
        ``estimate, se, z`` (``t`` under ``test="knha"``)``, p, ci_low, ci_high, q, q_p, tau2,
        i2, h2`` of the model fitted without that study. A model that cannot be fitted gives
        a row of ``nan``.

    Raises
    ------
    MetaAnalysisError
        For models with moderators, three-level or cluster-robust models, or fewer than 2
        studies.

    Notes
    -----
    A simple influence check (Viechtbauer & Cheung 2010): studies whose omission moves the
    estimate or τ² markedly deserve a look. The same τ² estimator, test and level are used as
    in ``result``.

    Validated against metafor 3.8-1 ``leave1out()`` on ``dat.molloy2014`` and ``dat.bcg``
    (REML): relative tolerance 1e-5 (every row contains an iterative τ²; observed agreement is
    about 1e-9 with metafor run to a tight convergence threshold).

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
    meta-analysis. Research Synthesis Methods, 1(2), 112-125.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, leave_one_out
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> loo = leave_one_out(res)
    >>> loo.shape, list(loo.columns[:4])
    ((6, 11), ['estimate', 'se', 'z', 'p'])
    """
    require_univariate(result, "Leave-one-out analysis")
    require_intercept_only(result, "Leave-one-out analysis")
    k = int(result.k)
    if k < 2:
        raise MetaAnalysisError("Leave-one-out analysis needs at least 2 studies.")
    rows = []
    for i in range(k):
        keep = np.ones(k, dtype=bool)
        keep[i] = False
        rows.append(_summary_row(safe_refit(result, keep)))
    index = pd.Index([str(x) for x in result.labels], name="omitted")
    return _summary_frame(rows, index, result)


def _sort_key(result: Any, order: Any) -> np.ndarray:
    """Positions of the studies in cumulative order (stable, ties keep the data order)."""
    k = int(result.k)
    if order is None:
        return np.arange(k)
    if isinstance(order, str):
        data = result.data
        if order not in data.columns:
            raise MetaAnalysisError(
                f"order={order!r} is not a column of the model's data; available: "
                f"{', '.join(map(str, data.columns))}."
            )
        key = pd.Series(data[order].to_numpy())
    else:
        key = pd.Series(np.asarray(order))
        if len(key) != k:
            raise MetaAnalysisError(f"order has {len(key)} values but the model has {k} studies.")
    if key.isna().any():
        raise MetaAnalysisError("order contains missing values; every study needs a position.")
    return np.asarray(key.sort_values(kind="stable").index, dtype=int)


def cumulative(result: Any, order: str | Sequence[Any] | np.ndarray | None = None) -> pd.DataFrame:
    """Cumulative meta-analysis: refit after adding each study in turn.

    Parameters
    ----------
    result : MetaResult
        Fitted model without moderators.
    order : str or array-like, optional
        Sort key: a column of ``result.data`` (e.g. ``"year"``) or one value per study. Studies
        are added in ascending order of the key; ties keep the data order. ``None`` keeps the
        data order. For descending order pass the negated key.

    Returns
    -------
    pandas.DataFrame
        One row per step (index ``added``, the label of the study added at that step) with
        ``estimate, se, z`` (or ``t``)``, p, ci_low, ci_high, q, q_p, tau2, i2, h2`` of the
        model fitted to the studies added so far (the first row is the first study alone,
        with τ² = 0). Steps that cannot be fitted (e.g. Knapp–Hartung with one study) are
        ``nan``.

    Raises
    ------
    MetaAnalysisError
        For models with moderators, three-level or cluster-robust models, an unknown column
        or a key of the wrong length.

    Notes
    -----
    Shows how the evidence accumulated, e.g. by publication year (Lau et al. 1992, N Engl J
    Med 327(4)). The same τ² estimator, test and level are used as in ``result``.

    Validated against metafor 3.8-1 ``cumul()`` ordered by year on ``dat.molloy2014`` and
    ``dat.bcg`` (REML): relative tolerance 1e-5 (iterative τ²; observed about 1e-9).

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, cumulative
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> cum = cumulative(res, order=[2004, 1999, 2010, 2001, 2015, 2012])
    >>> list(cum.index[:2]), round(float(cum["estimate"].iloc[0]), 2)
    (['Study 2', 'Study 4'], 0.3)
    """
    require_univariate(result, "Cumulative meta-analysis")
    require_intercept_only(result, "Cumulative meta-analysis")
    positions = _sort_key(result, order)
    k = int(result.k)
    rows = []
    for step in range(1, k + 1):
        rows.append(_summary_row(safe_refit(result, positions[:step])))
    labels = [str(result.labels[i]) for i in positions]
    return _summary_frame(rows, pd.Index(labels, name="added"), result)


def _deletion_fits(result: Any) -> Iterator[tuple[int, Any | None]]:
    k = int(result.k)
    for i in range(k):
        keep = np.ones(k, dtype=bool)
        keep[i] = False
        yield i, safe_refit(result, keep)


def _inverse_xwx(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.linalg.inv(X.T @ (X * w[:, None]))


def influence(result: Any, cluster: Any = None) -> pd.DataFrame:
    """Case-deletion influence diagnostics for a random-effects model or meta-regression.

    Parameters
    ----------
    result : MetaResult
        Fitted model (moderators allowed). Multilevel and multivariate models get the
        diagnostics of :func:`alliancestats.meta.influence_multilevel.multilevel_influence`.
    cluster : str or array-like, optional
        Multilevel models: delete whole clusters (e.g. studies) instead of single rows.

    Returns
    -------
    pandas.DataFrame
        Univariate models: one row per study (index ``study``) with columns

        - ``rstudent``: externally studentised residual (deleted residual over its SE),
        - ``dffits``: change in the fitted value in SE units,
        - ``cook_d``: Cook's distance (Mahalanobis distance between β̂ and β̂₍₋ᵢ₎ in the
          metric of Var β̂, all coefficients),
        - ``cov_r``: covariance ratio ``det(Var β̂₍₋ᵢ₎) / det(Var β̂)``,
        - ``tau2_del``, ``qe_del``: τ² and Q_E without the study,
        - ``hat``: leverage; ``weight``: weight in percent,
        - ``dfbetas`` (intercept-only) or ``dfbetas_<term>`` per coefficient,
        - ``inf``: True when the study is influential by metafor's rule (any of
          ``|DFFITS|`` > 3√(p/(k−p)), P(χ²_m ≤ Cook's D) > .5, hat > 3p/k, ``|DFBETAS|`` > 1).

        Rows for studies whose deletion leaves an inestimable model are ``nan`` (``inf``
        False).

    Raises
    ------
    MetaAnalysisError
        For three-level or cluster-robust models, or fewer than 2 studies.

    Notes
    -----
    Definitions follow Viechtbauer & Cheung (2010) as implemented in metafor's
    ``influence.rma.uni`` (same τ² estimator and test as ``result``; under Knapp–Hartung the
    residual scale of each deleted fit enters as there).

    Validated against metafor 3.8-1 ``influence()`` on ``dat.molloy2014`` and ``dat.bcg``
    (REML): hat values and weights are closed form given τ² (relative tolerance 1e-5 because
    τ² is iterative), all deletion statistics 1e-5 (iterative τ² per deletion; observed about
    1e-8).

    References
    ----------
    Viechtbauer, W., & Cheung, M. W.-L. (2010). Outlier and influence diagnostics for
    meta-analysis. Research Synthesis Methods, 1(2), 112-125.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, influence
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> infl = influence(res)
    >>> list(infl.columns)
    ['rstudent', 'dffits', 'cook_d', 'cov_r', 'tau2_del', 'qe_del', 'hat', 'weight', 'dfbetas', 'inf']
    >>> round(float(infl["hat"].sum()), 6)  # hat values sum to the number of coefficients
    1.0
    """
    require_result(result, "influence()")
    if getattr(result, "components", None) is not None:
        return multilevel_influence(result, cluster)
    if cluster is not None:
        raise MetaAnalysisError("cluster= applies to multilevel models (fitted with random=).")
    require_univariate(result, "influence()")
    yi, vi, X = study_arrays(result)
    k, p = X.shape
    if k < 2:
        raise MetaAnalysisError("Influence diagnostics need at least 2 studies.")
    beta = np.asarray(result.beta, dtype=float)
    vb = np.asarray(result.vcov, dtype=float)
    names = list(result.mod_names)
    vb_inv = np.linalg.inv(vb)
    det_vb = float(np.linalg.det(vb))

    w_full = 1.0 / (vi + result.tau2)
    hat = np.einsum("ij,jk,ik->i", X, _inverse_xwx(X, w_full), X) * w_full
    pred_full = X @ beta

    out = {
        name: np.full(k, np.nan)
        for name in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del")
    }
    dfbs = np.full((k, p), np.nan)
    for i, fit in _deletion_fits(result):
        if fit is None:
            continue
        beta_i = np.asarray(fit.beta, dtype=float)
        vb_i = np.asarray(fit.vcov, dtype=float)
        tau2_i = float(fit.tau2)
        s2w_i = float(fit.s2w)  # Knapp-Hartung factor of the deleted fit (1 for z/t)
        xi = X[i]
        delpred = float(xi @ beta_i)
        vdelpred = float(xi @ vb_i @ xi)
        resid = yi[i] - delpred
        if abs(resid) < 100 * np.finfo(float).eps:
            resid = 0.0
        out["rstudent"][i] = resid / np.sqrt(vi[i] * s2w_i + vdelpred + tau2_i * s2w_i)
        out["dffits"][i] = (pred_full[i] - delpred) / np.sqrt(s2w_i * hat[i] * (tau2_i + vi[i]))
        vb_del = _inverse_xwx(X, 1.0 / (vi + tau2_i))
        dfbs[i] = (beta - beta_i) / np.sqrt(s2w_i * np.diag(vb_del))
        dfb = beta - beta_i
        out["cook_d"][i] = float(dfb @ vb_inv @ dfb)
        out["cov_r"][i] = float(np.linalg.det(vb_i)) / det_vb
        out["tau2_del"][i] = tau2_i
        out["qe_del"][i] = float(fit.q)

    frame = pd.DataFrame(out, index=pd.Index([str(x) for x in result.labels], name="study"))
    frame["hat"] = hat
    frame["weight"] = np.asarray(result.weights, dtype=float)
    if p == 1:
        frame["dfbetas"] = dfbs[:, 0]
    else:
        for j, name in enumerate(names):
            frame[f"dfbetas_{name}"] = dfbs[:, j]
    with np.errstate(invalid="ignore"):
        flagged = (
            (np.abs(frame["dffits"].to_numpy()) > 3.0 * np.sqrt(p / (k - p)) if k > p else False)
            | (stats.chi2.cdf(frame["cook_d"].to_numpy(), df=p) > 0.5)
            | (hat > 3.0 * p / k)
            | np.any(np.abs(dfbs) > 1.0, axis=1)
        )
    frame["inf"] = np.asarray(flagged, dtype=bool)
    return frame


def baujat_values(result: Any) -> pd.DataFrame:
    """Coordinates of the Baujat plot: contribution to Q against influence on the estimate.

    Parameters
    ----------
    result : MetaResult
        Fitted univariate model (moderators allowed).

    Returns
    -------
    pandas.DataFrame
        Index ``study``; column ``x`` = squared Pearson residual ``e_i² / (v_i + τ²)`` (the
        study's contribution to the heterogeneity statistic; with τ² = 0 exactly its share of
        Cochran's Q) and ``y`` = ``(ŷ_i − ŷ_i(−i))² / Var(ŷ_i(−i))``, the standardised squared
        change in the study's fitted value when it is left out.

    Notes
    -----
    Baujat et al. (2002) proposed the plot for fixed-effect meta-analysis; this is metafor's
    generalisation (``baujat.rma``) to random-effects models and meta-regression. Validated
    against metafor 3.8-1 ``baujat()`` on ``dat.molloy2014`` and ``dat.bcg`` (relative
    tolerance 1e-5; iterative τ²).

    References
    ----------
    Baujat, B., Mahé, C., Pignon, J.-P., & Hill, C. (2002). A graphical method for exploring
    heterogeneity in meta-analyses: Application to a meta-analysis of 65 trials. Statistics
    in Medicine, 21(18), 2641-2652.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> from alliancestats.meta.sensitivity import baujat_values
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> list(baujat_values(res).columns)
    ['x', 'y']
    """
    require_univariate(result, "The Baujat plot")
    yi, vi, X = study_arrays(result)
    k = len(yi)
    if k < 2:
        raise MetaAnalysisError("The Baujat plot needs at least 2 studies.")
    beta = np.asarray(result.beta, dtype=float)
    pred_full = X @ beta
    x = (yi - pred_full) ** 2 / (result.tau2 + vi)
    y = np.full(k, np.nan)
    for i, fit in _deletion_fits(result):
        if fit is None:
            continue
        xi = X[i]
        delpred = float(xi @ np.asarray(fit.beta, dtype=float))
        vdelpred = float(xi @ np.asarray(fit.vcov, dtype=float) @ xi)
        y[i] = (delpred - pred_full[i]) ** 2 / vdelpred
    return pd.DataFrame(
        {"x": x, "y": y}, index=pd.Index([str(s) for s in result.labels], name="study")
    )
