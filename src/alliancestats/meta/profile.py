"""Profile-likelihood confidence intervals for variance components.

For each variance parameter θ_j the interval is ``{v : 2[ℓ(θ̂) − ℓ_p(v)] ≤ χ²₁(level)}``
where ``ℓ_p(v)`` maximises the (restricted) log-likelihood over the other parameters with
``θ_j = v`` (Hardy & Thompson 1996, Stat Med 15(6); metafor's ``confint(rma.mv)`` and
``confint(rma.uni, type = "PL")``). A bound at which the parameter space ends (a variance at
0, a correlation at ±1) is returned as that value.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta.heterogeneity import loglik_uni
from alliancestats.meta.multilevel import build_model
from alliancestats.models.convergence import single_threaded_blas

__all__ = ["profile_intervals"]


def _bound(
    deficit: Callable[[float], float], estimate: float, limit: float, direction: int
) -> float:
    """Where ``deficit`` (≤ 0 inside the interval) crosses 0 between the estimate and a limit."""
    if np.isfinite(limit):
        if deficit(limit) <= 0:
            return float(limit)
        return float(optimize.brentq(deficit, *sorted((estimate, limit)), xtol=1e-12, rtol=1e-10))
    step = max(abs(estimate), 0.01)
    far = estimate + direction * step
    while deficit(far) <= 0:
        step *= 4
        far = estimate + direction * step
        if step > 1e8:
            return float("inf")
    return float(optimize.brentq(deficit, *sorted((estimate, far)), xtol=1e-12, rtol=1e-10))


def _univariate(spec: Any, result: Any, crit: float) -> pd.DataFrame:
    if spec.method not in ("ML", "REML"):
        raise MetaAnalysisError("Profile-likelihood intervals need method='REML' or 'ML'.")
    reml = spec.method == "REML"
    ll_max = loglik_uni(result.tau2, spec.yi, spec.vi, spec.X, reml=reml)

    def deficit(t: float) -> float:
        return 2 * (ll_max - loglik_uni(t, spec.yi, spec.vi, spec.X, reml=reml)) - crit

    lo = _bound(deficit, result.tau2, 0.0, -1) if result.tau2 > 0 else 0.0
    hi = _bound(deficit, result.tau2, np.inf, 1)
    rows = {
        "tau2": (result.tau2, lo, hi),
        "tau": (np.sqrt(result.tau2), np.sqrt(lo), np.sqrt(hi)),
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low", "ci_high"])


def _multilevel(spec: Any, result: Any, crit: float) -> pd.DataFrame:
    model, _ = build_model(spec)
    reml = spec.method == "REML"
    theta = np.asarray(result.theta, float)
    ll_max = model.evaluate(theta, reml)["ll"]
    lower, upper = model.bounds()
    kinds = ["var"] * model.m + [k for t in model.structured for k in t.cov.kinds]
    names = [f"sigma^2.{j + 1}" for j in range(model.m)] + [
        n for t in model.structured for n in t.cov.param_names
    ]
    held = {j: float(theta[j]) for j in set(spec.fixed) | _fixed_by_result(result, names)}
    rows = {}
    for j in range(model.n_params):
        if j in held:
            continue

        def deficit(v: float, j: int = j) -> float:
            est, _, _ = model.fit(reml, {**held, j: v}, start=theta)
            return 2 * (ll_max - model.evaluate(est, reml)["ll"]) - crit

        lo = _bound(deficit, theta[j], lower[j], -1) if theta[j] > lower[j] else lower[j]
        hi = _bound(deficit, theta[j], upper[j], 1) if theta[j] < upper[j] else upper[j]
        if kinds[j] == "sd":
            rows[names[j]] = (theta[j] ** 2, lo**2, hi**2)
        else:
            rows[names[j]] = (theta[j], lo, hi)
    return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_low", "ci_high"])


def _fixed_by_result(result: Any, names: list[str]) -> set[int]:
    """Parameters the fit held fixed (user values, single-level factors)."""
    flags = result.components["fixed"].to_numpy(dtype=bool)
    comp_names = list(result.components.index)
    return {names.index(n) for n, f in zip(comp_names, flags, strict=True) if f and n in names}


def profile_intervals(spec: Any, result: Any, level: float) -> pd.DataFrame:
    """Profile-likelihood intervals for every estimated variance parameter of ``result``.

    Parameters
    ----------
    spec : ModelSpec
        The model specification of ``result``.
    result : MetaResult
        A REML or ML fit.
    level : float
        Confidence level in percent.

    Returns
    -------
    pandas.DataFrame
        Index: ``tau2, tau`` (univariate) or the component names (``sigma^2.1``, ``tau^2``,
        ``rho``, ...); columns ``estimate, ci_low, ci_high``.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.03, 0.03, 0.05, 0.01, 0.05, 0.02])
    >>> ci = res.confint(type="PL")
    >>> bool(ci.loc["tau2", "ci_low"] <= res.tau2 <= ci.loc["tau2", "ci_high"])
    True
    """
    crit = float(stats.chi2.ppf(level / 100.0, 1))
    if not result.multilevel:
        return _univariate(spec, result, crit)
    if spec.method not in ("ML", "REML"):
        raise MetaAnalysisError("Profile-likelihood intervals need method='REML' or 'ML'.")
    with single_threaded_blas():
        return _multilevel(spec, result, crit)
