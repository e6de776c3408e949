"""Speed of profile-likelihood intervals (``confint(method="profile")``) against lme4.

Usage::

    python benchmarks/bench_profile.py

Data: the bundled sample cohort ``physio_cohort`` (simulated), alliance = mean of the 12
WAI-SR items, split into within- and between-patient parts; model (REML)

    pain ~ session + alliance_within + alliance_between + (1 + session | patient) + (1 | therapist)

Both programs fit the model and then compute profile intervals for every parameter (lme4
refits by ML first, as alliancestats does); only ``confint`` is timed, in the same run on the
same CSV. Prints both times, the ratio and the largest difference between the interval ends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

FORMULA = (
    "pain ~ session + alliance_within + alliance_between + (1 + session | patient) + "
    "(1 | therapist)"
)

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); d$patient <- factor(d$patient); d$therapist <- factor(d$therapist)
fit <- lmer(as.formula(args[2]), data = d, REML = TRUE)
tm <- system.time(ci <- confint(fit, method = "profile", oldNames = FALSE))[["elapsed"]]
cat(sprintf('{"seconds": %.4f, "low": [%s], "high": [%s]}\n', tm,
            paste(sprintf("%.8g", ci[, 1]), collapse = ","),
            paste(sprintf("%.8g", ci[, 2]), collapse = ",")))
"""


def cohort():
    import alliancestats as als
    from alliancestats.alliance import within_between

    d = als.read_sample("physio_cohort")
    d["alliance"] = d[[f"wai_{i}" for i in range(1, 13)]].mean(axis=1)
    d = d.dropna(subset=["pain", "alliance"])
    return within_between(d, "alliance")


def main() -> None:
    from alliancestats.models import lmm

    print(f"load average before: {os.getloadavg()} (cores: {os.cpu_count()})")
    d = cohort()
    warnings.simplefilter("ignore")
    fit = lmm(FORMULA, d)
    t = time.perf_counter()
    ours = fit.confint(method="profile", progress=False)
    ours_s = time.perf_counter() - t
    print(f"{fit.nobs} rows; alliancestats confint(profile): {ours_s:.2f} s")
    if shutil.which("Rscript") is None:
        print("Rscript not found: lme4 not run")
        return
    with tempfile.TemporaryDirectory() as tmp:
        csv, script = Path(tmp, "d.csv"), Path(tmp, "p.R")
        d.to_csv(csv, index=False)
        script.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", "--vanilla", str(script), str(csv), FORMULA],
                             check=True, capture_output=True, text=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    ends = np.concatenate([ours["ci_low"], ours["ci_high"]])
    ref = np.concatenate([r["low"], r["high"]])
    rel = np.max(np.abs(ends - ref) / np.maximum(np.abs(ref), 1e-3))
    print(f"lme4 confint(profile): {r['seconds']:.2f} s; ratio lme4/alliancestats "
          f"{r['seconds'] / ours_s:.1f}x; max relative difference of interval ends {rel:.1e}")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
