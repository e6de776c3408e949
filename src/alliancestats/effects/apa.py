"""APA-style sentences for the fixed effects of a mixed model.

One sentence per term in the style of the APA Publication Manual (7th ed., sections 6.36 and
6.43-6.46): the unstandardized coefficient with its SE and confidence interval, the test
statistic with its degrees of freedom, and the p value without a leading zero
(``b = -0.41, SE = 0.05, 95% CI [-0.51, -0.31], t(1150.3) = -8.20, p < .001``). GLMM
sentences add the odds ratio (logit link) or rate ratio (log link) with its interval.

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session + (1 | patient)", df)
>>> als.apa(fit)["session"].startswith("b = -0.")
True
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from scipy import stats

from alliancestats._format import format_ci, format_number, format_p
from alliancestats._validation import check_int, check_level
from alliancestats.effects import _model

__all__ = ["apa"]

_RATIO = {"logit": "OR", "log": "RR"}


def _df_text(df: float) -> str:
    """Satterthwaite degrees of freedom with one decimal (they are rarely whole numbers)."""
    return f"{df:.1f}"


def apa(result: Any, *, digits: int = 2, level: float | None = None) -> pd.Series:
    """One APA-style sentence per fixed effect.

    Parameters
    ----------
    result : MixedResult
        A fit from :func:`~alliancestats.lmm` or :func:`~alliancestats.glmm`.
    digits : int, default 2
        Decimals of coefficients, SEs, intervals and test statistics.
    level : float, optional
        Confidence level (default: the level of the fit).

    Returns
    -------
    pandas.Series
        Indexed by term, one sentence each.

    Notes
    -----
    LMM intervals and tests use the Satterthwaite df of the fit (t); GLMM ones are Wald z
    intervals, with the ratio interval obtained by exponentiating the ends (as
    ``fixed_exp``). p values follow APA: three decimals, ``p < .001`` floor.

    Examples
    --------
    >>> import alliancestats as als
    >>> d = als.simulate_sessions(n_therapists=6, seed=4).dropna(subset=["adhered", "alliance"])
    >>> fit = als.glmm("adhered ~ alliance + (1 | patient)", d)
    >>> "OR = " in als.apa(fit)["alliance"]
    True
    """
    _model.require_fit(result, "apa")
    digits = check_int("digits", digits, minimum=0, maximum=10)
    level = check_level(result.level if level is None else level)
    fx = result.fixed
    glmm = _model.is_glmm(result)
    ratio = _RATIO.get(getattr(result, "link", ""), None) if glmm else None
    pct = f"{100 * level:g}%"
    out = {}
    for term, r in fx.iterrows():
        est, se, p = float(r["estimate"]), float(r["se"]), float(r["p"])
        if glmm:
            q = stats.norm.ppf(0.5 + level / 2)
            test = f"z = {format_number(r['z'], digits)}"
        else:
            q = stats.t.ppf(0.5 + level / 2, float(r["df"]))
            test = f"t({_df_text(float(r['df']))}) = {format_number(r['t'], digits)}"
        lo, hi = est - q * se, est + q * se
        parts = [f"b = {format_number(est, digits)}", f"SE = {format_number(se, digits)}"]
        if ratio is not None:
            parts.append(f"{ratio} = {format_number(math.exp(est), digits)}")
            parts.append(f"{pct} CI [{format_number(math.exp(lo), digits)}, "
                         f"{format_number(math.exp(hi), digits)}]")
        else:
            parts.append(f"{pct} CI {format_ci(lo, hi, digits)}")
        parts.append(f"{test}, p {format_p(p, style='apa')}")
        out[term] = ", ".join(parts)
    return pd.Series(out, name="apa")
