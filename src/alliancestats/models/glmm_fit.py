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

from alliancestats.errors import ConvergenceWarning, EstimationError, ModelSpecificationError
from alliancestats.models.control import Control, as_control
from alliancestats.models.convergence import (
    OptSummary,
    newton_step,
    single_threaded_blas,
)
from alliancestats.models.families import simulate_response
from alliancestats.models.fitted import FittedModelBase, Refit, TermCovariance, read_only
from alliancestats.models.glmm_inputs import GlmmInputs
from alliancestats.models.glmm_optim import GlmmOptimum, StageSettings, fit_two_stage, glm_start
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

    _pending_warnings: list[str]

    reml = False

    def __init__(
        self,
        inputs: GlmmInputs,
        problem: PirlsProblem,
        opt: GlmmOptimum,
        scale: np.ndarray,
        nagq: int,
        level: float,
        control: Control | None = None,
    ) -> None:
        self.inputs, self.problem, self.nagq, self.level = inputs, problem, nagq, level
        self._pending_warnings = []
        self.formula, self.separation = "", None  # set by glmm.result_from_fit
        self.nb_shape: pd.Series | None = None  # set by glmm_nb.fit_glmm_nb
        self.control = control if control is not None else Control()
        self.design = inputs.design
        self.family = inputs.family.result_name
        self.link = inputs.family.link.name
        self.scale = scale
        self.opt = opt
        self.theta = opt.theta
        self.beta_scaled = opt.beta
        self.beta = opt.beta / scale
        self.deviance = opt.deviance
        # derivatives in the original units: theta = theta_s / s_theta, beta = beta_scaled / s
        P = opt.theta_scale if nagq == 0 else np.concatenate([opt.theta_scale, scale])
        self.grad = None if opt.grad is None else P * opt.grad
        self.hess = None if opt.hess is None else P[:, None] * opt.hess * P[None, :]
        self.state = problem.pirls(self.theta, self.beta_scaled)
        self.sigma = self._sigma()
        self.messages = list(opt.messages)
        self._vcov()
        self._check()
        self._modes()

    # ------------------------------------------------------------------ assembly
    def _sigma(self) -> float:
        """lme4's ``sigma()``: sqrt((Pearson chi2 + |u|^2) / n) for families with a dispersion."""
        fam = self.inputs.family
        if not fam.has_dispersion:
            return 1.0
        chi2 = float(np.sum(fam.pearson_resid(self.inputs.y, self.state.mu, self.inputs.pw) ** 2))
        return float(np.sqrt((chi2 + self.state.u @ self.state.u) / self.design.nobs))

    @property
    def n_dispersion(self) -> int:
        """1 when the family has a dispersion parameter or an estimated negative binomial
        shape (both counted in lme4's ``npar``)."""
        return int(self.inputs.family.has_dispersion or self.nb_shape is not None)

    def _vcov(self) -> None:
        """lme4's default: 2 (inverse Hessian) of the deviance; the RX-based fallback.

        For ``nAGQ = 0`` (no Hessian in ``beta``) and ``calc_derivs=False`` lme4 uses the
        ``RX``-based covariance, ``sigma^2 (X'WX - B'A^-1 B)^-1``, as here.
        """
        nt = self.theta.size
        self.vcov_method = "hessian"
        V = None
        if self.hess is not None and self.hess.shape[0] > nt:
            try:
                Hinv = np.linalg.inv(self.hess)
                V = Hinv[nt:, nt:] + Hinv[nt:, nt:].T  # 2 * inverse, symmetrised (lme4)
                if not (np.all(np.isfinite(V)) and np.min(np.linalg.eigvalsh(V)) > 0):
                    V = None
            except np.linalg.LinAlgError:
                V = None
            if V is None:
                self.messages.append(
                    "variance-covariance matrix from the finite-difference Hessian is not "
                    "positive definite; falling back to the RX-based approximation"
                )
        if V is None:
            self.vcov_method = "rx"
            info = self.problem.fixed_info(self.theta, self.state)
            V = self.sigma**2 * np.linalg.inv(info) / np.outer(self.scale, self.scale)
        self._V = V

    def _check(self) -> None:
        """lme4's checkConv: the Newton step in the optimiser's (scaled) parametrisation.

        The levels and tolerances of :class:`~alliancestats.models.control.Control` decide
        whether a failed check is ignored, recorded, warned about or raised.
        """
        ctl = self.control
        self.max_scaled_gradient = np.nan
        self.converged = True
        if self.opt.grad is None:  # calc_derivs=False: no derivative checks, as lme4
            return
        nt = self.theta.size
        x = self.theta if self.nagq == 0 else np.concatenate([self.theta, self.beta])
        lower = np.full(x.size, -np.inf)
        lower[:nt] = self.problem.re.theta_lower
        free = ~(np.isfinite(lower) & (x - lower < SINGULAR_TOL))
        step = newton_step(self.opt.grad, self.opt.hess, free)
        self.max_scaled_gradient = float(np.max(np.abs(step), initial=0.0))
        ok = bool(np.isfinite(self.max_scaled_gradient)) and (
            self.max_scaled_gradient <= ctl.check_conv_grad_tol
        )
        if not ok and ctl.check_conv_grad != "ignore":
            self.converged = False
            self._flag(
                f"Model failed to converge: max|scaled gradient| = {self.max_scaled_gradient:.3g} "
                f"(tolerance {ctl.check_conv_grad_tol}; optimizer: "
                f"{self.opt.optimizer_message}); the model may be overparameterised or nearly "
                "unidentifiable", ctl.check_conv_grad,
            )
        self._check_hessian(free)

    def _check_hessian(self, free: np.ndarray) -> None:
        """lme4's ``check.conv.hess``: the Hessian at an interior optimum is positive definite."""
        ctl = self.control
        if ctl.check_conv_hess == "ignore" or not np.any(free):
            return
        H = self.opt.hess[np.ix_(free, free)]
        try:
            smallest = float(np.min(np.linalg.eigvalsh(0.5 * (H + H.T))))
        except np.linalg.LinAlgError:
            smallest = np.nan
        if not smallest > ctl.check_conv_hess_tol:
            self.converged = False
            self._flag(
                "Model is nearly unidentifiable: the Hessian of the deviance has a very small "
                f"or negative eigenvalue ({smallest:.3g}); rescale predictors or simplify the "
                "random effects", ctl.check_conv_hess,
            )

    def _flag(self, text: str, level: str) -> None:
        """Record a failed check; ``"stop"`` raises (lme4's ``check.conv.* = "stop"``)."""
        if level == "stop":
            raise EstimationError(text)
        self.messages.append(text)
        if level == "warning":
            self._pending_warnings.append(text)

    def _modes(self) -> None:
        """Conditional modes ``b = Lambda u`` and covariances (blocks of ``Lambda A^-1 Lambda'``)."""
        re, problem, theta = self.problem.re, self.problem, self.theta
        b = re.lambda_matrix(theta) @ self.state.u
        V = blocks = None
        if not problem.is_scalar:
            ops = problem.ops
            fac = self.state.factor
            blocks = ops.inverse_diagonal_blocks(fac)
            if blocks is None and re.q <= _CONDVAR_MAX_Q:
                lam = re.lambda_matrix(theta)
                V = np.asarray(lam @ (lam @ fac.solve(np.eye(re.q)).T).T)
        self.b, self.cond_var = [], {}
        for k, t in enumerate(re.terms):
            off, s = re.offsets[k], t.q
            self.b.append(b[off : off + s * t.nlevels].reshape(t.nlevels, s))
            if problem.is_scalar:
                self.cond_var[t.group] = (theta[0] ** 2 / self.state.diag).reshape(-1, 1, 1)
            elif blocks is not None:  # Lambda A^-1 Lambda' per level: T_k G_j T_k'
                T = re.term_factor(theta, k)
                self.cond_var[t.group] = np.einsum("ab,jbc,dc->jad", T, blocks[k], T)
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
        covs = term_covariances(self.problem.re.layout, self.theta, self.sigma)
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
        """Delta method on ``2 H^-1`` (θ block) for SDs and correlations.

        For families with a dispersion the SDs are ``sigma * theta``, with ``sigma`` held at
        its estimate (lme4's profile treats it the same way).
        """
        lay, theta, sig = self.problem.re.layout, self.theta, self.sigma
        names = sdcor_names(self.design.random, lay, residual=False)
        phi = theta_to_sdcor(lay, theta, sig, residual=False)
        nt = theta.size
        try:
            if self.hess is None:
                raise np.linalg.LinAlgError("no Hessian")
            V = 2.0 * np.linalg.inv(self.hess)[:nt, :nt]
        except np.linalg.LinAlgError:
            V = np.full((nt, nt), np.nan)
        J = np.empty((phi.size, nt))
        for j in range(nt):
            def phi_j(v, j=j):
                th = theta.copy()
                th[j] = v[0]
                return theta_to_sdcor(lay, th, sig, residual=False)

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
        if fam.name != "binomial":
            return simulate_response(fam, mu, pw, self.sigma, rng)
        n = np.rint(pw).astype(np.int64)
        return np.divide(rng.binomial(n, mu), pw, out=np.zeros_like(mu), where=pw > 0)

    def refit_control(self, control: Control | dict | None) -> MixedResult:
        """The same model refitted with other fitting options (used by ``all_fit``)."""
        from alliancestats.models.glmm import result_from_fit

        inp, p0 = self.inputs, self.problem
        problem = PirlsProblem(inp.y, p0.X, p0.re, inp.family, inp.pw, inp.offset)
        beta0, _ = glm_start(self.design.X, inp.y, inp.pw, inp.offset, inp.family)
        new = fit_glmm(inp, problem, beta0 * self.scale, self.scale, self.nagq, self.level,
                       as_control(control))
        new.nb_shape = self.nb_shape  # a negative binomial keeps its estimated shape
        return result_from_fit(self.formula, new, self.separation)

    def refit(self, y: np.ndarray, ddf: bool = True) -> Refit:
        return refit_glmm(self, np.asarray(y, dtype=float))

    # ------------------------------------------------------------------ result
    def optimizer_summary(self) -> OptSummary:
        o = self.opt
        return OptSummary(
            method=o.method + ("" if o.grad is None else " + Newton polish"),
            evaluations=o.nfev,
            restarts=o.restarts,
            converged=self.converged,
            message=o.optimizer_message,
            gradient=self.grad,
            max_abs_gradient=(np.nan if self.grad is None
                              else float(np.max(np.abs(self.grad), initial=0.0))),
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
        if not (inp.family.name in ("poisson", "negative_binomial") or inp.trials_used):
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
            self, df=None, deviance=self.deviance, npar=self.beta.size + self.theta.size + self.n_dispersion,
            fitted=mu, residuals=dev_res, n_dropped=inp.n_dropped,
            residual_row=self.inputs.family.has_dispersion,
        )
        return dict(
            method={0: "nAGQ=0", 1: "Laplace"}.get(self.nagq, f"AGQ({self.nagq})"),
            family=self.family,
            link=self.link,
            nagq=self.nagq,
            response=inp.response,
            vcov_method=self.vcov_method,
            optimizer=self.optimizer_summary(),
            beta=self.beta,
            messages=self.messages + ([coding.note] if (coding := inp.response_coding) else []),
            overdispersion=self.overdispersion(),
            nb_theta=self.nb_shape,
            **fields,
        )

    def warn(self) -> None:
        if self._pending_warnings:
            warnings.warn("; ".join(self._pending_warnings), ConvergenceWarning, stacklevel=4)


def _theta_scale(problem: PirlsProblem) -> np.ndarray:
    """Root-mean-square of the random-effect column of each θ element's row."""
    lay = problem.re.layout
    out = np.ones(lay.n)
    for k, b in enumerate(problem.re.terms):
        rms = np.sqrt(np.mean(b.Z**2, axis=0))
        out[lay.slice(k)] = np.where(rms > 0, rms, 1.0)[lay.rows[k]]
    return out


def fit_glmm(
    inputs: GlmmInputs, problem, beta0_scaled, scale, nagq: int, level: float,
    control: Control | None = None,
    warm: tuple[np.ndarray, np.ndarray] | None = None,
) -> GlmmFit:
    """The two-stage optimisation and the fitted model (BLAS limited to one thread).

    ``warm`` = (θ, scaled β) of a nearby fit starts the second stage there.
    """
    settings = StageSettings.from_control(control)
    with single_threaded_blas(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        opt = fit_two_stage(problem, nagq, beta0_scaled, _theta_scale(problem), settings, warm)
        return GlmmFit(inputs, problem, opt, scale, nagq, level, control)


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
        new = fit_glmm(inputs, problem, beta0 * fit.scale, fit.scale, fit.nagq, fit.level,
                       fit.control)
    V = new.vcov_beta()
    return Refit(
        beta=new.beta,
        se=np.sqrt(np.diag(V)),
        vcov=V,
        df=np.full(new.beta.size, np.inf),
        theta=new.theta,
        sigma=new.sigma,
        deviance=new.deviance,
        converged=new.converged,
        singular=new.singular,
        contrast_df=new.contrast_df,
        covariances=new.covariances(),
    )
