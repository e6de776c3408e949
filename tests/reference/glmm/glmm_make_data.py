"""Write the simulated adherence data used by the GLMM reference values.

Run from the repository root with ``/work/venv/bin/python tests/reference/glmm/glmm_make_data.py``
before ``bash tests/reference/regenerate.sh glmm``. The R script ``glmm_reference.R`` reads the
CSV files written here, so R and Python fit exactly the same rows.

Data come from :func:`alliancestats.simulate.simulate_sessions` (seeded, deterministic). The
within/between split of alliance is the usual patient-mean centring (Curran & Bauer 2011):
``alliance_within`` = alliance - patient mean, ``alliance_between`` = patient mean - grand mean
of the patient means.

Files written (all in ``data/``):

``adherence.csv``
    therapist, patient, session, alliance, alliance_within, alliance_between, adhered (0/1),
    exercises_done (binomial out of exercises_prescribed), exercises_prescribed,
    log_prescribed.
``adherence_counts.csv``
    the same layout simulated with ``exercises_family="poisson"``: exercises_done is a count
    with mean proportional to exercises_prescribed (offset ``log_prescribed``).
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


def _sessions(exercises_family: str) -> pd.DataFrame:
    from alliancestats.simulate import simulate_sessions

    return simulate_sessions(
        n_therapists=12,
        patients_per_therapist=(6, 12),
        sessions=(4, 10),
        adherence_sd_therapist=0.5,
        exercises_family=exercises_family,
        seed=20240611,
    )


def _decompose(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    pmean = df.groupby("patient")["alliance"].transform("mean")
    grand = df.groupby("patient")["alliance"].mean().mean()
    df["alliance_within"] = df["alliance"] - pmean
    df["alliance_between"] = pmean - grand
    return df


def _tidy(raw: pd.DataFrame) -> pd.DataFrame:
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
    for c in ("adhered", "exercises_done", "exercises_prescribed"):
        df[c] = df[c].astype(int)
    df["log_prescribed"] = np.log(df["exercises_prescribed"])
    return df


def main() -> None:
    DATA.mkdir(exist_ok=True)
    df = _tidy(_sessions("binomial"))
    df.to_csv(DATA / "adherence.csv", index=False, float_format="%.10g")
    counts = _tidy(_sessions("poisson"))
    counts.to_csv(DATA / "adherence_counts.csv", index=False, float_format="%.10g")

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
    print(f"wrote {len(df)} rows, {df['patient'].nunique()} patients; counts: {len(counts)} rows")


if __name__ == "__main__":
    main()
