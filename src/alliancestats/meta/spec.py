"""The stored specification of a meta-analytic model: data, design and settings.

:func:`alliancestats.meta.meta_analysis` prepares a :class:`ModelSpec` from the user's table
and fits it; the :class:`~alliancestats.meta.MetaResult` keeps the specification, so that
refits on subsets (leave-one-out, cumulative, subgroups), with other settings (another τ²
estimator, fixed variance components for profiles and likelihood-ratio tests) and
profile-likelihood intervals all go through :meth:`ModelSpec.fit`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import MetaAnalysisError, RankDeficiencyWarning
from alliancestats.meta.engine import fit_spec
from alliancestats.meta.profile import profile_intervals
from alliancestats.meta.random_effects import RandomSpec

__all__ = ["ModelSpec"]

_CHANGEABLE = ("yi", "vi", "method", "test", "level", "tau2", "sigma2", "weights", "fixed")


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """Everything needed to fit one meta-analytic model (internal; built by ``meta_analysis``).

    Attributes
    ----------
    yi, vi : ndarray
        Effect sizes and sampling variances (the diagonal of ``V`` when ``V`` is given).
    X, mod_names : ndarray, tuple of str
        Fixed-effects design and its column names.
    labels, data : pandas.Index, pandas.DataFrame
        Study labels and the analysed rows.
    method, test, level, measure : str, str, float, str
        Estimator, test (``z``, ``t``, ``knha``, ``adhoc``), confidence level in percent and
        effect-size measure.
    tau2 : float or None
        Fixed τ² of a univariate model.
    V : ndarray or None
        Full sampling covariance matrix (multivariate models).
    weights : ndarray or None
        User weights for the fixed effects (metafor ``weights=`` / ``W=``).
    random, random_data : RandomSpec, DataFrame or None
        Random-effects structure and the grouping columns it uses.
    sigma2 : tuple or None
        Fixed values (``None`` = estimate) of the random-intercept components.
    fixed : dict
        Fixed values of any variance parameter by position (profiles).
    robust, cluster, robust_type : str, ndarray, str
        Cluster-robust inference: cluster column name, cluster values, ``CR0/CR1/CR2``.
    control : dict
        Convergence settings (``threshold``, ``maxiter``).
    """

    yi: np.ndarray
    vi: np.ndarray
    X: np.ndarray
    mod_names: tuple[str, ...]
    labels: pd.Index
    data: pd.DataFrame
    method: str = "REML"
    test: str = "z"
    level: float = 95.0
    measure: str = "GEN"
    tau2: float | None = None
    V: np.ndarray | None = None
    weights: np.ndarray | None = None
    random: RandomSpec | None = None
    random_data: pd.DataFrame | None = None
    sigma2: tuple[float | None, ...] | None = None
    fixed: dict[int, float] = field(default_factory=dict)
    robust: str | None = None
    cluster: np.ndarray | None = None
    robust_type: str = "CR2"
    control: dict[str, Any] = field(default_factory=dict)

    @property
    def k(self) -> int:
        return len(self.yi)

    @property
    def multilevel(self) -> bool:
        """Whether the multilevel/multivariate engine fits this model."""
        if self.random is not None:
            return True
        return self.V is not None and bool(np.any(self.V - np.diag(np.diag(self.V))))

    def positions(self, subset: Any) -> np.ndarray:
        """Validated positions of the studies selected by a boolean mask or integer positions."""
        sub = np.asarray(subset)
        if sub.dtype == bool:
            if sub.shape != (self.k,):
                raise MetaAnalysisError(f"subset mask must have length k = {self.k}.")
            return np.flatnonzero(sub)
        if sub.size and not np.issubdtype(sub.dtype, np.integer):
            raise MetaAnalysisError(
                "subset must be a boolean mask of length k or integer positions."
            )
        keep = sub.astype(int).ravel()
        if keep.size and (keep.min() < -self.k or keep.max() >= self.k):
            raise MetaAnalysisError(
                f"subset positions must lie between 0 and k - 1 = {self.k - 1}."
            )
        return keep

    def subset(self, subset: Any) -> ModelSpec:
        """The same model on a subset of studies (constant-zero moderator columns dropped)."""
        keep = self.positions(subset)
        X = self.X[keep]
        names = list(self.mod_names)
        nonzero = np.any(X != 0, axis=0)
        if not nonzero.all():
            warnings.warn(
                "Moderator columns without variation in the subset were dropped: "
                + ", ".join(n for n, z in zip(names, nonzero, strict=True) if not z),
                RankDeficiencyWarning,
                stacklevel=3,
            )
            X = X[:, nonzero]
            names = [n for n, z in zip(names, nonzero, strict=True) if z]

        def rows(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[keep]

        return replace(
            self,
            yi=self.yi[keep],
            vi=self.vi[keep],
            X=X,
            mod_names=tuple(names),
            labels=self.labels[keep],
            data=self.data.iloc[keep].reset_index(drop=True),
            V=None if self.V is None else self.V[np.ix_(keep, keep)],
            weights=rows(self.weights),
            random_data=None if self.random_data is None else self.random_data.iloc[keep],
            cluster=rows(self.cluster),
        )

    def with_changes(self, **changes: Any) -> ModelSpec:
        """The same model with other settings (``yi``, ``vi``, ``method``, ``test``, ...)."""
        unknown = set(changes) - set(_CHANGEABLE)
        if unknown:
            raise MetaAnalysisError(
                f"refit() cannot change {sorted(unknown)}; allowed: {sorted(_CHANGEABLE)}."
            )
        for name in ("yi", "vi", "weights"):
            if changes.get(name) is not None:
                values = np.asarray(changes[name], dtype=float)
                if values.shape != (self.k,):
                    raise MetaAnalysisError(
                        f"refit(): new {name} must have one value per study (k = {self.k})."
                    )
                changes[name] = values
        if "vi" in changes and self.V is not None:
            raise MetaAnalysisError("refit(): change V, not vi, in a model with a full V matrix.")
        if "method" in changes:
            changes["method"] = str(changes["method"]).upper()
        if "test" in changes:
            changes["test"] = str(changes["test"]).lower()
        if "sigma2" in changes and changes["sigma2"] is not None:
            changes["sigma2"] = tuple(changes["sigma2"])
        return replace(self, **changes)

    def fit(self) -> Any:
        """Fit the model; returns a :class:`~alliancestats.meta.MetaResult`."""
        return fit_spec(self)

    def profile_intervals(self, result: Any, level: float) -> pd.DataFrame:
        """Profile-likelihood intervals of the variance parameters of ``result``."""
        return profile_intervals(self, result, level)
