"""One simulation replicate: draw a response from a specification and refit the model.

The model is fitted once per design point (:func:`make_template`); each replicate then calls
:func:`fit_replicate`, the one function that meets the fitting engine: it refits the fitted
model to the new response (``FittedModel.refit``, which reuses the design and the per-group
sufficient statistics). Simulating responses and looping over seeds only need the design
matrices.
Each replicate draws from ``numpy.random.default_rng(seed)`` with its own recorded seed and
runs with single-threaded BLAS, so a replicate's result does not depend on the process, the
backend or the number of workers that computes it.

Examples
--------
>>> from alliancestats.power import longitudinal_spec, cohens_d
>>> from alliancestats.power.engine import make_template, run_chunk
>>> spec = longitudinal_spec(4, 6, icc_pre_subject=0.5, effect_size=cohens_d(0.5))
>>> t = make_template(spec, "time:treatment", "satterthwaite")
>>> rec = run_chunk(t, [12345])[0]
>>> sorted(rec)
['converged', 'df', 'error', 'estimate', 'p', 'se', 'seed', 'singular', 'statistic', 'warnings']
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import threadpool_limits

from alliancestats.errors import ParameterError
from alliancestats.models import lmm
from alliancestats.models.kenward_roger import kenward_roger
from alliancestats.power.spec import SimulationSpec, design_for

__all__ = ["TESTS", "Template", "fit_replicate", "make_template", "run_chunk",
           "simulate_response", "t_test_p"]

TESTS = ("satterthwaite", "kenward-roger", "lrt")


@dataclass
class Template:
    """What every replicate of one design point shares (pickled once per worker task).

    ``models`` are the fitted models (``MixedResult.model``) whose ``refit`` each replicate
    calls: the model itself (REML) for the Satterthwaite and Kenward-Roger tests; the full and
    the reduced model (ML) for the likelihood-ratio test.
    """

    formula: str
    term: str
    index: int
    test: str
    X: np.ndarray
    beta: np.ndarray
    blocks: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]]
    sigma: float
    models: list[Any]


#: seed of the response the template models are first fitted to (refits start from there)
TEMPLATE_SEED = 20240521


def _root(cov: np.ndarray) -> np.ndarray:
    """A matrix L with L L' = cov (eigen-decomposition: works for singular covariances)."""
    w, V = np.linalg.eigh(cov)
    return V * np.sqrt(np.clip(w, 0.0, None))


def _reduced(formula: str, term: str) -> str:
    lhs, rhs = formula.split("~", 1)
    return f"{lhs.strip()} ~ {rhs.strip()} - {term}"


def _initial_fits(formula: str, rows: pd.DataFrame, response: str, y: np.ndarray,
                  test: str, term: str) -> list[Any]:
    """Fit the model(s) once; replicates refit them (the engine's ``FittedModel.refit``)."""
    data = rows.copy()
    data[response] = y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if test in ("satterthwaite", "kenward-roger"):
            return [lmm(formula, data).model]
        full = lmm(formula, data, reml=False).model
        small = lmm(_reduced(formula, term), data, reml=False).model
    if sorted(small.design.fixed_names) != sorted(n for n in full.design.fixed_names
                                                  if n != term):
        raise ParameterError(
            f"the likelihood-ratio test drops {term!r} from the formula, which must then "
            "lose exactly that coefficient; name a term of the formula (e.g. 'x:arm')"
        )
    return [full, small]


def make_template(spec: SimulationSpec, term: str, test: str, fit: bool = True) -> Template:
    """Build the design matrices of ``spec`` and fit the model once for all replicates.

    With ``fit=False`` the template only draws responses (:func:`simulate_response`): its
    ``models`` stay empty.
    """
    design, rows = design_for(spec.formula, spec.data)
    if term not in design.fixed_names:
        raise ParameterError(f"term {term!r} is not a fixed effect of the model; choose from "
                             f"{design.fixed_names}")
    beta = np.array([spec.fixed[name] for name in design.fixed_names])
    blocks = [(b.Z, b.codes, b.nlevels, _root(spec.covariances[b.group]))
              for b in design.random]
    t = Template(spec.formula, term, design.fixed_names.index(term), test, design.X, beta,
                 blocks, spec.sigma, [])
    if not fit:
        return t
    y0 = simulate_response(t, np.random.default_rng(TEMPLATE_SEED))
    t.models = _initial_fits(spec.formula, rows, design.response, y0, test, term)
    if t.models[0].design.nobs != len(y0):  # the engine must see the rows simulated here
        raise ParameterError("the design rows changed between simulation and fit")
    return t


def simulate_response(t: Template, rng: np.random.Generator) -> np.ndarray:
    """``X beta + Z b + e`` with new random effects and residuals (terms in design order)."""
    y = t.X @ t.beta
    for Z, codes, nlevels, L in t.blocks:
        b = rng.standard_normal((nlevels, L.shape[0])) @ L.T
        y = y + np.einsum("ij,ij->i", Z, b[codes])
    return y + t.sigma * rng.standard_normal(len(y))


def t_test_p(statistic: float, df: float) -> float:
    """Two-sided p value of a t statistic (standard normal where ``df`` is not finite).

    The same numbers as ``Refit.p_values()`` and ``scipy.stats.t.sf`` (both evaluate
    ``scipy.special.stdtr``), for one coefficient and without scipy.stats' per-call argument
    handling, which costs more than a millisecond per replicate on a busy machine.
    """
    if np.isfinite(df):
        return float(2.0 * special.stdtr(df, -abs(statistic)))
    return float(2.0 * special.ndtr(-abs(statistic)))


def fit_replicate(t: Template, y: np.ndarray) -> dict:
    """Refit the model to one simulated response and test ``t.term``.

    The single place where replicates meet the fitting engine: ``FittedModel.refit``, which
    reuses everything that does not depend on the response (design, per-group sufficient
    statistics of X and Z) and starts from the template's estimates. Returns ``estimate, se,
    df, statistic, p, converged, singular``; exceptions propagate to :func:`run_chunk`.
    """
    i = t.index
    if t.test == "kenward-roger":
        r = t.models[0].refit(y, ddf=False)
        kr = kenward_roger(t.models[0], refit=r)
        se, df = float(np.sqrt(kr.vcov[i, i])), kr.df(np.eye(len(r.beta))[i])
        stat = r.beta[i] / se
        return {"estimate": r.beta[i], "se": se, "df": df, "statistic": stat,
                "p": t_test_p(stat, df),
                "converged": bool(r.converged), "singular": bool(r.singular)}
    if t.test == "satterthwaite":
        r = t.models[0].refit(y)
        return {"estimate": r.beta[i], "se": r.se[i], "df": r.df[i],
                "statistic": r.statistic[i], "p": t_test_p(r.statistic[i], r.df[i]),
                "converged": bool(r.converged), "singular": bool(r.singular)}
    full = t.models[0].refit(y, ddf=False)
    small = t.models[1].refit(y, ddf=False)
    chisq = max(0.0, small.deviance - full.deviance)
    dof = len(full.beta) - len(small.beta)
    return {"estimate": full.beta[i], "se": full.se[i], "df": float(dof), "statistic": chisq,
            "p": float(special.chdtrc(dof, chisq)),
            "converged": bool(full.converged and small.converged),
            "singular": bool(full.singular or small.singular)}


def run_chunk(t: Template, seeds: list[int]) -> list[dict]:
    """Simulate and refit one replicate per seed, recording failures instead of raising."""
    out = []
    with threadpool_limits(limits=1):
        for seed in seeds:
            rng = np.random.default_rng(int(seed))
            rec = {"seed": int(seed), "estimate": np.nan, "se": np.nan, "df": np.nan,
                   "statistic": np.nan, "p": np.nan, "converged": False, "singular": False,
                   "warnings": "", "error": ""}
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    rec.update(fit_replicate(t, simulate_response(t, rng)))
                except Exception as exc:  # noqa: BLE001 - every failure is recorded and reported
                    rec["error"] = f"{type(exc).__name__}: {exc}"
            rec["warnings"] = "; ".join(
                dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
            out.append(rec)
    return out
