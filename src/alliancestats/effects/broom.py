"""``tidy()`` and ``glance()`` of mixed models with broom.mixed's columns.

R users who have written ``broom.mixed::tidy(fit)`` find the same rows and column names here
(``effect, group, term, estimate, std.error, statistic, df, p.value, conf.low, conf.high``),
so tables can be compared line by line and code ported with few changes.

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session + (1 | patient)", df)
>>> list(als.tidy(fit)["term"])
['(Intercept)', 'session', 'sd__(Intercept)', 'sd__Observation']
>>> list(als.glance(fit).columns)
['nobs', 'sigma', 'logLik', 'AIC', 'BIC', 'REMLcrit', 'df.residual']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats._validation import check_bool, check_choice, check_level
from alliancestats.effects import _model
from alliancestats.errors import ModelSpecificationError

__all__ = ["glance", "tidy"]

_EFFECTS = ("fixed", "ran_pars", "ran_vals")
_NA = float("nan")


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _fixed_rows(result: Any, conf_int: bool, level: float, exponentiate: bool) -> pd.DataFrame:
    fx = result.fixed
    stat = "t" if "t" in fx.columns else "z"
    glmm = _model.is_glmm(result)
    out = pd.DataFrame({
        "effect": "fixed",
        "group": None,
        "term": list(fx.index),
        "estimate": fx["estimate"].to_numpy(float),
        "std.error": fx["se"].to_numpy(float),
        "statistic": fx[stat].to_numpy(float),
    })
    if not glmm:
        out["df"] = fx["df"].to_numpy(float)
    out["p.value"] = fx["p"].to_numpy(float)
    if conf_int:
        if glmm:
            q = stats.norm.ppf(0.5 + level / 2)
        else:
            q = stats.t.ppf(0.5 + level / 2, fx["df"].to_numpy(float))
        out["conf.low"] = out["estimate"] - q * out["std.error"]
        out["conf.high"] = out["estimate"] + q * out["std.error"]
    if exponentiate:
        est = np.exp(out["estimate"])
        out["std.error"] = est * out["std.error"]
        out["estimate"] = est
        for col in ("conf.low", "conf.high"):
            if col in out:
                out[col] = np.exp(out[col])
    return out


def _ran_par_rows(result: Any) -> list[dict]:
    """SDs and correlations in broom.mixed's order: each SD followed by its correlations."""
    vc = result.varcorr
    rows = []
    for grp, sub in vc.groupby("grp", sort=False):
        if grp == "Residual":
            continue
        sds = sub[sub["var2"].map(_is_missing)]
        cors = sub[~sub["var2"].map(_is_missing)]
        names = list(sds["var1"])
        for k, (_, r) in enumerate(sds.iterrows()):
            # "profile": the row's name in lme4's confint(oldNames = FALSE)
            rows.append({"group": grp, "term": f"sd__{r['var1']}", "estimate": r["sdcor"],
                         "profile": f"sd_{r['var1']}|{grp}"})
            for other in names[k + 1:]:
                c = cors[(cors["var1"] == r["var1"]) & (cors["var2"] == other)]
                if len(c):
                    rows.append({"group": grp, "term": f"cor__{r['var1']}.{other}",
                                 "estimate": float(c["sdcor"].iloc[0]),
                                 "profile": f"cor_{other}.{r['var1']}|{grp}"})
    if not _model.is_glmm(result):
        rows.append({"group": "Residual", "term": "sd__Observation",
                     "estimate": float(result.sigma), "profile": "sigma"})
    return rows


def _ran_pars(result: Any, conf_int: bool, profile: pd.DataFrame | None) -> pd.DataFrame:
    rows = _ran_par_rows(result)
    out = pd.DataFrame(rows)
    names = list(out.pop("profile"))
    out.insert(0, "effect", "ran_pars")
    for col in ("std.error", "statistic", "df", "p.value"):
        out[col] = _NA
    if conf_int:
        out["conf.low"] = out["conf.high"] = _NA
        if profile is not None:
            out["conf.low"] = profile["ci_low"].reindex(names).to_numpy(float)
            out["conf.high"] = profile["ci_high"].reindex(names).to_numpy(float)
    return out


def _ran_vals(result: Any) -> pd.DataFrame:
    """Conditional modes with their conditional SDs (lme4's condVar), broom.mixed's order."""
    frames = []
    vc = result.varcorr
    for grp in dict.fromkeys(vc["grp"]):
        if grp == "Residual":
            continue
        columns = list(vc[(vc["grp"] == grp) & vc["var2"].map(_is_missing)]["var1"])
        base = grp if grp in result.ranef else grp.rsplit(".", 1)[0]
        modes = result.ranef[base]
        cond = result.cond_var.get(grp)
        for k, col in enumerate(columns):
            se = np.sqrt(cond[:, k, k]) if cond is not None else np.full(len(modes), _NA)
            frames.append(pd.DataFrame({
                "effect": "ran_vals", "group": base, "level": modes.index.astype(str),
                "term": col, "estimate": modes[col].to_numpy(float), "std.error": se,
            }))
    return pd.concat(frames, ignore_index=True)


def tidy(
    result: Any,
    effects: str | tuple[str, ...] = ("fixed", "ran_pars"),
    *,
    conf_int: bool = False,
    conf_level: float = 0.95,
    conf_method: str = "wald",
    exponentiate: bool = False,
) -> pd.DataFrame:
    """One row per model parameter, as ``broom.mixed::tidy``.

    Parameters
    ----------
    result : MixedResult
        A fit from :func:`~alliancestats.lmm` or :func:`~alliancestats.glmm`.
    effects : str or tuple of str
        Any of ``"fixed"`` (fixed effects), ``"ran_pars"`` (random-effect SDs and
        correlations, and the residual SD) and ``"ran_vals"`` (conditional modes per group).
    conf_int : bool, default False
        Add ``conf.low`` and ``conf.high``.
    conf_level : float, default 0.95
        Confidence level.
    conf_method : {"wald", "profile"}
        ``"wald"``: t (Satterthwaite df) or z intervals for fixed effects, none (NaN) for
        variance parameters, as broom.mixed; ``"profile"``: profile-likelihood intervals for
        every parameter (``MixedResult.confint("profile")``, slower).
    exponentiate : bool, default False
        Report ``exp`` of the fixed effects (odds or rate ratios), their delta-method SEs and
        exponentiated interval ends.

    Returns
    -------
    pandas.DataFrame
        Columns ``effect, group, term, estimate, std.error, statistic, df, p.value`` (GLMMs
        have no ``df``), plus ``conf.low, conf.high``; ``ran_vals`` rows add ``level``.

    Raises
    ------
    ModelSpecificationError
        Not a mixed-model fit, or ``exponentiate`` for a linear mixed model.

    Notes
    -----
    Validated against broom.mixed 0.2.9.4 on lme4 1.1-31 / lmerTest 3.1-3 fits (sleepstudy
    with correlated and uncorrelated slopes, REML and ML; Pastes; a simulated
    therapist/patient model; cbpp, also exponentiated): estimates, SEs, statistics, df and p
    within 1e-4 relative (optimiser differences), conditional SDs within 1e-3.

    Examples
    --------
    >>> import alliancestats as als
    >>> d = als.simulate_sessions(n_therapists=6, seed=4).dropna(subset=["adhered", "alliance"])
    >>> fit = als.glmm("adhered ~ alliance + (1 | patient)", d)
    >>> tab = als.tidy(fit, "fixed", conf_int=True, exponentiate=True)
    >>> bool((tab["conf.low"] < tab["estimate"]).all())
    True
    """
    _model.require_fit(result, "tidy")
    chosen = (effects,) if isinstance(effects, str) else tuple(effects)
    for e in chosen:
        check_choice("effects", e, _EFFECTS)
    conf_int = check_bool("conf_int", conf_int)
    level = check_level(conf_level, "conf_level")
    check_choice("conf_method", conf_method, ("wald", "profile"))
    if check_bool("exponentiate", exponentiate) and not _model.is_glmm(result):
        raise ModelSpecificationError(
            "exponentiate=True gives odds or rate ratios of GLMMs; a linear mixed model's "
            "coefficients are on the outcome's scale"
        )
    profile = None
    if conf_int and conf_method == "profile" and ("fixed" in chosen or "ran_pars" in chosen):
        profile = result.confint("profile", level=level)
    parts = []
    for e in _EFFECTS:
        if e not in chosen:
            continue
        if e == "fixed":
            fixed = _fixed_rows(result, conf_int and profile is None, level, exponentiate)
            if profile is not None:
                ci = profile.reindex(fixed["term"])
                transform = np.exp if exponentiate else (lambda v: v)
                fixed["conf.low"] = transform(ci["ci_low"].to_numpy(float))
                fixed["conf.high"] = transform(ci["ci_high"].to_numpy(float))
            parts.append(fixed)
        elif e == "ran_pars":
            parts.append(_ran_pars(result, conf_int, profile))
        else:
            parts.append(_ran_vals(result))
    out = pd.concat(parts, ignore_index=True)
    if _model.is_glmm(result) and "df" in out:
        out = out.drop(columns="df")
    if "level" in out:
        out.insert(2, "level", out.pop("level"))
    return out


def glance(result: Any) -> pd.DataFrame:
    """One-row model summary, as ``broom.mixed::glance``.

    Parameters
    ----------
    result : MixedResult
        A fit from :func:`~alliancestats.lmm` or :func:`~alliancestats.glmm`.

    Returns
    -------
    pandas.DataFrame
        ``nobs, sigma, logLik, AIC, BIC`` then ``REMLcrit`` (REML fits) or ``deviance`` (ML
        fits: -2 log-likelihood; GLMMs: sum of squared deviance residuals, lme4's
        ``deviance()``), and ``df.residual`` (observations minus estimated parameters).

    Notes
    -----
    Validated against broom.mixed 0.2.9.4 (see :func:`tidy`): within 1e-6 relative.

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
    >>> fit = als.lmm("pain ~ session + (1 | patient)", df, reml=False)
    >>> list(als.glance(fit).columns)[5]
    'deviance'
    """
    _model.require_fit(result, "glance")
    row: dict[str, float] = {
        "nobs": int(result.nobs),
        "sigma": float(result.sigma),
        "logLik": float(result.loglik),
        "AIC": float(result.aic),
        "BIC": float(result.bic),
    }
    if result.reml:
        row["REMLcrit"] = float(result.deviance)
    elif _model.is_glmm(result):
        row["deviance"] = float(np.sum(np.asarray(result.residuals, dtype=float) ** 2))
    else:
        row["deviance"] = -2.0 * float(result.loglik)
    row["df.residual"] = int(result.nobs - result.npar)
    return pd.DataFrame([row])
