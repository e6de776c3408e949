"""Side-by-side tables of mixed-model fits for papers (modelsummary / texreg / tab_model style).

:func:`compare_models` lines up several fits: fixed effects with SEs or confidence intervals
(optionally with significance stars), random-effect SDs (or variances) and correlations, the
residual SD, ICC, marginal and conditional R², numbers of observations and groups, AIC, BIC
and the log-likelihood. The :class:`ModelTable` it returns exports to a pandas DataFrame,
Markdown, HTML, LaTeX (booktabs) and Word (``.docx`` through python-docx, installed with the
``docx`` extra: ``pip install alliancestats[docx]``).

Examples
--------
>>> import alliancestats as als
>>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain", "alliance"])
>>> m1 = als.lmm("pain ~ session + (1 | patient)", df)
>>> m2 = als.lmm("pain ~ session + alliance + (1 | patient)", df)
>>> tab = als.compare_models({"Time": m1, "Time + alliance": m2})
>>> list(tab.to_frame().columns)
['Time', 'Time + alliance']
>>> print(tab.to_markdown().splitlines()[0])
|  | Time | Time + alliance |
"""

from __future__ import annotations

import html
import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from alliancestats._format import format_number
from alliancestats._validation import check_bool, check_choice, check_int, check_level
from alliancestats.effects import _model
from alliancestats.errors import AllianceStatsError, ModelSpecificationError, ParameterError

__all__ = ["ModelTable", "compare_models"]

SECTIONS = ("Fixed effects", "Random effects", "Model fit")
STAR_NOTE = "* p < .05, ** p < .01, *** p < .001"


def _stars(p: float) -> str:
    if not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


@dataclass
class ModelTable:
    """Several mixed models side by side (see :func:`compare_models`).

    Attributes
    ----------
    values : pandas.DataFrame
        Long numeric table: ``section, row, model, estimate, se, ci_low, ci_high, p``.
    frame : pandas.DataFrame
        Formatted cells (text), indexed by ``(section, row)``, one column per model.
    notes : list of str
        Footnotes (statistic shown, stars, R² method, singular fits).
    """

    values: pd.DataFrame
    frame: pd.DataFrame
    notes: list[str] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """The formatted table as a DataFrame (index: section and row)."""
        return self.frame.copy()

    def _rows(self) -> list[tuple[str, str | None, list[str]]]:
        """(section, row label or None for a section header, cells) in display order."""
        out: list[tuple[str, str | None, list[str]]] = []
        for section in SECTIONS:
            if section not in self.frame.index.get_level_values(0):
                continue
            out.append((section, None, []))
            for row, cells in self.frame.loc[section].iterrows():
                out.append((section, str(row), [str(c) for c in cells]))
        return out

    def to_markdown(self) -> str:
        """A pipe table (GitHub / pandoc Markdown) with bold section rows and notes."""
        def cell(text: str) -> str:
            return text.replace("|", "\\|")

        cols = [cell(c) for c in self.frame.columns]
        lines = ["|  | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        for section, row, cells in self._rows():
            if row is None:
                lines.append(f"| **{section}** |" + " |" * len(cols))
            else:
                lines.append(f"| {cell(row)} | " + " | ".join(cell(c) for c in cells) + " |")
        if self.notes:
            lines += ["", "*Note.* " + " ".join(self.notes)]
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML ``<table>`` with section rows and a footnote row."""
        cols = list(self.frame.columns)
        esc = html.escape
        parts = ['<table class="alliancestats-models">', "<thead><tr><th></th>"]
        parts += [f"<th>{esc(c)}</th>" for c in cols] + ["</tr></thead>", "<tbody>"]
        for section, row, cells in self._rows():
            if row is None:
                parts.append(f'<tr><th colspan="{len(cols) + 1}">{esc(section)}</th></tr>')
            else:
                tds = "".join(f"<td>{esc(c)}</td>" for c in cells)
                parts.append(f"<tr><td>{esc(row)}</td>{tds}</tr>")
        parts.append("</tbody>")
        if self.notes:
            note = " ".join(esc(n) for n in self.notes)
            parts.append(f'<tfoot><tr><td colspan="{len(cols) + 1}"><em>Note.</em> {note}'
                         "</td></tr></tfoot>")
        parts.append("</table>")
        return "\n".join(parts)

    def to_latex(self) -> str:
        """A booktabs ``tabular`` (needs ``\\usepackage{booktabs}``)."""
        cols = list(self.frame.columns)
        lines = [r"\begin{tabular}{l" + "c" * len(cols) + "}", r"\toprule",
                 " & " + " & ".join(_latex(c) for c in cols) + r" \\", r"\midrule"]
        first = True
        for section, row, cells in self._rows():
            if row is None:
                if not first:
                    lines.append(r"\midrule")
                span = rf"\multicolumn{{{len(cols) + 1}}}{{l}}"
                lines.append(span + rf"{{\textit{{{_latex(section)}}}}} \\")
                first = False
            else:
                lines.append(_latex(row) + " & " + " & ".join(_latex(c) for c in cells) + r" \\")
        lines.append(r"\bottomrule")
        if self.notes:
            note = " ".join(_latex(n) for n in self.notes)
            span = rf"\multicolumn{{{len(cols) + 1}}}{{l}}"
            lines.append(span + rf"{{\footnotesize \textit{{Note.}} {note}}} \\")
        lines.append(r"\end{tabular}")
        return "\n".join(lines)

    def to_docx(self, path: Any = None) -> Any:
        """A Word document holding the table (python-docx); saved to ``path`` when given.

        Parameters
        ----------
        path : str or pathlib.Path, optional
            Where to save the document.

        Returns
        -------
        docx.document.Document
            The document (also when it was saved).

        Raises
        ------
        ImportError
            python-docx is not installed (``pip install alliancestats[docx]``).
        """
        try:
            import docx
        except ImportError as exc:  # pragma: no cover - exercised without the extra only
            raise ImportError(
                "to_docx needs python-docx: pip install 'alliancestats[docx]'"
            ) from exc
        cols = list(self.frame.columns)
        document = docx.Document()
        rows = self._rows()
        table = document.add_table(rows=1 + len(rows), cols=len(cols) + 1)
        for j, c in enumerate(["", *cols]):
            table.cell(0, j).text = c
        for i, (section, row, cells) in enumerate(rows, start=1):
            if row is None:
                merged = table.cell(i, 0).merge(table.cell(i, len(cols)))
                merged.text = section
                merged.paragraphs[0].runs[0].italic = True
            else:
                for j, c in enumerate([row, *cells]):
                    table.cell(i, j).text = c
        if self.notes:
            document.add_paragraph("Note. " + " ".join(self.notes))
        if path is not None:
            document.save(path)
        return document

    def summary(self) -> str:
        """The table as aligned plain text."""
        return self.to_frame().to_string()

    def __repr__(self) -> str:
        return self.summary()


def _latex(text: str) -> str:
    """Escape LaTeX special characters (and render ² as a superscript)."""
    out = re.sub(r"([&%$#_{}])", r"\\\1", text)
    out = out.replace("~", r"\textasciitilde{}").replace("^", r"\textasciicircum{}")
    return out.replace("²", r"$^2$")


def _fixed_values(fit: Any, level: float, exponentiate: bool) -> list[dict]:
    fx = fit.fixed
    if "t" in fx.columns:
        q = stats.t.ppf(0.5 + level / 2, fx["df"].to_numpy(float))
    else:
        q = np.full(len(fx), stats.norm.ppf(0.5 + level / 2))
    rows = []
    for (term, r), qk in zip(fx.iterrows(), q, strict=True):
        est, se = float(r["estimate"]), float(r["se"])
        lo, hi = est - qk * se, est + qk * se
        if exponentiate:
            est, se, lo, hi = math.exp(est), math.exp(est) * se, math.exp(lo), math.exp(hi)
        rows.append({"section": SECTIONS[0], "row": term, "estimate": est, "se": se,
                     "ci_low": lo, "ci_high": hi, "p": float(r["p"])})
    return rows


def _random_values(fit: Any, variance: str) -> list[dict]:
    rows = []
    for _, r in fit.varcorr.iterrows():
        kind = "SD" if variance == "sd" else "Variance"
        if r["grp"] == "Residual":
            label = f"Residual: {kind}"
        elif isinstance(r["var2"], str):
            label = f"{r['grp']}: Cor {r['var1']}, {r['var2']}"
        else:
            label = f"{r['grp']}: {kind} {r['var1']}"
        value = r["sdcor"] if (variance == "sd" or isinstance(r["var2"], str)) else r["vcov"]
        rows.append({"section": SECTIONS[1], "row": label, "estimate": float(value)})
    return rows


def _fit_values(fit: Any, want_icc: bool, want_r2: bool, notes: set[str]) -> list[dict]:
    from alliancestats.effects.icc import icc
    from alliancestats.effects.r2 import r2

    values: dict[str, float] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if want_icc:
                values["ICC (adjusted)"] = icc(fit).adjusted
            if want_r2:
                res = r2(fit)
                values["R² marginal"] = res.marginal
                values["R² conditional"] = res.conditional
                notes.add(res.method)
        except (ModelSpecificationError, AllianceStatsError):
            pass
    values["N observations"] = float(fit.nobs)
    for group, n in fit.ngroups.items():
        values[f"N {group}"] = float(n)
    values.update({"AIC": float(fit.aic), "BIC": float(fit.bic),
                   "Log-likelihood": float(fit.loglik)})
    return [{"section": SECTIONS[2], "row": k, "estimate": v} for k, v in values.items()]


def _cell(r: pd.Series, statistic: str, stars: bool, digits: int) -> str:
    if pd.isna(r.get("estimate")):
        return ""
    row = str(r["row"])
    if row.startswith("N "):
        return f"{int(r['estimate'])}"
    if row in ("AIC", "BIC", "Log-likelihood"):
        return format_number(r["estimate"], 1)
    text = format_number(r["estimate"], digits)
    if r["section"] != SECTIONS[0]:
        return text
    if stars:
        text += _stars(r["p"])
    if statistic == "se":
        text += f" ({format_number(r['se'], digits)})"
    elif statistic == "ci":
        text += f" [{format_number(r['ci_low'], digits)}, {format_number(r['ci_high'], digits)}]"
    return text


def _named_fits(fits: Any, names: Sequence[str] | None) -> dict[str, Any]:
    if isinstance(fits, Mapping):
        if names is not None:
            raise ParameterError("give model names either as dict keys or as names=, not both")
        named = {str(k): v for k, v in fits.items()}
    else:
        fits = list(fits) if isinstance(fits, Sequence) else [fits]
        names = [f"Model {k + 1}" for k in range(len(fits))] if names is None else list(names)
        if len(names) != len(fits) or len(set(names)) != len(names):
            raise ParameterError(f"names must be {len(fits)} distinct labels, got {names}")
        named = dict(zip(names, fits, strict=True))
    if not named:
        raise ParameterError("compare_models needs at least one fitted model")
    for name, fit in named.items():
        try:
            _model.require_fit(fit, "compare_models")
        except ModelSpecificationError as exc:
            raise ModelSpecificationError(f"{name}: {exc}") from exc
    return named


def compare_models(
    fits: Any,
    *,
    names: Sequence[str] | None = None,
    statistic: str = "se",
    stars: bool = False,
    digits: int = 2,
    variance: str = "sd",
    icc: bool = True,
    r2: bool = True,
    level: float = 0.95,
    exponentiate: bool = False,
) -> ModelTable:
    """Several mixed-model fits side by side, ready for a paper.

    Parameters
    ----------
    fits : sequence of MixedResult, or dict of name -> MixedResult
        The fits, in column order.
    names : sequence of str, optional
        Column labels (default ``Model 1``, ``Model 2``, ...; dict keys when ``fits`` is a
        dict).
    statistic : {"se", "ci", "none"}
        Shown after each fixed effect: SE in parentheses, confidence interval in brackets, or
        nothing.
    stars : bool, default False
        Append ``*``/``**``/``***`` for p < .05/.01/.001.
    digits : int, default 2
        Decimals of estimates, SEs, intervals, variance components, ICC and R².
    variance : {"sd", "variance"}
        Report random-effect SDs (lme4's print) or variances.
    icc, r2 : bool, default True
        Add the adjusted ICC and the marginal and conditional R² (see :func:`icc`, :func:`r2`).
    level : float, default 0.95
        Confidence level for ``statistic="ci"``.
    exponentiate : bool, default False
        GLMM fixed effects as odds or rate ratios (SE by the delta method).

    Returns
    -------
    ModelTable
        ``values`` (numbers), ``frame`` (formatted), ``notes``, and ``to_markdown``,
        ``to_html``, ``to_latex``, ``to_docx``.

    Raises
    ------
    ParameterError
        Bad names or options.
    ModelSpecificationError
        An entry that is not a fitted mixed model, or ``exponentiate`` with a linear mixed
        model.

    Notes
    -----
    Rows follow R's modelsummary and texreg: fixed effects in order of first appearance,
    then variance components (lme4's ``VarCorr`` order), then fit statistics. Each number
    is the fit's own (``fixed``, ``varcorr``, ``icc``, ``r2``, ``nobs``, ``ngroups``,
    ``aic``, ``bic``, ``loglik``), so the table inherits their validation against lme4,
    lmerTest and performance. AIC, BIC and log-likelihood of REML fits are REML criteria and
    are comparable only between fits with the same fixed effects (as in lme4).

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=6, seed=3).dropna(subset=["pain"])
    >>> tab = als.compare_models([als.lmm("pain ~ session + (1 | patient)", df)], stars=True)
    >>> tab.frame.loc[("Fixed effects", "session")].iloc[0].split(" ")[0].endswith("***")
    True
    """
    named = _named_fits(fits, names)
    check_choice("statistic", statistic, ("se", "ci", "none"))
    check_choice("variance", variance, ("sd", "variance"))
    stars, icc, r2, exponentiate = (check_bool(n, v) for n, v in (
        ("stars", stars), ("icc", icc), ("r2", r2), ("exponentiate", exponentiate)))
    digits = check_int("digits", digits, minimum=0, maximum=10)
    level = check_level(level)
    if exponentiate and not all(_model.is_glmm(f) for f in named.values()):
        raise ModelSpecificationError("exponentiate=True needs GLMM fits (odds or rate ratios)")
    methods: set[str] = set()
    records = []
    for name, fit in named.items():
        rows = (_fixed_values(fit, level, exponentiate) + _random_values(fit, variance)
                + _fit_values(fit, icc, r2, methods))
        records += [{**r, "model": name} for r in rows]
    values = pd.DataFrame(records)
    for col in ("se", "ci_low", "ci_high", "p"):
        if col not in values:
            values[col] = np.nan
    values["cell"] = [_cell(r, statistic, stars, digits) for _, r in values.iterrows()]
    order = list(dict.fromkeys(zip(values["section"], values["row"], strict=True)))
    # sections in order; within variance components the residual comes last
    order.sort(key=lambda k: (SECTIONS.index(k[0]), k[1].startswith("Residual: ")))
    frame = values.pivot(index=["section", "row"], columns="model", values="cell")
    frame = frame.reindex(index=pd.MultiIndex.from_tuples(order, names=["section", "row"]),
                          columns=list(named)).fillna("")
    frame.columns.name = None
    notes = _notes(named, statistic, level, stars, methods if r2 else set())
    return ModelTable(values=values.drop(columns="cell"), frame=frame, notes=notes)


def _notes(named: dict[str, Any], statistic: str, level: float, stars: bool,
           methods: set[str]) -> list[str]:
    notes = []
    if statistic != "none":
        notes.append("Standard errors in parentheses." if statistic == "se"
                     else f"{level:.0%} confidence intervals in brackets.")
    if stars:
        notes.append(STAR_NOTE + ".")
    if methods:
        notes.append("R² of Nakagawa & Schielzeth (2013); distribution-specific variance: "
                     + "; ".join(sorted(methods)) + ".")
    notes += [f"{name}: singular fit (a variance component on its boundary)."
              for name, fit in named.items() if getattr(fit, "singular", False)]
    return notes
