"""A fitted GLMM: :class:`GlmmFit`, the GLMM's :class:`~.fitted.FittedModel`.

It keeps the PIRLS problem (on fixed-effect columns scaled to unit root-mean-square, as the
optimiser saw them), the optimum in the original units, the PIRLS state there and the
Hessian of the deviance in ``(θ, β)``, and builds the result: the fixed-effects table with
lme4's Hessian-based covariance (the ``RX`` approximation as fallback), the convergence
check, conditional modes and variances, overdispersion, Wald and profile intervals.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import ConvergenceWarning, ModelSpecificationError
from alliancestats.models.convergence import GRAD_TOL, OptSummary, newton_step
from alliancestats.models.fitted import Refit, TermCovariance
from alliancestats.models.glmm_inputs import GlmmInputs
from alliancestats.models.glmm_optim import GlmmOptimum
from alliancestats.models.pirls import PirlsProblem
from alliancestats.models.predict import linear_predictor
from alliancestats.models.results import MixedResult, fixed_table, ranef_frames
from alliancestats.models.varcomp import (
    SINGULAR_TOL,
    ngroups,
    sdcor_names,
    term_covariance_list,
    term_covariances,
    theta_to_sdcor,
    varcorr_frame,
    wald_table,
)

__all__ = ["GlmmFit"]

_CONDVAR_MAX_Q = 2000  # conditional variances for general designs need a dense A^-1


class GlmmFit:
    """A fitted GLMM (see :mod:`alliancestats.models.fitted` for the interface)."""

    reml = False
    sigma = 1.0

    def __init__(
        self,
        inputs: GlmmInputs,
        problem: PirlsProblem,
        opt: GlmmOptimum,
        scale: np.ndarray,
        nagq: int,
        level: float,
    ) -> None:
        self.inputs, self.problem, self.nagq, self.level = inputs, problem, nagq, level
        self.design = inputs.design
        self.family = inputs.family.name
        self.link = inputs.family.link.name
        self.scale = scale
        self.opt = opt
        self.theta = opt.theta
        self.beta_scaled = opt.beta
        self.beta = opt.beta / scale
        self.deviance = opt.deviance
        # derivatives in the original units: beta = beta_scaled / s
        P = np.concatenate([np.ones(self.theta.size), scale])
        self.grad = P * opt.grad
        self.hess = P[:, None] * opt.hess * P[None, :]
        self.state = problem.pirls(self.theta, self.beta_scaled)
        self.messages = list(opt.messages)
        self._vcov()
        self._check()
        self._modes()

    # ------------------------------------------------------------------ assembly
    def _vcov(self) -> None:
        """lme4's default: 2 (inverse Hessian) of the deviance; the RX-based fallback."""
        nt = self.theta.size
        self.vcov_method = "hessian"
        V = None
        try:
            Hinv = np.linalg.inv(self.hess)
            V = Hinv[nt:, nt:] + Hinv[nt:, nt:].T  # 2 * inverse, symmetrised (lme4)
            if not (np.all(np.isfinite(V)) and np.min(np.linalg.eigvalsh(V)) > 0):
                V = None
        except np.linalg.LinAlgError:
            V = None
        if V is None:
            self.vcov_method = "rx"
            self.messages.append(
                "variance-covariance matrix from the finite-difference Hessian is not positive "
                "definite; falling back to the RX-based approximation"
            )
            info = self.problem.fixed_info(self.theta, self.state)
            V = np.linalg.inv(info) / np.outer(self.scale, self.scale)
        self._V = V

    def _check(self) -> None:
        """lme4's checkConv: the Newton step in the optimiser's (scaled) parametrisation."""
        lower = np.concatenate([self.problem.re.theta_lower, np.full(self.beta.size, -np.inf)])
        x = np.concatenate([self.theta, self.beta])
        free = ~(np.isfinite(lower) & (x - lower < SINGULAR_TOL))
        step = newton_step(self.opt.grad, self.opt.hess, free)
        self.max_scaled_gradient = float(np.max(np.abs(step), initial=0.0))
        self.converged = bool(np.isfinite(self.max_scaled_gradient)) and (
            self.max_scaled_gradient <= GRAD_TOL
        )
        if not self.converged:
            self.messages.append(
                f"Model failed to converge: max|scaled gradient| = {self.max_scaled_gradient:.3g} "
                f"(tolerance {GRAD_TOL}; optimizer: {self.opt.optimizer_message}); the model "
                "may be overparameterised or nearly unidentifiable"
            )

    def _modes(self) -> None:
        """Conditional modes ``b = Lambda u`` and covariances (blocks of ``Lambda A^-1 Lambda'``)."""
        re, problem, theta = self.problem.re, self.problem, self.theta
        b = re.lambda_matrix(theta) @ self.state.u
        V = None
        if not problem.is_scalar and re.q <= _CONDVAR_MAX_Q:
            ops = problem.ops
            fac = ops.factor(ops.values(theta), self.state.weights)
            lam = re.lambda_matrix(theta)
            V = np.asarray(lam @ (lam @ fac.solve(np.eye(re.q)).T).T)
        self.b, self.cond_var = [], {}
        for k, t in enumerate(re.terms):
            off, s = re.offsets[k], t.q
            self.b.append(b[off : off + s * t.nlevels].reshape(t.nlevels, s))
            if problem.is_scalar:
                self.cond_var[t.group] = (theta[0] ** 2 / self.state.diag).reshape(-1, 1, 1)
            elif V is not None:
                idx = off + np.arange(t.nlevels)[:, None] * s + np.arange(s)[None, :]
                self.cond_var[t.group] = V[idx[:, :, None], idx[:, None, :]]
        self._ranef = {t.group: bk for t, bk in zip(re.terms, self.b, strict=True)}

    # ------------------------------------------------------------------ interface
    @property
    def singular(self) -> bool:
        return self.problem.re.layout.is_singular(self.theta, SINGULAR_TOL)

    def vcov_beta(self) -> np.ndarray:
        return self._V.copy()

    def covariances(self) -> list[TermCovariance]:
        covs = term_covariances(self.problem.re.layout, self.theta, 1.0)
        return term_covariance_list(self.design.random, covs)

    def linear_predictor(self, newdata: pd.DataFrame | None = None, random: bool = True):
        if newdata is None:
            if random:
                return self.state.eta.copy()
            return self.design.X @ self.beta + self.inputs.offset
        return linear_predictor(
            self.design, self.beta, self._ranef, newdata, random, self.inputs.extra_offset
        )

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        return self.inputs.family.link.linkinv(np.asarray(eta, dtype=float))

    def contrast_df(self, L: np.ndarray) -> float:
        return np.inf

    def varcomp_wald(self, level: float) -> pd.DataFrame:
        """Delta method on ``2 H^-1`` (θ block) for SDs and correlations."""
        lay, theta = self.problem.re.layout, self.theta
        names = sdcor_names(self.design.random, lay, residual=False)
        phi = theta_to_sdcor(lay, theta, 1.0, residual=False)
        nt = theta.size
        try:
            V = 2.0 * np.linalg.inv(self.hess)[:nt, :nt]
        except np.linalg.LinAlgError:
            V = np.full((nt, nt), np.nan)
        J = np.empty((phi.size, nt))
        for j in range(nt):
            def phi_j(v, j=j):
                th = theta.copy()
                th[j] = v[0]
                return theta_to_sdcor(lay, th, 1.0, residual=False)

            h = 1e-6
            e = np.array([theta[j]])
            if np.isfinite(lay.lower[j]) and theta[j] - h < lay.lower[j]:
                J[:, j] = (phi_j(e + h) - phi) / h
            else:
                J[:, j] = (phi_j(e + h) - phi_j(e - h)) / (2 * h)
        se = np.sqrt(np.clip(np.diag(J @ V @ J.T), 0.0, None))
        return wald_table(phi, se, names, level)

    def profile(self, level: float, progress: bool | None = None) -> pd.DataFrame:
        from alliancestats.models.glmm_profile import profile_glmm

        return profile_glmm(self, level, progress)

    def refit_ml(self) -> MixedResult:
        raise ModelSpecificationError("a GLMM is already a maximum-likelihood fit")

    def simulate(self, rng: np.random.Generator, beta: np.ndarray | None = None) -> np.ndarray:
        d, fam = self.design, self.inputs.family
        b = self.beta if beta is None else np.asarray(beta, dtype=float)
        eta = d.X @ b + self.inputs.offset
        for blk, T in zip(d.random, self.problem.re.layout.factors(self.theta), strict=True):
            u = rng.standard_normal((blk.nlevels, blk.q)) @ T.T
            eta = eta + np.einsum("nq,nq->n", blk.Z, u[blk.codes])
        mu = fam.link.linkinv(eta)
        pw = self.inputs.pw
        if fam.name == "poisson":
            return rng.poisson(mu * np.where(pw > 0, 1.0, 0.0)).astype(float)
        n = np.rint(pw).astype(np.int64)
        return np.divide(rng.binomial(n, mu), pw, out=np.zeros_like(mu), where=pw > 0)

    def refit(self, y: np.ndarray, ddf: bool = True) -> Refit:
        from alliancestats.models.glmm import refit_glmm

        return refit_glmm(self, np.asarray(y, dtype=float))

    # ------------------------------------------------------------------ result
    def optimizer_summary(self) -> OptSummary:
        o = self.opt
        return OptSummary(
            method="L-BFGS-B (stage 1: theta; stage 2: theta, beta) + Newton polish",
            evaluations=o.nfev,
            restarts=o.restarts,
            converged=self.converged,
            message=o.optimizer_message,
            gradient=self.grad,
            max_abs_gradient=float(np.max(np.abs(self.grad), initial=0.0)),
            max_scaled_gradient=self.max_scaled_gradient,
            seconds=o.seconds,
            start=o.start,
            extra={
                "gradient_method": o.gradient_method,
                "stage1_theta": o.stage1_theta,
                "hessian": self.hess,
            },
        )

    def overdispersion(self) -> pd.Series | None:
        inp = self.inputs
        if not (inp.family.name == "poisson" or inp.trials_used):
            return None
        chi2 = float(np.sum(inp.family.pearson_resid(inp.y, self.state.mu, inp.pw) ** 2))
        dfr = self.design.nobs - (self.beta.size + self.theta.size)
        return pd.Series(
            {
                "pearson_chi2": chi2,
                "df": float(dfr),
                "ratio": chi2 / dfr if dfr > 0 else np.nan,
                "p": float(stats.chi2.sf(chi2, dfr)) if dfr > 0 else np.nan,
            },
            name="overdispersion",
        )

    def result_fields(self) -> dict:
        """The fields of the :class:`~alliancestats.models.glmm.GlmmResult`."""
        d, inp = self.design, self.inputs
        names = d.fixed_names
        se = np.sqrt(np.diag(self._V))
        npar = self.beta.size + self.theta.size
        mu = self.state.mu
        dev_res = np.sign(inp.y - mu) * np.sqrt(
            np.maximum(inp.family.dev_resids(inp.y, mu, inp.pw), 0.0)
        )
        _, by_factor = ranef_frames(d.random, self.b)
        covs = term_covariances(self.problem.re.layout, self.theta, 1.0)
        return dict(
            method="Laplace" if self.nagq == 1 else f"AGQ({self.nagq})",
            family=self.family,
            link=self.link,
            nagq=self.nagq,
            reml=False,
            response=inp.response,
            fixed=fixed_table(names, self.beta, se, None, self.level),
            vcov=pd.DataFrame(self._V, index=names, columns=names),
            vcov_method=self.vcov_method,
            varcorr=varcorr_frame(d.random, covs, 1.0, residual=False),
            sigma=1.0,
            loglik=-0.5 * self.deviance,
            deviance=self.deviance,
            aic=self.deviance + 2.0 * npar,
            bic=self.deviance + np.log(d.nobs) * npar,
            nobs=d.nobs,
            n_dropped=inp.n_dropped,
            npar=npar,
            ngroups=ngroups(d.random),
            converged=self.converged,
            optimizer=self.optimizer_summary(),
            singular=self.singular,
            theta=self.theta,
            beta=self.beta,
            ranef=by_factor,
            cond_var=self.cond_var,
            fitted=pd.Series(mu, index=d.rows, name="fitted"),
            residuals=pd.Series(dev_res, index=d.rows, name="residuals"),
            messages=self.messages,
            level=self.level,
            overdispersion=self.overdispersion(),
        )

    def warn(self) -> None:
        if not self.converged:
            warnings.warn("; ".join(self.messages), ConvergenceWarning, stacklevel=4)
