"""Helpers for the panel tests: the lavaan reference cases, their data and cached fits.

The reference values come from tests/reference/panel/riclpm_reference.R and
dpm_reference.R (lavaan 0.6-14, R 4.2.2); see the README there for the data and licences.
Each reference case is fitted once per test session.
"""

from __future__ import annotations

import json
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from alliancestats.errors import AllianceStatsWarning
from alliancestats.panel import clpm, dynamic_panel, riclpm

REF_DIR = Path(__file__).parents[1] / "reference" / "panel"
XY = [f"x_{t}" for t in range(1, 6)] + [f"y_{t}" for t in range(1, 6)]


@cache
def reference(name: str) -> dict[str, Any]:
    """riclpm_reference.json or dpm_reference.json."""
    return json.loads((REF_DIR / f"{name}_reference.json").read_text())


@cache
def long_data(file: str) -> pd.DataFrame:
    """A reference data file in the long layout (patient, session, variables...)."""
    path = REF_DIR / "data" / file
    if file.endswith(".csv") and file != "riclpm_missing.csv":
        return pd.read_csv(path)
    if file == "riclpm_missing.csv":
        wide = pd.read_csv(path).rename(columns={"id": "patient"})
    else:
        extra = {"RICLPM.dat": [], "RICLPM-Z.dat": ["z2", "z1"], "RICLPM-MG.dat": ["G"]}[file]
        wide = pd.read_csv(path, sep=r"\s+", header=None, names=XY + extra)
        wide.insert(0, "patient", np.arange(1, len(wide) + 1))
    long = pd.wide_to_long(wide, ["x", "y"], i="patient", j="session", sep="_")
    return long.reset_index().sort_values(["patient", "session"], ignore_index=True)


def riclpm_call(case: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The alliancestats function and keyword arguments equivalent to a lavaan case."""
    opts = dict(case["options"])
    fn = riclpm if opts.pop("random_intercepts", True) else clpm
    kwargs: dict[str, Any] = {}
    if "equal" in opts:
        kwargs["constraints"] = opts.pop("equal")
    if "covariates" in opts:
        kwargs["covariates"] = opts.pop("covariates")
    target = opts.pop("covariate_target", None)
    if target is not None and fn is riclpm:
        kwargs["covariate_effects"] = target
    if case.get("group"):
        kwargs["group"] = case["group"]
    assert not opts, f"unmapped options {opts}"
    return fn, kwargs


@cache
def riclpm_fit(name: str):
    case = reference("riclpm")["cases"][name]
    fn, kwargs = riclpm_call(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return fn(long_data(case["data"]), case["x"], case["y"], waves=case["waves"], **kwargs)


@cache
def dpm_fit(name: str):
    case = reference("dpm")["cases"][name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AllianceStatsWarning)
        return dynamic_panel(case["formula"], long_data(case["data"]), patient=case["id"],
                             session=case["wave"], waves=case["waves"], **(case["options"] or {}))


def matched_parameters(result, case: dict[str, Any]) -> pd.DataFrame:
    """lavaan's free parameters joined to ours on (lhs, op, rhs, group).

    Columns ``est, se, std_all`` (and ``se_expected``, ``se_robust`` when pinned) are
    lavaan's; ``estimate, se_ours, std_all_ours`` ours. Every lavaan free parameter must
    have a partner (asserted by the caller through ``ours_index``).
    """
    ref = pd.DataFrame(case["parameters"])
    ref = ref[ref["free"].astype(bool)].copy()
    labels = case["group_labels"] or [None]
    ref["g"] = [str(labels[int(g) - 1]) for g in ref["group"]]
    ours = result.parameters[result.parameters["free"]].copy()
    ours["g"] = [str(g) for g in ours["group"]]
    key = {}
    for i, r in ours.iterrows():
        key[(r["lhs"], r["op"], r["rhs"], r["g"])] = i
        if r["op"] == "~~":
            key[(r["rhs"], r["op"], r["lhs"], r["g"])] = i
    ref["ours_index"] = [key.get((r.lhs, r.op, r.rhs, r.g)) for r in ref.itertuples()]
    found = ref.dropna(subset=["ours_index"])
    mine = ours.loc[found["ours_index"].astype(int)]
    out = found.reset_index(drop=True)
    out["estimate"] = mine["estimate"].to_numpy()
    out["se_ours"] = mine["se"].to_numpy()
    out["std_all_ours"] = mine["std_all"].to_numpy()
    out.attrs["unmatched"] = int(ref["ours_index"].isna().sum())
    out.attrs["n_ours"] = len(ours)
    return out
