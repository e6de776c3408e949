"""GOSH: the model fitted to every subset of the studies (Olkin, Dahabreh & Trikalinos 2012).

"Graphical display of study heterogeneity" fits the same model to all ``2^k − 1`` subsets (or a
random sample of them) and keeps the estimate and the heterogeneity statistics of each; a
plot of I² against the estimate shows clusters of studies that drive heterogeneity. This is
metafor's ``gosh.rma``; common-effect and DerSimonian-Laird fits are computed in closed form
for all subsets at once, other estimators by refitting each subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import require_univariate, safe_refit, study_arrays
from alliancestats.meta.result import COMMON_EFFECT_METHODS

__all__ = ["GoshResult", "gosh"]


@dataclass(frozen=True)
class GoshResult:
    """Fits to subsets: ``fits`` (``k, QE, I2, H2, tau2, estimate`` per subset) and ``incl``
    (boolean, one column per study: which studies each subset contains)."""

    fits: pd.DataFrame
    incl: pd.DataFrame
    exact: bool


def _subsets(k: int, p: int, max_subsets: int, seed: int | None) -> tuple[np.ndarray, bool]:
    total = sum(comb(k, m) for m in range(p, k + 1))
    if total <= max_subsets:
        codes = np.arange(1, 2**k, dtype=np.int64)
        incl = ((codes[:, None] >> np.arange(k)) & 1).astype(bool)  # first study varies fastest
        return incl[incl.sum(axis=1) >= p], True
    rng = np.random.default_rng(seed)
    sizes = np.arange(p, k + 1)
    prob = np.array([comb(k, m) for m in sizes], dtype=float)
    draws = rng.choice(sizes, size=max_subsets, p=prob / prob.sum())
    incl = np.zeros((max_subsets, k), dtype=bool)
    for row, m in enumerate(draws):
        incl[row, rng.choice(k, size=m, replace=False)] = True
    return incl, False


def _closed_form(yi: np.ndarray, vi: np.ndarray, incl: np.ndarray, dl: bool) -> pd.DataFrame:
    """Common-effect or DL fits of all subsets at once (intercept-only models)."""
    m = incl.astype(float)
    w = m / vi
    sw, sw2 = w.sum(axis=1), (w**2).sum(axis=1)
    mu_fe = (w @ yi) / sw
    q = (w * (yi[None, :] - mu_fe[:, None]) ** 2).sum(axis=1)
    k = m.sum(axis=1)
    df = k - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        if dl:
            tau2 = np.maximum(0.0, (q - df) / (sw - sw2 / sw))
            tau2 = np.where(k > 1, tau2, 0.0)
            wr = m / (vi + tau2[:, None])
            est = (wr @ yi) / wr.sum(axis=1)
        else:
            tau2 = np.zeros(len(k))
            est = mu_fe
        # metafor's gosh reports the Q-based I² and H² for both (H² may fall below 1 when
        # DL truncates τ² at 0, where a full DL fit would report 1)
        i2 = np.where((k > 1) & (q > 0), np.maximum(0.0, 100 * (q - df) / q), 0.0)
        h2 = np.where(k > 1, q / df, 1.0)
    return pd.DataFrame(
        {"k": k.astype(int), "QE": q, "I2": i2, "H2": h2, "tau2": tau2, "estimate": est}
    )


def _refits(result: Any, incl: np.ndarray) -> pd.DataFrame:
    rows = []
    for mask in incl:
        fit = safe_refit(result, mask)
        if fit is None:
            rows.append([int(mask.sum())] + [np.nan] * 5)
        else:
            rows.append([fit.k, fit.q, fit.i2, fit.h2, fit.tau2, fit.estimate])
    return pd.DataFrame(rows, columns=["k", "QE", "I2", "H2", "tau2", "estimate"])


def gosh(result: Any, subsets: int = 1_000_000, *, seed: int | None = None) -> GoshResult:
    """Fit the model of ``result`` to every subset of studies (or to ``subsets`` random ones).

    Parameters
    ----------
    result : MetaResult
        Univariate model without moderators.
    subsets : int, default 1_000_000
        Largest number of subsets to fit; when there are more (k > 20), that many are drawn
        at random, with subset sizes in proportion to their number (as metafor).
    seed : int, optional
        Seed of the random subsets.

    Returns
    -------
    GoshResult

    Notes
    -----
    Validated against metafor 3.8-1 ``gosh()`` on eight ``dat.bcg`` trials (common-effect,
    DL: closed form, tolerance 1e-10; REML: 1e-5, iterative τ² per subset).

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, gosh
    >>> res = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65], vi=[0.03, 0.03, 0.05, 0.01], method="FE")
    >>> g = gosh(res)
    >>> len(g.fits), g.exact
    (15, True)
    """
    require_univariate(result, "gosh()")
    yi, vi, X = study_arrays(result)
    if X.shape[1] != 1:
        raise MetaAnalysisError("gosh() needs a model without moderators.")
    if not (isinstance(subsets, int | np.integer) and subsets >= 2):
        raise MetaAnalysisError("subsets must be an integer of at least 2.")
    incl, exact = _subsets(len(yi), 1, int(subsets), seed)
    closed = result.method in COMMON_EFFECT_METHODS or result.method == "DL"
    if (
        closed
        and result.tau2_fixed is None
        and result.spec is not None
        and result.spec.weights is None
    ):
        fits = _closed_form(yi, vi, incl, dl=result.method == "DL")
    else:
        fits = _refits(result, incl)
    labels = [str(s) for s in result.labels]
    return GoshResult(fits, pd.DataFrame(incl, columns=labels), exact)
