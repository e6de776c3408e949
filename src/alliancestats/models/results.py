"""Results of mixed-model fits (:class:`MixedResult`) and their shared assembly.

:class:`MixedResult` is shared by the LMM engine (:func:`alliancestats.models.lmm`) and the
GLMM engine (:func:`alliancestats.models.glmm`). It holds the fitted model
(``result.model``, a :class:`~alliancestats.models.fitted.FittedModel`: linear predictor,
ML refit, profile, variance-component Wald table, contrast df) and the tidy tables built
from it. :func:`fixed_table`, :func:`information_criteria` and :func:`ranef_frames` are the
one assembly of the fixed-effects table, AIC/BIC and the conditional-mode frames that both
engines use. Likelihood-ratio tests between fits are in :mod:`.lrt`.

Examples
--------
>>> from alliancestats.models.results import MixedResult
>>> MixedResult.__name__
'MixedResult'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats._validation import check_choice, check_level
from alliancestats.errors import ModelSpecificationError
from alliancestats.models.design import RandomBlock
from alliancestats.models.fitted import FittedModel
from alliancestats.models.varcomp import merge_uncorrelated, ngroups, varcorr_frame

__all__ = [
    "MixedResult",
    "fixed_table",
    "information_criteria",
    "ranef_frames",
    "shared_fields",
]


def fixed_table(
    names: Sequence[str],
    beta: np.ndarray,
    se: np.ndarray,
    df: np.ndarray | None,
    level: float,
) -> pd.DataFrame:
    """The fixed-effects table: ``estimate, se, df, t, p, ci_low, ci_high``.

    With ``df=None`` (GLMM) the statistic is a Wald ``z`` with infinite df.
    """
    stat = beta / se
    if df is None:
        df = np.full(beta.size, np.inf)
        label, p = "z", 2.0 * stats.norm.sf(np.abs(stat))
        q = stats.norm.ppf(0.5 + level / 2)
    else:
        label, p = "t", 2.0 * stats.t.sf(np.abs(stat), df)
        q = stats.t.ppf(0.5 + level / 2, df)
    return pd.DataFrame(
        {
            "estimate": beta,
            "se": se,
            "df": df,
            label: stat,
            "p": p,
            "ci_low": beta - q * se,
            "ci_high": beta + q * se,
        },
        index=pd.Index(list(names), name="term"),
    )


def information_criteria(loglik: float, npar: int, nobs: int) -> tuple[float, float]:
    """AIC and BIC from a (restricted) log-likelihood."""
    return -2.0 * loglik + 2.0 * npar, -2.0 * loglik + np.log(nobs) * npar


def ranef_frames(
    blocks: Sequence[RandomBlock], values: Sequence[np.ndarray]
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Conditional modes per term (``varcorr`` keys) and per grouping factor (lme4's ``ranef``).

    Returns ``(by_term, by_factor)``: ``by_factor`` joins the terms of one factor (``||``).
    """
    by_term = {
        b.group: pd.DataFrame(v, index=pd.Index(b.levels, name=b.group), columns=b.colnames)
        for b, v in zip(blocks, values, strict=True)
    }
    return by_term, merge_uncorrelated(blocks, by_term)


def shared_fields(
    model: Any,
    *,
    df: np.ndarray | None,
    deviance: float,
    npar: int,
    fitted: np.ndarray,
    residuals: np.ndarray,
    n_dropped: int,
    residual_row: bool,
) -> dict[str, Any]:
    """The result fields every engine fills the same way from its fitted model.

    ``model`` provides ``design``, ``beta``, ``vcov_beta()``, ``covariances()``, ``sigma``,
    ``theta``, ``reml``, ``b`` (conditional modes per term), ``cond_var``, ``converged``,
    ``singular`` and ``level``; ``deviance`` is the REML criterion or -2 log-likelihood.
    """
    d = model.design
    V = model.vcov_beta()
    loglik = -0.5 * deviance
    aic, bic = information_criteria(loglik, npar, d.nobs)
    _, by_factor = ranef_frames(d.random, model.b)
    covs = [c.cov for c in model.covariances()]
    return {
        "reml": model.reml,
        "fixed": fixed_table(d.fixed_names, model.beta, np.sqrt(np.diag(V)), df, model.level),
        "vcov": pd.DataFrame(V, index=d.fixed_names, columns=d.fixed_names),
        "varcorr": varcorr_frame(d.random, covs, model.sigma, residual=residual_row),
        "sigma": model.sigma,
        "loglik": loglik,
        "deviance": deviance,
        "aic": aic,
        "bic": bic,
        "nobs": d.nobs,
        "n_dropped": n_dropped,
        "npar": npar,
        "ngroups": ngroups(d.random),
        "converged": model.converged,
        "singular": model.singular,
        "theta": model.theta,
        "ranef": by_factor,
        "cond_var": model.cond_var,
        "fitted": pd.Series(fitted, index=d.rows, name="fitted"),
        "residuals": pd.Series(residuals, index=d.rows, name="residuals"),
        "level": model.level,
    }


class MixedResult:
    """Fitted linear or generalized linear mixed model.

    Attributes
    ----------
    formula : str
        The model formula.
    method : str
        ``"REML"`` or ``"ML"`` (LMM); ``"Laplace"`` or ``"AGQ(n)"`` (GLMM).
    family : str
        ``"gaussian"`` for LMM, otherwise the GLMM family name.
    reml : bool
        Whether the fit maximised the restricted likelihood.
    fixed : pandas.DataFrame
        Indexed by term, columns ``estimate, se, df, t, p, ci_low, ci_high`` (GLMM: ``z``
        instead of ``t`` and ``df`` infinite). ``df`` are Satterthwaite degrees of freedom
        for LMM fits.
    vcov : pandas.DataFrame
        Covariance matrix of the fixed-effect estimates.
    varcorr : pandas.DataFrame
        lme4's ``as.data.frame(VarCorr(fit))`` layout: ``grp, var1, var2, vcov, sdcor``.
    sigma, loglik, deviance, aic, bic : float
        Residual SD; log-likelihood (restricted log-likelihood for REML fits); REML criterion
        for REML fits, otherwise -2 log-likelihood; information criteria (from ``loglik``).
    nobs, n_dropped, npar : int
        Rows used, rows dropped for missing values, number of estimated parameters.
    ngroups : dict
        Number of levels per grouping factor.
    converged : bool
        True when the optimiser stopped normally and the optimum passed the gradient check.
    optimizer : dict
        Record of the optimisation (method, evaluations, gradient, restarts, messages).
    singular : bool
        Boundary (singular) fit, as lme4's ``isSingular`` (tolerance 1e-4).
    theta : numpy.ndarray
        Relative covariance factor parameters (lme4's ``getME(fit, "theta")``).
    ranef : dict of pandas.DataFrame
        Conditional modes per grouping factor (rows = groups, columns = effects); terms split
        by ``||`` are joined into one frame per factor, as lme4's ``ranef`` does.
    cond_var : dict of numpy.ndarray
        Conditional covariance matrices of the random effects per term (keys as the ``grp``
        column of ``varcorr``), shape ``(groups, q, q)`` (lme4's ``condVar``).
    fitted, residuals : pandas.Series
        Indexed like the rows used (conditional on the random effects).
    ddf : str
        Denominator-df method of ``fixed`` and of the tests (``"satterthwaite"`` or
        ``"kenward-roger"``, see :meth:`with_ddf`); GLMM tests are asymptotic whatever it is.
    """

    def __init__(self, model: FittedModel, **fields: Any) -> None:
        self.model = model
        defaults: dict[str, Any] = {
            "family": "gaussian",
            "reml": False,
            "n_dropped": 0,
            "ranef": {},
            "cond_var": {},
            "optimizer": {},
            "singular": False,
            "converged": True,
            "messages": [],
            "response": "",
            "level": 0.95,
            "ddf": "satterthwaite",
        }
        for key, value in defaults.items():
            setattr(self, key, value)
        for key, value in fields.items():
            setattr(self, key, value)

    @property
    def design(self):
        """The model's :class:`~alliancestats.models.design.Design` (``model.design``)."""
        return self.model.design

    # ------------------------------------------------------------------ methods
    def refit_ml(self) -> MixedResult:
        """The same model fitted by maximum likelihood (self when already ML).

        Returns
        -------
        MixedResult
            The ML fit (lme4's ``refitML``); :func:`lrt` compares these.

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> from alliancestats.models import lmm
        >>> df = simulate_sessions(n_therapists=6, seed=4).dropna(subset=["pain"])
        >>> fit = lmm("pain ~ session + (1 | patient)", df)
        >>> ml = fit.refit_ml()
        >>> fit.method, ml.method, ml.refit_ml() is ml
        ('REML', 'ML', True)
        """
        if not self.reml:
            return self
        return self.model.refit_ml()

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        random: bool = True,
        se: bool = False,
        interval: str | None = None,
        level: float = 0.95,
    ) -> pd.Series | pd.DataFrame:
        """Predicted values, optionally with standard errors and intervals.

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Rows to predict; ``None`` gives the fitted values of the rows used in the fit.
            Needs the columns of the fixed part and, with ``random=True``, the grouping
            columns (and the columns of random slopes).
        random : bool, default True
            Add the conditional modes of the random effects (lme4's ``re.form = NULL``);
            ``False`` gives population-level predictions (``re.form = NA``).
        se : bool, default False
            Also return standard errors (and df).
        interval : {None, "confidence", "prediction"}
            Add a confidence interval for the mean or a prediction interval for a new
            observation (linear mixed models only).
        level : float, default 0.95
            Interval level.

        Returns
        -------
        pandas.Series or pandas.DataFrame
            Without ``se`` and ``interval``: a Series indexed like ``newdata`` (or the rows
            used), named ``"predicted"`` (the linear predictor). Otherwise the frame of
            :func:`alliancestats.effects.predictions`: ``estimate, se, df`` and ``ci_low,
            ci_high`` or ``pi_low, pi_high``.

        Raises
        ------
        FormulaError
            ``newdata`` is not a DataFrame, lacks a column the model uses, or has a level of a
            categorical predictor that the fit never saw (its effect is unknown).

        Notes
        -----
        Groups in ``newdata`` not seen in the fit get the population-level prediction (their
        random effects set to zero, lme4's ``allow.new.levels = TRUE``); rows with a missing
        predictor (numeric or categorical) give NaN. Standard errors and intervals come from
        :func:`alliancestats.effects.predictions` (fixed-effect covariance plus, with
        ``random=True``, the conditional variance of the random effects; t quantiles with
        Satterthwaite or, after :meth:`with_ddf`, Kenward-Roger df).

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> from alliancestats.models import lmm
        >>> df = simulate_sessions(n_therapists=6, seed=4).dropna(subset=["pain"])
        >>> fit = lmm("pain ~ session + arm + (1 | patient)", df)
        >>> new = df.head(2).assign(patient=["new patient", df["patient"].iloc[1]])
        >>> pred = fit.predict(new)
        >>> bool(pred.iloc[0] == fit.predict(new, random=False).iloc[0])
        True
        >>> fit.predict(new, interval="prediction").columns.tolist()
        ['estimate', 'se', 'df', 'pi_low', 'pi_high']
        """
        if se or interval is not None:
            from alliancestats.effects.prediction import predictions

            return predictions(self, newdata, random=random, interval=interval, level=level,
                               type="link", ddf=self.ddf)
        values = self.model.linear_predictor(newdata, random)
        index = self.fitted.index if newdata is None else newdata.index
        return pd.Series(values, index=index, name="predicted")

    def confint(
        self, method: str = "wald", level: float = 0.95, progress: bool | None = None
    ) -> pd.DataFrame:
        """Confidence intervals for variance components and fixed effects.

        Parameters
        ----------
        method : {"wald", "profile"}
            ``"wald"``: variance components (SDs, correlations, residual SD) from the inverse
            Hessian of the deviance on the SD/correlation scale (bounded to [0, inf) and
            [-1, 1]); fixed effects from the ``fixed`` table (t with Satterthwaite df for LMM).
            ``"profile"``: likelihood-ratio (profile) intervals for every parameter on the ML
            deviance, as lme4's ``confint(method = "profile")``, which refits REML models by
            ML first; the ``estimate`` column then holds the ML estimates.
        level : float
            Confidence level.
        progress : bool, optional
            Show a progress bar while profiling (default: only on a terminal).

        Returns
        -------
        pandas.DataFrame
            Rows named like lme4's ``confint(oldNames = FALSE)`` (``sd_(Intercept)|patient``,
            ``cor_session.(Intercept)|patient``, ``sigma``, then fixed effects); columns
            ``estimate, ci_low, ci_high``.

        Notes
        -----
        Profile intervals invert the likelihood-ratio test (Venzon & Moolgavkar 1988, Appl Stat
        37(1); Bates et al. 2015, J Stat Softw 67(1), section 5.1). Validated against lme4
        1.1-31 ``confint(fit, method = "profile")`` on Dyestuff and sleepstudy: all ends within
        1e-3 relative (observed 1e-5 to 5e-5; lme4 interpolates its profile with splines).
        GLMMs with random slopes are profiled in their SDs, correlations and fixed effects
        (Laplace deviance); validated against lme4 on simulated Poisson counts with
        ``(1 + session | patient)``: ends within 0.1% of the interval width (observed
        1.4e-4).
        Wald intervals for SDs and correlations are symmetric and can be poor near the
        boundary; prefer profile intervals for variance components.

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> from alliancestats.models import lmm
        >>> df = simulate_sessions(n_therapists=6, seed=4).dropna(subset=["pain"])
        >>> fit = lmm("pain ~ session + (1 | patient)", df)
        >>> ci = fit.confint("wald")
        >>> list(ci.index)
        ['sd_(Intercept)|patient', 'sigma', '(Intercept)', 'session']
        >>> bool((ci["ci_low"] < ci["estimate"]).all())
        True
        """
        check_choice("method", method, ["wald", "profile"])
        level = check_level(level)
        if method == "profile":
            return self.model.profile(level, progress)
        vc = self.model.varcomp_wald(level)
        fx = self.fixed
        if "t" in fx.columns:
            q = stats.t.ppf(0.5 + level / 2, fx["df"].to_numpy())
        else:
            q = stats.norm.ppf(0.5 + level / 2)
        fixed = pd.DataFrame(
            {
                "estimate": fx["estimate"],
                "ci_low": fx["estimate"] - q * fx["se"],
                "ci_high": fx["estimate"] + q * fx["se"],
            },
            index=fx.index,
        )
        return pd.concat([vc, fixed])

    def contrast(self, weights: Any, ddf: str | None = None) -> pd.Series:
        """Test a linear combination of fixed effects, e.g. between minus within.

        Parameters
        ----------
        weights : dict or array-like
            Mapping term -> weight (missing terms weigh 0) or one weight per fixed effect.
        ddf : {"Satterthwaite", "Kenward-Roger"}, optional
            Denominator df (LMM); default: the fit's :attr:`ddf`. With Kenward-Roger the SE
            comes from the adjusted covariance (pbkrtest's ``vcovAdj``).

        Returns
        -------
        pandas.Series
            ``estimate, se, df, t, p`` with Satterthwaite df for LMM fits; ``estimate, se,
            df, z, p`` (Wald z test, infinite df) for GLMMs.

        Notes
        -----
        For LMM fits the degrees of freedom follow lmerTest's ``contest1D`` (Kuznetsova,
        Brockhoff & Christensen 2017, J Stat Softw 82(13)): ``2 (L'VL)^2 / (g' A g)`` with ``g``
        the gradient of ``L'V L`` in the variance parameters and ``A`` their asymptotic
        covariance. For a single coefficient this reproduces the ``df`` column exactly.
        Kenward-Roger df follow Kenward & Roger (1997, Biometrics 53(3)) as pbkrtest computes
        them (lmerTest's ``contest(..., ddf = "Kenward-Roger")``).

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> from alliancestats.models import lmm
        >>> df = simulate_sessions(n_therapists=6, seed=2).dropna(subset=["pain", "alliance"])
        >>> fit = lmm("pain ~ session + alliance + (1 | patient)", df)
        >>> c = fit.contrast({"session": 1, "alliance": -1})
        >>> list(c.index)
        ['estimate', 'se', 'df', 't', 'p']
        """
        names = list(self.fixed.index)
        if isinstance(weights, dict):
            unknown = [k for k in weights if k not in names]
            if unknown:
                raise ModelSpecificationError(f"unknown fixed-effect terms {unknown}; have {names}")
            L = np.array([float(weights.get(n, 0.0)) for n in names])
        else:
            L = np.asarray(weights, dtype=float).ravel()
            if L.size != len(names):
                raise ModelSpecificationError(f"need {len(names)} weights, got {L.size}")
        est = float(L @ self.fixed["estimate"].to_numpy())
        method = self._ddf_method(ddf)
        if method == "kenward-roger":
            kr = self.model.kenward_roger()
            se, df = kr.se(L), float(kr.df(L))
        else:
            se = float(np.sqrt(L @ self.model.vcov_beta() @ L))
            df = float(self.model.contrast_df(L))
        stat = est / se if se > 0 else np.nan
        if np.isfinite(df):
            label, p = "t", 2 * stats.t.sf(abs(stat), df)
        else:
            label, p = "z", 2 * stats.norm.sf(abs(stat))
        return pd.Series({"estimate": est, "se": se, "df": df, label: stat, "p": p})

    def anova(self, type: int = 3, ddf: str | None = None) -> pd.DataFrame:  # noqa: A002
        """F tests of the fixed-effect terms (lmerTest's ``anova`` for one model).

        Parameters
        ----------
        type : {3, 1}, default 3
            Type III (marginal hypotheses that do not depend on the order of the terms,
            lmerTest's construction for treatment contrasts) or type I (sequential: each term
            adjusted for the terms listed before it).
        ddf : {"Satterthwaite", "Kenward-Roger"}, optional
            Denominator degrees of freedom (default: the fit's :attr:`ddf`). Kenward-Roger
            F tests scale the Wald statistic from the adjusted covariance and take their df
            from Kenward & Roger (1997) as pbkrtest's ``KRmodcomp`` (REML fits only).

        Returns
        -------
        pandas.DataFrame
            Indexed by term (the intercept is not tested), columns ``sum_sq, mean_sq,
            num_df, den_df, F, p`` as lmerTest's ``Sum Sq, Mean Sq, NumDF, DenDF, F value,
            Pr(>F)``. A term whose columns were all dropped as aliased (rank-deficient
            fixed part, reported by a ``RankDeficiencyWarning`` at the fit) has nothing to
            test: ``num_df`` 0 and NaN statistics.

        Raises
        ------
        ModelSpecificationError
            Not a linear mixed model, an unknown ``type`` or ``ddf``, or custom contrasts
            (type III needs treatment contrasts).

        Notes
        -----
        F statistic ``(Lb)'(LVL')^{-1}(Lb)/q`` for each term's contrast matrix ``L``;
        denominator df by Satterthwaite's method for multi-df tests as lmerTest computes it
        (Kuznetsova, Brockhoff & Christensen 2017, J Stat Softw 82(13), section 3.2): the
        eigen-decomposition of ``LVL'`` gives q independent 1-df contrasts, each with its
        own Satterthwaite df, combined as in Fai & Cornelius (1996, J Stat Comput Simul
        54(4)). ``sum_sq = F q sigma^2`` and ``mean_sq = F sigma^2`` as in lmerTest.
        With ``ddf="Kenward-Roger"`` each term's F statistic is the Wald statistic with the
        adjusted covariance over q, scaled by Kenward & Roger's factor, with their df
        (Kenward & Roger 1997, Biometrics 53(3); Halekoh & Højsgaard 2014, J Stat Softw
        59(9)); ``sum_sq`` and ``mean_sq`` use the unscaled statistic, as lmerTest.
        Validated against lmerTest 3.1-3 ``anova(fit, type = 3)`` and ``type = 1``
        (ham, Orthodont with missing visits and two
        simulated models with a three-level site factor and its interaction with session,
        REML and ML): F and den_df within 1e-2 relative (the df rest on numerical second
        derivatives in both programs).

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> from alliancestats.models import lmm
        >>> df = simulate_sessions(n_therapists=6, seed=2).dropna(subset=["pain"])
        >>> fit = lmm("pain ~ session * arm + (1 | patient)", df)
        >>> tab = fit.anova()
        >>> list(tab.index), list(tab.columns)
        (['session', 'arm', 'session:arm'], ['sum_sq', 'mean_sq', 'num_df', 'den_df', 'F', 'p'])
        >>> bool(tab.loc["session", "p"] < 0.05)
        True
        """
        from alliancestats.models.anova import anova_table

        method = self._ddf_method(ddf)
        if self.family != "gaussian":
            raise ModelSpecificationError(
                "F tests with Satterthwaite or Kenward-Roger df are available for linear mixed "
                "models (lmm); for GLMMs compare nested models with lrt()"
            )
        return anova_table(
            self.model.design,
            self.fixed["estimate"].to_numpy(),
            self.model.vcov_beta(),
            self.model.contrast_df,
            float(self.sigma),
            type=type,
            kenward_roger=self.model.kenward_roger() if method == "kenward-roger" else None,
        )

    def _ddf_method(self, ddf: str | None) -> str:
        from alliancestats.models.kenward_roger import check_ddf

        return check_ddf(self.ddf if ddf is None else ddf)

    def with_ddf(self, ddf: str) -> MixedResult:
        """The same fit with its fixed-effects table and tests on another df method.

        Parameters
        ----------
        ddf : {"Satterthwaite", "Kenward-Roger"}
            ``"Kenward-Roger"`` (also ``"kenward-roger"``, ``"KR"``): standard errors from
            the adjusted covariance of Kenward & Roger and their denominator df, as
            lmerTest's ``summary(fit, ddf = "Kenward-Roger")``; ``"Satterthwaite"``: the
            default of :func:`~alliancestats.lmm`.

        Returns
        -------
        MixedResult
            A copy whose ``fixed`` (SE, df, t, p, CI), ``vcov`` (the adjusted covariance
            with Kenward-Roger), ``ddf`` and the defaults of :meth:`contrast`,
            :meth:`anova`, :meth:`confint`, :meth:`predict` and :meth:`summary` follow
            ``ddf``. The fit itself (``model``, estimates, variance components) is shared.

        Raises
        ------
        ModelSpecificationError
            Not a linear mixed model, a fit by maximum likelihood (Kenward-Roger rests on
            REML, as in lmerTest), or an unknown ``ddf``.

        Notes
        -----
        Kenward & Roger (1997, Biometrics 53(3)) inflate the REML covariance of the fixed
        effects for the uncertainty of the estimated variance parameters and give t and F
        tests matching moments of an F distribution; with few clusters (e.g. few therapists)
        their df are well below Satterthwaite's large-sample behaviour would suggest
        (Halekoh & Højsgaard 2014, J Stat Softw 59(9)). Validated against pbkrtest 0.5.2
        through lmerTest 3.1-3 (``summary(fit, ddf = "Kenward-Roger")``, ``anova``,
        ``contest``) and ``pbkrtest::vcovAdj`` on sleepstudy (correlated and ``||``),
        a therapist/patient/session model with six therapists in three clinics, Orthodont
        with missing visits, a crossed consumer-by-product model (ham) and a boundary fit:
        at lme4's estimates the adjusted covariance and df agree to 1e-9 relative (observed
        2e-12); from our own fits (whose optimum differs from lme4's in the 5th digit) SEs
        within 1e-4, df and F within 1e-3 relative.

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> from alliancestats.models import lmm
        >>> df = simulate_sessions(n_therapists=6, seed=4).dropna(subset=["pain"])
        >>> fit = lmm("pain ~ session * arm + (1 | patient) + (1 | therapist)", df)
        >>> kr = fit.with_ddf("Kenward-Roger")
        >>> kr.ddf, bool((kr.fixed["se"] >= fit.fixed["se"] - 1e-12).all())
        ('kenward-roger', True)
        >>> kr.summary().splitlines()[0]
        "Linear mixed model fit by REML. t-tests use Kenward-Roger's method"
        """
        import copy

        method = self._ddf_method(ddf)
        out = copy.copy(self)
        out.ddf = method
        if method == "kenward-roger":
            kr = self.model.kenward_roger()  # refuses GLMMs and ML fits
            V = kr.vcov
            df = np.array([kr.df(row) for row in np.eye(len(V))])
        elif self.family != "gaussian" or method == self.ddf:
            return out
        else:
            V = self.model.vcov_beta()
            df = np.array([self.model.contrast_df(row) for row in np.eye(len(V))])
        names = list(self.fixed.index)
        out.vcov = pd.DataFrame(V, index=names, columns=names)
        out.fixed = fixed_table(names, self.fixed["estimate"].to_numpy(),
                                np.sqrt(np.diag(V)), df, self.level)
        return out



    # ------------------------------------------------------------------ printing
    # -- after the fit (logic in alliancestats.effects; imported on first use) --------------
    def tidy(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """broom.mixed-style parameter table; see :func:`alliancestats.effects.tidy`.

        Parameters
        ----------
        *args, **kwargs
            Passed to :func:`alliancestats.effects.tidy` after the fit.

        Returns
        -------
        pandas.DataFrame
            One row per parameter.
        """
        from alliancestats.effects import tidy

        return tidy(self, *args, **kwargs)

    def glance(self) -> pd.DataFrame:
        """broom.mixed-style one-row model summary; see :func:`alliancestats.effects.glance`."""
        from alliancestats.effects import glance

        return glance(self)

    def apa(self, **kwargs: Any) -> pd.Series:
        """One APA-style sentence per fixed effect; see :func:`alliancestats.effects.apa`.

        Parameters
        ----------
        **kwargs
            Passed to :func:`alliancestats.effects.apa` (``digits=``, ``level=``).

        Returns
        -------
        pandas.Series
            One sentence per fixed effect.
        """
        from alliancestats.effects import apa

        return apa(self, **kwargs)

    def icc(self, by_level: bool = False) -> Any:
        """Intraclass correlations; see :func:`alliancestats.effects.icc`.

        Parameters
        ----------
        by_level : bool, default False
            Add one row per grouping factor (and the nested correlations).

        Returns
        -------
        IccResult
            Adjusted and unadjusted ICC with the variance components.
        """
        from alliancestats.effects import icc

        return icc(self, by_level=by_level)

    def r2(self, **kwargs: Any) -> Any:
        """Marginal and conditional R² (Nakagawa & Schielzeth); see :func:`alliancestats.effects.r2`.

        Parameters
        ----------
        **kwargs
            Passed to :func:`alliancestats.effects.r2`.

        Returns
        -------
        R2Result
            Marginal and conditional R² with the variance components they rest on.
        """
        from alliancestats.effects import r2

        return r2(self, **kwargs)

    def summary(self, ddf: str | None = None) -> str:
        """Text summary laid out like lme4's ``print(summary(fit))``.

        Parameters
        ----------
        ddf : {"Satterthwaite", "Kenward-Roger"}, optional
            Denominator df of the t tests (LMM); default: the fit's :attr:`ddf` (see
            :meth:`with_ddf`).

        Returns
        -------
        str
            Title, formula, REML criterion (or ``AIC BIC logLik deviance df.resid``), scaled
            residuals (Pearson residuals for GLMMs), random effects (variances, SDs,
            correlations), ``Number of obs: n, groups:  g, n; ...``, the fixed-effects table
            (``< 2e-16`` p floors, significance stars), the correlation of the fixed effects
            (up to 12 coefficients, as lme4) and the fit's messages (singular fit,
            convergence, dropped rows).

        Notes
        -----
        Numbers are formatted as R formats them (``printCoefmat``, lme4's ``formatVC``,
        ``abbreviate`` for the correlation block); compared with lme4 1.1-31 / lmerTest
        3.1-3 printed summaries of sleepstudy (REML, ML, ``||`` with Kenward-Roger), Pastes,
        two therapist/patient models (one singular), cbpp and grouseticks: the same numbers
        to the printed digits.

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> from alliancestats.models import lmm
        >>> df = simulate_sessions(n_therapists=6, seed=4).dropna(subset=["pain"])
        >>> text = lmm("pain ~ session + (1 | patient)", df).summary()
        >>> text.splitlines()[0]
        "Linear mixed model fit by REML. t-tests use Satterthwaite's method"
        """
        from alliancestats.models.summary_text import summary_text

        method = self._ddf_method(ddf)
        result = self if method == self.ddf else self.with_ddf(method)
        return summary_text(result, method)

    def __repr__(self) -> str:
        return (
            f"<MixedResult {self.method} {self.formula!r}: nobs={self.nobs}, "
            f"deviance={self.deviance:.4f}, converged={self.converged}, singular={self.singular}>"
        )

