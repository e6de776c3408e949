"""Speed of simulation power (refits) in alliancestats against lme4's ``refit()`` loop.

Usage::

    python benchmarks/bench_power.py                          # 1,000 refits, 3,000 rows
    python benchmarks/bench_power.py --nsim 200 --jobs 1 2    # quicker

The design is sessions in patients in therapists (default 30 therapists x 10 patients x 10
sessions = 3,000 rows) and the model

    y ~ session + (1 + session | patient) + (1 | therapist)

(a random slope per patient and a therapist intercept), REML. One set of ``nsim`` responses
is simulated once (the seeds :func:`alliancestats.power.power_simulation` uses) and written
to a binary file, so both engines refit exactly the same responses:

* lme4 (via ``Rscript``, one R process): ``lmer`` on the first response, then
  ``refit(fit, newresp = y)`` for every response; only the loop is timed (lme4's refit gives
  estimates and SEs, no p values);
* alliancestats: ``power_simulation(spec, nsim, seed, n_jobs=k)`` for each ``k`` in
  ``--jobs``, timed end to end in a fresh process (worker start-up, the template fit and
  Satterthwaite df and p values for every refit included).

The script checks that both engines give the same ``session`` estimates (largest absolute
difference) and prints a Markdown table with seconds, refits per second and the speed ratio
against lme4's loop, plus the machine (CPU, cores, load). Timings are wall-clock on whatever
machine runs the script: quote them with that line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA = "y ~ session + (1 + session | patient) + (1 | therapist)"
SEED = 2024

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$patient <- factor(d$patient); d$therapist <- factor(d$therapist)
nsim <- as.integer(args[3])
Y <- matrix(readBin(args[2], what = "double", n = nsim * nrow(d)), nrow = nrow(d))
d$y <- Y[, 1]
fit <- lmer(y ~ session + (1 + session | patient) + (1 | therapist), data = d, REML = TRUE)
est <- numeric(nsim); sing <- logical(nsim)
tm <- system.time(for (i in seq_len(nsim)) {
  f <- refit(fit, newresp = Y[, i])
  est[i] <- fixef(f)[["session"]]
  sing[i] <- isSingular(f)
})[["elapsed"]]
cat(jsonlite::toJSON(list(seconds = tm, estimate = est, singular = sum(sing),
                          version = as.character(packageVersion("lme4"))),
                     auto_unbox = TRUE, digits = NA), "\n")
"""

OURS_CHILD = r"""
import json, pickle, sys, time, warnings
warnings.simplefilter("ignore")
t0 = time.perf_counter()
from alliancestats.power import power_simulation
spec = pickle.load(open(sys.argv[1], "rb"))
t1 = time.perf_counter()
res = power_simulation(spec, nsim=int(sys.argv[2]), seed=int(sys.argv[3]),
                       n_jobs=int(sys.argv[4]), progress=False)
t2 = time.perf_counter()
print(json.dumps({"seconds": t2 - t1, "import_seconds": t1 - t0,
                  "estimate": res.replicates["estimate"].tolist(),
                  "singular": int(res.n_singular), "failed": int(res.n_failed),
                  "power": res.power}))
"""


def make_spec(n_therapists: int, n_patients: int, n_sessions: int):
    """Design rows and true parameters (pain-like scale: intercept 6, slope -0.15)."""
    from alliancestats.power import simulation_spec

    rows = pd.DataFrame(
        [(f"T{t:03d}", f"T{t:03d}-P{p:03d}", s)
         for t in range(n_therapists) for p in range(n_patients) for s in range(n_sessions)],
        columns=["therapist", "patient", "session"],
    )
    return simulation_spec(
        FORMULA, rows, fixed={"(Intercept)": 6.0, "session": -0.15},
        random={"patient": {"sd": [1.2, 0.12], "cor": -0.3}, "therapist": {"sd": 0.5}},
        sigma=1.0, term="session", patient="patient", therapist="therapist", session="session")


def responses(spec, nsim: int) -> np.ndarray:
    """The responses power_simulation draws for ``seed=SEED`` (rows x replicates)."""
    from alliancestats.power.engine import make_template, simulate_response
    from alliancestats.power.simulation import replicate_seeds

    t = make_template(spec, spec.term, "satterthwaite")
    seeds = replicate_seeds(np.random.SeedSequence(SEED), nsim)
    return np.column_stack([simulate_response(t, np.random.default_rng(s)) for s in seeds])


def run_lme4(csv: Path, ybin: Path, nsim: int, tmp: Path) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    script = tmp / "refit.R"
    script.write_text(R_SCRIPT)
    out = subprocess.run(["Rscript", "--vanilla", str(script), str(csv), str(ybin), str(nsim)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_ours(spec_file: Path, nsim: int, jobs: int) -> dict:
    out = subprocess.run([sys.executable, "-c", OURS_CHILD, str(spec_file), str(nsim),
                          str(SEED), str(jobs)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}"


def main(argv: list[str] | None = None) -> None:
    import pickle

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nsim", type=int, default=1000)
    ap.add_argument("--therapists", type=int, default=30)
    ap.add_argument("--patients", type=int, default=10, help="patients per therapist")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2],
                    help="worker processes for alliancestats (each a separate run)")
    args = ap.parse_args(argv)
    spec = make_spec(args.therapists, args.patients, args.sessions)
    print(f"# machine: {machine()}")
    print(f"# load average before start: {os.getloadavg()}", flush=True)
    print(f"# {len(spec.data)} rows, {args.therapists} therapists, "
          f"{args.therapists * args.patients} patients; {args.nsim} refits of {FORMULA}")
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        csv, ybin, spec_file = tmp / "design.csv", tmp / "y.bin", tmp / "spec.pkl"
        spec.data.to_csv(csv, index=False)
        t = time.perf_counter()
        Y = responses(spec, args.nsim)
        Y.astype("<f8").ravel(order="F").tofile(ybin)
        print(f"# simulated responses in {time.perf_counter() - t:.1f} s", flush=True)
        spec_file.write_bytes(pickle.dumps(spec))
        r = run_lme4(csv, ybin, args.nsim, tmp)
        if r is not None:
            print(f"lme4 {r['version']}: {r['seconds']:.1f} s", flush=True)
            rows.append({"engine": f"lme4 {r['version']} refit() loop", "workers": 1,
                         "seconds": r["seconds"], "singular": r["singular"]})
        for jobs in args.jobs:
            ours = run_ours(spec_file, args.nsim, jobs)
            diff = (np.max(np.abs(np.array(ours["estimate"]) - np.array(r["estimate"])))
                    if r is not None else np.nan)
            print(f"alliancestats, {jobs} worker(s): {ours['seconds']:.1f} s "
                  f"(max |session estimate - lme4| = {diff:.1e})", flush=True)
            rows.append({"engine": "alliancestats power_simulation", "workers": jobs,
                         "seconds": ours["seconds"], "singular": ours["singular"],
                         "max_abs_diff_vs_lme4": diff})
    table = pd.DataFrame(rows)
    table["refits_per_s"] = args.nsim / table["seconds"]
    if r is not None:
        table["speedup_vs_lme4"] = r["seconds"] / table["seconds"]
    print(f"# load average at the end: {os.getloadavg()}")
    print(table.to_markdown(index=False, floatfmt=".3g"))


if __name__ == "__main__":
    main()
