"""The reference growth model of an expected-recovery curve, fitted with :func:`lmm`.

    y = b0 + b1 f(t) + b2 intake + b3 f(t) intake + u0 + u1 f(t) + e

(Finch, Lambert & Schaalje 2001, Clin Psychol Psychother 8(4): a growth model on a reference
sample, conditioned on the intake score). :func:`fit_growth` fits it on the modelled rows of a
session frame (:mod:`.sessions`) and returns a :class:`GrowthFit` holding the
:class:`~alliancestats.models.MixedResult` and what the tolerance band needs: the
random-effects covariance ``G`` of ``(u0, u1)``, the residual variance and the covariance of the
fixed effects. Without intake terms (``intake_names=()``) it is the plain growth model fitted
on a patient's nearest neighbours (Lutz et al. 2006, Clin Psychol Psychother 13).

Examples
--------
>>> import alliancestats as als
>>> from alliancestats.monitoring.growth import fit_growth, growth_formula
>>> from alliancestats.monitoring.sessions import IntakeSpec, session_frame
>>> d = als.read_sample("psychotherapy_cohort")
>>> f = session_frame(d, "symptoms", patient="patient", session="session",
...                   intake=IntakeSpec(None), time="log", function="example")
>>> growth_formula(("intake",))
'score ~ time * intake + (time | patient)'
>>> g = fit_growth(f[f["modelled"]], ("intake",), {"intake": 70.0})
>>> g.cov.shape, list(g.result.fixed.index)
((2, 2), ['(Intercept)', 'time', 'intake', 'time:intake'])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alliancestats.errors import DataValidationError
from alliancestats.models import MixedResult, lmm

__all__ = ["GrowthFit", "fit_growth", "growth_formula", "model_frame"]


def growth_formula(intake_names: tuple[str, ...]) -> str:
    """The lme4 formula of the growth model (``intake_names=()``: no intake terms)."""
    if not intake_names:
        return "score ~ time + (time | patient)"
    terms = intake_names[0] if len(intake_names) == 1 else f"({' + '.join(intake_names)})"
    return f"score ~ time * {terms} + (time | patient)"


def model_frame(frame: pd.DataFrame, intake_names: tuple[str, ...],
                centre: Mapping[str, float]) -> pd.DataFrame:
    """Columns the growth model reads: score, patient, time and centred intake variables."""
    out = frame[["score", "patient", "time"]].copy()
    for name in intake_names:
        out[name] = frame[name] - centre[name]
    return out


@dataclass(frozen=True)
class GrowthFit:
    """A fitted growth model and the variances behind its tolerance band.

    Attributes
    ----------
    result : MixedResult
        The :func:`alliancestats.lmm` fit.
    intake_names : tuple of str
        Intake variables in the model (empty for a nearest-neighbour fit).
    centre : dict
        Values subtracted from the intake variables before the fit.
    cov : numpy.ndarray
        2 x 2 covariance of the patient intercept and time slope (``G``).
    sigma2 : float
        Residual variance.
    vbeta : numpy.ndarray
        Covariance of the fixed effects.
    patients : tuple
        Reference patients the model was fitted on.
    """

    result: MixedResult
    intake_names: tuple[str, ...]
    centre: dict[str, float]
    cov: np.ndarray
    sigma2: float
    vbeta: np.ndarray
    patients: tuple

    def frame(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The model's columns for ``rows`` of a session frame."""
        return model_frame(rows, self.intake_names, self.centre)

    def mean(self, rows: pd.DataFrame) -> np.ndarray:
        """Fixed-effects prediction ``X beta`` (the expected curve without updating)."""
        return self.result.model.linear_predictor(self.frame(rows), random=False)

    def fixed_rows(self, rows: pd.DataFrame) -> np.ndarray:
        """Fixed-effects design rows ``X`` for ``rows``."""
        return self.result.model.design.fixed_matrix(self.frame(rows))


def fit_growth(rows: pd.DataFrame, intake_names: tuple[str, ...],
               centre: Mapping[str, float]) -> GrowthFit:
    """Fit the growth model by REML on the modelled rows of a session frame.

    Raises
    ------
    DataValidationError
        Fewer than three patients with a score after intake.
    """
    patients = pd.unique(rows["patient"])
    if len(patients) < 3:
        raise DataValidationError(
            f"expected_response(): the reference has {len(patients)} patient(s) with a score "
            "after intake; a growth model with a patient intercept and time slope needs many "
            "more (reference samples are usually hundreds of patients)"
        )
    centre = {name: float(centre[name]) for name in intake_names}
    fit = lmm(growth_formula(intake_names), model_frame(rows, intake_names, centre))
    term = fit.model.covariances()[0]
    return GrowthFit(
        result=fit,
        intake_names=tuple(intake_names),
        centre=centre,
        cov=np.asarray(term.cov, dtype=float),
        sigma2=float(fit.model.sigma) ** 2,
        vbeta=np.asarray(fit.model.vcov_beta(), dtype=float),
        patients=tuple(patients),
    )
