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
from alliancestats.errors import AllianceStatsError

__all__ = ["bootstrap_statistic", "percentile_interval", "simulate_responses"]


def simulate_responses(result: Any, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` responses simulated from the fitted model, shape ``(n, nobs)``.

    New random effects are drawn for every replicate (lme4's ``simulate`` with ``use.u =
    FALSE``); GLMM binomial responses are proportions of the row's trials.
    """
    return np.vstack([_model.simulate(result, rng) for _ in range(n)])


def _replicate(model: Any, y: np.ndarray, statistic: Callable[[Any, np.ndarray], Any]) -> Any:
    """``statistic(model, y)`` for one simulated response; None when the refit fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return np.asarray(statistic(model, y), dtype=float)
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
        ``statistic(model, y)``: refits ``model`` (``result.model``) to the simulated
        response ``y`` and returns a vector of floats; a picklable function (module-level,
        or ``functools.partial`` of one).
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
    model = _model.fitted_model(result)
    jobs = (delayed(_replicate)(model, y, statistic) for y in ys)
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
