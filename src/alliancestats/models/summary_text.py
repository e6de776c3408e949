"""The text of :meth:`MixedResult.summary`, laid out as lme4 prints ``summary(fit)``.

R users read a mixed-model summary by its layout: the criterion (REML) or the
``AIC BIC logLik deviance df.resid`` line, the quantiles of the scaled residuals, the random
effects (variance, SD, correlations), ``Number of obs: n, groups:  g1, n1; g2, n2``, the
coefficient table with ``< 2e-16`` p-value floors and significance stars, the correlation
of the fixed effects and the fit's messages (singular boundary, convergence). Numbers are
formatted as R formats a numeric vector (``format(x, digits)``: one number of decimals per
column, fixed or scientific notation, whichever is narrower), which is what
``printCoefmat`` and lme4's printing helpers build on.

Examples
--------
>>> r_format([612.1, 35.07, 654.94], digits=4)
['612.10', ' 35.07', '654.94']
>>> r_format_pvalues([0.015044, 3.93e-07, 0.000124, 1e-20], digits=3)
['0.015044', '3.93e-07', '0.000124', '< 2e-16']
>>> abbreviate(["(Intercept)", "alliance_within", "alliance_between"], 6)
['(Intr)', 'allnc_w', 'allnc_b']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._format import format_p, significance_stars

__all__ = [
    "abbreviate",
    "coefficient_lines",
    "correlation_lines",
    "r_format",
    "r_format_pvalues",
    "summary_text",
    "varcorr_lines",
    "zapsmall",
]

_EPS = float(np.finfo(float).eps)
CORRELATION_MAX_P = 12  # lme4's option lme4.summary.cor.max
_LEGEND = "Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"


# ---------------------------------------------------------------------------- numbers
def _sci_parts(x: float, digits: int) -> tuple[int, int]:
    """Exponent and significant digits of ``x`` rounded to ``digits`` significant digits."""
    if x == 0:
        return 0, 1
    mantissa, exponent = f"{abs(x):.{digits - 1}e}".split("e")
    return int(exponent), max(1, len(mantissa.replace(".", "").rstrip("0")))


def zapsmall(values: Sequence[float], digits: int = 7) -> np.ndarray:
    """R's ``zapsmall``: round to ``digits`` significant digits of the largest magnitude."""
    x = np.asarray(values, dtype=float)
    finite = np.abs(x[np.isfinite(x)])
    mx = float(finite.max()) if finite.size else 0.0
    if mx <= 0:
        return np.round(x, digits)
    return np.round(x, max(0, digits - int(np.ceil(np.log10(mx)))))


def _nonfinite(x: float) -> str:
    if np.isnan(x):
        return "NA"
    return "Inf" if x > 0 else "-Inf"


def r_format(values: Sequence[float], digits: int = 7, nsmall: int = 0) -> list[str]:
    """R's ``format(x, digits, nsmall)`` for a numeric vector: common decimals, common width.

    Fixed notation with the decimals the most demanding element needs to show ``digits``
    significant digits, or scientific notation when that is narrower (R's ``formatReal``
    with ``scipen = 0``).
    """
    x = np.asarray(values, dtype=float).ravel()
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        out = [_nonfinite(v) for v in x]
    else:
        parts = [_sci_parts(float(v), digits) for v in finite]
        neg = bool(np.any(finite < 0))
        left = max(int(v < 0) + max(1, k + 1) for v, (k, _) in zip(finite, parts, strict=True))
        rgt = max(max(0, s - k - 1) for k, s in parts)
        mxns = max(s for _, s in parts)
        exps = [k for k, _ in parts]
        e = 2 if max(exps) >= 100 or min(exps) <= -100 else 1
        width_fixed = left + rgt + (rgt > 0)
        width_sci = int(neg) + (mxns > 1) + (mxns - 1) + 4 + e
        out = []
        for v in x:
            if not np.isfinite(v):
                out.append(_nonfinite(v))
            elif width_fixed <= width_sci:
                text = f"{v:.{max(rgt, nsmall)}f}"
                out.append(text[1:] if text.startswith("-") and float(text) == 0 else text)
            else:
                out.append(f"{v:.{mxns - 1}e}")
    width = max(len(s) for s in out)
    return [s.rjust(width) for s in out]


def r_format_pvalues(p: Sequence[float], digits: int = 3) -> list[str]:
    """R's ``format.pval``: values at or above 1e-4 formatted together, smaller ones together
    (scientific), machine-epsilon floor written ``< 2e-16`` (:func:`format_p`, style ``r``)."""
    p = np.asarray(p, dtype=float).ravel()
    out = ["NA"] * p.size
    tiny = p < _EPS
    ok = np.isfinite(p) & ~tiny
    expo = np.floor(np.log10(np.where(p > 0, p, 1e-50)))
    fixed = ok & ((expo >= -3) | ((expo == -4) & (digits > 1)))
    for mask in (fixed, ok & ~fixed):
        if mask.any():
            for i, s in zip(np.flatnonzero(mask), r_format(p[mask], digits), strict=True):
                out[i] = s.strip()
    for i in np.flatnonzero(tiny):
        out[i] = format_p(p[i], style="r")
    return out


# ---------------------------------------------------------------------------- names
def _strip(name: str, minlength: int) -> str:
    """R's abbreviation of one name (drop lower-case vowels, then lower-case letters, then
    any character, from the end of words; the first character is kept)."""
    s = list(name)
    if len(s) <= minlength:
        return name

    def first_of_word(i: int) -> bool:
        return s[i - 1].isspace()

    def last_of_word(i: int) -> bool:
        return not s[i - 1].isspace() and (i + 1 == len(s) or s[i + 1].isspace())

    spaces = sum(c.isspace() for c in s[1:])
    rules = [
        lambda i: s[i] in "aeiou" and last_of_word(i),
        lambda i: s[i] in "aeiou" and not first_of_word(i),
        lambda i: s[i].islower() and last_of_word(i),
        lambda i: s[i].islower() and not first_of_word(i),
        lambda i: not first_of_word(i) and not s[i].isspace(),
    ]
    for rule in rules:
        for i in range(len(s) - 1, 0, -1):
            if i < len(s) and rule(i):
                del s[i]
            if len(s) - spaces <= minlength:
                break
        if len(s) - spaces <= minlength:
            break
    text = "".join(s)
    return text if len(text) <= minlength else text[0] + "".join(text[1:].split())


def abbreviate(names: Sequence[str], minlength: int = 4) -> list[str]:
    """R's ``abbreviate(names, minlength)``: lengthened where abbreviations would collide."""
    unique = list(dict.fromkeys(names))
    out = {n: _strip(n, minlength) for n in unique}
    length = minlength
    while True:
        seen: dict[str, list[str]] = {}
        for n in unique:
            seen.setdefault(out[n], []).append(n)
        clash = [n for group in seen.values() if len(group) > 1 for n in group]
        if not clash or length > max(len(n) for n in unique):
            break
        length += 1
        for n in clash:
            out[n] = _strip(n, length)
    return [out[n] for n in names]


# ---------------------------------------------------------------------------- tables
def _matrix_lines(rownames: list[str], header: list[str], cells: list[list[str]],
                  right: bool) -> list[str]:
    """Print a character matrix as R's ``print(m, quote = FALSE)`` does."""
    rw = max((len(r) for r in rownames), default=0)
    widths = [max([len(h)] + [len(row[j]) for row in cells]) for j, h in enumerate(header)]

    def just(text: str, w: int) -> str:
        return text.rjust(w) if right else text.ljust(w)

    lines = [" " * rw + "".join(" " + just(h, w) for h, w in zip(header, widths, strict=True))]
    for name, row in zip(rownames, cells, strict=True):
        lines.append(name.ljust(rw) + "".join(" " + just(c, w)
                                              for c, w in zip(row, widths, strict=True)))
    return [line.rstrip() for line in lines]


def coefficient_lines(table: pd.DataFrame, digits: int = 4) -> list[str]:
    """R's ``printCoefmat``: estimate/SE(/df) columns, the statistic, p values and stars.

    ``table`` has the columns of the printed matrix in order; the last one holds p values
    and the one before it the test statistic.
    """
    values = table.to_numpy(dtype=float)
    nrow, ncol = values.shape
    dig_tst = max(1, min(5, digits - 1))
    cs = values[:, : ncol - 2]
    cells = np.empty((nrow, ncol), dtype=object)
    acs = np.abs(cs[np.isfinite(cs) & (cs != 0)])
    digmin = 1 + np.floor(np.log10([acs.min(), acs.max()])) if acs.size else np.array([1.0])
    decimals = int(max(1, np.max(digits - digmin)))
    formatted = r_format(np.round(cs, decimals).ravel(), digits)
    for k, text in enumerate(formatted):
        i, j = divmod(k, cs.shape[1])
        value = cs[i, j]
        if value != 0 and np.isfinite(value) and float(text) == 0:
            text = r_format([value], max(1, digits - 1))[0]
        cells[i, j] = text
    tst = r_format(np.round(values[:, ncol - 2], dig_tst), digits)
    cells[:, ncol - 2] = tst
    cells[:, ncol - 1] = r_format_pvalues(values[:, ncol - 1], dig_tst)
    header = list(table.columns)
    rows = [list(r) for r in cells]
    pv = values[:, ncol - 1]
    if np.any(pv[np.isfinite(pv)] < 0.1):
        header.append("")
        for row, p in zip(rows, pv, strict=True):
            row.append(significance_stars(p).ljust(3))
        lines = _matrix_lines(list(table.index), header, rows, right=True)
        return [*lines, "---", _LEGEND]
    return _matrix_lines(list(table.index), header, rows, right=True)


def correlation_lines(vcov: np.ndarray, names: list[str]) -> list[str]:
    """lme4's ``Correlation of Fixed Effects`` block (lower triangle, 3 decimals)."""
    p = len(names)
    if p < 2:
        return []
    if p > CORRELATION_MAX_P:
        return [f"Correlation matrix not shown by default, as p = {p} > {CORRELATION_MAX_P}; "
                "use cov2cor(result.vcov) if you need it"]
    sd = np.sqrt(np.diag(vcov))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = vcov / np.outer(sd, sd)
    text = np.array(r_format(np.round(corr, 3).ravel(), 7, nsmall=3)).reshape(p, p)
    rows = [[text[i, j] if i > j else "" for j in range(p - 1)] for i in range(1, p)]
    return ["Correlation of Fixed Effects:",
            *_matrix_lines(abbreviate(names, 11)[1:], abbreviate(names, 6)[:-1], rows,
                           right=False)]


def varcorr_lines(varcorr: pd.DataFrame, digits: int = 4) -> list[str]:
    """lme4's random-effects table: groups, names, variances, SDs and correlations."""
    var_rows = varcorr[varcorr["var2"].isna()]
    groups = list(dict.fromkeys(var_rows["grp"]))
    sizes = [int((var_rows["grp"] == g).sum()) for g in groups]
    # numerically zero components (an optimum a hair inside the boundary) print as 0
    variances = r_format(zapsmall(var_rows["vcov"].to_numpy(float)), digits)
    sds = r_format(zapsmall(var_rows["sdcor"].to_numpy(float)), digits)
    width = max(sizes)
    rows, k = [], 0
    for g, size in zip(groups, sizes, strict=True):
        sub = varcorr[varcorr["grp"] == g]
        names = list(sub.loc[sub["var2"].isna(), "var1"])
        cor = np.eye(size)
        for _, r in sub[sub["var2"].notna()].iterrows():
            i, j = names.index(r["var1"]), names.index(r["var2"])
            cor[i, j] = cor[j, i] = r["sdcor"]
        dig = max(2, digits - 2)
        ctext = np.array(r_format(np.round(cor, dig).ravel(), 7, nsmall=dig)).reshape(size, size)
        for i in range(size):
            corr = [ctext[i, j] if i > j else "" for j in range(width - 1)]
            name = "" if g == "Residual" else str(names[i])
            rows.append([g if i == 0 else "", name, variances[k], sds[k], *corr])
            k += 1
    header = ["Groups", "Name", "Variance", "Std.Dev."]
    if width > 1:
        header += ["Corr"] + [""] * (width - 2)
    return _matrix_lines([""] * len(rows), header, rows, right=False)


# ---------------------------------------------------------------------------- assembly
def _title(result: Any, ddf: str) -> str:
    if result.family == "gaussian":
        how = "REML" if result.reml else "maximum likelihood"
        method = "Kenward-Roger's" if ddf == "kenward-roger" else "Satterthwaite's"
        return f"Linear mixed model fit by {how}. t-tests use {method} method"
    nagq = int(getattr(result, "nagq", 1))
    approx = ("Laplace Approximation" if nagq == 1
              else f"Adaptive Gauss-Hermite Quadrature, nAGQ = {nagq}")
    return f"Generalized linear mixed model fit by maximum likelihood ({approx})"


def _criterion_lines(result: Any) -> list[str]:
    if result.reml:
        return [f"REML criterion at convergence: {round(result.deviance, 1):.7g}"]
    values = np.round([result.aic, result.bic, result.loglik, -2 * result.loglik], 1)
    cells = [s.strip() for s in r_format(values)] + [str(int(result.nobs - result.npar))]
    names = ["AIC", "BIC", "logLik", "deviance", "df.resid"]
    w = max(len(t) for t in names + cells)  # R prints a named vector in one common width
    return [" ".join(n.rjust(w) for n in names), " ".join(c.rjust(w) for c in cells)]


def _scaled_residuals(result: Any) -> np.ndarray:
    model = result.model
    if result.family == "gaussian":
        return (result.residuals.to_numpy(float) * np.sqrt(model.prior_weights)
                / result.sigma)
    from alliancestats.models.families import get_family

    fam = getattr(getattr(model, "inputs", None), "family", None) or get_family(
        model.family, model.link)
    # lme4: Pearson residuals over sigma (1 for families without a dispersion)
    return fam.pearson_resid(model.response_values, result.fitted.to_numpy(float),
                             model.prior_weights) / result.sigma


def _residual_lines(r: np.ndarray, digits: int = 4) -> list[str]:
    q = np.quantile(r[np.isfinite(r)], [0, 0.25, 0.5, 0.75, 1.0])
    cells = r_format(zapsmall(q, digits + 1), digits)
    names = ["Min", "1Q", "Median", "3Q", "Max"]
    w = max(len(cells[0]), 6)
    return ["Scaled residuals:", " ".join(n.rjust(w) for n in names),
            " ".join(c.rjust(w) for c in cells)]


def _fixed_table(result: Any) -> pd.DataFrame:
    fx = result.fixed
    if "t" in fx.columns:
        cols = {"estimate": "Estimate", "se": "Std. Error", "df": "df", "t": "t value",
                "p": "Pr(>|t|)"}
    else:
        # lme4 heads the statistic "t value" for GLMMs with a residual scale (Gamma, ...)
        stat = "t value" if "Residual" in set(result.varcorr["grp"]) else "z value"
        cols = {"estimate": "Estimate", "se": "Std. Error", "z": stat, "p": "Pr(>|z|)"}
    return fx[list(cols)].rename(columns=cols)


def _notes(result: Any) -> list[str]:
    notes = []
    if result.singular:
        notes.append("boundary (singular) fit: see the SingularFitWarning documentation")
    if not result.converged:
        grad = result.optimizer["max_scaled_gradient"] if result.optimizer else np.nan
        notes.append(f"optimizer did not reach a verified optimum (max|scaled gradient| = "
                     f"{grad:.3g}, tolerance 0.002)")
    notes.extend(result.messages)
    return notes


def summary_text(result: Any, ddf: str = "satterthwaite") -> str:
    """The whole summary of a :class:`~alliancestats.models.results.MixedResult`."""
    lines = [_title(result, ddf), f"Formula: {result.formula}", "", *_criterion_lines(result),
             ""]
    if isinstance(getattr(result, "residuals", None), pd.Series):  # not a lazy Dask Series
        lines += [*_residual_lines(_scaled_residuals(result)), ""]
    lines += ["Random effects:", *varcorr_lines(result.varcorr)]
    groups = "; ".join(f"{k}, {v}" for k, v in result.ngroups.items())
    lines.append(f"Number of obs: {result.nobs}, groups:  {groups}")
    if result.n_dropped:
        lines.append(f"({result.n_dropped} rows dropped for missing values)")
    if len(result.fixed):
        lines += ["", "Fixed effects:", *coefficient_lines(_fixed_table(result))]
        corr = correlation_lines(result.vcov.to_numpy(float), list(result.fixed.index))
        if corr:
            lines += ["", *corr]
    notes = _notes(result)
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)
