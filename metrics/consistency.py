"""Temporal consistency metrics in the style of VBench, plus a flicker
detector.

* :func:`vbench_consistency`: VBench's subject/background consistency
  formula on per-frame features (0-1, higher = more consistent).
* :func:`background_features`: weight-free descriptor of the frame border
  (a background proxy used when no CLIP weights are available).
* :func:`temporal_flickering`: VBench's ``1 - mean|F_t - F_{t+1}| / 255``.
* :func:`brightness_flicker`: frame-to-frame brightness oscillation not
  explained by motion (flag ``flicker``).
* :func:`motion_smoothness`: error of odd frames re-synthesised from their
  neighbours (VBench uses AMT interpolation; here flow-warped averaging).

Pure functions over arrays; frames are (T, H, W, 3) uint8 RGB unless noted.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "FLICKER_LEVELS",
    "FlickerStats",
    "background_features",
    "brightness_flicker",
    "motion_smoothness",
    "temporal_flickering",
    "vbench_consistency",
]


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def vbench_consistency(features: np.ndarray) -> float:
    """VBench subject/background consistency of a feature sequence.

    For frame ``i >= 1``::

        s_i = (max(0, cos(f_{i-1}, f_i)) + max(0, cos(f_0, f_i))) / 2

    and the result is the mean of ``s_i``.

    Args:
        features: (T, d) per-frame features (normalised here).

    Returns:
        0-1, higher = more consistent; 1.0 for identical frames and for
        T < 2 (nothing to compare). Note that a frozen video scores 1: this
        metric rewards freezes (that is VBench's behaviour, kept on purpose;
        ``freeze`` catches them).
    """
    f = _l2(np.asarray(features, dtype=np.float64))
    if f.ndim != 2:
        raise ValueError(f"features must be (T, d), got shape {f.shape}")
    if len(f) < 2:
        return 1.0
    prev = np.maximum(0.0, np.einsum("td,td->t", f[:-1], f[1:]))
    first = np.maximum(0.0, f[1:] @ f[0])
    return float(np.clip(0.5 * (prev + first).mean(), 0.0, 1.0))


#: Width of the border ring (fraction of each side) used as background.
BORDER = 0.25


def background_features(frames: np.ndarray, border: float = BORDER) -> np.ndarray:
    """Weight-free background descriptor: the frame border ring.

    Without a segmentation or CLIP model, the outer ring of the picture (the
    outer ``border`` fraction of each side) stands in for the background:
    subjects are usually framed near the centre. Each frame is area-reduced
    to 32 x 18 cells (aspect ignored), and the ring cells give a centred,
    contrast-normalised luma vector plus opponent-colour values.

    Args:
        frames: (T, H, W, 3) uint8 RGB.
        border: ring width as a fraction of each side, 0 < border < 0.5.

    Returns:
        (T, d) float32, rows L2-normalised (cosine of unrelated frames
        scatters around 0).
    """
    f = np.asarray(frames)
    gw, gh = 32, 18
    bx, by = max(1, round(border * gw)), max(1, round(border * gh))
    mask = np.ones((gh, gw), bool)
    mask[by : gh - by, bx : gw - bx] = False
    if len(f) == 0:
        return np.zeros((0, 1), np.float32)
    s = np.stack([cv2.resize(fr, (gw, gh), interpolation=cv2.INTER_AREA) for fr in f])
    s = s.astype(np.float32)[:, mask] / 255.0  # (T, ring cells, 3)
    r, g, b = s[..., 0], s[..., 1], s[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    y = (y - y.mean(1, keepdims=True)) / np.maximum(y.std(1, keepdims=True), 0.04)
    opp = np.concatenate([r - g, 0.5 * (r + g) - b], axis=1) * 4.0
    out = np.concatenate([y, opp], axis=1) / np.sqrt(y.shape[1])
    return _l2(out.astype(np.float32))


def temporal_flickering(frames: np.ndarray) -> float:
    """VBench temporal flickering: ``1 - mean|F_t - F_{t+1}| / 255``.

    Args:
        frames: (T, H, W[, C]) uint8.

    Returns:
        0-1, higher = steadier (1.0 for identical frames or T < 2). VBench
        evaluates it on static scenes; on moving video it also drops with
        motion, so it is a steadiness measure, not a flicker detector (see
        :func:`brightness_flicker`).
    """
    f = np.asarray(frames)
    if len(f) < 2:
        return 1.0
    diffs = [float(cv2.absdiff(f[i], f[i + 1]).mean()) for i in range(len(f) - 1)]
    return temporal_flickering_from_diffs(np.asarray(diffs))


def temporal_flickering_from_diffs(diffs: np.ndarray) -> float:
    """:func:`temporal_flickering` from per-pair mean absolute differences.

    Args:
        diffs: (T-1,) mean ``|F_t - F_{t+1}|`` per consecutive pair, grey levels.

    Returns:
        0-1 (1.0 for no pairs).
    """
    d = np.asarray(diffs, dtype=np.float64)
    return 1.0 if len(d) == 0 else float(1.0 - d.mean() / 255.0)


def brightness_shift(prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    """Per-channel median of ``nxt - prev`` (grey levels), on every third pixel.

    Args:
        prev, nxt: (H, W, C) or (H, W) uint8 frames.

    Returns:
        (C,) float: the global brightness change of each channel; motion of
        less than half the picture leaves it near 0.
    """
    a, b = np.asarray(prev), np.asarray(nxt)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    d = b[::3, ::3].astype(np.int16) - a[::3, ::3].astype(np.int16)
    return np.median(d.reshape(-1, d.shape[-1]), axis=0).astype(np.float64)


#: Brightness alternation (grey levels, 0-255) above which a frame pair
#: counts as flickering: ~1 % of full scale, well above codec noise of a
#: frame's median difference (< 0.5) and near the visibility threshold of
#: temporal luminance modulation at 5-15 Hz.
FLICKER_LEVELS = 2.0
#: Fraction of alternating frame triplets above which ``flicker`` is raised.
FLICKER_FRACTION = 0.2


@dataclass(frozen=True)
class FlickerStats:
    """Frame-to-frame brightness oscillation.

    Attributes:
        shift: (T-1, 3) per-pair, per-channel median pixel difference
            ``median(F_{t+1} - F_t)`` in grey levels; the global brightness
            change, insensitive to motion covering less than half the frame.
        alternation: (T-2,) per-triplet oscillation amplitude, grey levels:
            ``min(|shift_t|, |shift_{t+1}|)`` when the two shifts have
            opposite signs (up then down or down then up), else 0; the
            channel with the largest value is kept.
        flicker_index: mean of ``alternation``, grey levels (0 = none).
        flicker_fraction: fraction of triplets whose alternation exceeds
            the threshold, 0-1.
        flicker: the ``flicker`` flag.
    """

    shift: np.ndarray
    alternation: np.ndarray
    flicker_index: float
    flicker_fraction: float
    flicker: bool


def brightness_flicker(
    frames: np.ndarray,
    *,
    levels: float = FLICKER_LEVELS,
    fraction: float = FLICKER_FRACTION,
) -> FlickerStats:
    """Detect brightness/colour flicker that motion does not explain.

    Motion moves content but does not change the median of the per-pixel
    difference between two frames unless most of the picture changes in
    the same direction; a gain change does. Flicker is the median shift
    going up and down on consecutive pairs; a slow fade goes one way and is
    not flicker.

    Args:
        frames: (T, H, W, 3) uint8 RGB (or (T, H, W) luma).
        levels: alternation threshold in grey levels (0-255).
        fraction: fraction of alternating triplets that raises the flag.

    Returns:
        :class:`FlickerStats`.
    """
    f = np.asarray(frames)
    if f.ndim == 3:
        f = f[..., None]
    n = len(f)
    c = f.shape[-1] if f.ndim == 4 else 1
    shift = np.array([brightness_shift(f[i], f[i + 1]) for i in range(n - 1)]).reshape(-1, c)
    return flicker_from_shifts(shift, levels=levels, fraction=fraction)


def flicker_from_shifts(
    shift: np.ndarray, *, levels: float = FLICKER_LEVELS, fraction: float = FLICKER_FRACTION
) -> FlickerStats:
    """:func:`brightness_flicker` from per-pair shifts (:func:`brightness_shift`).

    Args:
        shift: (T-1, C) per-pair, per-channel median difference, grey levels.
        levels, fraction: see :func:`brightness_flicker`.
    """
    shift = np.asarray(shift, dtype=np.float64)
    if len(shift) < 2:
        return FlickerStats(shift, np.zeros(0), 0.0, 0.0, False)
    s0, s1 = shift[:-1], shift[1:]
    alt = np.where(s0 * s1 < 0, np.minimum(np.abs(s0), np.abs(s1)), 0.0).max(axis=1)
    frac = float((alt > levels).mean())
    return FlickerStats(shift, alt, float(alt.mean()), frac, frac >= fraction)


def flicker_start(
    stats: FlickerStats, *, levels: float = FLICKER_LEVELS, fraction: float = FLICKER_FRACTION
) -> int | None:
    """First triplet from which the flicker goes on to the end.

    The earliest alternating triplet ``k`` (alternation above ``levels``)
    such that at least ``fraction`` of the triplets from ``k`` to
    the end alternate (for a clip that flickers throughout, its first
    alternating triplet); ``None`` when the clip is not flagged.

    Returns:
        Triplet index ``k`` (frames ``k``, ``k + 1``, ``k + 2``; the flicker
        is visible at frame ``k + 1``), or ``None``.
    """
    if not stats.flicker:
        return None
    hit = np.asarray(stats.alternation) > levels
    n = len(hit)
    # fraction of alternating triplets from k to the end, for every k
    tail = np.cumsum(hit[::-1])[::-1] / np.arange(n, 0, -1)
    ok = np.flatnonzero(hit & (tail >= fraction))
    return int(ok[0]) if len(ok) else int(np.argmax(hit))


def _warp(
    img: np.ndarray, flow: np.ndarray, factor: float, grid: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    gx, gy = grid
    return cv2.remap(
        img,
        gx + factor * flow[..., 0],
        gy + factor * flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


#: Odd frames evaluated at most by :func:`motion_smoothness` (evenly spread).
SMOOTHNESS_MAX_FRAMES = 48


def motion_smoothness(
    gray: np.ndarray,
    *,
    method: str = "warp",
    flow: str = "dis",
    max_frames: int | None = SMOOTHNESS_MAX_FRAMES,
) -> float:
    """Motion smoothness: how well odd frames are predicted from neighbours.

    Each odd frame ``t`` is re-synthesised from frames ``t-1`` and ``t+1``
    and compared with the real one; the result is VBench's
    ``(255 - mean abs error) / 255``.

    ``method="warp"`` (default): flow ``F`` from ``t-1`` to ``t+1`` (DIS),
    then ``0.5 * (F_{t-1}(x - F/2) + F_{t+1}(x + F/2))`` (backward warping
    with the flow sampled at the target pixel, a first-order approximation
    valid for smooth flow). Smooth motion is predicted well whatever its
    speed; jerky or jittery motion is not. ``method="average"``: the plain
    mean of the neighbours (penalises any motion).

    VBench uses the AMT interpolation network instead, so values are close
    but not identical to VBench's.

    Args:
        gray: (T, H, W) luma, uint8 0-255 or float 0-1.
        method: ``"warp"`` or ``"average"``.
        flow: flow backend for ``"warp"`` (see :func:`metrics.motion.flow_field`).
        max_frames: evaluate at most this many odd frames, evenly spread
            over the video (an unbiased estimate of the mean at a bounded
            cost: one flow field per evaluated frame); ``None`` = all.

    Returns:
        0-1, higher = smoother (1.0 when T < 3).
    """
    from vqeval.metrics.motion import _to_u8

    g = _to_u8(gray)
    if len(g) < 3:
        return 1.0
    predictor = SmoothnessPredictor(method=method, flow=flow)
    errs = [
        predictor.error(g[t - 1], g[t], g[t + 1]) for t in smoothness_frames(len(g), max_frames)
    ]
    return smoothness_from_errors(errs)


def smoothness_frames(n: int, max_frames: int | None = SMOOTHNESS_MAX_FRAMES) -> np.ndarray:
    """Indices of the odd frames :func:`motion_smoothness` evaluates in ``n`` frames."""
    odd = np.arange(1, n - 1, 2)
    if max_frames is not None and len(odd) > max_frames:
        odd = odd[np.unique(np.linspace(0, len(odd) - 1, max_frames).round().astype(int))]
    return odd


def smoothness_from_errors(errors: list[float] | np.ndarray) -> float:
    """VBench's ``(255 - mean abs error) / 255`` (1.0 without errors)."""
    e = np.asarray(errors, dtype=np.float64)
    return 1.0 if len(e) == 0 else float((255.0 - e.mean()) / 255.0)


class SmoothnessPredictor:
    """Re-synthesises a frame from its neighbours (see :func:`motion_smoothness`)."""

    def __init__(self, *, method: str = "warp", flow: str = "dis") -> None:
        from vqeval.metrics.motion import _flow_fn

        if method not in ("warp", "average"):
            raise ValueError(f"method must be 'warp' or 'average', got {method!r}")
        self._fn = _flow_fn(flow) if method == "warp" else None
        self._grid: tuple[np.ndarray, np.ndarray] | None = None

    def error(self, prev: np.ndarray, cur: np.ndarray, nxt: np.ndarray) -> float:
        """Mean absolute error (grey levels) of ``cur`` predicted from ``prev``, ``nxt``."""
        a = prev.astype(np.float32)
        b = nxt.astype(np.float32)
        if self._fn is not None:
            h, w = cur.shape[:2]
            if self._grid is None or self._grid[0].shape != (h, w):
                xs, ys = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
                self._grid = tuple(np.meshgrid(xs, ys))  # type: ignore[assignment]
            assert self._grid is not None
            fl = self._fn(prev, nxt)
            pred = 0.5 * (_warp(a, fl, -0.5, self._grid) + _warp(b, fl, 0.5, self._grid))
        else:
            pred = 0.5 * (a + b)
        return float(cv2.absdiff(pred, cur.astype(np.float32)).mean())
