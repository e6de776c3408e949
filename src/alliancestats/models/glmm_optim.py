"""The two-stage optimisation of a GLMM, as ``lme4::glmer`` does it.

Stage 1 optimises the covariance parameters θ with the fixed effects β at the joint
conditional mode of ``(u, beta)`` (glmer's ``nAGQ = 0`` step); stage 2 optimises ``(θ, β)``
together on the Laplace or adaptive Gauss-Hermite deviance (L-BFGS-B with the exact Laplace
gradient where available). A search that ends with a variance at zero is restarted from
inside the parameter space, and the optimum is polished by Newton steps on
finite-difference (or exact-gradient) derivatives, which also give the Hessian for the
standard errors and lme4's scaled-gradient convergence check.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize

from alliancestats.errors import EstimationError
from alliancestats.models.agq import agq_deviance
from alliancestats.models.convergence import deriv12, fd_gradient, hessian_from_gradient
from alliancestats.models.families import Family
from alliancestats.models.pirls import PirlsProblem
from alliancestats.models.varcomp import SINGULAR_TOL

__all__ = ["GlmmOptimum", "fit_two_stage", "glm_start"]


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


# ---------------------------------------------------------------------------- optimisation
def _lbfgs_fd(fun, x0: np.ndarray, lower: np.ndarray, ftol: float, maxiter: int = 500):
    """Bounded quasi-Newton minimisation (L-BFGS-B) with finite-difference gradients."""

    def fg(x):
        f = fun(x)
        return f, fd_gradient(fun, x, lower, f)

    bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
    x0 = np.maximum(x0, np.where(np.isfinite(lower), lower, -np.inf))
    res = optimize.minimize(
        fg,
        x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": maxiter, "ftol": ftol, "gtol": 1e-7, "maxcor": 20},
    )
    return res


@dataclass
class GlmmOptimum:
    """Where the two-stage search ended, with derivatives there."""

    theta: np.ndarray
    beta: np.ndarray
    deviance: float
    grad: np.ndarray
    hess: np.ndarray
    nfev: int
    stage1_theta: np.ndarray
    messages: list[str] = field(default_factory=list)
    optimizer_ok: bool = True
    optimizer_message: str = ""
    gradient_method: str = "finite differences"
    restarts: int = 0
    seconds: float = 0.0
    start: np.ndarray = field(default_factory=lambda: np.zeros(0))


def fit_two_stage(problem: PirlsProblem, nagq: int, beta0: np.ndarray) -> GlmmOptimum:
    """Two-stage fit from GLM starting values ``beta0`` (see the module docstring)."""
    t0 = time.perf_counter()
    re = problem.re
    ntheta = re.theta_start.size
    restarts = 0
    counter = {"n": 0}
    big = 1e100

    # stage 1: theta with beta at the joint conditional mode (glmer's nAGQ = 0 step)
    state = {"beta": beta0.copy()}

    def stage1(th):
        counter["n"] += 1
        try:
            b, crit = problem.joint_mode(th, state["beta"])
        except EstimationError:
            return big
        if np.all(np.isfinite(b)):
            state["beta"] = b
        return crit if np.isfinite(crit) else big

    problem.reset()
    # stage 1 only supplies starting values, so a loose tolerance suffices
    res1 = _lbfgs_fd(stage1, re.theta_start.copy(), re.theta_lower, ftol=1e-6, maxiter=50)
    theta1 = np.asarray(res1.x, dtype=float)
    problem.reset()
    try:
        beta1, _ = problem.joint_mode(theta1, state["beta"])
    except EstimationError:  # keep the best fixed effects seen in stage 1
        beta1 = state["beta"].copy()
        problem.reset()

    # stage 2: (theta, beta) on the Laplace / AGQ deviance
    def dev(par):
        counter["n"] += 1
        th, b = par[:ntheta], par[ntheta:]
        try:
            if nagq == 1:
                val = problem.laplace(th, b)
            else:
                val = agq_deviance(problem, th, b, nagq)[0]
        except EstimationError:
            return big
        return val if np.isfinite(val) else big

    lower = np.concatenate([re.theta_lower, np.full(beta1.size, -np.inf)])
    x0 = np.concatenate([theta1, beta1])
    analytic = nagq == 1 and problem.has_gradient

    def dev_grad(par):
        counter["n"] += 1
        try:
            val, gr = problem.laplace_gradient(par[:ntheta], par[ntheta:])
        except EstimationError:
            return big, np.zeros_like(par)
        if not (np.isfinite(val) and np.all(np.isfinite(gr))):
            return big, np.zeros_like(par)
        return val, gr

    def derivs(x, fx):
        if not analytic:
            return deriv12(dev, x, lower, fx)
        return hessian_from_gradient(dev_grad, x, lower)

    def stage2(start):
        if analytic:
            bounds = [(lo if np.isfinite(lo) else None, None) for lo in lower]
            res = optimize.minimize(
                dev_grad,
                np.maximum(start, np.where(np.isfinite(lower), lower, -np.inf)),
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-8, "maxcor": 20},
            )
        else:
            res = _lbfgs_fd(dev, start, lower, ftol=1e-11)
        xr = np.asarray(res.x, dtype=float)
        return res, xr, dev(xr)

    res2, x, fx = stage2(x0)
    # A standard deviation of exactly zero is a stationary point of the deviance by symmetry
    # (d/d theta = 0 at theta = 0), so a search that lands there cannot leave it. Restart from
    # a positive value and keep whichever optimum is lower.
    on_edge = np.isfinite(lower[:ntheta]) & (x[:ntheta] - lower[:ntheta] < SINGULAR_TOL)
    if np.any(on_edge):
        restart = x.copy()
        restart[:ntheta][on_edge] = np.maximum(theta1[on_edge], 0.5)
        res_r, x_r, f_r = stage2(restart)
        restarts += 1
        if f_r < fx - 1e-10 * abs(fx):
            res2, x, fx = res_r, x_r, f_r
    messages = []
    ok = bool(res2.success)
    optimizer_message = str(res2.message)
    g, H = derivs(x, fx)
    # Newton steps from the finite-difference derivatives polish the optimum
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
        fc = dev(cand)
        if not fc < fx:
            break
        x, fx = cand, fc
        if np.max(np.abs(step)) < 1e-4:
            # a tiny Newton step: the Hessian is unchanged to the accuracy that matters for
            # standard errors, and the gradient at the new point is ~ g + H step
            g = g + H @ step
            break
        g, H = derivs(x, fx)
    dev(x)  # leave the PIRLS state at the optimum
    return GlmmOptimum(
        theta=x[:ntheta],
        beta=x[ntheta:],
        deviance=fx,
        grad=g,
        hess=H,
        nfev=counter["n"],
        stage1_theta=theta1,
        messages=messages,
        optimizer_ok=ok,
        optimizer_message=optimizer_message,
        gradient_method="analytic" if analytic else "finite differences",
        restarts=restarts,
        seconds=time.perf_counter() - t0,
        start=x0,
    )
