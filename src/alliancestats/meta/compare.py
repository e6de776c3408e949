"""Likelihood-ratio comparison of nested meta-analytic models (metafor's ``anova(full, reduced)``).

Examples
--------
>>> from alliancestats.meta import meta_analysis, meta_lrt
>>> yi = [0.10, 0.30, 0.35, 0.65, 0.45, 0.15]
>>> vi = [0.03, 0.03, 0.05, 0.01, 0.05, 0.02]
>>> full = meta_analysis(yi=yi, vi=vi)
>>> reduced = meta_analysis(yi=yi, vi=vi, tau2=0)
>>> int(meta_lrt(full, reduced).loc["reduced", "df"])
1
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import require_result
from alliancestats.meta.result import COMMON_EFFECT_METHODS

__all__ = ["meta_lrt", "n_parameters"]


def n_parameters(result: Any) -> int:
    """Number of estimated parameters (coefficients plus variance parameters), as metafor's ``parms``.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> n_parameters(meta_analysis(yi=[0.1, 0.3, 0.2], vi=[0.01, 0.02, 0.01]))
    2
    """
    stats_ml = result.fit_stats["ML"]
    return int(round((stats_ml["AIC"] + 2 * stats_ml["ll"]) / 2))


def _same_data(full: Any, reduced: Any) -> bool:
    if full.k != reduced.k:
        return False
    same_y = np.array_equal(np.asarray(full.yi), np.asarray(reduced.yi))
    same_v = np.array_equal(np.asarray(full.vi), np.asarray(reduced.vi))
    return same_y and same_v


def meta_lrt(full: Any, reduced: Any, *, refit: bool = False) -> pd.DataFrame:
    """Likelihood-ratio test of a reduced model against the full model it is nested in.

    Parameters
    ----------
    full, reduced : MetaResult
        Fits to the same effect sizes; ``reduced`` has fewer parameters (moderators removed,
        a variance component fixed, ...). They are swapped if given the other way round.
    refit : bool, default False
        Models differing in their moderators cannot be compared by REML; ``refit=True``
        refits both by ML first (metafor's ``anova(..., refit = TRUE)``).

    Returns
    -------
    pandas.DataFrame
        Rows ``full`` and ``reduced``; columns ``df`` (number of parameters), ``loglik``,
        ``deviance``, ``AIC``, ``BIC``, ``AICc`` (on the fitted scale, ML or REML), and on
        the ``reduced`` row ``LRT``, ``p`` (χ² on the difference in parameters), ``QE`` and
        ``tau2``; ``attrs["r2"]`` holds the proportional reduction in τ² (univariate models).

    Raises
    ------
    MetaAnalysisError
        Different data, mixed ML/REML fits, equal numbers of parameters, or REML fits with
        different moderators without ``refit=True``.

    Notes
    -----
    The statistic is the difference in deviances, truncated at 0, referred to χ² with as
    many degrees of freedom as the models differ in parameters. A variance component tested
    at its boundary (τ² = 0) makes this test conservative (Self & Liang 1987). Validated
    against metafor 3.8-1 ``anova.rma`` (tolerance 1e-6 relative: iterative fits).

    Examples
    --------
    >>> import pandas as pd
    >>> from alliancestats.meta import meta_analysis, meta_lrt
    >>> df = pd.DataFrame({"yi": [0.1, 0.3, 0.35, 0.65, 0.45, 0.15],
    ...                    "vi": [0.03, 0.03, 0.05, 0.01, 0.05, 0.02], "x": [1, 2, 3, 4, 5, 6]})
    >>> out = meta_lrt(meta_analysis(df, mods="~ x", method="ML"), meta_analysis(df, method="ML"))
    >>> list(out.columns)[:3]
    ['df', 'loglik', 'deviance']
    """
    require_result(full, "meta_lrt()")
    require_result(reduced, "meta_lrt()")
    if n_parameters(full) < n_parameters(reduced):
        full, reduced = reduced, full
    if n_parameters(full) == n_parameters(reduced):
        raise MetaAnalysisError(
            "The models have the same number of parameters; an LRT is meaningless."
        )
    if not _same_data(full, reduced):
        raise MetaAnalysisError(
            "The full and reduced models must be fitted to the same effect sizes."
        )
    methods = {full.method, reduced.method}
    if methods == {"ML", "REML"}:
        raise MetaAnalysisError("Compare ML fits with ML fits and REML fits with REML fits.")
    if full.method in COMMON_EFFECT_METHODS and reduced.method not in COMMON_EFFECT_METHODS:
        raise MetaAnalysisError(
            "The full model is a common-effect model but the reduced one is not."
        )
    if "REML" in methods and list(full.mod_names) != list(reduced.mod_names):
        if not refit:
            raise MetaAnalysisError(
                "REML likelihoods of models with different moderators are not comparable; "
                "fit both with method='ML' or pass refit=True."
            )
        full, reduced = full.refit(method="ML"), reduced.refit(method="ML")
    scale = "REML" if full.method == "REML" else "ML"
    rows = {}
    for name, fit in (("full", full), ("reduced", reduced)):
        fs = fit.fit_stats[scale]
        rows[name] = {
            "df": float(n_parameters(fit)), "loglik": fs["ll"], "deviance": fs["dev"],
            "AIC": fs["AIC"], "BIC": fs["BIC"], "AICc": fs["AICc"],
        }  # fmt: skip
    out = pd.DataFrame.from_dict(rows, orient="index")
    lrt = max(0.0, float(out.loc["reduced", "deviance"] - out.loc["full", "deviance"]))
    diff = int(out.loc["full", "df"] - out.loc["reduced", "df"])
    out["LRT"] = [np.nan, lrt]
    out["p"] = [np.nan, float(stats.chi2.sf(lrt, diff))]
    out["QE"] = [full.q, reduced.q]
    out["tau2"] = [full.tau2, reduced.tau2]
    if not full.multilevel and full.method not in COMMON_EFFECT_METHODS:
        r2 = 0.0 if reduced.tau2 == 0 else 100 * max(0.0, (reduced.tau2 - full.tau2) / reduced.tau2)
        out.attrs["r2"] = r2
    return out
