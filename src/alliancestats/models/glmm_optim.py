"""The two-stage optimisation of a GLMM, as ``lme4::glmer`` does it.

Stage 1 optimises the covariance parameters θ with BOBYQA (as glmer) with the fixed effects β
at the joint conditional mode of ``(u, beta)`` (glmer's ``nAGQ = 0`` step); stage 2
optimises ``(θ, β)`` together on the Laplace or adaptive Gauss-Hermite deviance (L-BFGS-B
with the exact Laplace gradient where available). Both stages work on θ scaled by the
root-mean-square of its random-effect column and on β of fixed-effect columns scaled the
same way, so that slopes on covariates in days or centimetres are as easy as intercepts. A
search that ends with a variance at zero is restarted from inside the parameter space
before the fit is called singular, and the optimum is polished by Newton steps on
finite-difference (or exact-gradient) derivatives, which also give the Hessian for the
standard errors and lme4's scaled-gradient convergence check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from alliancestats.errors import EstimationError
from alliancestats.models.agq import agq_deviance
from alliancestats.models.control import Control
from alliancestats.models.convergence import deriv12, hessian_from_gradient
from alliancestats.models.families import Family
from alliancestats.models.glmm_optimizers import run_optimizer
from alliancestats.models.pirls import PirlsProblem
from alliancestats.models.varcomp import SINGULAR_TOL

__all__ = ["GlmmOptimum", "StageSettings", "fit_two_stage", "glm_start"]


# ---------------------------------------------------------------------------- GLM start
def glm_start(X, y, pw, offset, fam: Family, maxit: int = 30) -> tuple[np.ndarray, bool]:
    """Fixed-effects starting values from an IRLS fit of the fixed part (R's ``glm.fit``).

    Also returns whether the fit certifies that the fixed part is *not* separated: IRLS
    converged (relative deviance change < 1e-10) with every fitted mean clearly inside the
    parameter space. At such a stationary point the likelihood cannot increase along any
    direction, so no separating direction exists (Albert & Anderson 1984); otherwise the
    exact linear-programming check is run.
    """
    mu = fam.starting_mu(y, pw)
    eta = fam.link.linkfun(mu)
    beta = np.zeros(X.shape[1])
    dev_old = np.inf
    converged = False
    for _ in range(maxit):
        me = fam.link.mu_eta(eta)
        w = pw * me * me / fam.variance(mu)
        z = eta - offset + (y - mu) / me
        XtW = X.T * w
        try:
            beta = np.linalg.solve(XtW @ X, XtW @ z)
        except np.linalg.LinAlgError:
            break
        eta = offset + X @ beta
        mu = fam.link.linkinv(eta)
        dev = float(np.sum(fam.dev_resids(y, mu, pw)))
        if abs(dev - dev_old) < 1e-10 * (abs(dev) + 0.1):
            converged = True
            break
        dev_old = dev
    if not np.all(np.isfinite(beta)):
        return np.zeros(X.shape[1]), False
    active = pw > 0
    if fam.name == "binomial":
        interior = bool(np.all((mu[active] > 1e-6) & (mu[active] < 1 - 1e-6)))
    else:
        interior = bool(np.all(mu[active & (y == 0)] > 1e-6))
    return beta, converged and interior


# ---------------------------------------------------------------------------- settings
@dataclass(frozen=True)
class StageSettings:
    """What :class:`~alliancestats.models.control.Control` asks of the two stages."""

    stage1: str = "bobyqa"
    stage2: str = "lbfgsb"
    maxfun: int = 10_000
    xtol_abs: float = 1e-8
    ftol_abs: float = 1e-8
    ftol_rel: float = 1e-12
    calc_derivs: bool = True
    restart_edge: bool = True

    @classmethod
    def from_control(cls, control: Control | None) -> StageSettings:
        """Stages from a :class:`Control` (None: the engine's defaults).

        A single optimiser name sets both stages, as ``glmerControl``, except lme4's default
        name ``"bobyqa"``, which keeps the exact-gradient L-BFGS-B second stage; give a pair
        such as ``("bobyqa", "bobyqa")`` to run BOBYQA in both.
        """
        if control is None:
            return cls()
        s1, s2 = control.stage_optimizers()
        if control.optimizer == "bobyqa":
            s2 = "lbfgsb"
        return cls(s1, s2, control.maxfun, control.xtol_abs, control.ftol_abs,
                   control.ftol_rel, control.calc_derivs, control.restart_edge)

    @property
    def method(self) -> str:
        return f"stage 1 (theta): {self.stage1}; stage 2 (theta, beta): {self.stage2}"


@dataclass
class GlmmOptimum:
    """Where the two-stage search ended, with derivatives there.

    ``theta`` is in the units of the design's random-effect columns and ``beta`` belongs to
    the problem's (scaled) fixed-effect columns; ``grad`` and ``hess`` are in the
    optimiser's coordinates ``(theta * theta_scale, beta)`` -- θ only for ``nAGQ = 0``, and
    None when derivatives were not computed (``calc_derivs=False``).
    """

    theta: np.ndarray
    beta: np.ndarray
    deviance: float
    grad: np.ndarray | None
    hess: np.ndarray | None
    nfev: int
    stage1_theta: np.ndarray
    theta_scale: np.ndarray
    messages: list[str] = field(default_factory=list)
    optimizer_ok: bool = True
    optimizer_message: str = ""
    gradient_method: str = "finite differences"
    restarts: int = 0
    seconds: float = 0.0
    start: np.ndarray = field(default_factory=lambda: np.zeros(0))
    method: str = ""


_BIG = 1e100  # stands in for a deviance that cannot be evaluated
_STAGE1_START_TOL = 1e-7  # joint-mode step tolerance while stage 1 only seeks a start
_STAGE1_START_RHOEND = 1e-3  # final BOBYQA step of stage 1 when it only seeks a start


class _Objective:
    """The GLMM criteria in the optimiser's coordinates ``x = (theta * s, beta)``.

    ``s`` scales each element of θ by the root-mean-square of its random-effect column, so
    that θ is of order one whether a slope is per day or per year: a badly scaled θ (a slope
    SD 1/100 of the intercept's) otherwise leaves the search stuck where the deviance is
    flat (MixedModels.jl likewise works on a rescaled θ).
    """

    def __init__(self, problem: PirlsProblem, nagq: int, theta_scale: np.ndarray) -> None:
        self.problem, self.nagq, self.s = problem, nagq, theta_scale
        self.nt = theta_scale.size
        self.count = 0
        self.analytic = nagq == 1 and problem.has_gradient
        self.lower_theta = problem.re.theta_lower * theta_scale
        self.state = {"beta": np.zeros(problem.p)}
        self.stage1_tol: float | None = None  # joint-mode tolerance (None: the problem's)

    def theta(self, th_s: np.ndarray) -> np.ndarray:
        return th_s / self.s

    def stage1(self, th_s: np.ndarray) -> float:
        """glmer's nAGQ = 0 criterion: β at the joint conditional mode of (u, β)."""
        self.count += 1
        try:
            b, crit = self.problem.joint_mode(self.theta(th_s), self.state["beta"],
                                              tol=self.stage1_tol)
        except EstimationError:
            return _BIG
        if np.all(np.isfinite(b)):
            self.state["beta"] = b
        return crit if np.isfinite(crit) else _BIG

    def dev(self, x: np.ndarray) -> float:
        self.count += 1
        th, b = self.theta(x[: self.nt]), x[self.nt :]
        try:
            if self.nagq == 1:
                val = self.problem.laplace(th, b)
            else:
                val = agq_deviance(self.problem, th, b, self.nagq)[0]
        except EstimationError:
            return _BIG
        return val if np.isfinite(val) else _BIG

    def dev_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.count += 1
        try:
            val, gr = self.problem.laplace_gradient(self.theta(x[: self.nt]), x[self.nt :])
        except EstimationError:
            return _BIG, np.zeros_like(x)
        if not (np.isfinite(val) and np.all(np.isfinite(gr))):
            return _BIG, np.zeros_like(x)
        gr = gr.copy()
        gr[: self.nt] /= self.s
        return val, gr

    def derivs(self, x: np.ndarray, fx: float, lower: np.ndarray):
        if self.nagq == 0:
            return deriv12(self.stage1, x, lower, fx)
        if not self.analytic:
            return deriv12(self.dev, x, lower, fx)
        return hessian_from_gradient(self.dev_grad, x, lower)


def _stage1(obj: _Objective, beta0: np.ndarray, settings: StageSettings = StageSettings(),
            final: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """θ (optimiser's coordinates) and β from glmer's first stage (BOBYQA by default).

    As a start for stage 2 a moderate final step (1e-4) suffices; for ``nAGQ = 0``
    (``final``) the stage runs to ``xtol_abs``.
    """
    problem = obj.problem
    obj.state = {"beta": beta0.copy()}
    problem.reset()
    start = problem.re.theta_start * obj.s
    # only a start for stage 2: the joint modes need not be exact to 1e-10 (the criterion's
    # error is of the order of the squared step, far below what a 1e-4 final step resolves)
    obj.stage1_tol = None if final else _STAGE1_START_TOL
    res = run_optimizer(
        settings.stage1, obj.stage1, start, obj.lower_theta, rhobeg=0.2,
        rhoend=settings.xtol_abs if final else _STAGE1_START_RHOEND,
        maxfun=min(settings.maxfun, 200 * obj.nt + 200) if not final else settings.maxfun,
        ftol=settings.ftol_abs,
    )
    obj.stage1_run = res
    obj.stage1_tol = None
    problem.reset()
    try:
        beta1, _ = problem.joint_mode(obj.theta(res.x), obj.state["beta"])
    except EstimationError:  # keep the best fixed effects seen in stage 1
        beta1 = obj.state["beta"].copy()
        problem.reset()
    return res.x, beta1


def _stage2(obj: _Objective, start: np.ndarray, lower: np.ndarray, settings: StageSettings):
    """(θ, β) on the Laplace or AGQ deviance with the second-stage optimiser."""
    res = run_optimizer(
        settings.stage2, obj.dev, start, lower, rhobeg=0.02, rhoend=settings.xtol_abs,
        maxfun=settings.maxfun, ftol=settings.ftol_rel / 10.0 if settings.stage2 == "lbfgsb"
        else settings.ftol_abs, grad=obj.dev_grad if obj.analytic else None,
    )
    x = np.maximum(res.x, np.where(np.isfinite(lower), lower, -np.inf))
    return res, x, obj.dev(x)


def _interior_restarts(obj, res, x, fx, theta1, lower, settings):
    """Restart a search that ended with a variance on its bound from inside the parameter
    space (a zero SD is a stationary point of the deviance by symmetry, so a search that
    lands there cannot leave it); keep the lowest deviance."""
    nt = obj.nt
    restarts = 0
    on_edge = np.isfinite(lower[:nt]) & (x[:nt] - lower[:nt] < SINGULAR_TOL)
    if not (settings.restart_edge and np.any(on_edge)):
        return res, x, fx, restarts
    starts = []
    for value in (np.maximum(theta1, 0.5), np.full(nt, 0.25)):
        s = x.copy()
        s[:nt][on_edge] = value[on_edge]
        starts.append(s)
    for s in starts:
        res_r, x_r, f_r = _stage2(obj, s, lower, settings)
        restarts += 1
        if f_r < fx - 1e-10 * abs(fx):
            res, x, fx = res_r, x_r, f_r
    return res, x, fx, restarts


def _polish(obj: _Objective, x, fx, lower):
    """Newton steps from the finite-difference (or exact-gradient) derivatives."""
    g, H = obj.derivs(x, fx, lower)
    crit = obj.stage1 if obj.nagq == 0 else obj.dev
    for _ in range(4):
        free = ~(np.isfinite(lower) & (x - lower < 1e-8) & (g > 0))
        try:
            step = np.zeros_like(x)
            step[free] = -np.linalg.solve(H[np.ix_(free, free)], g[free])
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or np.max(np.abs(step)) < 1e-7:
            break
        cand = np.maximum(x + step, np.where(np.isfinite(lower), lower, -np.inf))
        fc = crit(cand)
        if not fc < fx:
            break
        x, fx = cand, fc
        if np.max(np.abs(step)) < 1e-4:
            # a tiny Newton step: the Hessian is unchanged to the accuracy that matters for
            # standard errors, and the gradient at the new point is ~ g + H step
            g = g + H @ step
            break
        g, H = obj.derivs(x, fx, lower)
    return x, fx, g, H


def _fit_nagq0(obj: _Objective, beta0: np.ndarray, settings: StageSettings):
    """glmer(nAGQ = 0): θ by the first stage only, β at the joint conditional mode."""
    theta1, beta1 = _stage1(obj, beta0, settings, final=True)
    res = obj.stage1_run
    lower = obj.lower_theta
    fx = obj.stage1(theta1)
    g = H = None
    if settings.calc_derivs:
        theta1, fx, g, H = _polish(obj, theta1, fx, lower)
    obj.problem.reset()
    beta1, fx = obj.problem.joint_mode(obj.theta(theta1), beta1)
    return res, theta1, beta1, fx, g, H


def fit_two_stage(
    problem: PirlsProblem,
    nagq: int,
    beta0: np.ndarray,
    theta_scale: np.ndarray | None = None,
    settings: StageSettings | None = None,
    warm: tuple[np.ndarray, np.ndarray] | None = None,
) -> GlmmOptimum:
    """Two-stage fit from GLM starting values ``beta0`` (see the module docstring).

    ``theta_scale`` multiplies θ into the optimiser's coordinates (default: ones);
    ``settings`` chooses the optimisers and tolerances (default: the engine's own);
    ``warm`` = (θ, β of the problem's columns) skips the first stage and starts the second
    there (refits of a nearby model, e.g. the negative binomial at another shape).
    """
    t0 = time.perf_counter()
    settings = settings or StageSettings()
    nt = problem.re.theta_start.size
    s = np.ones(nt) if theta_scale is None else np.asarray(theta_scale, dtype=float)
    obj = _Objective(problem, nagq, s)
    restarts = 0
    if nagq == 0:
        res, x_theta, beta, fx, g, H = _fit_nagq0(obj, beta0, settings)
        theta1, x0 = x_theta, x_theta
        x = np.concatenate([x_theta, beta])
    else:
        if warm is None:
            theta1, beta1 = _stage1(obj, beta0, settings)
        else:
            theta1 = np.asarray(warm[0], dtype=float) * s
            beta1 = np.asarray(warm[1], dtype=float).copy()
        lower = np.concatenate([obj.lower_theta, np.full(beta1.size, -np.inf)])
        x0 = np.concatenate([theta1, beta1])
        res, x, fx = _stage2(obj, x0, lower, settings)
        res, x, fx, restarts = _interior_restarts(obj, res, x, fx, theta1, lower, settings)
        g = H = None
        if settings.calc_derivs:
            x, fx, g, H = _polish(obj, x, fx, lower)
        obj.dev(x)  # leave the PIRLS state at the optimum
    return GlmmOptimum(
        theta=obj.theta(x[:nt]),
        beta=x[nt:],
        deviance=fx,
        grad=g,
        hess=H,
        nfev=obj.count,
        stage1_theta=obj.theta(theta1),
        theta_scale=s,
        optimizer_ok=bool(res.success),
        optimizer_message=str(res.message),
        gradient_method="analytic" if obj.analytic and nagq == 1 else "finite differences",
        restarts=restarts,
        seconds=time.perf_counter() - t0,
        start=x0,
        method=settings.method if nagq else f"stage 1 (theta) only, nAGQ = 0: {settings.stage1}",
    )
