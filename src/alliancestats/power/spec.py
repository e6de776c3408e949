"""What a power simulation simulates: model, design rows, fixed effects and variance components.

A :class:`SimulationSpec` is built

* from numbers with :func:`simulation_spec` (a formula, design rows, fixed effects, random
  effect SDs and correlations, residual SD),
* for powerlmm's longitudinal trial model with :func:`~alliancestats.power.longitudinal_spec`,
* from a fitted model (its estimates, simr's approach) inside
  :func:`~alliancestats.power.power_simulation`.

The ``nesting`` columns (patient, therapist, session, arm) let
:func:`~alliancestats.power.power_curve` change the design's size the way the data are
nested: more therapists bring their patients and sessions with them.

Examples
--------
>>> import pandas as pd
>>> from alliancestats.power import simulation_spec
>>> rows = pd.DataFrame({"patient": [f"P{i // 4}" for i in range(40)],
...                      "session": [i % 4 for i in range(40)]})
>>> spec = simulation_spec("pain ~ session + (1 | patient)", rows,
...                        fixed={"(Intercept)": 6, "session": -0.3},
...                        random={"patient": {"sd": 1.5}}, sigma=1.0, term="session",
...                        patient="patient", session="session")
>>> spec.sizes()
{'therapists': 0, 'patients': 10, 'sessions': 4}
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import as_frame, check_positive, require_columns
from alliancestats.errors import FormulaError, ParameterError
from alliancestats.models.design import Design, build_design

__all__ = ["Nesting", "SimulationSpec", "design_for", "simulation_spec", "spec_from_fit"]

ALONG = ("n_patients", "n_therapists", "n_sessions")


@dataclass(frozen=True)
class Nesting:
    """Columns holding the patient, therapist, session (time) and arm of each row."""

    patient: str | None = None
    therapist: str | None = None
    session: str | None = None
    arm: str | None = None


@dataclass
class SimulationSpec:
    """A model to simulate from and refit (see :func:`simulation_spec`).

    Attributes
    ----------
    formula : str
        lme4-style model formula; its response is simulated.
    data : pandas.DataFrame
        Design rows (the response column, if present, is ignored).
    fixed : dict
        Fixed-effect coefficient per model-matrix column (R-style names).
    covariances : dict
        Covariance matrix of each random-effects term (keys as ``varcorr["grp"]``).
    sigma : float
        Residual SD.
    term : str or None
        The coefficient whose test is simulated.
    nesting : Nesting
    observed : bool
        The effect of ``term`` was estimated from the very data simulated ("observed power").
    """

    formula: str
    data: pd.DataFrame
    fixed: dict[str, float]
    covariances: dict[str, np.ndarray]
    sigma: float
    term: str | None
    nesting: Nesting = field(default_factory=Nesting)
    observed: bool = False
    builder: Callable[..., SimulationSpec] | None = field(default=None, repr=False)
    design_args: dict[str, Any] | None = field(default=None, repr=False)

    def sizes(self) -> dict[str, int]:
        """Therapists and patients in total and the most sessions of any patient.

        Therapists are 0 without a therapist level; in a partially nested
        :func:`~alliancestats.power.longitudinal_spec` design only treatment-arm therapists
        count.
        """
        n, d = self.nesting, self.data
        sessions = int(d.groupby(n.patient).size().max()) if n.patient else len(d)
        patients = int(d[n.patient].nunique()) if n.patient else len(d)
        therapists = int(d[n.therapist].nunique()) if n.therapist else 0
        if self.design_args is not None and n.therapist and n.arm:
            pn = bool(self.design_args.get("partially_nested"))
            therapists = int(d.loc[d[n.arm] == 1, n.therapist].nunique()) if pn else therapists
        return {"therapists": therapists, "patients": patients, "sessions": sessions}

    def with_effect(self, effect: Mapping[str, float]) -> SimulationSpec:
        """A copy with some fixed effects replaced (simr's ``fixef<-``).

        Parameters
        ----------
        effect : mapping of str to float
            Fixed-effect name to its new value.

        Returns
        -------
        SimulationSpec
            The copy; this specification is unchanged.
        """
        fixed = dict(self.fixed)
        for name, value in effect.items():
            if name not in fixed:
                raise ParameterError(
                    f"effect: {name!r} is not a fixed effect of the model; choose from "
                    f"{sorted(fixed)}"
                )
            if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
                raise ParameterError(f"effect[{name!r}] must be a finite number, got {value!r}")
            fixed[name] = float(value)
        observed = self.observed and (self.term is None or self.term not in effect)
        return replace(self, fixed=fixed, observed=observed)


def design_for(formula: str, data: pd.DataFrame) -> tuple[Design, pd.DataFrame]:
    """Model matrices of ``formula`` on ``data`` (a placeholder response when absent)."""
    lhs = formula.split("~", 1)[0].strip()
    if not lhs.isidentifier():
        raise FormulaError(
            f"the response of a simulated model must be a plain column name, got {lhs!r}"
        )
    frame = data.reset_index(drop=True)
    frame[lhs] = 0.0
    design = build_design(formula, frame)
    return design, frame.loc[design.rows].reset_index(drop=True)


def _covariance(group: str, value: Any, q: int) -> np.ndarray:
    """A q x q covariance matrix from ``{"sd": ..., "cor": ...}`` or a matrix."""
    if isinstance(value, Mapping):
        sd = np.atleast_1d(np.asarray(value.get("sd"), dtype=float))
        if sd.shape != (q,) or not np.all(np.isfinite(sd)) or np.any(sd < 0):
            raise ParameterError(f"random[{group!r}]['sd'] must be {q} non-negative number(s)")
        cor = value.get("cor", 0.0)
        C = np.eye(q)
        if q == 2 and np.ndim(cor) == 0:
            C[0, 1] = C[1, 0] = float(cor)
        elif q > 1:
            C = np.asarray(cor, dtype=float) if np.ndim(cor) == 2 else C
        if C.shape != (q, q) or np.any(np.abs(C) > 1):
            raise ParameterError(f"random[{group!r}]['cor'] must be correlation(s) in [-1, 1]")
        cov = C * np.outer(sd, sd)
    else:
        cov = np.atleast_2d(np.asarray(value, dtype=float))
    if cov.shape != (q, q) or not np.all(np.isfinite(cov)) or not np.allclose(cov, cov.T):
        raise ParameterError(f"random[{group!r}] must be a symmetric {q} x {q} covariance matrix")
    if np.linalg.eigvalsh(cov).min() < -1e-10 * max(1.0, np.abs(cov).max()):
        raise ParameterError(f"random[{group!r}] is not a valid covariance matrix (not PSD)")
    return cov


def _check_nesting(data: pd.DataFrame, nesting: Nesting, function: str) -> None:
    cols = [c for c in (nesting.patient, nesting.therapist, nesting.session, nesting.arm) if c]
    require_columns(data, cols, function)
    if nesting.patient and nesting.therapist:
        per = data.groupby(nesting.patient)[nesting.therapist].nunique()
        if (per > 1).any():
            raise ParameterError(
                f"patients must be nested in therapists: {int((per > 1).sum())} patient(s) "
                f"appear with more than one {nesting.therapist!r}"
            )


def simulation_spec(
    formula: str,
    data: Any,
    *,
    fixed: Mapping[str, float],
    random: Mapping[str, Any],
    sigma: float,
    term: str | None = None,
    patient: str | None = None,
    therapist: str | None = None,
    session: str | None = None,
    arm: str | None = None,
) -> SimulationSpec:
    """Specify a linear mixed model to simulate power for, from numbers.

    Parameters
    ----------
    formula : str
        lme4-style formula, e.g. ``"pain ~ alliance_within + session + (1 + session | patient)
        + (1 | therapist)"``. The response is simulated (it need not be in ``data``).
    data : pandas.DataFrame or SessionData
        Design rows: one per patient-session with the predictors and grouping columns.
    fixed : mapping
        Coefficient of every fixed-effect column (R-style names as in ``lmm(...).fixed``).
    random : mapping
        For every random-effects term (keys as ``varcorr["grp"]``: ``"patient"``,
        ``"therapist"``, ``"patient.1"`` for the second half of a ``||`` term): either
        ``{"sd": [sd_1, ...], "cor": r}`` (``cor`` a number for two effects or a matrix) or
        the covariance matrix itself, in the term's column order.
    sigma : float
        Residual SD.
    term : str, optional
        The coefficient to test (can also be given to ``power_simulation``).
    patient, therapist, session, arm : str, optional
        Columns for :func:`~alliancestats.power.power_curve` (which changes the number of
        patients, therapists or sessions through them) and for balancing arms when it does.

    Returns
    -------
    SimulationSpec

    Raises
    ------
    FormulaError, ParameterError
        A formula the data cannot support, a missing or unknown fixed effect or random term,
        an invalid covariance, or patients not nested in therapists.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"patient": [f"P{i // 5}" for i in range(60)],
    ...                      "session": [i % 5 for i in range(60)]})
    >>> spec = simulation_spec("y ~ session + (1 + session | patient)", rows,
    ...                        fixed={"(Intercept)": 0, "session": 0.2},
    ...                        random={"patient": {"sd": [1.0, 0.2], "cor": -0.3}}, sigma=1,
    ...                        term="session", patient="patient", session="session")
    >>> spec.covariances["patient"].round(3).tolist()
    [[1.0, -0.06], [-0.06, 0.04]]
    """
    frame = as_frame(data, "simulation_spec")
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError(f"formula must be a string like 'y ~ x + (1 | g)', got {formula!r}")
    design, rows = design_for(formula, frame)
    missing = [n for n in design.fixed_names if n not in fixed]
    unknown = [n for n in fixed if n not in design.fixed_names]
    if missing or unknown:
        raise ParameterError(
            f"fixed must give exactly the model's coefficients {design.fixed_names}; "
            f"missing {missing}, unknown {unknown}"
        )
    groups = [b.group for b in design.random]
    if sorted(random) != sorted(groups):
        raise ParameterError(f"random must give the terms {groups}, got {sorted(random)}")
    covs = {b.group: _covariance(b.group, random[b.group], b.q) for b in design.random}
    nest = Nesting(patient, therapist, session, arm)
    _check_nesting(rows, nest, "simulation_spec")
    if term is not None and term not in design.fixed_names:
        raise ParameterError(f"term {term!r} is not a fixed effect; choose from "
                             f"{design.fixed_names}")
    return SimulationSpec(formula, rows, {k: float(fixed[k]) for k in design.fixed_names}, covs,
                          check_positive("sigma", sigma, what="the residual SD"), term, nest)


def _infer_nesting(design: Design) -> Nesting:
    """Patient = the grouping factor with most levels; therapist = a factor it nests in."""
    factors = {}
    for b in design.random:
        if len(b.group_vars) == 1:
            factors[b.group_vars[0]] = b
    if not factors:
        return Nesting()
    data = design.data
    ordered = sorted(factors, key=lambda g: -factors[g].nlevels)
    patient, therapist = ordered[0], None
    for g in ordered[1:]:
        if (data.groupby(patient)[g].nunique() == 1).all():
            therapist = g
            break
    slopes = [c for c in factors[patient].colnames if c in data.columns]
    session = slopes[0] if slopes else None
    return Nesting(patient, therapist, session, None)


def spec_from_fit(fit: Any, term: str | None = None) -> SimulationSpec:
    """The specification a fitted linear mixed model implies (its estimates; simr's default)."""
    design = getattr(getattr(fit, "model", None), "design", None) or getattr(fit, "design", None)
    if design is None or getattr(fit, "family", "gaussian") != "gaussian":
        raise ParameterError("power simulation from a fit needs a linear mixed model from lmm()")
    vc = fit.varcorr
    covs = {}
    for b in design.random:
        rows = vc[vc["grp"] == b.group]
        cov = np.zeros((b.q, b.q))
        index = {name: i for i, name in enumerate(b.colnames)}
        for r in rows.itertuples():
            i = index[r.var1]
            j = i if pd.isna(r.var2) else index[r.var2]
            cov[i, j] = cov[j, i] = r.vcov
        covs[b.group] = cov
    fixed = {str(k): float(v) for k, v in fit.fixed["estimate"].items()}
    data = design.data.reset_index(drop=True)
    return SimulationSpec(fit.formula, data, fixed, covs, float(fit.sigma), term,
                          _infer_nesting(design), observed=True)
