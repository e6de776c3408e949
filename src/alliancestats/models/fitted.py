"""The fitted-model interface that :class:`~alliancestats.models.MixedResult` holds.

A fitted linear (:func:`~alliancestats.models.lmm`) or generalised linear
(:func:`~alliancestats.models.glmm`) mixed model is an object that satisfies the
:class:`FittedModel` protocol below. Everything that works *after* a fit -- effect sizes
(ICC, R², marginal means), power simulation, monitoring and the report -- needs nothing but
this interface plus the public attributes of ``MixedResult`` (``fixed``, ``varcorr``,
``sigma``, ...). ``MixedResult.model`` is the fitted model.

The interface, in brief (``m = fit.model``):

===============================  ==============================================================
``m.design``                     the :class:`~alliancestats.models.design.Design`: ``X``,
                                 ``fixed_names``, ``random`` (one
                                 :class:`~alliancestats.models.design.RandomBlock` per term:
                                 ``Z``, ``codes``, ``levels``, ``colnames``, ``group``),
                                 ``offset``, ``rows``, ``data``, ``fixed_matrix(newdata)``
``m.family``, ``m.link``         ``"gaussian"``/``"identity"`` for LMM; GLMM family and link
``m.reml``                       whether the criterion was REML
``m.beta``, ``m.theta``          fixed effects (original columns) and lme4's θ
``m.sigma``                      residual SD (1.0 for binomial and Poisson)
``m.vcov_beta()``                covariance matrix of ``beta`` (p x p ndarray)
``m.covariances()``              one :class:`TermCovariance` per random term (response scale)
``m.linear_predictor(newdata,    linear predictor (``X beta + offset`` plus ``Z b`` when
random=True)``                   ``random``); fitted rows when ``newdata`` is None
``m.linkinv(eta)``               inverse link (identity for LMM)
``m.contrast_df(L, method)``     Satterthwaite (default) or Kenward-Roger df of ``L' beta``
                                 (LMM); ``inf`` for GLMM
``m.kenward_roger()``            Kenward-Roger adjusted covariance and df (LMM fitted by REML)
``m.response_values``            the response as fitted (GLMM binomial: proportions)
``m.prior_weights``              prior weights (GLMM binomial: trials); ones without weights
``m.total_offset``               offset of every row (formula ``offset()`` plus ``offset=``)
``m.varcomp_wald(level)``        Wald table of SDs, correlations and sigma (lme4 names)
``m.profile(level, progress)``   profile-likelihood intervals for every parameter
``m.refit_ml()``                 the same model fitted by ML, as a ``MixedResult``
``m.refit(y, ddf=True)``         a fast refit to a new response on the same design (:class:`Refit`)
``m.refit_null(y=None)``         the intercept-only model with the same random effects, weights
                                 and offsets (``y`` replaces the response)
``m.simulate(rng, beta=None)``   a new response drawn from the fitted model
===============================  ==============================================================

``refit`` is the engine of simulation-based power analysis: everything that does not depend
on the response (per-group sums of ``Z'Z``, ``Z'X``, ``X'X`` in the LMM; the random-effects
pattern in the GLMM) is reused, and the optimisation starts from the fitted θ.

Examples
--------
>>> import numpy as np
>>> from alliancestats.simulate import simulate_sessions
>>> from alliancestats.models import lmm
>>> from alliancestats.models.fitted import FittedModel
>>> df = simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = lmm("pain ~ session + (1 | patient)", df)
>>> isinstance(fit.model, FittedModel)
True
>>> y_new = fit.model.simulate(np.random.default_rng(1))
>>> r = fit.model.refit(y_new)
>>> r.beta.shape, bool(r.df[1] > 0)
((2,), True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pandas as pd

    from alliancestats.models.design import Design
    from alliancestats.models.kenward_roger import KenwardRoger
    from alliancestats.models.results import MixedResult

__all__ = ["FittedModel", "FittedModelBase", "Refit", "TermCovariance", "read_only"]

#: column holding the response of a formula refit (a name no data set uses)
REFIT_RESPONSE = "refit_response_"


@dataclass(frozen=True)
class TermCovariance:
    """Covariance matrix of one random-effects term on the response (link) scale.

    Attributes
    ----------
    group : str
        Grouping factor as in ``varcorr["grp"]`` (``"patient"``, ``"therapist:patient"``,
        ``"patient.1"`` for the second part of a ``||`` term).
    factor : str
        The grouping factor's name without lme4's ``.1`` suffix for split ``||`` terms.
    colnames : tuple of str
        Names of the term's random effects (``"(Intercept)"``, ``"session"``).
    cov : numpy.ndarray
        ``q x q`` covariance matrix (``sigma**2 * Lambda Lambda'`` for LMM).
    term : int
        Position of the term in ``design.random`` (whose ``Z`` columns match ``colnames``).
    """

    group: str
    factor: str
    colnames: tuple[str, ...]
    cov: np.ndarray
    term: int


@dataclass
class Refit:
    """Result of :meth:`FittedModel.refit`: the model refitted to a new response.

    Attributes
    ----------
    beta, se : numpy.ndarray
        Fixed effects and their standard errors, in the order of ``design.fixed_names``.
    vcov : numpy.ndarray
        Covariance matrix of ``beta``.
    df : numpy.ndarray
        Satterthwaite df per coefficient (LMM with ``ddf=True``); ``inf`` for GLMM; NaN
        when not computed.
    theta : numpy.ndarray
        lme4's θ at the optimum.
    sigma : float
        Residual SD (1.0 for binomial and Poisson).
    deviance : float
        REML criterion (REML fits) or -2 log-likelihood.
    converged, singular : bool
        Gradient check passed; a variance component on the boundary (lme4's ``isSingular``).
    contrast_df : callable or None
        ``contrast_df(L)`` gives the Satterthwaite df of ``L' beta`` (None without ``ddf``).
    covariances : list of TermCovariance
        Covariance matrix of every random-effects term at the refit's θ (response scale),
        in ``design.random`` order, as :meth:`FittedModel.covariances` for the fit.
    """

    beta: np.ndarray
    se: np.ndarray
    vcov: np.ndarray
    df: np.ndarray
    theta: np.ndarray
    sigma: float
    deviance: float
    converged: bool
    singular: bool
    contrast_df: Any = field(default=None, repr=False)
    covariances: list[TermCovariance] = field(default_factory=list, repr=False)

    @property
    def statistic(self) -> np.ndarray:
        """Wald statistics ``beta / se`` (t for LMM, z for GLMM)."""
        return self.beta / self.se

    def p_values(self) -> np.ndarray:
        """Two-sided p values: t with ``df`` where finite, standard normal otherwise."""
        from scipy import stats

        stat = np.abs(self.statistic)
        df = np.asarray(self.df, dtype=float)
        t_p = 2.0 * stats.t.sf(stat, np.where(np.isfinite(df), df, 1.0))
        return np.where(np.isfinite(df), t_p, 2.0 * stats.norm.sf(stat))


@runtime_checkable
class FittedModel(Protocol):
    """What a fitted mixed model offers after the fit (see the module docstring).

    Implemented by :class:`~alliancestats.models.lmm_fit.LmmFit` and
    :class:`~alliancestats.models.glmm_fit.GlmmFit`.

    Attributes
    ----------
    design : Design
        Response, fixed-effects matrix and random-effect terms of the fitted rows.
    family, link : str
        ``"gaussian"`` / ``"identity"`` for linear mixed models.
    reml : bool
        Whether the fit maximised the REML criterion.
    beta : numpy.ndarray
        Fixed effects.
    theta : numpy.ndarray
        lme4's relative covariance parameters.
    sigma : float
        Residual SD (1 for binomial and Poisson).
    """

    design: Design
    family: str
    link: str
    reml: bool
    beta: np.ndarray
    theta: np.ndarray
    sigma: float

    def vcov_beta(self) -> np.ndarray:
        """Covariance matrix of the fixed effects (p x p)."""
        ...

    def covariances(self) -> list[TermCovariance]:
        """Covariance matrix of every random-effects term, in ``design.random`` order."""
        ...

    def linear_predictor(self, newdata: pd.DataFrame | None = None, random: bool = True) -> np.ndarray:
        """``X beta + offset`` (+ ``Z b`` with ``random``) for the fitted rows or ``newdata``.

        Groups not seen in the fit contribute zero random effects (lme4's
        ``allow.new.levels = TRUE``).

        Parameters
        ----------
        newdata : pandas.DataFrame, optional
            Rows to predict for; the fitted rows when omitted.
        random : bool, default True
            Include the conditional modes of the random effects.

        Returns
        -------
        numpy.ndarray
            One value per row, on the link scale.
        """
        ...

    def linkinv(self, eta: np.ndarray) -> np.ndarray:
        """Inverse link: the mean response for a linear predictor.

        Parameters
        ----------
        eta : numpy.ndarray
            Values of the linear predictor.

        Returns
        -------
        numpy.ndarray
            Means on the response scale.
        """
        ...

    def contrast_df(self, L: np.ndarray, method: str = "satterthwaite") -> float:
        """Denominator df of the Wald test of ``L @ beta``: ``method`` ``"satterthwaite"`` or
        ``"kenward-roger"`` (LMM); ``inf`` for GLMM.

        Parameters
        ----------
        L : numpy.ndarray
            Contrast vector (length p) or matrix (rows of length p).
        method : {"satterthwaite", "kenward-roger"}
            Degrees-of-freedom method.
        """
        ...

    def kenward_roger(self) -> KenwardRoger:
        """Kenward-Roger adjusted covariance of ``beta`` and its df (LMM fitted by REML)."""
        ...

    @property
    def response_values(self) -> np.ndarray:
        """The response as fitted (GLMM binomial: proportion of successes); read-only."""
        ...

    @property
    def prior_weights(self) -> np.ndarray:
        """Prior weights of the fitted rows (GLMM binomial: trials); read-only."""
        ...

    @property
    def total_offset(self) -> np.ndarray:
        """Offset of every fitted row (formula ``offset()`` terms plus ``offset=``); read-only."""
        ...

    def refit_null(self, y: np.ndarray | None = None) -> MixedResult:
        """The intercept-only model with the same random effects, weights and offsets.

        Parameters
        ----------
        y : numpy.ndarray, optional
            A response to use instead of the fitted one (one value per fitted row).
        """
        ...

    def varcomp_wald(self, level: float) -> pd.DataFrame:
        """Wald intervals of SDs, correlations (and sigma): ``estimate, ci_low, ci_high``.

        Parameters
        ----------
        level : float
            Confidence level.

        Returns
        -------
        pandas.DataFrame
            One row per variance parameter.
        """
        ...

    def profile(self, level: float, progress: bool | None = None) -> pd.DataFrame:
        """Profile-likelihood intervals of every parameter (lme4's ``confint`` rows).

        Parameters
        ----------
        level : float
            Confidence level.
        progress : bool, optional
            Show a progress bar (default: only in a terminal).

        Returns
        -------
        pandas.DataFrame
            One row per parameter with ``ci_low, ci_high``.
        """
        ...

    def refit_ml(self) -> MixedResult:
        """The same model fitted by maximum likelihood (self's result when already ML)."""
        ...

    def refit(self, y: np.ndarray, ddf: bool = True) -> Refit:
        """Refit to a new response on the same rows and design (fast; see :class:`Refit`).

        Parameters
        ----------
        y : numpy.ndarray
            The new response, one value per fitted row.
        ddf : bool, default True
            Compute Satterthwaite degrees of freedom (LMM).

        Returns
        -------
        Refit
            Estimates, standard errors, df and convergence of the refit.
        """
        ...

    def simulate(self, rng: np.random.Generator, beta: np.ndarray | None = None) -> np.ndarray:
        """A response drawn from the fitted model (new random effects and residuals).

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the random draws.
        beta : numpy.ndarray, optional
            Fixed effects to simulate with instead of the fitted ones (e.g. an effect size of
            interest for a power simulation, as simr's ``fixef<-``).

        Returns
        -------
        numpy.ndarray
            One simulated response per fitted row.
        """
        ...


def read_only(values: np.ndarray) -> np.ndarray:
    """A read-only float view of ``values`` (what the interface's array properties return)."""
    view = np.asarray(values, dtype=float).view()
    view.flags.writeable = False
    return view


class FittedModelBase:
    """Members of :class:`FittedModel` that follow from the others.

    :class:`~alliancestats.models.lmm_fit.LmmFit` and
    :class:`~alliancestats.models.glmm_fit.GlmmFit` inherit them; the defaults here are the
    linear mixed model's (an engine with prior weights or extra offsets overrides the
    properties).
    """

    design: Design
    family: str
    link: str
    reml: bool

    @property
    def response_values(self) -> np.ndarray:
        """The response as fitted; read-only."""
        return read_only(self.design.y)

    @property
    def prior_weights(self) -> np.ndarray:
        """Prior weights of the fitted rows (ones: the model has none); read-only."""
        return read_only(np.ones(self.design.nobs))

    @property
    def total_offset(self) -> np.ndarray:
        """Offset of every fitted row (the formula's ``offset()`` terms); read-only."""
        return read_only(self.design.offset)

    def kenward_roger(self) -> KenwardRoger:
        """Kenward-Roger adjusted covariance of ``beta`` (computed once, then kept).

        Raises :class:`~alliancestats.errors.ModelSpecificationError` for GLMMs and for
        fits by maximum likelihood; see
        :func:`~alliancestats.models.kenward_roger.kenward_roger`.
        """
        cached = self.__dict__.get("_kenward_roger")
        if cached is None:
            from alliancestats.models.kenward_roger import kenward_roger

            cached = kenward_roger(self)
            self.__dict__["_kenward_roger"] = cached
        return cached

    def refit_null(self, y: np.ndarray | None = None) -> MixedResult:
        """The intercept-only model with the same random effects, weights and offsets.

        As ``insight::null_model`` for lme4 fits (the fixed part replaced by ``~ 1``);
        ``y`` replaces the response (one value per fitted row, on the scale of
        :attr:`response_values`), e.g. for bootstrap replicates.
        """
        d = self.design
        values = self.response_values if y is None else np.asarray(y, dtype=float)
        if values.shape != (d.nobs,):
            raise ValueError(f"y must have one value per fitted row ({d.nobs}), got "
                             f"{values.shape}")
        frame = d.data.copy()
        frame[REFIT_RESPONSE] = values
        # label_vars keep the grouping variables of terms that lme4-style naming renamed
        random = " + ".join(f"({b.lhs} | {':'.join(b.label_vars)})" for b in d.random)
        formula = f"{REFIT_RESPONSE} ~ 1 + {random}"
        # from the submodules (already loaded by the fit): a package-level import could
        # return the submodule where it was imported by name before the function
        if self.family == "gaussian":
            from alliancestats.models.lmm import lmm

            formula += "".join(f" + offset({o})" for o in d.parsed.offsets)
            return lmm(formula, frame, reml=bool(self.reml),
                       weights=np.asarray(self.prior_weights),
                       control=getattr(self, "control", None))
        from alliancestats.models.glmm import glmm

        return glmm(formula, frame, family=self.family, link=self.link,
                    weights=np.asarray(self.prior_weights), offset=np.asarray(self.total_offset),
                    nAGQ=int(getattr(self, "nagq", 1)), check_separation=False)
