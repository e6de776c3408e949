"""Out-of-core lmm: a Dask DataFrame read from partitioned Parquet, against the in-memory fit
and lme4 on the same data.

Usage::

    python benchmarks/bench_lmm_dask.py                       # 5M rows out of core, 200k compared
    python benchmarks/bench_lmm_dask.py --rows 2000000 --compare-rows 100000 --workers 2

The script simulates therapists x patients x sessions with a vectorised simulator (the model
of ``bench_lmm.py``: a patient intercept and session slope, a therapist intercept, within- and
between-patient alliance, about 3% of ``pain`` missing), written therapist block by therapist
block so that the simulation never holds the whole data, into Parquet files of
``--partition-rows`` rows (file boundaries cut through patients, so patients are split across
partitions). It then fits

    pain ~ session + alliance_within + alliance_between + (1 + session | patient) + (1 | therapist)

by REML:

* ``--rows`` rows as a Dask DataFrame (``dask.dataframe.read_parquet``) with a
  ``distributed.LocalCluster`` of ``--workers`` single-threaded worker processes, in a fresh
  subprocess: wall time of the ``lmm()`` call (both passes over the files, the fit, the
  Satterthwaite df), peak resident memory of the client process and of each worker;
* ``--compare-rows`` rows the same way, in memory (``pandas`` frame from the same rows, via
  ``bench_lmm.run_ours``: peak memory includes the data) and with lme4 through ``Rscript``
  (``bench_lmm.run_lme4``, only the ``lmer()`` call timed), printing the time ratios and the
  largest differences between the Dask and in-memory estimates.

Times include a Dask cluster's scheduling overhead and are wall-clock on whatever machine
runs the script: state its load when quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_lmm import FORMULA, run_lme4, run_ours  # noqa: E402

DASK_CHILD = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np, pandas as pd
import dask.dataframe as dd, distributed
from alliancestats.models import lmm
path, formula, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])

def peak_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

warm = pd.DataFrame({"y": np.arange(40.0) % 7, "x": np.arange(40.0), "g": np.arange(40) % 8})
lmm("y ~ x + (1 | g)", warm)  # warm-up: loads the compiled kernels (as bench_lmm does)
with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=":0") as cluster, \
        distributed.Client(cluster) as client:
    ddf = dd.read_parquet(path)
    t = time.perf_counter()
    m = lmm(formula, ddf)
    seconds = time.perf_counter() - t
    worker_peaks = list(client.run(peak_kb).values())
print(json.dumps({"seconds": seconds, "criterion": m.deviance, "client_peak_kb": peak_kb(),
                  "worker_peak_kb": worker_peaks, "nobs": m.nobs, "n_dropped": m.n_dropped,
                  "partitions": ddf.npartitions, "converged": m.converged,
                  "fixed": m.fixed["estimate"].tolist(), "se": m.fixed["se"].tolist(),
                  "df": m.fixed["df"].tolist()}))
"""


def _therapist_block(rng: np.random.Generator, first_therapist: int, n_ther: int,
                     first_patient: int) -> pd.DataFrame:
    """Sessions of ``n_ther`` therapists (20-60 patients each, 2-14 sessions per patient)."""
    n_pat = rng.integers(20, 61, n_ther)
    ther_of_pat = np.repeat(np.arange(n_ther), n_pat)
    n_sess = rng.integers(2, 15, ther_of_pat.size)
    pat = np.repeat(np.arange(ther_of_pat.size), n_sess)
    session = np.arange(pat.size) - np.repeat(np.cumsum(n_sess) - n_sess, n_sess) + 1
    ther = ther_of_pat[pat]
    u_t = rng.normal(0.0, 0.8, n_ther)
    u_p = rng.normal(0.0, 1.5, ther_of_pat.size)
    slope_p = rng.normal(0.0, 0.1, ther_of_pat.size)
    between = rng.normal(0.0, 0.5, ther_of_pat.size) + rng.normal(0.0, 0.3, n_ther)[ther_of_pat]
    within = rng.normal(0.0, 0.6, pat.size)
    pain = (6.0 + u_t[ther] + u_p[pat] + (-0.15 + slope_p[pat]) * session - 0.4 * within
            - 0.6 * between[pat] + rng.normal(0.0, 1.0, pat.size))
    pain[rng.random(pat.size) < 0.03] = np.nan
    return pd.DataFrame({
        "therapist": first_therapist + ther, "patient": first_patient + pat,
        "session": session.astype(float), "alliance_within": within,
        "alliance_between": between[pat], "pain": pain,
    })


def write_parquet(rows: int, folder: Path, partition_rows: int, seed: int) -> int:
    """Simulate about ``rows`` rows into Parquet files of ``partition_rows`` rows each;
    returns the number of rows written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pending: list[pd.DataFrame] = []
    written = n_pending = therapist = patient = files = 0
    while written + n_pending < rows:
        block = _therapist_block(rng, therapist, 40, patient)
        therapist += 40
        patient = int(block["patient"].max()) + 1
        pending.append(block)
        n_pending += len(block)
        while n_pending >= partition_rows or (written + n_pending >= rows and n_pending):
            both = pd.concat(pending, ignore_index=True)
            part, rest = both.iloc[:partition_rows], both.iloc[partition_rows:]
            part.to_parquet(folder / f"part-{files:05d}.parquet", index=False)
            files += 1
            written += len(part)
            pending, n_pending = ([rest] if len(rest) else []), len(rest)
    return written


def run_dask(folder: Path, formula: str, workers: int) -> dict:
    out = subprocess.run([sys.executable, "-c", DASK_CHILD, str(folder), formula, str(workers)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _mb(kb: float) -> str:
    return f"{kb / 1024:,.0f} MB"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000, help="rows fitted out of core")
    ap.add_argument("--compare-rows", type=int, default=200_000,
                    help="rows fitted out of core, in memory and with lme4 (0: skip)")
    ap.add_argument("--partition-rows", type=int, default=250_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    print(f"machine: {os.cpu_count()} cores; load average before: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    lines = ["| rows | engine | seconds | peak memory | criterion | ratio (lme4 / engine) |",
             "|---:|---|---:|---|---:|---:|"]
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        if args.compare_rows:
            small = tmp / "small"
            n = write_parquet(args.compare_rows, small, args.partition_rows // 4, args.seed)
            csv = tmp / "small.csv"
            pd.read_parquet(small).to_csv(csv, index=False)
            dask_fit = run_dask(small, FORMULA, args.workers)
            mem_fit = run_ours(csv, FORMULA)
            r = run_lme4(csv, FORMULA, tmp)
            lme4_s = r["seconds"] if r else float("nan")
            worker = max(dask_fit["worker_peak_kb"])
            lines += [
                f"| {n:,} | alliancestats, Dask ({dask_fit['partitions']} partitions) | "
                f"{dask_fit['seconds']:.2f} | client {_mb(dask_fit['client_peak_kb'])}, worker "
                f"{_mb(worker)} | {dask_fit['criterion']:.6f} | {lme4_s / dask_fit['seconds']:.2f} |",
                f"| {n:,} | alliancestats, in memory | {mem_fit['seconds']:.2f} | "
                f"{_mb(mem_fit['peak_kb'])} | {mem_fit['criterion']:.6f} | "
                f"{lme4_s / mem_fit['seconds']:.2f} |",
                f"| {n:,} | lme4 | {lme4_s:.2f} | | "
                f"{r['criterion'] if r else float('nan'):.6f} | 1 |",
            ]
            diff = np.max(np.abs(np.subtract(dask_fit["fixed"], mem_fit["fixed"])))
            print(f"Dask vs in memory at {n:,} rows: criterion difference "
                  f"{dask_fit['criterion'] - mem_fit['criterion']:.2e}, largest fixed-effect "
                  f"difference {diff:.2e}")
        big = tmp / "big"
        n = write_parquet(args.rows, big, args.partition_rows, args.seed + 1)
        size = sum(f.stat().st_size for f in big.iterdir())
        fit = run_dask(big, FORMULA, args.workers)
        lines.append(
            f"| {n:,} | alliancestats, Dask ({fit['partitions']} partitions, "
            f"{size / 2**20:,.0f} MB Parquet) | {fit['seconds']:.2f} | client "
            f"{_mb(fit['client_peak_kb'])}, workers "
            f"{', '.join(_mb(k) for k in fit['worker_peak_kb'])} | {fit['criterion']:.6f} | |"
        )
    print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
