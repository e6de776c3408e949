"""Where simulation replicates run: in this process, in local processes or on Dask.

Work is cut into chunks of seeds; results come back in chunk order whatever the order of
completion, and every replicate's random numbers come from its own seed, so all backends and
numbers of workers give identical results. Progress bars (tqdm) count finished replicates and
are off when the output is not a terminal unless asked for.

Local processes (``backend="processes"``, the default) are forked from this process where the
platform allows it (Linux): the workers then inherit the fitted templates and the compiled
criterion kernels, and a task carries only its seeds. A worker started by joblib's loky
instead imports the package, unpickles the template (about 0.9 MB for 3,000 rows) and
compiles the kernels again before its first replicate: on the 3,000-row model of the power
benchmark (``benchmarks/bench_power.py``) that cost about 30 CPU seconds per worker, more
than the 1,000 refits themselves (about 22 CPU seconds), and two loky workers used 2.5 times
the CPU time of two forked ones. Elsewhere (macOS, Windows) ``"processes"`` uses joblib's
loky, which can also be chosen explicitly (``backend="loky"``).

Examples
--------
>>> from alliancestats.power.backends import chunk_seeds
>>> [len(c) for c in chunk_seeds(list(range(10)), 4)]
[3, 3, 2, 2]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from tqdm import tqdm

from alliancestats.errors import ParameterError
from alliancestats.power.engine import Template, run_chunk

__all__ = ["BACKENDS", "chunk_seeds", "fork_available", "run_jobs"]

BACKENDS = ("serial", "processes", "loky", "dask")

#: chunks per worker and design point: small enough for even load on a shared machine
#: (a late chunk costs a few seconds at most), large enough that scheduling is negligible
CHUNKS_PER_WORKER = 8

#: tasks of the running forked pools by run; workers inherit them instead of unpickling them
FORKED_TASKS: dict[int, list[tuple[int, Template, list[int]]]] = {}


def chunk_seeds(seeds: list[int], n_chunks: int) -> list[list[int]]:
    """Split ``seeds`` into ``n_chunks`` contiguous, near-equal chunks (none empty)."""
    n_chunks = max(1, min(n_chunks, len(seeds)))
    size, extra = divmod(len(seeds), n_chunks)
    out, start = [], 0
    for i in range(n_chunks):
        stop = start + size + (i < extra)
        out.append(seeds[start:stop])
        start = stop
    return out


def fork_available() -> bool:
    """Whether local worker processes are forked (Linux) rather than started by loky."""
    return sys.platform.startswith("linux") and "fork" in multiprocessing.get_all_start_methods()


def _n_workers(n_jobs: int | None) -> int:
    if n_jobs is None or n_jobs == -1:
        return os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ParameterError(f"n_jobs must be a positive integer, -1 or None, got {n_jobs!r}")
    return n_jobs


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


def run_jobs(jobs: list[tuple[Template, list[int]]], *, backend: Any = "processes",
             n_jobs: int | None = None, progress: bool | None = None) -> list[list[dict]]:
    """Run every ``(template, seeds)`` job; one list of replicate records per job."""
    workers = _n_workers(n_jobs)
    if not (_is_dask_client(backend) or backend in BACKENDS):
        raise ParameterError(
            f"backend must be one of {BACKENDS} or a dask.distributed.Client, got {backend!r}")
    local = backend in ("serial", "processes", "loky")
    if local and (backend == "serial" or workers == 1):
        backend, per_job = "serial", 1
    else:
        per_job = CHUNKS_PER_WORKER * workers
    if backend == "processes" and not fork_available():
        backend = "loky"
    tasks = [(j, t, c) for j, (t, seeds) in enumerate(jobs) for c in chunk_seeds(seeds, per_job)]
    bar = tqdm(total=sum(len(s) for _, s in jobs),
               disable=(None if progress is None else not progress),
               desc="replicates", unit="fit")
    chunks: list[list[dict] | None] = [None] * len(tasks)
    run = {"serial": _run_serial, "processes": _run_forked, "loky": _run_joblib}.get(
        backend, _run_dask)
    try:
        run(tasks, backend, workers, chunks, bar)
    finally:
        bar.close()
    results: list[list[dict]] = [[] for _ in jobs]
    for (j, _, _), recs in zip(tasks, chunks, strict=True):
        results[j].extend(recs)
    return results


def _run_serial(tasks: list, backend: Any, workers: int, chunks: list, bar: Any) -> None:
    for k, (_, t, c) in enumerate(tasks):
        chunks[k] = run_chunk(t, c)
        bar.update(len(chunks[k]))


def _forked_task(run: int, k: int) -> list[dict]:
    _, t, c = FORKED_TASKS[run][k]
    return run_chunk(t, c)


def _run_forked(tasks: list, backend: Any, workers: int, chunks: list, bar: Any) -> None:
    run = id(tasks)
    FORKED_TASKS[run] = tasks
    try:
        with warnings.catch_warnings():
            # Python >= 3.12 warns that forking a process with threads (here: BLAS's idle
            # pool) may deadlock; the workers only run run_chunk, which takes no lock that
            # such a thread could hold, and BLAS re-initialises itself after a fork
            warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks",
                                    category=DeprecationWarning)
            with ProcessPoolExecutor(
                    max_workers=min(workers, len(tasks)),
                    mp_context=multiprocessing.get_context("fork")) as pool:
                futures = {pool.submit(_forked_task, run, k): k for k in range(len(tasks))}
                for fut in as_completed(futures):
                    chunks[futures[fut]] = fut.result()
                    bar.update(len(chunks[futures[fut]]))
    finally:
        del FORKED_TASKS[run]


def _run_joblib(tasks: list, backend: Any, workers: int, chunks: list, bar: Any) -> None:
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator")
    for k, recs in enumerate(parallel(delayed(run_chunk)(t, c) for _, t, c in tasks)):
        chunks[k] = recs
        bar.update(len(recs))


def _run_dask(tasks: list, backend: Any, workers: int, chunks: list, bar: Any) -> None:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ParameterError(
            "backend='dask' needs dask.distributed: pip install 'alliancestats[dask]'") from exc
    own = None
    client = backend if _is_dask_client(backend) else None
    if client is None:
        own = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
        client = Client(own)
    try:
        templates = {id(t): client.scatter(t, broadcast=True) for _, t, _ in tasks}
        futures = [client.submit(run_chunk, templates[id(t)], c, pure=False)
                   for _, t, c in tasks]
        position = {f.key: i for i, f in enumerate(futures)}
        for fut in dask_completed(futures):
            chunks[position[fut.key]] = fut.result()
            bar.update(len(chunks[position[fut.key]]))
    finally:
        if own is not None:
            client.close()
            own.close()
