"""Per-patient rupture classes (Larsson et al. 2018), ready to enter an outcome model.

Larsson, Falkenström, Andersson & Holmqvist (2018, Psychother Res 28(1); N = 605, WAI-SR)
grouped patients by their alliance course into rupture-repair (14.7%), unrepaired rupture
(10.7%) and no rupture (74.5%); McLaughlin et al. (2014, J Consult Clin Psychol 82(1)) found
that unrepaired ruptures predicted worse outcome. :func:`rupture_patterns` gives that
classification for any rule of :func:`alliancestats.ruptures`.

Examples
--------
>>> import alliancestats as als
>>> p = als.rupture_patterns(als.read_sample("psychotherapy_cohort"), "wai_sr",
...                          method="stiles2004")
>>> list(p["pattern"].cat.categories)
['no rupture', 'rupture-repair', 'unrepaired rupture']
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.alliance.ruptures import rupture_detection, ruptures
from alliancestats.errors import ParameterError

__all__ = ["PATTERN_CLASSES", "classify_patients", "rupture_patterns", "ruptures_arguments"]

#: The classes, in the order used as categories (the first is the natural reference level).
PATTERN_CLASSES = ("no rupture", "rupture-repair", "unrepaired rupture")


def ruptures_arguments(method: str, options: dict[str, Any], function: str) -> dict[str, Any]:
    """The full keyword set of :func:`ruptures`: its defaults updated by ``options``."""
    params = inspect.signature(ruptures).parameters
    allowed = [n for n in params if n not in ("data", "alliance")]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ParameterError(
            f"{function}() got unknown argument(s) {unknown}; it takes the keyword arguments "
            f"of ruptures(): {', '.join(allowed)}"
        )
    args = {n: params[n].default for n in allowed if n != "method"}
    args.update(options, method=method)
    return args


def rupture_patterns(data: Any, alliance: str, *, method: str, **options: Any) -> pd.DataFrame:
    """Classify every patient as rupture-repair, unrepaired rupture or no rupture.

    Parameters
    ----------
    data : DataFrame or SessionData
        As for :func:`alliancestats.ruptures`.
    alliance : str
        The alliance score.
    method : str
        A rupture rule of :func:`alliancestats.ruptures` (not ``zilcha_mano2019``, which finds
        sudden gains rather than ruptures).
    **options
        Any other keyword argument of :func:`alliancestats.ruptures` (``patient``,
        ``session``, ``sd``, ``threshold_sd``, ``reliability``, ``repair_window``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per patient: ``patient``, ``pattern`` (categorical with the categories
        ``"no rupture"``, ``"rupture-repair"``, ``"unrepaired rupture"``; missing for
        patients who could not be judged, see ``evaluable``), ``evaluable``, ``n_ruptures``,
        ``n_repaired``, ``n_unrepaired``, ``n_open``, ``first_rupture_session`` and
        ``method``.

    Notes
    -----
    A patient with at least one repaired rupture is "rupture-repair"; with ruptures none of
    which was repaired, "unrepaired rupture" (this includes ruptures still ``open`` when the
    data end: at the end of treatment they were not repaired); with no rupture, "no
    rupture" (Larsson et al. 2018). Patients with fewer observed scores than
    ``min_sessions`` (or, for tang_derubeis, without a single interval where all three
    criteria can be judged) are not evaluable and get a missing pattern, so that a model
    using the pattern drops them rather than counting them as "no rupture".

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"patient": ["a"] * 6 + ["b"] * 6, "session": [*range(1, 7)] * 2,
    ...                   "alliance": [4.0, 4.1, 2.8, 4.0, 4.1, 4.0,
    ...                                4.0, 4.1, 4.0, 4.1, 4.0, 4.1]})
    >>> rupture_patterns(d, "alliance", method="stiles2004")[["patient", "pattern"]]
      patient         pattern
    0       a  rupture-repair
    1       b      no rupture
    """
    if method == "zilcha_mano2019":
        raise ParameterError(
            "rupture_patterns() classifies ruptures; zilcha_mano2019 finds sudden alliance "
            "gains (use ruptures(..., method='zilcha_mano2019') to list them)"
        )
    args = ruptures_arguments(method, options, "rupture_patterns")
    table, series, evaluable, _ = rupture_detection(data, alliance, args)
    return classify_patients(table, series.patients, evaluable)


def classify_patients(table: pd.DataFrame, patients: Any, evaluable: np.ndarray) -> pd.DataFrame:
    """The :func:`rupture_patterns` table from a :func:`ruptures` table.

    ``patients`` lists every patient (in output order) and ``evaluable`` flags those the rule
    could judge, as returned by :func:`~alliancestats.alliance.ruptures.rupture_detection`.
    """
    out = pd.DataFrame({"patient": pd.Index(patients)})
    by = table.groupby("patient", sort=False)
    status = table["status"]
    for name, mask in (("n_ruptures", None), ("n_repaired", status == "repaired"),
                       ("n_unrepaired", status != "repaired"), ("n_open", status == "open")):
        counts = by.size() if mask is None else table[mask].groupby("patient").size()
        out[name] = out["patient"].map(counts).fillna(0).astype("int64")
    out["first_rupture_session"] = pd.array(
        out["patient"].map(by["start_session"].min()).tolist(), dtype="Int64"
    )
    label = np.where(out["n_repaired"] > 0, PATTERN_CLASSES[1],
                     np.where(out["n_ruptures"] > 0, PATTERN_CLASSES[2], PATTERN_CLASSES[0]))
    out["pattern"] = pd.Categorical(np.where(evaluable, label, None), categories=PATTERN_CLASSES)
    out["evaluable"] = np.asarray(evaluable, dtype=bool)
    out["method"] = table.attrs.get("method")
    out = out[["patient", "pattern", "evaluable", "n_ruptures", "n_repaired", "n_unrepaired",
               "n_open", "first_rupture_session", "method"]]
    out.attrs.update(table.attrs)
    return out
