"""The one place where ``alliancestats.effects`` reads a fitted model beyond ``MixedResult``.

Everything after the fit (ICC, R², marginal means, predictions, bootstrap refits) talks to the
fitted-model interface that ``MixedResult.model`` holds
(:class:`~alliancestats.models.fitted.FittedModel`: design, fixed effects and their
covariance, term covariances, linear predictor, inverse link, contrast df, simulation and fast
refits, Kenward-Roger inference, the prepared response, prior weights and total offset, and the
intercept-only null model). This module gathers the reads effects need in one place, so that
the rest of the subpackage does not depend on the shape of the interface.

Functions accept a ``MixedResult`` or its fitted model.

Examples
--------
>>> from alliancestats.simulate import simulate_sessions
>>> from alliancestats.models import lmm
>>> from alliancestats.effects._model import fixed_matrix, random_terms
>>> df = simulate_sessions(n_therapists=4, seed=1).dropna(subset=["pain"])
>>> fit = lmm("pain ~ session + (1 | patient)", df)
>>> fixed_matrix(fit).shape[1], [t.name for t in random_terms(fit)]
(2, ['patient'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import ModelSpecificationError, OutOfCoreError
from alliancestats.models.design import variables_in
from alliancestats.models.families import Family, get_family
from alliancestats.models.kenward_roger import KenwardRoger

__all__ = [
    "RandomTermInfo",
    "RefitParts",
    "contrast_df",
    "factor_levels",
    "family_of",
    "fitted_model",
    "fixed_matrix",
    "fixed_variables",
    "is_glmm",
    "kenward_roger",
    "linear_predictor",
    "model_frame",
    "null_model",
    "offset_variables",
    "offsets",
    "prior_weights",
    "random_design",
    "random_terms",
    "refit_parts",
    "require_fit",
    "response_values",
    "simulate",
    "vcov_beta",
]

@dataclass(frozen=True)
class RandomTermInfo:
    """One random-effects term: ``varcorr`` group name, columns, design and covariance."""

    name: str
    columns: list[str]
    Z: np.ndarray
    codes: np.ndarray
    nlevels: int
    group_vars: tuple[str, ...]
    cov: np.ndarray


@dataclass(frozen=True)
class RefitParts:
    """What a fast refit gives: fixed effects, term covariances and the residual SD."""

    beta: np.ndarray
    covs: list[np.ndarray]
    sigma: float
    converged: bool


def fitted_model(obj: Any) -> Any:
    """The fitted model of a ``MixedResult`` (or ``obj`` itself when it is one)."""
    model = getattr(obj, "model", obj)
    if not hasattr(model, "design") or not hasattr(model, "linear_predictor"):
        raise ModelSpecificationError(
            f"this {type(obj).__name__} is not a fitted mixed model from alliancestats.lmm "
            "or glmm"
        )
    return model


def require_fit(result: Any, function: str) -> None:
    """Raise :class:`ModelSpecificationError` unless ``result`` is a fitted mixed model."""
    if not all(hasattr(result, a) for a in ("fixed", "varcorr", "nobs", "model")):
        raise ModelSpecificationError(
            f"{function} needs a fitted mixed model from alliancestats.lmm or glmm, got "
            f"{type(result).__name__}"
        )


def is_glmm(obj: Any) -> bool:
    """Whether ``obj`` is a generalized (non-Gaussian) mixed model."""
    return fitted_model(obj).family != "gaussian"


def family_of(obj: Any) -> Family | None:
    """The response family (with its link) of a GLMM; ``None`` for a linear mixed model."""
    model = fitted_model(obj)
    if model.family == "gaussian":
        return None
    return get_family(model.family, model.link)


def fixed_matrix(obj: Any, newdata: pd.DataFrame | None = None) -> np.ndarray:
    """Fixed-effects model matrix of the fitted rows, or of ``newdata`` with the fit's coding."""
    design = fitted_model(obj).design
    if newdata is None:
        if not getattr(design, "rows_in_memory", True):  # a fit to a Dask DataFrame
            raise OutOfCoreError(
                "this needs the fixed-effects matrix of the fitted rows, which a fit to a "
                "Dask DataFrame does not hold; fit ddf.compute() if the data fit in memory"
            )
        return np.asarray(design.X, dtype=float)
    return design.fixed_matrix(newdata)


def linear_predictor(obj: Any, newdata: pd.DataFrame | None, random: bool) -> np.ndarray:
    """``X beta + offset`` (plus ``Z b`` when ``random``) for the fitted rows or ``newdata``."""
    return np.asarray(fitted_model(obj).linear_predictor(newdata, random), dtype=float)


def vcov_beta(obj: Any) -> np.ndarray:
    """Covariance matrix of the fixed effects."""
    return np.asarray(fitted_model(obj).vcov_beta(), dtype=float)


def contrast_df(obj: Any, L: np.ndarray, method: str = "satterthwaite") -> float:
    """Satterthwaite (or Kenward-Roger) df of ``L @ beta`` (LMM); infinite for GLMMs."""
    return float(fitted_model(obj).contrast_df(np.asarray(L, dtype=float), method))


def kenward_roger(obj: Any) -> KenwardRoger:
    """Kenward-Roger adjusted covariance and df of a linear mixed model fitted by REML."""
    return fitted_model(obj).kenward_roger()


def model_frame(obj: Any) -> pd.DataFrame:
    """The rows and raw variables the fit used (factors as categoricals with the fit's levels)."""
    return fitted_model(obj).design.data


def fixed_variables(obj: Any) -> list[str]:
    """Data columns used by the fixed part of the formula (response and offsets excluded)."""
    return variables_in(fitted_model(obj).design.parsed.fixed)


def offset_variables(obj: Any) -> list[str]:
    """Data columns used by the formula's ``offset()`` terms."""
    out: list[str] = []
    for off in fitted_model(obj).design.parsed.offsets:
        out += [v for v in variables_in(off) if v not in out]
    return out


def factor_levels(obj: Any) -> dict[str, list[str]]:
    """Levels of every categorical predictor, in the order the fit coded them."""
    return dict(fitted_model(obj).design.factor_levels)


def random_terms(obj: Any) -> list[RandomTermInfo]:
    """Random-effects terms in ``varcorr`` order with their columns and covariance matrices."""
    model = fitted_model(obj)
    covs = {c.term: np.asarray(c.cov, dtype=float) for c in model.covariances()}
    return [
        RandomTermInfo(
            name=b.group,
            columns=list(b.colnames),
            Z=np.asarray(b.Z, dtype=float),
            codes=np.asarray(b.codes),
            nlevels=int(b.nlevels),
            group_vars=tuple(b.group_vars),
            cov=covs[k],
        )
        for k, b in enumerate(model.design.random)
    ]


def random_design(obj: Any, newdata: pd.DataFrame | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per random term: its columns ``Z`` and each row's group code for the fitted rows or
    ``newdata`` (code -1 for groups the fit never saw, or when the grouping column is absent).
    """
    design = fitted_model(obj).design
    if newdata is None:
        return [(np.asarray(b.Z, dtype=float), np.asarray(b.codes)) for b in design.random]
    frame = newdata
    missing = {v for b in design.random for v in b.group_vars if v not in newdata.columns}
    if missing:  # groups unknown: the rows count as new groups
        frame = newdata.assign(**{v: "\u0000new group" for v in missing})
    out = []
    for k in range(len(design.random)):
        Z, codes = design.random_matrix(k, frame)
        out.append((np.asarray(Z, dtype=float), np.asarray(codes)))
    return out


def response_values(obj: Any) -> np.ndarray:
    """Response on the model scale (binomial: proportion of successes)."""
    return np.asarray(fitted_model(obj).response_values, dtype=float)


def prior_weights(obj: Any) -> np.ndarray:
    """Prior weights (binomial: number of trials); ones for linear mixed models."""
    return np.asarray(fitted_model(obj).prior_weights, dtype=float)


def offsets(obj: Any) -> np.ndarray:
    """Offset of every fitted row (formula ``offset()`` terms plus ``offset=``)."""
    return np.asarray(fitted_model(obj).total_offset, dtype=float)


def simulate(obj: Any, rng: np.random.Generator) -> np.ndarray:
    """A response drawn from the fitted model (new random effects; binomial as proportions)."""
    return np.asarray(fitted_model(obj).simulate(rng), dtype=float)


def refit_parts(obj: Any, y: np.ndarray) -> RefitParts:
    """Fast refit to a new response: fixed effects, term covariances, residual SD."""
    refit = fitted_model(obj).refit(np.asarray(y, dtype=float), ddf=False)
    covs = [np.asarray(c.cov, dtype=float) for c in refit.covariances]
    return RefitParts(np.asarray(refit.beta, dtype=float), covs, float(refit.sigma),
                      bool(refit.converged))


def null_model(obj: Any, y: np.ndarray | None = None) -> Any:
    """The intercept-only model with the same random effects, offsets and weights.

    As ``insight::null_model`` for merMod fits (used by performance for the Poisson
    distribution-specific variance); ``y`` replaces the response (bootstrap replicates).
    """
    return fitted_model(obj).refit_null(y)
