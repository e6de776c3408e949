"""Speed of simulation power (``power_simulation``) against lme4's ``refit()`` loop.

Usage::

    python benchmarks/bench_power.py                       # 1,000 replicates, 3,000 rows
    python benchmarks/bench_power.py --nsim 200            # quicker
    python benchmarks/bench_power.py --backends processes loky   # also time joblib's loky

Design: sessions in patients in therapists (default 30 therapists x 10 patients x 10
sessions = 3,000 rows), therapists nested in two arms, and the model

    pain ~ session * arm + (1 + session | patient) + (1 | therapist)

(a random slope per patient and a therapist intercept), REML; the tested coefficient is
``session:armtreatment``. The ``nsim`` responses are drawn once, with the seeds
``power_simulation(seed=2024)`` uses, and written to a binary file, so both programs refit
exactly the same responses.

* alliancestats: ``power_simulation(spec, nsim, seed=2024, n_jobs=k, backend=b)`` in a fresh
  Python process for each run (1 worker = this process; ``k`` workers on each of
  ``--backends``), timed end to end: the first fit of the model (in a fresh process this
  includes compiling the criterion kernels), then for every replicate drawing the response,
  the refit, Satterthwaite df and p value, and the record (seed, convergence, singularity,
  warnings). The replicate phase (everything after the first fit) is also reported alone.
  CPU seconds add up the process and all its worker processes.
* lme4 (``Rscript``, one R process): ``lmer`` on the first response, then ``refit(fit,
  newresp = y)`` over the first ``--lme4-refits`` responses (all of them with
  ``--lme4-refits 0``); only that loop is timed and scaled to ``nsim`` refits. lme4's refit
  gives estimates, not p values; the Satterthwaite p values of lmerTest are computed (not
  timed) by fitting ``lmerTest::lmer`` to the first ``--lmertest`` responses.

Ratios are lme4's loop time (scaled to ``nsim``) over ours, in wall-clock seconds and in CPU
seconds; the machine's load average is printed with them because other jobs may share the
cores. The estimates and p values of both programs on the same responses are compared.
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
from pathlib import Path

import numpy as np
import pandas as pd

FORMULA = "pain ~ session * arm + (1 + session | patient) + (1 | therapist)"
TERM = "session:armtreatment"
SEED = 2024

R_SCRIPT = r"""
suppressPackageStartupMessages(library(lme4))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d$patient <- factor(d$patient); d$therapist <- factor(d$therapist)
d$arm <- factor(d$arm, levels = c("control", "treatment"))
nrefit <- as.integer(args[3]); nlt <- as.integer(args[4])
form <- as.formula(args[5]); term <- args[6]
Y <- matrix(readBin(args[2], what = "double", n = nrefit * nrow(d)), nrow = nrow(d))
d$pain <- Y[, 1]
fit <- lmer(form, data = d, REML = TRUE)
est <- numeric(nrefit); sing <- logical(nrefit)
tm <- system.time(for (i in seq_len(nrefit)) {
  f <- refit(fit, newresp = Y[, i])
  est[i] <- fixef(f)[[term]]
  sing[i] <- isSingular(f)
})
p <- numeric(0); lt_est <- numeric(0)
if (nlt > 0 && requireNamespace("lmerTest", quietly = TRUE)) {
  for (i in seq_len(nlt)) {
    d$pain <- Y[, i]
    m <- suppressMessages(lmerTest::lmer(form, data = d, REML = TRUE))
    co <- coef(summary(m))
    p[i] <- co[term, "Pr(>|t|)"]; lt_est[i] <- co[term, "Estimate"]
  }
}
cat(jsonlite::toJSON(list(seconds = tm[["elapsed"]],
                          cpu = tm[["user.self"]] + tm[["sys.self"]],
                          estimate = est, singular = sum(sing), p = p, p_estimate = lt_est,
                          version = as.character(packageVersion("lme4"))),
                     auto_unbox = TRUE, digits = NA), "\n")
"""

OURS_CHILD = r"""
import json, pickle, resource, sys, time, warnings
warnings.simplefilter("ignore")

def cpu():
    s, c = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime

t0 = time.perf_counter()
import alliancestats.power.simulation as simulation
spec = pickle.load(open(sys.argv[1], "rb"))
nsim, seed, jobs, backend = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
phase = {}
run_jobs = simulation.run_jobs

def timed_run_jobs(*args, **kwargs):  # the replicate phase: everything after the first fit
    t, c = time.perf_counter(), cpu()
    out = run_jobs(*args, **kwargs)
    if backend == "loky":  # reap loky's reusable workers so that their CPU time is counted
        from joblib.externals.loky import get_reusable_executor
        get_reusable_executor().shutdown(wait=True)
    phase.update(seconds=time.perf_counter() - t, cpu=cpu() - c)
    return out

simulation.run_jobs = timed_run_jobs
t1, c1 = time.perf_counter(), cpu()
res = simulation.power_simulation(spec, nsim=nsim, seed=seed, n_jobs=jobs, backend=backend,
                                  progress=False)
t2, c2 = time.perf_counter(), cpu()
r = res.replicates
print(json.dumps({"seconds": t2 - t1, "cpu": c2 - c1, "import_seconds": t1 - t0,
                  "replicate_seconds": phase.get("seconds", float("nan")),
                  "replicate_cpu": phase.get("cpu", float("nan")),
                  "estimate": r["estimate"].tolist(), "p": r["p"].tolist(),
                  "df": r["df"].tolist(), "seed": r["seed"].tolist(),
                  "singular": int(res.n_singular), "failed": int(res.n_failed),
                  "warned": int(res.n_warned), "power": res.power}))
"""


def make_spec(n_therapists: int, n_patients: int, n_sessions: int):
    """Design rows and true parameters (pain-like scale; therapists nested in two arms)."""
    from alliancestats.power import simulation_spec

    rows = pd.DataFrame(
        [(f"T{t:03d}", f"T{t:03d}-P{p:03d}", s, "treatment" if t % 2 else "control")
         for t in range(n_therapists) for p in range(n_patients) for s in range(n_sessions)],
        columns=["therapist", "patient", "session", "arm"],
    )
    return simulation_spec(
        FORMULA, rows,
        fixed={"(Intercept)": 6.0, "session": -0.15, "armtreatment": 0.0, TERM: -0.05},
        random={"patient": {"sd": [1.2, 0.12], "cor": -0.3}, "therapist": {"sd": 0.5}},
        sigma=1.0, term=TERM, patient="patient", therapist="therapist", session="session",
        arm="arm")


def responses(spec, nsim: int) -> tuple[np.ndarray, list[int]]:
    """The responses ``power_simulation(seed=SEED)`` draws (rows x replicates), its seeds."""
    from alliancestats.power.engine import make_template, simulate_response
    from alliancestats.power.simulation import replicate_seeds

    t = make_template(spec, TERM, "satterthwaite", fit=False)
    seeds = replicate_seeds(np.random.SeedSequence(SEED), nsim)
    return np.column_stack([simulate_response(t, np.random.default_rng(s)) for s in seeds]), seeds


def run_lme4(csv: Path, ybin: Path, n_refit: int, n_lmertest: int, tmp: Path) -> dict | None:
    if shutil.which("Rscript") is None:
        return None
    script = tmp / "refit.R"
    script.write_text(R_SCRIPT)
    out = subprocess.run(["Rscript", "--vanilla", str(script), str(csv), str(ybin),
                          str(n_refit), str(n_lmertest), FORMULA, TERM],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_ours(spec_file: Path, nsim: int, jobs: int, backend: str) -> dict:
    env = dict(os.environ)
    src = Path(__file__).resolve().parents[1] / "src"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    out = subprocess.run([sys.executable, "-c", OURS_CHILD, str(spec_file), str(nsim),
                          str(SEED), str(jobs), backend],
                         check=True, capture_output=True, text=True, env=env)
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


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nsim", type=int, default=1000, help="replicates (default 1000)")
    ap.add_argument("--therapists", type=int, default=30)
    ap.add_argument("--patients", type=int, default=10, help="patients per therapist")
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--jobs", type=int, default=2, help="workers of the parallel runs")
    ap.add_argument("--backends", nargs="+", default=["processes"],
                    choices=["processes", "loky", "dask"],
                    help="backends of the parallel runs (a serial run is always made)")
    ap.add_argument("--lme4-refits", type=int, default=100,
                    help="lme4 refits to time, scaled to --nsim (0: all --nsim)")
    ap.add_argument("--lmertest", type=int, default=20,
                    help="responses refitted with lmerTest for Satterthwaite p values")
    args = ap.parse_args(argv)
    if args.lme4_refits <= 0 or args.lme4_refits > args.nsim:
        args.lme4_refits = args.nsim
    args.lmertest = min(args.lmertest, args.lme4_refits)
    return args


def ours_row(name: str, jobs: int, ours: dict, r: dict | None, scale: float) -> dict:
    row = {"engine": name, "workers": jobs, "seconds": ours["seconds"], "cpu_s": ours["cpu"],
           "replicate_phase_s": ours["replicate_seconds"],
           "first_fit_s": ours["seconds"] - ours["replicate_seconds"],
           "singular": ours["singular"], "failed": ours["failed"]}
    if r is not None:
        n = len(r["estimate"])
        row["max_abs_est_diff"] = float(np.max(np.abs(np.array(ours["estimate"][:n])
                                                      - np.array(r["estimate"]))))
        if r["p"]:
            k = len(r["p"])
            row["max_abs_p_diff"] = float(np.max(np.abs(np.array(ours["p"][:k])
                                                        - np.array(r["p"]))))
        row["speedup_wall"] = r["seconds"] * scale / ours["seconds"]
        row["speedup_cpu"] = r["cpu"] * scale / ours["cpu"]
        row["speedup_wall_replicates"] = r["seconds"] * scale / ours["replicate_seconds"]
        row["speedup_cpu_replicates"] = r["cpu"] * scale / ours["replicate_cpu"]
    return row


def verdicts(table: pd.DataFrame, jobs: int, nsim: int) -> list[str]:
    if nsim != 1000:
        return [f"# targets are stated for 1,000 replicates (this run: {nsim}); not judged"]
    out = []
    par = table[(table["engine"].str.startswith("alliancestats")) & (table["workers"] == jobs)]
    for _, row in par.iterrows():
        out.append(f"# target <= 60 s for 1,000 replicates on 2 cores ({row['engine']}, "
                   f"{jobs} workers): {row['seconds']:.1f} s -> "
                   f"{'met' if row['seconds'] <= 60 and jobs <= 2 else 'NOT met'}")
        if "speedup_wall" in row and pd.notna(row["speedup_wall"]):
            out.append(f"# target >= 20x lme4's refit loop ({row['engine']}): end to end "
                       f"{row['speedup_wall']:.1f}x wall ({row['speedup_cpu']:.1f}x CPU) -> "
                       f"{'met' if row['speedup_wall'] >= 20 else 'NOT met'}; replicate phase "
                       f"alone {row['speedup_wall_replicates']:.1f}x wall "
                       f"({row['speedup_cpu_replicates']:.1f}x CPU)")
    return out


def main(argv: list[str] | None = None) -> None:
    import pickle

    args = parse_args(argv)
    spec = make_spec(args.therapists, args.patients, args.sessions)
    print(f"# machine: {machine()}; Python {platform.python_version()}")
    print(f"# load average (1, 5, 15 min) before: {load()}")
    print(f"# {len(spec.data)} rows, {args.therapists} therapists, "
          f"{args.therapists * args.patients} patients; {args.nsim} replicates of {FORMULA}; "
          f"test of {TERM} (Satterthwaite)", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        csv, ybin, spec_file = tmp / "design.csv", tmp / "y.bin", tmp / "spec.pkl"
        spec.data.to_csv(csv, index=False)
        Y, seeds = responses(spec, args.nsim)
        Y[:, :args.lme4_refits].astype("<f8").ravel(order="F").tofile(ybin)
        spec_file.write_bytes(pickle.dumps(spec))
        r = run_lme4(csv, ybin, args.lme4_refits, args.lmertest, tmp)
        scale = args.nsim / args.lme4_refits
        if r is None:
            print("# Rscript not found: lme4 not run, no ratios")
        else:
            print(f"# lme4 {r['version']}: {args.lme4_refits} refits timed in "
                  f"{r['seconds']:.1f} s ({r['cpu']:.1f} CPU s)"
                  + (f", scaled x{scale:g} to {args.nsim} refits" if scale != 1 else "")
                  + f"; lmerTest p values on {len(r['p'])} responses (not timed)", flush=True)
            rows.append({"engine": f"lme4 {r['version']} refit() loop", "workers": 1,
                         "seconds": r["seconds"] * scale, "cpu_s": r["cpu"] * scale,
                         "singular": r["singular"]})
        runs = [("serial", 1)] + [(b, args.jobs) for b in args.backends]
        for backend, jobs in runs:
            ours = run_ours(spec_file, args.nsim, jobs, backend)
            if ours["seed"] != seeds:
                raise RuntimeError("power_simulation drew other seeds than the benchmark")
            row = ours_row(f"alliancestats {backend}", jobs, ours, r, scale)
            print(f"# alliancestats {backend}, {jobs} worker(s): {ours['seconds']:.1f} s "
                  f"({ours['cpu']:.1f} CPU s; first fit {row['first_fit_s']:.1f} s, "
                  f"replicates {row['replicate_phase_s']:.1f} s); power {ours['power']:.3f}",
                  flush=True)
            rows.append(row)
    table = pd.DataFrame(rows)
    print(f"# load average (1, 5, 15 min) after: {load()}")
    print("# seconds, cpu_s: for nsim replicates (lme4: its loop, scaled); first_fit_s: "
          "power_simulation's fit of the model before the replicates (includes compiling the "
          "kernels in a fresh process); replicate_phase_s: the rest; speedup_*: lme4 / "
          "alliancestats (end to end, or *_replicates: replicate phase only); max_abs_*_diff: "
          "alliancestats vs lme4 estimates / lmerTest p on the same responses")
    print(table.to_markdown(index=False, floatfmt=".3g"))
    for line in verdicts(table, args.jobs, args.nsim):
        print(line)


if __name__ == "__main__":
    main()
