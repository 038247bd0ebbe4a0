"""VBench rules that are not a single image or feature formula:
``dynamic_degree`` on flow statistics and the VBench-Long protocol
(split into 2 s clips, score each, average).

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
    "VBENCH_FPS",
    "DynamicDegree",
    "dynamic_degree",
    "dynamic_threshold",
    "long_protocol",
    "split_clips",
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
        dynamic: True when more than ``needed`` pairs exceed ``threshold``.
        moving_pairs: number of pairs above the threshold.
        needed: ``round(4 * n_frames / 16)`` (VBench's count rule).
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
        :class:`DynamicDegree`; ``n_frames = P + 1``.
    """
    v = np.asarray(top_mag, dtype=np.float64)
    thr = dynamic_threshold(height, width, ref_fps)
    moving = int((v > thr).sum())
    needed = round(4.0 * (len(v) + 1) / 16.0)
    frac = moving / len(v) if len(v) else 0.0
    return DynamicDegree(moving > needed, moving, needed, thr, float(frac))


def split_clips(n: int, fps: float, clip_s: float = 2.0) -> list[tuple[int, int]]:
    """Consecutive, non-overlapping clips of ``clip_s`` seconds.

    Args:
        n: number of frames.
        fps: frames/s (> 0).
        clip_s: clip length in s (> 0).

    Returns:
        ``[(start, stop), ...]`` half-open frame ranges covering ``0..n``;
        a remainder shorter than half a clip joins the previous clip. One
        range when ``n`` is at most one clip.
    """
    if not fps > 0 or not clip_s > 0:
        raise ValueError("fps and clip_s must be > 0")
    size = max(2, round(clip_s * fps))
    if n <= size:
        return [(0, n)]
    bounds = list(range(0, n, size))
    ranges = [(s, min(s + size, n)) for s in bounds]
    if len(ranges) > 1 and ranges[-1][1] - ranges[-1][0] < size / 2:
        last = ranges.pop()
        ranges[-1] = (ranges[-1][0], last[1])
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
