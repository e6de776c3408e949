"""Estimated marginal means and their contrasts (emmeans for mixed models).

:func:`marginal_means` averages population-level predictions over a reference grid
(:mod:`alliancestats.effects.grid`): each mean is a linear function ``L beta`` of the fixed
effects with standard error ``sqrt(L V L')``, Satterthwaite degrees of freedom for linear
mixed models (lmerTest's ``contest1D``; Kuznetsova, Brockhoff & Christensen 2017) and
asymptotic (z) inference for GLMMs, whose means and intervals are back-transformed to the
response scale (delta-method standard errors), as emmeans does (Lenth; Searle, Speed &
Milliken 1980, Am Stat 34(4)). :meth:`MarginalMeans.contrasts` compares the means
(pairwise, reverse pairwise, treatment vs control, consecutive or custom weights) with the
multiplicity adjustments of :mod:`alliancestats.effects.adjust`; GLMM contrasts on the
response scale are odds ratios (logit) or ratios (log link).

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
>>> fit = als.lmm("pain ~ session * arm + (1 | patient)", df)
>>> mm = als.marginal_means(fit, "arm", by="session", at={"session": [1, 8]})
>>> list(mm.table.columns)
['arm', 'session', 'estimate', 'se', 'df', 'ci_low', 'ci_high', 'statistic', 'p']
>>> mm.contrasts().table["contrast"].tolist()
['control - intervention', 'control - intervention']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats._validation import check_choice, check_level
from alliancestats.effects import _model
from alliancestats.effects.grid import ReferenceGrid, reference_grid
from alliancestats.errors import ModelSpecificationError, ParameterError
from alliancestats.models.kenward_roger import check_ddf

__all__ = ["ContrastResult", "MarginalMeans", "linear_inference", "marginal_means", "wald_test"]

def linear_inference(result: Any, L: np.ndarray, ddf: str) -> tuple[np.ndarray, np.ndarray]:
    """Standard errors and df of the rows of ``L`` (linear functions of the fixed effects).

    Kenward-Roger: SEs from the adjusted covariance and Kenward-Roger df of each row (as
    emmeans with ``lmer.df = "kenward-roger"``).
    """
    if ddf == "kenward-roger" and not _model.is_glmm(result):
        kr = _model.kenward_roger(result)
        se = np.sqrt(np.einsum("ij,jk,ik->i", L, kr.vcov, L))
        return se, np.array([kr.df(row) for row in L])
    V = _model.vcov_beta(result)
    se = np.sqrt(np.einsum("ij,jk,ik->i", L, V, L))
    if _model.is_glmm(result) or ddf == "asymptotic":
        return se, np.full(len(L), np.inf)
    return se, np.array([_model.contrast_df(result, row) for row in L])


def wald_test(estimate: np.ndarray, se: np.ndarray, df: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Wald statistics and two-sided p values (t with finite df, z otherwise)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = estimate / se
    finite = np.isfinite(df)
    p = np.where(finite, 2 * stats.t.sf(np.abs(stat), np.where(finite, df, 1.0)),
                 2 * stats.norm.sf(np.abs(stat)))
    return stat, p


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _label(row: pd.Series, spec: list[str], numeric: set[str]) -> str:
    """emmeans' level label: numbers (and number-like levels) are prefixed by the name."""
    parts = []
    for v in spec:
        text = f"{row[v]:g}" if v in numeric else str(row[v])
        parts.append(f"{v}{text}" if _looks_numeric(text) else text)
    return " ".join(parts)


@dataclass
class ContrastResult:
    """Contrasts of marginal means (see :meth:`MarginalMeans.contrasts`).

    Attributes
    ----------
    table : pandas.DataFrame
        ``by`` columns, ``contrast``, ``estimate, se, df, ci_low, ci_high, statistic, p``
        (response-scale ratios for GLMMs with ``type="response"``, tested on the link scale).
    adjust : str
        Multiplicity adjustment used for p values and intervals.
    scale : str
        ``"difference"``, ``"odds ratio"`` or ``"ratio"``.
    level : float
        Confidence level.
    notes : list of str
        Remarks (e.g. an adjustment replaced for non-pairwise families).
    """

    table: pd.DataFrame
    adjust: str
    scale: str
    level: float
    L: np.ndarray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The table with a line on the adjustment."""
        text = self.table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        extra = [f"P value and {self.level:.0%} interval adjustment: {self.adjust}"]
        return "\n".join([text, *extra, *self.notes])

    def __repr__(self) -> str:
        return self.summary()


@dataclass
class MarginalMeans:
    """Estimated marginal means of a mixed model (see :func:`marginal_means`).

    Attributes
    ----------
    table : pandas.DataFrame
        ``specs`` and ``by`` columns (rows in emmeans' order), then ``estimate, se, df, ci_low, ci_high, statistic,
        p`` (GLMMs with ``type="response"``: probabilities or rates with delta-method SEs
        and back-transformed intervals; the test is on the link scale).
    L : numpy.ndarray
        One row of fixed-effect weights per mean.
    specs, by : list of str
        Variables of the means and of the groups within which contrasts are taken.
    type : str
        ``"link"`` or ``"response"`` (always ``"link"`` for linear mixed models).
    level : float
        Confidence level.
    """

    table: pd.DataFrame
    L: np.ndarray
    eta: np.ndarray
    specs: list[str]
    by: list[str]
    type: str
    level: float
    result: Any = field(repr=False)
    ddf: str = "satterthwaite"
    labels: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The table as text, with the scale and the df method."""
        text = self.table.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        glmm = _model.is_glmm(self.result)
        how = ("asymptotic (z)" if glmm or self.ddf == "asymptotic"
               else "Kenward-Roger" if self.ddf == "kenward-roger" else "Satterthwaite")
        return f"{text}\nDegrees of freedom: {how}; scale: {self.type}; level {self.level:.0%}"

    def __repr__(self) -> str:
        return self.summary()

    def contrasts(self, method: Any = "pairwise", *, adjust: str | None = None,
                  ref: int = 0, type: str | None = None, level: float | None = None,  # noqa: A002
                  ) -> ContrastResult:
        """Compare the means within each ``by`` group.

        Parameters
        ----------
        method : {"pairwise", "revpairwise", "trt.vs.ctrl", "consec"} or dict
            ``"pairwise"``: every earlier level minus every later one; ``"revpairwise"``:
            the reverse; ``"trt.vs.ctrl"``: each level minus level ``ref``; ``"consec"``:
            each level minus the one before. A dict maps a contrast name to one weight per
            mean in a group.
        adjust : str, optional
            One of ``tukey, scheffe, sidak, bonferroni, holm, hochberg, fdr, none``; default
            ``tukey`` for pairwise families and ``holm`` otherwise (emmeans uses its
            ``dunnettx`` and ``mvt`` approximations there, which are not implemented).
            ``tukey`` on a non-pairwise family becomes ``sidak``, as in emmeans.
        ref : int, default 0
            Position of the control level for ``"trt.vs.ctrl"``.
        type : {"link", "response"}, optional
            GLMMs: ``"response"`` (default when the means are on the response scale) gives
            odds ratios (logit) or ratios (log link); other links stay differences on the
            link scale.
        level : float, optional
            Confidence level (default: the means' level).

        Returns
        -------
        ContrastResult
        """
        from alliancestats.effects.contrasts import contrast_means

        return contrast_means(self, method, adjust=adjust, ref=ref, type=type, level=level)


def _group_weights(grid: ReferenceGrid, keys: list[str], weights: str) -> tuple:
    """Groups of grid rows sharing ``keys`` (emmeans' order) and their averaging weights."""
    frame = grid.frame
    codes = (frame.groupby(keys, sort=False, observed=True).ngroup().to_numpy() if keys
             else np.zeros(len(frame), dtype=int))
    n_groups = int(codes.max()) + 1
    first = np.array([np.flatnonzero(codes == g)[0] for g in range(n_groups)])
    # emmeans' order: the first variable varies fastest, "by" variables slowest
    positions = [pd.factorize(frame[v])[0][first] for v in keys]
    order = np.lexsort(positions) if keys else np.arange(n_groups)
    others = [f for f in grid.factors if f not in keys]
    W = np.zeros((n_groups, len(frame)))
    for k, g in enumerate(order):
        rows = np.flatnonzero(codes == g)
        if weights == "cells":
            w = grid.counts[rows]
        elif weights == "proportional":
            w = grid.frequencies(others, rows)
        else:
            w = np.ones(rows.size)
        if w.sum() <= 0:
            raise ModelSpecificationError(
                f"weights={weights!r}: no fitted rows in the cells averaged for mean {k + 1}"
            )
        W[k, rows] = w / w.sum()
    return first[order], W


def _names(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(v, str) for v in names):
        raise ParameterError(f"{what} must be a column name or a list of names, got {value!r}")
    return names


def marginal_means(
    result: Any,
    specs: str | Sequence[str],
    *,
    by: str | Sequence[str] | None = None,
    at: Mapping[str, Any] | None = None,
    weights: str = "equal",
    type: str = "response",  # noqa: A002 - emmeans' and lme4's argument name
    level: float = 0.95,
    ddf: str = "satterthwaite",
) -> MarginalMeans:
    """Estimated marginal means of a linear or generalized linear mixed model.

    Parameters
    ----------
    result : MixedResult
        A fit from :func:`~alliancestats.lmm` or :func:`~alliancestats.glmm`.
    specs : str or list of str
        Predictors whose levels (or ``at`` values) the means are computed for.
    by : str or list of str, optional
        Predictors to condition on: means for every combination, contrasts within each.
    at : dict, optional
        Values of predictors (numeric predictors otherwise sit at their mean, e.g.
        ``{"session": [1, 6, 12]}`` or ``{"alliance_between": [-0.5, 0, 0.5]}``).
    weights : {"equal", "proportional", "cells"}
        How predictions are averaged over the categorical predictors not in ``specs`` or
        ``by``: equally (emmeans' default), by their marginal frequencies in the data, or by
        the cell frequencies within each mean.
    type : {"response", "link"}
        GLMMs: means on the response scale (probabilities, rates) or the link scale.
    level : float, default 0.95
        Confidence level.
    ddf : {"satterthwaite", "kenward-roger", "asymptotic"}
        Degrees of freedom for LMMs (GLMMs are always asymptotic). ``"kenward-roger"``
        (also ``"Kenward-Roger"``) takes standard errors from Kenward & Roger's adjusted
        covariance and their df, as emmeans' ``lmer.df = "kenward-roger"`` (REML fits).

    Returns
    -------
    MarginalMeans
        ``table`` with ``estimate, se, df, ci_low, ci_high, statistic, p``; ``contrasts()``.

    Raises
    ------
    ParameterError
        Unknown variables, options or ``at`` values.
    ModelSpecificationError
        Not a mixed-model fit, or Kenward-Roger df for a fit by maximum likelihood.

    Notes
    -----
    Validated against emmeans 1.8.4 (``lmer.df = "satterthwaite"``) on lme4 1.1-31 /
    lmerTest 3.1-3 fits: a simulated ``pain ~ session * arm + ...`` model (means by arm at
    sessions 1, 6 and 12, by session within arm, averaged over modality with equal and
    proportional weights, cell means), a three-level site factor (equal and proportional
    weights, 90% level), sleepstudy, and GLMMs (cbpp with logit and probit links,
    grouseticks Poisson, simulated binary adherence; link and response scales): estimates
    within 1e-4 relative, SEs within 5e-4 and Satterthwaite df within 1e-3 (numerical
    derivatives in both programs). Kenward-Roger means validated against emmeans 1.8.4
    (``lmer.df = "kenward-roger"``, pbkrtest 0.5.2) on sleepstudy, a therapist/patient
    model with six therapists and Orthodont with missing visits: SEs within 1e-4, df
    within 1e-3 relative (the REML optima differ in the 5th digit).

    Examples
    --------
    >>> import alliancestats as als
    >>> d = als.simulate_sessions(n_therapists=6, seed=4).dropna(subset=["adhered", "alliance"])
    >>> fit = als.glmm("adhered ~ alliance + arm + (1 | patient)", d)
    >>> mm = als.marginal_means(fit, "arm")
    >>> bool(((mm.table["estimate"] > 0) & (mm.table["estimate"] < 1)).all())
    True
    """
    _model.require_fit(result, "marginal_means")
    specs, by = _names(specs, "specs"), _names(by, "by")
    if not specs:
        raise ParameterError("specs: give at least one predictor")
    check_choice("weights", weights, ("equal", "proportional", "cells"))
    check_choice("type", type, ("response", "link"))
    ddf = check_ddf(ddf, ("satterthwaite", "kenward-roger", "asymptotic"))
    level = check_level(level)
    grid = reference_grid(result, at)
    missing = [v for v in specs + by if v not in grid.frame.columns]
    if missing:
        raise ParameterError(
            f"{missing} are not predictors of the fixed part; predictors are "
            f"{list(grid.frame.columns)}"
        )
    keys = [s for s in specs if s not in by] + by
    first, W = _group_weights(grid, keys, weights)
    L = W @ grid.X
    eta = W @ grid.eta
    se, df = linear_inference(result, L, ddf)
    out = grid.frame.iloc[first][keys].reset_index(drop=True)
    for v in keys:
        if v in grid.numeric:
            out[v] = out[v].astype(float)
    family = _model.family_of(result)
    type_ = "response" if family is not None and type == "response" else "link"
    out = pd.concat([out, _mean_columns(eta, se, df, level, family, type_)], axis=1)
    labels = [_label(out.iloc[i], specs, set(grid.numeric)) for i in range(len(out))]
    return MarginalMeans(table=out, L=L, eta=eta, specs=specs, by=by, type=type_,
                         level=level, result=result, ddf=ddf, labels=labels)


def _mean_columns(eta: np.ndarray, se: np.ndarray, df: np.ndarray, level: float,
                  family: Any, type_: str) -> pd.DataFrame:
    q = np.where(np.isfinite(df), stats.t.ppf(0.5 + level / 2, np.where(np.isfinite(df), df,
                                                                          1.0)),
                 stats.norm.ppf(0.5 + level / 2))
    stat, p = wald_test(eta, se, df)
    lo, hi = eta - q * se, eta + q * se
    est, se_out = eta, se
    if type_ == "response":
        link = family.link
        est, se_out = link.linkinv(eta), np.abs(link.mu_eta(eta)) * se
        lo, hi = np.sort(np.vstack([link.linkinv(lo), link.linkinv(hi)]), axis=0)
    return pd.DataFrame({"estimate": est, "se": se_out, "df": df, "ci_low": lo, "ci_high": hi,
                         "statistic": stat, "p": p})

