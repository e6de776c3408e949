"""Maximum-likelihood estimation of a compiled RAM model, with standard errors.

Why not an existing package: semopy (the one maintained SEM package for Python) adds
covariances that were not asked for to some models -- in the RI-CLPM this silently frees
paths that bias the lagged effects -- and its full-information ML did not converge on the
panel models here; no other Python package fits models with a mean structure by FIML. This
module is deliberately small: it fits the model families of :mod:`alliancestats.panel` and
reproduces lavaan 0.6-14 (Rosseel 2012, J Stat Softw 48(2)) on them.

Estimation
    The objective is minus the FIML log-likelihood divided by the number of rows (as in
    lavaan).
    Fisher scoring (Newton steps with the expected information, halved until the objective
    falls) from lavaan-like starting values; if it stalls, L-BFGS-B with the analytic gradient
    (:meth:`CompiledModel.gradient`) takes over and scoring polishes its result. A fit is
    converged when the Newton step still to go is below 1e-3 standard errors for every
    parameter.
Standard errors
    ``information="observed"`` (lavaan's default with missing data, and what Stata/SAS use
    for these models): the inverse Hessian of minus the log-likelihood, obtained by central
    differences of the analytic gradient, steps scaled to each parameter's
    expected-information standard error. ``"expected"``: the inverse expected
    information summed over missing-data patterns. ``se="robust"``: the Huber-White sandwich
    ``H^-1 B H^-1`` with ``B`` the cross-product of casewise scores (lavaan's
    ``se = "robust.huber.white"``; the standard errors of MLR).

Examples
--------
>>> import numpy as np
>>> from alliancestats.panel.ram import ModelSpec
>>> from alliancestats.panel.fiml import GroupData
>>> from alliancestats.panel.estimation import fit_sem
>>> rng = np.random.default_rng(1)
>>> x = rng.normal(size=300)
>>> y = 0.5 * x + rng.normal(size=300)
>>> spec = ModelSpec(["x", "y"])
>>> for row in (("y", "~", "x"), ("x", "~~", "x"), ("y", "~~", "y"), ("x", "~1", ""),
...             ("y", "~1", "")):
...     spec.add(*row)
>>> fit = fit_sem(spec.compile(), [GroupData.from_array(np.column_stack([x, y]))])
>>> fit.converged, round(float(fit.theta[0]), 3) == round(float(np.polyfit(x, y, 1)[0]), 3)
(True, True)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import linalg, optimize
from threadpoolctl import threadpool_limits

from alliancestats.errors import ConvergenceWarning, DataQualityWarning, ModelSpecificationError
from alliancestats.panel import fiml
from alliancestats.panel.fiml import GroupData, NotPositiveDefinite, SaturatedMoments
from alliancestats.panel.ram import CompiledModel

__all__ = ["SEMFit", "fit_sem", "start_values", "standard_errors"]

#: largest Newton step still to go (in standard errors) accepted as an optimum
STEP_TOLERANCE = 1e-3
#: gradient size (of -loglik / N) below which the optimizer is not consulted again
GRADIENT_TOLERANCE = 1e-6
_POLISH_TOLERANCE = 1e-9


@dataclass
class SEMFit:
    """A fitted model: estimates, likelihoods of the model and of its reference models.

    Attributes
    ----------
    model : CompiledModel
    data : list of GroupData
    theta : numpy.ndarray
        Free-parameter estimates (order of ``model.labels``).
    vcov : numpy.ndarray
        Their covariance matrix (NaN when the information matrix is singular).
    loglik, loglik_saturated, loglik_baseline : float
        Log-likelihoods of the model, the unrestricted model and the independence model.
    saturated : list of SaturatedMoments
        Unrestricted ML moments per group (for SRMR).
    information, se_type : str
    converged : bool
    gradient_max : float
        Largest absolute gradient element of -loglik / N at the estimate.
    messages : list of str
    """

    model: CompiledModel
    data: list[GroupData]
    theta: np.ndarray
    vcov: np.ndarray
    loglik: float
    loglik_saturated: float
    loglik_baseline: float
    saturated: list[SaturatedMoments]
    information: str
    se_type: str
    converged: bool
    gradient_max: float
    iterations: int
    messages: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        """Rows used, over all groups."""
        return sum(gd.n for gd in self.data)

    @property
    def se(self) -> np.ndarray:
        """Standard errors (NaN where the variance is not positive)."""
        var = np.diag(self.vcov)
        with np.errstate(invalid="ignore"):
            return np.where(var > 0, np.sqrt(np.where(var > 0, var, 1.0)), np.nan)


# ---------------------------------------------------------------------------------------------
# objective
# ---------------------------------------------------------------------------------------------
class _Objective:
    """-loglik / N and its gradient, with a cache of the last evaluation."""

    def __init__(self, model: CompiledModel, data: list[GroupData]) -> None:
        self.model = model
        self.data = data
        self.n = sum(gd.n for gd in data)
        self.evaluations = 0

    def value_and_gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluations += 1
        try:
            implied = self.model.implied(theta)
            ll, d_sigma, d_mu = fiml.loglik_gradient(self.data, implied)
        except (NotPositiveDefinite, np.linalg.LinAlgError):
            return 1e20, np.zeros_like(theta)
        grad = self.model.gradient(implied, d_sigma, d_mu)
        return -ll / self.n, -grad / self.n

    def gradient(self, theta: np.ndarray) -> np.ndarray:
        return self.value_and_gradient(theta)[1]

    def information(self, theta: np.ndarray, exact: bool = True) -> np.ndarray:
        """Expected information; ``exact=False`` may use the complete-data approximation.

        The approximation (every row treated as observing every variable) costs one
        ``p``-variable evaluation instead of one per missing-data pattern; it overstates
        the information when data are missing, which only shortens the scoring steps.
        """
        implied = self.model.implied(theta)
        jac = self.model.jacobian(implied)
        if exact or self._exact_cost() < 5e7:
            return fiml.expected_information(self.data, implied, jac)
        complete = [fiml.GroupData.complete(gd) for gd in self.data]
        return fiml.expected_information(complete, implied, jac)

    def _exact_cost(self) -> float:
        q = self.model.n_free
        return float(sum(b.n.size * q * q * b.index.shape[1] ** 2
                         for gd in self.data for b in gd.blocks))


# ---------------------------------------------------------------------------------------------
# starting values
# ---------------------------------------------------------------------------------------------
def start_values(model: CompiledModel, saturated: list[SaturatedMoments]) -> np.ndarray:
    """Starting values from the unrestricted moments (lavaan's "simple" rules, adapted).

    Regressions start at 0 and free loadings at 1; intercepts of observed variables at their
    means; variances of observed variables at their variance (exogenous) or half of it
    (endogenous); covariances between exogenous observed variables at their covariance, other
    covariances at 0; a latent variance at half the mean variance of its indicators divided by
    the number of latent parents they have (0.05 without indicators).
    """
    spec = model.spec
    p = model.n_observed
    theta = np.full(model.n_free, np.nan)
    index = {v: i for i, v in enumerate(spec.variables)}
    for g in range(spec.n_groups):
        rows = [(r, k) for r, k in zip(spec.rows, model.row_param, strict=True) if r.group == g]
        has_parent = {r.rhs if r.op == "=~" else r.lhs for r, _ in rows if r.op in ("=~", "~")}
        indicators: dict[str, list[str]] = {}
        parents: dict[str, int] = {}
        for r, _ in rows:
            if r.op == "=~" and r.rhs in index and index[r.rhs] < p:
                indicators.setdefault(r.lhs, []).append(r.rhs)
                parents[r.rhs] = parents.get(r.rhs, 0) + 1
        mean, cov = saturated[g].mean, saturated[g].cov
        for r, k in rows:
            if k < 0 or not np.isnan(theta[k]):
                continue
            theta[k] = _start_one(r, index, p, mean, cov, has_parent, indicators, parents)
    return theta


def _start_one(r, index, p, mean, cov, has_parent, indicators, parents) -> float:
    if r.op == "=~":
        return 1.0
    if r.op == "~":
        return 0.0
    i = index[r.lhs]
    if r.op == "~1":
        return float(mean[i]) if i < p else 0.0
    j = index[r.rhs]
    if i < p and j < p:
        if i == j:
            return float(cov[i, i]) * (0.5 if r.lhs in has_parent else 1.0)
        exogenous = r.lhs not in has_parent and r.rhs not in has_parent
        return float(cov[i, j]) if exogenous else 0.0
    if i == j:
        ind = indicators.get(r.lhs, [])
        if not ind:
            return 0.05
        share = np.mean([cov[index[v], index[v]] / max(parents[v], 1) for v in ind])
        return 0.5 * float(share)
    return 0.0


# ---------------------------------------------------------------------------------------------
# optimisation
# ---------------------------------------------------------------------------------------------
def _polish(objective: _Objective, theta: np.ndarray, max_steps: int = 50) -> tuple[np.ndarray, int]:
    """Fisher-scoring steps with step halving until the gradient is negligible.

    A step is taken when it lowers the objective or, once the objective no longer changes
    beyond rounding (1e-13 relative), when it lowers the largest gradient element; the loop
    stops when the Newton decrement says less than 1e-15 is left to gain.
    """
    value, grad = objective.value_and_gradient(theta)
    steps = 0
    for steps in range(1, max_steps + 1):  # noqa: B007 (returned)
        worst = np.max(np.abs(grad))
        if worst < _POLISH_TOLERANCE:
            break
        try:
            info = objective.information(theta, exact=False) / objective.n
            with warnings.catch_warnings():  # an ill-conditioned step is halved, not fatal
                warnings.simplefilter("ignore", linalg.LinAlgWarning)
                direction = -linalg.solve(info, grad, assume_a="pos")
        except (np.linalg.LinAlgError, ValueError, NotPositiveDefinite):
            break
        decrement = -float(grad @ direction)
        step = 1.0
        improved = False
        for _ in range(30):
            trial = theta + step * direction
            trial_value, trial_grad = objective.value_and_gradient(trial)
            noise = 1e-13 * max(1.0, abs(value))
            if trial_value < value - noise or (
                trial_value <= value + noise and np.max(np.abs(trial_grad)) < worst
            ):
                theta, value, grad = trial, trial_value, trial_grad
                improved = True
                break
            step /= 2
        if not improved or decrement < 1e-15:
            break
    return theta, steps


def _optimise(objective: _Objective, start: np.ndarray) -> tuple[np.ndarray, dict]:
    """Fisher scoring from ``start``; L-BFGS-B and another polish if that stalls."""
    value, _ = objective.value_and_gradient(start)
    if value >= 1e20:
        raise ModelSpecificationError(
            "the starting values imply a covariance matrix that is not positive definite"
        )
    theta, steps = _polish(objective, np.asarray(start, dtype=float), max_steps=200)
    record = {"scoring_steps": steps, "lbfgs_iterations": 0}
    if np.max(np.abs(objective.gradient(theta))) >= GRADIENT_TOLERANCE:
        res = optimize.minimize(
            objective.value_and_gradient, theta, jac=True, method="L-BFGS-B",
            options={"maxiter": 20000, "maxfun": 40000, "ftol": 0.0, "gtol": 1e-9,
                     "maxcor": 30},
        )
        theta, more = _polish(objective, np.asarray(res.x, dtype=float), max_steps=200)
        record.update(lbfgs_iterations=int(res.nit), lbfgs_message=str(res.message),
                      scoring_steps=steps + more)
    return theta, record


# ---------------------------------------------------------------------------------------------
# standard errors
# ---------------------------------------------------------------------------------------------
def _observed_information(objective: _Objective, theta: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Hessian of -loglik by central differences of the analytic gradient.

    Steps are ``scale`` (a thousandth of each parameter's standard error), small enough for
    the truncation error (relative order 1e-6) and large enough for rounding.
    """
    q = len(theta)
    hess = np.zeros((q, q))
    for k in range(q):
        e = np.zeros(q)
        e[k] = scale[k]
        hess[:, k] = (objective.gradient(theta + e) - objective.gradient(theta - e)) / (2 * scale[k])
    hess = (hess + hess.T) / 2
    return hess * objective.n


def standard_errors(
    model: CompiledModel,
    data: list[GroupData],
    theta: np.ndarray,
    *,
    information: str = "observed",
    se: str = "standard",
    expected: np.ndarray | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Covariance matrix of the estimates (and messages when it cannot be computed).

    ``expected`` is the exact expected information at ``theta`` when already computed.
    """
    objective = _Objective(model, data)
    if expected is None:
        expected = objective.information(theta)
    q = len(theta)
    messages: list[str] = []
    if q and not _identified(expected):
        messages.append(
            "the information matrix is singular: the model is not identified from these data "
            "(standard errors are not available)"
        )
        return np.full((q, q), np.nan), messages
    if information == "expected":
        info = expected
    else:
        step = 1e-3 * np.sqrt(np.clip(np.diag(linalg.inv(expected)), 1e-300, None))
        info = _observed_information(objective, theta, step)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", linalg.LinAlgWarning)
            inv = linalg.inv(info)
    except np.linalg.LinAlgError:
        messages.append("the information matrix could not be inverted")
        return np.full((q, q), np.nan), messages
    if caught:
        messages.append(
            "the information matrix is nearly singular: standard errors are unreliable "
            "(a weakly identified model; consider fewer waves or equality constraints)"
        )
    if np.any(np.diag(inv) < 0):
        messages.append(
            f"the {information} information matrix is not positive definite at the estimate "
            "(some standard errors are not available)"
        )
    if se == "robust":
        implied = model.implied(theta)
        scores = fiml.casewise_scores(data, implied, model.jacobian(implied))
        meat = scores.T @ scores
        inv = inv @ meat @ inv
    return (inv + inv.T) / 2, messages


def _identified(expected: np.ndarray) -> bool:
    """Whether the information is non-singular, judged on its correlation scale.

    Scaling by the diagonal makes the check independent of the units of the parameters
    (a variance of symptom scores and a path between alliance scores differ by 1e6).
    """
    diag = np.diag(expected)
    if np.any(diag <= 0):
        return False
    scaled = expected / np.sqrt(np.outer(diag, diag))
    return bool(np.linalg.eigvalsh(scaled)[0] > 1e-10)


def _remaining_step(expected: np.ndarray, gradient: np.ndarray) -> float:
    """Largest Newton step still to go, in standard errors (inf if not computable)."""
    try:
        cov = linalg.inv(expected)
    except np.linalg.LinAlgError:
        return np.inf
    se = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
    return float(np.max(np.abs(cov @ gradient) / se)) if len(gradient) else 0.0


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------
def fit_sem(
    model: CompiledModel,
    data: list[GroupData],
    *,
    start: np.ndarray | None = None,
    information: str = "observed",
    se: str = "standard",
) -> SEMFit:
    """Fit ``model`` to ``data`` (one :class:`GroupData` per group) by FIML.

    Parameters
    ----------
    information : {"observed", "expected"}
        Information matrix behind the standard errors.
    se : {"standard", "robust"}
        Model-based or Huber-White sandwich standard errors.

    Notes
    -----
    Converged means the Newton step still to go is below ``1e-3`` standard errors for every
    parameter (a scale-free version of lavaan's gradient check); the optimizer itself runs
    on until the objective stops improving in floating point.

    Warns
    -----
    ConvergenceWarning
        The convergence check failed or the saturated model's EM did not converge.
    """
    if information not in ("observed", "expected"):
        raise ModelSpecificationError("information must be 'observed' or 'expected'")
    if se not in ("standard", "robust"):
        raise ModelSpecificationError("se must be 'standard' or 'robust'")
    # many small matrix products: threaded BLAS only adds contention
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(model, data, start, information, se)


def _usable(sat: SaturatedMoments) -> SaturatedMoments:
    """Moments of a non-estimable saturated model made positive definite (for start values)."""
    if sat.estimable:
        return sat
    vals, vecs = np.linalg.eigh(sat.cov)
    floor = 1e-3 * max(float(np.mean(np.diag(sat.cov))), 1e-12)
    cov = (vecs * np.maximum(vals, floor)) @ vecs.T
    return SaturatedMoments(sat.mean, cov, np.nan, sat.iterations, False, estimable=False)


def _fit(model, data, start, information, se) -> SEMFit:
    try:
        saturated = [fiml.saturated_moments(gd) for gd in data]
    except (NotPositiveDefinite, np.linalg.LinAlgError) as exc:
        raise ModelSpecificationError(
            "the covariance matrix of the data is singular: fewer patients than variables, or "
            "a variable that is constant or an exact linear combination of others (e.g. the "
            "same column entered twice)"
        ) from exc
    messages = []
    if not all(sat.estimable for sat in saturated):
        messages.append(
            "the unrestricted (saturated) model cannot be estimated from these data -- too few "
            "rows observe some combinations of variables (e.g. late sessions reached by few "
            "patients) -- so the chi-square test and the fit indices based on it are not "
            "available; analyse fewer sessions (waves=...)"
        )
        warnings.warn(messages[-1], DataQualityWarning, stacklevel=5)
        saturated = [_usable(sat) for sat in saturated]
    objective = _Objective(model, data)
    theta0 = start_values(model, saturated) if start is None else np.asarray(start, float)
    theta, record = _optimise(objective, theta0)
    value, grad = objective.value_and_gradient(theta)
    gradient_max = float(np.max(np.abs(grad))) if len(grad) else 0.0
    expected = objective.information(theta)
    remaining = _remaining_step(expected, -grad * objective.n)
    converged = value < 1e20 and remaining < STEP_TOLERANCE
    if not converged:
        messages.append(
            "the optimizer did not reach a verified optimum (remaining step "
            f"{remaining:.2g} standard errors, largest gradient {gradient_max:.2g})"
        )
        warnings.warn(messages[-1], ConvergenceWarning, stacklevel=5)
    if not all(s.converged for s in saturated if s.estimable):
        messages.append("the EM algorithm for the saturated model did not converge; "
                        "the chi-square test is approximate")
        warnings.warn(messages[-1], ConvergenceWarning, stacklevel=5)
    vcov, se_messages = standard_errors(model, data, theta, information=information, se=se,
                                        expected=expected)
    messages.extend(se_messages)
    ll = -value * objective.n
    return SEMFit(
        model=model,
        data=data,
        theta=theta,
        vcov=vcov,
        loglik=float(ll),
        loglik_saturated=float(sum(s.loglik for s in saturated)),  # NaN if not estimable
        loglik_baseline=float(sum(fiml.independence_loglik(gd) for gd in data)),
        saturated=saturated,
        information=information,
        se_type=se,
        converged=bool(converged),
        gradient_max=gradient_max,
        iterations=record["lbfgs_iterations"] + record["scoring_steps"],
        messages=messages,
    )
