"""Profile-likelihood intervals for GLMMs (lme4's ``confint(method = "profile")``).

For each random-effect SD (models whose terms are all scalar, where θ is the SD) and each
fixed effect, the deviance is minimised over all other parameters with that one held
fixed (L-BFGS-B, with the exact Laplace gradient where available); the interval ends are
where the profiled deviance exceeds its minimum by the chi-square(1) quantile
(:func:`~alliancestats.models.profile.interval_end`). A lower end of 0 for an SD means the
interval reaches the boundary. Models with vector-valued terms (random slopes) are profiled
on the SD/correlation scale by :func:`~alliancestats.models.profile_sdcor.profile_sdcor`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alliancestats.errors import EstimationError
from alliancestats.models.agq import agq_deviance
from alliancestats.models.convergence import fd_gradient
from alliancestats.models.profile import interval_end, profile_table

if TYPE_CHECKING:  # pragma: no cover
    from alliancestats.models.glmm_fit import GlmmFit

__all__ = ["profile_glmm"]


class _Profiler:
    """The deviance minimised over all parameters but one, on the optimiser's scaled β."""

    def __init__(self, fit: GlmmFit) -> None:
        self.problem, self.nagq = fit.problem, fit.nagq
        self.nt = fit.theta.size
        self.x_hat = np.concatenate([fit.theta, fit.beta_scaled])
        self.lower = np.concatenate(
            [fit.problem.re.theta_lower, np.full(fit.beta_scaled.size, -np.inf)]
        )
        self.use_grad = fit.nagq == 1 and fit.problem.has_gradient

    def value_grad(self, x: np.ndarray):
        nt, problem = self.nt, self.problem
        if self.use_grad:
            return problem.laplace_gradient(x[:nt], x[nt:])
        if self.nagq == 1:
            return problem.laplace(x[:nt], x[nt:]), None
        return agq_deviance(problem, x[:nt], x[nt:], self.nagq)[0], None

    def at(self, k: int, t: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        keep = np.arange(self.x_hat.size) != k

        def fg(y):
            x = np.empty(self.x_hat.size)
            x[keep] = y
            x[k] = t
            try:
                f, g = self.value_grad(x)
            except EstimationError:
                return 1e100, np.zeros(y.size)
            if g is None:
                g = fd_gradient(
                    lambda z: self.value_grad(np.insert(z, k, t))[0], y, self.lower[keep], f
                )
            else:
                g = g[keep]
            return f, g

        bounds = [(lo if np.isfinite(lo) else None, None) for lo in self.lower[keep]]
        res = optimize.minimize(
            fg, start[keep], jac=True, method="L-BFGS-B", bounds=bounds,
            options={"ftol": 1e-12, "gtol": 1e-7, "maxiter": 500},
        )
        x = np.empty(self.x_hat.size)
        x[keep] = res.x
        x[k] = t
        return float(res.fun), x


def _one_parameter(prof: _Profiler, k: int, se: float, dev0: float, crit: float):
    est = float(prof.x_hat[k])
    state = {"x": prof.x_hat.copy()}

    def excess(t: float) -> float:
        f, x = prof.at(k, t, state["x"])
        state["x"] = x
        return f - dev0 - crit

    step = se if np.isfinite(se) and se > 0 else 0.5 * abs(est) + 0.1
    bound = prof.lower[k]
    ends = []
    for sign, limit in ((-1.0, est - bound if np.isfinite(bound) else np.inf), (1.0, np.inf)):
        state["x"] = prof.x_hat.copy()
        d = interval_end(lambda v, s=sign: excess(est + s * v), 0.0, limit, step, xtol_rel=1e-6)
        ends.append(est + sign * d)
    return est, ends[0], ends[1]


def profile_glmm(fit: GlmmFit, level: float, progress: bool | None = None) -> pd.DataFrame:
    """Profile intervals of the random-effect SDs and fixed effects of a GLMM fit."""
    re = fit.problem.re
    if any(t.q != 1 for t in re.terms):  # random slopes: profile SDs and correlations
        from alliancestats.models.profile_sdcor import profile_sdcor

        return profile_sdcor(fit, level, progress)
    prof = _Profiler(fit)
    crit = stats.chi2.ppf(level, 1)
    try:
        se_all = np.sqrt(np.clip(np.diag(2.0 * np.linalg.inv(fit.opt.hess)), 0, None))
    except np.linalg.LinAlgError:
        se_all = np.full(prof.x_hat.size, np.nan)
    names = [f"sd_{t.colnames[0]}|{t.group}" for t in re.terms] + list(fit.design.fixed_names)
    unit = np.concatenate([np.ones(prof.nt), fit.scale])  # report beta in original units
    return profile_table(
        names, unit, lambda k: _one_parameter(prof, k, se_all[k], fit.deviance, crit), progress)
