"""One simulation replicate: draw a response from a specification and refit the model.

Everything that depends on the model-fitting engine is in :func:`fit_replicate`; the rest
(simulating responses, looping over a chunk of seeds) only needs the design matrices.
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

import numpy as np
import pandas as pd
from scipy import stats
from threadpoolctl import threadpool_limits

from alliancestats.errors import ParameterError
from alliancestats.models import lmm
from alliancestats.power.spec import SimulationSpec, design_for

__all__ = ["TESTS", "Template", "fit_replicate", "make_template", "run_chunk",
           "simulate_response"]

TESTS = ("satterthwaite", "lrt")


@dataclass
class Template:
    """What every replicate of one design point shares (pickled once per worker task)."""

    formula: str
    reduced_formula: str | None
    data: pd.DataFrame
    response: str
    term: str
    test: str
    X: np.ndarray
    beta: np.ndarray
    blocks: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]]
    sigma: float


def _root(cov: np.ndarray) -> np.ndarray:
    """A matrix L with L L' = cov (eigen-decomposition: works for singular covariances)."""
    w, V = np.linalg.eigh(cov)
    return V * np.sqrt(np.clip(w, 0.0, None))


def _reduced(formula: str, term: str) -> str:
    lhs, rhs = formula.split("~", 1)
    return f"{lhs.strip()} ~ {rhs.strip()} - {term}"


def make_template(spec: SimulationSpec, term: str, test: str) -> Template:
    """Build the design matrices of ``spec`` once for all replicates."""
    design, rows = design_for(spec.formula, spec.data)
    if term not in design.fixed_names:
        raise ParameterError(f"term {term!r} is not a fixed effect of the model; choose from "
                             f"{design.fixed_names}")
    beta = np.array([spec.fixed[name] for name in design.fixed_names])
    blocks = [(b.Z, b.codes, b.nlevels, _root(spec.covariances[b.group]))
              for b in design.random]
    reduced = None
    if test == "lrt":
        reduced = _reduced(spec.formula, term)
        small, _ = design_for(reduced, spec.data)
        if sorted(small.fixed_names) != sorted(n for n in design.fixed_names if n != term):
            raise ParameterError(
                f"the likelihood-ratio test drops {term!r} from the formula, which must then "
                "lose exactly that coefficient; name a term of the formula (e.g. 'x:arm')"
            )
    return Template(spec.formula, reduced, rows, design.response, term, test, design.X, beta,
                    blocks, spec.sigma)


def simulate_response(t: Template, rng: np.random.Generator) -> np.ndarray:
    """``X beta + Z b + e`` with new random effects and residuals (terms in design order)."""
    y = t.X @ t.beta
    for Z, codes, nlevels, L in t.blocks:
        b = rng.standard_normal((nlevels, L.shape[0])) @ L.T
        y = y + np.einsum("ij,ij->i", Z, b[codes])
    return y + t.sigma * rng.standard_normal(len(y))


def _fit(formula: str, data: pd.DataFrame, reml: bool):
    return lmm(formula, data, reml=reml)


def fit_replicate(t: Template, y: np.ndarray) -> dict:
    """Refit the model to one simulated response and test ``t.term``.

    The single place where the fitting engine is called (now ``alliancestats.lmm`` on a copy
    of the design rows). Returns ``estimate, se, df, statistic, p, converged, singular,
    warnings``; exceptions propagate to :func:`run_chunk`, which records them.
    """
    data = t.data.copy()
    data[t.response] = y
    if t.test == "satterthwaite":
        fit = _fit(t.formula, data, reml=True)
        row = fit.fixed.loc[t.term]
        return {"estimate": row["estimate"], "se": row["se"], "df": row["df"],
                "statistic": row["t"], "p": row["p"], "converged": bool(fit.converged),
                "singular": bool(fit.singular)}
    full = _fit(t.formula, data, reml=False)
    small = _fit(t.reduced_formula, data, reml=False)
    chisq = max(0.0, 2.0 * (full.loglik - small.loglik))
    dof = len(full.fixed) - len(small.fixed)
    row = full.fixed.loc[t.term]
    return {"estimate": row["estimate"], "se": row["se"], "df": float(dof), "statistic": chisq,
            "p": float(stats.chi2.sf(chisq, dof)),
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
