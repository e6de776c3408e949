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

__all__ = [
    "POISSON_APPROXIMATIONS",
    "VarianceComponents",
    "components_from",
    "null_intercept",
    "poisson_variances",
    "variance_components",
]

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


def _random_parts(
    terms: list[_model.RandomTermInfo], covs: list[np.ndarray], nobs: int
) -> tuple[float, float, dict, dict, bool]:
    """Random variance (Johnson), observation-level variance, intercepts, slopes, any slopes."""
    random = dispersion = 0.0
    intercept: dict[str, float] = {}
    slope: dict[str, float] = {}
    any_slope = False
    for term, sigma in zip(terms, covs, strict=True):
        contribution = float(np.einsum("ni,ij,nj->n", term.Z, sigma, term.Z).mean())
        if term.nlevels == nobs:
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


def poisson_variances(null_intercept: float) -> tuple[float, dict[str, float]]:
    """``lambda = exp(b0)`` and the three distribution-specific variances (Nakagawa 2017)."""
    lam = math.exp(null_intercept)
    return lam, {
        "lognormal": math.log1p(1.0 / lam),
        "delta": 1.0 / lam,
        "trigamma": float(special.polygamma(1, lam)),
    }


def null_intercept(result: Any, y: np.ndarray | None = None) -> float:
    """Intercept of the null model (same random effects, no fixed predictors)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        null = _model.null_model(result, y)
    return float(null.fixed["estimate"].iloc[0])


def _distribution(family: Any, sigma: float, lam_b0: Any, poisson: str) -> tuple:
    """(distribution variance, method text, lambda, approximations) for a family."""
    if family is None:
        return sigma**2, "residual variance (sigma^2)", None, {}
    if family.name == "binomial" and family.link.name in _BINOMIAL:
        value, method = _BINOMIAL[family.link.name]
        return value, method, None, {}
    if family.name == "poisson" and family.link.name == "log":
        lam, approx = poisson_variances(lam_b0())
        return approx[poisson], f"Poisson {poisson} approximation (lambda = {lam:.4g})", lam, approx
    raise ModelSpecificationError(
        f"no distribution-specific variance for the {family.name} family with the "
        f"{family.link.name} link"
    )


def components_from(
    obj: Any,
    beta: np.ndarray,
    covs: list[np.ndarray],
    sigma: float,
    *,
    poisson: str = "lognormal",
    null_b0: Any = None,
) -> VarianceComponents:
    """Variance components of the fitted model ``obj`` at parameters ``beta, covs, sigma``.

    ``null_b0`` is a callable giving the null-model intercept (Poisson only); the fit's own
    parameters and a bootstrap refit's both go through here.
    """
    X = _model.fixed_matrix(obj)
    pred = X @ np.asarray(beta, dtype=float)
    # constant predictions (intercept-only fixed part) have no variance, not rounding noise
    spread = np.ptp(pred) if pred.size else 0.0
    constant = spread <= 1e-12 * max(1.0, float(np.abs(pred).max(initial=0.0)))
    fixed = 0.0 if pred.size < 2 or constant else float(np.var(pred, ddof=1))
    terms = _model.random_terms(obj)
    random, dispersion, intercept, slope, any_slope = _random_parts(terms, covs, X.shape[0])
    family = _model.family_of(obj)
    distribution, method, lam, approx = _distribution(
        family, sigma, null_b0 or (lambda: null_intercept(obj)), poisson
    )
    return VarianceComponents(
        fixed=fixed, random=random, distribution=float(distribution), dispersion=dispersion,
        intercept=intercept, slope=slope, method=method, lam=lam, approximations=approx,
        random_slopes=any_slope,
    )


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
    terms = _model.random_terms(result)
    out = components_from(result, result.fixed["estimate"].to_numpy(dtype=float),
                          [t.cov for t in terms], float(result.sigma), poisson=poisson)
    out.singular = bool(getattr(result, "singular", False))
    if out.singular and warn:
        warnings.warn(
            "the fit is singular (a random-effect variance is estimated as zero or a "
            "correlation as +/-1); variance shares use the boundary estimate",
            SingularFitWarning,
            stacklevel=3,
        )
    return out
