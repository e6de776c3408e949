"""Speed of alliancestats.lmm against lme4 and statsmodels MixedLM on the same data.

Usage::

    python benchmarks/bench_lmm.py                     # 2k, 10k, 100k and 1M session rows
    python benchmarks/bench_lmm.py --rows 2000 10000 --statsmodels-max-rows 0 --repeat 5

For each size the script simulates therapists x patients x sessions with
:func:`alliancestats.simulate.simulate_sessions` (20-60 patients per therapist, 2-14 sessions
per patient), adds person-mean-centred alliance, writes the data to a temporary CSV and fits

    pain ~ session + alliance_within + alliance_between + (1 + session | patient) + (1 | therapist)

by REML with

* alliancestats (in a fresh subprocess, which also reports its peak resident memory; the time
  covers the whole ``lmm()`` call: model matrices, optimisation, Satterthwaite df, random
  effects; one warm-up fit, then the median of ``--repeat`` fits),
* lme4 via ``Rscript`` when available (only the ``lmer()`` call is timed, not reading the CSV;
  median of ``--repeat`` fits),

and the same for a random-intercept model (``(1 | patient) + (1 | therapist)``) and, at the
sizes in ``--crossed-rows``, a crossed model in which patients meet several therapists
(``(1 | patient) + (1 | therapist)`` with therapists drawn at random per session).
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


INTERCEPT_FORMULA = (
    "pain ~ session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)"
)

OURS_CHILD = r"""
import json, resource, statistics, sys, time, warnings
import pandas as pd
from alliancestats.models import lmm
warnings.simplefilter("ignore")
df = pd.read_csv(sys.argv[1])
repeat = int(sys.argv[3])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m = lmm(sys.argv[2], df)  # warm-up: loads the compiled kernel
times, cpu = [], []
for _ in range(repeat):
    t, c = time.perf_counter(), time.process_time()
    m = lmm(sys.argv[2], df)
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": statistics.median(times), "cpu_seconds": statistics.median(cpu),
                  "criterion": m.deviance,
                  "peak_kb": peak, "data_kb": base, "converged": m.converged,
                  "singular": m.singular, "evaluations": m.optimizer["evaluations"],
                  "fixed": m.fixed["estimate"].tolist()}))
"""

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$patient <- factor(d$patient); d$therapist <- factor(d$therapist)
reps <- as.integer(args[3])
tm <- cpu <- numeric(reps)
for (i in seq_len(reps)) {
  st <- system.time(fm <- lmer(as.formula(args[2]), data = d, REML = TRUE))
  tm[i] <- st[["elapsed"]]
  cpu[i] <- st[["user.self"]] + st[["sys.self"]]
}
cat(sprintf('{"seconds": %.6f, "cpu_seconds": %.6f, "criterion": %.10f, "singular": %s}\n',
            median(tm), median(cpu), REMLcrit(fm), tolower(as.character(isSingular(fm)))))
"""


def run_ours(csv: Path, formula: str, repeat: int = 1) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", OURS_CHILD, str(csv), formula, str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_lme4(csv: Path, formula: str, tmp: Path, repeat: int = 1) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    script = tmp / "fit.R"
    script.write_text(R_SCRIPT)
    out = subprocess.run(
        ["Rscript", "--vanilla", str(script), str(csv), formula, str(repeat)],
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


def crossed(df: pd.DataFrame, seed: int) -> pd.DataFrame:
    """The same rows with each session seen by a therapist drawn at random (crossed factors)."""
    rng = np.random.default_rng(seed)
    therapists = df["therapist"].unique()
    return df.assign(therapist=rng.choice(therapists, size=len(df)))


def compare(csv: Path, formula: str, tmp: Path, repeat: int) -> dict:
    """Ours and lme4's median times on one data set and formula, with the criterion check."""
    ours = run_ours(csv, formula, repeat)
    r = run_lme4(csv, formula, tmp, repeat)
    print(f"  {formula}\n  alliancestats: {ours}\n  lme4: {r}", flush=True)
    return {
        "alliancestats_s": ours["seconds"],
        "lme4_s": r["seconds"] if r else np.nan,
        "speedup_vs_lme4": r["seconds"] / ours["seconds"] if r else np.nan,
        "alliancestats_cpu_s": ours["cpu_seconds"],
        "lme4_cpu_s": r["cpu_seconds"] if r else np.nan,
        "cpu_speedup_vs_lme4": r["cpu_seconds"] / ours["cpu_seconds"] if r else np.nan,
        "crit_rel_diff": (ours["criterion"] - r["criterion"]) / abs(r["criterion"])
        if r
        else np.nan,
        "peak_rss_gb": ours["peak_kb"] / 1e6,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[2_000, 10_000, 100_000, 1_000_000])
    ap.add_argument("--crossed-rows", type=int, nargs="*", default=[2_000, 10_000])
    ap.add_argument("--statsmodels-max-rows", type=int, default=150_000)
    ap.add_argument("--repeat", type=int, default=5)
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
            repeat = args.repeat if rows <= 100_000 else 1
            models = [("slope + therapist", csv, FORMULA), ("intercepts", csv, INTERCEPT_FORMULA)]
            if rows in args.crossed_rows:
                csv_x = tmp / f"crossed_{rows}.csv"
                crossed(df, args.seed).to_csv(csv_x, index=False)
                models.append(("crossed intercepts", csv_x, INTERCEPT_FORMULA))
            for label, path, formula in models:
                row = {"model": label, "rows": len(df), "patients": n_pat, "therapists": n_ther}
                row.update(compare(path, formula, tmp, repeat))
                lines.append(row)
            if len(df) <= args.statsmodels_max_rows:
                sm = run_statsmodels(df)
                ours_p = run_ours(csv, PATIENT_FORMULA, repeat)
                print(f"statsmodels: {sm}; alliancestats patient-level: {ours_p}", flush=True)
    table = pd.DataFrame(lines)
    print(f"# load average at the end: {os.getloadavg()}")
    print(format_table(table))


def format_table(table: pd.DataFrame) -> str:
    """Markdown table: counts with thousands separators, times to 3 significant digits."""
    out = table.copy()
    for col in out.columns:
        if col == "model":
            continue
        if col in ("rows", "patients", "therapists"):
            out[col] = out[col].map(lambda v: f"{int(v):,}")
        elif col.endswith("diff"):
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.1e}")
        else:
            out[col] = out[col].map(lambda v: "" if pd.isna(v) else f"{v:.3g}")
    return out.to_markdown(index=False)


if __name__ == "__main__":
    main()
