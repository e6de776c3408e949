"""A fitted GLMM: :class:`GlmmFit`, the GLMM's :class:`~.fitted.FittedModel`.

It keeps the PIRLS problem (on fixed-effect columns scaled to unit root-mean-square, as the
optimiser saw them), the optimum in the original units, the PIRLS state there and the
Hessian of the deviance in ``(θ, β)``, and builds the result: the fixed-effects table with
lme4's Hessian-based covariance (the ``RX`` approximation as fallback), the convergence
check, conditional modes and variances, overdispersion, Wald and profile intervals.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import ConvergenceWarning, ModelSpecificationError
from alliancestats.models.convergence import (
    GRAD_TOL,
    OptSummary,
    newton_step,
    single_threaded_blas,
)
from alliancestats.models.fitted import FittedModelBase, Refit, TermCovariance, read_only
from alliancestats.models.glmm_inputs import GlmmInputs
from alliancestats.models.glmm_optim import GlmmOptimum, fit_two_stage, glm_start
from alliancestats.models.glmm_profile import profile_glmm
from alliancestats.models.pirls import PirlsProblem
from alliancestats.models.predict import linear_predictor
from alliancestats.models.results import MixedResult, shared_fields
from alliancestats.models.varcomp import (
    SINGULAR_TOL,
    sdcor_names,
    term_covariance_list,
    term_covariances,
    theta_to_sdcor,
    wald_table,
)

__all__ = ["GlmmFit", "fit_glmm", "refit_glmm"]

_CONDVAR_MAX_Q = 2000  # conditional variances for general designs need a dense A^-1


class GlmmFit(FittedModelBase):
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
        # derivatives in the original units: theta = theta_s / s_theta, beta = beta_scaled / s
        P = np.concatenate([opt.theta_scale, scale])
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

    def contrast_df(self, L: np.ndarray, method: str = "satterthwaite") -> float:
        return np.inf

    @property
    def response_values(self) -> np.ndarray:
        return read_only(self.inputs.y)

    @property
    def prior_weights(self) -> np.ndarray:
        return read_only(self.inputs.pw)

    @property
    def total_offset(self) -> np.ndarray:
        return read_only(self.inputs.offset)

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
        inp = self.inputs
        mu = self.state.mu
        dev_res = np.sign(inp.y - mu) * np.sqrt(
            np.maximum(inp.family.dev_resids(inp.y, mu, inp.pw), 0.0)
        )
        fields = shared_fields(
            self, df=None, deviance=self.deviance, npar=self.beta.size + self.theta.size,
            fitted=mu, residuals=dev_res, n_dropped=inp.n_dropped, residual_row=False,
        )
        return dict(
            method="Laplace" if self.nagq == 1 else f"AGQ({self.nagq})",
            family=self.family,
            link=self.link,
            nagq=self.nagq,
            response=inp.response,
            vcov_method=self.vcov_method,
            optimizer=self.optimizer_summary(),
            beta=self.beta,
            messages=self.messages + ([coding.note] if (coding := inp.response_coding) else []),
            overdispersion=self.overdispersion(),
            **fields,
        )

    def warn(self) -> None:
        if not self.converged:
            warnings.warn("; ".join(self.messages), ConvergenceWarning, stacklevel=4)


def _theta_scale(problem: PirlsProblem) -> np.ndarray:
    """Root-mean-square of the random-effect column of each θ element's row."""
    lay = problem.re.layout
    out = np.ones(lay.n)
    for k, b in enumerate(problem.re.terms):
        rms = np.sqrt(np.mean(b.Z**2, axis=0))
        out[lay.slice(k)] = np.where(rms > 0, rms, 1.0)[lay.rows[k]]
    return out


def fit_glmm(inputs: GlmmInputs, problem, beta0_scaled, scale, nagq: int, level: float) -> GlmmFit:
    """The two-stage optimisation and the fitted model (BLAS limited to one thread)."""
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        opt = fit_two_stage(problem, nagq, beta0_scaled, _theta_scale(problem))
        return GlmmFit(inputs, problem, opt, scale, nagq, level)


def refit_glmm(fit: GlmmFit, y: np.ndarray) -> Refit:
    """Refit a GLMM to a new response on the same rows (same trials, weights and offset).

    ``y`` is on the scale of the fit's response (0/1 or proportions of the trials for
    binomial data, counts for Poisson data).
    """
    d = fit.design
    if y.shape != (d.nobs,):
        raise ValueError(f"y must have one value per row used in the fit ({d.nobs}), got {y.shape}")
    inputs = dataclasses.replace(fit.inputs, y=y)
    p0 = fit.problem
    problem = PirlsProblem(y, p0.X, p0.re, inputs.family, inputs.pw, inputs.offset)
    beta0, _ = glm_start(d.X, y, inputs.pw, inputs.offset, inputs.family)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = fit_glmm(inputs, problem, beta0 * fit.scale, fit.scale, fit.nagq, fit.level)
    V = new.vcov_beta()
    return Refit(
        beta=new.beta,
        se=np.sqrt(np.diag(V)),
        vcov=V,
        df=np.full(new.beta.size, np.inf),
        theta=new.theta,
        sigma=1.0,
        deviance=new.deviance,
        converged=new.converged,
        singular=new.singular,
        contrast_df=new.contrast_df,
        covariances=new.covariances(),
    )
