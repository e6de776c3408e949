"""Regenerate the bundled sample data in data/sample/.

Usage (from the repository root)::

    python scripts/make_sample_data.py            # all files
    python scripts/make_sample_data.py --no-r     # keep the committed molloy2014.csv

Every simulated file is drawn with :func:`alliancestats.simulate.simulate_sessions` using the
parameters and seeds written below (and repeated in data/sample/README.md); re-running the
script reproduces the files byte for byte with the same numpy/pandas versions. The study-level
table ``molloy2014.csv`` is exported from R's metadat package (``dat.molloy2014``) with
Rscript; ``pooled_correlations.csv`` is typed in from the cited papers.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from alliancestats.simulate import simulate_sessions

OUT = Path(__file__).resolve().parents[1] / "data" / "sample"
WAI = [f"wai_{k}" for k in range(1, 13)]
ODI = [f"odi_{k}" for k in range(1, 11)]

# ---------------------------------------------------------------------------------------------
# generating parameters (documented in data/sample/README.md; keep both in step)
# ---------------------------------------------------------------------------------------------
PHYSIO_SEED = 2013
PHYSIO_THERAPISTS = 24
PHYSIO_PATIENTS = 182  # Ferreira et al. 2013 (Phys Ther 93(4)): 182 chronic low-back-pain patients
PHYSIO_PARAMS = dict(
    sessions=(6, 12),
    items=True,
    function_intercept=62.0,  # ODI about 38% at the first session
    # all other simulate_sessions arguments at their defaults
)
PSYCHO_SEED = 2007
PSYCHO_THERAPISTS = 80  # Baldwin, Wampold & Imel 2007 (JCCP 75(6)): 80 therapists,
PSYCHO_PATIENTS = 331  # 331 patients
PSYCHO_PARAMS = dict(
    sessions=(3, 16),
    items=True,
    alliance_mean=3.9,
    alliance_growth=0.02,
    alliance_sd_therapist=0.2,
    alliance_sd_patient=0.5,
    alliance_sd_growth=0.0,
    alliance_sd_session=0.3,
    telehealth_rate=0.0,
    # the "pain" channel of the simulator is used for the symptom score
    pain_intercept=75.0,
    pain_slope=-1.2,
    pain_within=-3.0,
    pain_between=0.0,  # patient variability in alliance does not predict symptoms ...
    pain_therapist_alliance=-12.0,  # ... but the therapist's mean alliance does
    pain_sd_therapist=3.5,
    pain_sd_patient=18.0,
    pain_sd_slope=0.6,
    pain_corr=-0.2,
    pain_sd_residual=8.0,
    arm_effect_pain=0.0,
    dropout_rate=0.05,
    dropout_alliance=-0.8,
    missed_session_rate=0.0,
    missing_alliance_rate=0.04,
    missing_outcome_rate=0.03,
)
MESSY_PATIENTS = 40
MESSY_SESSIONS = 8


def _caseloads(rng: np.random.Generator, therapists: int, patients: int) -> list[int]:
    """Unbalanced caseloads: every therapist has at least one patient, total fixed."""
    weights = rng.dirichlet(np.full(therapists, 2.0))
    return (1 + rng.multinomial(patients - therapists, weights)).tolist()


def make_physio_cohort() -> pd.DataFrame:
    rng = np.random.default_rng(PHYSIO_SEED)
    loads = _caseloads(rng, PHYSIO_THERAPISTS, PHYSIO_PATIENTS)
    sim = simulate_sessions(PHYSIO_THERAPISTS, caseloads=loads, seed=rng, **PHYSIO_PARAMS)
    n = len(sim)
    seen_function = sim["function"].notna().to_numpy()

    # ODI v2.1a: 10 sections scored 0-5; disability % = 100 - simulated function
    disability = np.clip(100.0 - sim["function"].to_numpy(), 0, 100)
    section_mean = disability / 20.0  # sum / 50 * 100 = disability  ->  mean section = D / 20
    odi = np.clip(np.rint(section_mean[:, None] + rng.normal(0, 0.6, (n, 10))), 0, 5)
    odi[~seen_function] = np.nan
    odi[seen_function & (rng.random(n) < 0.12), 7] = np.nan  # section 8 often left blank

    # RMDQ total (0-24): number of "yes" among 24 statements, tracking disability
    p_yes = np.clip(disability / 100 + rng.normal(0, 0.08, n), 0.02, 0.98)
    rmdq = np.where(seen_function, rng.binomial(24, np.nan_to_num(p_yes, nan=0.5)), np.nan)

    pain = np.clip(np.rint(sim["pain"].to_numpy()), 0, 10)  # NRS 0-10 integers

    patients = sim["patient"].unique()
    age = np.clip(np.rint(rng.normal(48, 14, patients.size)), 18, 85).astype(int)
    sex = np.where(rng.random(patients.size) < 0.58, "female", "male")
    age_of = dict(zip(patients, age, strict=True))
    sex_of = dict(zip(patients, sex, strict=True))

    out = pd.DataFrame(
        {
            "therapist": sim["therapist"],
            "patient": sim["patient"],
            "session": sim["session"],
            "date": sim["date"].dt.strftime("%Y-%m-%d"),
            "arm": sim["arm"],
            "modality": sim["modality"],
            "age": sim["patient"].map(age_of),
            "sex": sim["patient"].map(sex_of),
            "attended": sim["attended"],
        }
    )
    for col in WAI:
        out[col] = sim[col].astype("Int64")
    out["pain"] = pd.array(pain, dtype="Float64").astype("Int64")
    for k, col in enumerate(ODI):
        out[col] = pd.array(odi[:, k], dtype="Float64").astype("Int64")
    out["rmdq"] = pd.array(rmdq, dtype="Float64").astype("Int64")
    out["adhered"] = sim["adhered"].astype("Int64")
    out["exercises_done"] = sim["exercises_done"].astype("Int64")
    out["exercises_prescribed"] = sim["exercises_prescribed"]
    return out


def make_psychotherapy_cohort() -> pd.DataFrame:
    rng = np.random.default_rng(PSYCHO_SEED)
    loads = _caseloads(rng, PSYCHO_THERAPISTS, PSYCHO_PATIENTS)
    sim = simulate_sessions(PSYCHO_THERAPISTS, caseloads=loads, seed=rng, **PSYCHO_PARAMS)
    sim = sim[sim["attended"] == 1].reset_index(drop=True)
    # WAI-SR total as a researcher would store it: the mean of the 12 item responses
    wai_sr = sim[WAI].mean(axis=1).round(3)
    symptoms = np.clip(sim["pain"].round(), 0, 180)
    return pd.DataFrame(
        {
            "therapist": sim["therapist"],
            "patient": sim["patient"],
            "session": sim["session"],
            "date": sim["date"].dt.strftime("%Y-%m-%d"),
            "wai_sr": wai_sr,
            "symptoms": pd.array(symptoms, dtype="Float64").astype("Int64"),
        }
    )


def make_messy(physio: pd.DataFrame) -> pd.DataFrame:
    """Wide, untidy copy of the first patients, with the documented bad values."""
    keep = physio["patient"].isin(physio["patient"].unique()[:MESSY_PATIENTS])
    long = physio[keep & (physio["session"] <= MESSY_SESSIONS)].copy()
    long = long[long["attended"] == 1]
    base = long.groupby("patient", sort=True)[["therapist", "arm", "sex", "age"]].first()
    wide = pd.DataFrame({"patient_id": base.index, **{c: base[c].to_numpy() for c in base}})
    pieces = {}
    for s in range(1, MESSY_SESSIONS + 1):
        at = long[long["session"] == s].set_index("patient")
        pieces[f"date_s{s}"] = pd.to_datetime(at["date"])
        for col in WAI:
            pieces[f"{col}_s{s}"] = at[col].astype("float64")
        pieces[f"pain_s{s}"] = at["pain"].astype("float64")
        pieces[f"adhered_s{s}"] = at["adhered"].astype("float64")
    block = pd.DataFrame(pieces).reindex(base.index)
    wide = pd.concat([wide.reset_index(drop=True), block.reset_index(drop=True)], axis=1)
    wide = wide.astype({c: object for c in wide.columns if c.startswith("pain_s")})

    # --- deliberate problems (row numbers below are Excel's: header = row 1) ---
    # each bad value replaces a recorded value (the patient attended that session)
    for row, col in [(2, "wai_7_s2"), (6, "pain_s3"), (10, "date_s4")]:
        assert pd.notna(wide.loc[row, col]), (row, col)
    wide.loc[2, "wai_7_s2"] = 7  # Excel row 4: WAI-SR item outside 1-5
    wide.loc[6, "pain_s3"] = "7-8"  # Excel row 8: non-numeric pain
    wide.loc[10, "date_s4"] = pd.Timestamp("2031-05-14")  # Excel row 12: date in the future
    wide.loc[14, "patient_id"] = np.nan  # Excel row 16: missing patient ID
    duplicate = wide.loc[[20]].copy()  # re-entered patient: same ID, one value changed
    duplicate["pain_s1"] = 9
    wide = pd.concat([wide, duplicate], ignore_index=True)  # appended as the last row (Excel 42)
    return wide


def write_messy(wide: pd.DataFrame, out: Path = OUT) -> None:
    xlsx = out / "physio_messy.xlsx"
    with pd.ExcelWriter(xlsx, engine="openpyxl") as writer:
        wide.to_excel(writer, sheet_name="sessions", index=False)
    # SPSS: a variable has one type, so pain_s3 (holding "7-8") becomes a string variable
    import pyreadstat

    sav = wide.copy()
    for c in sav.columns:
        if c.startswith("pain_s") and c != "pain_s3":
            sav[c] = pd.to_numeric(sav[c])
    sav["pain_s3"] = [
        "" if pd.isna(v) else (v if isinstance(v, str) else f"{v:g}") for v in sav["pain_s3"]
    ]
    sav["patient_id"] = sav["patient_id"].fillna("").astype(str)
    for c in sav.columns:
        if c.startswith("date_s"):
            sav[c] = pd.to_datetime(sav[c])
    pyreadstat.write_sav(
        sav,
        str(out / "physio_messy.sav"),
        column_labels={"patient_id": "Patient ID", "pain_s3": "Pain NRS session 3 (as typed)"},
    )


MOLLOY_R = r"""
suppressPackageStartupMessages(library(metadat))
d <- dat.molloy2014
d$study <- paste0(d$authors, " (", d$year, ")")
d <- d[, c("study", setdiff(names(d), "study"))]
write.csv(d, file = commandArgs(TRUE)[1], row.names = FALSE)
cat(R.version.string, "metadat", as.character(packageVersion("metadat")), "\n")
"""


def make_molloy(use_r: bool) -> None:
    target = OUT / "molloy2014.csv"
    if not use_r:
        if not target.exists():
            sys.exit("molloy2014.csv missing and --no-r given; run with R and metadat installed")
        return
    rscript = shutil.which("Rscript")
    if rscript is None:
        sys.exit("Rscript not found: install R with metadat, or pass --no-r to keep the file")
    res = subprocess.run(
        [rscript, "-e", MOLLOY_R, str(target)],
        capture_output=True,
        text=True,
        check=True,
    )
    print("molloy2014.csv exported with", res.stdout.strip())


POOLED = [
    # review, year, outcome, r, ci_low, ci_high, k, n_patients, note, citation
    (
        "Horvath & Symonds",
        1991,
        "alliance-outcome (psychotherapy)",
        0.26,
        None,
        None,
        24,
        None,
        "weighted mean effect size",
        "Horvath, A. O., & Symonds, B. D. (1991). Relation between working alliance and "
        "outcome in psychotherapy: A meta-analysis. Journal of Counseling Psychology, 38(2), "
        "139-149.",
    ),
    (
        "Martin, Garske & Davis",
        2000,
        "alliance-outcome (psychotherapy)",
        0.22,
        None,
        None,
        79,
        None,
        "approximately .22 (about 4.8% of outcome variance)",
        "Martin, D. J., Garske, J. P., & Davis, M. K. (2000). Relation of the therapeutic "
        "alliance with outcome and other variables: A meta-analytic review. Journal of "
        "Consulting and Clinical Psychology, 68(3), 438-450.",
    ),
    (
        "Horvath, Del Re, Fluckiger & Symonds",
        2011,
        "alliance-outcome (psychotherapy)",
        0.275,
        0.25,
        0.30,
        190,
        None,
        "random-effects pooled r",
        "Horvath, A. O., Del Re, A. C., Fluckiger, C., & Symonds, D. (2011). Alliance in "
        "individual psychotherapy. Psychotherapy, 48(1), 9-16.",
    ),
    (
        "Fluckiger, Del Re, Wampold & Horvath",
        2018,
        "alliance-outcome (psychotherapy)",
        0.278,
        0.256,
        0.299,
        295,
        30000,
        "three-level REML model; d = .579; n_patients is a lower bound (>30,000)",
        "Fluckiger, C., Del Re, A. C., Wampold, B. E., & Horvath, A. O. (2018). The alliance "
        "in adult psychotherapy: A meta-analytic synthesis. Psychotherapy, 55(4), 316-340.",
    ),
    (
        "Molloy, O'Carroll & Ferguson",
        2014,
        "conscientiousness-medication adherence",
        0.15,
        0.09,
        0.21,
        16,
        None,
        "not an alliance outcome; study-level data in molloy2014.csv",
        "Molloy, G. J., O'Carroll, R. E., & Ferguson, E. (2014). Conscientiousness and "
        "medication adherence: A meta-analysis. Annals of Behavioral Medicine, 47(1), 92-101.",
    ),
]


def make_pooled() -> pd.DataFrame:
    cols = [
        "review",
        "year",
        "outcome",
        "r",
        "ci_low",
        "ci_high",
        "k_studies",
        "n_patients",
        "note",
        "citation",
    ]
    frame = pd.DataFrame(POOLED, columns=cols)
    frame["n_patients"] = frame["n_patients"].astype("Int64")
    return frame


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-r", action="store_true", help="keep the committed molloy2014.csv")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    physio = make_physio_cohort()
    physio.to_csv(OUT / "physio_cohort.csv", index=False)
    make_psychotherapy_cohort().to_csv(OUT / "psychotherapy_cohort.csv", index=False)
    write_messy(make_messy(physio))
    make_pooled().to_csv(OUT / "pooled_correlations.csv", index=False)
    make_molloy(use_r=not args.no_r)
    for path in sorted(OUT.iterdir()):
        print(f"{path.name:28s} {path.stat().st_size / 1024:8.1f} KiB")


if __name__ == "__main__":
    main()
