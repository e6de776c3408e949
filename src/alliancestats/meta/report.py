"""Text reports for :class:`~alliancestats.meta.MetaResult`: metafor-like summary and APA sentence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from alliancestats._format import format_p as _format_p
from alliancestats.meta.transforms import resolve_transform

__all__ = ["apa_sentence", "format_p", "summary_text"]


def format_p(p: float, *, apa: bool = False) -> str:
    """Format a p value (metafor style ``<.0001``, or APA style ``< .001`` / ``= .023``).

    Examples
    --------
    >>> format_p(0.00002), format_p(0.0234, apa=True), format_p(0.00002, apa=True)
    ('<.0001', '= .023', '< .001')
    """
    return _format_p(p, style="apa" if apa else "metafor")


def _num(x: float, digits: int = 4) -> str:
    return "NA" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _model_title(res: Any) -> str:
    if res.method in ("MH", "PETO"):
        name = "Mantel-Haenszel" if res.method == "MH" else "Peto's"
        return f"Equal-Effects Model ({name} method; k = {res.k})"
    if res.method in ("FE", "EE", "CE"):
        kind = "Fixed-Effects" if res.method == "FE" else "Equal-Effects"
        kind += " Model" if res.intercept_only else " with Moderators Model"
        return f"{kind} (k = {res.k})"
    if res.components is not None:
        return f"Multivariate Meta-Analysis Model (k = {res.k}; method: {res.method})"
    kind = "Random-Effects Model" if res.intercept_only else "Mixed-Effects Model"
    return f"{kind} (k = {res.k}; tau^2 estimator: {res.method})"


def summary_text(
    res: Any, transform: str | Callable[[np.ndarray], np.ndarray] | None = None
) -> str:
    """Multi-line report laid out like metafor's ``print.rma``.

    Parameters
    ----------
    res : MetaResult
        Fitted model.
    transform : str or callable, optional
        ``"r"`` (Fisher z → r), ``"exp"``, ``"auto"`` (by measure) or a function: adds the
        back-transformed pooled estimate with its confidence and prediction intervals.

    Returns
    -------
    str

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(r=[0.20, 0.35, 0.10, 0.28, 0.15], n=[60, 120, 85, 40, 200])
    >>> print(res.summary(transform="r").splitlines()[0])
    Random-Effects Model (k = 5; tau^2 estimator: REML)
    """
    lines = [_model_title(res), ""]
    k0 = getattr(res, "k0", None)  # set by trim_and_fill() on the filled-data result
    if k0 is not None:
        se_k0 = getattr(res, "se_k0", float("nan"))
        se_txt = f" (SE = {se_k0:.4f})" if np.isfinite(se_k0) else ""
        side = getattr(res, "side", "?")
        lines[1:1] = [f"Estimated number of missing studies on the {side} side: {int(k0)}{se_txt}"]
        if "note" in res.extras:
            lines[2:2] = [res.extras["note"]]
    if res.components is not None:
        lines += _components_text(res)
    elif res.method not in ("FE", "EE", "CE", "MH", "PETO"):
        se_txt = f" (SE = {res.se_tau2:.4f})" if np.isfinite(res.se_tau2) else ""
        what = "total" if res.intercept_only else "residual"
        var = "total" if res.intercept_only else "unaccounted"
        lines += [
            f"tau^2 (estimated amount of {what} heterogeneity): {res.tau2:.4f}{se_txt}",
            f"tau (square root of estimated tau^2 value): {np.sqrt(res.tau2):.4f}",
            f"I^2 ({what} heterogeneity / {var} variability): {res.i2:.2f}%",
            f"H^2 ({var} variability / sampling variability): {res.h2:.2f}",
        ]
        if not res.intercept_only and np.isfinite(res.r2):
            lines.append(f"R^2 (amount of heterogeneity accounted for):      {res.r2:.2f}%")
        lines.append("")
    else:
        lines += [
            f"I^2 (total heterogeneity / total variability):   {res.i2:.2f}%",
            f"H^2 (total variability / sampling variability):  {res.h2:.2f}",
            "",
        ]
    label = "Test for Heterogeneity:" if res.intercept_only else "Test for Residual Heterogeneity:"
    qname = "Q" if res.intercept_only else "QE"
    lines += [label, f"{qname}(df = {res.k - res.p}) = {res.q:.4f}, p-val {_pval_eq(res.q_p)}", ""]
    if np.isfinite(res.qm):
        coefs = f"2:{res.p}" if res.mod_names[0] == "(Intercept)" else f"1:{res.p}"
        if np.isfinite(res.qm_df[1]):
            lines.append(f"Test of Moderators (coefficients {coefs}):")
            lines.append(
                f"F(df1 = {res.qm_df[0]:g}, df2 = {res.qm_df[1]:.4g}) = {res.qm:.4f}, "
                f"p-val {_pval_eq(res.qm_p)}"
            )
        else:
            lines.append(f"Test of Moderators (coefficients {coefs}):")
            lines.append(f"QM(df = {res.qm_df[0]:g}) = {res.qm:.4f}, p-val {_pval_eq(res.qm_p)}")
        lines.append("")
    if res.robust is not None:
        lines.append(
            f"Cluster-robust inference: {res.robust_type} with Satterthwaite df, clusters = "
            f"{res.robust} ({len(np.unique(res.cluster))} clusters)"
        )
        lines.append("")
    lines.append("Model Results:")
    lines.append("")
    lines.append(_table_text(res.table))
    if res.intercept_only and np.isfinite(res.pi_low):
        lines.append("")
        lines.append(f"{res.level:g}% prediction interval: [{res.pi_low:.4f}, {res.pi_high:.4f}]")
    f = resolve_transform(transform, res.measure)
    if f is not None:
        pred = res.predict(transform=f)
        if res.intercept_only:
            row = pred.iloc[0]
            name = _effect_symbol(res, transform)
            lines.append("")
            lines.append(
                f"Back-transformed ({name}): {row['pred']:.4f}, {res.level:g}% CI "
                f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}], PI "
                f"[{row['pi_low']:.4f}, {row['pi_high']:.4f}]"
            )
    if res.subgroups is not None:
        lines.append("")
        lines.append(f"Subgroups ({res.subgroup}; separate tau^2 per subgroup):")
        lines.append(res.subgroups.round(4).to_string())
        lines.append(
            f"Test for subgroup differences: Q_between(df = {res.q_between_df}) = "
            f"{res.q_between:.4f}, p-val {_pval_eq(res.q_between_p)}"
        )
    return "\n".join(lines)


def _components_text(res: Any) -> list[str]:
    """The variance components block of a multilevel model, as metafor prints it."""
    lines = ["Variance Components:", ""]
    table = res.components
    lines.append(f"{'':14s}{'estim':>9s}{'sqrt':>9s}{'nlvls':>7s}{'fixed':>7s}  factor")
    for name, row in table.iterrows():
        sqrt = f"{row['sqrt']:9.4f}" if np.isfinite(row["sqrt"]) else f"{'':9s}"
        fixed = "yes" if row["fixed"] else "no"
        lines.append(
            f"{name:14s}{row['estimate']:9.4f}{sqrt}{int(row['n_levels']):7d}{fixed:>7s}  "
            f"{row['term']}"
        )
    if res.i2_levels is not None and len(res.i2_levels) and np.isfinite(res.i2):
        lv = ", ".join(f"{v:.2f}%" for v in res.i2_levels)
        lines.append(f"I^2 by level (Cheung 2014): {lv}; total {res.i2:.2f}%")
    lines.append("")
    return lines


def _pval_eq(p: float) -> str:
    s = format_p(p)
    return s if s.startswith("<") else "= " + s


def _table_text(table: Any) -> str:
    stat = "z" if "z" in table.columns else "t"
    header = f"{'':14s}{'estimate':>10s}{'se':>9s}{stat + 'val':>9s}"
    if stat == "t":
        header += f"{'df':>8s}"
    header += f"{'pval':>9s}{'ci.lb':>10s}{'ci.ub':>10s}"
    out = [header]
    for term, row in table.iterrows():
        line = f"{str(term)[:14]:14s}{row['estimate']:10.4f}{row['se']:9.4f}{row[stat]:9.4f}"
        if stat == "t":
            line += f"{row['df']:8.2f}"
        line += f"{format_p(row['p']):>9s}{row['ci_low']:10.4f}{row['ci_high']:10.4f}"
        out.append(line)
    return "\n".join(out)


_RATIO_NAMES = {"RR": "RR", "OR": "OR", "PETO": "OR", "IRR": "IRR", "ROM": "ratio of means"}


def _effect_symbol(res: Any, transform: Any) -> str:
    m = res.measure
    name = transform if isinstance(transform, str) else None
    if name in ("r", "z2r", "tanh") or (name == "auto" and m in ("ZCOR", "ZPCOR")):
        return "r"
    if m in ("COR", "PCOR", "SPCOR"):
        return "r"
    if m in ("ZCOR", "ZPCOR"):
        return "z"
    if m in _RATIO_NAMES:
        ratio = _RATIO_NAMES[m]
        return ratio if name in ("exp", "auto") else f"log {ratio}"
    if m in ("SMD", "SMCC", "SMCR", "SMDH"):
        return "g"
    return "estimate"


def _apa_number(x: float, drop_zero: bool, digits: int = 2) -> str:
    s = f"{x:.{digits}f}"
    if drop_zero:
        s = s.replace("0.", ".", 1)
    return s


def apa_sentence(
    res: Any, transform: str | Callable[[np.ndarray], np.ndarray] | None = "auto"
) -> str:
    """APA-style report of the pooled effect, e.g. ``"r = .15, 95% CI [.09, .21], k = 16, ..."``.

    Parameters
    ----------
    res : MetaResult
        Fitted model (the intercept is reported for meta-regressions).
    transform : str or callable, optional
        ``"auto"`` (default) back-transforms Fisher z to r and log ratios to ratios; ``None``
        reports the analysis scale.

    Returns
    -------
    str
        Correlations drop the leading zero (APA 7, 6.36); so do p values.

    Examples
    --------
    >>> from alliancestats.meta import meta_analysis
    >>> res = meta_analysis(r=[0.20, 0.35, 0.10, 0.28, 0.15], n=[60, 120, 85, 40, 200])
    >>> res.apa().split(",")[0]
    'r = .21'
    """
    f = resolve_transform(transform, res.measure)
    symbol = _effect_symbol(res, transform if f is not None else None)
    if f is not None and symbol == "estimate":
        symbol = "estimate"
    pred = res.predict(transform=f) if res.intercept_only else None
    if pred is not None:
        est, lo, hi = pred["pred"].iloc[0], pred["ci_low"].iloc[0], pred["ci_high"].iloc[0]
        pi_lo, pi_hi = pred["pi_low"].iloc[0], pred["pi_high"].iloc[0]
    else:
        g = f if f is not None else (lambda v: v)
        est, lo, hi = (float(g(np.asarray(v))) for v in (res.estimate, res.ci_low, res.ci_high))
        pi_lo = pi_hi = float("nan")
    drop = symbol == "r"
    stat_col = "z" if "z" in res.table.columns else "t"
    stat = res.table[stat_col].iloc[0]
    p = res.table["p"].iloc[0]
    if stat_col == "z":
        stat_txt = f"z = {stat:.2f}"
    else:
        stat_txt = f"t({res.table['df'].iloc[0]:.4g}) = {stat:.2f}"
    parts = [
        f"{symbol} = {_apa_number(est, drop)}",
        f"{res.level:g}% CI [{_apa_number(lo, drop)}, {_apa_number(hi, drop)}]",
        f"k = {res.k}",
        f"{stat_txt}, p {format_p(p, apa=True)}",
    ]
    het = f"Q({res.k - res.p}) = {res.q:.2f}, p {format_p(res.q_p, apa=True)}, I² = {res.i2:.1f}%"
    if res.components is not None:
        het += "".join(f", σ²{j + 1} = {s:.3f}" for j, s in enumerate(res.sigma2))
    elif res.method not in ("FE", "EE", "CE", "MH", "PETO"):
        het += f", τ² = {res.tau2:.3f}"
    sentence = ", ".join(parts) + "; " + het
    if np.isfinite(pi_lo):
        sentence += f"; {res.level:g}% PI [{_apa_number(pi_lo, drop)}, {_apa_number(pi_hi, drop)}]"
    if res.method in ("FE", "EE", "CE", "MH", "PETO"):
        model = "common-effect model"
    elif res.components is not None:
        model = f"multilevel model, {res.method}"
    else:
        model = f"random-effects model, {res.method}"
    if not res.intercept_only:
        model += f"; {res.mod_names[0]} of a meta-regression on {', '.join(res.mod_names[1:])}"
    if res.test == "knha":
        model += ", Knapp-Hartung"
    elif res.test == "adhoc":
        model += ", Knapp-Hartung with max(1, s²)"
    if res.robust is not None:
        model += f", {res.robust_type} robust SEs"
    return f"{sentence} ({model})."
