"""Time of ``import alliancestats`` in a fresh interpreter (target: under 0.5 s).

Usage::

    python benchmarks/bench_import.py [--repeat 7]

Runs ``python -c "import alliancestats"`` and, for reference, ``python -c "import pandas"``
and a bare ``python -c "pass"`` in fresh processes, and prints the median wall time of each
(the interpreter's own start-up is in all three).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time


def median_time(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    print(f"load average: {os.getloadavg()} (cores: {os.cpu_count()})")
    bare = median_time("pass", args.repeat)
    ours = median_time("import alliancestats", args.repeat)
    pandas = median_time("import pandas", args.repeat)
    print(f"python -c pass:                 {bare:.3f} s")
    print(f"python -c 'import alliancestats': {ours:.3f} s (import itself {ours - bare:.3f} s)")
    print(f"python -c 'import pandas':        {pandas:.3f} s (for comparison)")


if __name__ == "__main__":
    main()
