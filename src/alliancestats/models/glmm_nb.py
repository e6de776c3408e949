"""Negative binomial GLMM with its shape ``theta`` estimated, as ``lme4::glmer.nb``.

glmer.nb (Bates, Mächler, Bolker & Walker 2015) fits a Poisson GLMM, takes a first
``theta`` from the conditional means by maximum likelihood (``MASS::theta.ml``; Venables &
Ripley 2002, section 7.4), and then maximises the Laplace log-likelihood over ``log theta``
with a one-dimensional search in ``log theta0 +- 3``, every evaluation a GLMM refit at fixed
``theta`` (NB2: ``Var y = mu + mu^2 / theta``). The same steps run here, each refit
warm-started from the previous optimum, with Brent's bounded search (scipy's
``minimize_scalar``) to a tighter tolerance than glmer.nb's 5e-5 on ``log theta``.

The standard error of ``log theta`` comes from the curvature of the profiled deviance at the
optimum (which equals the inverse of the joint Hessian's ``log theta`` element), giving a
Wald interval ``exp(log theta +- z SE)`` -- what glmmTMB reports for ``nbinom2``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from alliancestats.errors import EstimationError
from alliancestats.models.control import Control
from alliancestats.models.families import Family, get_family
from alliancestats.models.glmm_fit import GlmmFit, fit_glmm
from alliancestats.models.glmm_inputs import GlmmInputs
from alliancestats.models.pirls import PirlsProblem, ReStructure

__all__ = ["fit_glmm_nb", "nb_family_needs_shape", "theta_ml"]

_LOG_THETA_TOL = 1e-6  # Brent's final bracket on log(theta)
_CURVATURE_STEP = 1e-2  # step in log(theta) for the profile's second difference


def theta_ml(y: np.ndarray, mu: np.ndarray, w: np.ndarray, limit: int = 20,
             eps: float = 1e-4) -> float:
    """Maximum-likelihood NB shape for fixed means (``MASS::theta.ml``: Newton scoring).

    Parameters
    ----------
    y : numpy.ndarray
        Observed counts.
    mu : numpy.ndarray
        Fitted means of the counts (held fixed).
    w : numpy.ndarray
        Prior weights of the observations.
    limit : int, default 20
        Largest number of scoring steps.
    eps : float, default 1e-4
        The iteration stops once a step changes the shape by no more than this.

    Returns
    -------
    float
        The shape (``theta``, size) maximising the weighted negative binomial likelihood.

    Raises
    ------
    EstimationError
        The scoring iteration ends at a non-positive or non-finite shape (no overdispersion).

    Notes
    -----
    The scoring iteration and starting value of Venables & Ripley's ``MASS::theta.ml``, which
    ``lme4::glmer.nb`` calls between its GLMM fits; validated through the glmer.nb
    reference fits of the negative binomial GLMM (shape within 7.5e-6 relative).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> y = rng.negative_binomial(3.0, 3.0 / (3.0 + 5.0), size=4000).astype(float)
    >>> round(theta_ml(y, np.full(y.size, y.mean()), np.ones(y.size)), 1)
    3.0
    """
    n = float(np.sum(w))
    t0 = n / float(np.sum(w * (y / mu - 1.0) ** 2))
    for _ in range(limit):
        t0 = abs(t0)
        score = np.sum(w * (special.digamma(t0 + y) - special.digamma(t0) + np.log(t0) + 1.0
                            - np.log(t0 + mu) - (y + t0) / (mu + t0)))
        info = np.sum(w * (-special.polygamma(1, t0 + y) + special.polygamma(1, t0) - 1.0 / t0
                           + 2.0 / (mu + t0) - (y + t0) / (mu + t0) ** 2))
        step = score / info
        t0 += step
        if abs(step) <= eps:
            break
    if not (np.isfinite(t0) and t0 > 0):
        raise EstimationError(
            "the negative binomial shape could not be estimated from the Poisson fit; the "
            "counts may not be overdispersed (try family='poisson')"
        )
    return float(t0)


class _ShapeSearch:
    """Laplace deviance as a function of log(theta), each point a warm-started refit."""

    def __init__(self, inputs: GlmmInputs, X: np.ndarray, re: ReStructure, scale, nagq,
                 level, control: Control) -> None:
        self.inputs, self.X, self.re, self.scale = inputs, X, re, scale
        self.nagq, self.level = nagq, level
        self.control = control
        self.quick = control.with_(calc_derivs=False, check_conv_grad="ignore",
                                   check_conv_hess="ignore")
        self.warm: tuple[np.ndarray, np.ndarray] | None = None
        self.evaluations = 0

    def fit(self, log_theta: float, final: bool = False) -> GlmmFit:
        fam = self.inputs.family.with_nb_theta(float(np.exp(log_theta)))
        inp = dataclasses.replace(self.inputs, family=fam)
        problem = PirlsProblem(inp.y, self.X, self.re, fam, inp.pw, inp.offset)
        beta0 = self.warm[1] if self.warm is not None else np.zeros(self.X.shape[1])
        fit = fit_glmm(inp, problem, beta0, self.scale, self.nagq, self.level,
                       self.control if final else self.quick, warm=self.warm)
        self.evaluations += 1
        return fit

    def deviance(self, log_theta: float) -> float:
        fit = self.fit(log_theta)
        self.warm = (fit.theta, fit.beta_scaled)
        return fit.deviance


def fit_glmm_nb(
    inputs: GlmmInputs, problem: PirlsProblem, beta0_scaled: np.ndarray, scale: np.ndarray,
    nagq: int, level: float, control: Control,
) -> GlmmFit:
    """glmer.nb: Poisson fit, ``theta.ml`` start, Brent on ``log theta``, final refit.

    ``problem`` is the PIRLS problem on the scaled columns (its family is replaced).
    """
    pois = get_family("poisson", inputs.family.link.name)
    p_inputs = dataclasses.replace(inputs, family=pois)
    p_problem = PirlsProblem(inputs.y, problem.X, problem.re, pois, inputs.pw, inputs.offset)
    quick = control.with_(calc_derivs=False, check_conv_grad="ignore", check_conv_hess="ignore")
    start = fit_glmm(p_inputs, p_problem, beta0_scaled, scale, nagq, level, quick)
    th0 = theta_ml(inputs.y, start.state.mu, inputs.pw)
    search = _ShapeSearch(inputs, problem.X, problem.re, scale, nagq, level, control)
    search.warm = (start.theta, start.beta_scaled)
    lo, hi = np.log(th0) - 3.0, np.log(th0) + 3.0
    res = optimize.minimize_scalar(search.deviance, bounds=(lo, hi), method="bounded",
                                   options={"xatol": _LOG_THETA_TOL})
    log_th = float(res.x)
    fit = search.fit(log_th, final=True)
    at_bound = min(hi - log_th, log_th - lo) < 1e-3
    fit.nb_shape = _shape_table(search, log_th, fit.deviance, level, at_bound)
    if at_bound:
        fit.messages.append(
            f"the negative binomial shape theta = {np.exp(log_th):.4g} is at the end of the "
            "search interval (glmer.nb's log(theta0) +- 3); the counts may show no "
            "overdispersion (theta -> infinity is the Poisson model)"
        )
    return fit


def _shape_table(search: _ShapeSearch, log_th: float, dev: float, level: float,
                 at_bound: bool) -> pd.Series:
    """Estimate, SE and Wald interval (log scale) of theta from the profile's curvature."""
    h = _CURVATURE_STEP
    d_plus, d_minus = search.deviance(log_th + h), search.deviance(log_th - h)
    curv = (d_plus - 2.0 * dev + d_minus) / (h * h)
    se_log = float(np.sqrt(2.0 / curv)) if curv > 0 else np.nan
    z = stats.norm.ppf(0.5 + level / 2.0)
    theta = float(np.exp(log_th))
    return pd.Series(
        {
            "estimate": theta,
            "se": theta * se_log,
            "log_estimate": log_th,
            "se_log": se_log,
            "ci_low": float(np.exp(log_th - z * se_log)),
            "ci_high": float(np.exp(log_th + z * se_log)),
            "at_search_bound": at_bound,
            "evaluations": search.evaluations,
        },
        name="theta",
    )


def nb_family_needs_shape(family: Family) -> bool:
    """Whether ``family`` is a negative binomial whose shape is still to be estimated."""
    return family.name == "negative_binomial" and family.nb_theta is None
