"""Scoring one video: decode -> analysis context -> dimensions -> summary."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from vqeval.analysis import Analysis
from vqeval.config import MAX_FPS, MIN_FPS, ScoreConfig
from vqeval.dimensions import Dimension, resolve
from vqeval.framepass import FrameFeatures, FramePass
from vqeval.params import Params
from vqeval.results import (
    STATUS_ERROR,
    ConfigError,
    DimensionScore,
    VideoReadError,
    VideoResult,
    VQevalError,
)
from vqeval.scoring import summarize
from vqeval.settings import scoring_settings
from vqeval.video import read_clip

#: Fewest analysis frames a video must have to be scored.
MIN_FRAMES = 2


def _one_line(exc: BaseException) -> str:
    """A single-line description of ``exc`` (no newlines, bounded length)."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    if not isinstance(exc, VQevalError):
        msg = f"{type(exc).__name__}: {msg}"
    return msg[:300]


def needs_of(
    dims: list[Dimension], config: ScoreConfig, path: str | os.PathLike[str] | None = None
) -> set[str]:
    """Frame features the dimensions ``dims`` need (plus thumbnails for reports).

    With ``path``, a dimension that does not apply to that video
    (``Dimension.applies``, e.g. ``text_alignment`` without a prompt) needs
    nothing: it is skipped there, so its features are not computed.
    """
    needs = {"thumbnails"}
    for d in dims:
        if path is not None and not d.applies(config, os.fspath(path)):
            continue
        needs.update(d.needs_for(config))
    return needs


def with_params(
    config: ScoreConfig, params: Params | Mapping[str, Any] | str | os.PathLike[str] | None
) -> ScoreConfig:
    """``config`` with its decision parameters replaced by ``params`` (a tree,
    a nested mapping or a TOML file path; ``None`` keeps ``config.params``).

    Raises:
        ConfigError: invalid parameters (one line naming the key).
    """
    if params is None:
        return config
    return dataclasses.replace(config, params=params)  # type: ignore[arg-type]


def video_series(features: FrameFeatures, scores: Iterable[DimensionScore]) -> dict[str, Any]:
    """The plot series of one video (``VideoResult.series``): the per-frame
    signature ``compare`` aligns for the tempo, then each dimension's
    ``DimensionScore.series`` in order (a key two dimensions give, such as
    the motion curve of ``motion_decay`` and ``motion_level``, from the first)."""
    from vqeval.metrics.tempo import signature_series

    series: dict[str, Any] = {}
    if features.signature is not None:
        series.update(signature_series(features.signature, features.times_s))
    for score in scores:
        for key, value in score.series.items():
            series.setdefault(key, value)
    return series


def _check_fps(what: str, fps: object, *, zero_ok: bool) -> None:
    """``fps`` (frames/s) is ``None`` or a number in ``MIN_FPS``-``MAX_FPS``
    (or 0 when ``zero_ok``); NaN and infinities fail (ConfigError)."""
    if fps is None or (zero_ok and fps == 0):
        return
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not MIN_FPS <= fps <= MAX_FPS:
        zero = " or 0 (no cap)" if zero_ok else ""
        raise ConfigError(f"{what} must be {MIN_FPS:g}-{MAX_FPS:g} frames/s{zero}, got {fps!r}")


def validate_config(config: ScoreConfig) -> list[Dimension]:
    """Check a configuration before any video is decoded (usage errors, exit 2);
    returns the dimensions it selects.

    Raises:
        ConfigError: unknown dimension, unknown flow or feature backbone, or a
            learned backbone whose local weights are missing.
    """
    from vqeval.features import validate_flow
    from vqeval.weights import get_backbone, validate_device

    dims = resolve(config.dimensions, config)
    validate_device(config.device)
    if not 1 <= config.batch_size <= 4096:
        raise ConfigError(f"batch size must be 1-4096 frames, got {config.batch_size}")
    mpx = config.max_decoded_mpx
    if mpx is not None and (
        isinstance(mpx, bool) or not isinstance(mpx, (int, float)) or not 0 <= mpx < math.inf
    ):
        raise ConfigError(
            f"max decoded megapixels must be a number >= 0 (0 = no limit), got {mpx!r}"
        )
    _check_fps("max fps", config.max_fps, zero_ok=True)
    _check_fps("image-folder fps", config.image_fps, zero_ok=False)
    validate_flow(config)
    get_backbone(
        config.backbone, config.weights_dir, device=config.device, batch_size=config.batch_size
    )
    return dims


def analyse(
    path: str | os.PathLike[str], config: ScoreConfig, needs: set[str] | None = None
) -> Analysis:
    """Decode ``path`` once, computing the frame features ``needs`` while it
    streams (default: those of ``config``'s dimensions), into an
    :class:`Analysis` that dimensions read.

    Raises:
        VideoReadError: the file cannot be read, or it has fewer than
            :data:`MIN_FRAMES` analysis frames.
    """
    from vqeval.framepass import model_side

    if needs is None:
        needs = needs_of(resolve(config.dimensions, config), config, path)
    side = model_side(config, needs)  # learned backbones get frames at their resolution
    passes: list[FramePass] = []

    def sink(_info: object, fps: float, expected: int) -> Any:
        passes.append(FramePass(config, fps, expected_frames=expected, needs=needs))
        return passes[-1].push

    read = functools.partial(
        read_clip,
        Path(os.fspath(path)),
        size=config.analysis_size,
        max_frames=config.max_frames,
        stills=config.stills,
        still_size=config.still_size,
        fps_override=config.image_fps if os.path.isdir(path) else None,
        sink=sink,
        model_side=side,
        max_decoded_pixels=(config.max_decoded_mpx or 0.0) * 1e6,
    )
    clip = read(max_fps=config.max_fps)
    if clip.n_frames < MIN_FRAMES and clip.info.frame_count >= MIN_FRAMES:
        clip = read(max_fps=None)  # a clip shorter than one capped frame interval
    if clip.n_frames < MIN_FRAMES:
        raise VideoReadError(
            f"only {clip.n_frames} frame(s) to analyse; scoring needs at least "
            f"{MIN_FRAMES} (a still image is not a video)"
        )
    return Analysis(clip, config, passes[-1].finish(), path=os.fspath(path))


def score_video(
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    config: ScoreConfig | None = None,
    *,
    raise_errors: bool = False,
    params: Params | Mapping[str, Any] | str | os.PathLike[str] | None = None,
) -> VideoResult:
    """Score one video file or image folder.

    Args:
        path: a video file (mp4, mov, mkv, webm, avi, gif) or a folder of
            numbered images; ``str``, ``bytes`` (a name that is not UTF-8) or
            path-like, as :func:`vqeval.batch.score_batch` takes.
        config: analysis configuration; ``None`` = defaults.
        raise_errors: re-raise instead of returning a ``status="error"`` row.
        params: decision parameters (:mod:`vqeval.params`: a tree, a nested
            mapping or a TOML file path); replaces ``config.params`` when
            given.

    Returns:
        A :class:`VideoResult`; on failure ``status="error"`` with a one-line
        ``error`` (unless ``raise_errors``).

    Raises:
        ConfigError: for an invalid configuration (see :func:`validate_config`),
            whatever ``raise_errors`` is: a usage error, not a property of the video.
    """
    config = with_params(config or ScoreConfig(), params)
    dims = validate_config(config)  # usage errors surface before any decoding
    t0 = time.perf_counter()
    spath = os.fsdecode(path)  # bytes names too, as score_batch takes them
    info = None
    needs = needs_of(dims, config, spath)
    try:
        analysis = analyse(spath, config, needs)
        clip, features = analysis.clip, analysis.features
        info = clip.info
        scores: dict[str, DimensionScore] = {}
        for dim in dims:
            scores[dim.name] = dim.compute(analysis, config.params)
        summary = summarize(scores, params=config.params)
        series = video_series(features, scores.values())
        series.setdefault("times_s", [round(float(t), 3) for t in clip.times_s])
        series["thumbnails"] = list(features.thumbnails)
        return VideoResult(
            path=spath,
            info=info,
            dimensions=scores,
            composite=summary.composite,
            verdict=summary.verdict,
            flags=tuple(summary.flags),
            loop_period_s=summary.loop_period_s,
            flag_details=summary.flag_details,
            analysis={
                "fps": round(float(clip.fps), 4),
                "frames": clip.n_frames,
                "width": int(features.width),
                "height": int(features.height),
                "backbone": config.backbone,
                "flow": config.flow,
                "warnings": list(getattr(clip, "warnings", ()) or ()),
                "settings": scoring_settings(config, [d.name for d in dims]),
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
