"""Scoring many videos: discovery, sharding, resuming, the cache, progress,
and an executor that runs the per-video work (see :mod:`vqeval.executors`:
this machine's process pool by default, or a Ray cluster).

Worker processes that die cost no rows with any executor: their videos are
retried a bounded number of times in fresh processes, and a video that
kills its worker every time becomes one error row ("worker process died").
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from tqdm import tqdm

from vqeval.cache import ResultCache
from vqeval.config import ScoreConfig
from vqeval.discover import find_videos
from vqeval.executors import Executor, WorkItem, make_executor
from vqeval.executors.local import available_cpus
from vqeval.params import Params
from vqeval.pipeline import validate_config, with_params
from vqeval.remote import expand_urls, is_url
from vqeval.results import STATUS_ERROR, VideoResult
from vqeval.shards import check_shard, in_shard, normalized

__all__ = ["available_cpus", "find_inputs", "score_batch"]


def _size(path: str) -> int:
    """Bytes of a file or image folder (0 when unreadable or a URL): a proxy for work."""
    if is_url(path):
        return 0
    try:
        if os.path.isdir(path):
            return sum(e.stat().st_size for e in os.scandir(path) if e.is_file())
        return os.path.getsize(path)
    except OSError:
        return 0


#: Seconds between progress lines when stderr is not a terminal (CI logs).
PROGRESS_EVERY_S = 30.0


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


class _PeriodicLines:
    """Progress for logs: instead of a bar redrawn with carriage returns, one
    plain line ``vqeval: 12/40 videos (30 %), 1 min 5 s`` at most every
    :data:`PROGRESS_EVERY_S` seconds (none for a batch done sooner)."""

    def __init__(self, total: int, done: int = 0) -> None:
        self.total, self.done = total, done
        self.t0 = self.last = time.monotonic()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more finished videos; print a line when one is due."""
        self.done += n
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY_S or self.done >= self.total:
            return
        self.last = now
        m, sec = divmod(int(now - self.t0), 60)
        pct = 100 * self.done // max(self.total, 1)
        took = f"{m} min {sec} s" if m else f"{sec} s"
        print(f"vqeval: {self.done}/{self.total} videos ({pct} %), {took}", file=sys.stderr)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()

    def close(self) -> None:
        """Nothing to clear (the lines stay in the log)."""


def _as_path_list(
    paths: Sequence[str | os.PathLike[str]] | str | bytes | os.PathLike[str],
) -> list[str]:
    """``paths`` as a list of ``str`` paths; a single path (``str``, ``bytes``
    or path-like) is one path, not a sequence of characters."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    return [os.fsdecode(p) for p in paths]


def find_inputs(
    paths: Sequence[str], pattern: str | None = None
) -> tuple[list[str], list[tuple[str, str]]]:
    """Local paths (:func:`vqeval.discover.find_videos`) then URLs
    (:func:`vqeval.remote.expand_urls`): ``(videos, (path, reason) errors)``."""
    local = [p for p in paths if not is_url(p)]
    urls = [p for p in paths if is_url(p)]
    videos, missing = find_videos(local, pattern=pattern)
    if urls:
        found, bad = expand_urls(urls, pattern)
        videos += found
        missing += bad
    return videos, missing


#: Warning of a row whose file changed while it was scored (its result is not cached).
CHANGED_WHILE_SCORED = (
    "the file changed while it was scored: this result may mix two versions and is not cached"
)


def _store_if_unchanged(
    store: ResultCache, item: WorkItem, r: VideoResult, config: ScoreConfig
) -> VideoResult:
    """Cache ``r`` under ``item.key`` only if the video still has the bytes
    (and prompt) that key was computed from before scoring: the key is hashed
    again now. A file replaced or rewritten meanwhile would otherwise store
    its new content's result under the old content's key (a healthy clip
    later read back as a failed one). Such a row is returned with a warning
    and not cached."""
    try:
        unchanged = store.key(item.path, config) == item.key
    except OSError:  # removed or made unreadable meanwhile
        unchanged = False
    if unchanged:
        store.put(item.key, r)
        return r
    warnings = [*(r.analysis.get("warnings") or ()), CHANGED_WHILE_SCORED]
    return replace(r, analysis={**r.analysis, "warnings": warnings})


def score_batch(
    paths: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    config: ScoreConfig | None = None,
    *,
    workers: int = 1,
    cache: bool | ResultCache = True,
    pattern: str | None = None,
    progress: bool | None = None,
    on_result: Callable[[VideoResult], None] | None = None,
    executor: str | Executor = "local",
    shard: tuple[int, int] | None = None,
    resume: Mapping[str, VideoResult] | None = None,
    params: Params | Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> list[VideoResult]:
    """Score every video found under ``paths``.

    Args:
        paths: files and folders (folders are walked recursively, sorted; a
            folder of numbered images is one video), and URLs or object-store
            paths read through fsspec (``s3://bucket/clips/``, see
            :mod:`vqeval.remote`); a single path is accepted too
            (``score_batch("clip.mp4")``).
        config: analysis configuration; ``None`` = defaults.
        workers: worker processes of the local executor; 1 = in this
            process, 0 = one per available CPU core (at most one per video
            to score). With ``executor="ray"``: CPUs of the local cluster.
        cache: ``True`` = the default on-disk cache, ``False`` = none, or a
            :class:`ResultCache`. URLs are not cached (their bytes are only
            read on the workers).
        pattern: glob on file names (e.g. ``"*.mp4"``).
        progress: show a progress bar on stderr; ``None`` = a bar on a
            terminal, else (CI logs) a plain line at most every
            :data:`PROGRESS_EVERY_S` seconds; ``False`` = nothing.
        on_result: called with each result as it completes (rows from the
            cache and from ``resume`` first).
        executor: ``"local"`` (process pool), ``"ray"`` (a local Ray
            cluster) or an :class:`~vqeval.executors.Executor`, e.g.
            ``RayExecutor("ray://head:10001")``. A worker that dies is
            replaced and its videos are retried (bounded).
        shard: ``(i, n)`` = score only the videos of shard ``i`` of ``n``
            (1-based; see :mod:`vqeval.shards`); ``None`` = all.
        resume: OK rows of an earlier run by normalised path (see
            :func:`vqeval.resume.load_resume`); those videos are not scored
            again and their rows are returned as they were.
        params: decision parameters (:mod:`vqeval.params`: a tree, a nested
            mapping or a TOML file path); replaces ``config.params`` when
            given (and so takes part in the cache key).

    Returns:
        One :class:`VideoResult` per video (and one error row per input path
        that does not exist), in discovery order. Failures never raise.

    Raises:
        ConfigError: invalid configuration or ``shard``, or the executor cannot start
            (e.g. ray missing, cluster unreachable).
    """
    config = with_params(config or ScoreConfig(), params)
    validate_config(config)  # usage errors before any work
    if shard is not None:
        shard = check_shard(shard)
    videos, missing = find_inputs(_as_path_list(paths), pattern)
    if shard is not None:
        videos = [v for v in videos if in_shard(v, shard)]
        missing = [(p, m) for p, m in missing if in_shard(p, shard)]
    store = cache if isinstance(cache, ResultCache) else (ResultCache() if cache else None)
    runner = make_executor(executor, workers=workers) if isinstance(executor, str) else executor

    results: dict[int, VideoResult] = {}
    todo: list[WorkItem] = []
    for i, v in enumerate(videos):
        kept = resume.get(normalized(v)) if resume else None
        if kept is not None:
            results[i] = kept if kept.path == v else replace(kept, path=v)
            continue
        key = None
        if store is not None and not is_url(v):
            try:
                key = store.key(v, config)
            except OSError:
                key = None  # unreadable or not a regular file: scoring says why
            hit = store.get(key, v) if key else None
            if hit is not None:
                results[i] = hit
                continue
        todo.append(WorkItem(i, v, key))

    # largest files first: the last worker to finish waits less
    order = sorted(todo, key=lambda item: _size(item.path), reverse=True)
    try:
        # Start workers before any thread of ours exists (the progress bar's
        # monitor): forking a threaded process can deadlock the children.
        if order:  # nothing to score (all cached or resumed): no workers, no cluster
            runner.start(len(order))
        if progress is None and not _stderr_is_terminal():
            bar: tqdm | _PeriodicLines = _PeriodicLines(len(videos), len(results))
        else:
            bar = tqdm(
                total=len(videos),
                initial=len(results),
                unit="video",
                desc="vqeval",
                disable=not progress,
                leave=False,
            )

        def done(item: WorkItem, r: VideoResult) -> None:
            if store is not None and item.key is not None and r.ok:
                r = _store_if_unchanged(store, item, r, config)
            results[item.index] = r
            bar.update(1)
            if on_result is not None:
                on_result(r)

        if on_result is not None:
            for i in sorted(results):
                on_result(results[i])
        try:
            if order:
                runner.run(order, config, done)
        finally:
            bar.close()
    finally:
        runner.close()

    out = [results[i] for i in range(len(videos))]
    out += [VideoResult(path=p, status=STATUS_ERROR, error=msg) for p, msg in missing]
    return out
