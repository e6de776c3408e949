"""Write the simulated data set used by the review tests (``lmm_review_cases.R``).

Run from the repository root: ``python tests/reference/lmm/lmm_make_review_data.py``. The data come
from :func:`alliancestats.simulate.simulate_sessions` (fixed seed) plus a patient-level
three-level ``site`` factor with an effect on pain that changes with ``session`` (so a type III
ANOVA has multi-df main effects and a multi-df interaction to test) and a copy of ``pain``
in micro-units (``pain_micro``) for the rescaling checks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alliancestats.simulate import simulate_sessions

HERE = Path(__file__).resolve().parent
OUT = HERE / "data" / "review_sites.csv"


def main() -> None:
    df = simulate_sessions(
        n_therapists=12, patients_per_therapist=(3, 9), sessions=(3, 12), seed=20261122
    )
    rng = np.random.default_rng(20261122)
    patients = df["patient"].unique()
    site_of = dict(
        zip(patients, rng.choice(["north", "south", "west"], size=len(patients)), strict=True)
    )
    df["site"] = df["patient"].map(site_of)
    shift = df["site"].map({"north": 0.0, "south": 0.6, "west": -0.3})
    slope = df["site"].map({"north": 0.0, "south": -0.08, "west": 0.05})
    df["pain"] = df["pain"] + shift + slope * df["session"]
    df["pain_micro"] = df["pain"] * 1e-6
    cols = ["therapist", "patient", "session", "arm", "site", "alliance", "pain", "pain_micro"]
    df[cols].to_csv(OUT, index=False, float_format="%.10g")
    print(OUT.name, df.shape)


if __name__ == "__main__":
    main()
