"""Scoring one video: decode -> analysis context -> dimensions -> summary."""

from __future__ import annotations

import base64
import functools
import os
import time
from pathlib import Path

import cv2
import numpy as np

from vqeval.analysis import Analysis
from vqeval.config import ScoreConfig
from vqeval.dimensions import Dimension, resolve
from vqeval.results import (
    STATUS_ERROR,
    DimensionScore,
    VideoReadError,
    VideoResult,
    VQevalError,
)
from vqeval.scoring import summarize
from vqeval.video import read_clip

#: Thumbnails kept per video for reports (evenly spaced), long side in pixels.
THUMBNAILS = 4
THUMBNAIL_SIZE = 120
#: Fewest analysis frames a video must have to be scored.
MIN_FRAMES = 2


def _one_line(exc: BaseException) -> str:
    """A single-line description of ``exc`` (no newlines, bounded length)."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, VQevalError):
        msg = f"{type(exc).__name__}: {msg}"
    return msg[:300]


def _thumbnails(frames: np.ndarray, n: int = THUMBNAILS) -> list[str]:
    """JPEG data URIs of ``n`` evenly spaced frames (RGB uint8)."""
    if len(frames) == 0:
        return []
    idx = np.unique(np.linspace(0, len(frames) - 1, num=min(n, len(frames))).round().astype(int))
    out = []
    for i in idx:
        f = frames[i]
        h, w = f.shape[:2]
        s = THUMBNAIL_SIZE / max(h, w)
        if s < 1:
            f = cv2.resize(
                f, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA
            )
        ok, buf = cv2.imencode(
            ".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
        )
        if ok:
            out.append("data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode())
    return out


def validate_config(config: ScoreConfig) -> list[Dimension]:
    """Check a configuration before any video is decoded (usage errors, exit 2);
    returns the dimensions it selects.

    Raises:
        ConfigError: unknown dimension, unknown flow or feature backbone, or a
            learned backbone whose local weights are missing.
    """
    from metrics.features import get_backbone
    from vqeval.dimensions.motion import validate_flow

    dims = resolve(config.dimensions)
    validate_flow(config)
    get_backbone(config.backbone, config.weights_dir)
    return dims


def score_video(
    path: str | os.PathLike[str],
    config: ScoreConfig | None = None,
    *,
    raise_errors: bool = False,
) -> VideoResult:
    """Score one video file or image folder.

    Args:
        path: a video file (mp4, mov, mkv, webm, avi, gif) or a folder of
            numbered images.
        config: analysis configuration; ``None`` = defaults.
        raise_errors: re-raise instead of returning a ``status="error"`` row.

    Returns:
        A :class:`VideoResult`; on failure ``status="error"`` with a one-line
        ``error`` (unless ``raise_errors``).

    Raises:
        ConfigError: for an invalid configuration (see :func:`validate_config`),
            whatever ``raise_errors`` is: a usage error, not a property of the video.
    """
    config = config or ScoreConfig()
    dims = validate_config(config)  # usage errors surface before any decoding
    t0 = time.perf_counter()
    spath = os.fspath(path)
    info = None
    try:
        read = functools.partial(
            read_clip,
            Path(spath),
            size=config.analysis_size,
            max_frames=config.max_frames,
            stills=config.stills,
            still_size=config.still_size,
        )
        clip = read(max_fps=config.max_fps)
        if len(clip.frames) < MIN_FRAMES and clip.info.frame_count >= MIN_FRAMES:
            clip = read(max_fps=None)  # a clip shorter than one capped frame interval
        info = clip.info
        if len(clip.frames) < MIN_FRAMES:
            raise VideoReadError(
                f"only {len(clip.frames)} frame(s) to analyse; scoring needs at least "
                f"{MIN_FRAMES} (a still image is not a video)"
            )
        analysis = Analysis(clip, config)
        scores: dict[str, DimensionScore] = {}
        for dim in dims:
            scores[dim.name] = dim.compute(analysis)
        summary = summarize(scores)
        series = dict(analysis.series)
        series.setdefault("times_s", [round(float(t), 3) for t in clip.times_s])
        series["thumbnails"] = _thumbnails(clip.frames)
        return VideoResult(
            path=spath,
            info=info,
            dimensions=scores,
            composite=summary.composite,
            verdict=summary.verdict,
            flags=tuple(summary.flags),
            loop_period_s=summary.loop_period_s,
            analysis={
                "fps": round(float(clip.fps), 4),
                "frames": len(clip.frames),
                "width": int(clip.frames.shape[2]) if clip.frames.ndim == 4 else 0,
                "height": int(clip.frames.shape[1]) if clip.frames.ndim == 4 else 0,
                "backbone": config.backbone,
                "flow": config.flow,
                "warnings": list(getattr(clip, "warnings", ()) or ()),
            },
            elapsed_s=round(time.perf_counter() - t0, 4),
            series=series,
        )
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # one bad video is one error row
        if raise_errors:
            raise
        return VideoResult(
            path=spath,
            status=STATUS_ERROR,
            error=_one_line(exc),
            info=info,
            elapsed_s=round(time.perf_counter() - t0, 4),
        )
