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
from alliancestats.errors import DroppedRowsWarning
from alliancestats.models.control import Control, as_control
from alliancestats.models.design import Design, build_design
from alliancestats.models.lmm_dask import is_dask_frame
from alliancestats.models.lmm_fit import fit_design
from alliancestats.models.lmm_weights import lmm_prior_weights
from alliancestats.models.results import MixedResult

__all__ = ["fit_design", "lmm"]


def lmm(
    formula: str,
    data: Any,
    *,
    reml: bool = True,
    level: float = 0.95,
    weights: Any = None,
    control: Control | dict[str, Any] | None = None,
) -> MixedResult:
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
    data : pandas.DataFrame, SessionData or dask.dataframe.DataFrame
        Long-format data (``SessionData.data`` is used for a ``load_sessions`` result). Rows
        with a missing value in any variable the model uses are
        dropped and counted (``n_dropped``) with a :class:`~alliancestats.DroppedRowsWarning`.
        A Dask DataFrame (data larger than memory, partitioned in any way) is fitted from
        per-group sums computed with Dask; see Notes.
    reml : bool, default True
        Restricted maximum likelihood (default, as lme4) or maximum likelihood.
    level : float, default 0.95
        Confidence level of ``ci_low`` / ``ci_high`` in the fixed-effects table.
    weights : str or array-like, optional
        Prior weights (lme4's ``weights=``): a column name or one value per row of ``data``.
        Row ``i`` then has residual variance ``sigma^2 / w_i``. Weights must be positive and
        finite; rows with a missing weight are dropped like rows with missing values.
    control : Control or dict, optional
        Fitting options (lme4's ``lmerControl``): ``optimizer`` (``"bobyqa"``, lme4's
        ``"nloptwrap"``/``"bobyqa"``; ``"nelder_mead"``, lme4's ``"Nelder_Mead"``;
        ``"cobyqa"``; ``"lbfgsb"``), ``maxfun``, ``xtol_abs``, ``ftol_abs``, ``ftol_rel``,
        the ``check_conv_*`` levels and tolerances, ``check_nobs_vs_nlev``,
        ``check_nobs_vs_nRE``, ``calc_derivs`` and ``restart_edge``; see
        :class:`~alliancestats.models.control.Control`. GLMM-only options (a pair of
        optimisers, ``tol_pwrss``) and optimiser ``options`` are refused.

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
    DataValidationError
        Weights that are not positive finite numbers, or not one per row.
    ParameterError
        A ``control`` option that ``lmm`` does not use, or an invalid one.
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
    (Bates, Maechler, Bolker & Walker 2015, J Stat Softw 67(1)), minimised from lme4's start
    (identity factors). For one term or two nested terms the default optimiser is a
    limited-memory BFGS (NLopt's L-BFGS) with the exact gradient of the criterion (log
    determinant through the block selected inverse, residual part by the envelope theorem);
    diagonal elements of θ are left unbounded during that search (the criterion is even in
    each factor column's sign), then a boundary optimum is polished with the bounds in place.
    Other designs, and ``control={"optimizer": "bobyqa"}``, use the bounded derivative-free
    trust-region method BOBYQA through NLopt, as lme4.
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

    Prior weights enter as lme4's do: rows of X, Z and y are multiplied by ``sqrt(w)`` and the
    criterion gains ``-sum(log w)``. Validated against lme4 1.1-31 / lmerTest 3.1-3 with
    weights 0.5-2.5 (sleepstudy, Penicillin, a therapist/patient model with missing weights;
    REML and ML): criterion within 3e-10 (ours never higher), fixed effects 7e-6, SEs 9e-5,
    SDs 1.8e-4, Satterthwaite df 2.2e-4 (relative). Kenward-Roger df are not available for
    weighted fits (pbkrtest ignores prior weights).

    Text predictors of any dtype (object, ``str``, ``string``, ``string[pyarrow]``,
    categorical) are factors with treatment contrasts; levels without rows are dropped, as
    lme4's model frame does. Random-effect columns whose RMS lies outside [1e-2, 1e2] (a
    slope on time in seconds) are rescaled internally for the optimisation (the model and
    the results are unchanged; lme4 does not rescale and can stop far from the optimum).

    Degrees of freedom are Satterthwaite's as computed by lmerTest (Kuznetsova, Brockhoff &
    Christensen 2017, J Stat Softw 82(13)): Hessian of the deviance in (θ, σ) and Jacobian
    of Var(β) -- exact Jacobian and central differences of the exact gradient where the
    gradient exists, otherwise both by Richardson extrapolation -- with σ taken relative to its
    estimate so that the df do not depend on the response's units (lmerTest 3.1-3's df
    collapse for a response in micro-units does not occur).

    Validated against lme4 1.1-31 and lmerTest 3.1-3 (28 fits, see the validation page:
    sleepstudy, Dyestuff, Pastes, Penicillin, Hsb82, Orthodont with missing visits and four
    simulated therapist/patient/session data sets incl. a clinic/therapist/patient model, each
    under REML and ML). Tolerances: criterion and log-likelihood 1e-6 relative, fixed effects
    1e-4, SEs and variance components 1e-3, Satterthwaite df 1e-2. Worst differences observed:
    criterion 1.1e-9 (ours never higher), fixed effects 1e-5, SEs 8e-5, SDs 2.3e-4 of sigma
    (a boundary SD), correlations 2e-4 (absolute), df 5e-4. Numerical derivatives for the df use a relative step of 1e-2 instead of
    numDeriv's 1e-4, which keeps rounding noise out of the second differences on large data.

    Out of core. With a Dask DataFrame the data are read twice, partition by partition: once
    for the row counts, the levels of text predictors and a sample; once for the sums of
    cross-products of ``[Z, X, y]`` per cell (combination of grouping levels), which are added
    across partitions (a patient split across partitions is summed correctly). Only these sums
    reach the client, where each cell becomes at most ``k`` rows with the same
    cross-products (an orthogonal rotation of its rows), fitted with the true number of
    observations: the same criterion, estimates, SEs, Satterthwaite df, variance components,
    conditional modes and variances as in memory. ``fitted`` and ``residuals`` are lazy Dask
    Series; ``weights=``, formula functions that need a whole column (``scale``, ``poly``,
    ``factor`` of numbers, ...), Kenward-Roger, profiles, refits to a new response and
    simulation raise :class:`~alliancestats.errors.OutOfCoreError`. Validated against the
    in-memory fit (itself validated against lme4, above) with a ``distributed.LocalCluster``
    and the default scheduler, patients split across partitions or not, nested, crossed and
    slope models, REML and ML: criterion and β at the same θ within 1e-11 relative
    (summation order), estimates within 1e-6 and df within 1e-5 (the optimiser's end point).

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

    The same model on a Dask DataFrame (usually ``dd.read_parquet(...)``):

    >>> import dask.dataframe as dd
    >>> big = dd.from_pandas(df, npartitions=3)
    >>> out = lmm("pain ~ session + (1 + session | patient) + (1 | therapist)", big)
    >>> bool(abs(out.deviance - fit.deviance) < 1e-8 * fit.deviance), out.nobs == fit.nobs
    (True, True)
    >>> out.ranef["patient"].index.equals(fit.ranef["patient"].index)
    True
    """
    reml = check_bool("reml", reml)
    level = check_level(level)
    control = as_control(control)
    if is_dask_frame(data):
        from alliancestats.models.lmm_dask import fit_dask_frame

        return fit_dask_frame(formula, data, reml=reml, level=level, control=control,
                              weights=weights)
    frame = as_frame(data, "lmm")
    if weights is None:
        return fit_design(build_design(formula, frame), reml=reml, level=level, control=control)
    design, w = _weighted_design(formula, frame, weights)
    if np.all(w == 1.0):  # unit weights are no weights (as in lme4)
        w = None
    return fit_design(design, reml=reml, level=level, control=control, weights=w)


def _weighted_design(formula: str, frame, weights: Any) -> tuple[Design, np.ndarray]:
    """The design of the rows with a weight, and their weights; missing weights are dropped
    and reported together with the rows dropped for missing model variables."""
    kept, w = lmm_prior_weights(frame, weights)
    n_missing = len(frame) - len(kept)
    design = build_design(formula, kept, warn_dropped=n_missing == 0)
    if n_missing:
        total = n_missing + design.n_dropped
        warnings.warn(
            f"{total} of {len(frame)} rows dropped because of missing values ({n_missing} "
            f"with a missing weight); the fit uses {design.nobs} rows",
            DroppedRowsWarning,
            stacklevel=3,
        )
        design = dataclasses.replace(design, n_dropped=total)
    return design, w.loc[design.rows].to_numpy(dtype=float)
