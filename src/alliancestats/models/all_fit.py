"""Refit a model with every available optimiser and tabulate the results (lme4's ``allFit``).

When a fit warns (failed gradient check, near-singular Hessian), the standard diagnostic is
to refit with other optimisers: if they all reach the same log-likelihood, fixed effects and
variance components, the warning is a false alarm (Bolker's advice in ``?lme4::convergence``
and the ``allFit`` help page). :func:`all_fit` does this for a fitted LMM (keeping REML/ML and prior weights) or
GLMM, with each optimiser of :data:`~alliancestats.models.control.OPTIMIZERS` (in both stages
of a GLMM fit).

Examples
--------
>>> from alliancestats.simulate import simulate_sessions
>>> from alliancestats.models.glmm import glmm
>>> d = simulate_sessions(n_therapists=6, seed=4).dropna(subset=["adhered", "alliance"])
>>> fit = glmm("adhered ~ alliance + (1 | patient)", d)
>>> af = all_fit(fit)
>>> af.table.index.tolist()
['bobyqa', 'cobyqa', 'nelder_mead', 'lbfgsb']
>>> bool(af.loglik_range() < 1e-3)
True
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from alliancestats._validation import check_choice
from alliancestats.errors import AllianceStatsWarning, EstimationError, ModelSpecificationError
from alliancestats.models.control import OPTIMIZERS, Control, as_control
from alliancestats.models.results import MixedResult

__all__ = ["AllFitResult", "all_fit"]


@dataclass
class AllFitResult:
    """Refits of one model, one per optimiser (the pieces of ``summary(allFit(fit))``).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per optimiser: ``ok`` (the refit ran), ``converged``, ``singular``,
        ``loglik``, ``max_scaled_gradient``, ``evaluations``, ``seconds``, ``messages``.
    fixef : pandas.DataFrame
        Fixed effects, one row per optimiser (lme4's ``$fixef``).
    sdcor : pandas.DataFrame
        SDs and correlations of the random effects, and sigma where the family has one
        (``$sdcor``).
    theta : pandas.DataFrame
        lme4's θ (``$theta``).
    """

    table: pd.DataFrame
    fixef: pd.DataFrame
    sdcor: pd.DataFrame
    theta: pd.DataFrame

    def loglik_range(self) -> float:
        """Largest minus smallest log-likelihood over the refits that ran."""
        ll = self.table.loc[self.table["ok"], "loglik"]
        return float(ll.max() - ll.min()) if len(ll) else np.nan

    def summary(self) -> str:
        """Text: the table, the fixed effects and the SDs per optimiser.

        Examples
        --------
        >>> from alliancestats.simulate import simulate_sessions
        >>> from alliancestats.models.glmm import glmm
        >>> d = simulate_sessions(n_therapists=6, seed=4).dropna(subset=["adhered"])
        >>> text = all_fit(glmm("adhered ~ session + (1 | patient)", d),
        ...                optimizers=["bobyqa", "nelder_mead"]).summary()
        >>> text.splitlines()[0]
        'Refits with each optimizer (lme4 allFit)'
        """
        cols = ["ok", "converged", "singular", "loglik", "max_scaled_gradient", "seconds"]
        parts = [
            "Refits with each optimizer (lme4 allFit)",
            self.table[cols].to_string(float_format=lambda v: f"{v:.6g}"),
            "",
            "Fixed effects:",
            self.fixef.to_string(float_format=lambda v: f"{v:.6g}"),
            "",
            "Random-effect SDs and correlations:",
            self.sdcor.to_string(float_format=lambda v: f"{v:.6g}"),
            "",
            f"log-likelihood range over the refits: {self.loglik_range():.3g}",
        ]
        msgs = self.table["messages"]
        noted = [f"  {k}: {m}" for k, m in msgs.items() if m]
        if noted:
            parts += ["Messages:", *noted]
        return "\n".join(parts)


def _one_refit(model, control: Control) -> tuple[MixedResult | None, str, float]:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        try:
            res = model.refit_control(control)
        except EstimationError as exc:  # e.g. check level "stop", or the optimiser failed
            return None, str(exc), time.perf_counter() - t0
    return res, "; ".join(res.messages), time.perf_counter() - t0


def all_fit(
    result: MixedResult,
    optimizers: Sequence[str] | None = None,
    control: Control | dict | None = None,
) -> AllFitResult:
    """Refit ``result`` once per optimiser and tabulate the fits (``lme4::allFit``).

    Parameters
    ----------
    result : MixedResult
        A fitted :func:`~alliancestats.models.lmm` or :func:`~alliancestats.models.glmm`
        model; an LMM keeps its REML/ML choice and prior weights.
    optimizers : sequence of str, optional
        Names from :data:`~alliancestats.models.control.OPTIMIZERS` (default: all). Each is
        used for both stages of the GLMM fit (as ``allFit`` sets ``glmerControl(optimizer=)``).
    control : Control or dict, optional
        Other options kept for every refit (tolerances, check levels); its ``optimizer`` is
        replaced.

    Returns
    -------
    AllFitResult
        ``table`` (log-likelihood, convergence and messages per optimiser), ``fixef``,
        ``sdcor``, ``theta`` and ``summary()``.

    Raises
    ------
    ModelSpecificationError
        The result holds no refittable model (e.g. :func:`~alliancestats.models.gee`), or an
        unknown optimiser name.

    Notes
    -----
    Validated against lme4 1.1-31 ``allFit`` on Gamma, binomial and Poisson GLMMs: every
    optimiser reaches glmer's log-likelihood (``glmerControl(tolPwrss = 1e-10)``) within
    1e-4 (see the validation page). The diagnostic is Bolker's (lme4 ``?convergence``):
    agreement of the optimisers means a convergence warning was a false positive.

    Examples
    --------
    >>> from alliancestats.simulate import simulate_sessions
    >>> from alliancestats.models.glmm import glmm
    >>> d = simulate_sessions(n_therapists=6, seed=4).dropna(subset=["adhered", "alliance"])
    >>> af = all_fit(glmm("adhered ~ alliance + (1 | patient)", d), ["bobyqa", "lbfgsb"])
    >>> af.fixef.columns.tolist()
    ['(Intercept)', 'alliance']
    """
    model = getattr(result, "model", None)
    if not hasattr(model, "refit_control"):
        raise ModelSpecificationError(
            "all_fit() refits linear and generalised linear mixed models (lmm, glmm); this "
            "result does not support refitting with another optimiser"
        )
    names = list(OPTIMIZERS) if optimizers is None else list(optimizers)
    if not names:
        raise ModelSpecificationError("optimizers must name at least one optimiser")
    for name in names:
        check_choice("optimizer", name, OPTIMIZERS)
    base = as_control(control)
    rows, fixef, sdcor, theta = {}, {}, {}, {}
    for name in names:
        res, msg, secs = _one_refit(model, base.with_(optimizer=(name, name)))
        ok = res is not None
        opt = res.optimizer if ok else {}
        rows[name] = {
            "ok": ok,
            "converged": bool(res.converged) if ok else False,
            "singular": bool(res.singular) if ok else False,
            "loglik": res.loglik if ok else np.nan,
            "max_scaled_gradient": opt["max_scaled_gradient"] if ok else np.nan,
            "evaluations": int(opt["evaluations"]) if ok else 0,
            "seconds": secs,
            "messages": msg,
        }
        if ok:
            fixef[name] = res.fixed["estimate"]
            vc = res.varcorr
            labels = [" ".join(str(v) for v in (g, a, b) if isinstance(v, str) and v)
                      for g, a, b in zip(vc["grp"], vc["var1"], vc["var2"], strict=True)]
            sdcor[name] = pd.Series(vc["sdcor"].to_numpy(), index=labels)
            theta[name] = pd.Series(np.asarray(res.theta, float))
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "optimizer"
    return AllFitResult(
        table=table,
        fixef=pd.DataFrame(fixef).T,
        sdcor=pd.DataFrame(sdcor).T,
        theta=pd.DataFrame(theta).T,
    )
