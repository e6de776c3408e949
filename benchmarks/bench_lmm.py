"""Speed of alliancestats.lmm against lme4 and statsmodels MixedLM on the same data.

Usage::

    python benchmarks/bench_lmm.py                     # about 10k, 100k and 1M session rows
    python benchmarks/bench_lmm.py --rows 10000 100000 --statsmodels-max-rows 0

For each size the script simulates therapists x patients x sessions with
:func:`alliancestats.simulate.simulate_sessions` (20-60 patients per therapist, 2-14 sessions
per patient), adds person-mean-centred alliance, writes the data to a temporary CSV and fits

    pain ~ session + alliance_within + alliance_between + (1 + session | patient) + (1 | therapist)

by REML with

* alliancestats (in a fresh subprocess, which also reports its peak resident memory; the time
  covers the whole ``lmm()`` call: model matrices, optimisation, Satterthwaite df, random
  effects),
* lme4 via ``Rscript`` when available (only the ``lmer()`` call is timed, not reading the CSV),
* statsmodels MixedLM for the patient-level model only (statsmodels cannot add the crossed /
  nested therapist intercept next to a patient random slope), ``method="lbfgs"``; skipped above
  ``--statsmodels-max-rows`` (default 150,000) where a fit would take more than ten minutes.
  For that comparison alliancestats also fits the patient-level model.

It prints one table (times in seconds, ratios, peak memory, criterion difference) in Markdown.
Timings are wall-clock on whatever machine runs the script: state its load when quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA = (
    "pain ~ session + alliance_within + alliance_between + (1 + session | patient) + "
    "(1 | therapist)"
)
PATIENT_FORMULA = "pain ~ session + alliance_within + alliance_between + (1 + session | patient)"
ROWS_PER_THERAPIST = 225  # mean complete rows per therapist with the settings below


def make_data(rows: int, seed: int) -> pd.DataFrame:
    from alliancestats.simulate import simulate_sessions

    n_ther = max(3, round(rows / ROWS_PER_THERAPIST))
    df = simulate_sessions(
        n_therapists=n_ther, patients_per_therapist=(20, 60), sessions=(2, 14), seed=seed
    )
    pmean = df.groupby("patient")["alliance"].transform("mean")
    df["alliance_within"] = df["alliance"] - pmean
    df["alliance_between"] = pmean - df.groupby("patient")["alliance"].mean().mean()
    cols = ["therapist", "patient", "session", "alliance_within", "alliance_between", "pain"]
    return df[cols].dropna().reset_index(drop=True)


OURS_CHILD = r"""
import json, resource, sys, time, warnings
import pandas as pd
from alliancestats.models import lmm
warnings.simplefilter("ignore")
df = pd.read_csv(sys.argv[1])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
m = lmm(sys.argv[2], df)
el = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": el, "criterion": m.deviance, "peak_kb": peak, "data_kb": base,
                  "converged": m.converged, "singular": m.singular,
                  "nfev": m.optimizer["nfev"], "fixed": m.fixed["estimate"].tolist()}))
"""

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$patient <- factor(d$patient); d$therapist <- factor(d$therapist)
tm <- system.time(fm <- lmer(as.formula(args[2]), data = d, REML = TRUE))[["elapsed"]]
cat(sprintf('{"seconds": %.6f, "criterion": %.10f, "singular": %s}\n', tm, REMLcrit(fm),
            tolower(as.character(isSingular(fm)))))
"""


def run_ours(csv: Path, formula: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", OURS_CHILD, str(csv), formula],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_lme4(csv: Path, formula: str, tmp: Path) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    script = tmp / "fit.R"
    script.write_text(R_SCRIPT)
    out = subprocess.run(
        ["Rscript", "--vanilla", str(script), str(csv), formula],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_statsmodels(df: pd.DataFrame) -> dict:
    import warnings

    import statsmodels.formula.api as smf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        model = smf.mixedlm(
            "pain ~ session + alliance_within + alliance_between",
            df,
            groups=df["patient"],
            re_formula="~session",
        )
        res = model.fit(reml=True, method="lbfgs")
        el = time.perf_counter() - t
    # statsmodels reports the REML log-likelihood; -2 llf is lme4's REML criterion
    return {"seconds": el, "criterion": -2.0 * res.llf, "converged": bool(res.converged)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--statsmodels-max-rows", type=int, default=150_000)
    ap.add_argument("--seed", type=int, default=2024)
    args = ap.parse_args(argv)
    lines = []
    print(f"# load average before start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        for rows in args.rows:
            df = make_data(rows, args.seed)
            csv = tmp / f"data_{rows}.csv"
            df.to_csv(csv, index=False)
            n_pat, n_ther = df["patient"].nunique(), df["therapist"].nunique()
            print(f"## {len(df)} rows, {n_pat} patients, {n_ther} therapists", flush=True)
            ours = run_ours(csv, FORMULA)
            print(f"alliancestats: {ours}", flush=True)
            r = run_lme4(csv, FORMULA, tmp)
            print(f"lme4: {r}", flush=True)
            row = {
                "rows": len(df),
                "patients": n_pat,
                "therapists": n_ther,
                "alliancestats_s": ours["seconds"],
                "peak_rss_gb": ours["peak_kb"] / 1e6,
                "data_rss_gb": ours["data_kb"] / 1e6,
                "lme4_s": r["seconds"] if r else np.nan,
                "speedup_vs_lme4": r["seconds"] / ours["seconds"] if r else np.nan,
                "crit_rel_diff": (ours["criterion"] - r["criterion"]) / abs(r["criterion"])
                if r
                else np.nan,
                "statsmodels_patient_s": np.nan,
                "alliancestats_patient_s": np.nan,
                "sm_crit_rel_diff": np.nan,
            }
            if len(df) <= args.statsmodels_max_rows:
                sm = run_statsmodels(df)
                ours_p = run_ours(csv, PATIENT_FORMULA)
                print(f"statsmodels: {sm}; alliancestats patient-level: {ours_p}", flush=True)
                row["statsmodels_patient_s"] = sm["seconds"]
                row["alliancestats_patient_s"] = ours_p["seconds"]
                row["sm_crit_rel_diff"] = (sm["criterion"] - ours_p["criterion"]) / abs(
                    ours_p["criterion"]
                )
            lines.append(row)
    table = pd.DataFrame(lines)
    print(f"# load average at the end: {os.getloadavg()}")
    print(format_table(table))


def format_table(table: pd.DataFrame) -> str:
    """Markdown table: counts with thousands separators, times to 3 significant digits."""
    out = table.copy()
    for col in out.columns:
        if col in ("rows", "patients", "therapists"):
            out[col] = out[col].map(lambda v: f"{int(v):,}")
        elif col.endswith("diff"):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.1e}")
        else:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    return out.to_markdown(index=False)


if __name__ == "__main__":
    main()
