"""Response families and link functions for generalised linear (mixed) models.

A :class:`Family` bundles what the penalised iteratively reweighted least-squares algorithm
(:mod:`alliancestats.models.pirls`) needs: the link (``linkfun``, ``linkinv``, ``mu_eta``), the
variance function, deviance residuals and R's ``family$aic`` (-2 log-likelihood, with the
dispersion plugged in for families that have one). The numerical safeguards (clamping of the
inverse link and of ``d mu / d eta``) follow R's ``stats`` families, which is what
``lme4::glmer`` evaluates.

Supported families and links (the first link is the default, as in R):

==================== ================================= ==========================
family               links                             dispersion
==================== ================================= ==========================
``binomial``         logit, probit, cloglog            none
``poisson``          log, identity, sqrt               none
``gamma``            inverse, log, identity            estimated (lme4's sigma)
``gaussian``         log, inverse (identity: ``lmm``)  estimated (lme4's sigma)
``inverse_gaussian`` 1/mu^2, inverse, log, identity    estimated (lme4's sigma)
``negative_binomial`` log, sqrt, identity              shape theta (NB2)
==================== ================================= ==========================

R's spellings (``"Gamma"``, ``"inverse.gaussian"``, ``"negative.binomial"``) are accepted too.

Examples
--------
>>> import numpy as np
>>> fam = get_family("binomial", "logit")
>>> float(fam.link.linkinv(np.array([0.0]))[0])
0.5
>>> get_family("poisson").link.name
'log'
>>> get_family("Gamma").link.name, get_family("Gamma").has_dispersion
('inverse', True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from alliancestats.errors import ModelSpecificationError

__all__ = ["FAMILIES", "Family", "Link", "exp_wald_table", "get_family", "simulate_response"]

_EPS = np.finfo(float).eps
_LOGIT_THRESH = -np.log(_EPS)  # |eta| beyond which R's logit inverse link saturates (~36)
_PROBIT_THRESH = -stats.norm.ppf(_EPS)  # ~8.13, as in R's probit linkinv
_CLOGLOG_ETA_MAX = 700.0

Array = np.ndarray


@dataclass(frozen=True)
class Link:
    """A link function ``eta = g(mu)``: inverse, ``d mu / d eta`` and its derivative."""

    name: str
    linkfun: Callable[[Array], Array]
    linkinv: Callable[[Array], Array]
    mu_eta: Callable[[Array], Array]
    mu_eta_deriv: Callable[[Array], Array]


def _logit_inv(eta: Array) -> Array:
    return special.expit(np.clip(eta, -_LOGIT_THRESH, _LOGIT_THRESH))


def _logit_mu_eta(eta: Array) -> Array:
    e = np.clip(eta, -_LOGIT_THRESH, _LOGIT_THRESH)
    p = special.expit(e)
    return np.maximum(p * (1.0 - p), _EPS)


def _probit_inv(eta: Array) -> Array:
    return special.ndtr(np.clip(eta, -_PROBIT_THRESH, _PROBIT_THRESH))


def _probit_mu_eta(eta: Array) -> Array:
    return np.maximum(np.exp(-0.5 * eta * eta) / np.sqrt(2.0 * np.pi), _EPS)


def _cloglog_inv(eta: Array) -> Array:
    return np.clip(-np.expm1(-np.exp(np.minimum(eta, _CLOGLOG_ETA_MAX))), _EPS, 1.0 - _EPS)


def _cloglog_mu_eta(eta: Array) -> Array:
    e = np.minimum(eta, _CLOGLOG_ETA_MAX)
    return np.maximum(np.exp(e - np.exp(e)), _EPS)


def _log_inv(eta: Array) -> Array:
    return np.maximum(np.exp(eta), _EPS)


def _logit_mu_eta_deriv(eta: Array) -> Array:
    p = special.expit(np.clip(eta, -_LOGIT_THRESH, _LOGIT_THRESH))
    return p * (1.0 - p) * (1.0 - 2.0 * p)


def _probit_mu_eta_deriv(eta: Array) -> Array:
    return -eta * np.exp(-0.5 * eta * eta) / np.sqrt(2.0 * np.pi)


def _cloglog_mu_eta_deriv(eta: Array) -> Array:
    e = np.minimum(eta, _CLOGLOG_ETA_MAX)
    return np.exp(e - np.exp(e)) * (1.0 - np.exp(e))


LINKS: dict[str, Link] = {
    "logit": Link("logit", special.logit, _logit_inv, _logit_mu_eta, _logit_mu_eta_deriv),
    "probit": Link("probit", special.ndtri, _probit_inv, _probit_mu_eta, _probit_mu_eta_deriv),
    "cloglog": Link(
        "cloglog",
        lambda mu: np.log(-np.log1p(-mu)),
        _cloglog_inv,
        _cloglog_mu_eta,
        _cloglog_mu_eta_deriv,
    ),
    "log": Link("log", np.log, _log_inv, _log_inv, _log_inv),
    "identity": Link(
        "identity", lambda mu: np.asarray(mu, float), lambda eta: np.asarray(eta, float),
        np.ones_like, np.zeros_like,
    ),
    "sqrt": Link("sqrt", np.sqrt, np.square, lambda eta: 2.0 * eta, lambda eta: np.full_like(eta, 2.0)),
    "inverse": Link(
        "inverse", lambda mu: 1.0 / mu, lambda eta: 1.0 / eta, lambda eta: -1.0 / (eta * eta),
        lambda eta: 2.0 / eta**3,
    ),
    "1/mu^2": Link(
        "1/mu^2", lambda mu: 1.0 / (mu * mu), lambda eta: 1.0 / np.sqrt(eta),
        lambda eta: -0.5 / eta**1.5, lambda eta: 0.75 / eta**2.5,
    ),
}


def _xlogy_ratio(y: Array, mu: Array) -> Array:
    """``y * log(y / mu)`` with the convention ``0 * log 0 = 0``."""
    return special.xlogy(y, y) - special.xlogy(y, mu)


@dataclass(frozen=True)
class Family:
    """An exponential-family response distribution with a link.

    Attributes
    ----------
    name : str
        ``"binomial"``, ``"poisson"``, ``"gamma"``, ``"gaussian"``, ``"inverse_gaussian"`` or
        ``"negative_binomial"``.
    link : Link
        The link function.
    nb_theta : float or None
        Shape parameter of the negative binomial (``var = mu + mu^2 / theta``); None for the
        other families and for a negative binomial whose theta is still to be estimated.
    """

    name: str
    link: Link
    nb_theta: float | None = None

    # -- description -------------------------------------------------------------------------
    @property
    def has_dispersion(self) -> bool:
        """Whether lme4 estimates a residual scale (``sigma``) for this family."""
        return self.name in _DISPERSION

    @property
    def result_name(self) -> str:
        """The name a fitted model reports: the family, or ``"gaussian_<link>"`` for a
        Gaussian GLMM, so that it is never mistaken for a linear mixed model."""
        return f"gaussian_{self.link.name}" if self.name == "gaussian" else self.name

    @property
    def r_name(self) -> str:
        """The family as R prints it (``"Gamma"``, ``"Negative Binomial(2.5)"``)."""
        if self.name == "negative_binomial":
            th = "theta" if self.nb_theta is None else f"{round(self.nb_theta, 4):.10g}"
            return f"Negative Binomial({th})"
        return _R_NAMES.get(self.name, self.name)

    def with_nb_theta(self, theta: float) -> Family:
        """The negative-binomial family with shape ``theta``."""
        return Family(self.name, self.link, float(theta))

    # -- moments ---------------------------------------------------------------------------
    def variance(self, mu: Array) -> Array:
        """Variance function ``V(mu)`` (per unit prior weight)."""
        name = self.name
        if name == "binomial":
            return np.maximum(mu * (1.0 - mu), _EPS)
        if name == "poisson":
            return np.maximum(mu, _EPS)
        if name == "gaussian":
            return np.ones_like(mu)
        if name == "gamma":
            return mu * mu
        if name == "inverse_gaussian":
            return mu**3
        return mu + mu * mu / self._theta()

    def variance_deriv(self, mu: Array) -> Array:
        """Derivative ``V'(mu)`` of the variance function."""
        name = self.name
        if name == "binomial":
            return 1.0 - 2.0 * mu
        if name == "poisson":
            return np.ones_like(mu)
        if name == "gaussian":
            return np.zeros_like(mu)
        if name == "gamma":
            return 2.0 * mu
        if name == "inverse_gaussian":
            return 3.0 * mu * mu
        return 1.0 + 2.0 * mu / self._theta()

    def valid_eta_mu(self, mu: Array) -> bool:
        """Whether every fitted mean lies inside the parameter space."""
        if not np.all(np.isfinite(mu)):
            return False
        if self.name == "binomial":
            return bool(np.all((mu > 0) & (mu < 1)))
        if self.name == "gaussian":
            return True
        return bool(np.all(mu > 0))

    def _theta(self) -> float:
        if self.nb_theta is None:
            raise ModelSpecificationError("the negative binomial shape theta is not set")
        return self.nb_theta

    # -- deviance and likelihood -------------------------------------------------------------
    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        """Unit deviance contributions (squared deviance residuals), as R's ``dev.resids``."""
        name = self.name
        if name == "binomial":
            return 2.0 * wt * (_xlogy_ratio(y, mu) + _xlogy_ratio(1.0 - y, 1.0 - mu))
        if name == "poisson":
            return 2.0 * wt * (_xlogy_ratio(y, mu) - (y - mu))
        if name == "gaussian":
            return wt * (y - mu) ** 2
        if name == "gamma":
            ratio = np.where(y == 0, 1.0, np.divide(y, mu, out=np.ones_like(mu), where=y != 0))
            return -2.0 * wt * (np.log(ratio) - (y - mu) / mu)
        if name == "inverse_gaussian":
            return wt * (y - mu) ** 2 / (y * mu * mu)
        th = self._theta()
        return 2.0 * wt * (
            special.xlogy(y, np.maximum(y, 1.0) / mu) - (y + th) * np.log((y + th) / (mu + th))
        )

    def aic(self, y: Array, mu: Array, wt: Array, dev: float) -> float:
        """R's ``family$aic(y, n, mu, wt, dev)``: -2 log-likelihood at ``mu``.

        For families with a dispersion parameter R plugs in ``dev / sum(wt)`` (Gaussian:
        ``dev / n``) and adds 2 for it; lme4's Laplace deviance is ``log det + |u|^2`` plus this
        value, with ``dev`` the sum of the deviance residuals at the conditional modes.
        """
        name = self.name
        if name in ("binomial", "poisson"):
            return float(np.sum(self.minus2_loglik(y, mu, wt)))
        if name == "gaussian":
            n = y.size
            return float(n * (np.log(2.0 * np.pi * dev / n) + 1.0) + 2.0 - np.sum(np.log(wt)))
        if name == "gamma":
            disp = dev / np.sum(wt)
            logd = stats.gamma.logpdf(y, 1.0 / disp, scale=mu * disp)
            return float(-2.0 * np.sum(logd * wt) + 2.0)
        if name == "inverse_gaussian":
            sw = float(np.sum(wt))
            return float(sw * (1.0 + np.log(2.0 * np.pi * dev / sw)) + 3.0 * np.sum(np.log(y) * wt) + 2.0)
        th = self._theta()
        term = (
            (y + th) * np.log(mu + th) - special.xlogy(y, mu) + special.gammaln(y + 1.0)
            - th * np.log(th) + special.gammaln(th) - special.gammaln(th + y)
        )
        return float(2.0 * np.sum(term * wt))

    def aic_dev_factor(self, y: Array, mu: Array, wt: Array, dev: float) -> float:
        """``kappa`` with ``d aic / d mu_i = kappa * d dev_i / d mu_i`` for every row.

        1 for families without a dispersion parameter (the log-likelihood and the deviance
        differ by a constant); for the others the plugged-in dispersion ``dev / sum(wt)`` makes
        ``aic`` a function of the deviance, and for the Gamma family also of each ``mu_i``
        through the gamma density (the per-row derivative is then proportional to the
        deviance's as well). Used by the exact gradient of the Laplace deviance.
        """
        name = self.name
        if name == "gaussian":
            return y.size / dev
        if name == "inverse_gaussian":
            return float(np.sum(wt)) / dev
        if name == "gamma":
            sw = float(np.sum(wt))
            phi = dev / sw
            dphi = np.sum(wt * (special.digamma(1.0 / phi) + np.log(mu * phi / y) - 1.0 + y / mu))
            return 1.0 / phi - 2.0 * dphi / (phi * phi * sw)
        return 1.0

    def minus2_loglik(self, y: Array, mu: Array, wt: Array) -> Array:
        """Per-observation ``-2 log p(y | mu)`` (binomial and Poisson; R's ``family$aic`` terms).

        For the binomial family ``y`` is the proportion of successes and ``wt`` the number of
        trials; for the Poisson family ``wt`` multiplies each log-density.
        """
        if self.name == "binomial":
            m = wt
            k = np.rint(m * y)
            logc = (
                special.gammaln(m + 1.0) - special.gammaln(k + 1.0) - special.gammaln(m - k + 1.0)
            )
            ll = logc + special.xlogy(k, mu) + special.xlog1py(m - k, -mu)
            return np.where(m > 0, -2.0 * ll, 0.0)
        if self.name == "poisson":
            ll = special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)
            return -2.0 * wt * ll
        raise ModelSpecificationError(f"per-row log-likelihood not defined for {self.name}")

    def pearson_resid(self, y: Array, mu: Array, wt: Array) -> Array:
        """Pearson residuals ``(y - mu) sqrt(wt / V(mu))``."""
        return (y - mu) * np.sqrt(wt / self.variance(mu))

    def starting_mu(self, y: Array, wt: Array) -> Array:
        """Starting values for ``mu`` as R's ``family$initialize``."""
        if self.name == "binomial":
            return (wt * y + 0.5) / (wt + 1.0)
        if self.name == "poisson":
            return y + 0.1
        if self.name == "negative_binomial":
            return y + (y == 0) / 6.0
        return np.maximum(y, 1e-3) if self.name == "gaussian" and self.link.name != "identity" else y


FAMILIES: dict[str, tuple[str, ...]] = {
    "binomial": ("logit", "probit", "cloglog"),
    "poisson": ("log", "identity", "sqrt"),
    "gamma": ("inverse", "log", "identity"),
    "gaussian": ("identity", "log", "inverse"),
    "inverse_gaussian": ("1/mu^2", "inverse", "log", "identity"),
    "negative_binomial": ("log", "sqrt", "identity"),
}
_DISPERSION = frozenset({"gamma", "gaussian", "inverse_gaussian"})
_R_NAMES = {"gamma": "Gamma", "inverse_gaussian": "inverse.gaussian"}
_ALIASES = {
    "inverse.gaussian": "inverse_gaussian",
    "inversegaussian": "inverse_gaussian",
    "negative.binomial": "negative_binomial",
    "negativebinomial": "negative_binomial",
    "nbinom2": "negative_binomial",
    "gaussian_log": "gaussian",
    "gaussian_inverse": "gaussian",
}


def _family_name(family: str) -> str:
    name = family.strip().lower()
    return _ALIASES.get(name, name)


def get_family(family: str | Family, link: str | None = None) -> Family:
    """Look up a response family by name.

    Parameters
    ----------
    family : str, Family or statsmodels family object
        Response distribution (see the module table; R's spellings such as ``"Gamma"`` and
        ``"inverse.gaussian"`` work too); a ``statsmodels.genmod.families`` object is
        translated (its link must be one supported here).
    link : str, optional
        Link function; the family's default (first in the module table) when omitted.

    Returns
    -------
    Family

    Raises
    ------
    ModelSpecificationError
        For an unknown family or a link the family does not support.

    Examples
    --------
    >>> get_family("binomial", "probit").link.name
    'probit'
    >>> get_family("inverse.gaussian").link.name
    '1/mu^2'
    """
    if isinstance(family, Family):
        if link is not None and link != family.link.name:
            return Family(family.name, get_family(family.name, link).link, family.nb_theta)
        return family
    if not isinstance(family, str) and type(family).__module__.startswith("statsmodels"):
        family, sm_link = _from_statsmodels(family)
        if link is not None and str(link).lower() != sm_link:
            raise ModelSpecificationError(
                f"link={link!r} contradicts the {sm_link} link of the statsmodels family object"
            )
        link = sm_link
    if not isinstance(family, str) or _family_name(family) not in FAMILIES:
        raise ModelSpecificationError(
            f"family={family!r} is not supported; use one of {sorted(FAMILIES)}"
        )
    name = _family_name(family)
    allowed = FAMILIES[name]
    link = allowed[0] if link is None else str(link).lower()
    if link not in allowed:
        raise ModelSpecificationError(
            f"link={link!r} is not available for the {name} family; use one of {list(allowed)}"
        )
    return Family(name, LINKS[link])


_SM_LINKS = {
    "logit": "logit", "probit": "probit", "cloglog": "cloglog", "log": "log",
    "identity": "identity", "sqrt": "sqrt", "inversepower": "inverse",
    "inversesquared": "1/mu^2",
}
_SM_FAMILIES = {
    "binomial": "binomial", "poisson": "poisson", "gamma": "gamma", "gaussian": "gaussian",
    "inversegaussian": "inverse_gaussian",
}


def _from_statsmodels(family: Any) -> tuple[str, str]:
    """Translate a ``statsmodels.genmod.families`` object into (family name, link name)."""
    name = _SM_FAMILIES.get(type(family).__name__.lower())
    link_obj = getattr(family, "link", None)
    link_name = _SM_LINKS.get(type(link_obj).__name__.lower())
    if name is None or link_name is None or link_name not in FAMILIES[name]:
        raise ModelSpecificationError(
            f"the statsmodels family {type(family).__name__}({type(link_obj).__name__}) is not "
            f"supported; use one of the families {sorted(FAMILIES)} by name"
        )
    return name, link_name


def exp_wald_table(fixed: pd.DataFrame, link: str, level: float) -> pd.DataFrame:
    """Exponentiated Wald table of fixed effects (internal; ``fixed_exp`` of GLMM and GEE).

    ``fixed`` has columns ``estimate``, ``se`` and ``p``; the result has ``odds_ratio`` (logit
    link, otherwise ``rate_ratio``), ``ci_low``, ``ci_high`` and ``p``.
    """
    q = stats.norm.ppf(0.5 + level / 2)
    name = "odds_ratio" if link == "logit" else "rate_ratio"
    return pd.DataFrame(
        {
            name: np.exp(fixed["estimate"]),
            "ci_low": np.exp(fixed["estimate"] - q * fixed["se"]),
            "ci_high": np.exp(fixed["estimate"] + q * fixed["se"]),
            "p": fixed["p"],
        },
        index=fixed.index,
    )


def simulate_response(
    family: Family, mu: Array, pw: Array, sigma: float, rng: np.random.Generator
) -> Array:
    """Draw responses with means ``mu`` for the families with a dispersion or a shape.

    ``sigma`` is lme4's residual scale (dispersion ``sigma^2``, divided by the prior weight);
    the negative binomial uses its shape ``theta``.
    """
    name = family.name
    if name == "negative_binomial":
        th = family._theta()
        return rng.negative_binomial(th, th / (th + mu)).astype(float)
    phi = sigma**2 / pw
    if name == "gamma":
        return rng.gamma(1.0 / phi, mu * phi)
    if name == "inverse_gaussian":
        return rng.wald(mu, 1.0 / phi)
    if name == "gaussian":
        return rng.normal(mu, np.sqrt(phi))
    raise ModelSpecificationError(f"cannot simulate responses of the {name} family")
