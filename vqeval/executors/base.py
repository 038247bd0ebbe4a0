"""What every executor shares: the work item, the per-video entry point that
runs inside a worker, and the interface the batch runner drives."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple, Protocol

from vqeval.config import ScoreConfig
from vqeval.pipeline import _one_line, score_video
from vqeval.results import STATUS_ERROR, VideoResult


class WorkItem(NamedTuple):
    """One video to score.

    Attributes:
        index: position of the video in discovery order (0-based).
        path: the path or URL as the user spelled it (reported in the row).
        key: result-cache key, ``None`` when the video is not cached.
    """

    index: int
    path: str
    key: str | None


def one_cpu() -> None:
    """Make this process a one-CPU worker: OpenCV and FFmpeg decoding on one
    thread each, so that a pool or cluster of N workers uses about N cores (and
    its throughput per worker is that of one core)."""
    import cv2

    from vqeval.video import set_decode_threads

    cv2.setNumThreads(1)
    set_decode_threads(1)


#: Called by an executor once per item, in order of completion.
Done = Callable[[WorkItem, VideoResult], None]


def score_one(path: str, config: ScoreConfig) -> VideoResult:
    """Score one video inside a worker: a local file or folder, or a URL /
    object-store path read through fsspec (see :mod:`vqeval.remote`).
    Never raises for a bad video (one error row)."""
    from vqeval.remote import is_url, score_url

    if is_url(path):
        return score_url(path, config)
    return score_video(path, config)


def error_row(path: str, exc: BaseException | str) -> VideoResult:
    """An error row for ``path``: ``exc`` as one line (at most 300 characters)."""
    text = exc if isinstance(exc, str) else _one_line(exc)
    return VideoResult(path=path, status=STATUS_ERROR, error=text)


def worker_died(attempts: int) -> str:
    """Error text of a video whose worker died on each of ``attempts`` tries."""
    return (
        "worker process died while scoring this video (killed by a signal, out of "
        "memory, a crash in native code, or its node was lost); "
        f"tried {attempts} time(s), each in a fresh process"
    )


class Executor(Protocol):
    """Where videos are scored. The batch runner calls :meth:`start` (before
    its progress-bar thread exists), then :meth:`run` once, then :meth:`close`
    (always, also after an error or Ctrl-C)."""

    #: short name for messages (``"local"``, ``"ray"``)
    name: str

    def start(self, n_items: int) -> None:
        """Acquire workers for ``n_items`` videos (>= 0).

        Raises:
            ConfigError: the executor cannot run (package missing, cluster
                unreachable); a usage error, exit code 2 in the CLI.
        """

    def run(self, items: Sequence[WorkItem], config: ScoreConfig, done: Done) -> None:
        """Score ``items`` (in the given order of priority) and call ``done``
        for each one exactly once, in order of completion. A video whose
        worker dies is retried a bounded number of times and then reported
        as an error row; other videos continue."""

    def close(self) -> None:
        """Release workers (idempotent)."""
