"""Freezes from content change: when and why the content stops changing.

Input is a :class:`metrics.content.ContentSeries` (one entry per pair of
windows ``lag_s`` apart, every ``window_s``). A pair is **still** when less
than the deciding share of the picture changed (:func:`metrics.content.
changed_windows` below 0.5); pairs that span a shot cut are ignored (a cut
says nothing about the shot's own motion), and pairs across which the whole
picture moves fast (:func:`fast_pairs`: a mean optical flow of at least
``FAST_MOTION`` contrast-blur widths per frame) count as changed, since there
the window noise estimate measures the motion itself. From the still pairs:

* ``static_opening_s``: a still run at the start that is followed by change
  (a video that starts still and then moves is not frozen); it does not count.
* ``freeze_ratio`` (0-1): share of the remaining time that is still, using
  the soft stillness ``1 - changed share``.
* the **frozen tail**: the still run that lasts to the end, from the middle
  of its first window (``frozen_tail_start_s``, s from the first frame).

``frozen`` when the tail lasts at least ``max(tail_min_s, tail_fraction x
duration)`` or ``freeze_ratio > freeze_share``. Each still pair also says
*why*: its most-changing blocks changed too little (``"content still"``),
no more than noise (``"motion is noise"``), or only in place
(``"texture moves in place"``: shimmer, twitching, flicker that goes
nowhere); the reason of a frozen stretch is the most common one among its
pairs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
from vqeval.metrics.content import (
    BLOCK_QUANTILE,
    CHANGE_FLOOR,
    LIVELY_CHANGE,
    PROGRESS_RATIO,
    SNR_FLOOR,
    ContentSeries,
    changed_windows,
)
from vqeval.metrics.stats import required_span_s

__all__ = [
    "FAST_MOTION",
    "FREEZE_SHARE",
    "TAIL_FRACTION",
    "TAIL_MIN_S",
    "StillStats",
    "Thresholds",
    "fast_pairs",
    "still_stats",
]

#: Default share of the (non-opening) time still above which a video is frozen.
FREEZE_SHARE = 0.5
#: Default shortest frozen tail, s ...
TAIL_MIN_S = 1.0
#: ... and as a share of the duration (the larger counts).
TAIL_FRACTION = 0.2
#: Mean optical flow, in contrast-blur widths per analysis frame, from which
#: the picture is moving too fast for the window noise estimate: consecutive
#: frames no longer overlap at the blur scale, so their even/odd difference
#: (the noise estimate) is the motion itself. Noise does not move the whole
#: picture: on the dev data no frozen clip's still pairs exceed 1 width/frame.
FAST_MOTION = 2.0

REASON_STILL = "content still"
REASON_NOISE = "motion is noise"
REASON_IN_PLACE = "texture moves in place"


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds of :func:`still_stats` (defaults: docs/evidence.md).

    Attributes:
        change_floor: RMS Weber-contrast change a block needs (0-1).
        snr_floor: change energy / noise energy a block needs (>= 1).
        lively_change: RMS change above which a fluctuation counts as live.
        progress_ratio: change energy / adjacent-window energy for content
            that goes somewhere (1 = stationary fluctuation).
        freeze_share: share of still time (0-1) above which a video is frozen.
        tail_min_s: shortest frozen tail, s.
        tail_fraction: shortest frozen tail as a share of the duration (0-1).
        quantile: block quantile that decides (0.95 = ~5 % of the picture).
        fast_motion: mean flow (px per analysis frame, in units of the
            contrast blur, 1 px at a 160 px long side) from which a pair
            counts as changed whatever its SNR (see :func:`fast_pairs`).
    """

    change_floor: float = CHANGE_FLOOR
    snr_floor: float = SNR_FLOOR
    lively_change: float = LIVELY_CHANGE
    progress_ratio: float = PROGRESS_RATIO
    freeze_share: float = FREEZE_SHARE
    tail_min_s: float = TAIL_MIN_S
    tail_fraction: float = TAIL_FRACTION
    quantile: float = BLOCK_QUANTILE
    fast_motion: float = FAST_MOTION


@dataclass(frozen=True)
class StillStats:
    """Frozen time of a video, from its content change.

    Attributes:
        still: (K,) soft stillness per pair, 0-1 (1 = nothing changed);
            NaN for pairs spanning a cut.
        times_s: (K,) pair mid-times, s from the first frame.
        freeze_ratio: 0-1, share of the time still, static opening excluded.
        static_opening_s: still opening followed by change, s.
        frozen_tail_start_s: start of the still run lasting to the end, s
            from the first frame; ``None`` when the end changes.
        frozen_tail_s: its length, s (0 without one).
        duration_s: the clip's duration, s.
        frozen: the ``frozen`` flag (see module doc).
        reason: why the frozen stretch is still (module doc); ``""`` when
            not frozen.
        start_s: start of the stretch the flag refers to (the tail, or the
            first still pair after the opening), ``None`` when not frozen.
        change_median: median RMS change (Weber contrast) of the deciding
            block over the still pairs, 0 when none.
        snr_median: median SNR over the still pairs, 0 when none.
    """

    still: np.ndarray
    times_s: np.ndarray
    freeze_ratio: float
    static_opening_s: float
    frozen_tail_start_s: float | None
    frozen_tail_s: float
    duration_s: float
    frozen: bool
    reason: str
    start_s: float | None
    change_median: float
    snr_median: float


def _reasons(series: ContentSeries, th: Thresholds) -> list[str]:
    """Per pair, why it did not count as changed: the first test whose
    relaxation would make it count.

    ``"texture moves in place"`` when it would count without the progress
    test (visible change above noise that goes nowhere), else ``"motion is
    noise"`` when it would count without the SNR and progress tests, else
    ``"content still"`` (too little change at all).
    """

    def counts(**relaxed: float) -> np.ndarray:
        kw = {
            "change_floor": th.change_floor,
            "snr_floor": th.snr_floor,
            "lively_change": th.lively_change,
            "progress_ratio": th.progress_ratio,
            "quantile": th.quantile,
            **relaxed,
        }
        return changed_windows(series, **kw) >= 0.5

    in_place = counts(progress_ratio=0.0)
    noise = counts(progress_ratio=0.0, snr_floor=0.0)
    return [
        REASON_IN_PLACE if a else REASON_NOISE if b else REASON_STILL
        for a, b in zip(in_place, noise)
    ]


def fast_pairs(
    series: ContentSeries, flow: Any, long_side_px: int, fast_motion: float = FAST_MOTION
) -> np.ndarray:
    """Per content pair, whether the whole picture moves fast across its span.

    Args:
        series: the content series.
        flow: :class:`metrics.motion.FlowSeries` of the same analysis frames.
        long_side_px: long side of the analysis frames, px (sets the blur width).
        fast_motion: threshold in blur widths per analysis frame.

    Returns:
        (K,) bool: the median over the span's frame pairs of the mean flow
        magnitude is at least ``fast_motion`` blur widths per frame.
    """
    k = len(series)
    if k == 0 or len(flow.dt_s) == 0:
        return np.zeros(k, dtype=bool)
    blur = max(0.5, long_side_px / 160.0)
    px_per_frame = flow.mean_mag * flow.diag_px / 100.0 * flow.dt_s
    t = flow.pair_times_s  # increasing: each span is one slice of the flow pairs
    lo = np.searchsorted(t, series.start_s, side="left")
    hi = np.searchsorted(t, series.end_s, side="right")
    out = np.zeros(k, dtype=bool)
    for i in range(k):
        if hi[i] > lo[i]:
            out[i] = float(np.median(px_per_frame[lo[i] : hi[i]])) >= fast_motion * blur
    return out


def still_stats(
    series: ContentSeries,
    duration_s: float,
    thresholds: Thresholds | None = None,
    fast: np.ndarray | None = None,
) -> StillStats:
    """Freeze statistics of one clip (see module doc).

    Args:
        series: its content change series.
        duration_s: its duration, s (> 0).
        thresholds: decision thresholds (default :class:`Thresholds`).
        fast: (K,) bool, pairs whose whole picture moves fast
            (:func:`fast_pairs`): changed whatever their SNR.
    """
    th = thresholds or Thresholds()
    k = len(series)
    if k == 0:
        empty = np.zeros(0)
        return StillStats(empty, empty, 0.0, 0.0, None, 0.0, duration_s, False, "", None, 0.0, 0.0)
    share = changed_windows(
        series,
        change_floor=th.change_floor,
        snr_floor=th.snr_floor,
        lively_change=th.lively_change,
        progress_ratio=th.progress_ratio,
        quantile=th.quantile,
    )
    if fast is not None and len(fast) == k:
        share = np.where(fast, 1.0, share)
    soft = 1.0 - share
    hard = soft > 0.5
    valid = ~series.transition
    t0 = float(series.start_s[0])
    mid = series.times_s - t0
    # pairs come every window; a pair's time is the middle of its first window
    step = float(np.median(np.diff(series.start_s))) if k > 1 else series.window_s
    first_window_mid = series.start_s - t0 + 0.5 * step
    moving = np.flatnonzero(valid & ~hard)
    opening_idx = int(moving[0]) if len(moving) else 0
    use = valid & (np.arange(k) >= opening_idx)
    freeze_ratio = float(soft[use].mean()) if use.any() else 0.0
    if len(moving) == 0:
        freeze_ratio = 1.0 if valid.any() else 0.0
    static_opening = float(first_window_mid[opening_idx]) if len(moving) and opening_idx else 0.0
    last_moving = int(moving[-1]) if len(moving) else -1
    tail_pairs = np.flatnonzero(valid & (np.arange(k) > last_moving))
    if len(moving) == 0 and valid.any():
        tail_start: float | None = 0.0
    elif len(tail_pairs):
        tail_start = float(first_window_mid[tail_pairs[0]])
    else:
        tail_start = None
    tail_len = max(0.0, duration_s - tail_start) if tail_start is not None else 0.0
    long_tail = tail_len >= required_span_s(duration_s, th.tail_min_s, th.tail_fraction)
    frozen = long_tail or freeze_ratio > th.freeze_share
    reason, start, cmed, smed = "", None, 0.0, 0.0
    if frozen:
        if long_tail:
            part = tail_pairs if len(tail_pairs) else np.flatnonzero(valid)
            start = tail_start
        else:
            part = np.flatnonzero(use & hard)
            start = float(first_window_mid[part[0]]) if len(part) else tail_start
        reasons = _reasons(series, th)
        counts = Counter(reasons[i] for i in part)
        reason = counts.most_common(1)[0][0] if counts else REASON_STILL
        cmed = float(np.median(series.change(th.quantile)[part])) if len(part) else 0.0
        smed = float(np.median(series.snr(th.quantile)[part])) if len(part) else 0.0
    still = np.where(valid, soft, np.nan)
    return StillStats(
        still=still,
        times_s=mid,
        freeze_ratio=freeze_ratio,
        static_opening_s=static_opening,
        frozen_tail_start_s=tail_start,
        frozen_tail_s=tail_len,
        duration_s=duration_s,
        frozen=bool(frozen),
        reason=reason,
        start_s=start,
        change_median=cmed,
        snr_median=smed,
    )
