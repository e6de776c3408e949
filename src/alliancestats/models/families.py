"""Response families and link functions for generalised linear (mixed) models.

A :class:`Family` bundles what the penalised iteratively reweighted least-squares algorithm
(:mod:`alliancestats.models.pirls`) needs: the link (``linkfun``, ``linkinv``, ``mu_eta``), the
variance function, deviance residuals and the conditional log-likelihood. The numerical
safeguards (clamping of the inverse link and of ``d mu / d eta`` away from 0 and 1) follow R's
``stats::binomial``/``stats::poisson`` families, which is what ``lme4::glmer`` evaluates.

Supported: ``binomial`` with ``logit``, ``probit`` or ``cloglog`` links and ``poisson`` with the
``log`` link.

Examples
--------
>>> import numpy as np
>>> fam = get_family("binomial", "logit")
>>> float(fam.link.linkinv(np.array([0.0]))[0])
0.5
>>> get_family("poisson").link.name
'log'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from alliancestats.errors import DataValidationError, ModelSpecificationError

__all__ = ["FAMILIES", "Family", "Link", "binary_factor_response", "exp_wald_table", "get_family"]

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
        ``"binomial"`` or ``"poisson"``.
    link : Link
        The link function.
    """

    name: str
    link: Link

    # -- moments ---------------------------------------------------------------------------
    def variance(self, mu: Array) -> Array:
        """Variance function ``V(mu)`` (per unit prior weight)."""
        if self.name == "binomial":
            return np.maximum(mu * (1.0 - mu), _EPS)
        return np.maximum(mu, _EPS)

    def variance_deriv(self, mu: Array) -> Array:
        """Derivative ``V'(mu)`` of the variance function."""
        if self.name == "binomial":
            return 1.0 - 2.0 * mu
        return np.ones_like(mu)

    def valid_eta_mu(self, mu: Array) -> bool:
        """Whether every fitted mean lies inside the parameter space."""
        if self.name == "binomial":
            return bool(np.all(np.isfinite(mu)) and np.all((mu > 0) & (mu < 1)))
        return bool(np.all(np.isfinite(mu)) and np.all(mu > 0))

    # -- deviance and likelihood -------------------------------------------------------------
    def dev_resids(self, y: Array, mu: Array, wt: Array) -> Array:
        """Unit deviance contributions (squared deviance residuals), as R's ``dev.resids``."""
        if self.name == "binomial":
            return 2.0 * wt * (_xlogy_ratio(y, mu) + _xlogy_ratio(1.0 - y, 1.0 - mu))
        return 2.0 * wt * (_xlogy_ratio(y, mu) - (y - mu))

    def minus2_loglik(self, y: Array, mu: Array, wt: Array) -> Array:
        """Per-observation ``-2 log p(y | mu)`` (R's ``family$aic`` without the ``2 k`` term).

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
        ll = special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)
        return -2.0 * wt * ll

    def pearson_resid(self, y: Array, mu: Array, wt: Array) -> Array:
        """Pearson residuals ``(y - mu) sqrt(wt / V(mu))``."""
        return (y - mu) * np.sqrt(wt / self.variance(mu))

    def starting_mu(self, y: Array, wt: Array) -> Array:
        """Starting values for ``mu`` as R's ``family$initialize``."""
        if self.name == "binomial":
            return (wt * y + 0.5) / (wt + 1.0)
        return y + 0.1


FAMILIES: dict[str, tuple[str, ...]] = {
    "binomial": ("logit", "probit", "cloglog"),
    "poisson": ("log",),
}


def get_family(family: str | Family, link: str | None = None) -> Family:
    """Look up a response family by name.

    Parameters
    ----------
    family : {"binomial", "poisson"}, Family or statsmodels family object
        Response distribution; a ``statsmodels.genmod.families`` ``Binomial`` or ``Poisson``
        object is translated (its link must be one supported here).
    link : str, optional
        ``"logit"`` (default), ``"probit"`` or ``"cloglog"`` for binomial; ``"log"`` for
        Poisson.

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
    """
    if isinstance(family, Family):
        if link is not None and link != family.link.name:
            return get_family(family.name, link)
        return family
    if not isinstance(family, str) and type(family).__module__.startswith("statsmodels"):
        family, sm_link = _from_statsmodels(family)
        if link is not None and str(link).lower() != sm_link:
            raise ModelSpecificationError(
                f"link={link!r} contradicts the {sm_link} link of the statsmodels family object"
            )
        link = sm_link
    if not isinstance(family, str) or family.lower() not in FAMILIES:
        raise ModelSpecificationError(
            f"family={family!r} is not supported; use one of {sorted(FAMILIES)}"
        )
    name = family.lower()
    allowed = FAMILIES[name]
    link = allowed[0] if link is None else str(link).lower()
    if link not in allowed:
        raise ModelSpecificationError(
            f"link={link!r} is not available for the {name} family; use one of {list(allowed)}"
        )
    return Family(name, LINKS[link])


_SM_LINKS = {"logit": "logit", "probit": "probit", "cloglog": "cloglog", "log": "log"}


def _from_statsmodels(family: Any) -> tuple[str, str]:
    """Translate a ``statsmodels.genmod.families`` object into (family name, link name)."""
    name = type(family).__name__.lower()
    link_obj = getattr(family, "link", None)
    link_name = type(link_obj).__name__.lower()
    if name not in FAMILIES or link_name not in _SM_LINKS:
        raise ModelSpecificationError(
            f"the statsmodels family {type(family).__name__}({type(link_obj).__name__}) is not "
            f"supported; use family='binomial' (links {list(FAMILIES['binomial'])}) or "
            "family='poisson' (log link)"
        )
    return name, _SM_LINKS[link_name]


def binary_factor_response(data: pd.DataFrame, formula: str, family: str) -> pd.DataFrame:
    """Code a two-level categorical binomial response as 0/1, as R's ``binomial()`` does.

    R treats the first level of a factor response as failure and the other as success. When
    the left-hand side of ``formula`` is a single column of ``data`` with a categorical dtype,
    a copy of ``data`` with that column coded 0/1 (first category 0, missing values kept) is
    returned; otherwise ``data`` is returned unchanged.

    Raises
    ------
    DataValidationError
        A categorical response with other than two categories, or for a non-binomial family.

    Examples
    --------
    >>> d = pd.DataFrame({"y": pd.Categorical(["no", "yes", "no"], categories=["no", "yes"])})
    >>> binary_factor_response(d, "y ~ 1", "binomial")["y"].tolist()
    [0.0, 1.0, 0.0]
    """
    lhs = formula.split("~", 1)[0].strip() if "~" in formula else ""
    if lhs not in data.columns or not isinstance(data[lhs].dtype, pd.CategoricalDtype):
        return data
    cats = list(data[lhs].cat.categories)
    if family != "binomial" or len(cats) != 2:
        raise DataValidationError(
            f"response {lhs!r} is categorical with categories {cats}; a categorical response "
            "is accepted only for the binomial family with exactly two categories (the first "
            "counts as failure, as in R); recode it to 0/1 otherwise"
        )
    codes = data[lhs].cat.codes.to_numpy().astype(float)
    codes[codes < 0] = np.nan
    return data.assign(**{lhs: codes})


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
