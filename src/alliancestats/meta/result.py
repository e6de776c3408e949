"""The fitted meta-analytic model, :class:`MetaResult`, and its assembly from estimates.

This module sits at the bottom of :mod:`alliancestats.meta`: the estimators (univariate,
multilevel, Mantel-Haenszel, ...) compute coefficients and variance components and call
:func:`build_result`; the result holds the :class:`~alliancestats.meta.spec.ModelSpec` it was
fitted from, so refits (subsets, other settings, profiles) go through that specification and
never back through the estimators' modules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta.heterogeneity import q_profile_tau2_ci
from alliancestats.meta.report import apa_sentence, summary_text
from alliancestats.meta.transforms import Transform, resolve_transform

__all__ = [
    "COMMON_EFFECT_METHODS",
    "MetaResult",
    "build_result",
    "coef_table",
    "critical_value",
    "omnibus_test",
    "term_position",
]

#: methods that fit the common-effect (τ² = 0) model
COMMON_EFFECT_METHODS = ("FE", "EE", "CE", "MH", "PETO")
#: metafor's spelling of the intercept, accepted wherever a term is looked up
INTERCEPT_ALIASES = ("(Intercept)", "intrcpt", "Intercept")


def critical_value(level: float, df: float) -> float:
    """Two-sided critical value at ``level`` percent: t on ``df`` or normal when infinite.

    Examples
    --------
    >>> round(critical_value(95, float("inf")), 4), round(critical_value(95, 10), 4)
    (1.96, 2.2281)
    """
    alpha = 1 - level / 100.0
    if np.isfinite(df):
        return float(stats.t.ppf(1 - alpha / 2, df))
    return float(stats.norm.ppf(1 - alpha / 2))


def term_position(names: list[str], term: str) -> int:
    """Position of ``term`` among ``names``; ``"intrcpt"`` (metafor) finds ``"(Intercept)"``.

    Examples
    --------
    >>> term_position(["(Intercept)", "ablat"], "intrcpt")
    0
    """
    if term in names:
        return names.index(term)
    if term in INTERCEPT_ALIASES and "(Intercept)" in names:
        return names.index("(Intercept)")
    raise MetaAnalysisError(f"No coefficient {term!r}; the model has {', '.join(names)}.")


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
        # se = 0 happens with Knapp-Hartung and identical effects; metafor then reports an
        # infinite statistic with p = 0, and so do we (meta_analysis warns about it)
        stat = beta / se
    alpha = 1 - level / 100
    normal = np.all(~np.isfinite(df_arr))
    if normal:
        pval = 2 * stats.norm.sf(np.abs(stat))
        crit = np.full(beta.shape, stats.norm.ppf(1 - alpha / 2))
    else:
        pval = 2 * stats.t.sf(np.abs(stat), df_arr)
        crit = stats.t.ppf(1 - alpha / 2, df_arr)
    return pd.DataFrame(
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


def omnibus_test(
    beta: np.ndarray, vb: np.ndarray, names: list[str], df: float
) -> tuple[float, float, tuple[float, float]]:
    """Wald test of all coefficients except the intercept (QM; F-form when df is finite).

    Examples
    --------
    >>> import numpy as np
    >>> qm, p, df = omnibus_test(np.array([0.1, 0.5]), np.eye(2) * 0.01,
    ...                          ["(Intercept)", "x"], float("inf"))
    >>> round(qm, 4), df
    (25.0, (1.0, nan))
    """
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


@dataclass(eq=False, repr=False)
class MetaResult:
    """Fitted meta-analytic model (univariate, meta-regression, multilevel or multivariate).

    Attributes
    ----------
    estimate, se, ci_low, ci_high : float
        Pooled effect (the first coefficient: the intercept of a meta-regression) with its
        standard error and confidence interval, on the analysis scale (e.g. Fisher z for
        ``measure="ZCOR"``).
    pi_low, pi_high : float
        Prediction interval for the true effect in a new study (intercept-only models;
        ``nan`` with moderators -- use :meth:`predict`).
    tau2, i2, h2 : float
        Between-study variance, I² (percent) and H². For multilevel models ``tau2`` is the
        sum of the variance components and ``i2`` the total I² (see ``sigma2`` and
        ``i2_levels``).
    q, q_p : float
        Cochran's Q (residual Q_E with moderators) and its p value; ``qe``, ``qe_p`` alias them.
    qm, qm_p, qm_df : float, float, tuple
        Omnibus test of the moderators (chi-square, or F with t-based tests); ``nan`` without
        moderators.
    r2 : float
        Pseudo-R² (percent) of a meta-regression, ``(τ²_RE − τ²) / τ²_RE`` as metafor.
    k, p : int
        Number of effect sizes and of fixed coefficients.
    table : pandas.DataFrame
        One row per coefficient (index ``term``; ``(Intercept)`` first when present) with
        columns ``estimate, se, z`` (``t`` for t-based tests)``, df, p, ci_low, ci_high``.
        :meth:`coef` also accepts metafor's spelling ``"intrcpt"``.
    yi, vi, weights, fitted, residuals : ndarray
        Data and per-study quantities; ``weights`` are percentages summing to 100.
    X : ndarray
        Design matrix; ``mod_names`` its column names.
    labels : pandas.Index
        Study labels.
    method, test, level, measure : str, str, float, str
        Estimation settings; ``measure`` ("ZCOR", "COR", "RR", "SMD", "GEN", ...) tells
        reports and plots how to back-transform.
    data : pandas.DataFrame
        The analysed rows: ``yi``, ``vi`` plus the user's other columns.
    sigma2, i2_levels : ndarray or None
        Multilevel models: variance components of the random intercepts (outermost first) and
        level-specific I² (Cheung 2014).
    components : pandas.DataFrame or None
        Multilevel/multivariate models: every variance parameter (``component, term,
        estimate, sqrt, n_levels, fixed``), named as metafor prints them (``sigma^2.1``,
        ``tau^2``, ``rho``).
    G : pandas.DataFrame or None
        Covariance matrix of a structured random effect (``~ inner | outer``).
    spec : ModelSpec
        The stored model specification; :meth:`refit` goes through it.
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
    spec: Any = None
    se_tau2: float = float("nan")
    vt: float = float("nan")
    loglik: float = float("nan")
    fit_stats: pd.DataFrame | None = None
    tau2_fixed: float | None = None
    converged: bool = True
    iterations: int = 0
    s2w: float = 1.0
    sigma2: np.ndarray | None = None
    i2_levels: np.ndarray | None = None
    components: pd.DataFrame | None = None
    G: pd.DataFrame | None = None
    theta: np.ndarray | None = None
    random: Any = None
    n_groups: tuple[int, ...] | None = None
    robust: str | None = None
    robust_type: str | None = None
    cluster: np.ndarray | None = None
    subgroups: pd.DataFrame | None = None
    q_between: float = float("nan")
    q_between_df: int = 0
    q_between_p: float = float("nan")
    subgroup: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ aliases
    @property
    def qe(self) -> float:
        """Residual heterogeneity statistic Q_E (same as ``q``; metafor ``QE``)."""
        return self.q

    @property
    def qe_p(self) -> float:
        """p value of Q_E (same as ``q_p``; metafor ``QEp``)."""
        return self.q_p

    @property
    def tau(self) -> float:
        """Square root of ``tau2``."""
        return float(np.sqrt(self.tau2))

    @property
    def intercept_only(self) -> bool:
        """True when the model has no moderators (only an intercept)."""
        return self.p == 1 and self.mod_names == ["(Intercept)"]

    @property
    def multilevel(self) -> bool:
        """True for models fitted with ``random=`` or a full sampling covariance ``V``."""
        return self.components is not None

    # ------------------------------------------------------------------ methods
    def coef(self, term: str | None = None) -> pd.Series | float:
        """Coefficients (all, or the one named ``term``; ``"intrcpt"`` means the intercept).

        Parameters
        ----------
        term : str, optional
            One coefficient's name; all coefficients when omitted.

        Returns
        -------
        pandas.Series or float
            All coefficients indexed by term, or the one asked for.

        Examples
        --------
        >>> from alliancestats.meta import meta_analysis
        >>> res = meta_analysis(yi=[0.1, 0.3, 0.2], vi=[0.01, 0.02, 0.01], method="FE")
        >>> res.coef("intrcpt") == res.estimate
        True
        """
        if term is None:
            return pd.Series(self.beta, index=pd.Index(self.mod_names, name="term"))
        return float(self.beta[term_position(self.mod_names, term)])

    def refit(self, subset: Any = None, **changes: Any) -> MetaResult:
        """Refit with the same settings on a subset of studies or with changed settings.

        Parameters
        ----------
        subset : array-like of bool or int, optional
            Boolean mask of length ``k`` or positional indices of the studies to keep.
            Moderator columns left without variation are dropped with a warning.
        **changes
            New values for ``yi``, ``vi``, ``method``, ``test``, ``level``, ``tau2`` (fixed
            τ²), ``sigma2`` (fixed multilevel components) or ``weights``.

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
        if self.spec is None:
            raise MetaAnalysisError("This result holds no model specification to refit.")
        spec = self.spec if subset is None else self.spec.subset(subset)
        return spec.with_changes(**changes).fit()

    def predict(self, newmods: Any = None, *, transform: Transform = None) -> pd.DataFrame:
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
        Xn = self._new_design(newmods)
        vb = self.vcov.to_numpy()
        pred = Xn @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", Xn, vb, Xn))
        crit = critical_value(self.level, self.df)
        pi_half = crit * np.sqrt(se**2 + self.tau2)
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

    def _new_design(self, newmods: Any) -> np.ndarray:
        has_int = self.mod_names[0] == "(Intercept)"
        if newmods is None:
            return np.ones((1, 1)) if self.intercept_only else self.X
        if self.intercept_only:
            raise MetaAnalysisError("The model has no moderators; call predict() without newmods.")
        n_mods = self.p - int(has_int)
        names = ", ".join(self.mod_names[int(has_int) :])
        try:
            Xn = np.atleast_2d(np.asarray(newmods, dtype=float))
        except (TypeError, ValueError):
            raise MetaAnalysisError(
                f"newmods must be numeric values of the moderator columns ({names}), one row "
                "per prediction."
            ) from None
        if n_mods == 1 and Xn.shape[0] == 1 and Xn.shape[1] != 1:
            Xn = Xn.T
        if has_int:
            Xn = np.column_stack([np.ones(Xn.shape[0]), Xn])
        if Xn.shape[1] != self.p:
            raise MetaAnalysisError(f"newmods must have {n_mods} column(s) ({names}).")
        return Xn

    def confint(self, level: float | None = None, *, type: str = "auto") -> pd.DataFrame:
        """Confidence intervals for the heterogeneity parameters.

        Parameters
        ----------
        level : float, optional
            Confidence level (percent or proportion); the model's level by default.
        type : {"auto", "QP", "PL"}
            ``"QP"``: Q-profile intervals for τ², τ, I² and H² of a univariate model
            (Viechtbauer 2007, Stat Med 26(1)); ``"PL"``: profile-likelihood intervals for
            every variance parameter (univariate τ² or each multilevel component). ``"auto"``
            uses QP for univariate and PL for multilevel models, as metafor's ``confint()``.

        Returns
        -------
        pandas.DataFrame
            Columns ``estimate, ci_low, ci_high``; index ``tau2, tau, i2, h2`` (QP) or the
            component names (PL).

        Notes
        -----
        Validated against metafor 3.8-1 ``confint(rma.uni)`` (Q-profile, tolerance 1e-6
        relative) and ``confint(rma.mv)`` / ``confint(rma.uni, type = "PL")`` (profile
        likelihood, tolerance 1e-4: root finding on both sides).

        Examples
        --------
        >>> from alliancestats.meta import meta_analysis
        >>> res = meta_analysis(yi=[0.1, 0.3, 0.35, 0.65, 0.45, 0.15],
        ...                     vi=[0.03, 0.03, 0.05, 0.01, 0.05, 0.02])
        >>> list(res.confint().index)
        ['tau2', 'tau', 'i2', 'h2']
        """
        lev = self.level if level is None else float(level)
        if 0 < lev < 1:  # a proportion, as meta_analysis(level=) accepts
            lev *= 100
        kind = str(type).upper()
        if kind not in ("AUTO", "QP", "PL"):
            raise MetaAnalysisError(f"type must be 'auto', 'QP' or 'PL', not {type!r}.")
        if self.method in COMMON_EFFECT_METHODS:
            raise MetaAnalysisError("A common-effect model has no tau^2 to profile.")
        if kind == "PL" or (kind == "AUTO" and self.multilevel):
            if self.spec is None:
                raise MetaAnalysisError("This result holds no model specification to profile.")
            return self.spec.profile_intervals(self, lev)
        if self.multilevel:
            raise MetaAnalysisError("Q-profile intervals exist for univariate models only.")
        if self.k <= self.p:
            raise MetaAnalysisError(
                f"confint() needs more studies than coefficients (k = {self.k}, p = {self.p})."
            )
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

    def summary(self, transform: Transform = None) -> str:
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
        return summary_text(self, transform=transform)

    def apa(self, transform: Transform = "auto") -> str:
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
        return apa_sentence(self, transform=transform)

    def __repr__(self) -> str:
        kind = "multilevel" if self.multilevel else "random-effects"
        if self.method in COMMON_EFFECT_METHODS:
            kind = "common-effect"
        return (
            f"<MetaResult {kind} ({self.method}, test={self.test}) k={self.k}: "
            f"estimate={self.estimate:.4f} [{self.ci_low:.4f}, {self.ci_high:.4f}], "
            f"tau2={self.tau2:.4f}>"
        )

    def __str__(self) -> str:
        return self.summary()


def build_result(
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
    """Assemble a :class:`MetaResult` from fitted coefficients (used by every estimator).

    Derives what every estimator reports the same way -- coefficient table, omnibus test,
    summary estimate with its confidence and (intercept-only) prediction interval, fitted
    values, residuals and covariance frame -- from ``beta``, their covariance ``vb`` and the
    total heterogeneity variance ``tau2``. ``fields`` carries the estimator-specific results.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> res = build_result(yi=np.array([0.1, 0.3]), vi=np.array([0.01, 0.01]),
    ...                    X=np.ones((2, 1)), mod_names=["(Intercept)"],
    ...                    labels=pd.Index(["a", "b"]), beta=np.array([0.2]),
    ...                    vb=np.array([[0.005]]), df=float("inf"), level=95.0, tau2=0.0,
    ...                    i2=0.0, h2=1.0, q=2.0, q_p=0.157, r2=float("nan"),
    ...                    weights=np.array([50.0, 50.0]), method="FE", test="z",
    ...                    measure="GEN", data=pd.DataFrame({"yi": [0.1, 0.3]}))
    >>> round(res.ci_high, 4)
    0.3386
    """
    k, p = X.shape
    se = np.sqrt(np.clip(np.diag(vb), 0.0, None))
    table = coef_table(beta, se, df, level, mod_names)
    qm, qm_p, qm_df = omnibus_test(beta, vb, mod_names, df)
    est, se0 = float(beta[0]), float(se[0])
    pi_lo = pi_hi = float("nan")
    if p == 1 and mod_names[0] == "(Intercept)" and np.isfinite(tau2):
        half = critical_value(level, df) * np.sqrt(se0**2 + tau2)
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
