"""Per-study effects and their primary-study tests for p-uniform and p-curve (private module).

Both methods work on the test each primary study reported. This module turns what the user
has -- a fitted model from :func:`alliancestats.meta.meta_analysis`, columns ``yi`` with
``vi`` or ``sei``, correlations with sample sizes, or two-group summaries -- into one table of
effect sizes, sampling variances and test statistics, with labels. Rows with a missing value
are dropped and reported (:class:`~alliancestats.errors.DroppedRowsWarning`).

Examples
--------
>>> tab = study_table(None, "f", yi=[0.3, 0.5], vi=[0.01, 0.04])
>>> tab["z"].round(2).tolist()
[3.0, 2.5]
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from alliancestats._validation import as_frame
from alliancestats.errors import DroppedRowsWarning, MetaAnalysisError
from alliancestats.meta._checks import require_intercept_only, require_univariate
from alliancestats.meta._inputs import numeric_input, sampling_inputs, study_labels

__all__ = ["drop_incomplete", "is_fitted_model", "labels_for", "study_table"]

_TWO_GROUP = ("m1i", "m2i", "sd1i", "sd2i")


def is_fitted_model(obj: Any) -> bool:
    """Whether ``obj`` looks like a fitted model of :func:`meta_analysis`."""
    return all(hasattr(obj, name) for name in ("yi", "vi", "X", "method", "labels"))


def drop_incomplete(table: pd.DataFrame, function: str) -> pd.DataFrame:
    """Rows of ``table`` without a missing value; dropped rows are named in a warning."""
    bad = table.drop(columns="label").isna().any(axis=1)
    if bad.any():
        names = ", ".join(table.loc[bad, "label"].astype(str))
        warnings.warn(
            f"{function}(): {int(bad.sum())} stud{'y' if bad.sum() == 1 else 'ies'} with a "
            f"missing value dropped ({names}).",
            DroppedRowsWarning,
            stacklevel=4,
        )
    return table.loc[~bad].reset_index(drop=True)


def study_table(data: Any, function: str, slab: Any = None, **inputs: Any) -> pd.DataFrame:
    """One row per study: ``label, yi, vi, z`` plus ``t, df, n1i, n2i`` for two-group data.

    ``inputs`` are the keyword arguments of the public function: ``yi, vi, sei`` (generic),
    ``ri, ni`` (correlations, analysed as Fisher's z with ``1/(n − 3)``), or ``m1i, m2i, sd1i,
    sd2i, n1i, n2i`` / ``ti, n1i, n2i`` (two independent groups; the t test of each study is
    kept). ``data`` is a fitted model, a DataFrame/SessionData holding the named columns, or
    ``None`` for arrays. ``slab`` gives study labels (a column name or one label per study).
    """
    given = {key: value for key, value in inputs.items() if value is not None}
    if is_fitted_model(data):
        if given:
            raise MetaAnalysisError(
                f"{function}() takes either a fitted model or effect-size columns, not both "
                f"(got {', '.join(sorted(given))} with a model)."
            )
        require_univariate(data, f"{function}()")
        require_intercept_only(data, f"{function}()")
        yi = np.asarray(data.yi, dtype=float)
        vi = np.asarray(data.vi, dtype=float)
        table = pd.DataFrame({"label": list(data.labels), "yi": yi, "vi": vi})
        return _finish(table, function)
    frame = None if data is None else as_frame(data, function)
    if "ri" in given:
        extra = set(given) - {"ri", "ni"}
        if extra or "ni" not in given:
            raise MetaAnalysisError(
                f"{function}(): correlations need ri= with ni= (and nothing else); "
                f"got {', '.join(sorted(given))}."
            )
        r = numeric_input(frame, given["ri"], "ri", None, function)
        n = numeric_input(frame, given["ni"], "ni", len(r), function)
        if np.any(np.abs(r[~np.isnan(r)]) >= 1):
            raise MetaAnalysisError(f"{function}(): correlations must lie strictly within (-1, 1).")
        if np.any(n[~np.isnan(n)] <= 3):
            raise MetaAnalysisError(f"{function}(): every sample size must exceed 3.")
        _same_length(function, ri=r, ni=n)
        yi, vi = np.arctanh(r), 1.0 / (n - 3.0)
    elif "n1i" in given or "ti" in given or any(name in given for name in _TWO_GROUP):
        return _two_group_table(frame, given, function, slab)
    else:
        yi, vi = sampling_inputs(frame, given.get("yi"), given.get("vi"), given.get("sei"))
        _same_length(function, yi=yi, vi=vi)
        if np.any(vi[~np.isnan(vi)] <= 0):
            raise MetaAnalysisError(f"{function}(): sampling variances must be positive.")
    table = pd.DataFrame({"label": labels_for(frame, len(yi), slab), "yi": yi, "vi": vi})
    return _finish(table, function)


def _same_length(function: str, **arrays: np.ndarray) -> None:
    lengths = {name: len(values) for name, values in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise MetaAnalysisError(f"{function}(): give one value per study ({shown}).")


def labels_for(frame: pd.DataFrame | None, k: int, slab: Any) -> list[str]:
    """Study labels: ``slab`` (column or values), the frame's own index, or "Study i"."""
    base = frame if frame is not None and len(frame) == k else pd.DataFrame(index=range(k))
    return list(study_labels(base, slab))


def _finish(table: pd.DataFrame, function: str) -> pd.DataFrame:
    table = drop_incomplete(table, function)
    if table.empty:
        raise MetaAnalysisError(f"{function}() needs at least one study with an effect size.")
    table["z"] = table["yi"] / np.sqrt(table["vi"])
    return table


def _two_group_table(
    frame: pd.DataFrame | None, given: dict, function: str, slab: Any
) -> pd.DataFrame:
    """Hedges' g of two independent groups with the study's own t test (van Assen et al. 2015)."""
    allowed_raw = {"m1i", "m2i", "sd1i", "sd2i", "n1i", "n2i"}
    allowed_t = {"ti", "n1i", "n2i"}
    keys = set(given)
    if keys != allowed_raw and keys != allowed_t:
        raise MetaAnalysisError(
            f"{function}(): two-group data need m1i, m2i, sd1i, sd2i, n1i, n2i, or ti with n1i "
            f"and n2i; got {', '.join(sorted(keys))}."
        )
    cols = {
        name: numeric_input(frame, value, name, None, function) for name, value in given.items()
    }
    k = max(len(v) for v in cols.values())
    if any(len(v) not in (1, k) for v in cols.values()):
        raise MetaAnalysisError(f"{function}(): the two-group columns differ in length.")
    cols = {name: np.broadcast_to(v, (k,)).astype(float) for name, v in cols.items()}
    n1, n2 = cols["n1i"], cols["n2i"]
    if np.any((n1 < 2) | (n2 < 2)):
        raise MetaAnalysisError(f"{function}(): each group needs at least 2 participants.")
    scale = np.sqrt(1.0 / n1 + 1.0 / n2)
    df = n1 + n2 - 2.0
    if "ti" in cols:
        t = cols["ti"]
    else:
        pooled = np.sqrt(((n1 - 1) * cols["sd1i"] ** 2 + (n2 - 1) * cols["sd2i"] ** 2) / df)
        t = (cols["m1i"] - cols["m2i"]) / (pooled * scale)
    d = t * scale
    j = 1.0 - 3.0 / (4.0 * df - 1.0)
    g = j * d
    # unbiased estimator of the variance of g, as used by p-uniform (van Aert 2023, puniform)
    vi = scale**2 + (1.0 - (df - 2.0) / (df * j**2)) * g**2
    table = pd.DataFrame(
        {
            "label": labels_for(frame, len(g), slab),
            "yi": g,
            "vi": vi,
            "t": t,
            "df": df,
            "n1i": n1,
            "n2i": n2,
        }
    )
    return _finish(table, function)
