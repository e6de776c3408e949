"""Likelihood-ratio tests between nested mixed models (lme4's ``anova``).

What :func:`lrt` needs from each model: ``loglik``, ``npar`` (fixed effects + covariance
parameters + residual scale when estimated), ``nobs``, ``reml``, ``response``, the design's
response values and ``refit_ml()``.

Examples
--------
>>> from alliancestats.models.lrt import lrt
>>> callable(lrt)
True
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import DataQualityWarning, ModelSpecificationError
from alliancestats.models.results import MixedResult

__all__ = ["lrt"]


def _check_same_rows(models: tuple[MixedResult, ...]) -> None:
    """Refuse models whose responses differ row by row (same size, different data)."""
    ys = []
    for m in models:
        ys.append(np.asarray(m.model.design.y, dtype=float))
    if not all(getattr(m.model.design, "rows_in_memory", True) for m in models):
        # a fit to a Dask DataFrame holds compressed rows: compare n and the sum of squares
        ys = [np.array([m.nobs, y @ y]) for m, y in zip(models, ys, strict=True)]
        if not all(np.allclose(y, ys[0], rtol=1e-9, atol=0.0) for y in ys[1:]):
            raise ModelSpecificationError(
                "models were fitted to different data (numbers of rows or responses differ); "
                "a likelihood-ratio test needs the same rows for every model"
            )
        return
    first = ys[0]
    for y in ys[1:]:
        if y.shape != first.shape or not np.allclose(y, first, rtol=1e-12, atol=0.0):
            raise ModelSpecificationError(
                "models were fitted to different data (the response values differ row by row); "
                "a likelihood-ratio test needs the same rows for every model"
            )


def _warn_if_not_nested(small: MixedResult, large: MixedResult) -> None:
    """Warn when the smaller model's fixed effects or grouping factors are not in the larger."""

    def parts(m: MixedResult) -> tuple[set, set]:
        fixed = set(getattr(m, "fixed", pd.DataFrame()).index)
        vc = getattr(m, "varcorr", None)
        groups = set(vc["grp"]) - {"Residual"} if vc is not None and "grp" in vc else set()
        return fixed, groups

    f0, g0 = parts(small)
    f1, g1 = parts(large)
    extra = sorted(f0 - f1) + sorted(g0 - g1)
    if extra:
        warnings.warn(
            f"the models do not look nested: {extra} of the model with fewer parameters "
            "is not in the larger one; the chi-square test assumes nested models (compare "
            "non-nested models by AIC/BIC)",
            DataQualityWarning,
            stacklevel=3,
        )


def lrt(*models: MixedResult) -> pd.DataFrame:
    """Likelihood-ratio tests between nested mixed models (lme4's ``anova``).

    REML fits are refitted by maximum likelihood first (as lme4's ``anova`` does with its
    default ``refit = TRUE``); models are ordered by their number of parameters and each is
    compared with the previous one.

    Parameters
    ----------
    *models : MixedResult
        Two or more fits of the same response on the same rows.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``npar, aic, bic, loglik, deviance, chisq, df, p``.

    Warns
    -----
    DataQualityWarning
        When a fixed-effect term or grouping factor of a smaller model is missing from the
        next larger one (the models do not look nested).

    Raises
    ------
    ModelSpecificationError
        Fewer than two models, objects that are not fits, or models fitted to different
        rows (numbers of rows, response names or response values differ).

    Notes
    -----
    The chi-square test treats variance parameters on the boundary the usual way (no
    mixture correction), like lme4's ``anova``; it is conservative for such tests (Self &
    Liang 1987, J Am Stat Assoc 82(398)). Validated against lme4 1.1-31 ``anova(m0, m1)`` on
    sleepstudy and a simulated therapist/patient data set: log-likelihoods and AIC within
    1e-6 relative, chi-square within 1e-4, p within 1e-3.

    Examples
    --------
    >>> import warnings
    >>> from alliancestats.simulate import simulate_sessions
    >>> from alliancestats.models import lmm, lrt
    >>> df = simulate_sessions(n_therapists=6, seed=5).dropna(subset=["pain", "alliance"])
    >>> m0 = lmm("pain ~ session + (1 | patient)", df)
    >>> m1 = lmm("pain ~ session + alliance + (1 | patient)", df)
    >>> tab = lrt(m0, m1)
    >>> tab[["npar", "df"]].to_numpy().tolist()
    [[4.0, nan], [5.0, 1.0]]
    >>> bool(tab["p"].iloc[1] < 0.05)
    True
    """
    if len(models) < 2:
        raise ModelSpecificationError("lrt needs at least two models")
    bad = [type(m).__name__ for m in models if not isinstance(m, MixedResult)]
    if bad:
        raise ModelSpecificationError(f"lrt compares MixedResult fits; got {bad}")
    nobs = {m.nobs for m in models}
    if len(nobs) > 1:
        raise ModelSpecificationError(
            f"models were fitted to different numbers of rows {sorted(nobs)}; refit them on the "
            "same complete cases before comparing"
        )
    responses = {m.response for m in models}
    if len(responses) > 1:
        raise ModelSpecificationError(f"models have different responses {sorted(responses)}")
    _check_same_rows(models)
    families = {getattr(m, "family", "gaussian") for m in models}
    if len(families) > 1:
        raise ModelSpecificationError(f"models have different families {sorted(families)}")
    nagq = {getattr(m, "nagq", 1) for m in models}
    if len(nagq) > 1:
        # lme4's AGQ log-likelihood (nAGQ > 1) is on another scale than the Laplace one
        raise ModelSpecificationError(
            f"models use different numbers of quadrature points {sorted(nagq)}; their "
            "log-likelihoods are not comparable (refit them with the same nagq)"
        )
    fits = [m.refit_ml() if m.reml else m for m in models]
    order = sorted(range(len(fits)), key=lambda i: fits[i].npar)
    rows = []
    prev = None
    for i in order:
        m = fits[i]
        row = {
            "model": f"m{i + 1}",
            "npar": m.npar,
            "aic": m.aic,
            "bic": m.bic,
            "loglik": m.loglik,
            "deviance": -2.0 * m.loglik,
            "chisq": np.nan,
            "df": np.nan,
            "p": np.nan,
        }
        if prev is not None:
            _warn_if_not_nested(prev, m)
            chisq = max(2.0 * (m.loglik - prev.loglik), 0.0)
            ddf = m.npar - prev.npar
            row["chisq"] = chisq
            row["df"] = ddf
            row["p"] = float(stats.chi2.sf(chisq, ddf)) if ddf > 0 else np.nan
        rows.append(row)
        prev = m
    return pd.DataFrame(rows).set_index("model")
