"""Scoring many videos: discovery, worker processes, progress and the cache.

Worker processes that die (killed by the kernel for memory, by a user, or by
a crash in native code) cost no rows: when the pool breaks, every video not
yet finished is scored again in a fresh pool; if that pool breaks too, the
remaining videos are scored each in its own process, so only a video that
kills its worker every time becomes an error row ("worker process died").
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from concurrent.futures.process import BrokenProcessPool

from tqdm import tqdm

from vqeval.cache import ResultCache
from vqeval.config import ScoreConfig
from vqeval.discover import find_videos
from vqeval.pipeline import _one_line, score_video, validate_config
from vqeval.results import STATUS_ERROR, VideoResult


def _worker_init() -> None:
    """Keep each worker on one thread so ``-j N`` uses about N cores."""
    import cv2

    cv2.setNumThreads(1)


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


def _size(path: str) -> int:
    """Bytes of a file or image folder (0 when unreadable): a proxy for work."""
    try:
        if os.path.isdir(path):
            return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
        return os.path.getsize(path)
    except OSError:
        return 0


#: Fresh pools tried for unfinished videos after a worker died, before the
#: remaining videos are scored one per process.
POOL_RETRIES = 1
#: Error text of a video whose worker process died every time it was tried.
WORKER_DIED = (
    "worker process died while scoring this video (killed by a signal, out of "
    "memory, or a crash in native code); it was retried in a fresh process"
)

_Item = tuple[int, str, "str | None"]


def _score_in_worker(path: str, config: ScoreConfig) -> VideoResult:
    """What a worker process runs for one video (a module-level function so
    that it pickles by reference)."""
    return score_video(path, config)


def _as_path_list(
    paths: Sequence[str | os.PathLike[str]] | str | bytes | os.PathLike[str],
) -> list[str]:
    """``paths`` as a list of ``str`` paths; a single path (``str``, ``bytes``
    or path-like) is one path, not a sequence of characters."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    return [os.fsdecode(p) for p in paths]


def score_batch(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    config: ScoreConfig | None = None,
    *,
    workers: int = 1,
    cache: bool | ResultCache = True,
    pattern: str | None = None,
    progress: bool | None = None,
    on_result: Callable[[VideoResult], None] | None = None,
) -> list[VideoResult]:
    """Score every video found under ``paths``.

    Args:
        paths: files and folders (folders are walked recursively, sorted; a
            folder of numbered images is one video); a single path is
            accepted too (``score_batch("clip.mp4")``).
        config: analysis configuration; ``None`` = defaults.
        workers: worker processes; 1 = in this process, 0 = one per available
            CPU core (at most one per video to score). A worker that dies is
            replaced and its videos are retried (see the module docstring).
        cache: ``True`` = the default on-disk cache, ``False`` = none, or a
            :class:`ResultCache`.
        pattern: glob on file names (e.g. ``"*.mp4"``).
        progress: show a progress bar on stderr (``None`` = only on a terminal).
        on_result: called with each result as it completes.

    Returns:
        One :class:`VideoResult` per video (and one error row per input path
        that does not exist), in discovery order. Failures never raise.
    """
    config = config or ScoreConfig()
    validate_config(config)  # usage errors before any work
    videos, missing = find_videos(_as_path_list(paths), pattern=pattern)
    store = cache if isinstance(cache, ResultCache) else (ResultCache() if cache else None)

    results: dict[int, VideoResult] = {}
    todo: list[_Item] = []
    for i, v in enumerate(videos):
        key = None
        if store is not None:
            try:
                key = store.key(v, config)
            except OSError:
                key = None  # unreadable or not a regular file: scoring says why
            hit = store.get(key, v) if key else None
            if hit is not None:
                results[i] = hit
                continue
        todo.append((i, v, key))

    if workers <= 0:
        workers = available_cpus()
    workers = min(workers, len(todo))
    # largest files first: the last worker to finish waits less
    order = sorted(todo, key=lambda item: _size(item[1]), reverse=True)
    # Start worker processes before any thread of ours exists (the progress
    # bar's monitor): forking a threaded process can deadlock the children.
    first = _new_pool(workers) if workers > 1 else None
    bar = tqdm(
        total=len(videos),
        initial=len(results),
        unit="video",
        desc="vqeval",
        disable=(not progress) if progress is not None else None,
        leave=False,
    )

    def done(item: _Item, r: VideoResult) -> None:
        i, _, key = item
        results[i] = r
        if store is not None and key is not None:
            store.put(key, r)
        bar.update(1)
        if on_result is not None:
            on_result(r)

    if on_result is not None:
        for i in sorted(results):
            on_result(results[i])
    try:
        if first is None:
            for item in todo:
                done(item, score_video(item[1], config))
        else:
            _score_in_pools(first, order, config, workers, done)
    finally:
        bar.close()

    out = [results[i] for i in range(len(videos))]
    out += [VideoResult(path=p, status=STATUS_ERROR, error=msg) for p, msg in missing]
    return out


def _new_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=_pool_context(), initializer=_worker_init
    )


def _error_row(path: str, exc: BaseException) -> VideoResult:
    return VideoResult(path=path, status=STATUS_ERROR, error=_one_line(exc))


def _score_in_pools(
    pool: ProcessPoolExecutor,
    items: list[_Item],
    config: ScoreConfig,
    workers: int,
    done: Callable[[_Item, VideoResult], None],
) -> None:
    """Score ``items`` in ``pool``; after a worker death retry the unfinished
    ones in fresh pools (``POOL_RETRIES``), then one process per video."""
    pending = items
    for attempt in range(POOL_RETRIES + 1):
        if attempt:
            pool = _new_pool(min(workers, len(pending)))
        crashed: list[_Item] = []
        interrupted = True
        try:
            futs: dict[Future[VideoResult], _Item] = {}
            for it in pending:
                try:
                    futs[pool.submit(_score_in_worker, it[1], config)] = it
                except BrokenProcessPool:  # a worker already died
                    crashed.append(it)
            for fut in as_completed(futs):
                try:
                    r = fut.result()
                except BrokenProcessPool:
                    crashed.append(futs[fut])
                    continue
                except Exception as exc:  # e.g. a result that does not pickle
                    r = _error_row(futs[fut][1], exc)
                done(futs[fut], r)
            interrupted = False
        finally:
            pool.shutdown(wait=not interrupted, cancel_futures=True)
        if not crashed:
            return
        pending = sorted(crashed, key=lambda it: it[0])
    _score_isolated(pending, config, workers, done)


def _score_isolated(
    items: list[_Item],
    config: ScoreConfig,
    workers: int,
    done: Callable[[_Item, VideoResult], None],
) -> None:
    """Each video in its own one-worker pool (at most ``workers`` at a time):
    a video that kills its process takes no other video with it."""
    queue = list(items)
    running: dict[Future[VideoResult], tuple[_Item, ProcessPoolExecutor]] = {}
    try:
        while queue or running:
            while queue and len(running) < workers:
                it = queue.pop(0)
                ex = _new_pool(1)
                running[ex.submit(_score_in_worker, it[1], config)] = (it, ex)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                it, ex = running.pop(fut)
                try:
                    r = fut.result()
                except BrokenProcessPool:
                    r = VideoResult(path=it[1], status=STATUS_ERROR, error=WORKER_DIED)
                except Exception as exc:
                    r = _error_row(it[1], exc)
                ex.shutdown(wait=True)
                done(it, r)
    finally:
        for _, ex in running.values():
            ex.shutdown(wait=False, cancel_futures=True)
