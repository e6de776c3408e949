"""Parametric bootstrap of statistics of a fitted mixed model (lme4's ``bootMer``).

Each replicate simulates a new response from the fitted model -- new random effects drawn from
their estimated distribution (``use.u = FALSE``), new residuals (LMM) or new binomial/Poisson
draws (GLMM) -- refits the model and evaluates a statistic on the refit, as
``performance::r2_nakagawa(ci = ...)`` does through ``lme4::bootMer``. Refits run in parallel
with joblib (``n_jobs``) and show a tqdm progress bar when the output is a terminal.

Examples
--------
>>> import numpy as np
>>> import alliancestats as als
>>> from alliancestats.effects.bootstrap import simulate_responses
>>> df = als.simulate_sessions(n_therapists=4, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session + (1 | patient)", df)
>>> simulate_responses(fit, 2, np.random.default_rng(1)).shape == (2, fit.nobs)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from alliancestats.effects import _model
from alliancestats.effects.variance import term_covariance
from alliancestats.errors import AllianceStatsError, ModelSpecificationError

__all__ = ["bootstrap_statistic", "percentile_interval", "simulate_responses"]


def _linear_predictor(result: Any, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` draws of the linear predictor with new random effects, shape ``(n, nobs)``."""
    beta = result.fixed["estimate"].to_numpy(dtype=float)
    eta0 = _model.fixed_matrix(result) @ beta + _model.offsets(result)
    eta = np.tile(eta0, (n, 1))
    for term in _model.random_terms(result):
        sigma = term_covariance(result.varcorr, term.name, term.columns)
        q = len(term.columns)
        b = rng.multivariate_normal(np.zeros(q), sigma, size=(n, term.nlevels), method="eigh")
        eta += np.einsum("nq,bnq->bn", term.Z, b[:, term.codes, :])
    return eta


def simulate_responses(result: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` responses simulated from the fitted model, shape ``(n, nobs)``.

    GLMM binomial responses are proportions of the row's trials (the fit's prior weights).

    Raises
    ------
    ModelSpecificationError
        A GLMM with non-integer trials or prior weights (nothing to simulate from).
    """
    eta = _linear_predictor(result, rng, n)
    family = _model.family_of(result)
    if family is None:
        return eta + rng.normal(0.0, float(result.sigma), size=eta.shape)
    weights = _model.prior_weights(result)
    mu = family.link.linkinv(eta)
    if family.name == "binomial":
        trials = np.rint(weights)
        if np.any(np.abs(trials - weights) > 1e-7):
            raise ModelSpecificationError(
                "the binomial model has non-integer prior weights; a parametric bootstrap "
                "needs whole numbers of trials"
            )
        successes = rng.binomial(trials.astype(np.int64), np.clip(mu, 0.0, 1.0))
        return np.divide(successes, trials, out=np.zeros_like(mu), where=trials > 0)
    if np.any(np.abs(weights - 1.0) > 1e-12):
        raise ModelSpecificationError(
            "the Poisson model has prior weights; a parametric bootstrap cannot simulate it"
        )
    return rng.poisson(mu).astype(float)


def _replicate(spec: _model.RefitSpec, y: np.ndarray, statistic: Callable[[Any], Any]) -> Any:
    """Refit to one simulated response; None when the refit fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.asarray(statistic(spec.fit(y)), dtype=float)
        except (AllianceStatsError, np.linalg.LinAlgError, ValueError, FloatingPointError):
            return None


def bootstrap_statistic(
    result: Any,
    statistic: Callable[[Any], Any],
    *,
    n_boot: int,
    seed: int | np.random.Generator | None,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> tuple[np.ndarray, int]:
    """Parametric-bootstrap replicates of ``statistic(refit)``.

    Parameters
    ----------
    result : MixedResult
        The fitted model to simulate from.
    statistic : callable
        A picklable function (module-level, or ``functools.partial`` of one) returning a
        vector of floats for a fitted model.
    n_boot : int
        Number of replicates.
    seed : int, Generator or None
        Random seed; the same seed gives the same replicates whatever ``n_jobs``.
    n_jobs : int, default 1
        Parallel refits (joblib; ``-1`` uses every core).
    progress : bool, optional
        Show a progress bar; by default only when the output is a terminal.

    Returns
    -------
    (numpy.ndarray, int)
        Replicates that refitted, shape ``(n_ok, k)``, and the number of failed refits.
    """
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    ys = simulate_responses(result, n_boot, rng)
    spec = _model.refit_spec(result)
    jobs = (delayed(_replicate)(spec, y, statistic) for y in ys)
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    bar = tqdm(runner(jobs), total=n_boot, disable=None if progress is None else not progress,
               desc="bootstrap refits", leave=False)
    values = [v for v in bar]
    ok = [v for v in values if v is not None and np.all(np.isfinite(v))]
    failed = n_boot - len(ok)
    return (np.vstack(ok) if ok else np.empty((0, 0))), failed


def percentile_interval(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed percentile interval per column (``bayestestR::eti``, R quantile type 7)."""
    lo = np.quantile(values, (1 - level) / 2, axis=0)
    hi = np.quantile(values, (1 + level) / 2, axis=0)
    return lo, hi
