"""Profile-likelihood intervals of GLMMs on the SD/correlation scale (vector-valued terms).

lme4's ``confint(method = "profile")`` profiles a GLMM in the standard deviations and
correlations of its random effects and in its fixed effects (Bates, Mächler, Bolker & Walker
2015, J Stat Softw 67(1), section 5.1): each parameter is held at trial values while the
Laplace deviance is minimised over all others, and the interval ends are where the profiled
deviance exceeds its minimum by the chi-square(1) quantile (Venzon & Moolgavkar 1988, Appl
Stat 37(1)). For a random intercept the SD is θ itself; with a random slope the SDs and
correlations are smooth functions of θ (``D chol(R)``), and the minimisation runs over
``(sd, cor, beta)`` within their bounds (SDs >= 0, correlations in [-1, 1]) with the exact
Laplace gradient in θ carried over by the Jacobian of that map.

Examples
--------
>>> import numpy as np
>>> from alliancestats.models.covariance import ThetaLayout
>>> lay = ThetaLayout.from_sizes([2])
>>> J = theta_jacobian(lay, np.array([1.0, 0.0, 0.5]))
>>> J.shape
(3, 3)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import optimize, stats

from alliancestats.errors import EstimationError
from alliancestats.models.convergence import fd_gradient
from alliancestats.models.covariance import ThetaLayout
from alliancestats.models.profile import interval_end, profile_table
from alliancestats.models.varcomp import sd_mask, sdcor_names, sdcor_to_theta, theta_to_sdcor

if TYPE_CHECKING:  # pragma: no cover
    from alliancestats.models.glmm_fit import GlmmFit

__all__ = ["profile_sdcor", "theta_jacobian"]

_STEP = 1e-6  # central-difference step of the (smooth, cheap) map from SD/cor to θ


def theta_jacobian(layout: ThetaLayout, phi: np.ndarray) -> np.ndarray:
    """``d theta / d phi`` (rows θ, columns SDs and correlations) by central differences,
    one-sided at a bound (an SD of 0, a correlation of +-1)."""
    J = np.empty((layout.n, phi.size))
    names_sd = np.zeros(phi.size, dtype=bool)
    k = 0
    for r_idx, c_idx in zip(layout.rows, layout.cols, strict=True):
        for r, c in zip(r_idx, c_idx, strict=True):
            names_sd[k] = r == c
            k += 1
    lo = np.where(names_sd, 0.0, -1.0)
    hi = np.where(names_sd, np.inf, 1.0)
    for j in range(phi.size):
        up, down = phi.copy(), phi.copy()
        up[j] = min(phi[j] + _STEP, hi[j])
        down[j] = max(phi[j] - _STEP, lo[j])
        t_up = sdcor_to_theta(layout, up, sigma=1.0)[0]
        t_down = sdcor_to_theta(layout, down, sigma=1.0)[0]
        J[:, j] = (t_up - t_down) / (up[j] - down[j])
    return J


class _SdcorProfiler:
    """The Laplace deviance in ``(sd/cor, beta_scaled)``, minimised over all but one."""

    def __init__(self, fit: GlmmFit) -> None:
        self.problem = fit.problem
        self.layout = fit.problem.re.layout
        phi = theta_to_sdcor(self.layout, fit.theta, 1.0, residual=False)
        self.nphi = phi.size
        self.x_hat = np.concatenate([phi, fit.beta_scaled])
        names = sdcor_names(fit.design.random, self.layout, residual=False)
        is_sd = sd_mask(names)
        nb = fit.beta_scaled.size
        self.lower = np.concatenate([np.where(is_sd, 0.0, -1.0), np.full(nb, -np.inf)])
        self.upper = np.concatenate([np.where(is_sd, np.inf, 1.0), np.full(nb, np.inf)])
        self.use_grad = fit.problem.has_gradient

    def value_grad(self, x: np.ndarray) -> tuple[float, np.ndarray | None]:
        phi, beta = x[: self.nphi], x[self.nphi :]
        theta = sdcor_to_theta(self.layout, phi, sigma=1.0)[0]
        if not self.use_grad:
            return self.problem.laplace(theta, beta), None
        f, g = self.problem.laplace_gradient(theta, beta)
        nt = theta.size
        return f, np.concatenate([theta_jacobian(self.layout, phi).T @ g[:nt], g[nt:]])

    def at(self, k: int, t: float, start: np.ndarray) -> tuple[float, np.ndarray]:
        keep = np.arange(self.x_hat.size) != k

        def full(y: np.ndarray) -> np.ndarray:
            x = np.empty(self.x_hat.size)
            x[keep] = y
            x[k] = t
            return x

        def fg(y: np.ndarray):
            try:
                f, g = self.value_grad(full(y))
            except (EstimationError, np.linalg.LinAlgError):
                return 1e100, np.zeros(y.size)
            if g is None:
                g = fd_gradient(lambda z: self.value_grad(full(z))[0], y, self.lower[keep], f)
            else:
                g = g[keep]
            return f, g

        bounds = [(lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
                  for lo, hi in zip(self.lower[keep], self.upper[keep], strict=True)]
        y0 = np.clip(start[keep], self.lower[keep], self.upper[keep])
        res = optimize.minimize(fg, y0, jac=True, method="L-BFGS-B", bounds=bounds,
                                options={"ftol": 1e-12, "gtol": 1e-7, "maxiter": 500})
        return float(res.fun), full(res.x)


def _one_parameter(prof: _SdcorProfiler, k: int, step: float, dev0: float, crit: float):
    est = float(prof.x_hat[k])
    solved: dict[float, tuple[float, np.ndarray]] = {est: (dev0, prof.x_hat.copy())}

    def excess(t: float) -> float:
        # memoised, warm-started from the nearest value already profiled (near points share
        # optima); a value not clearly below the cut-off is re-solved from the estimates, so
        # that a local optimum reached from a warm start cannot decide an interval end
        if t not in solved:
            near = solved[min(solved, key=lambda u: abs(u - t))][1]
            best = prof.at(k, t, near)
            if best[0] - dev0 - crit > -0.5:
                again = prof.at(k, t, prof.x_hat)
                best = min(best, again, key=lambda r: r[0])
            solved[t] = best
        return solved[t][0] - dev0 - crit

    ends = []
    for sign, bound in ((-1.0, prof.lower[k]), (1.0, prof.upper[k])):
        limit = abs(bound - est) if np.isfinite(bound) else np.inf
        d = interval_end(lambda v, s=sign: excess(est + s * v), 0.0, limit, step, xtol_rel=1e-6)
        ends.append(est + sign * d)
    return est, ends[0], ends[1]


def _steps(fit: GlmmFit, prof: _SdcorProfiler) -> np.ndarray:
    """Starting step per parameter: its Wald SE where available."""
    steps = np.full(prof.x_hat.size, np.nan)
    wald = fit.varcomp_wald(0.6827)  # about one SE wide on each side
    steps[: prof.nphi] = 0.5 * (wald["ci_high"] - wald["ci_low"]).to_numpy()
    V = fit.vcov_beta() * np.outer(fit.scale, fit.scale)
    steps[prof.nphi :] = np.sqrt(np.clip(np.diag(V), 0, None))
    fallback = 0.5 * np.abs(prof.x_hat) + 0.1
    ok = np.isfinite(steps) & (steps > 0)
    steps = np.where(ok, steps, fallback)
    # correlations: never a first step beyond a quarter of their range
    steps[: prof.nphi] = np.where(prof.upper[: prof.nphi] == 1.0,
                                  np.minimum(steps[: prof.nphi], 0.25), steps[: prof.nphi])
    return steps


def profile_sdcor(fit: GlmmFit, level: float, progress: bool | None = None) -> pd.DataFrame:
    """Profile intervals of the SDs, correlations and fixed effects of a GLMM.

    Rows named as lme4's ``confint(oldNames = FALSE)`` (``sd_(Intercept)|patient``,
    ``cor_session.(Intercept)|patient``, ..., then the fixed effects); columns
    ``estimate, ci_low, ci_high``.
    """
    prof = _SdcorProfiler(fit)
    crit = stats.chi2.ppf(level, 1)
    names = [*sdcor_names(fit.design.random, prof.layout, residual=False),
             *fit.design.fixed_names]
    unit = np.concatenate([np.ones(prof.nphi), fit.scale])  # report beta in original units
    steps = _steps(fit, prof)
    return profile_table(
        names, unit, lambda k: _one_parameter(prof, k, steps[k], fit.deviance, crit), progress)
