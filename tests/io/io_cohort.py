"""Simulated cohort shared by the loader tests (long and wide layouts)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_long() -> pd.DataFrame:
    """6 patients, 3 therapists, up to 4 sessions (patient 102 misses session 3)."""
    rng = np.random.default_rng(20240101)
    rows = []
    for p in range(1, 7):
        for s in range(1, 5):
            if p == 2 and s == 3:
                continue
            rows.append(
                {
                    "pid": 100 + p,
                    "ther": f"T{(p - 1) % 3 + 1}",
                    "visit": s,
                    "vdate": pd.Timestamp("2024-01-01") + pd.Timedelta(days=7 * s + p),
                    "wai": round(float(rng.uniform(1, 5)), 2),
                    "wai_bond": round(float(rng.uniform(1, 5)), 2),
                    "nrs": float(rng.integers(0, 11)),
                    "odi": round(float(rng.uniform(0, 100)), 1),
                    "arm": "control" if p % 2 else "exercise",
                    "modality": "telehealth" if s % 2 else "in-person",
                }
            )
    return pd.DataFrame(rows)


def to_wide(long: pd.DataFrame, template: str = "{var}_s{session}") -> pd.DataFrame:
    """Wide copy: one row per patient, repeated variables named by ``template``."""
    w = long.pivot(
        index=["pid", "ther", "arm"],
        columns="visit",
        values=["vdate", "wai", "wai_bond", "nrs", "odi", "modality"],
    )
    w.columns = [template.format(var=v, session=s) for v, s in w.columns]
    return w.reset_index()


#: Column arguments shared by the round-trip tests.
KW = {
    "patient": "pid",
    "therapist": "ther",
    "session": "visit",
    "date": "vdate",
    "alliance": {"total": "wai", "bond": "wai_bond"},
    "outcomes": {"pain": "nrs", "function": "odi"},
    "covariates": ["arm", "modality"],
    "scales": {"alliance": "wai_sr", "pain": "nrs", "function": "odi"},
    "warn": False,
}
