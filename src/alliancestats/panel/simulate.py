"""Draw session data from a random-intercept cross-lagged panel model with known parameters.

Each patient i has stable levels (random intercepts) for the two variables and, around them,
within-person deviations that follow a bivariate first-order autoregression:

    x_it = mean_x + slope_x (t - 1) + RI_x,i + wx_it
    y_it = mean_y + slope_y (t - 1) + RI_y,i + wy_it
    (wx_it, wy_it)' = Phi (wx_i,t-1, wy_i,t-1)' + (zeta_x,it, zeta_y,it)'
    Phi = [[ar_x, y_to_x], [x_to_y, ar_y]]

with normal random intercepts and innovations (standard deviations and correlations as
given). The first wave's deviations are drawn from the stationary distribution of the
within process (the solution of ``S = Phi S Phi' + Psi``), so every wave has the same
within-person variance. Optional dropout (a constant hazard per session after the first:
later sessions have no record) and values missing completely at random make the data look
like session records. This is the data-generating model of Hamaker, Kuiper & Grasman (2015,
Psychol Methods 20(1)); :func:`alliancestats.riclpm` fitted with equal paths and innovations
is the correct model for it.

Examples
--------
>>> from alliancestats.panel.simulate import simulate_riclpm
>>> df = simulate_riclpm(n_patients=50, n_waves=4, seed=1)
>>> df.columns.tolist(), len(df)
(['patient', 'session', 'alliance', 'symptoms'], 200)
>>> df.attrs["truth"]["x_to_y"]
-4.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import linalg

from alliancestats._validation import (
    check_correlation,
    check_int,
    check_nonnegative,
    check_probability,
    check_real,
)
from alliancestats.errors import ParameterError

__all__ = ["simulate_riclpm"]


def _covariance(sd_a: float, sd_b: float, corr: float) -> np.ndarray:
    return np.array([[sd_a**2, corr * sd_a * sd_b], [corr * sd_a * sd_b, sd_b**2]])


def simulate_riclpm(
    n_patients: int = 300,
    n_waves: int = 8,
    *,
    ar_x: float = 0.3,
    ar_y: float = 0.4,
    x_to_y: float = -4.0,
    y_to_x: float = 0.0,
    mean_x: float = 4.0,
    mean_y: float = 70.0,
    slope_x: float = 0.0,
    slope_y: float = 0.0,
    ri_sd_x: float = 0.45,
    ri_sd_y: float = 15.0,
    ri_corr: float = -0.3,
    innovation_sd_x: float = 0.3,
    innovation_sd_y: float = 8.0,
    innovation_corr: float = -0.2,
    dropout: float = 0.0,
    missing_rate: float = 0.0,
    x: str = "alliance",
    y: str = "symptoms",
    patient: str = "patient",
    session: str = "session",
    seed: Any = None,
) -> pd.DataFrame:
    """Long session data from an RI-CLPM with known parameters.

    Parameters
    ----------
    n_patients, n_waves : int
        Patients and sessions (session numbers 1..n_waves).
    ar_x, ar_y : float
        Within-person autoregressive effects (x on lagged x, y on lagged y).
    x_to_y, y_to_x : float
        Cross-lagged effects: x at the previous session on y (default: one WAI-SR point
        above the patient's usual alliance lowers next-session symptoms by 4 points), and y
        at the previous session on x.
    mean_x, mean_y, slope_x, slope_y : float
        Grand means at session 1 and their change per session.
    ri_sd_x, ri_sd_y, ri_corr : float
        Standard deviations and correlation of the random intercepts (stable patient levels).
    innovation_sd_x, innovation_sd_y, innovation_corr : float
        Standard deviations and correlation of the within-person innovations.
    dropout : float
        Probability of dropping out before each session after the first (no later records).
    missing_rate : float
        Probability that a recorded value is missing (completely at random, per value).
    x, y, patient, session : str
        Column names.
    seed : int or numpy.random.Generator, optional
        Seed of the random draws (the same seed gives the same data).

    Returns
    -------
    pandas.DataFrame
        One row per patient and recorded session: ``patient`` (``"S0001"``...), ``session``,
        ``x``, ``y``. ``df.attrs["truth"]`` holds every parameter plus ``phi`` (the lagged
        effect matrix), ``within_cov`` (stationary within-person covariance) and the column
        names.

    Raises
    ------
    ParameterError
        Invalid arguments, or lagged effects whose within process is not stationary (an
        eigenvalue of ``Phi`` on or outside the unit circle).

    Notes
    -----
    Checked by simulation: the sample moments of 60,000 simulated patients match the moments
    the RI-CLPM implies for the true parameters (within .02 standard deviations), and
    :func:`alliancestats.riclpm` recovers the lagged effects and random-intercept variances
    within four standard errors. Model: Hamaker, Kuiper & Grasman (2015), Psychol Methods
    20(1).

    Examples
    --------
    >>> from alliancestats.panel.simulate import simulate_riclpm
    >>> df = simulate_riclpm(n_patients=200, n_waves=5, dropout=0.1, seed=4)
    >>> int(df.groupby("patient")["session"].max().min()) >= 1
    True
    """
    n = check_int("n_patients", n_patients, 2)
    waves = check_int("n_waves", n_waves, 2)
    values = {name: check_real(name, v) for name, v in (
        ("ar_x", ar_x), ("ar_y", ar_y), ("x_to_y", x_to_y), ("y_to_x", y_to_x),
        ("mean_x", mean_x), ("mean_y", mean_y), ("slope_x", slope_x), ("slope_y", slope_y))}
    sds = {name: check_nonnegative(name, v, "a standard deviation") for name, v in (
        ("ri_sd_x", ri_sd_x), ("ri_sd_y", ri_sd_y), ("innovation_sd_x", innovation_sd_x),
        ("innovation_sd_y", innovation_sd_y))}
    corrs = {name: check_correlation(name, v, allow_bounds=True) for name, v in (
        ("ri_corr", ri_corr), ("innovation_corr", innovation_corr))}
    dropout = check_probability("dropout", dropout)
    missing_rate = check_probability("missing_rate", missing_rate)
    names = [x, y, patient, session]
    if len(set(names)) != 4 or not all(isinstance(v, str) and v for v in names):
        raise ParameterError(f"x, y, patient and session must be four different names: {names}")
    phi = np.array([[values["ar_x"], values["y_to_x"]], [values["x_to_y"], values["ar_y"]]])
    if np.max(np.abs(np.linalg.eigvals(phi))) >= 1:
        raise ParameterError(
            f"the lagged effects are not stationary (eigenvalues of [[ar_x, y_to_x], [x_to_y, "
            f"ar_y]] = {np.round(np.linalg.eigvals(phi), 3).tolist()}); keep their moduli "
            "below 1"
        )
    psi = _covariance(sds["innovation_sd_x"], sds["innovation_sd_y"], corrs["innovation_corr"])
    within_cov = linalg.solve_discrete_lyapunov(phi, psi)
    ri_cov = _covariance(sds["ri_sd_x"], sds["ri_sd_y"], corrs["ri_corr"])
    rng = np.random.default_rng(seed)
    ri = rng.multivariate_normal(np.zeros(2), ri_cov, size=n, method="eigh")
    w = np.empty((n, waves, 2))
    w[:, 0] = rng.multivariate_normal(np.zeros(2), within_cov, size=n, method="eigh")
    for t in range(1, waves):
        w[:, t] = w[:, t - 1] @ phi.T + rng.multivariate_normal(np.zeros(2), psi, size=n,
                                                                 method="eigh")
    t_index = np.arange(waves)
    means = np.column_stack([values["mean_x"] + values["slope_x"] * t_index,
                             values["mean_y"] + values["slope_y"] * t_index])
    scores = means[None, :, :] + ri[:, None, :] + w
    last = np.full(n, waves)
    if dropout > 0:
        leave = rng.random((n, waves - 1)) < dropout
        first_leave = np.where(leave.any(axis=1), leave.argmax(axis=1) + 1, waves)
        last = first_leave
    keep = t_index[None, :] < last[:, None]
    if missing_rate > 0:
        scores[rng.random(scores.shape) < missing_rate] = np.nan
    ids = np.array([f"S{i + 1:04d}" for i in range(n)])
    pid, tid = np.nonzero(keep)
    df = pd.DataFrame({patient: ids[pid], session: tid + 1, x: scores[pid, tid, 0],
                       y: scores[pid, tid, 1]})
    df.attrs["truth"] = {
        **values, **sds, **corrs, "dropout": dropout, "missing_rate": missing_rate,
        "phi": phi.tolist(), "within_cov": within_cov.tolist(), "n_patients": n,
        "n_waves": waves, "x": x, "y": y, "patient": patient, "session": session,
    }
    return df
