"""A fitted linear mixed model: :class:`LmmFit`, the LMM's :class:`~.fitted.FittedModel`.

It keeps the sufficient statistics (:class:`~.lmm_core.LmmProblem`), θ at the optimum and
what follows from them (β, σ, Var(β), the Satterthwaite ingredients, conditional modes),
and builds the :class:`~.results.MixedResult`. When random-effect columns were rescaled for
the optimisation (a slope on time in seconds), the optimiser's problem and θ are kept as
well: the Satterthwaite df, the gradient check and the profiles work on that well-scaled
parametrisation, the reported values on the original one.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd

from alliancestats.errors import SingularFitWarning
from alliancestats.models.convergence import OptSummary, single_threaded_blas
from alliancestats.models.design import Design
from alliancestats.models.fitted import Refit, TermCovariance
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.models.lmm_inference import (
    Satterthwaite,
    profile_intervals,
    satterthwaite,
    wald_varcomp,
)
from alliancestats.models.lmm_optim import finish_scaled_check, minimize_theta
from alliancestats.models.predict import linear_predictor
from alliancestats.models.results import (
    MixedResult,
    fixed_table,
    information_criteria,
    ranef_frames,
)
from alliancestats.models.varcomp import (
    SINGULAR_TOL,
    ngroups,
    term_covariance_list,
    term_covariances,
    varcorr_frame,
)

__all__ = ["LmmFit", "Rescaling"]


@dataclasses.dataclass(frozen=True)
class Rescaling:
    """The optimiser's problem on rescaled random-effect columns and the column scales."""

    problem: LmmProblem
    scales: list[np.ndarray]


class LmmFit:
    """A fitted LMM (see :mod:`alliancestats.models.fitted` for the interface)."""

    family = "gaussian"
    link = "identity"

    def __init__(
        self,
        design: Design,
        problem: LmmProblem,
        theta_opt: np.ndarray,
        summary: OptSummary,
        reml: bool,
        level: float,
        rescaling: Rescaling | None = None,
    ) -> None:
        self.design, self.problem, self.reml, self.level = design, problem, reml, level
        self.rescaling = rescaling
        self.opt_problem = problem if rescaling is None else rescaling.problem
        self.theta_opt = np.asarray(theta_opt, dtype=float)
        self.theta = self.to_original_theta(self.theta_opt)
        self.summary = summary
        f = problem.factorize(self.theta, full=True)
        n, p = problem.n, problem.p
        self.criterion = problem.criterion_from(f, reml)
        self.sigma = float(np.sqrt(f.pwrss / (n - p if reml else n)))
        self.beta = problem.beta(f) if p else np.zeros(0)
        self._V = self.sigma**2 * problem.beta_cov_unscaled(self.theta) if p else np.zeros((0, 0))
        self.satt: Satterthwaite | None = (
            satterthwaite(self.opt_problem, self.theta_opt, self.sigma, reml, self._V) if p else None
        )
        self._finish_check()
        self._modes(f)

    def to_original_theta(self, theta_opt: np.ndarray) -> np.ndarray:
        """θ of the original random-effect columns from the optimiser's θ."""
        if self.rescaling is None:
            return theta_opt
        inv = [1.0 / s for s in self.rescaling.scales]
        return self.problem.layout.rescale(theta_opt, inv)

    def _finish_check(self) -> None:
        if self.satt is None:
            self.summary.extra.pop("scaled_check_pending", None)
            return
        finish_scaled_check(self.summary, self.satt.H, self.theta_opt, self.problem.layout.lower)

    def _modes(self, f) -> None:
        """Conditional modes ``b = Lambda u`` and variances ``sigma^2 Lambda P^-1 Lambda'``."""
        u = self.problem.spherical_modes(f, self.beta)
        cv = self.problem.cond_var_unscaled(f)
        self.b = [uk @ T.T for uk, T in zip(u, f.lam, strict=True)]
        self.cond_var = {
            blk.group: self.sigma**2 * (T @ ck @ T.T)
            for blk, T, ck in zip(self.design.random, f.lam, cv, strict=True)
        }
        self._ranef = {blk.group: bk for blk, bk in zip(self.design.random, self.b, strict=True)}

    # ------------------------------------------------------------------ interface
    @property
    def converged(self) -> bool:
        return bool(self.summary.converged)

    @property
    def singular(self) -> bool:
        return self.problem.layout.is_singular(self.theta_opt, SINGULAR_TOL)

    def vcov_beta(self) -> np.ndarray:
        return self._V.copy()

    def covariances(self) -> list[TermCovariance]:
        covs = term_covariances(self.problem.layout, self.theta, self.sigma)
        return term_covariance_list(self.design.random, covs)

    def fitted_values(self) -> np.ndarray:
        d = self.design
        eta = d.X @ self.beta + d.offset
        for blk, bk in zip(d.random, self.b, strict=True):
            eta = eta + np.einsum("nq,nq->n", blk.Z, bk[blk.codes])
        return eta

    def linear_predictor(self, newdata: pd.DataFrame | None = None, random: bool = True):
        if newdata is None:
            d = self.design
            return self.fitted_values() if random else d.X @ self.beta + d.offset
        return linear_predictor(self.design, self.beta, self._ranef, newdata, random)

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        return np.asarray(eta, dtype=float)

    def contrast_df(self, L: np.ndarray) -> float:
        if self.satt is None:
            return np.nan
        return self.satt.df(np.asarray(L, dtype=float))

    def varcomp_wald(self, level: float) -> pd.DataFrame:
        return wald_varcomp(
            self.problem, self.design.random, self.theta, self.sigma, self.reml, level
        )

    def profile(self, level: float, progress: bool | None = None) -> pd.DataFrame:
        # profiles run on the optimiser's (possibly rescaled) problem; SDs of rescaled
        # columns are then divided by the column scales (correlations, sigma and fixed
        # effects do not change)
        d = self.design
        y = d.y - d.offset
        with single_threaded_blas():
            theta_ml = (
                minimize_theta(self.opt_problem, False, start=self.theta_opt)[0]
                if self.reml
                else self.theta_opt
            )
            blocks = list(d.random if self.rescaling is None else self.opt_problem.blocks)
            tab = profile_intervals(
                self.opt_problem, blocks, d.X, d.fixed_names, y, theta_ml, level, progress
            )
        if self.rescaling is None:
            return tab
        divisor = np.ones(len(tab))
        k = 0
        lay = self.problem.layout
        for s, r_idx, c_idx in zip(self.rescaling.scales, lay.rows, lay.cols, strict=True):
            for r, c in zip(r_idx, c_idx, strict=True):
                divisor[k] = s[r] if r == c else 1.0
                k += 1
        return tab.div(divisor, axis=0)

    def refit_ml(self) -> MixedResult:
        from alliancestats.models.lmm import fit_design

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            return fit_design(self.design, reml=False, level=self.level)

    def simulate(self, rng: np.random.Generator, beta: np.ndarray | None = None) -> np.ndarray:
        d = self.design
        b = self.beta if beta is None else np.asarray(beta, dtype=float)
        y = d.X @ b + d.offset + self.sigma * rng.standard_normal(d.nobs)
        for blk, T in zip(d.random, self.problem.layout.factors(self.theta), strict=True):
            u = rng.standard_normal((blk.nlevels, blk.q)) @ (self.sigma * T).T
            y = y + np.einsum("nq,nq->n", blk.Z, u[blk.codes])
        return y

    def refit(self, y: np.ndarray, ddf: bool = True) -> Refit:
        from alliancestats.models.lmm_refit import refit_lmm

        return refit_lmm(self, np.asarray(y, dtype=float), ddf)

    # ------------------------------------------------------------------ result
    def result(self) -> MixedResult:
        """The :class:`MixedResult` of this fit."""
        d, p = self.design, self.problem.p
        se = np.sqrt(np.diag(self._V))
        df = self.satt.df_all() if self.satt is not None else np.zeros(0)
        messages = []
        if self.satt is not None and np.any(self.satt.evals < -1e-8):
            messages.append(
                "Hessian of the deviance in (theta, sigma) has negative eigenvalues; "
                "Satterthwaite df may be unreliable"
            )
        fitted = self.fitted_values()
        _, by_factor = ranef_frames(d.random, self.b)
        npar = p + self.problem.layout.n + 1
        loglik = -0.5 * self.criterion
        aic, bic = information_criteria(loglik, npar, d.nobs)
        covs = term_covariances(self.problem.layout, self.theta, self.sigma)
        return MixedResult(
            self,
            formula=d.parsed.formula,
            response=d.response,
            method="REML" if self.reml else "ML",
            family="gaussian",
            reml=self.reml,
            fixed=fixed_table(d.fixed_names, self.beta, se, df, self.level),
            vcov=pd.DataFrame(self._V, index=d.fixed_names, columns=d.fixed_names),
            varcorr=varcorr_frame(d.random, covs, self.sigma),
            sigma=self.sigma,
            loglik=loglik,
            deviance=self.criterion,
            aic=aic,
            bic=bic,
            nobs=d.nobs,
            n_dropped=d.n_dropped,
            npar=npar,
            ngroups=ngroups(d.random),
            converged=self.converged,
            optimizer=self.summary,
            singular=self.singular,
            theta=self.theta,
            ranef=by_factor,
            cond_var=self.cond_var,
            fitted=pd.Series(fitted, index=d.rows, name="fitted"),
            residuals=pd.Series(d.y - fitted, index=d.rows, name="residuals"),
            messages=messages,
            aliased=d.aliased,
            level=self.level,
        )
