"""VBench rules that are not a single image or feature formula:
``dynamic_degree`` on flow statistics, the static-video filter VBench runs
before ``temporal_flickering``, and the VBench-Long protocol (split into 2 s
clips, score each, average; for the consistency dimensions also the
cross-clip "fast" branch on the first frame of each clip).

See :mod:`metrics.consistency` and :mod:`metrics.imaging` for the
per-clip formulas.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "SLOW_FAST",
    "VBENCH_FPS",
    "DynamicDegree",
    "SlowFastParams",
    "StaticCheck",
    "clip_first_frames",
    "dynamic_degree",
    "dynamic_threshold",
    "long_protocol",
    "slow_fast_fusion",
    "split_clips",
    "static_check",
    "static_threshold",
]

#: Frame rate VBench's dynamic degree samples videos at (frame interval
#: ``round(fps / 8)``), frames/s.
VBENCH_FPS = 8.0


def dynamic_threshold(height: int, width: int, ref_fps: float = VBENCH_FPS) -> float:
    """VBench's dynamic-degree threshold in %diag/s.

    VBench calls a frame pair moving when the mean of its top-5 % RAFT flow
    magnitudes exceeds ``6 * min(H, W) / 256`` pixels between frames sampled
    at ~8 fps. That is a fixed fraction of the frame size per sampled pair,
    so in resolution- and fps-free units it is::

        6 * min(H, W) / 256 / hypot(H, W) * 100 * ref_fps   (%diag/s)

    (~9.2 %diag/s for 16:9, 11.3 for 4:3, 13.3 for square frames).
    """
    return 6.0 * min(height, width) / 256.0 / math.hypot(height, width) * 100.0 * ref_fps


@dataclass(frozen=True)
class DynamicDegree:
    """VBench dynamic degree of one clip.

    Attributes:
        dynamic: True when at least ``needed`` pairs exceed ``threshold``
            (VBench's ``count >= count_num``; with ``needed == 0`` any clip of
            two or more frames is dynamic, as in VBench).
        moving_pairs: number of pairs above the threshold (strictly above,
            as VBench's ``score > thres``).
        needed: ``round(4 * n_frames / 16)`` (VBench's count rule, Python's
            round-half-to-even).
        threshold: %diag/s (see :func:`dynamic_threshold`).
        moving_fraction: ``moving_pairs / pairs``, 0-1.
    """

    dynamic: bool
    moving_pairs: int
    needed: int
    threshold: float
    moving_fraction: float


def dynamic_degree(
    top_mag: np.ndarray, height: int, width: int, ref_fps: float = VBENCH_FPS
) -> DynamicDegree:
    """VBench dynamic-degree rule on per-pair top-5 % flow magnitudes.

    Args:
        top_mag: (P,) mean of the top 5 % flow magnitudes of each
            consecutive frame pair, %diag/s (``FlowSeries.top_mag``).
        height, width: frame size (only the aspect matters).
        ref_fps: the sampling rate the pixel threshold refers to.

    Returns:
        :class:`DynamicDegree`; ``n_frames = P + 1``. A clip is dynamic when
        at least ``round(4 n / 16)`` pairs move faster than the threshold
        (VBench ``dynamic_degree.py``: ``score > thres`` counts a pair,
        ``count >= count_num`` makes the video dynamic); no pairs = static.
    """
    v = np.asarray(top_mag, dtype=np.float64)
    thr = dynamic_threshold(height, width, ref_fps)
    moving = int((v > thr).sum())
    needed = round(4.0 * (len(v) + 1) / 16.0)
    frac = moving / len(v) if len(v) else 0.0
    return DynamicDegree(len(v) > 0 and moving >= needed, moving, needed, thr, float(frac))


def static_threshold(height: int, width: int, source_fps: float) -> float:
    """VBench's static-filter threshold in %diag/s.

    VBench's ``static_filter.py`` calls a pair of consecutive *source* frames
    moving when the mean of its top-2 % RAFT flow magnitudes exceeds
    ``3 * min(H, W) / 256`` pixels. Per second of video that is::

        3 * min(H, W) / 256 / hypot(H, W) * 100 * source_fps   (%diag/s)

    Args:
        height, width: frame size (only the aspect matters).
        source_fps: frame rate of the source video, frames/s (> 0).
    """
    return 3.0 * min(height, width) / 256.0 / math.hypot(height, width) * 100.0 * source_fps


@dataclass(frozen=True)
class StaticCheck:
    """VBench's static-video filter on one clip.

    Attributes:
        static: True when at most ``allowed`` pairs exceed ``threshold``.
        moving_pairs: pairs above the threshold.
        allowed: ``round(2 * n_frames / 16)`` (VBench's ``count_num``).
        threshold: %diag/s (:func:`static_threshold`).
    """

    static: bool
    moving_pairs: int
    allowed: int
    threshold: float


def static_check(top_mag: np.ndarray, height: int, width: int, source_fps: float) -> StaticCheck:
    """VBench's static filter (run before ``temporal_flickering``) on per-pair
    flow statistics.

    VBench keeps a video for temporal flickering when no more than
    ``round(2 n / 16)`` of its consecutive frame pairs (``n`` frames) move
    faster than :func:`static_threshold`, and the flow between the first and
    the last frame (both ways) stays below ``2 * count_num * thres`` pixels.
    Only the first rule is applied here (the frames stream, so the
    first-to-last flow is not at hand); ``top_mag`` is the top-5 % mean
    (VBench: top 2 %), measured between analysis frames.

    Args:
        top_mag: (P,) mean of the top 5 % flow magnitudes per pair, %diag/s.
        height, width: frame size (only the aspect matters).
        source_fps: frame rate of the source video, frames/s (> 0).

    Returns:
        :class:`StaticCheck`; ``n_frames = P + 1``.
    """
    v = np.asarray(top_mag, dtype=np.float64)
    thr = static_threshold(height, width, source_fps)
    moving = int((v > thr).sum())
    allowed = round(2.0 * (len(v) + 1) / 16.0)
    return StaticCheck(moving <= allowed, moving, allowed, thr)


def split_clips(n: int, fps: float, clip_s: float = 2.0) -> list[tuple[int, int]]:
    """VBench-Long's split of a video into clips of ``clip_s`` seconds.

    As ``split_video_into_clips`` of VBench-Long: ``n // size`` consecutive
    clips of ``size = round(clip_s * fps)`` frames; a remainder becomes one
    more full-length clip made of the last ``size`` frames (it overlaps the
    clip before it). A video shorter than one clip is one clip.

    Args:
        n: number of frames.
        fps: frames/s (> 0).
        clip_s: clip length in s (> 0).

    Returns:
        ``[(start, stop), ...]`` half-open frame ranges covering ``0..n``.
    """
    if not fps > 0 or not clip_s > 0:
        raise ValueError("fps and clip_s must be > 0")
    size = max(2, round(clip_s * fps))
    if n <= size:
        return [(0, n)]
    ranges = [(s, s + size) for s in range(0, n - size + 1, size)]
    if ranges[-1][1] < n:
        ranges.append((n - size, n))
    return ranges


def long_protocol(
    frames: Any,
    fps: float,
    fn: Callable[[Any], float],
    clip_s: float = 2.0,
) -> float:
    """VBench-Long protocol: score ``clip_s`` clips with ``fn``, average.

    Args:
        frames: anything sliceable along its first axis (frames, features,
            flow statistics of length T).
        fps: frames/s of ``frames``.
        fn: per-clip metric, ``fn(frames[start:stop]) -> float``.
        clip_s: clip length in s (VBench-Long uses 2 s).

    Returns:
        Unweighted mean of the per-clip values (same units as ``fn``).
    """
    ranges = split_clips(len(frames), fps, clip_s)
    vals: Sequence[float] = [float(fn(frames[a:b])) for a, b in ranges]
    return float(np.mean(vals))


def clip_first_frames(n: int, fps: float, clip_s: float = 2.0) -> np.ndarray:
    """Indices of the first frame of each VBench-Long clip (:func:`split_clips`):
    the frames of the cross-clip ("fast") consistency branch."""
    return np.array([a for a, _ in split_clips(n, fps, clip_s)], dtype=np.int64)


@dataclass(frozen=True)
class SlowFastParams:
    """VBench-Long's slow-fast fusion of a consistency dimension.

    ``fused = w_inclip * inclip + w_clip2clip * mapped`` with the cross-clip
    value mapped onto the in-clip scale,
    ``mapped = (clip2clip - clip2clip_mean) / clip2clip_std * inclip_std +
    inclip_mean`` (``vbench2_beta_long/utils.py`` ``fuse_inclip_clip2clip``,
    constants from ``configs/slow_fast_params.yaml``; all values 0-1).
    """

    w_inclip: float
    w_clip2clip: float
    inclip_mean: float
    inclip_std: float
    clip2clip_mean: float
    clip2clip_std: float


#: VBench-Long's published slow-fast parameters (its ``--dev_flag`` branch;
#: without it VBench-Long uses ``w_inclip = 1``, ``w_clip2clip = 0``).
SLOW_FAST: dict[str, SlowFastParams] = {
    "subject_consistency": SlowFastParams(
        0.7, 0.3, 0.9206531487463249, 0.004580085658914342, 0.782773956831079, 0.024658268466961904
    ),
    "background_consistency": SlowFastParams(
        0.8, 0.2, 0.9461633887475777, 0.00041191287498028263, 0.8817304710164493,
        0.007886728751286067,
    ),
}  # fmt: skip


def slow_fast_fusion(inclip: float, clip2clip: float, params: SlowFastParams) -> float:
    """VBench-Long's fused consistency (see :class:`SlowFastParams`).

    Args:
        inclip: mean in-clip consistency, 0-1.
        clip2clip: consistency of the clips' first frames, 0-1.
        params: the dimension's :class:`SlowFastParams`.

    Returns:
        The fused value (about 0-1; not clipped, as in VBench-Long).
    """
    p = params
    mapped = (clip2clip - p.clip2clip_mean) / p.clip2clip_std * p.inclip_std + p.inclip_mean
    return float(p.w_inclip * inclip + p.w_clip2clip * mapped)
