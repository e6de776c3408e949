"""The one place where ``alliancestats.effects`` reads a fitted model beyond its public attributes.

Everything after the fit (ICC, R², marginal means, predictions, bootstrap refits) needs a few
things that :class:`~alliancestats.models.MixedResult` does not publish as attributes: the
fixed-effects model matrix for new rows, the rows and raw variables the fit used, the
random-effect columns of every term, the response on the model scale with its prior weights
and offsets, and a way to refit the same model to a new response. This adapter collects them
so that a change in the model engines (a fitted-model interface is planned in
``alliancestats.models``) is absorbed here, in one module.

Today the LMM engine attaches its model description as ``result.design``; the GLMM engine
keeps it (and the prepared response, weights and offsets) in the closure of
``result.predictor``, where :func:`_parts` finds it.

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

__all__ = [
    "RandomTermInfo",
    "RefitSpec",
    "family_of",
    "fixed_matrix",
    "fixed_variables",
    "factor_levels",
    "is_glmm",
    "model_frame",
    "null_model",
    "offsets",
    "prior_weights",
    "random_terms",
    "refit_spec",
    "refit_with_response",
    "require_fit",
    "response_values",
]

#: column name used for a simulated or replaced response in refits
REFIT_RESPONSE = "refit_response_"


@dataclass(frozen=True)
class RandomTermInfo:
    """One random-effects term of a fit: its ``varcorr`` group name, columns and design."""

    name: str
    columns: list[str]
    Z: np.ndarray
    codes: np.ndarray
    nlevels: int
    group_vars: tuple[str, ...]
    lhs: str
    correlated: bool


@dataclass(frozen=True)
class _Parts:
    design: Any
    y: np.ndarray
    weights: np.ndarray
    offset: np.ndarray


def require_fit(result: Any, function: str) -> None:
    """Raise :class:`ModelSpecificationError` unless ``result`` is a fitted mixed model."""
    if not all(hasattr(result, a) for a in ("fixed", "varcorr", "nobs", "predictor")):
        raise ModelSpecificationError(
            f"{function} needs a fitted mixed model from alliancestats.lmm or glmm, got "
            f"{type(result).__name__}"
        )


def is_glmm(result: Any) -> bool:
    """Whether ``result`` is a generalized (non-Gaussian) mixed model."""
    return getattr(result, "family", "gaussian") != "gaussian"


def _parts(result: Any) -> _Parts:
    design = getattr(result, "design", None)
    if design is not None and not is_glmm(result):
        y = np.asarray(design.y, dtype=float)
        return _Parts(design, y, np.ones(len(y)), np.asarray(design.offset, dtype=float))
    fn = getattr(result, "predictor", None)
    cells = getattr(fn, "__closure__", None) or ()
    names = getattr(getattr(fn, "__code__", None), "co_freevars", ())
    env = {n: c.cell_contents for n, c in zip(names, cells, strict=False)}
    prep = env.get("prep")
    if prep is None or not hasattr(prep, "design"):
        raise ModelSpecificationError(
            f"this {type(result).__name__} does not expose its model design; ICC, R², "
            "marginal means and predictions need a fit from alliancestats.lmm or glmm"
        )
    return _Parts(
        prep.design,
        np.asarray(prep.y, dtype=float),
        np.asarray(prep.pw, dtype=float),
        np.asarray(prep.offset, dtype=float),
    )


def family_of(result: Any) -> Family | None:
    """The response family (with its link) of a GLMM; ``None`` for a linear mixed model."""
    if not is_glmm(result):
        return None
    return get_family(result.family, getattr(result, "link", None))


def fixed_matrix(result: Any, newdata: pd.DataFrame | None = None) -> np.ndarray:
    """Fixed-effects model matrix of the fitted rows, or of ``newdata`` with the fit's coding."""
    design = _parts(result).design
    if newdata is None:
        return np.asarray(design.X, dtype=float)
    return design.fixed_matrix(newdata)


def model_frame(result: Any) -> pd.DataFrame:
    """The rows and raw variables the fit used (factors as categoricals with the fit's levels)."""
    return _parts(result).design.data


def fixed_variables(result: Any) -> list[str]:
    """Data columns used by the fixed part of the formula (response and offsets excluded)."""
    return variables_in(_parts(result).design.parsed.fixed)


def factor_levels(result: Any) -> dict[str, list[str]]:
    """Levels of every categorical predictor, in the order the fit coded them."""
    return dict(_parts(result).design.factor_levels)


def random_terms(result: Any) -> list[RandomTermInfo]:
    """Random-effects terms in ``varcorr`` order, with their columns on the fitted rows."""
    out = []
    for block in _parts(result).design.random:
        out.append(
            RandomTermInfo(
                name=block.group,
                columns=list(block.colnames),
                Z=np.asarray(block.Z, dtype=float),
                codes=np.asarray(block.codes),
                nlevels=int(block.nlevels),
                group_vars=tuple(block.group_vars),
                lhs=block.lhs,
                correlated=bool(block.correlated),
            )
        )
    return out


def response_values(result: Any) -> np.ndarray:
    """Response on the model scale (binomial: proportion of successes)."""
    return _parts(result).y


def prior_weights(result: Any) -> np.ndarray:
    """Prior weights (binomial: number of trials); ones for linear mixed models."""
    return _parts(result).weights


def offsets(result: Any) -> np.ndarray:
    """Offset of every fitted row (formula ``offset()`` terms plus ``offset=``)."""
    return _parts(result).offset


def _random_text(design: Any) -> str:
    # label_vars keep the grouping variables of terms that lme4-style naming renamed "g.1"
    return " + ".join(f"({b.lhs} | {':'.join(b.label_vars)})" for b in design.random)


@dataclass(frozen=True)
class RefitSpec:
    """Everything needed to fit the model again to a new response (picklable, for joblib)."""

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
        return glmm(
            self.formula,
            frame,
            family=self.family,
            link=self.link,
            weights=self.weights,
            offset=self.offset,
            nAGQ=self.nagq,
            check_separation=False,
        )


def refit_spec(result: Any, fixed: str | None = None) -> RefitSpec:
    """A :class:`RefitSpec` for ``result`` (``fixed`` replaces the fixed part, e.g. ``"1"``)."""
    parts = _parts(result)
    design = parts.design
    fixed = design.parsed.fixed if fixed is None else fixed
    formula = f"{REFIT_RESPONSE} ~ {fixed} + {_random_text(design)}"
    if not is_glmm(result) and design.parsed.offsets:
        formula += "".join(f" + offset({o})" for o in design.parsed.offsets)
    return RefitSpec(
        formula=formula,
        frame=design.data,
        family=str(getattr(result, "family", "gaussian")),
        link=getattr(result, "link", None),
        reml=bool(getattr(result, "reml", False)),
        weights=parts.weights,
        offset=parts.offset,
        nagq=int(getattr(result, "nagq", 1)),
    )


def refit_with_response(result: Any, y: np.ndarray, data: pd.DataFrame | None = None) -> Any:
    """The same model refitted to a new response ``y`` (one value per fitted row).

    GLMM responses are proportions for the binomial family (the trials stay as prior weights).
    ``data`` replaces the fitted rows (same length and order), e.g. with relabelled groups.
    """
    spec = refit_spec(result)
    if data is not None:
        spec = RefitSpec(**{**spec.__dict__, "frame": data})
    return spec.fit(y)


def null_model(result: Any) -> Any:
    """The intercept-only model with the same random effects, offsets and weights.

    As ``insight::null_model`` for merMod fits (used by performance for the Poisson
    distribution-specific variance).
    """
    return refit_spec(result, fixed="1").fit(response_values(result))
