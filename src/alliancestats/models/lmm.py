"""Linear mixed-effects models by REML or ML (lme4's profiled criterion).

Examples
--------
>>> from alliancestats.simulate import simulate_sessions
>>> from alliancestats.models import lmm
>>> df = simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = lmm("pain ~ session + (1 | patient)", df)
>>> list(fit.fixed.index)
['(Intercept)', 'session']
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy import stats
from scipy.optimize import Bounds, brentq, minimize

from alliancestats.errors import (
    ConvergenceWarning,
    EstimationError,
    FormulaError,
    ModelSpecificationError,
    SingularFitWarning,
)
from alliancestats.models.design import Design, build_design
from alliancestats.models.formula_eval import safe_model_matrix
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.models.numderiv import hessian, jacobian
from alliancestats.models.results import MixedResult

__all__ = ["lmm"]

SINGULAR_TOL = 1e-4  # lme4's isSingular default tolerance on diagonal theta
GRAD_TOL = 2e-3  # lme4's checkConv tolerance on the (scaled) gradient


def lmm(formula: str, data: pd.DataFrame, *, reml: bool = True, level: float = 0.95) -> MixedResult:
    """Fit a linear mixed-effects model with lme4 formula syntax.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"pain ~ session + alliance_within + (1 + session | patient)
        + (1 | therapist)"``. Random terms: ``(1 | g)``, ``(1 + x | g)``, ``(1 + x || g)``
        (uncorrelated), ``(1 | a/b)`` (nested), ``(1 | a:b)``, several terms, crossed factors.
        The fixed part accepts interactions, categorical predictors (treatment contrasts,
        columns named like R's, e.g. ``armtelehealth``), transforms such as ``np.log(x)`` or
        ``I(x ** 2)``, ``0 +`` / ``- 1`` and ``offset(expr)``.
    data : pandas.DataFrame or SessionData
        Long-format data (``SessionData.data`` is used for a ``load_sessions`` result). Rows
        with a missing value in any variable the model uses are
        dropped and counted (``n_dropped``) with a :class:`~alliancestats.DroppedRowsWarning`.
    reml : bool, default True
        Restricted maximum likelihood (default, as lme4) or maximum likelihood.
    level : float, default 0.95
        Confidence level of ``ci_low`` / ``ci_high`` in the fixed-effects table.

    Returns
    -------
    MixedResult
        ``fixed`` (estimate, se, Satterthwaite df, t, p, CI), ``varcorr``, ``sigma``,
        ``loglik``, ``deviance``, ``aic``, ``bic``, ``ranef``, ``cond_var``, ``predict()``,
        ``confint()``, ``contrast()``, ``anova()`` (type III / I F tests), ``summary()``; see
        :class:`MixedResult`.

    Raises
    ------
    FormulaError
        Unknown or duplicated columns (close names are suggested), malformed formula,
        non-numeric response, date/time predictors, no random-effects term.
    ModelSpecificationError
        A grouping factor with one level, as many random effects as observations, no rows
        left after dropping missing values, a response reproduced exactly by the fixed effects,
        ``reml`` not a bool or ``level`` outside (0, 1).

    Warns
    -----
    SingularFitWarning
        Estimates on the boundary (a variance estimated as zero or a correlation of +-1).
    ConvergenceWarning
        The optimum failed the gradient check even after a restart.
    DroppedRowsWarning, RankDeficiencyWarning
        Rows dropped for missing values; aliased fixed-effect columns dropped.

    Notes
    -----
    The criterion is lme4's profiled REML / ML deviance in the relative covariance factor θ
    (Bates, Maechler, Bolker & Walker 2015, J Stat Softw 67(1)), minimised with a bounded
    derivative-free trust-region method (COBYQA, scipy) from lme4's start (identity factors).
    The optimum is verified as lme4's ``checkConv`` does (finite-difference gradient scaled by
    the Cholesky factor of the Hessian, tolerance 2e-3) and restarted if the check fails;
    fits ending on the boundary are restarted from inside the parameter space, because a
    boundary optimum can be a local one. ``singular`` follows lme4's ``isSingular``
    (a diagonal element of θ below 1e-4). For strictly
    nested designs (e.g. sessions in patients in therapists) each evaluation works on
    per-group sufficient statistics and costs O(groups), independent of the number of rows;
    deeper nesting (patients in therapists in clinics) is eliminated level by level at the
    same cost; other designs (crossed factors) use an exact general path with a dense Schur
    complement over the smaller factors.

    Text predictors of any dtype (object, ``str``, ``string``, ``string[pyarrow]``,
    categorical) are factors with treatment contrasts; levels without rows are dropped, as
    lme4's model frame does. Random-effect columns whose RMS lies outside [1e-2, 1e2] (a
    slope on time in seconds) are rescaled internally for the optimisation (the model and
    the results are unchanged; lme4 does not rescale and can stop far from the optimum).

    Degrees of freedom are Satterthwaite's as computed by lmerTest (Kuznetsova, Brockhoff &
    Christensen 2017, J Stat Softw 82(13)): numerical Hessian of the deviance in (θ, σ)
    and Jacobian of Var(β), both by Richardson extrapolation, with σ taken relative to its
    estimate so that the df do not depend on the response's units (lmerTest 3.1-3's df
    collapse for a response in micro-units: tests/models/test_review_lmm.py).

    Validated against lme4 1.1-31 and lmerTest 3.1-3 (tests/reference/lmm; 28 fits:
    sleepstudy, Dyestuff, Pastes, Penicillin, Hsb82, Orthodont with missing visits and four
    simulated therapist/patient/session data sets incl. a clinic/therapist/patient model, each
    under REML and ML). Tolerances: criterion and log-likelihood 1e-6 relative, fixed effects
    1e-4, SEs and variance components 1e-3, Satterthwaite df 1e-2. Worst differences observed:
    criterion 1.1e-9 (ours never higher), fixed effects 1e-5, SEs 8e-5, SDs 2.3e-4 of sigma
    (a boundary SD), correlations 2e-4 (absolute), df 5e-4. Numerical derivatives for the df use a relative step of 1e-2 instead of
    numDeriv's 1e-4, which keeps rounding noise out of the second differences on large data.

    Examples
    --------
    >>> from alliancestats.simulate import simulate_sessions
    >>> df = simulate_sessions(n_therapists=8, seed=11).dropna(subset=["pain"])
    >>> fit = lmm("pain ~ session + (1 + session | patient) + (1 | therapist)", df)
    >>> fit.varcorr.columns.tolist()
    ['grp', 'var1', 'var2', 'vcov', 'sdcor']
    >>> fit.varcorr["grp"].tolist()
    ['patient', 'patient', 'patient', 'therapist', 'Residual']
    >>> bool(fit.fixed.loc["session", "estimate"] < 0), fit.converged
    (True, True)
    """
    if not isinstance(reml, bool | np.bool_):
        raise ModelSpecificationError(f"reml must be True or False, got {reml!r}")
    if not (isinstance(level, float | int) and 0 < level < 1):
        raise ModelSpecificationError(f"level must be a number between 0 and 1, got {level!r}")
    design = build_design(formula, data)
    return fit_design(design, reml=bool(reml), level=float(level), data=data)


# ---------------------------------------------------------------------------- checks
def _check_design(design: Design) -> None:
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
            raise ModelSpecificationError(
                f"number of levels of grouping factor {b.group!r} ({b.nlevels}) must be smaller "
                f"than the number of observations ({n})"
            )
        if n <= b.nlevels * b.q:
            raise ModelSpecificationError(
                f"number of observations ({n}) <= number of random effects "
                f"({b.nlevels * b.q}) for term ({' + '.join(b.colnames)} | {b.group}); the "
                "random-effects parameters and the residual variance are probably unidentifiable"
            )
    if design.nobs <= design.X.shape[1]:
        raise ModelSpecificationError(
            f"{design.nobs} observations cannot estimate {design.X.shape[1]} fixed effects"
        )


# ---------------------------------------------------------------------------- optimiser
def _projected_gradient(f, x: np.ndarray, lower: np.ndarray, f0: float) -> np.ndarray:
    """Central-difference gradient; one-sided at an active bound (only descent counts there)."""
    g = np.zeros_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        step = 1e-4 * max(1.0, abs(x[i]))
        e[i] = step
        if x[i] - step < lower[i]:
            g[i] = min((f(x + e) - f0) / step, 0.0)  # a positive slope at the bound is optimal
        else:
            g[i] = (f(x + e) - f(x - e)) / (2 * step)
    return g


def _scaled_gradient(f, x: np.ndarray, lower: np.ndarray, f0: float, g: np.ndarray) -> np.ndarray:
    """lme4's convergence measure: the gradient scaled by the Cholesky factor of the Hessian.

    The raw gradient of the deviance grows with the number of rows, so large data sets would
    raise false alarms; scaling by the curvature (a Newton step) removes that dependence. At an
    active bound the bound components are left out.
    """
    free = ~((lower == 0) & (x < 1e-3))
    if not free.any():
        return g
    idx = np.flatnonzero(free)
    k = idx.size
    h = 1e-3 * np.maximum(1.0, np.abs(x[idx]))
    H = np.empty((k, k))

    def fe(*pairs):
        z = x.copy()
        for i, s in pairs:
            z[idx[i]] += s * h[i]
        return f(z)

    for i in range(k):
        H[i, i] = (fe((i, 1)) - 2 * f0 + fe((i, -1))) / h[i] ** 2
        for j in range(i):
            H[i, j] = H[j, i] = (
                fe((i, 1), (j, 1))
                - fe((i, 1), (j, -1))
                - fe((i, -1), (j, 1))
                + fe((i, -1), (j, -1))
            ) / (4 * h[i] * h[j])
    return _scale_by_hessian(g, H, idx)


def _scale_by_hessian(g: np.ndarray, H: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``solve(chol(H), g)`` on the free components (lme4's scaled gradient)."""
    out = g.copy()
    try:
        L = np.linalg.cholesky(H)
        out[idx] = sla.solve_triangular(L.T, g[idx], lower=False)
    except np.linalg.LinAlgError:
        pass  # not positive definite: keep the raw gradient (lme4 does the same)
    return out


def optimize_theta(
    problem: LmmProblem,
    reml: bool,
    *,
    start: np.ndarray | None = None,
    defer_scaled_check: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Minimise the profiled criterion over θ with COBYQA and verify the optimum.

    After COBYQA stops, the gradient is checked (scaled by the Hessian as lme4's ``checkConv``
    does); a large scaled gradient triggers a restart from the optimum with a small trust
    region. A boundary optimum may be local (the criterion is not convex), so fits ending on
    the boundary are restarted from inside and from lme4's start with another trust-region
    radius, and the best point is kept.
    """
    lay = problem.layout
    lower = lay.lower
    bounds = Bounds(lower, np.full(lay.n, np.inf))
    nfev = [0]

    def f(th: np.ndarray) -> float:
        nfev[0] += 1
        return problem.criterion(th, reml)

    t0 = time.perf_counter()
    x0 = lay.start()
    first = x0 if start is None else np.maximum(np.asarray(start, float), lower)
    if not np.isfinite(f(first)):
        raise EstimationError("the criterion cannot be evaluated at the starting values")
    # initial trust-region radius 0.5 on θ (relative SDs) and final radius 1e-7 reach lme4's
    # optimum to ~1e-7 in θ with about a third fewer evaluations than COBYQA's defaults
    opts = {"maxfev": 1000 * lay.n + 1000, "final_tr_radius": 1e-7, "initial_tr_radius": 0.5}

    deferred = [defer_scaled_check]

    def check(x: np.ndarray, fx: float) -> tuple[np.ndarray, np.ndarray]:
        g = _projected_gradient(f, x, lower, fx)
        if np.max(np.abs(g)) <= GRAD_TOL:
            return g, g
        if deferred[0]:
            # the caller scales the gradient with the Hessian it computes anyway
            return g, np.zeros_like(g)
        return g, _scaled_gradient(f, x, lower, fx, g)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize(f, first, method="COBYQA", bounds=bounds, options=opts)
        x, fx = np.maximum(res.x, lower), float(res.fun)
        restarts = 0
        grad, sgrad = check(x, fx)
        while np.max(np.abs(sgrad)) > GRAD_TOL and restarts < 2:
            restarts += 1
            r2 = minimize(
                f, x, method="COBYQA", bounds=bounds, options={**opts, "initial_tr_radius": 0.05}
            )
            if r2.fun < fx:
                x, fx = np.maximum(r2.x, lower), float(r2.fun)
            grad, sgrad = check(x, fx)
        at_bound = (lower == 0) & (x < SINGULAR_TOL)
        if at_bound.any():
            x_in = x.copy()
            x_in[at_bound] = 0.1
            for start, radius in [(x_in, 1.0), (x0, 0.25)]:
                r3 = minimize(
                    f,
                    start,
                    method="COBYQA",
                    bounds=bounds,
                    options={**opts, "initial_tr_radius": radius},
                )
                restarts += 1
                if r3.fun < fx - 1e-10 * abs(fx):
                    x, fx = np.maximum(r3.x, lower), float(r3.fun)
                    grad, sgrad = check(x, fx)
        deferred[0] = False
    # values below 1e-10 on a diagonal are optimiser noise around an exact zero
    diag = lower == 0
    x = np.where(diag & (x < 1e-10), 0.0, x)
    max_sgrad = float(np.max(np.abs(sgrad))) if sgrad.size else 0.0
    record = {
        "method": "COBYQA (scipy.optimize.minimize)",
        "nfev": nfev[0],
        "nfev_first_run": int(res.nfev),
        "restarts": restarts,
        "status": int(res.status),
        "message": str(res.message),
        "max_abs_gradient": float(np.max(np.abs(grad))) if grad.size else 0.0,
        "max_abs_scaled_gradient": max_sgrad,
        "gradient": grad,
        "converged": max_sgrad <= GRAD_TOL,
        "scaled_check_pending": bool(defer_scaled_check and np.max(np.abs(grad)) > GRAD_TOL),
        "seconds": time.perf_counter() - t0,
    }
    return x, record


# ---------------------------------------------------------------------------- fitting
def fit_design(
    design: Design, *, reml: bool = True, level: float = 0.95, data: pd.DataFrame | None = None
) -> MixedResult:
    """Fit an LMM to a prepared :class:`~alliancestats.models.design.Design`."""
    _check_design(design)
    y = design.y - design.offset
    # the criterion works on many tiny matrices: BLAS threading only adds contention there
    with _single_threaded_blas():
        problem = LmmProblem(design.X, y, design.random)
        if problem.xy_xy[-1, -1] <= 1e-20 * max(1.0, float(y @ y)):
            raise ModelSpecificationError(
                "the fixed effects reproduce the response exactly (zero residual variance); "
                "a mixed model cannot be estimated - check the response and predictors"
            )
        opt = _scaled_problem(design, y)
        opt_problem = problem if opt is None else opt[0]
        theta_o, record = optimize_theta(
            opt_problem, reml, defer_scaled_check=design.X.shape[1] > 0
        )
        result = _build_result(design, problem, theta_o, record, reml, level, data, opt)
        if not result.converged:
            # the Hessian-scaled gradient is too large: restart from the point reached
            theta_o, record2 = optimize_theta(opt_problem, reml, start=theta_o)
            record2["nfev"] += record["nfev"]
            record2["restarts"] += record["restarts"] + 1
            result = _build_result(design, problem, theta_o, record2, reml, level, data, opt)
        _warn_fit(result)
        return result


SCALE_RANGE = (1e-2, 1e2)  # random-effect columns with an RMS outside this are rescaled


def _scaled_problem(design: Design, y: np.ndarray) -> tuple[LmmProblem, list[np.ndarray]] | None:
    """The problem with every random-effect column divided by its RMS, when some column is
    badly scaled (e.g. a slope on time in seconds); ``None`` otherwise.

    With ``Z = Z_s D`` (D diagonal) and ``Lambda_s = D Lambda`` the model is unchanged, but θ is
    then of order one for every column, which keeps the trust-region optimiser, the gradient
    check and the numerical derivatives of the Satterthwaite df well conditioned. lme4 does not
    rescale and can stop far from the optimum on such data.
    """
    scales = []
    for b in design.random:
        rms = np.sqrt(np.mean(b.Z**2, axis=0))
        scales.append(np.where(rms > 0, rms, 1.0))
    lo, hi = SCALE_RANGE
    if not any(np.any((s < lo) | (s > hi)) for s in scales):
        return None
    blocks = [dataclasses.replace(b, Z=b.Z / s) for b, s in zip(design.random, scales, strict=True)]
    return LmmProblem(design.X, y, blocks), scales


def _unscale_theta(
    problem: LmmProblem, theta_s: np.ndarray, scales: list[np.ndarray]
) -> np.ndarray:
    """θ of the original columns from θ of the rescaled ones (``Lambda = D^{-1} Lambda_s``)."""
    lay = problem.layout
    theta = np.array(theta_s, dtype=float)
    for s, off, rows in zip(scales, lay.offsets, lay.rows, strict=True):
        theta[off : off + len(rows)] /= s[rows]
    return theta


def _warn_fit(result: MixedResult) -> None:
    if result.singular:
        warnings.warn(
            "boundary (singular) fit: a variance is estimated as (near) zero or a correlation "
            "as +-1; consider simplifying the random effects",
            SingularFitWarning,
            stacklevel=4,
        )
    elif not result.converged:
        warnings.warn(
            f"optimizer did not reach a verified optimum (max |scaled gradient| = "
            f"{result.optimizer['max_abs_scaled_gradient']:.2g}); check the model or rescale "
            "predictors",
            ConvergenceWarning,
            stacklevel=4,
        )


def _single_threaded_blas():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scientific stacks
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _varcorr(design: Design, lam: list[np.ndarray], sigma: float) -> pd.DataFrame:
    rows = []
    for b, L in zip(design.random, lam, strict=True):
        cov = sigma**2 * (L @ L.T)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        for i, name in enumerate(b.colnames):
            rows.append((b.group, name, None, cov[i, i], sd[i]))
        for i in range(b.q):
            for j in range(i + 1, b.q):
                denom = sd[i] * sd[j]
                corr = cov[i, j] / denom if denom > 0 else np.nan
                rows.append((b.group, b.colnames[i], b.colnames[j], cov[i, j], corr))
    rows.append(("Residual", None, None, sigma**2, sigma))
    out = pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])
    return out.astype({"grp": object, "var1": object, "var2": object})


def _satterthwaite(problem: LmmProblem, theta: np.ndarray, sigma: float, reml: bool):
    """lmerTest's ingredients: A = 2 H^+ of the deviance in (θ, σ) and the Jacobian of Var(β)."""
    # sigma enters relative to its estimate: numDeriv-style steps switch to an absolute step
    # (1e-4) for values near zero, which would swamp a residual SD of e.g. 1e-6 (a response
    # in small units); the df are invariant to this reparametrisation (g'Ag is)
    vp = np.concatenate([theta, [1.0]])
    p, n = problem.p, problem.n
    cache: dict[bytes, tuple[float, float, np.ndarray]] = {}

    def pieces(th: np.ndarray) -> tuple[float, float, np.ndarray]:
        # one factorization per θ serves the deviance at every σ and Var(β)
        key = th.tobytes()
        if key not in cache:
            f = problem.factorize(th)
            lx_inv = sla.solve_triangular(f.chol_t[:p, :p], np.eye(p), lower=True)
            logdet = f.logdet_l + (f.logdet_x if reml else 0.0)
            cache[key] = (logdet, f.pwrss, lx_inv.T @ lx_inv)
        return cache[key]

    def dev(v: np.ndarray) -> float:
        logdet, pwrss, _ = pieces(v[:-1])
        s2 = (v[-1] * sigma) ** 2
        return logdet + (n - p if reml else n) * np.log(2 * np.pi * s2) + pwrss / s2

    def covbeta(v: np.ndarray) -> np.ndarray:
        return ((v[-1] * sigma) ** 2 * pieces(v[:-1])[2]).ravel()

    # relative step 1e-2 (numDeriv's default is 1e-4): with Richardson extrapolation the
    # truncation error stays negligible while rounding noise of the deviance (which grows with
    # the number of rows) no longer dominates the second differences
    H = hessian(dev, vp, d=1e-2)
    evals, evecs = np.linalg.eigh(H)
    pos = evals > 1e-8  # lmerTest keeps eigenvalues above 1e-8
    A = 2.0 * (evecs[:, pos] / evals[pos]) @ evecs[:, pos].T
    J = jacobian(covbeta, vp, d=1e-2).reshape(p, p, vp.size)
    return A, J, evals, H


def _contrast_df(L: np.ndarray, V: np.ndarray, A: np.ndarray, J: np.ndarray) -> float:
    var = float(L @ V @ L)
    g = np.einsum("i,ijk,j->k", L, J, L)
    denom = float(g @ A @ g)
    if denom <= 0 or not np.isfinite(denom):
        return np.nan
    return 2.0 * var * var / denom


def _build_result(
    design: Design,
    problem: LmmProblem,
    theta: np.ndarray,
    record: dict[str, Any],
    reml: bool,
    level: float,
    data: pd.DataFrame | None,
    opt: tuple[LmmProblem, list[np.ndarray]] | None = None,
) -> MixedResult:
    # ``theta`` is the optimiser's: for rescaled random-effect columns (``opt``) it belongs to
    # the rescaled problem, which also serves the (parametrisation-invariant) Satterthwaite df,
    # the gradient check and the singularity check
    if opt is None:
        opt_problem, theta_o = problem, theta
    else:
        opt_problem, theta_o = opt[0], theta
        theta = _unscale_theta(problem, theta, opt[1])
    f = problem.factorize(theta, full=True)
    n, p = problem.n, problem.p
    crit = problem.criterion_from(f, reml)
    sigma = float(np.sqrt(f.pwrss / (n - p if reml else n)))
    beta = problem.beta(f) if p else np.zeros(0)
    V = sigma**2 * problem.beta_cov_unscaled(theta) if p else np.zeros((0, 0))
    se = np.sqrt(np.diag(V))
    messages: list[str] = []

    # Satterthwaite degrees of freedom
    if p:
        A, J, evals, H = _satterthwaite(opt_problem, theta_o, sigma, reml)
        if np.any(evals < -1e-8):
            messages.append(
                "Hessian of the deviance in (theta, sigma) has negative eigenvalues; "
                "Satterthwaite df may be unreliable"
            )
        df = np.array([_contrast_df(np.eye(p)[j], V, A, J) for j in range(p)])
    else:
        A = J = H = None
        df = np.zeros(0)
    tval = beta / se if p else np.zeros(0)
    pval = 2 * stats.t.sf(np.abs(tval), df)
    qt = stats.t.ppf(0.5 + level / 2, df)
    fixed = pd.DataFrame(
        {
            "estimate": beta,
            "se": se,
            "df": df,
            "t": tval,
            "p": pval,
            "ci_low": beta - qt * se,
            "ci_high": beta + qt * se,
        },
        index=pd.Index(design.fixed_names, name="term"),
    )
    vcov = pd.DataFrame(V, index=design.fixed_names, columns=design.fixed_names)

    # random effects: b = Lambda u, conditional variances sigma^2 Lambda P^{-1} Lambda'
    u = problem.spherical_modes(f, beta)
    cv = problem.cond_var_unscaled(f)
    ranef: dict[str, pd.DataFrame] = {}
    cond_var: dict[str, np.ndarray] = {}
    fitted = design.X @ beta + design.offset
    for b, L, uk, ck in zip(design.random, f.lam, u, cv, strict=True):
        bk = uk @ L.T
        ranef[b.group] = pd.DataFrame(
            bk, index=pd.Index(b.levels, name=b.group), columns=b.colnames
        )
        cond_var[b.group] = sigma**2 * (L @ ck @ L.T)
        fitted = fitted + np.einsum("nq,nq->n", b.Z, bk[b.codes])
    resid = design.y - fitted
    ranef_blocks = ranef
    ranef = _merge_uncorrelated(design, ranef_blocks)
    index = design.rows
    lam = f.lam
    varcorr = _varcorr(design, lam, sigma)

    lower = problem.layout.lower
    singular = bool(np.any(theta_o[lower == 0] < SINGULAR_TOL))
    if record.pop("scaled_check_pending", False):
        # scale the gradient by the profiled Hessian from Satterthwaite's (theta, sigma) Hessian
        k = theta.size
        Hp = H[:k, :k] - np.outer(H[:k, k], H[k, :k]) / H[k, k]
        free = np.flatnonzero(~((lower == 0) & (theta_o < 1e-3)))
        sgrad = record["gradient"].copy()
        if free.size:
            sgrad = _scale_by_hessian(sgrad, Hp[np.ix_(free, free)], free)
        record["max_abs_scaled_gradient"] = float(np.max(np.abs(sgrad)))
        record["converged"] = record["max_abs_scaled_gradient"] <= GRAD_TOL
    converged = bool(record["converged"])
    npar = p + problem.layout.n + 1
    loglik = -0.5 * crit

    def refit_ml() -> MixedResult:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SingularFitWarning)
            return fit_design(design, reml=False, level=level, data=data)

    def predictor(newdata: pd.DataFrame | None, random: bool) -> np.ndarray:
        if newdata is None:
            return fitted if random else design.X @ beta + design.offset
        return _predict_new(design, beta, ranef_blocks, newdata, random)

    def contrast(Lvec: np.ndarray) -> float:
        if A is None:
            return np.nan
        return _contrast_df(Lvec, V, A, J)

    def wald(level_: float) -> pd.DataFrame:
        return _wald_varcorr(problem, design, theta, sigma, reml, level_)

    def profile(level_: float) -> pd.DataFrame:
        # profiles run on the optimiser's (possibly rescaled) problem; SDs of rescaled
        # columns are then divided by the column scales (correlations, sigma and fixed
        # effects do not change)
        y_ = design.y - design.offset
        with _single_threaded_blas():
            theta_ml = optimize_theta(opt_problem, False)[0] if reml else theta_o
            if opt is None:
                return _profile_varcorr(problem, design, y_, theta_ml, level_)
            design_s = dataclasses.replace(design, random=list(opt_problem.blocks))
            tab = _profile_varcorr(opt_problem, design_s, y_, theta_ml, level_)
        lay = problem.layout
        divisor = np.ones(len(tab))
        k = 0
        for s, r_idx, c_idx in zip(opt[1], lay.rows, lay.cols, strict=True):
            for r, c in zip(r_idx, c_idx, strict=True):
                divisor[k] = s[r] if r == c else 1.0
                k += 1
        return tab.div(divisor, axis=0)

    ngroups: dict[str, int] = {}
    for b in design.random:
        base = ".".join(b.group.split(".")[:1]) if b.group not in ngroups else b.group
        ngroups.setdefault(base, b.nlevels)
    return MixedResult(
        formula=design.parsed.formula,
        response=design.response,
        method="REML" if reml else "ML",
        family="gaussian",
        reml=reml,
        fixed=fixed,
        vcov=vcov,
        varcorr=varcorr,
        sigma=sigma,
        loglik=loglik,
        deviance=crit,
        aic=-2 * loglik + 2 * npar,
        bic=-2 * loglik + np.log(n) * npar,
        nobs=n,
        n_dropped=design.n_dropped,
        npar=npar,
        ngroups=ngroups,
        converged=converged,
        optimizer=record,
        singular=singular,
        theta=theta,
        ranef=ranef,
        cond_var=cond_var,
        fitted=pd.Series(fitted, index=index, name="fitted"),
        residuals=pd.Series(resid, index=index, name="residuals"),
        messages=messages,
        aliased=design.aliased,
        level=level,
        design=design,
        refit_ml=refit_ml,
        predictor=predictor,
        contrast=contrast,
        wald_varcorr=wald,
        profiler=profile,
    )


def _merge_uncorrelated(design: Design, ranef: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Join the terms that ``(1 + x || g)`` split apart into one frame per factor, as lme4's
    ``ranef`` does (``varcorr`` and ``cond_var`` keep lme4's separate ``g``, ``g.1`` entries)."""
    out: dict[str, pd.DataFrame] = {}
    owner: dict[tuple, str] = {}
    for b in design.random:
        key = (b.label_vars, b.correlated)
        if not b.correlated and key in owner:
            first = owner[key]
            out[first] = pd.concat([out[first], ranef[b.group]], axis=1)
        else:
            owner.setdefault(key, b.group)
            out[b.group] = ranef[b.group]
    return out


# ---------------------------------------------------------------------------- prediction
def _predict_new(
    design: Design,
    beta: np.ndarray,
    ranef: dict[str, pd.DataFrame],
    newdata: pd.DataFrame,
    random: bool,
) -> np.ndarray:
    if not isinstance(newdata, pd.DataFrame):
        raise FormulaError("newdata must be a pandas DataFrame")
    X = design.fixed_matrix(newdata)
    pred = X @ beta
    for off in design.parsed.offsets:
        pred = pred + np.asarray(safe_model_matrix(f"0 + {off}", newdata).frame, float)[:, 0]
    if random:
        for k, b in enumerate(design.random):
            missing = [v for v in b.group_vars if v not in newdata.columns]
            if missing:
                raise FormulaError(
                    f"newdata lacks grouping column(s) {missing}; pass random=False for "
                    "population-level predictions"
                )
            Z, codes = design.random_matrix(k, newdata)
            bk = ranef[b.group].to_numpy()
            seen = codes >= 0
            contrib = np.zeros(len(newdata))
            contrib[seen] = np.einsum("nq,nq->n", Z[seen], bk[codes[seen]])
            pred = pred + contrib
    return pred


# ---------------------------------------------------------------------------- variance CIs
# The variance parameters phi follow lme4's profile order: for each term the lower triangle of
# its covariance matrix column by column (diagonal -> SD, below -> correlation), then sigma.
def _sdcor_names(design: Design, layout) -> list[str]:
    names = []
    for b, r_idx, c_idx in zip(design.random, layout.rows, layout.cols, strict=True):
        for r, c in zip(r_idx, c_idx, strict=True):
            if r == c:
                names.append(f"sd_{b.colnames[r]}|{b.group}")
            else:
                names.append(f"cor_{b.colnames[r]}.{b.colnames[c]}|{b.group}")
    names.append("sigma")
    return names


def _theta_to_sdcor(problem: LmmProblem, theta: np.ndarray, sigma: float) -> np.ndarray:
    lay = problem.layout
    vals = []
    for L, r_idx, c_idx in zip(lay.factors(theta), lay.rows, lay.cols, strict=True):
        cov = sigma**2 * (L @ L.T)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        for r, c in zip(r_idx, c_idx, strict=True):
            if r == c:
                vals.append(sd[r])
            else:
                vals.append(cov[r, c] / (sd[r] * sd[c]) if sd[r] * sd[c] > 0 else 0.0)
    vals.append(sigma)
    return np.array(vals)


def _sdcor_to_theta(problem: LmmProblem, phi: np.ndarray) -> tuple[np.ndarray, float]:
    lay = problem.layout
    sigma = float(phi[-1])
    theta = []
    for q, off, r_idx, c_idx in zip(lay.sizes, lay.offsets, lay.rows, lay.cols, strict=True):
        sd = np.zeros(q)
        R = np.eye(q)
        for k, (r, c) in enumerate(zip(r_idx, c_idx, strict=True)):
            if r == c:
                sd[r] = phi[off + k]
            else:
                R[r, c] = R[c, r] = phi[off + k]
        # chol(D R D) = D chol(R): factor the correlation matrix so that SDs of very
        # different sizes (a slope per second next to an intercept) keep full precision
        try:
            L = (sd / sigma)[:, None] * np.linalg.cholesky(R + 1e-12 * np.eye(q))
        except np.linalg.LinAlgError:
            L = np.diag(np.clip(sd, 0, None) / sigma)
        theta.extend(L[r_idx, c_idx])
    return np.array(theta), sigma


def _dev_sdcor(problem: LmmProblem, phi: np.ndarray, reml: bool) -> float:
    theta, sigma = _sdcor_to_theta(problem, phi)
    if not sigma > 0:
        return np.inf
    try:
        return problem.deviance_vp(theta, sigma, reml)
    except (np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError):
        return np.inf


def _sd_mask(names: list[str]) -> np.ndarray:
    return np.array([n.startswith("sd_") or n == "sigma" for n in names])


def _wald_varcorr(
    problem: LmmProblem, design: Design, theta: np.ndarray, sigma: float, reml: bool, level: float
) -> pd.DataFrame:
    phi = _theta_to_sdcor(problem, theta, sigma)
    names = _sdcor_names(design, problem.layout)
    is_sd = _sd_mask(names)
    # SDs in units of sigma per RMS of their column, so that step sizes depend neither on the
    # response's units nor on the predictor's
    unit = np.where(is_sd, sigma, 1.0)
    k = 0
    for b, r_idx, c_idx in zip(
        design.random, problem.layout.rows, problem.layout.cols, strict=True
    ):
        rms = np.sqrt(np.mean(b.Z**2, axis=0))
        for r, c in zip(r_idx, c_idx, strict=True):
            if r == c and rms[r] > 0:
                unit[k] = sigma / rms[r]
            k += 1
    H = hessian(lambda v: _dev_sdcor(problem, v * unit, reml), phi / unit, d=1e-2)
    try:
        cov = 2.0 * np.linalg.inv(H)
        se = np.sqrt(np.clip(np.diag(cov), 0, None)) * unit
    except np.linalg.LinAlgError:
        se = np.full(phi.size, np.nan)
    z = stats.norm.ppf(0.5 + level / 2)
    lo = np.where(is_sd, np.maximum(phi - z * se, 0.0), np.maximum(phi - z * se, -1.0))
    hi = np.where(is_sd, phi + z * se, np.minimum(phi + z * se, 1.0))
    return pd.DataFrame({"estimate": phi, "ci_low": lo, "ci_high": hi}, index=names)


def _root(h, est: float, bound: float, scale: float) -> float:
    """Distance from the estimate at which ``h`` (negative at ``est``) crosses zero.

    Steps outward (doubling from ``scale``, never past ``bound``) until ``h`` turns positive,
    then refines with Brent's method; returns ``bound`` when ``h`` stays negative up to it.
    Stepping outward keeps consecutive profile points close, so warm starts stay valid.
    """
    lo, step = est, scale
    while True:
        end = min(lo + step, bound) if np.isfinite(bound) else lo + step
        if h(end) >= 0:
            break
        if end >= bound:
            return bound
        lo, step = end, 2.0 * step
        if step > 1e12 * scale:
            return np.inf
    return brentq(h, lo, end, xtol=1e-4 * scale, rtol=1e-8)


def _profile_varcorr(
    problem: LmmProblem,
    design: Design,
    y: np.ndarray,
    theta_ml: np.ndarray,
    level: float,
) -> pd.DataFrame:
    """Profile-likelihood intervals on the ML deviance (as lme4's ``confint(method="profile")``,
    which refits REML models by ML first)."""
    f_ml = problem.factorize(theta_ml)
    n = problem.n
    sigma_ml = float(np.sqrt(f_ml.pwrss / n))
    phi = _theta_to_sdcor(problem, theta_ml, sigma_ml)
    names = _sdcor_names(design, problem.layout)
    is_sd = _sd_mask(names)
    lo_b = np.where(is_sd, 0.0, -1.0)
    lo_b[-1] = 1e-8 * sigma_ml  # the residual SD cannot reach zero
    hi_b = np.where(is_sd, np.inf, 1.0)
    cutoff = stats.chi2.ppf(level, 1)
    dev_min = problem.criterion_from(f_ml, reml=False)
    # optimise over phi / s so that trust-region radii are relative to each parameter's size
    s_phi = np.where(is_sd, np.maximum(np.abs(phi), 0.01 * sigma_ml), 1.0)
    rows = []
    for k in range(phi.size):
        others = np.array([i for i in range(phi.size) if i != k])
        sk = s_phi[others]
        bounds_k = Bounds(lo_b[others] / sk, hi_b[others] / sk)
        solved: list[tuple[float, np.ndarray]] = [(phi[k], phi[others] / sk)]

        def prof(value: float, k: int = k, others=others, sk=sk, bounds_k=bounds_k, solved=solved):
            full = phi.copy()
            full[k] = value

            def g(u: np.ndarray) -> float:
                full[others] = u * sk
                return _dev_sdcor(problem, full, False)

            # warm start from the nearest value already profiled (near points share optima);
            # a second start from the estimates guards against a local optimum deciding the
            # interval end. A warm start on a bound (an SD at zero,
            # where the correlation no longer matters) can trap the optimiser above the
            # cut-off, which would end the interval too early: starts are moved slightly
            # inside, and every value not clearly below the cut-off is re-solved from the
            # estimates
            nearest = min(solved, key=lambda t: abs(t[0] - value))[1]
            best, best_x = np.inf, nearest
            inner_lb = np.where(np.isfinite(bounds_k.lb), bounds_k.lb + 1e-3, bounds_k.lb)
            inner_ub = np.where(np.isfinite(bounds_k.ub), bounds_k.ub - 1e-3, bounds_k.ub)
            for start in (nearest, solved[0][1]):
                r = minimize(
                    g,
                    np.clip(start, inner_lb, inner_ub),
                    method="COBYQA",
                    bounds=bounds_k,
                    options={"final_tr_radius": 1e-6, "initial_tr_radius": 0.05},
                )
                if r.fun < best:
                    best, best_x = float(r.fun), r.x
                if best - dev_min - cutoff < -0.5:
                    break
            solved.append((value, best_x))
            return min(best, 1e12) - dev_min - cutoff

        scale = s_phi[k]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low = _root(lambda v, k=k: prof(phi[k] - v), 0.0, phi[k] - lo_b[k], 0.5 * scale)
            high = _root(lambda v, k=k: prof(phi[k] + v), 0.0, hi_b[k] - phi[k], 0.5 * scale)
        rows.append((phi[k], phi[k] - low, phi[k] + high))
    # fixed effects: profile the ML criterion over θ with beta_j held fixed
    X = design.X
    beta_ml = problem.beta(f_ml)
    V = sigma_ml**2 * problem.beta_cov_unscaled(theta_ml)
    lower = problem.layout.lower
    for j in range(len(design.fixed_names)):
        keep = [i for i in range(X.shape[1]) if i != j]

        def profb(b: float, j: int = j, keep: list = keep) -> float:
            sub = LmmProblem(X[:, keep], y - X[:, j] * b, design.random)
            r = minimize(
                lambda th: sub.criterion(th, False),
                theta_ml,
                method="COBYQA",
                bounds=Bounds(lower, np.full(lower.size, np.inf)),
                options={"final_tr_radius": 1e-7, "initial_tr_radius": 0.1},
            )
            return min(float(r.fun), 1e12) - dev_min - cutoff

        se = float(np.sqrt(V[j, j]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            low = _root(lambda v, j=j: profb(beta_ml[j] - v), 0.0, np.inf, se)
            high = _root(lambda v, j=j: profb(beta_ml[j] + v), 0.0, np.inf, se)
        rows.append((beta_ml[j], beta_ml[j] - low, beta_ml[j] + high))
    index = [*names, *design.fixed_names]
    return pd.DataFrame(rows, columns=["estimate", "ci_low", "ci_high"], index=index)
