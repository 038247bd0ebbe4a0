"""Scoring many videos: discovery, worker processes, progress and the cache."""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

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


def score_batch(
    paths: Sequence[str | os.PathLike[str]],
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
            folder of numbered images is one video).
        config: analysis configuration; ``None`` = defaults.
        workers: worker processes; 1 = in this process, 0 = one per available
            CPU core (at most one per video to score).
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
    videos, missing = find_videos([os.fspath(p) for p in paths], pattern=pattern)
    store = cache if isinstance(cache, ResultCache) else (ResultCache() if cache else None)

    results: dict[int, VideoResult] = {}
    todo: list[tuple[int, str, str | None]] = []
    for i, v in enumerate(videos):
        key = None
        if store is not None:
            try:
                key = store.key(v, config)
            except OSError:
                key = None  # unreadable: let scoring produce the error row
            hit = store.get(key, v) if key else None
            if hit is not None:
                results[i] = hit
                continue
        todo.append((i, v, key))

    if workers <= 0:
        workers = available_cpus()
    # Start worker processes before any thread of ours exists (the progress
    # bar's monitor): forking a threaded process can deadlock the children.
    pool, futs = None, {}
    if workers > 1 and len(todo) > 1:
        pool = ProcessPoolExecutor(
            max_workers=min(workers, len(todo)),
            mp_context=_pool_context(),
            initializer=_worker_init,
        )
        # largest files first: the last worker to finish waits less
        order = sorted(todo, key=lambda item: _size(item[1]), reverse=True)
        futs = {pool.submit(score_video, v, config): (i, v, key) for i, v, key in order}

    bar = tqdm(
        total=len(videos),
        initial=len(results),
        unit="video",
        desc="vqeval",
        disable=(not progress) if progress is not None else None,
        leave=False,
    )

    def done(i: int, key: str | None, r: VideoResult) -> None:
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
        if pool is None:
            for i, v, key in todo:
                done(i, key, score_video(v, config))
        else:
            for fut in as_completed(futs):
                i, v, key = futs[fut]
                try:
                    r = fut.result()
                except Exception as exc:  # a worker died (e.g. killed for memory)
                    r = VideoResult(path=v, status=STATUS_ERROR, error=_one_line(exc))
                done(i, key, r)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)

    out = [results[i] for i in range(len(videos))]
    out += [VideoResult(path=p, status=STATUS_ERROR, error=msg) for p, msg in missing]
    return out
