"""Generalised linear mixed models fitted like ``lme4::glmer``.

:func:`glmm` fits binomial, Poisson, Gamma, Gaussian (log/inverse link), inverse Gaussian and
negative binomial mixed models (:mod:`alliancestats.models.families`) written in lme4 formula
syntax, by the Laplace approximation (``nAGQ=1``, penalised iteratively reweighted least
squares; :mod:`alliancestats.models.pirls`), glmer's ``nAGQ=0`` first stage alone, or adaptive
Gauss-Hermite quadrature for a single scalar random effect (``nAGQ > 1``;
:mod:`alliancestats.models.agq`); the negative binomial shape is estimated as ``glmer.nb``
(:mod:`alliancestats.models.glmm_nb`). The formula
parser, design matrices and result class are shared with :func:`alliancestats.models.lmm`
(:mod:`.formula`, :mod:`.design`, :mod:`.results`).

Fitting follows glmer's two stages: first the covariance parameters ``theta`` are optimised
by BOBYQA with the fixed effects ``beta`` taken from the joint conditional mode of
``(u, beta)`` (glmer's ``nAGQ = 0`` step), then ``(theta, beta)`` are optimised together on
the Laplace or quadrature deviance (L-BFGS-B, with the exact Laplace gradient where
available). Both stages work on ``theta`` and ``beta`` scaled by the root-mean-square of
their columns, so slopes on covariates in centimetres or years are as easy as intercepts; a
search that ends at a zero variance is restarted from inside the parameter space before the
fit is called singular (:mod:`.glmm_optim`). The optimum is polished by Newton steps and
checked with lme4's scaled-gradient criterion.
Standard errors come, as in lme4 >= 1.1, from the Hessian of the deviance in
``(theta, beta)``, falling back to the ``RX``-based approximation when that Hessian is not
positive definite.

Examples
--------
>>> from alliancestats.models.glmm import glmm
>>> from alliancestats.simulate import simulate_sessions
>>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
>>> fit = glmm("adhered ~ session + alliance + (1 | patient)", d, family="binomial")
>>> fit.method, list(fit.ngroups)
('Laplace', ['patient'])
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import check_bool, check_choice, check_level
from alliancestats.errors import (
    ModelSpecificationError,
    SeparationWarning,
    SingularFitWarning,
)
from alliancestats.models.agq import MAX_NAGQ
from alliancestats.models.control import Control, as_control
from alliancestats.models.families import Family, exp_wald_table, get_family
from alliancestats.models.glmm_fit import GlmmFit, fit_glmm
from alliancestats.models.glmm_inputs import prepare_inputs
from alliancestats.models.glmm_nb import fit_glmm_nb, nb_family_needs_shape
from alliancestats.models.glmm_optim import glm_start
from alliancestats.models.pirls import PirlsProblem, ReStructure
from alliancestats.models.results import MixedResult
from alliancestats.models.separation import SeparationResult, detect_separation

__all__ = ["GlmmResult", "glmm", "result_from_fit"]


# ---------------------------------------------------------------------------- result class
class GlmmResult(MixedResult):
    """A fitted GLMM: :class:`~alliancestats.models.results.MixedResult` plus GLMM extras.

    Attributes
    ----------
    link : str
        Link function name.
    nagq : int
        Number of quadrature nodes (1 = Laplace).
    overdispersion : pandas.Series or None
        ``pearson_chi2, df, ratio, p`` for Poisson fits and binomial fits with more than one
        trial per row (None for 0/1 responses, where the statistic is uninformative).
    separation : SeparationResult
        Result of the linear-programming separation check of the fixed part.
    vcov_method : str
        ``"hessian"`` (lme4's default) or ``"rx"`` (fallback; ``nAGQ = 0`` and
        ``calc_derivs=False`` as lme4).
    sigma : float
        lme4's residual scale for Gamma, Gaussian and inverse Gaussian fits (1 otherwise).
    nb_theta : pandas.Series or None
        Negative binomial with an estimated shape: ``estimate, se, log_estimate, se_log,
        ci_low, ci_high`` (Wald on the log scale), ``at_search_bound``, ``evaluations``.
    """

    def predict(  # type: ignore[override]
        self,
        newdata: pd.DataFrame | None = None,
        random: bool = True,
        type: str = "link",  # noqa: A002 - lme4's argument name
        se: bool = False,
        interval: str | None = None,
        level: float = 0.95,
    ) -> pd.Series | pd.DataFrame:
        """Predictions on the link (default, as lme4) or response scale.

        Parameters
        ----------
        newdata : DataFrame, optional
            New rows; the fitted rows when omitted. Groups not seen in the fit get the
            population-level prediction (random effects zero), as lme4's
            ``allow.new.levels = TRUE``.
        random : bool, default True
            Include the random effects (lme4's ``re.form = NULL``); ``False`` gives
            population-level predictions (``re.form = NA``).
        type : {"link", "response"}
            Scale of the predictions.
        se, interval, level
            Standard errors and a ``"confidence"`` interval (Wald on the link scale,
            back-transformed for ``type="response"``), as
            :meth:`MixedResult.predict <alliancestats.models.results.MixedResult.predict>`.

        Returns
        -------
        pandas.Series or pandas.DataFrame

        Examples
        --------
        >>> import pandas as pd
        >>> from alliancestats.simulate import simulate_sessions
        >>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
        >>> fit = glmm("adhered ~ alliance + (1 | patient)", d)
        >>> new = pd.DataFrame({"alliance": [3.0, 4.5], "patient": ["P001", "not-in-data"]})
        >>> p = fit.predict(new, type="response")  # the unseen patient gets the population value
        >>> bool(p.iloc[1] == fit.predict(new, random=False, type="response").iloc[1])
        True
        """
        check_choice("type", type, ["link", "response"])
        if se or interval is not None:
            from alliancestats.effects.prediction import predictions

            return predictions(self, newdata, random=random, interval=interval, level=level,
                               type=type)
        eta = self.model.linear_predictor(newdata, random)
        values = eta if type == "link" else self.model.linkinv(eta)
        index = self.fitted.index if newdata is None else newdata.index
        return pd.Series(values, index=index, name="predicted")

    def summary(self) -> str:
        """Text summary laid out like lme4's ``summary(glmer_fit)``, plus GLMM diagnostics.

        Returns
        -------
        str
            The mixed-model summary with the family and link, followed by the overdispersion
            statistic, any separation finding and the quadrature note for ``nAGQ > 1``.

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
        >>> text = glmm("adhered ~ alliance + (1 | patient)", d).summary()
        >>> text.splitlines()[1]
        ' Family: binomial ( logit )'
        """
        text = super().summary().split("\n")
        text.insert(1, f" Family: {self.model.inputs.family.r_name} ( {self.link} )")
        extra = []
        if self.overdispersion is not None:
            od = self.overdispersion
            extra.append(
                f"Overdispersion: Pearson chi2 = {od['pearson_chi2']:.2f} on {od['df']:.0f} df, "
                f"ratio = {od['ratio']:.3f}, p = {od['p']:.3g}"
            )
        if self.separation.separated:
            extra.append(self.separation.message())
        if self.nagq > 1:
            extra.append(
                f"log-likelihood from {self.nagq}-point adaptive Gauss-Hermite quadrature "
                "(lme4's convention: compare only with fits using the same nAGQ)"
            )
        return "\n".join(text + ([""] + extra if extra else []))

    def fixed_exp(self, level: float | None = None) -> pd.DataFrame:
        """Exponentiated fixed effects: odds ratios (logit) or rate ratios (log link).

        Parameters
        ----------
        level : float, optional
            Confidence level (default: the level of the fit).

        Returns
        -------
        pandas.DataFrame
            Indexed by term with columns ``odds_ratio`` (or ``rate_ratio``), ``ci_low``,
            ``ci_high``, ``p``: Wald intervals transformed by ``exp``.

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
        >>> fit = glmm("adhered ~ alliance + (1 | patient)", d)
        >>> ors = fit.fixed_exp()
        >>> bool(ors.loc["alliance", "ci_low"] < ors.loc["alliance", "odds_ratio"])
        True
        """
        if self.link not in ("logit", "log"):
            raise ModelSpecificationError(
                f"exponentiated coefficients are odds or rate ratios only for logit and log "
                f"links; this model uses the {self.link} link"
            )
        level = self.level if level is None else check_level(level)
        return exp_wald_table(self.fixed, self.link, level)


def glmm(
    formula: str,
    data: Any,
    *,
    family: str | Family = "binomial",
    link: str | None = None,
    trials: str | np.ndarray | None = None,
    weights: str | np.ndarray | None = None,
    offset: str | np.ndarray | None = None,
    nAGQ: int = 1,  # noqa: N803 - lme4's argument name
    level: float = 0.95,
    check_separation: bool = True,
    control: Control | dict[str, Any] | None = None,
) -> GlmmResult:
    """Fit a generalised linear mixed model like ``lme4::glmer`` (and ``glmer.nb``).

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"adhered ~ session + alliance_within + (1 | patient)"``.
        Binomial responses may be 0/1 (numbers or booleans), a two-level categorical column
        (first category = failure, as R), a ``cbind(successes, failures)`` expression, or
        successes with ``trials=``; ``offset(log(exposure))`` terms are allowed.
    data : pandas.DataFrame
        Long-format data, one row per observation (session).
    family : str, Family or statsmodels family object
        ``"binomial"``, ``"poisson"``, ``"gamma"``, ``"gaussian"`` (log or inverse link),
        ``"inverse_gaussian"`` or ``"negative_binomial"``; R's spellings (``"Gamma"``,
        ``"inverse.gaussian"``) and statsmodels family objects are translated.
    link : str, optional
        Link function; the family's default when omitted (logit; log; inverse; log for the
        Gaussian GLMM; 1/mu^2; log). See the GLMM documentation page for the full table.
    trials : str or array, optional
        Number of trials per row (binomial); the response then counts successes.
    weights : str or array, optional
        Prior weights (R's ``weights=``; for a binomial proportion response, the trials).
    offset : str or array, optional
        Offset added to the linear predictor (e.g. a column holding log prescribed
        exercises). Adds to any ``offset(...)`` term of the formula.
    nAGQ : int, default 1
        1 for the Laplace approximation; ``> 1`` for adaptive Gauss-Hermite quadrature with
        that many nodes (only for a single scalar random effect, as in glmer); 0 for glmer's
        first stage alone (fixed effects at the joint conditional mode, ``RX`` standard
        errors).
    level : float, default 0.95
        Confidence level of the Wald intervals in ``fixed``.
    check_separation : bool, default True
        Run the linear-programming separation check on the fixed part (binomial and
        Poisson) and warn with :class:`~alliancestats.errors.SeparationWarning`.
    control : Control or dict, optional
        Fitting options mirroring ``glmerControl``
        (:class:`~alliancestats.models.control.Control`): optimiser per stage, tolerances,
        ``check_conv_*`` levels, ``calc_derivs``.

    Returns
    -------
    GlmmResult
        A :class:`~alliancestats.models.results.MixedResult` with ``fixed`` (columns
        ``estimate, se, df, z, p, ci_low, ci_high``; ``df`` infinite), ``varcorr``,
        ``loglik``, ``deviance`` (-2 log-likelihood), ``aic``, ``bic``, ``ranef``,
        ``predict(newdata, random, type)``, ``fixed_exp()`` (odds or rate ratios),
        ``overdispersion``, ``separation``, ``sigma`` (families with a residual scale) and
        ``nb_theta`` (negative binomial: shape estimate, SE, Wald interval).

    Raises
    ------
    FormulaError
        Unknown columns, no random-effects term.
    DataValidationError
        Responses outside the family's support, bad trials/weights/offsets (negative,
        infinite, non-integer trials), a categorical response with other than two
        categories, or no information left in the rows with positive trials/weights.
    ModelSpecificationError
        Unsupported family/link, ``nAGQ > 1`` with several or vector-valued random effects.

    Warns
    -----
    SingularFitWarning
        A variance component is estimated on the boundary (zero variance or perfect
        correlation).
    SeparationWarning
        Complete or quasi-complete separation; names the diverging terms.
    ConvergenceWarning
        The optimum failed lme4's scaled-gradient check.
    DroppedRowsWarning
        Rows with missing values were dropped.

    Notes
    -----
    Laplace approximation by penalised iteratively reweighted least squares and adaptive
    Gauss-Hermite quadrature as in lme4 (Bates, Mächler, Bolker & Walker 2015, J Stat Softw
    67(1); Pinheiro & Bates 1995, J Comput Graph Stat 4(1)). For ``nAGQ > 1`` the
    log-likelihood uses lme4's convention (deviance residuals, i.e. without the saturated
    log-likelihood), so it is comparable only between fits with the same ``nAGQ``.

    Validated against lme4 1.1-31 ``glmer`` (R 4.2.2) on cbpp (binomial with trials; logit,
    probit, cloglog; Laplace and nAGQ = 9), grouseticks (Poisson, two random intercepts;
    nAGQ = 8) and adherence data simulated with ``simulate_sessions`` (binary with patient
    and therapist intercepts, successes out of trials, Poisson with an offset, a correlated
    random slope, near separation; see the validation page of the documentation). Tested
    tolerances: log-likelihood
    1e-5 relative, fixed effects 1e-3, standard errors and variance components 1e-2. Worst
    observed differences to glmer's defaults: log-likelihood 3.1e-6 relative, fixed effects
    5.7e-4, SDs 2e-4, standard errors 1.3% (all on cbpp/logit). glmer's default PIRLS
    tolerance (1e-7 relative) leaves its Laplace deviance slightly inexact; refitted with
    ``glmerControl(tolPwrss = 1e-10)`` it agrees with this implementation to 1e-10 in the
    log-likelihood and 1e-5 in the SEs on cbpp. AGQ fits agree to better than 1e-9.
    Gamma (inverse/log links, nested and random-slope designs, nAGQ = 5), Gaussian-log,
    inverse Gaussian, Poisson sqrt/identity and ``nAGQ = 0`` fits agree with glmer
    (``tolPwrss = 1e-10``) within 2e-4 in the log-likelihood, 1e-4 in the fixed effects and
    5e-4 (relative) in the SEs; every ``control`` optimiser reaches that optimum within 1e-4.
    The negative binomial agrees with ``lme4::glmer.nb`` (theta 1e-4 relative, log-likelihood
    1e-5) and with glmmTMB 1.1.5 ``nbinom2`` to the difference between the two Laplace
    approximations (theta 0.3%, SE of log theta 1%).
    Two-level factor responses (either level order) and rows with zero trials agree with
    glmer to the same tolerances. Correlated random slopes on badly scaled covariates
    (lme4's grouseticks with a slope of height in centimetres, mlmRev's Contraception with
    slopes of age in years, and simulated designs with slope SDs 1/10 and 1/100 of the
    intercept SD) reach glmer's (or glmmTMB's) best log-likelihood within 1e-6 relative.
    Conditional modes and variances (``ranef``, ``cond_var``) agree within 5e-4; profile
    intervals (``confint(method="profile")``, models with random intercepts only) within 9e-4
    of lme4's ``confint(method = "profile")``; Wald intervals for SDs use the delta method.

    Standard errors use lme4's default, the inverse Hessian of the deviance in
    ``(theta, beta)``: differences of the exact Laplace gradient (available for a single
    scalar term, or when the PIRLS system fits a dense or block factorisation), otherwise
    second differences of the deviance as lme4's ``deriv12`` (also for ``nAGQ > 1``); the
    ``RX`` approximation is the fallback when that Hessian is not positive definite.

    On lme4's ``cbpp`` data, ``glmm("cbind(incidence, size - incidence) ~ period + (1 |
    herd)", cbpp)`` (``period`` as a factor) gives fixed effects -1.399, -0.992, -1.129,
    -1.580 and herd SD 0.642, as glmer.

    Examples
    --------
    Adherence (0/1 per session) with a patient random intercept (add ``+ (1 | therapist)``
    for therapist effects):

    >>> from alliancestats.simulate import simulate_sessions
    >>> d = simulate_sessions(n_therapists=8, seed=4).dropna(subset=["adhered", "alliance"])
    >>> fit = glmm("adhered ~ session + alliance + (1 | patient)", d)
    >>> fit.fixed.columns.tolist()
    ['estimate', 'se', 'df', 'z', 'p', 'ci_low', 'ci_high']
    >>> fit.fixed_exp().columns.tolist()
    ['odds_ratio', 'ci_low', 'ci_high', 'p']
    >>> bool(fit.predict(d.head(2), type="response").between(0, 1).all())
    True

    Exercises done out of those prescribed (binomial with trials):

    >>> fit2 = glmm("exercises_done ~ alliance + (1 | patient)", d,
    ...             trials="exercises_prescribed")
    >>> bool(fit2.loglik < 0)
    True
    """
    if isinstance(nAGQ, bool) or not isinstance(nAGQ, (int, np.integer)):
        raise ModelSpecificationError(f"nAGQ must be a whole number >= 0, got {nAGQ!r}")
    nagq = int(nAGQ)
    if nagq < 0 or nagq > MAX_NAGQ:
        raise ModelSpecificationError(f"nAGQ must be between 0 and {MAX_NAGQ}, got {nagq}")
    control = as_control(control)
    level = check_level(level)
    check_separation = check_bool("check_separation", check_separation)
    inputs = prepare_inputs(formula, data, family, link, trials, weights, offset)
    design = inputs.design
    # the optimiser works on fixed effects of columns scaled to unit root-mean-square, which
    # makes badly scaled predictors (e.g. days in thousands) as easy as well-scaled ones
    scale = np.sqrt(np.mean(design.X**2, axis=0))
    scale[~(scale > 0)] = 1.0
    problem = PirlsProblem(
        inputs.y, design.X / scale, ReStructure.from_blocks(design.random), inputs.family,
        inputs.pw, inputs.offset,
    )
    if nagq > 1 and not problem.is_scalar:
        raise ModelSpecificationError(
            "nAGQ > 1 is only available for a single scalar random-effects term such as "
            "(1 | patient), as in lme4::glmer; use nAGQ=1 (Laplace) for this model"
        )
    estimate_shape = nb_family_needs_shape(inputs.family)
    # the negative binomial starts from the Poisson GLM (as glmer.nb) and separates as it
    start_family = get_family("poisson", link) if estimate_shape else inputs.family
    beta0, certified = glm_start(design.X, inputs.y, inputs.pw, inputs.offset, start_family)
    sep = SeparationResult(False, False)
    if check_separation and not certified and start_family.name in ("binomial", "poisson"):
        sep = detect_separation(
            design.X, inputs.y, design.fixed_names, family=start_family.name, weights=inputs.pw
        )
        if sep.separated:
            warnings.warn(sep.message(), SeparationWarning, stacklevel=2)
    if estimate_shape:
        fit = fit_glmm_nb(inputs, problem, beta0 * scale, scale, nagq, level, control)
    else:
        fit = fit_glmm(inputs, problem, beta0 * scale, scale, nagq, level, control)
    return result_from_fit(formula, fit, sep)


def result_from_fit(formula: str, fit: GlmmFit, sep: SeparationResult) -> GlmmResult:
    """The :class:`GlmmResult` of a fitted model (warns as :func:`glmm` does)."""
    fit.formula, fit.separation = formula, sep
    result = GlmmResult(fit, formula=formula, separation=sep, **fit.result_fields())
    if result.singular:
        warnings.warn(
            "boundary (singular) fit: a random-effect variance is estimated as (near) zero or "
            "a correlation as +/-1; simplify the random-effects structure",
            SingularFitWarning,
            stacklevel=3,
        )
    fit.warn()
    return result
