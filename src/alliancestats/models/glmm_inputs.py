"""Inputs of a GLMM: response forms, trials, prior weights and offsets, checked and aligned.

:func:`prepare_inputs` turns what :func:`~alliancestats.models.glmm` receives into a
:class:`GlmmInputs`: the design (:func:`~alliancestats.models.design.build_design`), the
response as a proportion or count, prior weights (trials for binomial data) and the offset.
Stages: the extra columns (``trials=``, ``weights=``, ``offset=``) and their missing rows,
the design, the response with its weights, the family's support, the offset.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import as_frame
from alliancestats.errors import (
    DataValidationError,
    DroppedRowsWarning,
    FormulaError,
    ModelSpecificationError,
)
from alliancestats.models.binary_response import BinaryCoding, code_binary_response
from alliancestats.models.design import Design, build_design
from alliancestats.models.families import Family, get_family
from alliancestats.models.formula import split_top_level
from alliancestats.models.predict import ExtraOffset

__all__ = ["GlmmInputs", "prepare_inputs"]


@dataclass
class GlmmInputs:
    """Everything a GLMM fit needs besides the formula's matrices in ``design``."""

    design: Design
    y: np.ndarray
    pw: np.ndarray
    offset: np.ndarray
    family: Family
    extra_offset: ExtraOffset
    n_dropped: int
    trials_used: bool
    response: str
    response_coding: BinaryCoding | None = None  # how a text/boolean response was coded


@dataclass
class _Extra:
    """An extra column given by name or as an array, aligned to the data's rows."""

    values: pd.Series | None
    column: str | None = None
    given: bool = False


def _as_column(data: pd.DataFrame, spec: Any, what: str) -> _Extra:
    if spec is None:
        return _Extra(None)
    if isinstance(spec, str):
        if spec not in data.columns:
            raise FormulaError(f"{what} column {spec!r} is not in the data")
        col = data[spec]
        if not pd.api.types.is_numeric_dtype(col):
            raise DataValidationError(f"{what} column {spec!r} must be numeric (dtype {col.dtype})")
        return _Extra(col.astype(float), spec, True)
    try:
        arr = np.asarray(spec, dtype=float).ravel()
    except (TypeError, ValueError):
        raise DataValidationError(f"{what} values must be numeric") from None
    if arr.shape[0] != len(data):
        raise DataValidationError(
            f"{what} has {arr.shape[0]} values but the data have {len(data)} rows"
        )
    return _Extra(pd.Series(arr, index=data.index), None, True)


def normalise_cbind(formula: str) -> tuple[str, bool]:
    """Check a ``cbind(successes, failures)`` response and write it as ``build_design`` reads it.

    Returns the formula (with ``cbind (`` spelled ``cbind(``) and whether it has such a response;
    the parts themselves are evaluated by :func:`~alliancestats.models.design.build_design`.

    Examples
    --------
    >>> normalise_cbind("cbind (a, n - a) ~ x + (1 | g)")
    ('cbind(a, n - a) ~ x + (1 | g)', True)
    """
    sides = split_top_level(formula, "~")
    if len(sides) != 2:
        return formula, False
    lhs = sides[0].strip()
    m = re.fullmatch(r"cbind\s*\((.*)\)", lhs)
    if not m:
        return formula, False
    parts = [p.strip() for p in split_top_level(m.group(1), ",")]
    if len(parts) != 2 or not all(parts):
        raise FormulaError(f"cbind() response {lhs!r} needs exactly two parts")
    return f"cbind({parts[0]}, {parts[1]}) ~ {sides[1]}", True


def _check_arguments(fam: Family, is_cbind: bool, trials: Any, weights: Any) -> None:
    if trials is not None and fam.name != "binomial":
        raise ModelSpecificationError("trials= is only meaningful for the binomial family")
    if trials is not None and weights is not None:
        raise ModelSpecificationError("give either trials= or weights=, not both")
    if is_cbind:
        if fam.name != "binomial":
            raise ModelSpecificationError("a cbind(successes, failures) response needs binomial")
        if trials is not None or weights is not None:
            raise ModelSpecificationError(
                "a cbind(successes, failures) response already gives the trials; drop "
                "trials=/weights="
            )


def _design_without_missing(formula: str, data: pd.DataFrame, extra: dict[str, _Extra]):
    """Drop rows with missing extra values, build the design, and report all dropped rows."""
    miss = np.zeros(len(data), dtype=bool)
    for e in extra.values():
        if e.values is not None:
            miss |= e.values.isna().to_numpy()
    n_extra = int(miss.sum())
    named = [k for k, e in extra.items() if e.values is not None and e.values.isna().any()]
    design = build_design(formula, data.loc[~miss], warn_dropped=False)
    if n_extra or design.n_dropped:
        named += [c for c in design.data.columns if c in data.columns and data[c].isna().any()]
        warnings.warn(
            f"{n_extra + design.n_dropped} of {len(data)} rows dropped because of missing values "
            f"in {sorted(set(named), key=named.index)}; the fit uses {design.nobs} rows",
            DroppedRowsWarning,
            stacklevel=4,
        )
    if not design.random:
        raise FormulaError(
            f"formula {formula!r} has no random-effects term such as (1 | patient); use a GLM "
            "(statsmodels) or gee() for models without random effects"
        )
    return design, n_extra


def _finite(what: str, vals: np.ndarray | None) -> None:
    if vals is not None and not np.all(np.isfinite(vals)):
        raise DataValidationError(
            f"{what} has {int(np.sum(~np.isfinite(vals)))} infinite value(s); {what} must be finite"
        )


def _response_and_weights(design, label, fam, t, w) -> tuple[np.ndarray, np.ndarray, bool]:
    """The response (proportion of successes with trials) and prior weights."""
    y_raw = np.asarray(design.y, dtype=float)
    if y_raw.ndim == 2:  # cbind(successes, failures), evaluated by build_design
        if np.any(y_raw < 0):
            raise DataValidationError(f"cbind() response {label!r} has negative successes or failures")
        y, t = y_raw[:, 0], y_raw.sum(axis=1)
    else:
        y = y_raw
    _finite("trials", t)
    _finite("weights", w)
    if t is not None:
        bad = np.abs(t - np.rint(t)) > 1e-7
        if np.any(bad):
            raise DataValidationError(
                f"trials has {int(bad.sum())} non-integer value(s); the number of trials must "
                "be a whole number"
            )
        if np.any(t < 0) or np.any(y < 0) or np.any(y > t):
            n_bad = int(np.sum((t < 0) | (y < 0) | (y > t)))
            raise DataValidationError(
                f"{n_bad} rows have successes outside 0..trials; the response must count "
                "successes out of the trials column"
            )
        return np.divide(y, t, out=np.zeros_like(y), where=t > 0), t, True
    if w is not None:
        if np.any(w < 0):
            raise DataValidationError("weights must be non-negative")
        return y, w, fam.name == "binomial" and bool(np.any(w > 1))
    return y, np.ones(design.nobs), False


def _check_support(design: Design, label: str, fam: Family, y: np.ndarray, pw: np.ndarray):
    positive = pw > 0
    if not positive.any():
        raise DataValidationError(
            "every row has zero trials or zero weight, so the data carry no information"
        )
    if np.linalg.matrix_rank(np.asarray(design.X, dtype=float)[positive]) < design.X.shape[1]:
        raise DataValidationError(
            f"the {int(positive.sum())} rows with positive trials/weights do not identify all "
            f"fixed effects {list(design.fixed_names)} (rows with zero trials or weight carry "
            "no information); drop those terms or rows"
        )
    if fam.name == "binomial":
        if np.any(y < 0) or np.any(y > 1):
            raise DataValidationError(
                f"binomial response {label!r} must be 0/1 (or a proportion with weights=); for "
                "counts of successes give trials= or a cbind(successes, failures) response"
            )
        if np.any(np.abs(y * pw - np.rint(y * pw)) > 1e-7):
            raise DataValidationError(
                f"binomial response {label!r} implies non-integer numbers of successes; check "
                "the trials/weights"
            )
    elif fam.name in ("poisson", "negative_binomial"):
        if np.any(y < 0) or np.any(np.abs(y - np.rint(y)) > 1e-7):
            what = "Poisson" if fam.name == "poisson" else "negative binomial"
            raise DataValidationError(
                f"{what} response {label!r} must hold non-negative whole counts"
            )
    else:
        _check_continuous(label, fam, y, pw)


def _check_continuous(label: str, fam: Family, y: np.ndarray, pw: np.ndarray) -> None:
    """Gamma and inverse Gaussian responses are positive; dispersion families need weights > 0."""
    if fam.name in ("gamma", "inverse_gaussian") and np.any(y <= 0):
        raise DataValidationError(
            f"the {fam.r_name} family needs a positive response; {label!r} has "
            f"{int(np.sum(y <= 0))} value(s) <= 0"
        )
    if np.any(pw <= 0):
        raise DataValidationError(
            f"the {fam.r_name} family needs positive weights (R's log-likelihood uses "
            "log(weights)); drop the rows with zero weight"
        )


def prepare_inputs(
    formula: str,
    data: Any,
    family: str | Family,
    link: str | None,
    trials: Any,
    weights: Any,
    offset: Any,
) -> GlmmInputs:
    """Check and align everything :func:`~alliancestats.models.glmm` fits (see module docs)."""
    fam = get_family(family, link)
    if fam.name == "gaussian" and fam.link.name == "identity":
        raise ModelSpecificationError(
            "a Gaussian response with the identity link is a linear mixed model: use lmm() "
            "(glmer likewise hands it to lmer), or give link='log' or 'inverse'"
        )
    data = as_frame(data, "glmm")
    if not data.index.is_unique:
        data = data.reset_index(drop=True)
    data, response_coding = code_binary_response(data, formula, fam.name)
    label = formula.split("~", 1)[0].strip()
    formula, is_cbind = normalise_cbind(formula)
    _check_arguments(fam, is_cbind, trials, weights)
    extra = {
        "trials": _as_column(data, trials, "trials"),
        "weights": _as_column(data, weights, "weights"),
        "offset": _as_column(data, offset, "offset"),
    }
    design, n_extra = _design_without_missing(formula, data, extra)

    def aligned(key: str) -> np.ndarray | None:
        vals = extra[key].values
        return None if vals is None else vals.loc[design.rows].to_numpy(dtype=float)

    y, pw, trials_used = _response_and_weights(
        design, label, fam, aligned("trials"), aligned("weights")
    )
    _check_support(design, label, fam, y, pw)
    off = np.asarray(design.offset, dtype=float).copy()
    o = aligned("offset")
    if o is not None:
        if not np.all(np.isfinite(o)):
            raise DataValidationError(
                "offset has non-finite values (e.g. log of zero exposure); drop those rows"
            )
        off = off + o
    return GlmmInputs(
        design=design,
        y=y,
        pw=pw,
        offset=off,
        family=fam,
        extra_offset=ExtraOffset(extra["offset"].column, extra["offset"].given),
        n_dropped=design.n_dropped + n_extra,
        trials_used=trials_used,
        response=label,
        response_coding=response_coding,
    )
