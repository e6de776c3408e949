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

import dataclasses
import warnings
from typing import Any

import numpy as np

from alliancestats._validation import as_frame, check_bool, check_level
from alliancestats.errors import (
    ConvergenceWarning,
    FormulaError,
    ModelSpecificationError,
    SingularFitWarning,
)
from alliancestats.models.convergence import single_threaded_blas
from alliancestats.models.design import Design, build_design
from alliancestats.models.lmm_core import LmmProblem
from alliancestats.models.lmm_fit import LmmFit, Rescaling
from alliancestats.models.lmm_optim import minimize_theta
from alliancestats.models.results import MixedResult

__all__ = ["fit_design", "lmm"]

SCALE_RANGE = (1e-2, 1e2)  # random-effect columns with an RMS outside this are rescaled
# residual sum of squares relative to y'y at or below which the fixed part reproduces the
# response: rounding leaves about eps^2 y'y (5e-32), real data far more
EXACT_FIT_TOL = 1e-26


def lmm(formula: str, data: Any, *, reml: bool = True, level: float = 0.95) -> MixedResult:
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
    reml = check_bool("reml", reml)
    level = check_level(level)
    design = build_design(formula, as_frame(data, "lmm"))
    return fit_design(design, reml=reml, level=level)


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


def fit_design(design: Design, *, reml: bool = True, level: float = 0.95) -> MixedResult:
    """Fit an LMM to a prepared :class:`~alliancestats.models.design.Design`.

    The work behind :func:`lmm` once the formula has been turned into matrices: checks,
    sufficient statistics, optimisation (restarted once if the optimum fails the scaled
    gradient check), inference and the :class:`MixedResult`.
    """
    _check_design(design)
    y = design.y - design.offset
    # the criterion works on many tiny matrices: BLAS threading only adds contention there
    with single_threaded_blas():
        problem = LmmProblem(design.X, y, design.random)
        _check_not_exact(problem, y)
        rescaling = _rescaled_problem(design, y)
        opt_problem = problem if rescaling is None else rescaling.problem
        defer = design.X.shape[1] > 0
        theta, summary = minimize_theta(opt_problem, reml, defer_scaled_check=defer)
        fit = LmmFit(design, problem, theta, summary, reml, level, rescaling)
        if not fit.converged:
            # the Hessian-scaled gradient is too large: restart from the point reached
            theta, summary2 = minimize_theta(opt_problem, reml, start=theta)
            summary2.evaluations += summary.evaluations
            summary2.restarts += summary.restarts + 1
            fit = LmmFit(design, problem, theta, summary2, reml, level, rescaling)
        result = fit.result()
    _warn_fit(result)
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


def _rescaled_problem(design: Design, y: np.ndarray) -> Rescaling | None:
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
    return Rescaling(LmmProblem(design.X, y, blocks), scales)


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
            f"{result.optimizer['max_scaled_gradient']:.2g}); check the model or rescale "
            "predictors",
            ConvergenceWarning,
            stacklevel=4,
        )
