"""Write the simulated WAI-SR item data used by the reliability references.

Run from the repository root: ``python tests/reference/effects/make_wai_data.py``. The CSVs in
``tests/reference/effects/data/`` come from :func:`alliancestats.simulate.simulate_sessions`
with ``items=True`` and fixed seeds; ``reliability_reference.R`` reads them and pins psych
results as JSON.

* ``wai_balanced.csv`` -- every patient rates every session (no missed sessions, dropout or
  missing ratings), as the ANOVA estimator of Shrout & Lane (2012) needs.
* ``wai_unbalanced.csv`` -- the simulator's default missed sessions and dropout (unequal numbers
  of sessions per patient), for the within/between-patient alpha and the rater ICC.
"""

from __future__ import annotations

from pathlib import Path

from alliancestats.simulate import simulate_sessions

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
ITEMS = [f"wai_{i}" for i in range(1, 13)]
KEEP = ["therapist", "patient", "session", "alliance", *ITEMS]


def main() -> None:
    DATA.mkdir(exist_ok=True)
    balanced = simulate_sessions(
        n_therapists=8,
        patients_per_therapist=5,
        sessions=6,
        items=True,
        missed_session_rate=0.0,
        dropout_rate=0.0,
        missing_alliance_rate=0.0,
        seed=20240512,
    )
    balanced[KEEP].to_csv(DATA / "wai_balanced.csv", index=False)
    unbalanced = simulate_sessions(
        n_therapists=10,
        patients_per_therapist=(3, 8),
        sessions=(4, 10),
        items=True,
        missing_alliance_rate=0.0,
        seed=20240513,
    )
    unbalanced = unbalanced.dropna(subset=ITEMS)
    unbalanced[KEEP].to_csv(DATA / "wai_unbalanced.csv", index=False)


if __name__ == "__main__":
    main()
