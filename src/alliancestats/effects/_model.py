"""The one place where ``alliancestats.effects`` reads a fitted model beyond ``MixedResult``.

Everything after the fit (ICC, R², marginal means, predictions, bootstrap refits) talks to the
fitted-model interface that ``MixedResult.model`` holds
(:class:`~alliancestats.models.fitted.FittedModel`: design, fixed effects and their
covariance, term covariances, linear predictor, inverse link, contrast df, simulation and fast
refits). A few things the interface does not (yet) publish are read here and only here:

* the prepared GLMM response, prior weights and total offset (``model.inputs``), used for the
  intercept-only null model of Poisson R² and for refits with a new response;
* the covariance-parameter layout (``model.problem``), to turn the θ of a fast refit into term
  covariance matrices.

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

from alliancestats.errors import ModelSpecificationError
from alliancestats.models.design import variables_in
from alliancestats.models.families import Family, get_family
from alliancestats.models.varcomp import term_covariances as layout_covariances

__all__ = [
    "RandomTermInfo",
    "RefitParts",
    "RefitSpec",
    "contrast_df",
    "factor_levels",
    "family_of",
    "fitted_model",
    "fixed_matrix",
    "fixed_variables",
    "is_glmm",
    "linear_predictor",
    "model_frame",
    "null_model",
    "offset_variables",
    "offsets",
    "prior_weights",
    "random_design",
    "random_terms",
    "refit_parts",
    "refit_spec",
    "require_fit",
    "response_values",
    "simulate",
    "vcov_beta",
]

#: column name used for a replaced response in formula refits
REFIT_RESPONSE = "refit_response_"


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
        return np.asarray(design.X, dtype=float)
    return design.fixed_matrix(newdata)


def linear_predictor(obj: Any, newdata: pd.DataFrame | None, random: bool) -> np.ndarray:
    """``X beta + offset`` (plus ``Z b`` when ``random``) for the fitted rows or ``newdata``."""
    return np.asarray(fitted_model(obj).linear_predictor(newdata, random), dtype=float)


def vcov_beta(obj: Any) -> np.ndarray:
    """Covariance matrix of the fixed effects."""
    return np.asarray(fitted_model(obj).vcov_beta(), dtype=float)


def contrast_df(obj: Any, L: np.ndarray) -> float:
    """Satterthwaite df of ``L @ beta`` (LMM); infinite for GLMMs."""
    return float(fitted_model(obj).contrast_df(np.asarray(L, dtype=float)))


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
    model = fitted_model(obj)
    if model.family == "gaussian":
        return np.asarray(model.design.y, dtype=float)
    return np.asarray(model.inputs.y, dtype=float)


def prior_weights(obj: Any) -> np.ndarray:
    """Prior weights (binomial: number of trials); ones for linear mixed models."""
    model = fitted_model(obj)
    if model.family == "gaussian":
        return np.ones(model.design.nobs)
    return np.asarray(model.inputs.pw, dtype=float)


def offsets(obj: Any) -> np.ndarray:
    """Offset of every fitted row (formula ``offset()`` terms plus ``offset=``)."""
    model = fitted_model(obj)
    if model.family == "gaussian":
        return np.asarray(model.design.offset, dtype=float)
    return np.asarray(model.inputs.offset, dtype=float)


def simulate(obj: Any, rng: np.random.Generator) -> np.ndarray:
    """A response drawn from the fitted model (new random effects; binomial as proportions)."""
    return np.asarray(fitted_model(obj).simulate(rng), dtype=float)


def refit_parts(obj: Any, y: np.ndarray) -> RefitParts:
    """Fast refit to a new response: fixed effects, term covariances, residual SD."""
    model = fitted_model(obj)
    refit = model.refit(np.asarray(y, dtype=float), ddf=False)
    problem = model.problem
    layout = getattr(problem, "layout", None) or problem.re.layout
    covs = layout_covariances(layout, refit.theta, refit.sigma)
    return RefitParts(np.asarray(refit.beta, dtype=float), covs, float(refit.sigma),
                      bool(refit.converged))


def _random_text(design: Any) -> str:
    # label_vars keep the grouping variables of terms that lme4-style naming renamed "g.1"
    return " + ".join(f"({b.lhs} | {':'.join(b.label_vars)})" for b in design.random)


@dataclass(frozen=True)
class RefitSpec:
    """A formula refit of the model (picklable): new response and, optionally, fixed part."""

    formula: str
    frame: pd.DataFrame
    family: str
    link: str | None
    reml: bool
    weights: np.ndarray
    offset: np.ndarray
    nagq: int

    def fit(self, y: np.ndarray) -> Any:
        """Fit the model with response ``y`` (one value per row of ``frame``)."""
        from alliancestats.models import glmm, lmm

        frame = self.frame.copy()
        frame[REFIT_RESPONSE] = np.asarray(y, dtype=float)
        if self.family == "gaussian":
            return lmm(self.formula, frame, reml=self.reml)
        return glmm(self.formula, frame, family=self.family, link=self.link,
                    weights=self.weights, offset=self.offset, nAGQ=self.nagq,
                    check_separation=False)


def refit_spec(obj: Any, fixed: str | None = None) -> RefitSpec:
    """A :class:`RefitSpec` of the fit (``fixed`` replaces the fixed part, e.g. ``"1"``)."""
    model = fitted_model(obj)
    design = model.design
    fixed = design.parsed.fixed if fixed is None else fixed
    formula = f"{REFIT_RESPONSE} ~ {fixed} + {_random_text(design)}"
    glmm = model.family != "gaussian"
    if not glmm and design.parsed.offsets:
        formula += "".join(f" + offset({o})" for o in design.parsed.offsets)
    return RefitSpec(formula=formula, frame=design.data, family=model.family,
                     link=model.link if glmm else None, reml=bool(model.reml),
                     weights=prior_weights(model), offset=offsets(model),
                     nagq=int(getattr(model, "nagq", 1)))


def null_model(obj: Any, y: np.ndarray | None = None) -> Any:
    """The intercept-only model with the same random effects, offsets and weights.

    As ``insight::null_model`` for merMod fits (used by performance for the Poisson
    distribution-specific variance); ``y`` replaces the response (bootstrap replicates).
    """
    spec = refit_spec(obj, fixed="1")
    return spec.fit(response_values(obj) if y is None else y)

