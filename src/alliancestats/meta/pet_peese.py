"""PET-PEESE: precision-effect estimates corrected for small-study effects.

PET regresses the effects on their standard errors, PEESE on their sampling variances, both
by weighted least squares with weights ``1/v_i`` and a multiplicative dispersion (Stanley &
Doucouliagos 2014, Res Synth Methods 5(1)); the intercept is the effect expected for a study
of infinite precision. The conditional rule uses PEESE when PET's intercept differs from zero
(the effect is then likely real, and PET is biased towards zero), and PET otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats.errors import MetaAnalysisError
from alliancestats.meta._checks import (
    is_intercept_only,
    level_alpha,
    require_univariate,
    study_arrays,
)

__all__ = ["PetPeeseResult", "pet_peese"]


@dataclass(frozen=True)
class PetPeeseResult:
    """Result of :func:`pet_peese`.

    Attributes
    ----------
    table : pandas.DataFrame
        Rows ``PET`` and ``PEESE``: the intercept (``estimate, se, t, df, p, ci_low,
        ci_high``; two-sided p) and the slope with its test (``slope, slope_t, slope_p``).
    chosen : {"PET", "PEESE"}
        The estimator picked by the conditional rule.
    estimate, ci_low, ci_high : float
        The chosen intercept and its confidence interval (analysis scale).
    rule : str
        The conditional rule as applied.
    """

    table: pd.DataFrame
    chosen: str
    estimate: float
    ci_low: float
    ci_high: float
    rule: str

    def to_series(self) -> pd.Series:
        """The chosen estimate as a pandas Series."""
        return pd.Series(
            {"chosen": self.chosen, "estimate": self.estimate, "ci_low": self.ci_low,
             "ci_high": self.ci_high, "rule": self.rule},
            name="pet_peese", dtype=object,
        )  # fmt: skip

    def __str__(self) -> str:
        return (
            "PET-PEESE (weighted least squares, weights 1/vi)\n"
            + self.table.round(4).to_string()
            + f"\nConditional estimate: {self.chosen} = {self.estimate:.4f} "
            f"[{self.ci_low:.4f}, {self.ci_high:.4f}] ({self.rule})\n"
        )


def _wls_row(
    yi: np.ndarray, x: np.ndarray, vi: np.ndarray, level_alpha_: float
) -> dict[str, float]:
    k = len(yi)
    X = np.column_stack([np.ones(k), x])
    w = 1 / vi
    sw = np.sqrt(w)
    Xw, yw = X * sw[:, None], yi * sw
    coef, *_ = np.linalg.lstsq(Xw, yw, rcond=None)
    df = k - 2
    sigma2 = float(np.sum((yw - Xw @ coef) ** 2)) / df
    se = np.sqrt(np.diag(sigma2 * np.linalg.inv(Xw.T @ Xw)))
    t = coef / se
    crit = stats.t.isf(level_alpha_ / 2, df)
    return {
        "estimate": coef[0], "se": se[0], "t": t[0], "df": float(df),
        "p": 2 * stats.t.sf(abs(t[0]), df), "ci_low": coef[0] - crit * se[0],
        "ci_high": coef[0] + crit * se[0], "slope": coef[1], "slope_t": t[1],
        "slope_p": 2 * stats.t.sf(abs(t[1]), df),
    }  # fmt: skip


def pet_peese(
    result: Any, *, alpha: float = 0.05, alternative: str = "one-sided"
) -> PetPeeseResult:
    """PET, PEESE and the conditional PET-PEESE estimate (Stanley & Doucouliagos 2014).

    Parameters
    ----------
    result : MetaResult
        Univariate model without moderators (its effects and variances are used).
    alpha : float, default 0.05
        Level of PET's test of the intercept that decides between PET and PEESE.
    alternative : {"one-sided", "two-sided"}, default "one-sided"
        ``"one-sided"`` tests the intercept in the direction of the pooled effect of
        ``result`` (Stanley 2017, Soc Psychol Personal Sci 8(5)); ``"two-sided"`` uses the
        two-sided p value. Published applications differ here; report the rule you use.

    Returns
    -------
    PetPeeseResult

    Notes
    -----
    The PET and PEESE intercepts, their standard errors and intervals equal metafor 3.8-1
    ``regtest(model = "lm", predictor = "sei")`` and ``predictor = "vi"`` (closed form,
    tolerance 1e-8 relative). PET-PEESE is biased with heterogeneous effects and few studies
    (Stanley 2017); read it with a selection model (:func:`selection_model`).

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis, pet_peese
    >>> res = meta_analysis(yi=[0.10, 0.30, 0.35, 0.65, 0.45, 0.15],
    ...                     vi=[0.01, 0.03, 0.05, 0.10, 0.04, 0.02])
    >>> pp = pet_peese(res)
    >>> pp.table.index.tolist(), pp.chosen in ("PET", "PEESE")
    (['PET', 'PEESE'], True)
    """
    require_univariate(result, "pet_peese()")
    yi, vi, X = study_arrays(result)
    if not is_intercept_only(X):
        raise MetaAnalysisError("pet_peese() needs a model without moderators.")
    if len(yi) < 3:
        raise MetaAnalysisError(f"PET-PEESE needs at least 3 studies; got {len(yi)}.")
    if np.ptp(vi) <= 1e-12 * float(np.max(vi)):
        raise MetaAnalysisError(
            "PET-PEESE needs studies of different precision (all vi are equal)."
        )
    if alternative not in ("one-sided", "two-sided"):
        raise MetaAnalysisError("alternative must be 'one-sided' or 'two-sided'.")
    la = level_alpha(result)
    table = pd.DataFrame(
        [_wls_row(yi, np.sqrt(vi), vi, la), _wls_row(yi, vi, vi, la)], index=["PET", "PEESE"]
    )
    pet = table.loc["PET"]
    if alternative == "two-sided":
        p = float(pet["p"])
        rule = f"PEESE if PET's intercept has two-sided p < {alpha:g}"
    else:
        direction = 1.0 if result.estimate >= 0 else -1.0
        p = float(stats.t.sf(direction * pet["t"], pet["df"]))
        rule = (
            f"PEESE if PET's intercept has one-sided p < {alpha:g} (direction of the pooled effect)"
        )
    chosen = "PEESE" if p < alpha else "PET"
    row = table.loc[chosen]
    return PetPeeseResult(
        table, chosen, float(row["estimate"]), float(row["ci_low"]), float(row["ci_high"]), rule
    )
