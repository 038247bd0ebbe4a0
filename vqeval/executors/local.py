"""The default executor: this process, or a pool of worker processes.

Worker processes that die (killed by the kernel for memory, by a user, or by
a crash in native code) cost no rows: when the pool breaks, every video not
yet finished is scored again in a fresh pool (:data:`POOL_RETRIES` times);
after that the remaining videos are scored each in its own process, so only a
video that kills its worker every time becomes an error row. Each video is
tried at most ``POOL_RETRIES + 2`` times.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool

from vqeval.config import ScoreConfig
from vqeval.executors.base import Done, WorkItem, error_row, one_cpu, score_one, worker_died
from vqeval.results import VideoResult

#: Fresh pools tried for unfinished videos after a worker died, before the
#: remaining videos are scored one per process.
POOL_RETRIES = 1
#: Error text of a video whose worker process died every time it was tried.
WORKER_DIED = worker_died(POOL_RETRIES + 2)


def available_cpus() -> int:
    """CPU cores this process may run on (>= 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _pool_context() -> multiprocessing.context.BaseContext:
    """How to start workers. ``fork`` is fast (no re-imports) but can deadlock
    children of a process that runs threads (OpenMP, torch, progress monitors):
    use it only from a single-threaded process without torch, else start fresh
    processes (``forkserver``/``spawn``)."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and "torch" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context(), initializer=one_cpu)


def _score_in_worker(path: str, config: ScoreConfig) -> VideoResult:
    """What a worker process runs for one video (a module-level function so
    that it pickles by reference)."""
    return score_one(path, config)


class LocalExecutor:
    """Score in this process (``workers=1``) or in ``workers`` processes.

    Args:
        workers: worker processes; 1 = in this process, 0 = one per available
            CPU core; never more than the number of videos.
    """

    name = "local"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._first: ProcessPoolExecutor | None = None

    def start(self, n_items: int) -> None:
        """Start the worker pool (before any thread of the caller exists:
        forking a threaded process can deadlock the children)."""
        workers = self.workers if self.workers > 0 else available_cpus()
        self.workers = max(1, min(workers, n_items))
        if self.workers > 1:
            self._first = _new_pool(self.workers)

    def run(self, items: Sequence[WorkItem], config: ScoreConfig, done: Done) -> None:
        """Score ``items``; see the module docstring for what a dead worker costs."""
        if self._first is None:
            for it in items:
                done(it, _score_in_worker(it.path, config))
            return
        pool, self._first = self._first, None
        _score_in_pools(pool, list(items), config, self.workers, done)

    def close(self) -> None:
        """Shut down a pool that :meth:`run` never used."""
        if self._first is not None:
            self._first.shutdown(wait=False, cancel_futures=True)
            self._first = None


def _score_in_pools(
    pool: ProcessPoolExecutor,
    items: list[WorkItem],
    config: ScoreConfig,
    workers: int,
    done: Done,
) -> None:
    """Score ``items`` in ``pool``; after a worker death retry the unfinished
    ones in fresh pools (``POOL_RETRIES``), then one process per video."""
    pending = items
    for attempt in range(POOL_RETRIES + 1):
        if attempt:
            pool = _new_pool(min(workers, len(pending)))
        crashed: list[WorkItem] = []
        interrupted = True
        try:
            futs: dict[Future[VideoResult], WorkItem] = {}
            for it in pending:
                try:
                    futs[pool.submit(_score_in_worker, it.path, config)] = it
                except BrokenProcessPool:  # a worker already died
                    crashed.append(it)
            for fut in as_completed(futs):
                try:
                    r = fut.result()
                except BrokenProcessPool:
                    crashed.append(futs[fut])
                    continue
                except Exception as exc:  # e.g. a result that does not pickle
                    r = error_row(futs[fut].path, exc)
                done(futs[fut], r)
            interrupted = False
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
        if not crashed:
            return
        pending = sorted(crashed, key=lambda it: it.index)
    _score_isolated(pending, config, workers, done)


def _score_isolated(
    items: list[WorkItem],
    config: ScoreConfig,
    workers: int,
    done: Done,
) -> None:
    """Each video in its own one-worker pool (at most ``workers`` at a time):
    a video that kills its process takes no other video with it."""
    queue = list(items)
    running: dict[Future[VideoResult], tuple[WorkItem, ProcessPoolExecutor]] = {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                it = queue.pop(0)
                ex = _new_pool(1)
                running[ex.submit(_score_in_worker, it.path, config)] = (it, ex)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                it, ex = running.pop(fut)
                try:
                    r = fut.result()
                except BrokenProcessPool:
                    r = error_row(it.path, WORKER_DIED)
                except Exception as exc:
                    r = error_row(it.path, exc)
                ex.shutdown(wait=True)
                done(it, r)
    finally:
        for _, ex in running.values():
            ex.shutdown(wait=False, cancel_futures=True)
