"""Monotone dropout processes for longitudinal power analysis.

A dropout process gives, for each planned session, the proportion of patients who have left
the study by then (0 at the first session, never decreasing, always below 1). Patients who
drop out miss that session and every later one; intermittent missing sessions are not
modelled (as in powerlmm).

* :func:`weibull_dropout` -- a Weibull-shaped process fixed by the total proportion lost by
  the last session and a shape (``rate``): below 1 most dropout happens early, above 1 late
  (Galbraith & Marschner 2002, Control Clin Trials 23(3)).
* :func:`manual_dropout` -- the proportions per session given directly.

:func:`dropout_counts` turns a process into whole numbers of patients of an arm who stay for
exactly ``k`` sessions, with powerlmm's rounding rule, so that analytic power reproduces
powerlmm 0.4.0 exactly.

Examples
--------
>>> import numpy as np
>>> from alliancestats.power import weibull_dropout
>>> d = weibull_dropout(0.3, 0.5)
>>> np.round(100 * d.proportions(np.arange(11))).astype(int).tolist()
[0, 11, 15, 18, 20, 22, 24, 26, 27, 29, 30]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alliancestats._validation import check_positive, check_real
from alliancestats.errors import ParameterError

__all__ = [
    "DropoutProcess",
    "ManualDropout",
    "WeibullDropout",
    "dropout_counts",
    "manual_dropout",
    "weibull_dropout",
]


class DropoutProcess:
    """Base class: a monotone dropout process (see :func:`weibull_dropout`)."""

    def proportions(self, time: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        """Cumulative proportion of patients lost by each time point."""
        raise NotImplementedError

    def label(self) -> str:  # pragma: no cover - abstract
        """A short human-readable description."""
        raise NotImplementedError


@dataclass(frozen=True)
class WeibullDropout(DropoutProcess):
    """Weibull dropout: ``1 - (1 - proportion) ** ((t / t_max) ** rate)``."""

    proportion: float
    rate: float

    def proportions(self, time: np.ndarray) -> np.ndarray:
        """Cumulative proportion lost by each time in ``time`` (relative to its maximum)."""
        t = np.asarray(time, dtype=float)
        rel = t / t.max()
        return 1.0 - (1.0 - self.proportion) ** (rel**self.rate)

    def label(self) -> str:
        """Description used in summaries."""
        return f"Weibull (proportion {self.proportion:g}, rate {self.rate:g})"


@dataclass(frozen=True)
class ManualDropout(DropoutProcess):
    """Dropout proportions given per session."""

    values: tuple[float, ...]

    def proportions(self, time: np.ndarray) -> np.ndarray:
        """The given proportions; their number must match the number of sessions."""
        t = np.asarray(time)
        if len(self.values) != len(t):
            raise ParameterError(
                f"manual_dropout has {len(self.values)} proportions but the design has "
                f"{len(t)} sessions; give one proportion per session"
            )
        return np.asarray(self.values, dtype=float)

    def label(self) -> str:
        """Description used in summaries."""
        return "manual (" + ", ".join(f"{v:g}" for v in self.values) + ")"


def weibull_dropout(proportion: float, rate: float) -> WeibullDropout:
    """A Weibull-shaped dropout process.

    Parameters
    ----------
    proportion : float
        Proportion of patients lost by the last session, in [0, 1).
    rate : float
        Shape (> 0). Below 1 dropout is concentrated early in treatment, above 1 late; 1 is
        a constant hazard (which does not make dropout linear in time).

    Returns
    -------
    WeibullDropout
        ``proportions(time)`` gives the cumulative proportion lost at each time point:
        ``1 - (1 - proportion) ** ((t / max(t)) ** rate)``.

    Raises
    ------
    ParameterError
        ``proportion`` outside [0, 1) or ``rate`` not positive.

    Notes
    -----
    The parameterisation is powerlmm's ``dropout_weibull`` (Magnusson, powerlmm 0.4.0),
    after Galbraith & Marschner (2002, Control Clin Trials 23(3)). Validated: with
    proportion .3 and rate 1/2 over sessions 0..10 the rounded percentages are powerlmm's
    0, 11, 15, 18, 20, 22, 24, 26, 27, 29, 30 (exact to the printed digit).

    Examples
    --------
    >>> import numpy as np
    >>> d = weibull_dropout(0.3, 2)
    >>> float(d.proportions(np.arange(11))[-1])
    0.3
    """
    p = check_real("proportion", proportion, low=0, high=1, high_open=True,
                   what="the proportion lost by the last session")
    r = check_positive("rate", rate, what="the Weibull shape")
    return WeibullDropout(p, r)


def manual_dropout(values: Sequence[float]) -> ManualDropout:
    """Dropout proportions given for every session.

    Parameters
    ----------
    values : sequence of float
        Cumulative proportion of patients lost by each session: 0 at the first session, never
        decreasing, each in [0, 1). One value per session of the design.

    Returns
    -------
    ManualDropout

    Raises
    ------
    ParameterError
        A value outside [0, 1), a non-zero first value or a decrease.

    Notes
    -----
    Same rules as powerlmm's ``dropout_manual`` (powerlmm 0.4.0).

    Examples
    --------
    >>> manual_dropout([0, 0, 0.1, 0.2, 0.2]).values
    (0.0, 0.0, 0.1, 0.2, 0.2)
    """
    if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray):
        raise ParameterError(f"values must be a list of proportions, got {values!r}")
    vals = tuple(
        check_real(f"values[{i}]", v, low=0, high=1, high_open=True, what="a dropout proportion")
        for i, v in enumerate(values)
    )
    if len(vals) < 2:
        raise ParameterError("manual_dropout needs one proportion per session (at least 2)")
    if vals[0] != 0:
        raise ParameterError(f"dropout must be 0 at the first session, got {vals[0]:g}")
    if any(b < a for a, b in zip(vals, vals[1:], strict=False)):
        raise ParameterError("dropout proportions cannot decrease over sessions")
    return ManualDropout(vals)


def dropout_counts(process: DropoutProcess | None, time: np.ndarray, n: int) -> np.ndarray:
    """Number of an arm's ``n`` patients observed at exactly ``k`` sessions, ``k = 1..len(time)``.

    Patients leave in whole numbers: at session ``i`` the number leaving is
    ``round(still_in - retention[i] * n)`` with R's round-half-to-even, the rule of
    powerlmm's deterministic dropout (``deterministic_dropout = TRUE``).

    Examples
    --------
    >>> import numpy as np
    >>> dropout_counts(weibull_dropout(0.3, 0.5), np.arange(11), 25).tolist()
    [3, 1, 0, 1, 1, 0, 0, 1, 0, 0, 18]
    """
    n_times = len(time)
    counts = np.zeros(n_times, dtype=int)
    if process is None:
        counts[-1] = n
        return counts
    retention = 1.0 - process.proportions(time)
    remaining = n
    for i, r in enumerate(retention):
        leaving = max(0, round(remaining - r * n))
        if leaving and i == 0:
            raise ParameterError("dropout must be 0 at the first session")
        if leaving:
            counts[i - 1] += leaving  # observed at sessions 0..i-1
            remaining -= leaving
    counts[-1] += remaining
    return counts
