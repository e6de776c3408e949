"""Where simulation replicates run: in this process, in local processes (joblib) or on Dask.

Work is cut into chunks of seeds; a chunk carries its design point's :class:`Template`, so
each worker builds nothing twice. Results come back in chunk order whatever the order of
completion, and every replicate's random numbers come from its own seed, so all backends and
numbers of workers give identical results. Progress bars (tqdm) count finished replicates and
are off when the output is not a terminal unless asked for.

Examples
--------
>>> from alliancestats.power.backends import chunk_seeds
>>> [len(c) for c in chunk_seeds(list(range(10)), 4)]
[3, 3, 2, 2]
"""

from __future__ import annotations

import os
from typing import Any

from tqdm import tqdm

from alliancestats.errors import ParameterError
from alliancestats.power.engine import Template, run_chunk

__all__ = ["BACKENDS", "chunk_seeds", "run_jobs"]

BACKENDS = ("serial", "loky", "dask")


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


def _n_workers(n_jobs: int | None) -> int:
    if n_jobs is None or n_jobs == -1:
        return os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs < 1:
        raise ParameterError(f"n_jobs must be a positive integer, -1 or None, got {n_jobs!r}")
    return n_jobs


def _is_dask_client(obj: Any) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")


def run_jobs(jobs: list[tuple[Template, list[int]]], *, backend: Any = "loky",
             n_jobs: int | None = None, progress: bool | None = None) -> list[list[dict]]:
    """Run every ``(template, seeds)`` job; one list of replicate records per job."""
    workers = _n_workers(n_jobs)
    if not (_is_dask_client(backend) or backend in BACKENDS):
        raise ParameterError(
            f"backend must be one of {BACKENDS} or a dask.distributed.Client, got {backend!r}")
    per_job = 4 * workers if backend != "serial" else 1
    tasks = [(j, t, c) for j, (t, seeds) in enumerate(jobs) for c in chunk_seeds(seeds, per_job)]
    total = sum(len(s) for _, s in jobs)
    bar = tqdm(total=total, disable=(None if progress is None else not progress),
               desc="replicates", unit="fit")
    results: list[list[dict]] = [[] for _ in jobs]
    try:
        if backend == "serial" or (backend == "loky" and workers == 1):
            done = ((j, run_chunk(t, c)) for j, t, c in tasks)
            for j, recs in done:
                results[j].extend(recs)
                bar.update(len(recs))
        elif backend == "loky":
            _run_joblib(tasks, workers, results, bar)
        else:
            _run_dask(tasks, backend, workers, results, bar)
    finally:
        bar.close()
    return results


def _run_joblib(tasks: list, workers: int, results: list, bar: Any) -> None:
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator")
    for (j, _, _), recs in zip(tasks, parallel(delayed(run_chunk)(t, c) for _, t, c in tasks),
                               strict=True):
        results[j].extend(recs)
        bar.update(len(recs))


def _run_dask(tasks: list, backend: Any, workers: int, results: list, bar: Any) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
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
        chunks: list[list[dict] | None] = [None] * len(futures)
        for fut in as_completed(futures):
            recs = fut.result()
            chunks[position[fut.key]] = recs
            bar.update(len(recs))
        for (j, _, _), recs in zip(tasks, chunks, strict=True):
            results[j].extend(recs)
    finally:
        if own is not None:
            client.close()
            own.close()
