"""Benchmark: alliancestats.glmm against lme4::glmer on 100k binary session rows.

Model (Laplace approximation, nAGQ = 1)::

    adhered ~ session + alliance_within + alliance_between + (1 | patient)

Data come from :func:`alliancestats.simulate.simulate_sessions` (seeded), trimmed to whole
patients so that exactly ``--rows`` rows (default 100,000) remain. When ``Rscript`` is on the
PATH the same CSV is fitted by ``glmer`` in the same run; only the ``glmer()`` call is timed
inside R (``system.time``), not R's start-up or reading the file. Both fits are repeated
``--repeat`` times and the fastest time is reported. The machine's load average is printed
before and after, since the timings depend on what else runs.

With ``--extra`` two further models are timed on the same rows: patient and therapist random
intercepts, and a correlated random slope for session. With ``--nested`` only the nested
patient + therapist intercept models are timed, for the binary adherence (binomial) and for
the exercises done per session (Poisson, offset log(prescribed)). With ``--grid`` all three
random-effect structures (patient intercept; patient and therapist intercepts; correlated
random slope for session) are timed for both families.

Usage::

    /work/venv/bin/python benchmarks/bench_glmm.py [--rows 100000] [--repeat 1] [--extra]
    /work/venv/bin/python benchmarks/bench_glmm.py --nested [--rows 100000]
    /work/venv/bin/python benchmarks/bench_glmm.py --grid --rows 10000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
import warnings

import numpy as np
import pandas as pd

FORMULA = "adhered ~ session + alliance_within + alliance_between + (1 | patient)"
NESTED = [
    ("binomial",
     "adhered ~ session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)"),
    ("poisson",
     "exercises_done ~ session + alliance_within + alliance_between + "
     "offset(log(exercises_prescribed)) + (1 | patient) + (1 | therapist)"),
]
POISSON_LHS = "exercises_done ~ "
POISSON_OFFSET = " + offset(log(exercises_prescribed))"
RANDOM_PARTS = [
    "session + alliance_within + alliance_between + (1 | patient)",
    "session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)",
    "session + alliance_within + (1 + session | patient)",
]
EXTRA = [
    "adhered ~ session + alliance_within + alliance_between + (1 | patient) + (1 | therapist)",
    "adhered ~ session + alliance_within + (1 + session | patient)",
]

R_SCRIPT = r"""
suppressPackageStartupMessages({library(lme4); library(jsonlite)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$patient <- factor(d$patient)
d$therapist <- factor(d$therapist)
reps <- as.integer(args[2])
form <- as.formula(args[3])
fam <- get(if (length(args) >= 4) args[4] else "binomial")
times <- numeric(reps)
for (i in seq_len(reps)) {
  tm <- system.time(fit <- glmer(form, data = d, family = fam))
  times[i] <- tm[["elapsed"]]
}
out <- list(seconds = min(times), loglik = as.numeric(logLik(fit)),
            fixef = as.numeric(fixef(fit)), theta = as.numeric(getME(fit, "theta")),
            lme4 = as.character(packageVersion("lme4")), R = R.version.string)
cat(toJSON(out, auto_unbox = TRUE, digits = NA))
"""


def make_data(rows: int, seed: int = 2024, exercises_family: str = "binomial") -> pd.DataFrame:
    from alliancestats.simulate import simulate_sessions

    n_ther = int(np.ceil(rows / 400)) + 10  # about 60 patients and 7 sessions each
    raw = simulate_sessions(
        n_therapists=n_ther, patients_per_therapist=(40, 80), sessions=(6, 12), seed=seed,
        exercises_family=exercises_family,
    )
    cols = ["therapist", "patient", "session", "alliance", "adhered", "exercises_done",
            "exercises_prescribed"]
    keep_rows = raw.dropna(subset=["adhered", "alliance"])
    if exercises_family == "poisson":  # counts need a positive exposure for the offset
        keep_rows = keep_rows[keep_rows["exercises_prescribed"] > 0]
    d = keep_rows[cols]
    sizes = d.groupby("patient", sort=False).size()
    keep = sizes.index[np.cumsum(sizes.to_numpy()) <= rows]
    d = d[d["patient"].isin(keep)].reset_index(drop=True)
    if len(d) < rows:  # top up with part of the next patient so the row count is exact
        extra = keep_rows[~keep_rows["patient"].isin(keep)][d.columns].head(rows - len(d))
        d = pd.concat([d, extra], ignore_index=True)
    pmean = d.groupby("patient")["alliance"].transform("mean")
    d["alliance_within"] = d["alliance"] - pmean
    d["alliance_between"] = pmean - d.groupby("patient")["alliance"].mean().mean()
    d["adhered"] = d["adhered"].astype(int)
    return d


def run_python(d: pd.DataFrame, repeat: int, formula: str = FORMULA, family: str = "binomial"):
    from alliancestats.models.glmm import glmm

    best, fit = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = glmm(formula, d, family=family)
        best = min(best, time.perf_counter() - t0)
    return best, fit


def run_r(csv: str, repeat: int, formula: str = FORMULA, family: str = "binomial"):
    if shutil.which("Rscript") is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_SCRIPT)
        script = fh.name
    try:
        out = subprocess.run(
            ["Rscript", "--vanilla", script, csv, str(repeat), formula, family],
            check=True,
            capture_output=True,
            text=True,
        )
    finally:
        os.unlink(script)
    return json.loads(out.stdout.strip().splitlines()[-1])


def compare(d: pd.DataFrame, csv: str, repeat: int, formula: str,
            family: str = "binomial") -> str | None:
    py_s, fit = run_python(d, repeat, formula, family)
    r = run_r(csv, repeat, formula, family)
    print(f"\n{family}: {formula}")
    print(f"  alliancestats glmm: {py_s:8.2f} s  logLik {fit.loglik:.6f}  theta {fit.theta}")
    if r is None:
        print("  Rscript not found: glmer not run")
        return None
    rel = abs(fit.loglik - r["loglik"]) / abs(r["loglik"])
    dbeta = float(np.max(np.abs(fit.fixed["estimate"].to_numpy() - np.array(r["fixef"]))))
    print(
        f"  lme4 {r['lme4']} glmer: {r['seconds']:8.2f} s  logLik {r['loglik']:.6f}  "
        f"theta {r['theta']}"
    )
    print(
        f"  speed-up: {r['seconds'] / py_s:.1f}x; logLik relative difference {rel:.1e} "
        f"({'higher' if fit.loglik > r['loglik'] else 'lower'} in alliancestats); "
        f"max |fixed-effect difference| {dbeta:.1e}"
    )
    rhs = formula.split("~", 1)[1].strip().replace("|", "\\|")  # escaped for markdown tables
    return (
        f"| {family} | `{rhs}` | {len(d):,} | {r['seconds']:.2f} | "
        f"{py_s:.2f} | {r['seconds'] / py_s:.1f}x | {rel:.1e} | {dbeta:.1e} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--extra", action="store_true", help="also time two further models")
    ap.add_argument("--nested", action="store_true",
                    help="only the nested patient + therapist models (binomial and Poisson)")
    ap.add_argument("--grid", action="store_true",
                    help="all three random-effect structures, binomial and Poisson")
    args = ap.parse_args()

    load0 = os.getloadavg()
    counts = args.nested or args.grid
    d = make_data(args.rows, exercises_family="poisson" if counts else "binomial")
    print(
        f"rows: {len(d)}, patients: {d['patient'].nunique()}, "
        f"therapists: {d['therapist'].nunique()}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        csv = os.path.join(tmp, "bench_glmm.csv")
        d.to_csv(csv, index=False)
        if args.grid:
            models = [("binomial", "adhered ~ " + rhs) for rhs in RANDOM_PARTS] + [
                ("poisson", POISSON_LHS + rhs.replace(" + (", POISSON_OFFSET + " + (", 1))
                for rhs in RANDOM_PARTS]
        elif args.nested:
            models = NESTED
        else:
            models = [("binomial", f) for f in [FORMULA, *(EXTRA if args.extra else [])]]
        for family, formula in models:
            rows.append(compare(d, csv, args.repeat, formula, family))
    load1 = os.getloadavg()
    print(
        f"\nload average before: {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}; "
        f"after: {load1[0]:.2f} {load1[1]:.2f} {load1[2]:.2f} (cores: {os.cpu_count()})"
    )
    if all(rows):
        print(
            "\n| family | model | rows | glmer (s) | glmm (s) | speed-up "
            "| logLik rel. diff | max abs. diff beta |"
        )
        print("|---|---|---|---|---|---|---|---|")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
