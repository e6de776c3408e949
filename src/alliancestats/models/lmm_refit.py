"""Fast refits of a fitted LMM to new responses (the engine of simulation-based power).

Everything that does not involve the response -- the per-group sums of ``Z'Z``, ``Z'X`` and
``X'X`` and the factorisation path -- is taken from the fitted model; only ``Z'y``, ``X'y``
and ``y'y`` are recomputed. The optimisation starts from the fitted θ with a small trust
region, and the Satterthwaite df come from the same numerical derivatives as in a full fit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from alliancestats.models.convergence import single_threaded_blas
from alliancestats.models.fitted import Refit
from alliancestats.models.lmm_inference import satterthwaite
from alliancestats.models.lmm_optim import finish_scaled_check, minimize_theta
from alliancestats.models.varcomp import SINGULAR_TOL, term_covariance_list, term_covariances

if TYPE_CHECKING:  # pragma: no cover
    from alliancestats.models.lmm_fit import LmmFit

__all__ = ["refit_lmm"]


def refit_lmm(fit: LmmFit, y: np.ndarray, ddf: bool) -> Refit:
    """Refit ``fit``'s model to the response ``y`` (rows as ``fit.design``)."""
    d = fit.design
    if y.shape != (d.nobs,):
        raise ValueError(f"y must have one value per row used in the fit ({d.nobs}), got {y.shape}")
    y = y - d.offset
    p = d.X.shape[1]
    with single_threaded_blas():
        problem = fit.opt_problem.with_response(y)
        theta_o, summary = minimize_theta(
            problem, fit.reml, start=fit.theta_opt, defer_scaled_check=ddf and p > 0,
            control=fit.control, curvature=fit.refit_curvature,
        )
        f = problem.factorize(theta_o)
        sigma = float(np.sqrt(f.pwrss / (d.nobs - p if fit.reml else d.nobs)))
        beta = problem.beta(f)
        V = sigma**2 * problem.beta_cov_unscaled(theta_o)
        df = np.full(p, np.nan)
        contrast = None
        if ddf and p:
            satt = satterthwaite(problem, theta_o, sigma, fit.reml, V)
            df, contrast = satt.df_all(), satt.df
            finish_scaled_check(summary, satt.H, theta_o, problem.layout.lower)
    theta = fit.to_original_theta(theta_o)
    return Refit(
        beta=beta,
        se=np.sqrt(np.diag(V)),
        vcov=V,
        df=df,
        theta=theta,
        sigma=sigma,
        deviance=problem.criterion_from(f, fit.reml),
        converged=bool(summary.converged),
        singular=problem.layout.is_singular(theta_o, SINGULAR_TOL),
        contrast_df=contrast,
        covariances=term_covariance_list(d.random, term_covariances(fit.problem.layout, theta,
                                                                    sigma)),
    )
