"""The reliable-change cut-off used as sudden-gain criterion 1 and as a rupture threshold.

Jacobson & Truax (1991, J Consult Clin Psychol 59(1)): a change between two administrations is
reliable at the 5% level when it exceeds ``1.96 * sqrt(2) * SD * sqrt(1 - r_xx)``, with SD the
standard deviation of the scores at one session (usually pre-treatment) and ``r_xx`` the
reliability of the scale. :func:`rci_cutoff` returns that value with its parts, taking the SD
from scores or as a number and the reliability as a number or, from item responses, as
Cronbach's alpha.

Examples
--------
>>> from alliancestats.alliance.reliable import rci_cutoff
>>> round(rci_cutoff(10.5, 0.961).value, 6)
5.747681
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pingouin

from alliancestats._validation import check_positive, check_real
from alliancestats.errors import DataValidationError, ParameterError

__all__ = ["RciCutoff", "rci_cutoff"]


@dataclass(frozen=True)
class RciCutoff:
    """A reliable-change cut-off and how it was obtained.

    ``float(cutoff)`` is ``cutoff.value``, so the object can stand where a number is expected
    (e.g. ``sudden_gains(..., cutoff=rci_cutoff(...))``).

    Attributes
    ----------
    value : float
        The cut-off, ``z * se_difference``.
    sd : float
        Standard deviation of the scores.
    reliability : float
        Reliability of the scale.
    sem : float
        Standard error of measurement, ``sd * sqrt(1 - reliability)``.
    se_difference : float
        Standard error of a difference of two scores, ``sqrt(2) * sem``.
    z : float
        Critical value (1.96 for 95%).
    sd_source, reliability_source : str
        Where the SD and the reliability came from.
    """

    value: float
    sd: float
    reliability: float
    sem: float
    se_difference: float
    z: float
    sd_source: str
    reliability_source: str

    def __float__(self) -> float:
        return self.value

    def to_series(self) -> pd.Series:
        """The cut-off and its parts as a labelled Series."""
        return pd.Series(
            {
                "cutoff": self.value,
                "sd": self.sd,
                "reliability": self.reliability,
                "sem": self.sem,
                "se_difference": self.se_difference,
                "z": self.z,
            },
            name="reliable change",
        )

    def __repr__(self) -> str:
        return (
            f"RciCutoff(value={self.value:.6g}: {self.z:g} x sqrt(2) x SD {self.sd:.6g} "
            f"({self.sd_source}) x sqrt(1 - {self.reliability:.6g}) ({self.reliability_source}))"
        )


def _sd_from(sd: Any) -> tuple[float, str]:
    if isinstance(sd, (pd.Series, np.ndarray, list, tuple)):
        values = pd.to_numeric(pd.Series(np.asarray(sd, dtype=object).ravel()), errors="coerce")
        bad = values.isna() & pd.Series(np.asarray(sd, dtype=object).ravel()).notna()
        if bad.any():
            raise DataValidationError(
                f"rci_cutoff(): the scores for the SD include {int(bad.sum())} non-numeric "
                f"value(s), e.g. {pd.Series(np.asarray(sd, dtype=object).ravel())[bad].iloc[0]!r}"
            )
        present = values.dropna()
        if len(present) < 2:
            raise DataValidationError(
                f"rci_cutoff(): the SD needs at least two scores, got {len(present)}"
            )
        value = float(present.std(ddof=1))
        if not value > 0:
            raise DataValidationError("rci_cutoff(): the scores have no spread (SD 0)")
        return value, f"SD of {len(present)} scores"
    return check_positive("sd", sd, what="a standard deviation"), "given"


def _reliability_from(reliability: Any) -> tuple[float, str]:
    if isinstance(reliability, pd.DataFrame):
        if reliability.shape[1] < 2:
            raise ParameterError("rci_cutoff(): Cronbach's alpha needs at least two item columns")
        items = reliability.apply(pd.to_numeric, errors="coerce")
        alpha = float(pingouin.cronbach_alpha(items, nan_policy="pairwise")[0])
        return check_real("reliability", alpha, low=0, high=1,
                          what="Cronbach's alpha of the items"), (
            f"Cronbach's alpha of {reliability.shape[1]} items"
        )
    return check_real("reliability", reliability, low=0, high=1, what="a reliability"), "given"


def rci_cutoff(sd: Any, reliability: Any, *, z: float = 1.96) -> RciCutoff:
    """The smallest change that is reliable (Jacobson & Truax 1991).

    Parameters
    ----------
    sd : float or array-like
        The standard deviation of the scores at one session, or those scores (missing values
        are ignored; SD with n - 1), e.g. the baseline scores.
    reliability : float or DataFrame
        The scale's reliability (0-1), or item responses (one column per item, one row per
        administration) whose Cronbach's alpha is used (pairwise deletion of missing
        responses, as R psych's ``alpha``).
    z : float, default 1.96
        Standard-normal quantile (1.96 for 95%).

    Returns
    -------
    RciCutoff
        ``value = z * sqrt(2) * SD * sqrt(1 - reliability)`` with ``sem = SD * sqrt(1 -
        reliability)`` and ``se_difference = sqrt(2) * sem``; ``float(result)`` gives
        ``value``.

    Notes
    -----
    Validated against suddengains 0.7.2's ``define_crit1_cutoff`` test cases (SD of
    ``sgdata``'s ``bdi_s0`` 6.396073 with reliability .931 -> SEM 1.680111, SE of the
    difference 2.376036, cut-off 4.65703; SD 10.5 with .961 -> 2.073584, 2.93249,
    5.747681; to 6 significant digits) and, for Cronbach's alpha, against R psych 2.2.9's
    ``alpha()$total$raw_alpha`` (absolute tolerance 1e-10).

    Examples
    --------
    >>> import alliancestats as als
    >>> sg = als.read_sample("sgdata")
    >>> cut = rci_cutoff(sg["bdi_s0"], 0.931)
    >>> round(cut.sd, 6), round(cut.value, 5)
    (6.396073, 4.65703)
    """
    sd_value, sd_source = _sd_from(sd)
    r_value, r_source = _reliability_from(reliability)
    z = check_positive("z", z)
    sem = sd_value * math.sqrt(1.0 - r_value)
    se_diff = math.sqrt(2.0) * sem
    return RciCutoff(z * se_diff, sd_value, r_value, sem, se_diff, z, sd_source, r_source)
