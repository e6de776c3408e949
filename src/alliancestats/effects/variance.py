"""Variance components of a mixed model on the scale of the linear predictor.

The pieces behind :func:`~alliancestats.effects.icc` and :func:`~alliancestats.effects.r2`
(Nakagawa & Schielzeth 2013, Methods Ecol Evol 4(2); Johnson 2014, Methods Ecol Evol 5(9);
Nakagawa, Johnson & Schielzeth 2017, J R Soc Interface 14(134)), computed as
``insight::get_variance`` does:

* fixed: the variance of the fixed-effects predictions ``X b`` over the fitted rows;
* random: for every random-effects term the mean over rows of ``z' Sigma z`` (Johnson's
  generalisation, which reduces to the intercept variance without random slopes), summed over
  terms; terms with one level per observation (observation-level random effects) count as
  dispersion instead;
* distribution: the residual variance for linear mixed models; ``pi^2 / 3`` (logit), 1
  (probit) and ``pi^2 / 6`` (cloglog) for binomial models; for Poisson models
  ``log(1 + 1/lambda)`` (lognormal), ``1/lambda`` (delta) or ``trigamma(lambda)`` with
  ``lambda = exp(b0)``, ``b0`` the intercept of the null model (same random effects, no
  fixed predictors), as insight 0.19 computes it.

Examples
--------
>>> import alliancestats as als
>>> from alliancestats.effects.variance import variance_components
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> vc = variance_components(als.lmm("pain ~ session + (1 | patient)", df))
>>> sorted(vc.to_series().index)[:3]
['dispersion', 'distribution', 'fixed']
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from alliancestats._validation import check_choice
from alliancestats.effects import _model
from alliancestats.errors import ModelSpecificationError, SingularFitWarning

__all__ = ["POISSON_APPROXIMATIONS", "VarianceComponents", "term_covariance", "variance_components"]

#: Poisson distribution-specific variance approximations (Nakagawa et al. 2017, table 1)
POISSON_APPROXIMATIONS = ("lognormal", "delta", "trigamma")

_BINOMIAL = {"logit": (math.pi**2 / 3, "logit link: pi^2/3"), "probit": (1.0, "probit link: 1"),
             "cloglog": (math.pi**2 / 6, "cloglog link: pi^2/6")}


@dataclass
class VarianceComponents:
    """Variance components of a fitted mixed model (see the module docstring).

    Attributes
    ----------
    fixed, random, distribution, dispersion : float
        Variance of the fixed-effects predictions; random-effect variance (Johnson 2014);
        distribution-specific variance; observation-level random-effect variance (GLMM).
    residual : float
        ``distribution + dispersion``.
    intercept : dict
        Random-intercept variance per grouping factor (terms with an intercept).
    slope : dict
        Random-slope variances, keyed ``"<group>.<term>"``.
    method : str
        How the distribution-specific variance was obtained.
    lam : float or None
        Poisson: ``exp`` of the null-model intercept.
    approximations : dict
        Poisson: distribution-specific variance under each of :data:`POISSON_APPROXIMATIONS`.
    singular : bool
        The fit is singular (a variance component on its boundary).
    """

    fixed: float
    random: float
    distribution: float
    dispersion: float
    intercept: dict[str, float]
    slope: dict[str, float]
    method: str
    singular: bool = False
    lam: float | None = None
    approximations: dict[str, float] = field(default_factory=dict)
    random_slopes: bool = False

    @property
    def residual(self) -> float:
        """Distribution-specific plus dispersion variance."""
        return self.distribution + self.dispersion

    def to_series(self) -> pd.Series:
        """The scalar components as a Series."""
        return pd.Series(
            {
                "fixed": self.fixed,
                "random": self.random,
                "residual": self.residual,
                "distribution": self.distribution,
                "dispersion": self.dispersion,
            },
            name="variance",
        )


def term_covariance(varcorr: pd.DataFrame, name: str, columns: list[str]) -> np.ndarray:
    """The covariance matrix of one random-effects term from lme4's varcorr layout."""
    rows = varcorr[varcorr["grp"] == name]
    q = len(columns)
    sigma = np.zeros((q, q))
    pos = {c: i for i, c in enumerate(columns)}
    for _, r in rows.iterrows():
        i = pos.get(r["var1"])
        if i is None:
            continue
        v2 = r["var2"]
        if v2 is None or (isinstance(v2, float) and math.isnan(v2)):
            sigma[i, i] = float(r["vcov"])
        elif v2 in pos:
            sigma[i, pos[v2]] = sigma[pos[v2], i] = float(r["vcov"])
    return sigma


def _fixed_variance(result: Any) -> float:
    X = _model.fixed_matrix(result)
    beta = result.fixed["estimate"].to_numpy(dtype=float)
    pred = X @ beta
    return float(np.var(pred, ddof=1)) if pred.size > 1 else 0.0


def _random_parts(result: Any) -> tuple[float, float, dict, dict, bool]:
    """Random variance (Johnson), observation-level variance, intercepts, slopes, any slopes."""
    random = dispersion = 0.0
    intercept: dict[str, float] = {}
    slope: dict[str, float] = {}
    any_slope = False
    for term in _model.random_terms(result):
        sigma = term_covariance(result.varcorr, term.name, term.columns)
        per_row = np.einsum("ni,ij,nj->n", term.Z, sigma, term.Z)
        contribution = float(per_row.mean())
        if term.nlevels == result.nobs:
            dispersion += contribution
        else:
            random += contribution
        for k, col in enumerate(term.columns):
            if col == "(Intercept)" and k == 0:
                intercept[term.name] = float(sigma[0, 0])
            else:
                slope[f"{term.name}.{col}"] = float(sigma[k, k])
                any_slope = True
    return random, dispersion, intercept, slope, any_slope


def _poisson_distribution(result: Any) -> tuple[float, dict[str, float]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        null = _model.null_model(result)
    b0 = float(null.fixed["estimate"].iloc[0])
    lam = math.exp(b0)
    return lam, {
        "lognormal": math.log1p(1.0 / lam),
        "delta": 1.0 / lam,
        "trigamma": float(special.polygamma(1, lam)),
    }


def variance_components(
    result: Any, *, poisson: str = "lognormal", warn: bool = True
) -> VarianceComponents:
    """Variance components of a fitted mixed model (``insight::get_variance``).

    Parameters
    ----------
    result : MixedResult
        A fit from :func:`~alliancestats.lmm` or :func:`~alliancestats.glmm`.
    poisson : {"lognormal", "delta", "trigamma"}
        Distribution-specific variance approximation for Poisson models (Nakagawa et al.
        2017); all three are kept in ``approximations``.
    warn : bool, default True
        Warn when the fit is singular.

    Returns
    -------
    VarianceComponents

    Raises
    ------
    ModelSpecificationError
        Not a mixed-model fit, or a family/link without a distribution-specific variance.

    Warns
    -----
    SingularFitWarning
        The fit is singular: the zero (or perfectly correlated) component enters as
        estimated. performance 0.10.2 returns no random-effect variance in this case.

    Notes
    -----
    Validated against insight 0.19.0 ``get_variance`` (through performance 0.10.2) on lme4
    1.1-31 fits: iris, sleepstudy (correlated and uncorrelated slopes, REML and ML), Pastes,
    Penicillin, Hsb82, two simulated therapist/patient models, cbpp (logit, probit, cloglog),
    a simulated binary adherence model, grouseticks and simulated exercise counts (Poisson).

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
    >>> vc = variance_components(als.lmm("pain ~ session + (1 | patient)", df))
    >>> list(vc.intercept), vc.method
    (['patient'], 'residual variance (sigma^2)')
    """
    _model.require_fit(result, "variance_components")
    check_choice("poisson", poisson, POISSON_APPROXIMATIONS)
    fixed = _fixed_variance(result)
    random, dispersion, intercept, slope, any_slope = _random_parts(result)
    family = _model.family_of(result)
    lam = None
    approx: dict[str, float] = {}
    if family is None:
        distribution, method = float(result.sigma) ** 2, "residual variance (sigma^2)"
    elif family.name == "binomial":
        if family.link.name not in _BINOMIAL:
            raise ModelSpecificationError(
                f"no distribution-specific variance for the binomial {family.link.name} link"
            )
        distribution, method = _BINOMIAL[family.link.name]
    elif family.name == "poisson" and family.link.name == "log":
        lam, approx = _poisson_distribution(result)
        distribution = approx[poisson]
        method = f"Poisson {poisson} approximation (lambda = {lam:.4g})"
    else:
        raise ModelSpecificationError(
            f"no distribution-specific variance for the {family.name} family with the "
            f"{family.link.name} link"
        )
    singular = bool(getattr(result, "singular", False))
    if singular and warn:
        warnings.warn(
            "the fit is singular (a random-effect variance is estimated as zero or a "
            "correlation as +/-1); variance shares use the boundary estimate",
            SingularFitWarning,
            stacklevel=3,
        )
    return VarianceComponents(
        fixed=fixed,
        random=random,
        distribution=float(distribution),
        dispersion=dispersion,
        intercept=intercept,
        slope=slope,
        method=method,
        singular=singular,
        lam=lam,
        approximations=approx,
        random_slopes=any_slope,
    )
