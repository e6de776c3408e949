"""Speed and memory of ``load_sessions`` against ``pandas.read_csv`` on the same CSV file.

Usage::

    python benchmarks/bench_load.py                  # 100,000 rows, 7 repetitions
    python benchmarks/bench_load.py --rows 20000 100000 --repeat 5

For each size the script simulates a session file with
:func:`alliancestats.simulate.simulate_sessions` (16 columns: therapist and patient IDs,
session, arm, modality, attended, date, days, alliance, pain, function, adhered, exercise
counts, planned sessions, dropout flag), writes it as CSV and times, in the same run:

* ``pandas.read_csv(path)`` with its defaults (type inference, no checks);
* ``load_sessions(path, ...)`` with validation on (strict mode, the default warnings),
  mapping patient, therapist, session, alliance, three outcomes and two covariates; once
  keeping the undeclared columns (the default ``keep="all"``) and once with
  ``keep="declared"``.

Times are medians of ``--repeat`` runs after one warm-up. Memory is measured in a fresh
subprocess per reader: the peak resident memory added by the call, after a warm-up on a
2,000-row file of the same shape (lazy imports, thread pools), next to the size of the resulting
frame (``memory_usage(deep=True)``); the high-water mark is reset through
``/proc/self/clear_refs`` just before the call (Linux). It prints one Markdown table. Timings are wall-clock on
whatever machine runs the script: state its load when quoting them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

MAPPING = {
    "patient": "patient",
    "therapist": "therapist",
    "session": "session",
    "alliance": "alliance",
    "outcomes": ["pain", "function", "adhered"],
    "covariates": ["arm", "modality"],
}
ROWS_PER_THERAPIST = 70  # about 8-14 patients x 6-12 sessions with the settings below


def make_file(rows: int, folder: Path, seed: int = 20261130) -> Path:
    """A simulated session file of ``rows`` rows, written by pandas (as most exports are)."""
    from alliancestats.simulate import simulate_sessions

    n_ther = max(2, round(rows / ROWS_PER_THERAPIST))
    data = simulate_sessions(
        n_therapists=n_ther, patients_per_therapist=(8, 14), sessions=(6, 12), seed=seed
    )
    while len(data) < rows:  # top up with more therapists (IDs stay unique)
        more = simulate_sessions(
            n_therapists=n_ther,
            patients_per_therapist=(8, 14),
            sessions=(6, 12),
            seed=seed + len(data),
        )
        more["therapist"] = "X" + more["therapist"]
        more["patient"] = "X" + more["patient"]
        data = pd.concat([data, more], ignore_index=True)
    path = folder / f"sessions_{rows}.csv"
    if path.exists():
        return path
    data.iloc[:rows].to_csv(path, index=False)
    return path


def _median_time(call, repeat: int) -> float:
    call()  # warm-up: imports, page cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


_MEMORY_CHILD = r"""
import gc, json, re, sys, warnings
import pandas as pd
from alliancestats.io import load_sessions

def status(key):
    text = open("/proc/self/status").read()
    return int(re.search(key + r":\s+(\d+) kB", text).group(1)) / 1024

path, small, which, mapping = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
# warm up on a small file of the same shape: lazy imports and thread pools are set up, and
# the allocator holds little freed memory that could hide the peak of the measured call
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    warm = pd.read_csv(small) if which == "pandas" else load_sessions(small, **mapping)
del warm
open(path, "rb").read()  # page cache, as in the timed runs
gc.collect()
with open("/proc/self/clear_refs", "w") as fh:  # reset the high-water mark to the current RSS
    fh.write("5")
before = status("VmRSS")
if which == "pandas":
    frame = pd.read_csv(path)
else:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = load_sessions(path, keep=which, **mapping).data
peak = status("VmHWM")
print(json.dumps({"peak_mb": peak - before,
                  "frame_mb": frame.memory_usage(deep=True).sum() / 2**20}))
"""


def memory(path: Path, small: Path, which: str) -> dict[str, float]:
    """Peak resident memory added by one read, in a fresh interpreter (Linux: the
    ``VmHWM`` high-water mark, reset just before the call)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(path), str(small), which, json.dumps(MAPPING)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(rows: int, repeat: int, folder: Path) -> dict[str, float]:
    import warnings

    from alliancestats.io import load_sessions

    path = make_file(rows, folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean file must load without any warning
        t_pandas = _median_time(lambda: pd.read_csv(path), repeat)
        t_all = _median_time(lambda: load_sessions(path, **MAPPING), repeat)
        t_declared = _median_time(lambda: load_sessions(path, keep="declared", **MAPPING), repeat)
        t_pandas_again = _median_time(lambda: pd.read_csv(path), repeat)
    t_pandas = min(t_pandas, t_pandas_again)  # the faster of two rounds: conservative ratio
    small = make_file(2_000, folder)
    mem_pandas = memory(path, small, "pandas")
    mem_all = memory(path, small, "all")
    return {
        "rows": rows,
        "columns": 16,
        "mb": path.stat().st_size / 2**20,
        "pandas_s": t_pandas,
        "load_all_s": t_all,
        "load_declared_s": t_declared,
        "ratio_all": t_all / t_pandas,
        "ratio_declared": t_declared / t_pandas,
        "pandas_frame_mb": mem_pandas["frame_mb"],
        "pandas_peak_mb": mem_pandas["peak_mb"],
        "load_frame_mb": mem_all["frame_mb"],
        "load_peak_mb": mem_all["peak_mb"],
        "memory_ratio": mem_all["peak_mb"] / mem_pandas["frame_mb"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            results.append(run(rows, args.repeat, Path(tmp)))
    print(f"load average before the run: {load:.2f}; after: {os.getloadavg()[0]:.2f}")
    print()
    print(
        "| rows | file (MB) | pandas.read_csv (s) | load_sessions (s) | ratio | "
        "keep='declared' (s) | ratio | pandas frame (MB) | pandas peak (MB) | "
        "load_sessions peak (MB) | peak / frame |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['rows']:,} | {r['mb']:.1f} | {r['pandas_s']:.3f} | {r['load_all_s']:.3f} | "
            f"{r['ratio_all']:.2f}× | {r['load_declared_s']:.3f} | {r['ratio_declared']:.2f}× | "
            f"{r['pandas_frame_mb']:.1f} | {r['pandas_peak_mb']:.1f} | {r['load_peak_mb']:.1f} | "
            f"{r['memory_ratio']:.2f}× |"
        )


if __name__ == "__main__":
    main()
