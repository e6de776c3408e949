"""Speed of refitting an LMM to new responses (the inner loop of simulation-based power).

Usage::

    python benchmarks/bench_refit.py [--refits 200] [--rows 3000]

Data: about ``--rows`` sessions simulated with :func:`alliancestats.simulate.simulate_sessions`
(sessions in patients in therapists), model

    pain ~ session * arm + (1 + session | patient) + (1 | therapist)

fitted once by REML. Then ``--refits`` new responses are drawn from the fitted model
(``fit.model.simulate``) and written to a CSV, and both programs refit the model to each of
them on the same rows:

* alliancestats: ``fit.model.refit(y)`` -- REML optimum from the fitted θ, fixed effects,
  standard errors and Satterthwaite df for every coefficient (``ddf=True``), in one process;
* lme4 1.1-31: ``refit(fit, newresp = y)`` in a loop (``lmer`` objects keep their
  factorisation pattern, so this is lme4's own fast path; no Satterthwaite df).

Both loops are timed inside their own process (R's ``system.time`` around the loop only). The
script prints seconds per refit, the ratio, and the extrapolated time of 1,000 refits; the
largest difference between the two programs' REML criteria checks that both reach the same
optima.
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
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA = "pain ~ session * arm + (1 + session | patient) + (1 | therapist)"

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); ys <- as.matrix(read.csv(args[2]))
d$patient <- factor(d$patient); d$therapist <- factor(d$therapist); d$arm <- factor(d$arm)
fit <- lmer(as.formula(args[3]), data = d, REML = TRUE)
crit <- numeric(ncol(ys))
st <- system.time(for (k in seq_len(ncol(ys))) {
  f2 <- refit(fit, newresp = ys[, k]); crit[k] <- REMLcrit(f2)
})
tm <- st[["elapsed"]]; cpu <- st[["user.self"]] + st[["sys.self"]]
cat(sprintf('{"seconds": %.6f, "cpu_seconds": %.6f, "criteria": [%s]}\n', tm, cpu,
            paste(sprintf("%.10f", crit), collapse = ",")))
"""


def make_data(rows: int, seed: int = 11) -> pd.DataFrame:
    from alliancestats.simulate import simulate_sessions

    n_ther = max(4, round(rows / 150))
    d = simulate_sessions(
        n_therapists=n_ther, patients_per_therapist=(15, 25), sessions=(6, 14), seed=seed
    ).dropna(subset=["pain"])
    return d[["therapist", "patient", "session", "arm", "pain"]].iloc[:rows].reset_index(drop=True)


def main() -> None:
    from alliancestats.models import lmm

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--refits", type=int, default=200)
    ap.add_argument("--rows", type=int, default=3000)
    args = ap.parse_args()
    print(f"load average before: {os.getloadavg()} (cores: {os.cpu_count()})")
    d = make_data(args.rows)
    warnings.simplefilter("ignore")
    fit = lmm(FORMULA, d)
    rng = np.random.default_rng(1)
    ys = np.column_stack([fit.model.simulate(rng) for _ in range(args.refits)])
    fit.model.refit(ys[:, 0])  # warm-up (loads the compiled kernel)
    t, c = time.perf_counter(), time.process_time()
    ours = [fit.model.refit(ys[:, k]) for k in range(args.refits)]
    ours_s = (time.perf_counter() - t) / args.refits
    ours_cpu = (time.process_time() - c) / args.refits
    print(
        f"{len(d)} rows, {d['patient'].nunique()} patients, {d['therapist'].nunique()} "
        f"therapists; alliancestats {ours_s * 1e3:.2f} ms per refit (with Satterthwaite df), "
        f"CPU {ours_cpu * 1e3:.2f} ms"
    )
    if shutil.which("Rscript") is None:
        print("Rscript not found: lme4 not run")
        return
    with tempfile.TemporaryDirectory() as tmp:
        data_csv, ys_csv, script = Path(tmp, "d.csv"), Path(tmp, "y.csv"), Path(tmp, "r.R")
        d.to_csv(data_csv, index=False)
        pd.DataFrame(ys).to_csv(ys_csv, index=False)
        script.write_text(R_SCRIPT)
        out = subprocess.run(
            ["Rscript", "--vanilla", str(script), str(data_csv), str(ys_csv), FORMULA],
            check=True, capture_output=True, text=True,
        )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    r_s = r["seconds"] / args.refits
    ours_crit = np.array([o.deviance for o in ours])
    worst = float(np.max((ours_crit - np.array(r["criteria"])) / np.abs(r["criteria"])))
    r_cpu = r["cpu_seconds"] / args.refits
    print(f"lme4 refit(): {r_s * 1e3:.2f} ms per refit, CPU {r_cpu * 1e3:.2f} ms")
    print(
        f"ratio lme4/alliancestats: {r_s / ours_s:.1f}x; 1,000 refits: alliancestats "
        f"{ours_s * 1000:.1f} s, lme4 {r_s * 1000:.1f} s; max (ours - lme4) / lme4 criterion "
        f"{worst:.1e}; CPU-time ratio {r_cpu / ours_cpu:.1f}x"
    )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
