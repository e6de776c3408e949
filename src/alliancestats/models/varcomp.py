"""Variance components of a fitted mixed model, reported as lme4 reports them.

One layer for both engines: the ``varcorr`` frame (lme4's ``as.data.frame(VarCorr(fit))``),
the transform between θ and standard deviations / correlations with lme4's ``confint``
names, the merging of the terms that ``(1 + x || g)`` splits apart (``ranef`` and
``ngroups``), the singularity test and the Wald table of variance parameters.

The residual scale ``sigma`` multiplies every covariance (LMM); GLMMs without a scale
parameter pass ``sigma = 1`` and ``residual=False``.

Examples
--------
>>> import numpy as np
>>> from alliancestats.models.covariance import ThetaLayout
>>> lay = ThetaLayout.from_sizes([2])
>>> phi = theta_to_sdcor(lay, np.array([1.0, 0.0, 1.0]), 2.0)
>>> phi.tolist()
[2.0, 0.0, 2.0, 2.0]
>>> th, s = sdcor_to_theta(lay, phi)
>>> th.tolist(), s
([1.0, 0.0, 1.0], 2.0)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.models.covariance import ThetaLayout
from alliancestats.models.design import RandomBlock
from alliancestats.models.fitted import TermCovariance

__all__ = [
    "SINGULAR_TOL",
    "merge_uncorrelated",
    "ngroups",
    "sdcor_names",
    "sdcor_to_theta",
    "term_covariance_list",
    "term_covariances",
    "theta_to_sdcor",
    "varcorr_frame",
    "wald_table",
]

SINGULAR_TOL = 1e-4  # lme4's isSingular default tolerance on the diagonal of theta


def term_covariances(layout: ThetaLayout, theta: np.ndarray, sigma: float) -> list[np.ndarray]:
    """``sigma^2 T_k T_k'`` for every term."""
    return [sigma**2 * (T @ T.T) for T in layout.factors(theta)]


def term_covariance_list(blocks: Sequence[RandomBlock], covs: Sequence[np.ndarray]) -> list:
    """:class:`~alliancestats.models.fitted.TermCovariance` records for every term."""
    return [
        TermCovariance(b.group, ":".join(b.label_vars), tuple(b.colnames), c, k)
        for k, (b, c) in enumerate(zip(blocks, covs, strict=True))
    ]


def varcorr_frame(
    blocks: Sequence[RandomBlock],
    covs: Sequence[np.ndarray],
    sigma: float,
    *,
    residual: bool = True,
) -> pd.DataFrame:
    """lme4's ``as.data.frame(VarCorr(fit))``: ``grp, var1, var2, vcov, sdcor``.

    Variances and SDs on rows with ``var2`` missing, covariances and correlations where it is
    set (NaN correlation when an SD is zero), then the residual row (LMM).
    """
    rows = []
    for b, cov in zip(blocks, covs, strict=True):
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        for i, name in enumerate(b.colnames):
            rows.append((b.group, name, None, cov[i, i], sd[i]))
        for i in range(b.q):
            for j in range(i + 1, b.q):
                denom = sd[i] * sd[j]
                corr = cov[i, j] / denom if denom > 0 else np.nan
                rows.append((b.group, b.colnames[i], b.colnames[j], cov[i, j], corr))
    if residual:
        rows.append(("Residual", None, None, sigma**2, sigma))
    out = pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])
    return out.astype({"grp": object, "var1": object, "var2": object})


def _merge_key(b: RandomBlock) -> tuple:
    return tuple(b.label_vars)


def merge_uncorrelated(
    blocks: Sequence[RandomBlock], frames: dict[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """Join the terms that ``(1 + x || g)`` split apart into one frame per factor.

    lme4's ``ranef`` shows one frame ``g`` with every effect; ``varcorr`` and ``cond_var``
    keep lme4's separate ``g``, ``g.1`` entries.
    """
    out: dict[str, pd.DataFrame] = {}
    owner: dict[tuple, str] = {}
    for b in blocks:
        key = _merge_key(b)
        if key in owner:
            first = owner[key]
            out[first] = pd.concat([out[first], frames[b.group]], axis=1)
        else:
            owner.setdefault(key, b.group)
            out[b.group] = frames[b.group]
    return out


def ngroups(blocks: Sequence[RandomBlock]) -> dict[str, int]:
    """Number of levels per grouping factor, split ``||`` terms counted once (as lme4)."""
    out: dict[str, int] = {}
    owner: dict[tuple, str] = {}
    for b in blocks:
        key = _merge_key(b)
        if key in owner:
            continue
        owner.setdefault(key, b.group)
        out[b.group] = b.nlevels
    return out


def sdcor_names(blocks: Sequence[RandomBlock], layout: ThetaLayout, *, residual: bool = True):
    """lme4's ``confint(oldNames = FALSE)`` names of the variance parameters.

    For each term the lower triangle column by column (``sd_x|g`` on the diagonal,
    ``cor_y.x|g`` below it), then ``sigma`` (LMM).
    """
    names = []
    for b, r_idx, c_idx in zip(blocks, layout.rows, layout.cols, strict=True):
        for r, c in zip(r_idx, c_idx, strict=True):
            if r == c:
                names.append(f"sd_{b.colnames[r]}|{b.group}")
            else:
                names.append(f"cor_{b.colnames[r]}.{b.colnames[c]}|{b.group}")
    if residual:
        names.append("sigma")
    return names


def theta_to_sdcor(
    layout: ThetaLayout, theta: np.ndarray, sigma: float, *, residual: bool = True
) -> np.ndarray:
    """SDs and correlations (``phi``) in :func:`sdcor_names` order from θ and sigma."""
    vals = []
    for T, r_idx, c_idx in zip(layout.factors(theta), layout.rows, layout.cols, strict=True):
        cov = sigma**2 * (T @ T.T)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        for r, c in zip(r_idx, c_idx, strict=True):
            if r == c:
                vals.append(sd[r])
            else:
                vals.append(cov[r, c] / (sd[r] * sd[c]) if sd[r] * sd[c] > 0 else 0.0)
    if residual:
        vals.append(sigma)
    return np.array(vals)


def sdcor_to_theta(
    layout: ThetaLayout, phi: np.ndarray, *, sigma: float | None = None
) -> tuple[np.ndarray, float]:
    """θ and sigma from SDs and correlations (the inverse of :func:`theta_to_sdcor`).

    ``phi`` ends with sigma unless ``sigma`` is given (GLMMs: ``sigma=1``).
    """
    if sigma is None:
        sigma = float(phi[-1])
    theta = []
    for q, off, r_idx, c_idx in zip(
        layout.sizes, layout.offsets, layout.rows, layout.cols, strict=True
    ):
        sd = np.zeros(q)
        R = np.eye(q)
        for k, (r, c) in enumerate(zip(r_idx, c_idx, strict=True)):
            if r == c:
                sd[r] = phi[off + k]
            else:
                R[r, c] = R[c, r] = phi[off + k]
        # chol(D R D) = D chol(R): factor the correlation matrix so that SDs of very
        # different sizes (a slope per second next to an intercept) keep full precision
        try:
            L = (sd / sigma)[:, None] * np.linalg.cholesky(R + 1e-12 * np.eye(q))
        except np.linalg.LinAlgError:
            L = np.diag(np.clip(sd, 0, None) / sigma)
        theta.extend(L[r_idx, c_idx])
    return np.array(theta), float(sigma)


def sd_mask(names: Sequence[str]) -> np.ndarray:
    """True for SDs (and sigma), False for correlations."""
    return np.array([n.startswith("sd_") or n == "sigma" for n in names])


def wald_table(phi: np.ndarray, se: np.ndarray, names: list[str], level: float) -> pd.DataFrame:
    """Wald intervals of SDs (bounded below by 0) and correlations (bounded to [-1, 1])."""
    is_sd = sd_mask(names)
    z = stats.norm.ppf(0.5 + level / 2)
    lo = np.where(is_sd, np.maximum(phi - z * se, 0.0), np.maximum(phi - z * se, -1.0))
    hi = np.where(is_sd, phi + z * se, np.minimum(phi + z * se, 1.0))
    return pd.DataFrame({"estimate": phi, "ci_low": lo, "ci_high": hi}, index=names)
