"""Reliability of a multi-item scale rated at every session (e.g. the WAI-SR).

* :func:`multilevel_reliability` -- the generalizability coefficients of Shrout & Lane (2012,
  in Mehl & Conner (eds), *Handbook of Research Methods for Studying Daily Life*, ch. 17), as
  ``psych::multilevel.reliability`` computes them from the variance components of persons,
  times, items and their interactions (a fully crossed persons x times x items design) and of
  a nested model (times within persons).
* :func:`within_between_alpha` -- Cronbach's alpha of the items' within-patient
  (session-to-session) and between-patient (patient means) covariation, the decomposition of
  ``psych::statsBy`` (pooled within-group and between-group correlations).

Why not a generic library: psych's estimators are not available in Python (pingouin has
single-level alpha and ICCs only); the crossed variance components use alliancestats' own
mixed-model engine, validated against lme4.

Examples
--------
>>> import alliancestats as als
>>> from alliancestats.effects import within_between_alpha
>>> df = als.simulate_sessions(n_therapists=4, sessions=5, items=True, seed=2)
>>> items = [f"wai_{i}" for i in range(1, 13)]
>>> list(within_between_alpha(df.dropna(subset=items), items).index)
['within', 'between']
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._format import format_number
from alliancestats._validation import (
    as_frame,
    check_choice,
    column_names,
    id_column,
    numeric_column,
    require_columns,
)
from alliancestats.errors import DataValidationError, DroppedRowsWarning

__all__ = ["MultilevelReliability", "multilevel_reliability", "within_between_alpha"]

#: the coefficients of Shrout & Lane (2012) as psych names them, with psych's descriptions
COEFFICIENTS = {
    "RkF": "between-person differences averaged over fixed times and items",
    "R1R": "between-person differences at one random time (averaged over items)",
    "RkR": "between-person differences averaged over random times (and items)",
    "Rc": "within-person change over fixed times, averaged over items",
    "RkRn": "between-person differences averaged over times (times nested in persons)",
    "Rcn": "within-person variation averaged over items (times nested in persons)",
}


@dataclass
class MultilevelReliability:
    """Generalizability coefficients of a repeated multi-item scale.

    Attributes
    ----------
    coefficients : pandas.Series
        ``RkF, R1R, RkR, Rc, RkRn, Rcn``.
    components : pandas.DataFrame
        Crossed design: one row per source (``person, time, item, person x time,
        person x item, time x item, residual``), columns ``variance, percent``.
    nested_components : pandas.DataFrame
        Times nested in persons: rows ``person, time within person, residual``.
    alpha_by_person : pandas.DataFrame or None
        Raw and standardized alpha of the items within each person (over that person's
        times), as psych reports it (more than two times only).
    n_persons, n_times, n_items : int
        Design size (``n_times``: distinct time labels).
    method : str
        ``"lmm"`` or ``"anova"`` (estimator of the crossed components).
    """

    coefficients: pd.Series
    components: pd.DataFrame
    nested_components: pd.DataFrame
    alpha_by_person: pd.DataFrame | None
    n_persons: int
    n_times: int
    n_items: int
    method: str

    def summary(self) -> str:
        """Plain-text report of the coefficients with their meaning."""
        lines = [
            f"Multilevel reliability (Shrout & Lane 2012), {self.n_persons} persons x "
            f"{self.n_times} times x {self.n_items} items; crossed components by {self.method}"
        ]
        for name, text in COEFFICIENTS.items():
            lines.append(f"  {name:<5}{format_number(self.coefficients[name], 3)}  {text}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


def _items_and_ids(data: Any, items: Any, ids: list[str], function: str) -> tuple:
    """Numeric item columns and text identifiers; rows with a missing item dropped (warned)."""
    frame = as_frame(data, function)
    items = column_names(items, "items")
    if len(items) < 2:
        raise DataValidationError(f"{function} needs at least two item columns, got {items}")
    require_columns(frame, [*ids, *items], function)
    values = pd.DataFrame({c: numeric_column(frame, c, function) for c in items})
    keys = pd.DataFrame({c: id_column(frame, c, function).astype(str) for c in ids})
    keep = values.notna().all(axis=1)
    if not keep.all():
        warnings.warn(
            f"{int((~keep).sum())} of {len(frame)} rows dropped because an item is missing",
            DroppedRowsWarning,
            stacklevel=4,
        )
    return values.loc[keep], keys.loc[keep], items


def _long_items(data: Any, items: Any, patient: str, session: str, function: str) -> tuple:
    values, keys, items = _items_and_ids(data, items, [patient, session], function)
    wide = values.assign(person=keys[patient].to_numpy(), time=keys[session].to_numpy())
    if wide.duplicated(["person", "time"]).any():
        raise DataValidationError(
            f"{function}: some {patient}/{session} pairs occur more than once; one row per "
            "patient and session is needed"
        )
    long = wide.melt(id_vars=["person", "time"], value_vars=items, var_name="item")
    return wide, long, items


def _anova_components(long: pd.DataFrame) -> dict[str, float]:
    """Expected-mean-square estimates of a balanced persons x times x items design (psych)."""
    cube = long.pivot_table(index="person", columns=["time", "item"], values="value")
    persons = cube.index
    times = long["time"].unique()
    items = long["item"].unique()
    P, T, n_i = len(persons), len(times), len(items)
    if cube.isna().any().any() or cube.shape[1] != T * n_i:
        raise DataValidationError(
            "method='anova' needs every person rated at every time on every item (a balanced "
            "design); use method='lmm' for unbalanced data"
        )
    y = cube.to_numpy().reshape(P, T, n_i)
    m = y.mean()
    mp, mt, mi = y.mean((1, 2)), y.mean((0, 2)), y.mean((0, 1))
    mpt, mpi, mti = y.mean(2), y.mean(1), y.mean(0)
    ms = {
        "p": T * n_i * np.sum((mp - m) ** 2) / (P - 1),
        "t": P * n_i * np.sum((mt - m) ** 2) / (T - 1),
        "i": P * T * np.sum((mi - m) ** 2) / (n_i - 1),
        "pt": n_i * np.sum((mpt - mp[:, None] - mt[None, :] + m) ** 2) / ((P - 1) * (T - 1)),
        "pi": T * np.sum((mpi - mp[:, None] - mi[None, :] + m) ** 2) / ((P - 1) * (n_i - 1)),
        "ti": P * np.sum((mti - mt[:, None] - mi[None, :] + m) ** 2) / ((T - 1) * (n_i - 1)),
    }
    resid = (y - mpt[:, :, None] - mpi[:, None, :] - mti[None, :, :] + mp[:, None, None]
             + mt[None, :, None] + mi[None, None, :] - m)
    e = float(np.sum(resid**2) / ((P - 1) * (T - 1) * (n_i - 1)))
    return {
        "person": (ms["p"] - ms["pt"] - ms["pi"] + e) / (T * n_i),
        "time": (ms["t"] - ms["pt"] - ms["ti"] + e) / (P * n_i),
        "item": (ms["i"] - ms["pi"] - ms["ti"] + e) / (P * T),
        "person x time": (ms["pt"] - e) / n_i,
        "person x item": (ms["pi"] - e) / T,
        "time x item": (ms["ti"] - e) / P,
        "residual": e,
    }


def _lmm_variances(formula: str, long: pd.DataFrame) -> dict[str, float]:
    from alliancestats.models import lmm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = lmm(formula, long)
    vc = fit.varcorr
    return dict(zip(vc["grp"], vc["vcov"], strict=True))


def _lmm_components(long: pd.DataFrame) -> dict[str, float]:
    v = _lmm_variances(
        "value ~ 1 + (1 | person) + (1 | time) + (1 | item) + (1 | person:time) + "
        "(1 | person:item) + (1 | item:time)",
        long,
    )
    return {
        "person": v["person"], "time": v["time"], "item": v["item"],
        "person x time": v["person:time"], "person x item": v["person:item"],
        "time x item": v["item:time"], "residual": v["Residual"],
    }


def _item_alpha(x: np.ndarray) -> tuple[float, float]:
    """Raw (covariance) and standardized (correlation) Cronbach's alpha of columns of x."""
    k = x.shape[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        S = np.cov(x, rowvar=False)
        raw = k / (k - 1) * (1 - np.trace(S) / S.sum())
        R = np.corrcoef(x, rowvar=False)
        rbar = (R.sum() - k) / (k * (k - 1))
        std = k * rbar / (1 + (k - 1) * rbar)
    return float(raw), float(std)


def _alpha_by_person(wide: pd.DataFrame, items: list[str]) -> pd.DataFrame:
    rows = {}
    for person, sub in wide.groupby("person", sort=True):
        rows[person] = dict(zip(("raw_alpha", "std_alpha"), _item_alpha(sub[items].to_numpy()),
                                strict=True))
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "person"
    return out


def _coefficients(c: dict[str, float], nested: dict[str, float], n_t: int, n_i: int) -> pd.Series:
    between = c["person"] + c["person x item"] / n_i
    e = c["residual"]
    return pd.Series({
        "RkF": between / (between + e / (n_t * n_i)),
        "R1R": between / (between + c["time"] + c["person x time"] + e / n_i),
        "RkR": between / (between + c["time"] / n_t + c["person x time"] / n_t + e / (n_t * n_i)),
        "Rc": c["person x time"] / (c["person x time"] + e / n_i),
        "RkRn": nested["person"] / (nested["person"] + nested["time within person"] / n_t
                                    + nested["residual"] / (n_t * n_i)),
        "Rcn": nested["time within person"] / (nested["time within person"]
                                               + nested["residual"] / n_i),
    }, name="coefficient")


def _frame(values: dict[str, float]) -> pd.DataFrame:
    out = pd.DataFrame({"variance": pd.Series(values)})
    out["percent"] = out["variance"] / out["variance"].sum()
    out.index.name = "source"
    return out


def multilevel_reliability(
    data: Any,
    items: Any,
    *,
    patient: str = "patient",
    session: str = "session",
    method: str = "lmm",
) -> MultilevelReliability:
    """Generalizability coefficients of a scale rated at repeated sessions (Shrout & Lane 2012).

    Parameters
    ----------
    data : pandas.DataFrame or SessionData
        One row per patient and session, one column per item.
    items : list of str
        The item columns (e.g. the 12 WAI-SR items).
    patient, session : str
        Columns identifying the person and the time point. Times are matched by label across
        persons (session 1 of every patient is one "time").
    method : {"lmm", "anova"}
        Estimator of the crossed variance components: REML through the crossed mixed model
        ``value ~ 1 + (1|person) + (1|time) + (1|item) + (1|person:time) + (1|person:item) +
        (1|item:time)`` (psych's ``lmer = TRUE``; works with unbalanced data, components are
        never negative), or expected mean squares of the three-way ANOVA (psych's default;
        balanced data only, components may be negative).

    Returns
    -------
    MultilevelReliability
        ``coefficients`` (RkF, R1R, RkR, Rc, RkRn, Rcn), ``components``,
        ``nested_components``, ``alpha_by_person``, design sizes and ``summary()``.

    Raises
    ------
    DataValidationError
        Missing columns, non-numeric items, fewer than two items, repeated patient/session
        rows, or an unbalanced design with ``method="anova"``.

    Warns
    -----
    DroppedRowsWarning
        Rows with a missing item are dropped (and counted).

    Notes
    -----
    RkRn and Rcn come from the nested model ``value ~ 1 + (1 | person/time)`` (REML), as
    psych's ``lme`` option. Validated against psych 2.2.9 ``multilevel.reliability`` on its
    help-page data (Shrout & Lane's 5 persons x 4 times x 3 items: RkF .967580, R1R .595431,
    RkR .854800, Rc .742157 with ``lmer = TRUE``) and on simulated WAI-SR ratings of 40
    patients x 6 sessions x 12 items, both estimators: within 1e-9 (ANOVA) and 1e-4 relative
    (REML; optimiser differences), RkRn and Rcn within 1e-5 (psych rounds the nlme
    components to 7 digits).

    Examples
    --------
    >>> import alliancestats as als
    >>> df = als.simulate_sessions(n_therapists=3, patients_per_therapist=4, sessions=4,
    ...                            items=True, missed_session_rate=0, dropout_rate=0,
    ...                            missing_alliance_rate=0, seed=1)
    >>> res = als.multilevel_reliability(df, [f"wai_{i}" for i in range(1, 13)],
    ...                                  method="anova")
    >>> list(res.coefficients.index)
    ['RkF', 'R1R', 'RkR', 'Rc', 'RkRn', 'Rcn']
    """
    check_choice("method", method, ("lmm", "anova"))
    wide, long, items = _long_items(data, items, patient, session, "multilevel_reliability")
    n_p, n_t, n_i = wide["person"].nunique(), wide["time"].nunique(), len(items)
    if n_p < 2 or n_t < 2:
        raise DataValidationError(
            f"multilevel_reliability needs at least two patients and two sessions; got {n_p} "
            f"patient(s) and {n_t} session label(s)"
        )
    crossed = _anova_components(long) if method == "anova" else _lmm_components(long)
    v = _lmm_variances("value ~ 1 + (1 | person/time)", long)
    nested = {"person": v["person"], "time within person": v["time:person"],
              "residual": v["Residual"]}
    return MultilevelReliability(
        coefficients=_coefficients(crossed, nested, n_t, n_i),
        components=_frame(crossed),
        nested_components=_frame(nested),
        alpha_by_person=_alpha_by_person(wide, items) if n_t > 2 else None,
        n_persons=n_p,
        n_times=n_t,
        n_items=n_i,
        method=method,
    )


def within_between_alpha(data: Any, items: Any, *, patient: str = "patient") -> pd.DataFrame:
    """Cronbach's alpha of the within-patient and between-patient parts of a scale.

    Each item is split into the patient's mean and the session's deviation from it. Alpha of
    the deviations measures how consistently the items move together from session to session
    within a patient; alpha of the patient means (weighted by sessions) how consistently
    they rank patients.

    Parameters
    ----------
    data : pandas.DataFrame or SessionData
        One row per patient and session, one column per item.
    items : list of str
        Item columns (at least two).
    patient : str, default "patient"
        Column identifying the patient.

    Returns
    -------
    pandas.DataFrame
        Rows ``within``, ``between``; columns ``raw_alpha`` (from covariances),
        ``std_alpha`` (from correlations), ``n_items``, ``n_rows``, ``n_patients``.

    Raises
    ------
    DataValidationError
        Missing or non-numeric columns, fewer than two items or two patients.

    Warns
    -----
    DroppedRowsWarning
        Rows with a missing item are dropped (and counted).

    Notes
    -----
    The decomposition is psych's ``statsBy``: pooled within-group correlations (``rwg``)
    and correlations of the group means expanded to the rows (``rbg``). Validated against
    psych 2.2.9 (``alpha(statsBy(...)$rwg)`` and ``$rbg``, and raw alpha of the same
    covariances) on simulated WAI-SR ratings: within 1e-10. Model-based within/between
    reliability (Geldhof, Preacher & Zyphur 2014, Psychol Methods 19(1)) needs a multilevel
    factor model and is not computed here.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"patient": list("aaabbbccc"),
    ...                    "i1": [1, 2, 3, 3, 4, 4, 5, 4, 5],
    ...                    "i2": [1, 3, 3, 2, 4, 5, 4, 5, 5]})
    >>> tab = within_between_alpha(df, ["i1", "i2"])
    >>> bool(tab.loc["between", "raw_alpha"] > tab.loc["within", "raw_alpha"])
    True
    """
    values, keys, items = _items_and_ids(data, items, [patient], "within_between_alpha")
    ids = keys[patient]
    if ids.nunique() < 2:
        raise DataValidationError("within_between_alpha needs at least two patients")
    means = values.groupby(ids.to_numpy()).transform("mean")
    rows = {}
    for part, x in (("within", values - means), ("between", means)):
        raw, std = _item_alpha(x.to_numpy(dtype=float))
        rows[part] = {"raw_alpha": raw, "std_alpha": std, "n_items": len(items),
                      "n_rows": len(values), "n_patients": int(ids.nunique())}
    return pd.DataFrame.from_dict(rows, orient="index")

