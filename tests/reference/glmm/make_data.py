"""Write the simulated adherence data used by the GLMM reference values.

Run from the repository root with ``/work/venv/bin/python tests/reference/glmm/make_data.py``
before ``bash tests/reference/regenerate.sh glmm``. The R script ``glmm_reference.R`` reads the
CSV files written here, so R and Python fit exactly the same rows.

Data come from :func:`alliancestats.simulate.simulate_sessions` (seeded, deterministic). The
within/between split of alliance is the usual patient-mean centring (Curran & Bauer 2011):
``alliance_within`` = alliance - patient mean, ``alliance_between`` = patient mean - grand mean
of the patient means.

Files written (all in ``data/``):

``adherence.csv``
    therapist, patient, session, alliance, alliance_within, alliance_between, adhered (0/1),
    exercises_done, exercises_prescribed, log_prescribed (offset for the Poisson count model).
``adherence_nearsep.csv``
    the same rows plus ``booster`` (0/1): a rare indicator for which all but one session
    adhered, so the binomial MLE is finite but large (near separation).
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE / "data"


def _temporary_sessions(seed: int) -> pd.DataFrame:  # TEMPORARY until simulate_sessions exists
    rng = np.random.default_rng(seed)
    rows = []
    pid = 0
    for t in range(12):
        v_t = rng.normal(0, 0.4)
        for _ in range(rng.integers(6, 13)):
            pid += 1
            u_p = rng.normal(0, 0.8)
            a_p = rng.normal(3.6, 0.5)
            for s in range(1, rng.integers(4, 11) + 1):
                al = a_p + 0.05 * s + rng.normal(0, 0.3)
                eta = -0.3 + 0.06 * s + 0.8 * (al - a_p) + 0.5 * (a_p - 3.6) + u_p + v_t
                p = 1 / (1 + np.exp(-eta))
                m = int(rng.integers(3, 11))
                rows.append((f"T{t + 1:02d}", f"P{pid:03d}", s, al, int(rng.random() < p),
                             int(rng.binomial(m, p)), m))
    return pd.DataFrame(rows, columns=["therapist", "patient", "session", "alliance", "adhered",
                                       "exercises_done", "exercises_prescribed"])


def _sessions() -> pd.DataFrame:
    from alliancestats.simulate import simulate_sessions

    try:
        simulate_sessions()
    except NotImplementedError:
        print("simulate_sessions not available yet: TEMPORARY generator")
        return _temporary_sessions(20240611)
    return simulate_sessions(
        n_therapists=12,
        patients_per_therapist=(6, 12),
        sessions_per_patient=(4, 10),
        seed=20240611,
    )


def _decompose(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    pmean = df.groupby("patient")["alliance"].transform("mean")
    grand = df.groupby("patient")["alliance"].mean().mean()
    df["alliance_within"] = df["alliance"] - pmean
    df["alliance_between"] = pmean - grand
    return df


def main() -> None:
    DATA.mkdir(exist_ok=True)
    raw = _sessions()
    cols = [
        "therapist",
        "patient",
        "session",
        "alliance",
        "adhered",
        "exercises_done",
        "exercises_prescribed",
    ]
    df = raw[cols].dropna().reset_index(drop=True)
    df = _decompose(df)
    df["adhered"] = df["adhered"].astype(int)
    df["exercises_done"] = df["exercises_done"].astype(int)
    df["exercises_prescribed"] = df["exercises_prescribed"].astype(int)
    df["log_prescribed"] = np.log(df["exercises_prescribed"])
    df.to_csv(DATA / "adherence.csv", index=False, float_format="%.10g")

    # near separation: a rare 'booster' indicator on 5% of rows; all of those rows adhere
    # except one, so the coefficient is large but finite.
    rng = np.random.default_rng(7)
    near = df.copy()
    booster = rng.random(len(near)) < 0.05
    near["booster"] = booster.astype(int)
    idx = np.flatnonzero(booster)
    near.loc[idx, "adhered"] = 1
    near.loc[idx[0], "adhered"] = 0
    near.to_csv(DATA / "adherence_nearsep.csv", index=False, float_format="%.10g")
    print(f"wrote {len(df)} rows, {df['patient'].nunique()} patients")


if __name__ == "__main__":
    main()
