"""Random-effects and common-effect meta-analysis: :func:`meta_analysis` and :class:`MetaResult`.

The univariate model is ``y_i = x_i'β + u_i + e_i`` with ``u_i ~ N(0, τ²)`` and
``e_i ~ N(0, v_i)`` (Viechtbauer 2010, J Stat Softw 36(3)); ``random=`` switches to the
three-level model of :mod:`alliancestats.meta.multilevel`.
"""

from __future__ import annotations

import numbers
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import (
    DataQualityWarning,
    DroppedRowsWarning,
    MetaAnalysisError,
    RankDeficiencyWarning,
)
from alliancestats.meta._inputs import numeric_input
from alliancestats.meta.heterogeneity import (
    TAU2_METHODS,
    Tau2Fit,
    estimate_tau2,
    generalized_q,
    loglik_uni,
    q_profile_tau2_ci,
    typical_within_variance,
)
from alliancestats.models.formula_eval import safe_model_matrix

__all__ = ["MetaResult", "meta_analysis"]

_TESTS = ("z", "knha", "t")


@dataclass(eq=False, repr=False)
class MetaResult:
    """Fitted meta-analytic model (univariate, meta-regression or three-level).

    Attributes
    ----------
    estimate, se, ci_low, ci_high : float
        Pooled effect (the intercept of a meta-regression) with its standard error and
        confidence interval, on the analysis scale (e.g. Fisher z for ``measure="ZCOR"``).
    pi_low, pi_high : float
        Prediction interval for the true effect in a new study (intercept-only models;
        ``nan`` with moderators — use :meth:`predict`).
    tau2, i2, h2 : float
        Between-study variance, I² (percent) and H². For three-level models ``tau2`` is the
        sum of the variance components and ``i2`` the total I² (see ``sigma2`` and ``i2_levels``).
    q, q_p : float
        Cochran's Q (residual Q_E with moderators) and its p value; ``qe``, ``qe_p`` alias them.
    qm, qm_p, qm_df : float, float, tuple
        Omnibus test of the moderators (chi-square, or F with ``test="knha"``); ``nan`` without
        moderators.
    r2 : float
        Pseudo-R² (percent) of a meta-regression, ``(τ²_RE − τ²) / τ²_RE`` as metafor.
    k, p : int
        Number of effect sizes and of fixed coefficients.
    table : pandas.DataFrame
        One row per coefficient (index ``term``; ``(Intercept)`` first) with columns
        ``estimate, se, z`` (``t`` under Knapp–Hartung or robust tests)``, df, p, ci_low, ci_high``.
    yi, vi, weights, fitted, residuals : ndarray
        Data and per-study quantities; ``weights`` are percentages summing to 100.
    X : ndarray
        Design matrix including the intercept column; ``mod_names`` its column names.
    labels : pandas.Index
        Study labels.
    method, test, level, measure : str, str, float, str
        Estimation settings; ``measure`` ("ZCOR", "COR", "RR", "GEN", ...) tells reports and
        plots how to back-transform.
    data : pandas.DataFrame
        The analysed rows: ``yi``, ``vi`` plus the user's other columns.
    sigma2, i2_levels : ndarray or None
        Three-level models: variance components (between clusters, within clusters) and
        level-specific I² (Cheung 2014).
    subgroups : pandas.DataFrame or None
        Per-subgroup fits when ``subgroup=`` was given; ``q_between``, ``q_between_df``,
        ``q_between_p`` hold the between-groups test.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.03, 0.03, 0.05, 0.01, 0.05, 0.02], method="DL")
    >>> round(res.estimate, 4), round(res.tau2, 4), res.k
    (0.3442, 0.0398, 6)
    >>> res.table.columns.tolist()
    ['estimate', 'se', 'z', 'df', 'p', 'ci_low', 'ci_high']
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    i2: float
    h2: float
    q: float
    q_p: float
    k: int
    p: int
    table: pd.DataFrame
    qm: float
    qm_p: float
    qm_df: tuple[float, float]
    r2: float
    yi: np.ndarray
    vi: np.ndarray
    labels: pd.Index
    X: np.ndarray
    mod_names: list[str]
    weights: np.ndarray
    method: str
    test: str
    level: float
    measure: str
    fitted: np.ndarray
    residuals: np.ndarray
    data: pd.DataFrame
    beta: np.ndarray
    vcov: pd.DataFrame
    df: float
    se_tau2: float = float("nan")
    vt: float = float("nan")
    loglik: float = float("nan")
    fit_stats: pd.DataFrame | None = None
    tau2_fixed: float | None = None
    converged: bool = True
    iterations: int = 0
    sigma2: np.ndarray | None = None
    i2_levels: np.ndarray | None = None
    random: tuple[str, ...] | None = None
    groups: np.ndarray | None = None
    n_groups: tuple[int, ...] | None = None
    robust: str | None = None
    cluster: np.ndarray | None = None
    subgroups: pd.DataFrame | None = None
    q_between: float = float("nan")
    q_between_df: int = 0
    q_between_p: float = float("nan")
    subgroup: str | None = None
    _settings: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ aliases
    @property
    def qe(self) -> float:
        """Residual heterogeneity statistic Q_E (same as ``q``)."""
        return self.q

    @property
    def qe_p(self) -> float:
        """p value of Q_E (same as ``q_p``)."""
        return self.q_p

    @property
    def tau(self) -> float:
        """Square root of ``tau2``."""
        return float(np.sqrt(self.tau2))

    @property
    def intercept_only(self) -> bool:
        """True when the model has no moderators."""
        return self.p == 1 and self.mod_names == ["(Intercept)"]

    # ------------------------------------------------------------------ methods
    def refit(self, subset: Any = None, **changes: Any) -> MetaResult:
        """Refit with the same settings on a subset of studies or with changed settings.

        Parameters
        ----------
        subset : array-like of bool or int, optional
            Boolean mask of length ``k`` or positional indices of the studies to keep.
        **changes
            New values for ``yi``, ``vi``, ``method``, ``test``, ``level`` or ``tau2``.

        Returns
        -------
        MetaResult

        Examples
        --------
        >>> import numpy as np
        >>> from alliancestats.meta import meta_analysis
        >>> res = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65, 0.45, 0.15],
        ...                     vi=[0.03, 0.03, 0.05, 0.01, 0.05, 0.02])
        >>> res.refit(subset=np.arange(5)).k
        5
        >>> res.refit(method="FE").tau2
        0.0
        """
        allowed = {"yi", "vi", "method", "test", "level", "tau2"}
        unknown = set(changes) - allowed
        if unknown:
            raise MetaAnalysisError(
                f"refit() cannot change {sorted(unknown)}; allowed: {sorted(allowed)}."
            )
        s = dict(self._settings)
        yi = np.asarray(changes.get("yi", self.yi), dtype=float)
        vi = np.asarray(changes.get("vi", self.vi), dtype=float)
        if yi.shape != self.yi.shape or vi.shape != self.vi.shape:
            raise MetaAnalysisError("refit(): new yi/vi must have one value per study (k values).")
        keep = np.arange(self.k)
        if subset is not None:
            sub = np.asarray(subset)
            if sub.dtype == bool:
                if sub.shape != (self.k,):
                    raise MetaAnalysisError(f"subset mask must have length k = {self.k}.")
                keep = np.flatnonzero(sub)
            else:
                if sub.size and not np.issubdtype(sub.dtype, np.integer):
                    raise MetaAnalysisError(
                        "subset must be a boolean mask of length k or integer positions."
                    )
                keep = sub.astype(int).ravel()
                if keep.size and (keep.min() < -self.k or keep.max() >= self.k):
                    raise MetaAnalysisError(
                        f"subset positions must lie between 0 and k - 1 = {self.k - 1}."
                    )
        X = self.X[keep]
        names = list(self.mod_names)
        # drop moderator columns that became constant zero (e.g. a category left out)
        nonzero = np.any(X != 0, axis=0)
        if not nonzero.all():
            warnings.warn(
                "Moderator columns without variation in the subset were dropped: "
                + ", ".join(n for n, z in zip(names, nonzero, strict=True) if not z),
                RankDeficiencyWarning,
                stacklevel=2,
            )
            X = X[:, nonzero]
            names = [n for n, z in zip(names, nonzero, strict=True) if z]
        cluster = None if self.cluster is None else self.cluster[keep]
        groups = None if self.groups is None else self.groups[keep]
        return _fit(
            yi=yi[keep],
            vi=vi[keep],
            X=X,
            mod_names=names,
            method=changes.get("method", self.method),
            test=changes.get("test", self.test),
            level=changes.get("level", self.level),
            measure=self.measure,
            labels=self.labels[keep],
            data=self.data.iloc[keep].assign(yi=yi[keep], vi=vi[keep]),
            tau2_fixed=changes.get("tau2", self.tau2_fixed),
            random=self.random,
            groups=groups,
            robust=self.robust,
            cluster=cluster,
            settings=s,
        )

    def predict(
        self,
        newmods: Any = None,
        *,
        transform: str | Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> pd.DataFrame:
        """Predicted (average) effects with confidence and prediction intervals.

        Parameters
        ----------
        newmods : array-like, optional
            Moderator values (without the intercept), one row per prediction; ``None`` gives
            the intercept-only prediction (or the fitted values of a meta-regression).
        transform : str or callable, optional
            ``"r"``/``"z2r"`` (tanh), ``"exp"``, or a function applied to all bounds.

        Returns
        -------
        pandas.DataFrame
            Columns ``pred, se, ci_low, ci_high, pi_low, pi_high``.

        Examples
        --------
        >>> from alliancestats.meta import meta_analysis
        >>> res = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65, 0.45, 0.15],
        ...                     vi=[0.03, 0.03, 0.05, 0.01, 0.05, 0.02])
        >>> list(res.predict().columns)
        ['pred', 'se', 'ci_low', 'ci_high', 'pi_low', 'pi_high']
        """
        if newmods is None:
            Xn = np.ones((1, 1)) if self.intercept_only else self.X
        elif self.p == 1:
            raise MetaAnalysisError("The model has no moderators; call predict() without newmods.")
        else:
            try:
                Xn = np.atleast_2d(np.asarray(newmods, dtype=float))
            except (TypeError, ValueError):
                raise MetaAnalysisError(
                    "newmods must be numeric values of the moderator columns "
                    f"({', '.join(self.mod_names[1:])}), one row per prediction."
                ) from None
            if self.p - 1 == 1 and Xn.shape[0] == 1 and Xn.shape[1] != 1:
                Xn = Xn.T
            Xn = np.column_stack([np.ones(Xn.shape[0]), Xn])
            if Xn.shape[1] != self.p:
                raise MetaAnalysisError(
                    f"newmods must have {self.p - 1} column(s) ({', '.join(self.mod_names[1:])})."
                )
        vb = self.vcov.to_numpy()
        pred = Xn @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xn, vb, Xn))
        crit = _crit(self.level, self.df)
        total_var = self.tau2 if self.sigma2 is None else float(np.sum(self.sigma2))
        pi_half = crit * np.sqrt(se**2 + total_var)
        out = pd.DataFrame(
            {
                "pred": pred,
                "se": se,
                "ci_low": pred - crit * se,
                "ci_high": pred + crit * se,
                "pi_low": pred - pi_half,
                "pi_high": pred + pi_half,
            }
        )
        f = resolve_transform(transform)
        if f is not None:
            for col in ("pred", "ci_low", "ci_high", "pi_low", "pi_high"):
                out[col] = f(out[col].to_numpy())
            out = out.drop(columns="se")
        return out

    def confint(self, level: float | None = None) -> pd.DataFrame:
        """Q-profile confidence intervals for τ², τ, I² and H² (Viechtbauer 2007).

        Returns
        -------
        pandas.DataFrame
            Index ``tau2, tau, i2, h2``; columns ``estimate, ci_low, ci_high``.

        Notes
        -----
        Validated against metafor 3.8-1 ``confint(rma.uni)`` (tolerance 1e-6 relative; metafor
        run with a tight root-finding tolerance). Univariate random-effects models only.

        Examples
        --------
        >>> from alliancestats.meta import meta_analysis
        >>> res = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65, 0.45, 0.15],
        ...                     vi=[0.03, 0.03, 0.05, 0.01, 0.05, 0.02])
        >>> list(res.confint().index)
        ['tau2', 'tau', 'i2', 'h2']
        """
        if self.sigma2 is not None:
            raise MetaAnalysisError("confint() is available for univariate models only.")
        if self.method in ("FE", "EE", "CE"):
            raise MetaAnalysisError("A common-effect model has no tau^2 to profile.")
        if self.k <= self.p:
            raise MetaAnalysisError(
                f"confint() needs more studies than coefficients (k = {self.k}, p = {self.p})."
            )
        lev = self.level if level is None else float(level)
        if 0 < lev < 1:  # a proportion, as meta_analysis(level=) accepts
            lev *= 100
        lo, hi = q_profile_tau2_ci(self.yi, self.vi, self.X, self.tau2, lev)
        vt = self.vt
        rows = {
            "tau2": (self.tau2, lo, hi),
            "tau": (np.sqrt(self.tau2), np.sqrt(lo), np.sqrt(hi)),
            "i2": (self.i2, 100 * lo / (vt + lo), 100 * hi / (vt + hi)),
            "h2": (self.h2, 1 + lo / vt, 1 + hi / vt),
        }
        return pd.DataFrame.from_dict(
            rows, orient="index", columns=["estimate", "ci_low", "ci_high"]
        )

    def summary(self, transform: str | Callable[[np.ndarray], np.ndarray] | None = None) -> str:
        """metafor-style text report (see :func:`alliancestats.meta.report.summary_text`).

        Parameters
        ----------
        transform : str or callable, optional
            Back-transformation of the model results (``"r"`` for Fisher z, ``"exp"``).

        Returns
        -------
        str
            Model type, heterogeneity statistics, tests and the coefficient table.

        Examples
        --------
        >>> from alliancestats.meta import meta_analysis
        >>> fit = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65], vi=[0.03, 0.03, 0.05, 0.01],
        ...                     method="DL")
        >>> "tau^2 estimator: DL" in fit.summary()
        True
        """
        from alliancestats.meta.report import summary_text

        return summary_text(self, transform=transform)

    def apa(self, transform: str | Callable[[np.ndarray], np.ndarray] | None = "auto") -> str:
        """One APA-style sentence (see :func:`alliancestats.meta.report.apa_sentence`).

        Parameters
        ----------
        transform : str or callable, optional
            ``"auto"`` (default) reports correlations for Fisher-z models and ratios for log
            ratios; ``None`` keeps the analysis scale.

        Returns
        -------
        str
            Pooled effect with CI, k, test, heterogeneity and prediction interval.

        Examples
        --------
        >>> from alliancestats.meta import meta_analysis
        >>> sentence = meta_analysis(r=[0.2, 0.35, 0.1, 0.28], n=[60, 120, 85, 40]).apa()
        >>> sentence.startswith("r = .")
        True
        """
        from alliancestats.meta.report import apa_sentence

        return apa_sentence(self, transform=transform)

    def __repr__(self) -> str:
        kind = "three-level" if self.sigma2 is not None else "random-effects"
        if self.method in ("FE", "EE", "CE"):
            kind = "common-effect"
        return (
            f"<MetaResult {kind} ({self.method}, test={self.test}) k={self.k}: "
            f"estimate={self.estimate:.4f} [{self.ci_low:.4f}, {self.ci_high:.4f}], "
            f"tau2={self.tau2:.4f}>"
        )

    def __str__(self) -> str:
        return self.summary()


# ---------------------------------------------------------------------- transforms
def resolve_transform(
    transform: str | Callable[[np.ndarray], np.ndarray] | None,
    measure: str | None = None,
) -> Callable[[np.ndarray], np.ndarray] | None:
    """Map a transform name to a function (``"auto"`` picks one from ``measure``).

    Examples
    --------
    >>> import numpy as np
    >>> f = resolve_transform("r")
    >>> round(float(f(np.array(0.5))), 4)
    0.4621
    >>> resolve_transform("auto", "GEN") is None
    True
    """
    if transform is None:
        return None
    if callable(transform):
        return transform
    name = str(transform).lower()
    if name == "auto":
        m = (measure or "GEN").upper()
        if m == "ZCOR":
            return np.tanh
        if m in ("RR", "OR"):
            return np.exp
        return None
    if name in ("r", "z2r", "tanh"):
        return np.tanh
    if name == "exp":
        return np.exp
    if name in ("none", "identity"):
        return None
    raise MetaAnalysisError(
        f"Unknown transform {transform!r}; use 'r' (Fisher z to r), 'exp', or a function."
    )


def _crit(level: float, df: float) -> float:
    alpha = 1 - level / 100.0
    if np.isfinite(df):
        return float(stats.t.ppf(1 - alpha / 2, df))
    return float(stats.norm.ppf(1 - alpha / 2))


# ---------------------------------------------------------------------- input handling
def _column_or_array(data: pd.DataFrame | None, value: Any, what: str) -> np.ndarray | None:
    return numeric_input(data, value, what)


def _moderator_matrix(mods: Any, frame: pd.DataFrame) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Build the design (with intercept) from a formula string, column list or array.

    Returns the matrix, the column names and a boolean mask of rows with complete moderators.
    """
    k = len(frame)
    if mods is None:
        return np.ones((k, 1)), ["(Intercept)"], np.ones(k, dtype=bool)
    if isinstance(mods, str | list | tuple) and not (
        isinstance(mods, list | tuple) and len(mods) and not isinstance(mods[0], str)
    ):
        if isinstance(mods, str):
            formula = mods.strip()
            if not formula.startswith("~"):
                formula = "~ " + formula
        else:
            missing = [c for c in mods if c not in frame.columns]
            if missing:
                raise MetaAnalysisError(f"Moderator column(s) not found: {', '.join(missing)}.")
            formula = "~ " + " + ".join(f"`{c}`" if not c.isidentifier() else c for c in mods)
        flat = frame.reset_index(drop=True)
        for col in flat.columns:
            # formulaic passes pandas' nullable string columns through as raw text instead of
            # coding them as categories; plain objects are coded correctly
            if isinstance(flat[col].dtype, pd.StringDtype | pd.ArrowDtype | pd.BooleanDtype):
                flat[col] = flat[col].astype(object)
        try:
            # rows with a missing moderator (numeric or categorical) are dropped by formulaic;
            # they are re-inserted as NaN rows so the caller can report and remove them
            mm = safe_model_matrix(formula, flat, na_action="drop", where="moderators").frame
        except Exception as exc:  # formulaic raises many exception types
            from alliancestats.errors import FormulaError

            raise FormulaError(f"Cannot build moderators from {formula!r}: {exc}") from exc
        names = ["(Intercept)" if c == "Intercept" else str(c) for c in mm.columns]
        if names == ["(Intercept)"] and not re.fullmatch(r"~\s*1\s*", formula):
            raise MetaAnalysisError(
                f"The moderators in {formula!r} add no column to the model (a categorical "
                "moderator with a single level, or no terms); drop mods= or check the data."
            )
        X = np.asarray(mm.reindex(flat.index), dtype=float)
        ok = ~np.isnan(X).any(axis=1)
        return X, names, ok
    try:
        arr = np.asarray(mods, dtype=float)
    except (TypeError, ValueError):
        raise MetaAnalysisError(
            "An array of moderators must be numeric; for a categorical moderator put it in "
            "data and use a formula such as mods='~ group'."
        ) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.shape[0] != k:
        raise MetaAnalysisError(f"mods has {arr.shape[0]} rows but there are {k} studies.")
    names = ["(Intercept)"] + [f"mod{j + 1}" for j in range(arr.shape[1])]
    X = np.column_stack([np.ones(k), arr])
    return X, names, ~np.isnan(X).any(axis=1)


def meta_analysis(
    data: pd.DataFrame | None = None,
    *,
    yi: str | Sequence[float] | np.ndarray | None = None,
    vi: str | Sequence[float] | np.ndarray | None = None,
    sei: str | Sequence[float] | np.ndarray | None = None,
    r: str | Sequence[float] | np.ndarray | None = None,
    n: str | Sequence[float] | np.ndarray | None = None,
    measure: str | None = None,
    method: str = "REML",
    test: str = "z",
    mods: str | Sequence[str] | np.ndarray | None = None,
    level: float = 95,
    random: str | Sequence[str] | None = None,
    slab: str | Sequence[str] | None = None,
    subgroup: str | None = None,
    tau2: float | None = None,
    robust: str | bool | None = None,
    control: dict[str, float] | None = None,
) -> MetaResult:
    """Fit a common-effect, random-effects, meta-regression or three-level meta-analysis.

    Parameters
    ----------
    data : pandas.DataFrame, optional
        Study-level table. When it is the output of :func:`effect_sizes` (columns ``yi`` and
        ``vi``), no further arguments are needed.
    yi, vi, sei : str or array-like, optional
        Effect sizes and sampling variances (or standard errors), as column names of ``data``
        or arrays.
    r, n : str or array-like, optional
        Correlations and sample sizes; converted with :func:`effect_sizes` (``measure="ZCOR"``
        by default, or ``"COR"``).
    measure : str, optional
        Label of the effect-size metric ("ZCOR", "COR", "RR", "OR", "SMD", "GEN", ...). Taken
        from ``data.attrs["measure"]`` when ``data`` comes from :func:`effect_sizes`.
    method : {"REML", "ML", "DL", "PM", "EB", "HE", "SJ", "HS", "FE", "EE"}
        τ² estimator; ``"FE"``/``"EE"`` fit the common-effect model.
    test : {"z", "knha", "t"}
        Normal-theory tests, or the Knapp & Hartung (2003) adjustment with t/F tests on
        ``k - p`` degrees of freedom; ``"t"`` uses t/F tests without the variance rescaling.
        Three-level models have no Knapp–Hartung rescaling (as metafor's ``rma.mv``), so
        ``"knha"`` there means ``"t"``.
    mods : str, list of str or array, optional
        Moderators: a formula such as ``"~ meanage + quality"`` (categorical columns get
        treatment dummies), a list of columns, or a numeric array. An intercept is always added.
    level : float
        Confidence level in percent (a proportion such as 0.95 is also accepted).
    random : str or sequence of two str, optional
        Three-level model: ``"~ 1 | study/es"`` or ``("study", "es")`` (clusters, then effect
        sizes within clusters).
    slab : str or sequence, optional
        Study labels (column name or values).
    subgroup : str, optional
        Column defining subgroups: separate models are fitted per subgroup (each with its own
        τ²) and their estimates compared with a Wald-type Q_between test (fixed-effect
        combination of the subgroup estimates; Borenstein et al. 2009, ch. 19). The returned
        result is the model for all studies, with ``subgroups`` and ``q_between`` attached.
    tau2 : float, optional
        Fix τ² at this value instead of estimating it.
    robust : str or bool, optional
        Cluster-robust CR2 inference (Pustejovsky & Tipton 2018) with Satterthwaite degrees of
        freedom: a column name for the clusters, or ``True`` to use the three-level model's
        upper level.
    control : dict, optional
        ``{"threshold": ..., "maxiter": ...}`` for the ML/REML/EB scoring algorithm (defaults
        1e-12 and 1000). ``{"threshold": 1e-5}`` reproduces metafor's default stopping point.

    Returns
    -------
    MetaResult

    Raises
    ------
    MetaAnalysisError
        Missing or invalid inputs (non-positive variances, too few studies, unknown method).

    Notes
    -----
    Estimation follows metafor's ``rma.uni`` (Viechtbauer 2010, J Stat Softw 36(3)): weighted
    least squares for β given τ²; τ² estimators DerSimonian & Laird (1986), Paule & Mandel
    (1982), Hedges, Sidik–Jonkman, Hunter–Schmidt, ML and REML (Fisher scoring, threshold
    1e-10 instead of metafor's 1e-5). I² and H² use the typical within-study variance of
    Higgins & Thompson (2002, Stat Med 21(11)). Knapp & Hartung (2003, Stat Med 22(17)) scale
    the covariance by ``Q_w(τ̂²) / (k − p)``. The prediction interval is
    ``μ̂ ± c·sqrt(τ̂² + SE²)`` with ``c`` the normal quantile (``test="z"``) or the t quantile
    on ``k − p`` df (``test="knha"``), metafor's default. Pseudo-R² is metafor's
    ``(τ²_RE − τ²_ME) / τ²_RE`` truncated at 0. :meth:`MetaResult.confint` gives Q-profile
    intervals for τ², τ, I² and H² (Viechtbauer 2007, Stat Med 26(1)).

    Three-level models (``random=``) follow Konstantopoulos (2011, Res Synth Methods 2(1)) and
    Assink & Wibbelink (2016, Quant Methods Psychol 12(3)), with level-specific I² as in Cheung
    (2014, Psychol Methods 19(2)). ``robust=`` gives the CR2 cluster-robust covariance with
    Satterthwaite degrees of freedom and an HTZ omnibus test (Pustejovsky & Tipton 2018,
    J Bus Econ Stat 36(4)), as metafor's ``robust(..., clubSandwich=TRUE)``.

    Validated against metafor 3.8-1 on ``dat.molloy2014`` (all estimators, knha, confint,
    meta-regression), ``dat.bcg`` (log risk ratios, meta-regression), and three-level models on
    ``dat.konstantopoulos2011`` and ``dat.assink2016``: closed-form quantities agree to 1e-8
    relative, iterative estimates to 1e-6 (tests in ``tests/meta``).

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(r=[0.20, 0.35, 0.10, 0.28, 0.15], n=[60, 120, 85, 40, 200])
    >>> res.k, res.measure
    (5, 'ZCOR')
    >>> round(float(res.predict(transform="r")["pred"].iloc[0]), 3)
    0.211
    """
    method = str(method).upper()
    if method not in TAU2_METHODS:
        raise MetaAnalysisError(
            f"Unknown method {method!r}; choose one of {', '.join(TAU2_METHODS)}."
        )
    test = str(test).lower()
    if test not in _TESTS:
        raise MetaAnalysisError(f"Unknown test {test!r}; choose 'z' or 'knha'.")
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise MetaAnalysisError(f"level must be a number such as 95, got {level!r}.") from None
    if 0 < level < 1:  # a proportion (0.95), as metafor also accepts
        level *= 100
    if not 0 < level < 100:
        raise MetaAnalysisError("level must be a percentage between 0 and 100 (e.g. 95).")
    if data is not None and not isinstance(data, pd.DataFrame):
        raise MetaAnalysisError("data must be a pandas DataFrame (or None with array inputs).")
    if tau2 is not None:
        try:
            tau2 = float(tau2)
        except (TypeError, ValueError):
            raise MetaAnalysisError(f"tau2 must be a number, got {tau2!r}.") from None
        if not (np.isfinite(tau2) and tau2 >= 0):
            raise MetaAnalysisError(f"A fixed tau2 must be finite and non-negative, got {tau2}.")

    frame = data.copy() if data is not None else None
    if r is not None or n is not None:
        if r is None or n is None:
            raise MetaAnalysisError("Give both r and n to meta-analyse correlations.")
        from alliancestats.meta.effect_sizes import effect_sizes

        es_measure = (measure or "ZCOR").upper()
        es = effect_sizes(frame, r=r, n=n, measure=es_measure)
        yi_arr, vi_arr = es["yi"].to_numpy(float), es["vi"].to_numpy(float)
        measure = es_measure
    else:
        if yi is None and frame is not None and "yi" in frame.columns:
            yi = "yi"
            if vi is None and sei is None and "vi" in frame.columns:
                vi = "vi"
        yi_arr = _column_or_array(frame, yi, "yi")
        vi_arr = _column_or_array(frame, vi, "vi")
        se_arr = _column_or_array(frame, sei, "sei")
        if se_arr is not None and np.any(se_arr[~np.isnan(se_arr)] < 0):
            raise MetaAnalysisError(
                "Standard errors (sei) must be positive; "
                f"{int(np.sum(se_arr < 0))} negative value(s) given."
            )
        if yi_arr is None:
            raise MetaAnalysisError("Give yi with vi (or sei), or r with n.")
        if vi_arr is None:
            if se_arr is None:
                raise MetaAnalysisError("Give the sampling variances vi (or standard errors sei).")
            vi_arr = se_arr**2
        if measure is None and frame is not None:
            measure = frame.attrs.get("measure")
            if measure is None and "measure" in frame.columns:
                vals = pd.unique(frame["measure"].dropna())
                measure = str(vals[0]) if len(vals) == 1 else None
    measure = (measure or "GEN").upper()
    k_all = len(yi_arr)
    if len(vi_arr) != k_all:
        raise MetaAnalysisError(f"yi has {k_all} values but vi has {len(vi_arr)}.")
    if frame is None:
        frame = pd.DataFrame(index=pd.RangeIndex(k_all))
    elif len(frame) != k_all:
        raise MetaAnalysisError("yi/vi arrays must have one value per row of data.")
    frame = frame.assign(yi=yi_arr, vi=vi_arr)

    # labels
    if slab is None:
        if isinstance(frame.index, pd.RangeIndex):
            labels = pd.Index([f"Study {i + 1}" for i in range(k_all)])
        else:
            labels = pd.Index(frame.index.astype(str))
    elif isinstance(slab, str):
        if slab not in frame.columns:
            raise MetaAnalysisError(
                f"slab={slab!r} is not a column of data; give a column name or one label per study."
            )
        labels = pd.Index(frame[slab].astype(str))
    else:
        labels = pd.Index([str(s) for s in slab])
        if len(labels) != k_all:
            raise MetaAnalysisError("slab must have one label per study.")

    X, names, ok_mods = _moderator_matrix(mods, frame)
    ok = ok_mods & np.isfinite(yi_arr) & np.isfinite(vi_arr)

    # grouping for three-level models and robust clusters
    random_spec: tuple[str, ...] | None = None
    groups = None
    if random is not None:
        from alliancestats.meta.multilevel import parse_random

        random_spec = parse_random(random)
        for col in random_spec:
            if col not in frame.columns:
                raise MetaAnalysisError(f"random: column {col!r} not found in data.")
        ok &= frame[list(random_spec)].notna().all(axis=1).to_numpy()
    robust_col: str | None = None
    if robust is not None and robust is not False:
        if robust is True:
            if random_spec is None:
                raise MetaAnalysisError("robust=True needs random=...; or give a cluster column.")
            robust_col = random_spec[0]
        else:
            robust_col = str(robust)
            if robust_col not in frame.columns:
                raise MetaAnalysisError(f"robust: cluster column {robust_col!r} not found.")
        ok &= frame[robust_col].notna().to_numpy()
    if random is not None and tau2 is not None:
        raise MetaAnalysisError("tau2= cannot be fixed in a three-level model (random=...).")
    if subgroup is not None:
        if mods is not None:
            raise MetaAnalysisError(
                "subgroup= fits intercept-only models per subgroup; for moderators use "
                "mods='~ group' (a meta-regression) instead."
            )
        if subgroup not in frame.columns:
            raise MetaAnalysisError(f"subgroup column {subgroup!r} not found in data.")
        ok &= frame[subgroup].notna().to_numpy()

    if not ok.all():
        dropped = [str(x) for x in labels[~ok]]
        warnings.warn(
            f"{(~ok).sum()} stud{'y' if (~ok).sum() == 1 else 'ies'} with missing or "
            "non-finite values "
            f"dropped: {', '.join(dropped[:10])}{' ...' if len(dropped) > 10 else ''}.",
            DroppedRowsWarning,
            stacklevel=2,
        )
    frame = frame.loc[ok]
    X = X[ok]
    labels = labels[ok]
    yi_arr, vi_arr = yi_arr[ok], vi_arr[ok]
    if np.any(vi_arr <= 0):
        bad = ", ".join(str(x) for x in labels[vi_arr <= 0][:5])
        raise MetaAnalysisError(f"Sampling variances must be positive; check studies {bad}.")
    if len(vi_arr) and vi_arr.max() / vi_arr.min() > 1e7:
        warnings.warn(
            f"The largest sampling variance is {vi_arr.max() / vi_arr.min():.2g} times the "
            "smallest; results may be numerically unstable (metafor warns likewise). Check for "
            "variances entered on the wrong scale (e.g. standard errors, or 0 rounded up).",
            DataQualityWarning,
            stacklevel=2,
        )
    if random_spec is not None:
        from alliancestats.meta.multilevel import encode_groups

        groups = encode_groups(frame, random_spec)
    cluster = None
    if robust_col is not None:
        cluster = pd.factorize(frame[robust_col])[0]

    if control is not None and not isinstance(control, dict):
        raise MetaAnalysisError(
            "control must be a dict such as {'threshold': 1e-10, 'maxiter': 500}."
        )
    control = dict(control or {})
    unknown = set(control) - {"threshold", "maxiter"}
    if unknown:
        raise MetaAnalysisError(
            f"Unknown control option(s): {sorted(unknown)}; use threshold, maxiter."
        )
    if "threshold" in control and not (
        isinstance(control["threshold"], numbers.Real) and control["threshold"] > 0
    ):
        raise MetaAnalysisError(
            f"control threshold must be positive, got {control['threshold']!r}."
        )
    if "maxiter" in control and not (
        isinstance(control["maxiter"], numbers.Integral)
        and not isinstance(control["maxiter"], bool)
        and control["maxiter"] >= 1
    ):
        raise MetaAnalysisError(
            f"control maxiter must be a positive integer, got {control['maxiter']!r}."
        )
    settings = {"mods": mods, "slab": slab, "control": control}
    result = _fit(
        yi=yi_arr,
        vi=vi_arr,
        X=X,
        mod_names=names,
        method=method,
        test=test,
        level=float(level),
        measure=measure,
        labels=labels,
        data=frame.reset_index(drop=True),
        tau2_fixed=tau2,
        random=random_spec,
        groups=groups,
        robust=robust_col,
        cluster=cluster,
        settings=settings,
    )
    if subgroup is not None:
        result = _attach_subgroups(result, frame[subgroup].to_numpy(), subgroup)
    return result


# ---------------------------------------------------------------------- fitting
def _check_design(X: np.ndarray, names: list[str]) -> None:
    k, p = X.shape
    if k == 0:
        raise MetaAnalysisError("No studies left to analyse.")
    if np.linalg.matrix_rank(X) < p:
        raise MetaAnalysisError(
            "The moderator design is not of full rank (collinear moderators or a category "
            f"without studies); columns: {', '.join(names)}."
        )


def _fit(
    *,
    yi: np.ndarray,
    vi: np.ndarray,
    X: np.ndarray,
    mod_names: list[str],
    method: str,
    test: str,
    level: float,
    measure: str,
    labels: pd.Index,
    data: pd.DataFrame,
    tau2_fixed: float | None,
    random: tuple[str, ...] | None,
    groups: np.ndarray | None,
    robust: str | None,
    cluster: np.ndarray | None,
    settings: dict[str, Any],
) -> MetaResult:
    """Fit from arrays (shared by :func:`meta_analysis` and :meth:`MetaResult.refit`)."""
    method = str(method).upper()
    test = str(test).lower()
    _check_design(X, mod_names)
    if random is not None:
        from alliancestats.meta.multilevel import fit_multilevel

        res = fit_multilevel(
            yi=yi,
            vi=vi,
            X=X,
            mod_names=mod_names,
            groups=groups,
            random=random,
            method=method,
            test=test,
            level=level,
            measure=measure,
            labels=labels,
            data=data,
            settings=settings,
        )
    else:
        res = _fit_uni(
            yi, vi, X, mod_names, method, test, level, measure, labels, data, tau2_fixed, settings
        )
    if robust is not None:
        from alliancestats.meta.robust import apply_cr2

        res = apply_cr2(res, cluster, robust)
    return res


def _fit_uni(
    yi: np.ndarray,
    vi: np.ndarray,
    X: np.ndarray,
    mod_names: list[str],
    method: str,
    test: str,
    level: float,
    measure: str,
    labels: pd.Index,
    data: pd.DataFrame,
    tau2_fixed: float | None,
    settings: dict[str, Any],
) -> MetaResult:
    k, p = X.shape
    if k < 1:
        raise MetaAnalysisError("No studies to analyse.")
    if tau2_fixed is not None and method not in ("FE", "EE", "CE"):
        if tau2_fixed < 0:
            raise MetaAnalysisError("A fixed tau2 must be non-negative.")
        fit = Tau2Fit(float(tau2_fixed), float("nan"), 0, True)
    elif k == 1:
        fit = Tau2Fit(0.0, float("nan"), 0, True)
    else:
        fit = estimate_tau2(yi, vi, X, method, **settings.get("control", {}))
    tau2 = fit.tau2
    w = 1.0 / (vi + tau2)
    WX = X * w[:, None]
    vb = np.linalg.inv(X.T @ WX)
    beta = vb @ (WX.T @ yi)
    fitted = X @ beta
    resid = yi - fitted
    s2w = 1.0
    df = float("inf")
    if test in ("knha", "t"):
        if k <= p:
            raise MetaAnalysisError(
                f"test={test!r} needs more studies than coefficients (k = {k}, p = {p}); "
                "use test='z'."
            )
        df = float(k - p)
        if test == "knha":
            rss = float(np.sum(w * resid**2))
            s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
        if method in ("FE", "EE", "CE") and test == "knha":
            warnings.warn(
                "The Knapp-Hartung adjustment is not meant for common-effect models.",
                UserWarning,
                stacklevel=3,
            )
    vb = vb * s2w

    # heterogeneity
    if k > p:
        qe = max(0.0, generalized_q(0.0, yi, vi, X))
        qe_p = float(stats.chi2.sf(qe, k - p))
        vt = typical_within_variance(vi, X)
        if method in ("FE", "EE", "CE"):
            i2 = max(0.0, 100 * (qe - (k - p)) / qe) if qe > 0 else 0.0
            h2 = qe / (k - p)
        else:
            i2 = 100 * tau2 / (vt + tau2)
            h2 = tau2 / vt + 1
    else:
        qe, qe_p, i2, h2, vt = 0.0, 1.0, 0.0, 1.0, 0.0

    # pseudo R2
    r2 = float("nan")
    has_int = mod_names[0] == "(Intercept)"
    if has_int and p > 1:
        if method in ("FE", "EE", "CE"):
            r2 = _weighted_adj_r2(yi, X, 1.0 / vi)
        elif tau2_fixed is None:
            tau2_re = estimate_tau2(
                yi, vi, np.ones((k, 1)), method, **settings.get("control", {})
            ).tau2
            r2 = 0.0 if tau2_re == 0 else max(0.0, 100 * (tau2_re - tau2) / tau2_re)

    fit_stats = _fit_stats(yi, vi, X, tau2, method, tau2_fixed is None)
    loglik = float(fit_stats.loc["ll", "ML" if method == "ML" else "REML"])
    weights = 100 * w / w.sum()

    return _build_result(
        yi=np.asarray(yi, float),
        vi=np.asarray(vi, float),
        X=X,
        mod_names=mod_names,
        labels=labels,
        beta=beta,
        vb=vb,
        df=df,
        level=level,
        tau2=float(tau2),
        i2=float(i2),
        h2=float(h2),
        q=float(qe),
        q_p=float(qe_p),
        r2=float(r2),
        weights=weights,
        method=method,
        test=test,
        measure=measure,
        data=data,
        se_tau2=fit.se,
        vt=float(vt),
        loglik=loglik,
        fit_stats=fit_stats,
        tau2_fixed=tau2_fixed,
        converged=fit.converged,
        iterations=fit.iterations,
        _settings=settings,
    )


def _build_result(
    *,
    yi: np.ndarray,
    vi: np.ndarray,
    X: np.ndarray,
    mod_names: list[str],
    labels: pd.Index,
    beta: np.ndarray,
    vb: np.ndarray,
    df: float,
    level: float,
    tau2: float,
    **fields: Any,
) -> MetaResult:
    """Assemble a :class:`MetaResult` from fitted coefficients (internal).

    Derives what every estimator reports the same way -- coefficient table, omnibus test,
    summary estimate with its confidence and (intercept-only) prediction interval, fitted
    values, residuals and covariance frame -- from ``beta``, their covariance ``vb`` and the
    total heterogeneity variance ``tau2``. ``fields`` carries the estimator-specific results.
    """
    k, p = X.shape
    se = np.sqrt(np.diag(vb))
    table = coef_table(beta, se, df, level, mod_names)
    qm, qm_p, qm_df = omnibus_test(beta, vb, mod_names, df)
    est, se0 = float(beta[0]), float(se[0])
    pi_lo = pi_hi = float("nan")
    if p == 1 and mod_names[0] == "(Intercept)":
        half = _crit(level, df) * np.sqrt(se0**2 + tau2)
        pi_lo, pi_hi = est - half, est + half
    fitted = X @ beta
    return MetaResult(
        estimate=est,
        se=se0,
        ci_low=float(table["ci_low"].iloc[0]),
        ci_high=float(table["ci_high"].iloc[0]),
        pi_low=float(pi_lo),
        pi_high=float(pi_hi),
        tau2=tau2,
        k=int(k),
        p=int(p),
        table=table,
        qm=qm,
        qm_p=qm_p,
        qm_df=qm_df,
        yi=yi,
        vi=vi,
        labels=pd.Index(labels),
        X=X,
        mod_names=list(mod_names),
        level=float(level),
        fitted=fitted,
        residuals=yi - fitted,
        beta=beta,
        vcov=pd.DataFrame(vb, index=mod_names, columns=mod_names),
        df=df,
        **fields,
    )


def _weighted_adj_r2(yi: np.ndarray, X: np.ndarray, w: np.ndarray) -> float:
    """Adjusted R² of a weighted least-squares fit, in percent, truncated at 0 (metafor FE)."""
    k, p = X.shape
    WX = X * w[:, None]
    b = np.linalg.solve(X.T @ WX, WX.T @ yi)
    rss = np.sum(w * (yi - X @ b) ** 2)
    ybar = np.sum(w * yi) / w.sum()
    tss = np.sum(w * (yi - ybar) ** 2)
    if tss == 0:
        return 0.0
    r2 = 1 - rss / tss
    adj = 1 - (1 - r2) * (k - 1) / (k - p)
    return float(max(0.0, 100 * adj))


def coef_table(
    beta: np.ndarray, se: np.ndarray, df: float | np.ndarray, level: float, names: list[str]
) -> pd.DataFrame:
    """Tidy coefficient table (``z`` column for normal tests, ``t`` otherwise).

    Examples
    --------
    >>> import numpy as np
    >>> coef_table(np.array([0.5]), np.array([0.25]), np.inf, 95, ["(Intercept)"]).round(3)
                 estimate    se    z   df      p  ci_low  ci_high
    term
    (Intercept)       0.5  0.25  2.0  inf  0.046    0.01     0.99
    """
    df_arr = np.broadcast_to(np.asarray(df, dtype=float), beta.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        # se = 0 happens with Knapp-Hartung and identical effects; metafor then reports
        # an infinite statistic with p = 0, and so do we
        stat = beta / se
    alpha = 1 - level / 100
    normal = np.all(~np.isfinite(df_arr))
    if normal:
        pval = 2 * stats.norm.sf(np.abs(stat))
        crit = np.full(beta.shape, stats.norm.ppf(1 - alpha / 2))
    else:
        pval = 2 * stats.t.sf(np.abs(stat), df_arr)
        crit = stats.t.ppf(1 - alpha / 2, df_arr)
    out = pd.DataFrame(
        {
            "estimate": beta,
            "se": se,
            "z" if normal else "t": stat,
            "df": df_arr,
            "p": pval,
            "ci_low": beta - crit * se,
            "ci_high": beta + crit * se,
        },
        index=pd.Index(names, name="term"),
    )
    return out


def omnibus_test(
    beta: np.ndarray, vb: np.ndarray, names: list[str], df: float
) -> tuple[float, float, tuple[float, float]]:
    """Wald test of all coefficients except the intercept (QM; F-form when df is finite)."""
    p = len(beta)
    if names[0] == "(Intercept)" and p > 1:
        idx = np.arange(1, p)
    elif names[0] == "(Intercept)":
        return float("nan"), float("nan"), (float("nan"), float("nan"))
    else:
        idx = np.arange(p)
    b = beta[idx]
    V = vb[np.ix_(idx, idx)]
    qm = float(b @ np.linalg.solve(V, b))
    m = len(idx)
    if np.isfinite(df):
        qm /= m
        return qm, float(stats.f.sf(qm, m, df)), (float(m), float(df))
    return qm, float(stats.chi2.sf(qm, m)), (float(m), float("nan"))


def _fit_stats(
    yi: np.ndarray, vi: np.ndarray, X: np.ndarray, tau2: float, method: str, estimated: bool
) -> pd.DataFrame:
    """metafor's fit statistics table (rows ll, dev, AIC, BIC, AICc; columns ML, REML)."""
    k, p = X.shape
    parms = p + (0 if method in ("FE", "EE", "CE") or not estimated else 1)
    ll_ml = loglik_uni(tau2, yi, vi, X, reml=False)
    ll_reml = loglik_uni(tau2, yi, vi, X, reml=True) if k > p else float("nan")
    sat = float(np.sum(stats.norm.logpdf(yi, yi, np.sqrt(vi))))
    dev_ml = -2 * (ll_ml - sat) if k > p else 0.0

    def aicc(ll: float, n: float) -> float:
        m = max(n, parms + 2)
        return -2 * ll + 2 * parms * m / (m - parms - 1)

    rows = {
        "ll": (ll_ml, ll_reml),
        "dev": (dev_ml, -2 * ll_reml),
        "AIC": (-2 * ll_ml + 2 * parms, -2 * ll_reml + 2 * parms),
        "BIC": (-2 * ll_ml + parms * np.log(k), -2 * ll_reml + parms * np.log(max(k - p, 1))),
        "AICc": (aicc(ll_ml, k), aicc(ll_reml, k - p)),
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["ML", "REML"])


def _attach_subgroups(result: MetaResult, groups: np.ndarray, name: str) -> MetaResult:
    """Fit each subgroup separately and add the between-groups Q test."""
    levels = pd.unique(groups)
    rows = []
    for g in levels:
        mask = groups == g
        sub = result.refit(subset=mask)
        rows.append(
            {
                "subgroup": g,
                "k": sub.k,
                "estimate": sub.estimate,
                "se": sub.se,
                "ci_low": sub.ci_low,
                "ci_high": sub.ci_high,
                "tau2": sub.tau2,
                "i2": sub.i2,
                "q": sub.q,
                "q_p": sub.q_p,
            }
        )
    table = pd.DataFrame(rows).set_index("subgroup")
    est = table["estimate"].to_numpy()
    w = 1.0 / table["se"].to_numpy() ** 2
    pooled = np.sum(w * est) / w.sum()
    qb = float(np.sum(w * (est - pooled) ** 2))
    dfb = len(levels) - 1
    qb_p = float(stats.chi2.sf(qb, dfb)) if dfb > 0 else float("nan")
    return replace(
        result,
        subgroups=table,
        q_between=qb,
        q_between_df=dfb,
        q_between_p=qb_p,
        subgroup=name,
    )
