"""VQeval: scores long AI-generated videos for loops, freezes, motion decay and
VBench-style quality dimensions, without rewarding the failures.

Python API::

    import vqeval
    r = vqeval.score_video("clip.mp4")
    print(r.composite, r.verdict, r.flags)
    results = vqeval.score_batch(["a.mp4", "videos/"], workers=2)
"""

from vqeval._version import __version__
from vqeval.config import ScoreConfig
from vqeval.results import (
    DimensionScore,
    VideoInfo,
    VideoReadError,
    VideoResult,
    VQevalError,
)


def score_video(path, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """Score one video; see :func:`vqeval.pipeline.score_video`."""
    from vqeval.pipeline import score_video as _score_video

    return _score_video(path, config, **kwargs)


def score_batch(paths, config=None, **kwargs):  # type: ignore[no-untyped-def]
    """Score many videos; see :func:`vqeval.batch.score_batch`."""
    from vqeval.batch import score_batch as _score_batch

    return _score_batch(paths, config, **kwargs)


__all__ = [
    "DimensionScore",
    "ScoreConfig",
    "VQevalError",
    "VideoInfo",
    "VideoReadError",
    "VideoResult",
    "__version__",
    "score_batch",
    "score_video",
]
