"""Speed and memory of ``load_sessions`` against ``pandas.read_csv`` on the same CSV file.

Usage::

    python benchmarks/bench_load.py                  # 100,000 rows, 7 repetitions
    python benchmarks/bench_load.py --rows 100000 1000000 --repeat 5
    python benchmarks/bench_load.py --folder /tmp/bench_load   # keep the files between runs

For each size the script simulates a session file with
:func:`alliancestats.simulate.simulate_sessions` (16 columns: therapist and patient IDs,
session, arm, modality, attended, date, days, alliance, pain, function, adhered, exercise
counts, planned sessions, dropout flag), writes it as CSV and times, in the same run:

* ``pandas.read_csv(path)`` with its defaults (type inference, no checks);
* ``load_sessions(path, ...)`` with validation on (strict mode, the default warnings),
  mapping patient, therapist, session, alliance, three outcomes and two covariates; once
  keeping the undeclared columns (the default ``keep="all"``) and once with
  ``keep="declared"``.

The three readers take turns (pandas, keep="all", keep="declared", pandas, ...) for
``--repeat`` rounds after one warm-up each, so that a change in the machine's load affects
them alike; the table gives the median wall-clock time of each and the ratio of the medians,
and the same for CPU time (user + system time of the process, which other jobs on a shared
machine disturb less than wall-clock time). ``load_sessions`` runs on one thread; pandas'
reader does much of its work on helper threads, whose CPU time the process time includes.

Memory is measured in a fresh subprocess per reader: the peak resident memory added by the
call, after a warm-up on a 2,000-row file of the same shape (lazy imports, thread pools),
next to the size of the frames (``memory_usage(deep=True)``) of pandas and of
``load_sessions``; the high-water mark is reset through ``/proc/self/clear_refs`` just before
the call (Linux). It prints one Markdown table. State the machine and its load when quoting
the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
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

    path = folder / f"sessions_{rows}.csv"
    if path.exists():
        return path
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
    data.iloc[:rows].to_csv(path, index=False)
    return path


def _cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _interleaved(calls: dict[str, Callable[[], object]], repeat: int) -> dict[str, tuple]:
    """Median (wall, CPU) seconds of each call, the calls taking turns ``repeat`` times."""
    for call in calls.values():
        call()  # warm-up: imports, page cache
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    for _ in range(repeat):
        for name, call in calls.items():
            cpu, start = _cpu_seconds(), time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start, _cpu_seconds() - cpu))
    return {
        name: tuple(statistics.median(t[k] for t in got) for k in (0, 1))
        for name, got in times.items()
    }


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
        t = _interleaved(
            {
                "pandas": lambda: pd.read_csv(path),
                "all": lambda: load_sessions(path, **MAPPING),
                "declared": lambda: load_sessions(path, keep="declared", **MAPPING),
            },
            repeat,
        )
    small = make_file(2_000, folder)
    mem_pandas = memory(path, small, "pandas")
    mem_all = memory(path, small, "all")
    return {
        "rows": rows,
        "mb": path.stat().st_size / 2**20,
        **{f"{k}_{w}": t[k][i] for k in t for i, w in enumerate(("wall", "cpu"))},
        "pandas_frame_mb": mem_pandas["frame_mb"],
        "pandas_peak_mb": mem_pandas["peak_mb"],
        "load_frame_mb": mem_all["frame_mb"],
        "load_peak_mb": mem_all["peak_mb"],
    }


def _row(r: dict[str, float]) -> str:
    def ratio(kind: str, clock: str) -> str:
        return f"{r[f'{kind}_{clock}'] / r[f'pandas_{clock}']:.2f}×"

    cells = [f"{r['rows']:,}", f"{r['mb']:.1f}"]
    for clock in ("wall", "cpu"):
        cells += [f"{r[f'pandas_{clock}']:.3f}", f"{r[f'all_{clock}']:.3f}"]
        cells += [ratio("all", clock), ratio("declared", clock)]
    cells += [f"{r[k]:.1f}" for k in ("pandas_frame_mb", "load_frame_mb", "load_peak_mb")]
    cells += [
        f"{r['load_peak_mb'] / r['load_frame_mb']:.2f}×",
        f"{r['load_peak_mb'] / r['pandas_frame_mb']:.2f}×",
    ]
    return "| " + " | ".join(cells) + " |"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000])
    parser.add_argument("--repeat", type=int, default=7, help="rounds of the three readers")
    parser.add_argument("--folder", help="where to write (and reuse) the CSV files")
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.folder or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        for rows in args.rows:
            results.append(run(rows, args.repeat, folder))
    print(f"load average before the run: {load:.2f}; after: {os.getloadavg()[0]:.2f}")
    print()
    print(
        "| rows | file (MB) | pandas wall (s) | load_sessions wall (s) | ratio | "
        "keep='declared' ratio | pandas CPU (s) | load_sessions CPU (s) | ratio | "
        "keep='declared' ratio | pandas frame (MB) | load_sessions frame (MB) | "
        "load_sessions peak (MB) | peak / own frame | peak / pandas frame |"
    )
    print("|---:" * 15 + "|")
    for r in results:
        print(_row(r))


if __name__ == "__main__":
    main()
