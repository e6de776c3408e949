"""Case-deletion diagnostics for multilevel and multivariate models (metafor's ``rma.mv`` methods).

For each effect size (or each cluster, e.g. a study with several effect sizes) the model is
refitted without it, variance components re-estimated, and compared with the full fit:

* ``cook_d`` -- Cook's distance ``(β̂ − β̂₍₋ᵢ₎)' Var(β̂)⁻¹ (β̂ − β̂₍₋ᵢ₎)``;
* ``dfbetas`` -- ``(β̂ − β̂₍₋ᵢ₎)`` over the SE of β̂ computed with the deleted fit's variance
  components on the full data;
* ``rstudent`` -- deleted residual over its SE (rows), or ``X2``, the quadratic form of the
  deleted residuals of a cluster;
* ``hat`` -- leverage, the diagonal of ``X(X'V⁻¹X)⁻¹X'V⁻¹`` (rows).

Definitions as metafor 3.8-1 ``cooks.distance.rma.mv``, ``dfbetas.rma.mv``,
``rstudent.rma.mv`` and ``hatvalues.rma.mv`` (Viechtbauer & Cheung 2010, Res Synth Methods
1(2)).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import safe_refit
from alliancestats.meta.multilevel import build_model
from alliancestats.models.convergence import single_threaded_blas

__all__ = ["multilevel_influence"]


def _units(result: Any, cluster: Any) -> tuple[list[np.ndarray], pd.Index]:
    k = result.k
    if cluster is None:
        return [np.array([i]) for i in range(k)], pd.Index(
            [str(s) for s in result.labels], name="study"
        )
    if isinstance(cluster, str):
        if cluster not in result.data.columns:
            raise MetaAnalysisError(f"cluster={cluster!r} is not a column of the model's data.")
        values = result.data[cluster].to_numpy()
    else:
        values = np.asarray(cluster)
        if len(values) != k:
            raise MetaAnalysisError(f"cluster has {len(values)} values but the model has {k}.")
    codes, ids = pd.factorize(pd.Series(values), sort=True)
    return [np.flatnonzero(codes == j) for j in range(len(ids))], pd.Index(
        [str(i) for i in ids], name="cluster"
    )


def multilevel_influence(result: Any, cluster: Any = None) -> pd.DataFrame:
    """Influence diagnostics of a multilevel model by deleting rows or whole clusters.

    Parameters
    ----------
    result : MetaResult
        Multilevel or multivariate fit (no robust SEs, no user weights).
    cluster : str or array-like, optional
        Delete whole clusters (a column of the model's data, or one value per row).

    Returns
    -------
    pandas.DataFrame
        Rows: ``rstudent, cook_d, hat`` and ``dfbetas`` (``dfbetas_<term>`` with moderators);
        clusters: ``X2, k, cook_d`` and the DFBETAS.

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats.meta import meta_analysis, influence
    >>> df = pd.DataFrame({"yi": [.1, .3, .2, .5, .4, .0, .3, .2], "vi": [.02] * 8,
    ...                    "study": [1, 1, 2, 2, 3, 3, 4, 4], "es": range(8)})
    >>> infl = influence(meta_analysis(df, random="~ 1 | study/es"), cluster="study")
    >>> infl.columns.tolist()
    ['X2', 'k', 'cook_d', 'dfbetas']
    """
    with single_threaded_blas():
        return _influence(result, cluster)


def _influence(result: Any, cluster: Any) -> pd.DataFrame:
    if result.robust is not None or result.spec.weights is not None:
        raise MetaAnalysisError("Influence diagnostics need a model without robust= or weights=.")
    spec = result.spec
    model, _ = build_model(spec)
    X, y = spec.X, spec.yi
    beta = np.asarray(result.beta, float)
    vb_inv = np.linalg.inv(result.vcov.to_numpy())
    units, index = _units(result, cluster)
    n, p = len(units), X.shape[1]
    stud, x2, cook = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    dfbs = np.full((n, p), np.nan)
    for u, rows in enumerate(units):
        keep = np.ones(result.k, dtype=bool)
        keep[rows] = False
        fit = safe_refit(result, keep)
        if fit is None:
            continue
        dfb = beta - np.asarray(fit.beta, float)
        cook[u] = float(dfb @ vb_inv @ dfb)
        M_tmp = model.covariance(fit.theta)
        vb_tmp = np.linalg.inv(X.T @ np.linalg.solve(M_tmp, X))
        dfbs[u] = dfb / np.sqrt(np.diag(vb_tmp))
        Xi = X[rows]
        resid = y[rows] - Xi @ np.asarray(fit.beta, float)
        S = M_tmp[np.ix_(rows, rows)] + Xi @ fit.vcov.to_numpy() @ Xi.T
        x2[u] = float(resid @ np.linalg.solve(S, resid))
        stud[u] = resid[0] / np.sqrt(S[0, 0])
    out = pd.DataFrame(index=index)
    if cluster is None:
        W = np.linalg.inv(model.covariance(result.theta))
        H = X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W
        out["rstudent"], out["cook_d"], out["hat"] = stud, cook, np.diag(H)
    else:
        out["X2"], out["k"], out["cook_d"] = x2, [len(r) for r in units], cook
    if p == 1:
        out["dfbetas"] = dfbs[:, 0]
    else:
        for j, name in enumerate(result.mod_names):
            out[f"dfbetas_{name}"] = dfbs[:, j]
    return out
