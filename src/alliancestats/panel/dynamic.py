"""ML-SEM dynamic panel model with fixed effects (Allison, Williams & Moral-Benito 2017).

The outcome at each session is regressed on its own previous value, on lagged (or current)
time-varying predictors and on time-invariant predictors, with the coefficients equal over
sessions. A latent variable ``alpha`` with loadings 1 on every regressed outcome wave is the
patient's fixed effect: it may correlate with every time-varying predictor and with the
first outcome wave(s), so stable differences between patients cannot bias the lagged effects
-- and, unlike the person-mean-centred (within) regression, there is no Nickell bias, because
nothing is estimated per patient. A predetermined predictor (``pre(...)``) may respond to
earlier outcomes: the error of the outcome at session t covaries with the predictor at later
sessions. The predictors, time-invariant covariates and pre-sample outcomes form a block with
free means and covariances. This is R dpm 1.2.0's (and Stata xtdpdml's) model; the options
have dpm's names.

Examples
--------
>>> from alliancestats.panel.dpm_formula import parse_dynamic_formula
>>> from alliancestats.panel.dynamic import dynamic_spec
>>> f = parse_dynamic_formula("wks ~ pre(lag(union)) + lag(lwage) | ed")
>>> spec, start = dynamic_spec(f, list(range(1, 8)), error_inv=True)
>>> start, spec.compile().n_free
(2, 154)
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import check_bool
from alliancestats.errors import ModelSpecificationError, ParameterError
from alliancestats.panel.dpm_formula import DynamicFormula, parse_dynamic_formula
from alliancestats.panel.fitting import check_estimation_options, fit_wide
from alliancestats.panel.ram import ModelSpec
from alliancestats.panel.results import PanelResult, parameter_table, wald
from alliancestats.panel.waves import to_wide, wave_name

__all__ = ["dynamic_panel", "dynamic_spec"]


def _y_lags(value: Any) -> list[int]:
    items = [value] if isinstance(value, Integral) else value
    try:
        lags = sorted({int(v) for v in items if not isinstance(v, bool)})
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"y_lag must be a whole number or a list of them, got {value!r}") \
            from exc
    if not lags or any(lag < 0 for lag in lags) or len(lags) != len(list(items)):
        raise ParameterError(f"y_lag must be whole numbers >= 0 without repeats, got {value!r}")
    return [lag for lag in lags if lag > 0]


def _layout(f: DynamicFormula, waves: list[int], y_lags: list[int]):
    """First regressed wave, target waves and the waves each predictor is used at."""
    lags = [t.lag for t in f.terms]
    first, last = waves[0], waves[-1]
    start = first + max([*lags, *y_lags, 0])
    if start >= last:
        raise ModelSpecificationError(
            f"with lags up to {start - first} the model needs at least {start - first + 2} "
            f"sessions; have {len(waves)} ({first}-{last})"
        )

    def used(variable: str, pre_only: bool = False) -> tuple[int, int]:
        ls = [t.lag for t in f.terms if t.variable == variable and (t.predetermined or not pre_only)]
        return start - max(ls), last - min(ls)

    return start, list(range(start, last + 1)), used


def dynamic_spec(
    f: DynamicFormula,
    waves: list[int],
    *,
    y_lag: Sequence[int] | int = 1,
    error_inv: bool = False,
    const_inv: bool = False,
    alpha_free: bool = False,
    y_free: bool = False,
    x_free: bool = False,
    fixed_effects: bool = True,
    partial_pre: bool = False,
) -> tuple[ModelSpec, int]:
    """The dynamic panel model as a parameter table, and its first regressed wave."""
    y, y_lags = f.response, _y_lags(y_lag)
    start, targets, used = _layout(f, waves, y_lags)
    block = [wave_name(v, w) for v in f.variables for w in range(used(v)[0], used(v)[1] + 1)]
    prior_y = [wave_name(y, w) for w in range(waves[0], start)] if y_lags else []
    block_all = block + list(f.constants) + prior_y
    observed = [wave_name(y, w) for w in targets] + block_all
    spec = ModelSpec(observed, ["alpha"])
    for w in targets:
        out = wave_name(y, w)
        for k, t in enumerate(f.terms):
            spec.add(out, "~", wave_name(t.variable, w - t.lag),
                     label=f"b{k}" + (f"_{w}" if x_free else ""))
        for k, c in enumerate(f.constants):
            spec.add(out, "~", c, label=f"c{k}" + (f"_{w}" if x_free else ""))
        for lag in y_lags:
            spec.add(out, "~", wave_name(y, w - lag), label=f"p{lag}" + (f"_{w}" if y_free else ""))
    for i, w in enumerate(targets):
        spec.add("alpha", "=~", wave_name(y, w), fixed=None if alpha_free and i else 1.0)
    spec.add("alpha", "~~", "alpha")
    for i, a in enumerate(block_all):
        for b in block_all[i:]:
            spec.add(a, "~~", b)
        spec.add(a, "~1")
    for v in block + prior_y:
        spec.add("alpha", "~~", v, fixed=None if fixed_effects else 0.0)
    predetermined = [v for v in f.variables if any(t.predetermined and t.variable == v
                                                   for t in f.terms)]
    for w in targets[:-1]:
        for v in predetermined:
            for w2 in range(w if partial_pre else w + 1, used(v, pre_only=True)[1] + 1):
                spec.add(wave_name(y, w), "~~", wave_name(v, w2))
    for w in targets:
        spec.add(wave_name(y, w), "~~", wave_name(y, w), label="v" if error_inv else None)
        spec.add(wave_name(y, w), "~1", label="m" if const_inv else None)
    return spec, start


def _coefficient_rows(f: DynamicFormula, y_lags: list[int], targets: list[int], x_free: bool,
                      y_free: bool) -> list[dict]:
    """Terms and the parameter-table row (lhs, rhs) holding each coefficient."""
    y = f.response
    rows = []
    waves_x = targets if x_free else targets[:1]
    waves_y = targets if y_free else targets[:1]
    for t in f.terms:
        kind = "predetermined" if t.predetermined else "exogenous"
        for w in waves_x:
            rows.append({"term": t.name, "kind": kind, "lag": t.lag, "wave": w,
                         "lhs": wave_name(y, w), "rhs": wave_name(t.variable, w - t.lag)})
    for c in f.constants:
        for w in waves_x:
            rows.append({"term": c, "kind": "time-invariant", "lag": np.nan, "wave": w,
                         "lhs": wave_name(y, w), "rhs": c})
    for lag in y_lags:
        name = f"lag({y})" if lag == 1 else f"lag({y}, {lag})"
        for w in waves_y:
            rows.append({"term": name, "kind": "lagged outcome", "lag": lag, "wave": w,
                         "lhs": wave_name(y, w), "rhs": wave_name(y, w - lag)})
    return rows


def _coefficients(params: pd.DataFrame, rows: list[dict], x_free: bool, y_free: bool):
    keyed = params.set_index(params["lhs"] + "~" + params["rhs"])
    keyed = keyed[keyed["op"] == "~"]
    out, index = [], []
    for r in rows:
        p = keyed.loc[r["lhs"] + "~" + r["rhs"]]
        per_wave = (x_free and r["kind"] != "lagged outcome") or (
            y_free and r["kind"] == "lagged outcome")
        index.append(f"{r['term']} [{r['wave']}]" if per_wave else r["term"])
        out.append({"kind": r["kind"], "lag": r["lag"],
                    "wave": r["wave"] if per_wave else np.nan, "label": p["label"],
                    **{c: p[c] for c in ("estimate", "se", "z", "p", "ci_low", "ci_high")}})
    return pd.DataFrame(out, index=index)


def _long_run(coefficients: pd.DataFrame, vcov: pd.DataFrame, level: float) -> pd.DataFrame:
    """beta / (1 - sum of the lagged-outcome coefficients), delta-method standard errors."""
    lagged = coefficients[coefficients["kind"] == "lagged outcome"]
    others = coefficients[coefficients["kind"] != "lagged outcome"]
    rho = float(lagged["estimate"].sum())
    rows = []
    for term, r in others.iterrows():
        labels = [r["label"], *lagged["label"]]
        grad = np.array([1 / (1 - rho)] + [r["estimate"] / (1 - rho) ** 2] * len(lagged))
        v = vcov.loc[labels, labels].to_numpy()
        rows.append((term, r["estimate"] / (1 - rho), float(np.sqrt(grad @ v @ grad))))
    table = pd.DataFrame(rows, columns=["term", "estimate", "se"]).set_index("term")
    for key, values in wald(table["estimate"], table["se"], level).items():
        table[key] = values
    return table


def dynamic_panel(
    formula: str,
    data: Any,
    *,
    patient: str = "patient",
    session: str = "session",
    waves: int | Sequence[int] | None = None,
    y_lag: int | Sequence[int] = 1,
    error_inv: bool = False,
    const_inv: bool = False,
    alpha_free: bool = False,
    y_free: bool = False,
    x_free: bool = False,
    fixed_effects: bool = True,
    partial_pre: bool = False,
    information: str = "observed",
    se: str = "standard",
    level: float = 0.95,
) -> PanelResult:
    """ML-SEM dynamic panel model with fixed effects (R dpm / Stata xtdpdml) from long data.

    Parameters
    ----------
    formula : str
        ``"symptoms ~ pre(lag(alliance)) + lag(x) + z | c1 + c2"``: ``lag(v)`` is v at the
        previous session (``lag(v, k)``: k sessions back), a bare name the same session,
        ``pre(...)`` a predetermined predictor (may respond to earlier outcomes), the names
        after ``|`` time-invariant predictors. The lagged outcome is added by ``y_lag``.
        The formula is parsed by a strict grammar, never evaluated.
    data : DataFrame or SessionData
        Long data: one row per patient and session.
    patient, session : str
        Identifier and session-number columns; sessions are the waves (a missing session is
        missing data, never a reason to shift the later ones).
    waves : int or list of int, optional
        Sessions to analyse (all by default; an integer for the first k; or consecutive
        session numbers).
    y_lag : int or list of int, default 1
        Lag(s) of the outcome used as predictors; 0 for a model without a lagged outcome.
    error_inv : bool
        Error variance of the outcome equal over sessions.
    const_inv : bool
        Outcome intercepts equal over sessions.
    alpha_free : bool
        Free loadings of the fixed effect on the outcome waves (the first fixed at 1).
    y_free, x_free : bool
        Let the lagged-outcome coefficients (``y_free``) or the predictor coefficients
        (``x_free``) differ by session.
    fixed_effects : bool, default True
        False gives the random-effects model (alpha uncorrelated with the predictors).
    partial_pre : bool
        Predetermined predictors may also correlate with the same session's error (Allison
        2022).
    information, se, level
        As :func:`alliancestats.riclpm`.

    Returns
    -------
    PanelResult
        ``coefficients`` indexed by term (``lag(alliance)``, ``lag(symptoms)``, constants;
        with ``x_free``/``y_free`` one row per session as ``term [session]``): ``kind, lag,
        wave, label, estimate, se, z, p, ci_low, ci_high``; ``long_run`` effects
        ``beta / (1 - rho)`` with delta-method standard errors (when the coefficients are
        equal over sessions and the outcome is lagged); ``parameters``, ``fit``,
        ``summary()``, ``apa()``.

    Raises
    ------
    FormulaError
        A formula outside the grammar.
    DataValidationError
        As :func:`alliancestats.riclpm`; a time-invariant predictor that changes within a
        patient.
    ModelSpecificationError
        Too few sessions for the lags.

    Notes
    -----
    Full-information ML with all predictors treated as random (their means and covariances
    are estimated, so missing predictor values are handled too); with complete data this
    gives the estimates and chi-square of dpm's ``lavaan::sem`` call. Prefer this model to a
    lagged mixed model with person-mean-centred predictors, whose autoregressive coefficient
    carries Nickell bias of order 1/T (see :func:`alliancestats.nickell_bias`); report the
    long-run effects (Falkenström 2024, Clin Psychol Rev 102435).

    Validated against lavaan 0.6-14 models that reproduce dpm 1.2.0's published
    chi-squares on the Cornwell-Rupert wage panel (plm's ``Wages``, 595 people, 7 years):
    ``wks ~ pre(lag(union)) + lag(lwage) | ed`` with ``error_inv=True`` gives chi-square(76)
    = 138.476 with union(t-1) -1.206 (SE .522, observed information), lwage(t-1) .588,
    ed -.107, wks(t-1) .188 (Allison, Williams & Moral-Benito 2017, Socius 3); fourteen
    other specifications from dpm's test suite (lags, no lagged outcome, random effects,
    free loadings or coefficients, equal intercepts), a copy with 5% missing values and the
    bundled psychotherapy sample: estimates within 2e-3 standard errors (worst 6e-4),
    standard errors (observed, expected, robust) within 1e-3 relative (worst 6e-5),
    chi-square within 1e-4 relative, fit indices within 1e-5.

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_riclpm(n_patients=300, n_waves=5, seed=2)
    >>> fit = als.dynamic_panel("symptoms ~ pre(lag(alliance))", df, error_inv=True)
    >>> list(fit.coefficients.index)
    ['lag(alliance)', 'lag(symptoms)']
    >>> list(fit.long_run.index)
    ['lag(alliance)']
    """
    information, se, level = check_estimation_options(information, se, level)
    flags = {name: check_bool(name, value) for name, value in (
        ("error_inv", error_inv), ("const_inv", const_inv), ("alpha_free", alpha_free),
        ("y_free", y_free), ("x_free", x_free), ("fixed_effects", fixed_effects),
        ("partial_pre", partial_pre))}
    f = parse_dynamic_formula(formula)
    y_lags = _y_lags(y_lag)

    def required(ws: list[int]) -> list[str]:
        return dynamic_spec(f, ws, y_lag=y_lag, **flags)[0].observed

    panel = to_wide(data, [f.response, *f.variables], patient=patient, session=session,
                    function="dynamic_panel", waves=waves, covariates=f.constants,
                    required=lambda ws: [c for c in required(ws) if c not in f.constants])
    spec, start = dynamic_spec(f, panel.waves, y_lag=y_lag, **flags)
    fit, messages = fit_wide(spec, panel, information=information, se=se)
    params = parameter_table(fit, level)
    targets = list(range(start, panel.waves[-1] + 1))
    rows = _coefficient_rows(f, y_lags, targets, flags["x_free"], flags["y_free"])
    coefficients = _coefficients(params, rows, flags["x_free"], flags["y_free"])
    tables = {}
    vcov = pd.DataFrame(fit.vcov, index=fit.model.labels, columns=fit.model.labels)
    if y_lags and not (flags["x_free"] or flags["y_free"]) and len(f.terms + f.constants):
        tables["long_run"] = _long_run(coefficients, vcov, level)
    name = "Dynamic panel (ML-SEM" + (")" if flags["fixed_effects"] else ", random effects)")
    return PanelResult(
        model=name, description=f.text, sem=fit, coefficients=coefficients, parameters=params,
        tables=tables, highlights=list(coefficients.index), waves=panel.waves,
        groups=[None], level=level, dropped=panel.dropped, messages=messages,
        wide=panel.wide, formula=f.text, first_regressed_wave=start,
        options={"y_lag": y_lags, **flags},
    )
