"""Nearest reference patients on intake variables (Lutz et al. 2006).

Lutz, Lambert, Harmon, Tschitsaz, Schürch & Stulz (2006, Clin Psychol Psychother 13) built each
patient's expected recovery curve from the reference patients most similar at intake instead of
from one model for everybody, and found that these curves predicted treatment failure better
than a rational rule. :func:`nearest_patients` finds those neighbours: Euclidean distance on the
intake variables, each divided by its standard deviation among the reference patients, ties
broken by the order of the reference patients (so the choice is reproducible).

Examples
--------
>>> import numpy as np
>>> ref = np.array([[50.0], [60.0], [70.0], [80.0], [90.0]])
>>> scale = intake_scale(ref)
>>> nearest_patients(ref, scale, np.array([[72.0], [51.0]]), 2).tolist()
[[2, 3], [0, 1]]
"""

from __future__ import annotations

import numpy as np

from alliancestats.errors import DataValidationError, ParameterError

__all__ = ["intake_scale", "nearest_patients"]


def intake_scale(values: np.ndarray) -> np.ndarray:
    """Standard deviation (n - 1) of every intake variable among the reference patients.

    Raises
    ------
    DataValidationError
        A variable that does not vary (distances on it are meaningless).
    """
    sd = np.std(values, axis=0, ddof=1) if values.shape[0] > 1 else np.zeros(values.shape[1])
    if not np.all(np.isfinite(sd) & (sd > 0)):
        raise DataValidationError(
            "expected_response(): an intake variable has no spread among the reference "
            "patients, so nearest neighbours cannot be found on it"
        )
    return sd


def nearest_patients(reference: np.ndarray, scale: np.ndarray, targets: np.ndarray,
                     k: int) -> np.ndarray:
    """Row numbers of the ``k`` reference patients nearest to every target.

    Parameters
    ----------
    reference : ndarray, shape (n, m)
        Intake variables of the reference patients.
    scale : ndarray, shape (m,)
        Standard deviations the variables are divided by.
    targets : ndarray, shape (r, m)
        Intake variables of the patients to match.
    k : int
        Neighbours per target (at most ``n``).

    Returns
    -------
    ndarray of int, shape (r, k)
        Row numbers into ``reference``, nearest first.
    """
    n = reference.shape[0]
    if k > n:
        raise ParameterError(
            f"neighbours={k} but the reference has only {n} patients with scores after intake"
        )
    diff = (targets[:, None, :] - reference[None, :, :]) / scale
    distance = np.sqrt(np.sum(diff**2, axis=2))
    return np.argsort(distance, axis=1, kind="stable")[:, :k]
