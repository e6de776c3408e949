"""A fitted linear mixed model: :class:`LmmFit`, the LMM's :class:`~.fitted.FittedModel`,
and :func:`fit_design`, the fit behind :func:`~alliancestats.models.lmm`.

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

from alliancestats.errors import (
    ConvergenceWarning,
    DataQualityWarning,
    FormulaError,
    ModelSpecificationError,
    SingularFitWarning,
)
from alliancestats.models.control import Control, as_control, report_check
from alliancestats.models.convergence import OptSummary, single_threaded_blas
from alliancestats.models.design import Design
from alliancestats.models.fitted import FittedModelBase, Refit, TermCovariance
from alliancestats.models.kenward_roger import check_ddf
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.models.lmm_inference import (
    Satterthwaite,
    profile_intervals,
    satterthwaite,
    wald_varcomp,
)
from alliancestats.models.lmm_optim import (
    check_lmm_control,
    finish_scaled_check,
    minimize_theta,
    profiled_hessian,
)
from alliancestats.models.lmm_refit import refit_lmm
from alliancestats.models.predict import linear_predictor
from alliancestats.models.results import MixedResult, shared_fields
from alliancestats.models.varcomp import SINGULAR_TOL, term_covariance_list, term_covariances

__all__ = ["LmmFit", "Rescaling", "fit_design"]

SCALE_RANGE = (1e-2, 1e2)  # random-effect columns with an RMS outside this are rescaled
# residual sum of squares relative to y'y at or below which the fixed part reproduces the
# response: rounding leaves about eps^2 y'y (5e-32), real data far more
EXACT_FIT_TOL = 1e-26


@dataclasses.dataclass(frozen=True)
class Rescaling:
    """The optimiser's problem on rescaled random-effect columns and the column scales."""

    problem: LmmProblem
    scales: list[np.ndarray]


class LmmFit(FittedModelBase):
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
        control: Control | None = None,
    ) -> None:
        self.design, self.problem, self.reml, self.level = design, problem, reml, level
        self.control = Control() if control is None else control
        self.weights = problem.weights
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

    @property
    def refit_curvature(self) -> np.ndarray | None:
        """Hessian in θ of the profiled criterion at the optimum (from the Satterthwaite
        computation), which preconditions the search of :meth:`refit`; None without one."""
        if self.satt is None or not np.all(np.isfinite(self.satt.H)):
            return None
        return profiled_hessian(self.satt.H)

    @property
    def prior_weights(self) -> np.ndarray:
        """Prior weights of the fitted rows (ones without ``weights=``); read-only."""
        w = np.ones(self.design.nobs) if self.weights is None else self.weights.copy()
        w.flags.writeable = False
        return w

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

    def contrast_df(self, L: np.ndarray, method: str = "satterthwaite") -> float:
        if check_ddf(method) == "kenward-roger":
            return self.kenward_roger().df(L)
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
                minimize_theta(self.opt_problem, False, start=self.theta_opt,
                               control=self.control)[0]
                if self.reml
                else self.theta_opt
            )
            blocks = list(d.random if self.rescaling is None else self.opt_problem.raw_blocks)
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
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            return fit_design(self.design, reml=False, level=self.level, control=self.control,
                              weights=self.weights)

    def refit_control(self, control: Control | dict | None) -> MixedResult:
        """The same model refitted with other fitting options (used by ``all_fit``).

        Parameters
        ----------
        control : Control or dict or None
            The fitting options of the refit (``None``: the defaults). A pair of identical
            optimiser names (``all_fit`` names both GLMM stages) is one optimiser here.

        Returns
        -------
        MixedResult
            The refit, with the same REML/ML choice and prior weights.
        """
        new = as_control(control)
        if isinstance(new.optimizer, tuple) and len(set(new.optimizer)) == 1:
            new = new.with_(optimizer=new.optimizer[0])
        return fit_design(self.design, reml=self.reml, level=self.level, control=new,
                          weights=self.weights)

    def simulate(self, rng: np.random.Generator, beta: np.ndarray | None = None) -> np.ndarray:
        d = self.design
        b = self.beta if beta is None else np.asarray(beta, dtype=float)
        e = self.sigma * rng.standard_normal(d.nobs)
        if self.weights is not None:  # residual variance sigma^2 / w
            e = e / np.sqrt(self.weights)
        y = d.X @ b + d.offset + e
        for blk, T in zip(d.random, self.problem.layout.factors(self.theta), strict=True):
            u = rng.standard_normal((blk.nlevels, blk.q)) @ (self.sigma * T).T
            y = y + np.einsum("nq,nq->n", blk.Z, u[blk.codes])
        return y

    def refit(self, y: np.ndarray, ddf: bool = True) -> Refit:
        return refit_lmm(self, np.asarray(y, dtype=float), ddf)

    # ------------------------------------------------------------------ result
    def result(self, messages: list[str] | None = None) -> MixedResult:
        """The :class:`MixedResult` of this fit (``messages``: notes of the convergence
        checks, printed by its ``summary()``)."""
        d, p = self.design, self.problem.p
        df = self.satt.df_all() if self.satt is not None else np.zeros(0)
        messages = list(messages or [])
        if self.satt is not None and np.any(self.satt.evals < -1e-8):
            messages.append(
                "Hessian of the deviance in (theta, sigma) has negative eigenvalues; "
                "Satterthwaite df may be unreliable"
            )
        fitted = self.fitted_values()
        fields = shared_fields(
            self, df=df, deviance=self.criterion, npar=p + self.problem.layout.n + 1,
            fitted=fitted, residuals=d.y - fitted, n_dropped=d.n_dropped, residual_row=True,
        )
        return MixedResult(
            self,
            formula=d.parsed.formula,
            response=d.response,
            method="REML" if self.reml else "ML",
            family="gaussian",
            optimizer=self.summary,
            messages=messages,
            aliased=d.aliased,
            **fields,
        )


# ---------------------------------------------------------------------------- checks
def _check_design(design: Design, control: Control) -> None:
    if not design.random:
        raise FormulaError(
            f"formula {design.parsed.formula!r} has no random-effects term such as (1 | patient); "
            "use an ordinary regression for models without random effects"
        )
    if design.y.ndim != 1:
        raise FormulaError("a linear mixed model needs a single numeric response (no cbind())")
    n = design.nobs
    for i, a in enumerate(design.random):
        for b in design.random[i + 1 :]:
            shared = sorted(set(a.colnames) & set(b.colnames))
            if set(a.group_vars) == set(b.group_vars) and shared:
                raise ModelSpecificationError(
                    f"random effect(s) {shared} appear in two terms for the same grouping "
                    f"factor: ({a.lhs} | {':'.join(a.label_vars)}) and "
                    f"({b.lhs} | {':'.join(b.label_vars)}); their variances "
                    "cannot be told apart - keep one term per effect"
                )
    for b in design.random:
        if b.nlevels >= n:
            _nobs_check(
                control.check_nobs_vs_nlev, "check_nobs_vs_nlev",
                f"number of levels of grouping factor {b.group!r} ({b.nlevels}) must be smaller "
                f"than the number of observations ({n})"
            )
        if n <= b.nlevels * b.q:
            _nobs_check(
                control.check_nobs_vs_nRE, "check_nobs_vs_nRE",
                f"number of observations ({n}) <= number of random effects "
                f"({b.nlevels * b.q}) for term ({' + '.join(b.colnames)} | {b.group}); the "
                "random-effects parameters and the residual variance are probably unidentifiable"
            )
    if design.nobs <= design.X.shape[1]:
        raise ModelSpecificationError(
            f"{design.nobs} observations cannot estimate {design.X.shape[1]} fixed effects"
        )


def _nobs_check(level: str, option: str, text: str) -> None:
    if level == "stop":
        raise ModelSpecificationError(f"{text} (control option {option})")
    report_check(level, text, DataQualityWarning, stacklevel=4)


def fit_design(
    design: Design,
    *,
    reml: bool = True,
    level: float = 0.95,
    control: Control | None = None,
    weights: np.ndarray | None = None,
) -> MixedResult:
    """Fit an LMM to a prepared :class:`~alliancestats.models.design.Design`.

    The work behind :func:`lmm` once the formula has been turned into matrices: checks,
    sufficient statistics, optimisation (restarted once if the optimum fails the scaled
    gradient check), inference and the :class:`MixedResult`. ``weights`` are prior weights
    of the design's rows (already checked).
    """
    control = check_lmm_control(Control() if control is None else control)
    _check_design(design, control)
    y = design.y - design.offset
    fit_type = getattr(design, "fit_type", LmmFit)  # a Dask fit's design names its own
    # the criterion works on many tiny matrices: BLAS threading only adds contention there
    with single_threaded_blas():
        problem = LmmProblem(design.X, y, design.random, weights=weights, nobs=design.nobs)
        _check_not_exact(problem, y)
        rescaling = _rescaled_problem(design, y, weights)
        opt_problem = problem if rescaling is None else rescaling.problem
        defer = design.X.shape[1] > 0
        theta, summary = minimize_theta(opt_problem, reml, defer_scaled_check=defer,
                                        control=control)
        fit = fit_type(design, problem, theta, summary, reml, level, rescaling, control)
        if not fit.converged and control.calc_derivs:
            # the Hessian-scaled gradient is too large: restart from the point reached
            theta, summary2 = minimize_theta(opt_problem, reml, start=theta, control=control)
            summary2.evaluations += summary.evaluations
            summary2.restarts += summary.restarts + 1
            fit = fit_type(design, problem, theta, summary2, reml, level, rescaling, control)
        messages = _check_fit(fit, control)
        result = fit.result(messages)
    return result


def _check_not_exact(problem: LmmProblem, y: np.ndarray) -> None:
    """Refuse a response that the fixed effects reproduce exactly.

    The residual sum of squares after the fixed part is compared with the response's own
    sum of squares, so that a response on any scale (``y * 1e-12``) is judged alike.
    """
    rss = problem.xy_xy[-1, -1]
    if not rss > EXACT_FIT_TOL * float(y @ y):
        raise ModelSpecificationError(
            "the fixed effects reproduce the response exactly (zero residual variance); "
            "a mixed model cannot be estimated - check the response and predictors"
        )


def _rescaled_problem(design: Design, y: np.ndarray, weights: np.ndarray | None) -> Rescaling | None:
    """The problem with every random-effect column divided by its RMS, when some column is
    badly scaled (e.g. a slope on time in seconds); ``None`` otherwise.

    With ``Z = Z_s D`` (D diagonal) and ``Lambda_s = D Lambda`` the model is unchanged, but θ is
    then of order one for every column, which keeps the trust-region optimiser, the gradient
    check and the numerical derivatives of the Satterthwaite df well conditioned. lme4 does not
    rescale and can stop far from the optimum on such data.
    """
    scales = []
    for b in design.random:
        rms = np.sqrt(np.sum(b.Z**2, axis=0) / design.nobs)
        scales.append(np.where(rms > 0, rms, 1.0))
    lo, hi = SCALE_RANGE
    if not any(np.any((s < lo) | (s > hi)) for s in scales):
        return None
    blocks = [dataclasses.replace(b, Z=b.Z / s) for b, s in zip(design.random, scales, strict=True)]
    return Rescaling(LmmProblem(design.X, y, blocks, weights=weights, nobs=design.nobs), scales)


def _check_fit(fit: LmmFit, control: Control) -> list[str]:
    """lme4's ``checkConv`` on the final fit, at the levels set in ``control``: warnings are
    issued, ``"stop"`` raises; returns the notes for ``summary()`` that it does not print
    from ``singular`` / ``converged`` itself."""
    messages: list[str] = []
    if fit.singular:
        report_check(
            control.check_conv_singular,
            "boundary (singular) fit: a variance is estimated as (near) zero or a correlation "
            "as +-1; consider simplifying the random effects",
            SingularFitWarning, stacklevel=5,  # summary() notes a singular fit itself
        )
        return messages
    if not fit.converged:
        s = fit.summary
        budget = s.message.startswith("maximum")
        text = (f"optimizer stopped at its evaluation budget (maxfun = {control.maxfun})"
                if budget else
                f"optimizer did not reach a verified optimum (max |scaled gradient| = "
                f"{s.max_scaled_gradient:.2g}, tolerance {control.check_conv_grad_tol:g})")
        # summary() notes a failed gradient check itself; the budget is worth its own note
        report_check(control.check_conv_grad, text + "; check the model or rescale predictors",
                     ConvergenceWarning, messages if budget else None, stacklevel=5)
    if control.calc_derivs and fit.satt is not None:
        neg = int(np.sum(fit.satt.evals < -control.check_conv_hess_tol))
        if neg:
            report_check(
                control.check_conv_hess,
                f"Model failed to converge: degenerate Hessian with {neg} negative "
                "eigenvalue(s)", ConvergenceWarning, messages, stacklevel=5,
            )
    return messages
