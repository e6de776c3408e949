"""Write the simulated therapist/patient/session data sets used by the LMM reference tests.

Run from the repository root: ``python tests/reference/lmm/lmm_make_simulated_data.py``. The CSVs in
``tests/reference/lmm/data/`` come from :func:`alliancestats.simulate.simulate_sessions` with
fixed seeds; ``lmm_reference.R`` reads them and pins lme4/lmerTest results as JSON.

Person-mean centring (Curran & Bauer 2011): ``alliance_between`` is the patient's mean observed
alliance minus the grand mean of those patient means; ``alliance_within`` is alliance minus the
patient mean (missing where alliance is missing).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from alliancestats.simulate import simulate_sessions

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"

# name -> simulate_sessions arguments
SETTINGS: dict[str, dict] = {
    # unbalanced caseloads 2-14 patients, 2-14 sessions, 10% missing outcomes
    "sim_unbalanced": dict(
        n_therapists=14,
        patients_per_therapist=(2, 14),
        sessions=(2, 14),
        missing_outcome_rate=0.10,
        seed=20240101,
    ),
    # larger caseloads with treatment arms (categorical predictor and interaction)
    "sim_arms": dict(
        n_therapists=20,
        patients_per_therapist=(3, 10),
        sessions=(2, 14),
        missing_outcome_rate=0.10,
        arm_effect_pain=-0.15,
        seed=20240202,
    ),
    # no therapist variance and few therapists: lme4 lands on the boundary (singular fit)
    "sim_singular": dict(
        n_therapists=6,
        patients_per_therapist=(3, 8),
        sessions=(2, 14),
        missing_outcome_rate=0.10,
        pain_sd_therapist=0.0,
        seed=20240303,
    ),
    # function outcome with uncorrelated random intercept and slope, nested slash syntax
    "sim_function": dict(
        n_therapists=12,
        patients_per_therapist=(2, 14),
        sessions=(2, 14),
        missing_outcome_rate=0.10,
        seed=20240404,
    ),
}

COLUMNS = [
    "clinic",
    "therapist",
    "patient",
    "session",
    "arm",
    "modality",
    "alliance",
    "alliance_within",
    "alliance_between",
    "pain",
    "function_score",
]


def add_within_between(df: pd.DataFrame) -> pd.DataFrame:
    """Add person-mean-centred alliance columns (within and between patients)."""
    out = df.copy()
    pmean = out.groupby("patient")["alliance"].transform("mean")
    grand = out.groupby("patient")["alliance"].mean().mean()
    out["alliance_within"] = out["alliance"] - pmean
    out["alliance_between"] = pmean - grand
    return out


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for name, kwargs in SETTINGS.items():
        df = simulate_sessions(**kwargs)
        df = add_within_between(df).rename(columns={"function": "function_score"})
        # therapists grouped into three clinics (a third, outer level for nested-chain tests)
        df["clinic"] = "C" + (df["therapist"].str[1:].astype(int) % 3).astype(str)
        df[COLUMNS].to_csv(DATA / f"{name}.csv", index=False, float_format="%.10g")
        print(name, df.shape, df["pain"].isna().mean().round(3))


if __name__ == "__main__":
    main()
