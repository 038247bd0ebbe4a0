"""Dense optical flow between consecutive frames and the motion statistics
built on it: motion level, motion curve, freeze and motion decay.

Units used throughout (resolution- and frame-rate-relative):

``%diag/s``
    Flow magnitude as a percentage of the frame diagonal per second:
    ``displacement_px / hypot(H, W) * 100 / dt_s``. The same scene motion
    gives the same value at any analysis size and any analysis fps. A pan
    crossing the full width of a 16:9 frame in 10 s is ~8.7 %diag/s; the
    noise floor of DIS flow on a frozen, compressed video at 160 x 90 is
    ~0.1-0.4 %diag/s (top-5 % statistic).
``grey levels``
    Mean absolute luma difference between two frames, 0-255.

Everything here is a pure function over arrays: ``(T, H, W)`` uint8 or float
luma frames in, small arrays and dataclasses out.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

__all__ = [
    "DUPLICATE_DIFF",
    "FLOW_METHODS",
    "MOTION_STILL",
    "DecayStats",
    "FlowAccumulator",
    "FlowSeries",
    "compute_flow",
    "flow_field",
    "flow_series_from_fields",
    "motion_curve",
    "motion_decay",
    "stillness",
    "torch_flow_fields",
]

#: Flow backends of :func:`compute_flow` (``"raft"`` goes through
#: :func:`torch_flow_fields` with a caller-supplied model).
FLOW_METHODS = ("dis", "dis-ultrafast", "farneback")

#: Top-5 % flow magnitude (%diag/s) below which a frame pair counts as still.
#: 0.6 %diag/s: the fastest-moving 5 % of the picture needs ~170 s to cross the
#: frame diagonal; it sits between the DIS noise floor on frozen compressed
#: video (~0.1-0.4) and the slowest healthy motion we measured (~0.8-1.5).
MOTION_STILL = 0.6
#: Mean absolute luma difference (grey levels 0-255) below which two frames
#: are near-duplicates: 0.5 is below the 8-bit codec noise of moving content
#: (1 grey level and more) and above re-encoded identical frames (~0.1).
DUPLICATE_DIFF = 0.5
#: A pair whose noise-free (4x area-reduced) frames differ by more than this
#: (grey levels) is never still, whatever the flow says (cuts, fast fades,
#: flicker: the picture changes). Pixel noise of sigma 3 adds only ~0.8.
CHANGE_DIFF = 3.0
#: Half-width of the soft still/moving band around :data:`MOTION_STILL`, as a
#: factor (stillness goes 1 -> 0 between MOTION_STILL/f and MOTION_STILL*f).
SOFT_FACTOR = math.sqrt(2.0)
#: Median-filter window (s) applied to per-pair stillness: isolated duplicate
#: frames (frame-rate conversion) or one-pair flow glitches do not count.
SMOOTH_S = 0.5


@dataclass(frozen=True)
class FlowSeries:
    """Per-pair motion statistics of a frame sequence.

    Pair ``i`` is frames ``i -> i+1``. Arrays have length ``T - 1``.

    Attributes:
        mean_mag: mean flow magnitude, %diag/s (>= 0; higher = more motion).
        top_mag: mean of the largest 5 % flow magnitudes, %diag/s (>= 0);
            the motion of the fastest-moving part of the picture (VBench's
            dynamic-degree statistic).
        frame_diff: mean absolute luma difference, grey levels 0-255.
        coarse_diff: the same on luma area-reduced 4x per side, grey levels
            0-255: content change with pixel noise averaged out (sensor or
            codec noise of sigma grey levels contributes ~sigma/4).
        dt_s: time between the two frames of each pair, s (> 0).
        times_s: (T,) frame times, s.
        height, width: frame size in pixels the flow was computed at.
        method: flow backend name (``"dis"``, ``"farneback"``, ``"raft"``...).
    """

    mean_mag: np.ndarray
    top_mag: np.ndarray
    frame_diff: np.ndarray
    coarse_diff: np.ndarray
    dt_s: np.ndarray
    times_s: np.ndarray
    height: int
    width: int
    method: str

    @property
    def diag_px(self) -> float:
        """Frame diagonal in pixels."""
        return float(math.hypot(self.height, self.width))

    @property
    def pair_times_s(self) -> np.ndarray:
        """(T-1,) mid-times of the pairs, s."""
        t = self.times_s
        return 0.5 * (t[:-1] + t[1:])

    @property
    def duration_s(self) -> float:
        """Time spanned by the pairs, s."""
        return float(self.dt_s.sum())

    def to_px_per_frame(self, value: float | np.ndarray, dt_s: float | None = None) -> Any:
        """Convert %diag/s back to pixels per frame pair (at ``dt_s``, default median)."""
        dt = float(np.median(self.dt_s)) if dt_s is None else dt_s
        return np.asarray(value) * self.diag_px / 100.0 * dt


def _to_u8(gray: np.ndarray) -> np.ndarray:
    g = np.asarray(gray)
    if g.dtype == np.uint8:
        return g
    if np.issubdtype(g.dtype, np.floating) and float(np.nanmax(g, initial=0.0)) <= 1.0 + 1e-6:
        g = g * 255.0
    return np.clip(np.rint(g), 0, 255).astype(np.uint8)


def _times(n: int, fps: float, times_s: np.ndarray | None) -> np.ndarray:
    if times_s is not None:
        t = np.asarray(times_s, dtype=np.float64)
        if t.shape != (n,):
            raise ValueError(f"times_s has shape {t.shape}, expected ({n},)")
        if n > 1 and np.any(np.diff(t) <= 0):
            raise ValueError("times_s must be strictly increasing")
        return t
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    return np.arange(n, dtype=np.float64) / fps


#: ``"dis"`` = OpenCV DIS preset *fast* (~0.5-1 ms per 160 x 90 pair on one
#: core); ``"dis-ultrafast"`` = preset *ultrafast* (~2x faster, but its noise
#: floor on frozen compressed frames is ~2-4x higher: top-5 % magnitudes of
#: 1-5 %diag/s where *fast* gives 0.2-1.4, too close to slow real motion).
_DIS_PRESETS = {
    "dis": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "dis-ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
}


#: Frames whose short side is below this (px) are upscaled for the flow
#: (DIS needs >= 12 px); displacements are returned at the original size.
MIN_FLOW_SIDE = 16


def _base_flow_fn(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if method in _DIS_PRESETS:
        dis = cv2.DISOpticalFlow_create(_DIS_PRESETS[method])
        return lambda a, b: dis.calc(a, b, None)
    if method == "farneback":
        return lambda a, b: cv2.calcOpticalFlowFarneback(
            a, b, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
            poly_n=5, poly_sigma=1.2, flags=0,
        )  # fmt: skip
    raise ValueError(f"unknown flow method {method!r}; known: {', '.join(FLOW_METHODS)}")


def _flow_fn(method: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    raw = _base_flow_fn(method)

    def base(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        h, w = a.shape[:2]
        if w > h and h < 32:  # OpenCV DIS fails or segfaults on wide frames a few px high
            f = raw(np.ascontiguousarray(a.T), np.ascontiguousarray(b.T))
            return np.ascontiguousarray(f.transpose(1, 0, 2)[..., ::-1])
        return raw(a, b)

    def fn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        h, w = a.shape[:2]
        if min(h, w) >= MIN_FLOW_SIDE:
            return base(a, b)
        s = MIN_FLOW_SIDE / min(h, w)
        size = (math.ceil(w * s), math.ceil(h * s))
        f = base(
            cv2.resize(a, size, interpolation=cv2.INTER_LINEAR),
            cv2.resize(b, size, interpolation=cv2.INTER_LINEAR),
        )
        f = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
        f[..., 0] *= w / size[0]
        f[..., 1] *= h / size[1]
        return f

    return fn


def flow_field(prev: np.ndarray, nxt: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense optical flow from ``prev`` to ``nxt``.

    Args:
        prev, nxt: (H, W) luma, uint8 0-255 or float 0-1.
        method: ``"dis"`` (OpenCV DIS, preset *fast*), ``"dis-ultrafast"``
            (preset *ultrafast*) or ``"farneback"`` (OpenCV Farneback, ~10x
            slower).

    Returns:
        (H, W, 2) float32 displacement in pixels (x, y): ``prev[y, x]`` moves
        to ``nxt[y + fy, x + fx]``.
    """
    return _flow_fn(method)(_to_u8(prev), _to_u8(nxt))


def _top_mean(mag: np.ndarray, fraction: float) -> float:
    if mag.size > 8192:  # flow fields are smooth: a 2x2 subsample keeps the statistic
        mag = mag[::2, ::2]
    flat = mag.ravel()
    k = max(1, round(fraction * flat.size))
    return float(np.partition(flat, flat.size - k)[flat.size - k :].mean())


class FlowAccumulator:
    """Streaming :class:`FlowSeries`: push luma frames (or flow fields) in order.

    Holds the previous frame only. ``push(gray, t)`` computes the flow to
    the previous frame with ``method``; ``push_field(field, gray, t)`` takes
    a field computed elsewhere (a learned model).

    Args:
        method: flow backend (see :func:`flow_field`), or a name to record
            when fields are pushed with :meth:`push_field`.
        top_fraction: fraction of pixels in the "top" statistic (0.05 = 5 %).
    """

    def __init__(self, method: str = "dis", *, top_fraction: float = 0.05) -> None:
        self.method = method
        self.top_fraction = top_fraction
        self._fn: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None
        self._prev: np.ndarray | None = None
        self._prev_c: np.ndarray | None = None
        self._times: list[float] = []
        self._rows: list[tuple[float, float, float, float]] = []
        self._hw = (0, 0)

    def push(self, gray: np.ndarray, t_s: float) -> None:
        """Add the next (H, W) luma frame shown at ``t_s`` seconds."""
        g = _to_u8(gray)
        field = None
        if self._prev is not None:
            if self._fn is None:
                self._fn = _flow_fn(self.method)
            field = self._fn(self._prev, g)
        self._add(field, g, t_s)

    def push_field(self, field: np.ndarray | None, gray: np.ndarray, t_s: float) -> None:
        """Add a frame with the flow field from the previous one (``None`` for the first)."""
        self._add(field, _to_u8(gray), t_s)

    def _add(self, field: np.ndarray | None, g: np.ndarray, t_s: float) -> None:
        h, w = g.shape
        small = (max(1, w // 4), max(1, h // 4))
        cur_c = cv2.resize(g.astype(np.float32), small, interpolation=cv2.INTER_AREA)
        if self._prev is not None:
            if field is None:
                raise ValueError("a flow field is needed for every frame after the first")
            dt = t_s - self._times[-1]
            if not dt > 0:
                raise ValueError("frame times must be strictly increasing")
            fx, fy = cv2.split(np.ascontiguousarray(field, dtype=np.float32))
            mag = cv2.magnitude(fx, fy)
            scale = 100.0 / math.hypot(h, w) / dt
            assert self._prev_c is not None
            self._rows.append(
                (
                    float(mag.mean()) * scale,
                    _top_mean(mag, self.top_fraction) * scale,
                    float(cv2.absdiff(self._prev, g).mean()),
                    float(cv2.absdiff(self._prev_c, cur_c).mean()),
                )
            )
        self._prev, self._prev_c, self._hw = g, cur_c, (h, w)
        self._times.append(float(t_s))

    def result(self) -> FlowSeries:
        """The :class:`FlowSeries` of the frames pushed so far."""
        r = np.asarray(self._rows, dtype=np.float64).reshape(-1, 4)
        times = np.asarray(self._times, dtype=np.float64)
        return FlowSeries(
            r[:, 0], r[:, 1], r[:, 2], r[:, 3], np.diff(times), times, *self._hw, self.method
        )


def compute_flow(
    gray: np.ndarray,
    fps: float,
    *,
    method: str = "dis",
    times_s: np.ndarray | None = None,
    top_fraction: float = 0.05,
) -> FlowSeries:
    """Flow statistics of every consecutive frame pair.

    Args:
        gray: (T, H, W) luma frames, uint8 0-255 or float 0-1, T >= 1.
        fps: frame rate in frames/s (used when ``times_s`` is None).
        method: flow backend, see :func:`flow_field`. DIS *fast* costs
            ~0.5-1 ms per pair at 160 x 90 on one CPU core.
        times_s: (T,) strictly increasing frame times in s (optional).
        top_fraction: fraction of pixels in the "top" statistic (0.05 = 5 %).

    Returns:
        A :class:`FlowSeries` (empty arrays when T < 2).
    """
    g = _to_u8(gray)
    if g.ndim != 3:
        raise ValueError(f"gray must be (T, H, W), got shape {g.shape}")
    times = _times(len(g), fps, times_s)
    acc = FlowAccumulator(method, top_fraction=top_fraction)
    for i, frame in enumerate(g):
        acc.push(frame, float(times[i]))
    return acc.result()


def flow_series_from_fields(
    fields: np.ndarray,
    gray: np.ndarray,
    fps: float,
    *,
    method: str,
    times_s: np.ndarray | None = None,
    top_fraction: float = 0.05,
) -> FlowSeries:
    """:class:`FlowSeries` from precomputed flow fields (e.g. a learned model).

    Args:
        fields: (T-1, H, W, 2) displacements in pixels at the size of ``gray``.
        gray: (T, H, W) luma frames (for the frame differences).
        fps, times_s, top_fraction: as in :func:`compute_flow`.
        method: backend name recorded in the result.
    """
    g = _to_u8(gray)
    f = np.asarray(fields)
    if f.shape != (max(len(g) - 1, 0), *g.shape[1:], 2):
        raise ValueError(f"fields shape {f.shape} does not match gray {g.shape}")
    times = _times(len(g), fps, times_s)
    acc = FlowAccumulator(method, top_fraction=top_fraction)
    for i, frame in enumerate(g):
        acc.push_field(f[i - 1] if i else None, frame, float(times[i]))
    return acc.result()


def torch_flow_fields(frames: np.ndarray, model: Any, batch: int = 8) -> np.ndarray:
    """Flow fields of consecutive pairs from a RAFT-like torch model.

    The model is called as ``model(img1, img2)`` with (B, 3, H, W) float
    tensors in 0-255 (RAFT's convention) and must return the (B, 2, H, W)
    flow in pixels, or a list of refinements whose last entry is that flow
    (torchvision's RAFT). Nothing is downloaded: the caller builds the
    model from local weights.

    Args:
        frames: (T, H, W, 3) uint8 RGB.
        model: callable torch module in eval mode.
        batch: pairs per forward pass.

    Returns:
        (T-1, H, W, 2) float32 pixel displacements.
    """
    import torch

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    out = []
    with torch.inference_mode():
        for s in range(0, len(x) - 1, batch):
            e = min(s + batch, len(x) - 1)
            f = model(x[s:e], x[s + 1 : e + 1])
            if isinstance(f, (list, tuple)):
                f = f[-1]
            out.append(f.permute(0, 2, 3, 1).float().cpu().numpy())
    if not out:
        return np.zeros((0, *frames.shape[1:3], 2), np.float32)
    return np.concatenate(out).astype(np.float32)


# ------------------------------------------------------------------ curves


def motion_curve(fs: FlowSeries, stat: str = "mean") -> np.ndarray:
    """Per-frame motion, %diag/s, one value per frame (length T).

    Frame ``t`` gets the mean of its adjacent pairs (``t-1 -> t`` and
    ``t -> t+1``); end frames get their single pair. ``stat`` picks
    ``"mean"`` (mean magnitude) or ``"top"`` (top-5 % magnitude).
    """
    v = fs.mean_mag if stat == "mean" else fs.top_mag
    n = len(v)
    if n == 0:
        return np.zeros(len(fs.times_s))
    left = np.concatenate([v[:1], v])
    right = np.concatenate([v, v[-1:]])
    return 0.5 * (left + right)


def _median_filter(x: np.ndarray, k: int) -> np.ndarray:
    if k <= 1 or len(x) < 3:
        return x.copy()
    k = min(k, len(x) if len(x) % 2 else len(x) - 1)
    r = k // 2
    p = np.pad(x, r, mode="edge")
    win = np.lib.stride_tricks.sliding_window_view(p, k)
    return np.median(win, axis=1)


def stillness(
    fs: FlowSeries,
    *,
    motion_still: float = MOTION_STILL,
    duplicate_diff: float = DUPLICATE_DIFF,
    change_diff: float = CHANGE_DIFF,
    smooth_s: float = SMOOTH_S,
) -> np.ndarray:
    """Per-pair stillness in 0-1 (1 = nothing moves), smoothed in time.

    A pair is still when its frames are near-duplicates (mean abs diff below
    ``duplicate_diff`` grey levels), or when the top-5 % flow magnitude is
    below ``motion_still`` %diag/s while the noise-free frames differ by
    less than ``change_diff`` grey levels (``coarse_diff``). Between
    ``motion_still / SOFT_FACTOR`` and ``motion_still * SOFT_FACTOR``
    stillness falls linearly in log magnitude (a soft band, so that scores
    do not jump at one threshold). The series is then median filtered over
    ``smooth_s`` seconds.
    """
    if len(fs.top_mag) == 0:
        return np.zeros(0)
    lo = math.log(motion_still / SOFT_FACTOR)
    hi = math.log(motion_still * SOFT_FACTOR)
    lm = np.log(np.maximum(fs.top_mag, 1e-9))
    s = np.clip((hi - lm) / (hi - lo), 0.0, 1.0)
    s[fs.coarse_diff >= change_diff] = 0.0
    s[fs.frame_diff < duplicate_diff] = 1.0
    k = round(smooth_s / float(np.median(fs.dt_s)))
    return _median_filter(s, k | 1)


# ------------------------------------------------------------------ decay

#: Early motion (%diag/s, median of the first third) needed before motion
#: can decay: a video that barely moved at the start is frozen, not decaying
#: (the library default of ``vqeval.params.DecayParams.established_motion``).
ESTABLISHED_MOTION = MOTION_STILL / 2.0


@dataclass(frozen=True)
class DecayStats:
    """How motion evolves over the video (measurements only: the
    ``motion_decay`` flag is decided by :mod:`vqeval.dimensions.motion`, on
    the content-still tail of ``freeze``).

    Attributes:
        early_motion, late_motion: median mean-flow magnitude (%diag/s) of
            the first and last third of the moving part (after a static
            opening).
        decay_ratio: ``(late + e) / (early + e)`` with ``e = MOTION_STILL/4``
            (noise guard); 1 = steady, < 1 = motion decays, > 1 = grows.
            ``None`` when the video never moves (a freeze, not a decay).
        slope: least-squares slope of the per-pair mean motion over time,
            in (%diag/s) per s, divided by the mean motion: the fraction of
            the mean motion gained (+) or lost (-) per second.
        motion_mean: mean of the per-pair mean magnitude, %diag/s.
    """

    early_motion: float
    late_motion: float
    decay_ratio: float | None
    slope: float
    motion_mean: float


def motion_decay(fs: FlowSeries, still: np.ndarray | None = None) -> DecayStats:
    """Motion decay statistics (see :class:`DecayStats`).

    Args:
        fs: flow series.
        still: per-pair stillness from :func:`stillness` (computed if None).
    """
    m = fs.mean_mag
    n = len(m)
    if n == 0:
        return DecayStats(0.0, 0.0, None, 0.0, 0.0)
    s = stillness(fs) if still is None else still
    hard = s >= 0.5
    mean = float(m.mean())
    t = fs.pair_times_s - fs.times_s[0]
    slope = 0.0
    if n >= 3 and mean > 0:
        slope = float(np.polyfit(t, m, 1)[0] / mean)
    moving = np.flatnonzero(~hard)
    if len(moving) == 0:  # never moves: frozen, not decaying
        return DecayStats(0.0, 0.0, None, slope, mean)
    start = int(moving[0])  # skip a static opening
    part = m[start:]
    k = max(1, len(part) // 3)
    early = float(np.median(part[:k]))
    late = float(np.median(part[-k:]))
    e = MOTION_STILL / 4.0
    ratio = (late + e) / (early + e)
    return DecayStats(early, late, float(ratio), slope, mean)
