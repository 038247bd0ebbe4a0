"""Replays: frames that repeat earlier frames more closely than neighbouring
frames differ from each other.

A generator that loops a stretch of slow or nearly still content (a talking
head, a perched bird, a slow pan) hardly *departs* between repeats, so the
return-after-departure rule of :mod:`metrics.repetition` has nothing to
measure. What gives such a loop away is that the repeats are far more alike
than the video's own frame-to-frame noise allows: frame ``i + P`` matches
frame ``i`` better than frame ``i + 1`` does, for every frame of the
repeated stretch, and the jumps back are periodic.

With the cosine distance ``D = 1 - S`` of frame embeddings and the local
*neighbour distance* ``n(i)`` (running median over about a second of
``D[i, i + s]``, ``s`` the frames in ``neighbour_step_s``: the motion plus
noise over that step), a pair ``(i, j)`` is a **tight match** when::

    D[i, j] < tight_ratio * max(n(i), n(j))   and   D[i, j] < max_distance

(the second: a replay is a copy, closer than :data:`MATCH_DISTANCE` of the
backbone's change distances, not merely less unlike than frames of fast
content a step apart).

The step matters for slow content: between consecutive analysis frames a
talking head moves about as much as the codec's noise, so a replayed frame
is no closer to its copy than to its neighbour; over a few frames the motion
adds up while the noise does not, and an exact replay stands out against it.
The step and the ratio are chosen together (``benchmarks/calibrate_loops.py``).

* A **replayed loop** of period ``P`` is a run of tight matches along the
  diagonal ``(i, i + P)`` lasting at least ``min_run_s``. The period is the
  lag with the longest run (a loop of period ``P`` also matches at ``2P``,
  ``3P``, ... over shorter runs), so sub-second periods are found as they are.
* **Jumps back** (:func:`jumps_back`): the seams of a stretch replayed with
  hard cuts, each a step far larger than the neighbour distance that lands
  on a frame seen at least ``MIN_PERIOD_S`` before; :data:`MIN_JUMPS` evenly
  spaced ones make a loop. This
  catches loops whose content moves less than the frames' noise between
  seams.
* A **replayed ping-pong** (a stretch played forward then backward) is a run
  of tight matches along an anti-diagonal ``(c - k, c + k)`` from its turning
  point ``c`` outwards, reaching ``min_run_s`` on each side of it, at two or
  more turning points (one reversal is ordinary motion).

Natural motion never matches within its own noise for a second: at the
chosen ratio 0.5 against the change over a quarter second, no healthy clip
of the real dev sets or of the derived controls reaches ``MIN_RUN_S``
(``benchmarks/results/loops.md``). A still picture (every ``n(i)`` at the noise floor)
matches nothing *beyond* its noise, so a freeze is not a replay; frames
identical to the last bit (``n(i)`` below ``1e-6``) are never counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import median_filter
from vqeval.metrics.stats import longest_run

__all__ = [
    "BACK_RATIO",
    "JUMP_FACTOR",
    "MATCH_DISTANCE",
    "MIN_JUMPS",
    "MIN_RUN_S",
    "NEIGHBOUR_STEP_S",
    "TIGHT_RATIO",
    "JumpsBack",
    "ReplayResult",
    "detect_replay",
    "jumps_back",
    "neighbour_distance",
]

#: A pair matches "beyond noise" when its distance is below this fraction
#: (0-1) of the larger local neighbour distance (chosen by
#: ``benchmarks/calibrate_loops.py``; the grid stops at 0.7, above which a
#: match is no longer clearly beyond the neighbours' change).
TIGHT_RATIO = 0.5
#: Shortest run of tight matches (s) that counts as a replay (chosen by
#: ``benchmarks/calibrate_loops.py``).
MIN_RUN_S = 1.0
#: Step (s) over which the neighbour distance is taken, rounded to whole
#: analysis frames, at least one (chosen by ``benchmarks/calibrate_loops.py``
#: with :data:`TIGHT_RATIO`).
NEIGHBOUR_STEP_S = 0.25
#: A tight match must also be a copy: closer than this many of the
#: backbone's change distances (x; with the pixel backbone's 0.05, a cosine
#: distance of 0.1). Fast content whose frames a neighbour step apart are
#: entirely different (cosine distance 0.6) can come back to "only" 0.2 by
#: chance, which is tight against that change but no replay. Chosen by
#: ``benchmarks/calibrate_loops.py`` as the middle of a plateau: no dev clip
#: changes its flag anywhere on the grid 1-40 (40: no limit).
MATCH_DISTANCE = 2.0
#: Shortest replay period (s): below it the frames are neighbours.
MIN_PERIOD_S = 0.3
#: Neighbour distances below this (cosine distance) are bit-identical frames.
_IDENTICAL = 1e-6


@dataclass(frozen=True)
class ReplayResult:
    """Outcome of :func:`detect_replay`.

    Attributes:
        detected: a replayed loop or ping-pong was found.
        kind: ``"loop"`` (hard jumps back), ``"pingpong"`` (forward and
            backward) or ``None``.
        period_frames: loop period (lag of the best diagonal) or, for a
            ping-pong, the median distance between turning points, in
            analysis frames; ``None`` when nothing was found.
        period_s: the same in seconds.
        start: first analysis frame that replays earlier content.
        start_s: the same in seconds.
        run_s: duration (s) of the longest run of tight matches (for a
            ping-pong: the longest run about one turning point, both sides).
        ratio: median over that run of ``D / max(n(i), n(j))`` (0 = exact
            copies; 1 = as different as frames one neighbour step apart).
        turns: turning points found (ping-pong; 0 for a loop).
        step_s: the neighbour step used, s (whole analysis frames; 0 when
            the clip was too short to look).
    """

    detected: bool
    kind: str | None
    period_frames: float | None
    period_s: float | None
    start: int | None
    start_s: float | None
    run_s: float
    ratio: float | None
    turns: int = 0
    step_s: float = 0.0


NOTHING = ReplayResult(False, None, None, None, None, None, 0.0, None)


def neighbour_distance(d: np.ndarray, fps: float, step: int = 1) -> np.ndarray:
    """Local neighbour distance ``n(i)``: running median (about 1 s wide) of
    ``D[i, i + step]``.

    Args:
        d: (T, T) cosine distance matrix (0-2), T >= 2.
        fps: analysis frame rate, frames/s (> 0).
        step: frames between the compared pair (>= 1; at most T - 1 is used).

    Returns:
        (T,) float64, cosine distance (the last frames repeat the last value).
    """
    k = max(1, min(int(step), len(d) - 1))
    nb = np.diagonal(d, k).astype(np.float64)
    nb = np.concatenate([nb, np.repeat(nb[-1:], k)])
    width = max(3, round(fps) | 1)
    return median_filter(nb, size=width, mode="nearest")


def detect_replay(
    d: np.ndarray,
    fps: float,
    *,
    times_s: np.ndarray | None = None,
    tight_ratio: float = TIGHT_RATIO,
    min_run_s: float = MIN_RUN_S,
    min_period_s: float = MIN_PERIOD_S,
    neighbour_step_s: float = NEIGHBOUR_STEP_S,
    max_distance: float = float("inf"),
) -> ReplayResult:
    """Find a loop or ping-pong whose repeats match beyond the frames' noise.

    Args:
        d: (T, T) cosine distance matrix of frame embeddings (0-2).
        fps: analysis frame rate, frames/s (> 0).
        times_s: (T,) timestamps in seconds (default ``arange(T) / fps``).
        tight_ratio: see :data:`TIGHT_RATIO` (0-1).
        min_run_s: see :data:`MIN_RUN_S` (s).
        min_period_s: see :data:`MIN_PERIOD_S` (s).
        neighbour_step_s: see :data:`NEIGHBOUR_STEP_S` (s, >= 0; at least
            one frame).
        max_distance: a tight match must also be closer than this cosine
            distance (0-2; default no limit): a copy, not merely less unlike
            than frames of fast content a step apart.

    Returns:
        :class:`ReplayResult`; ``detected`` False with fewer frames than one
        shortest period plus one run.
    """
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    d = np.asarray(d, dtype=np.float64)
    t = len(d)
    lag0 = max(2, int(np.ceil(min_period_s * fps)))
    run_min = max(3, round(min_run_s * fps))
    if t < lag0 + run_min + 1:
        return NOTHING
    tt = np.asarray(times_s, dtype=np.float64) if times_s is not None else np.arange(t) / fps
    step_frames = max(1, round(neighbour_step_s * fps))
    step_s = round(step_frames / fps, 4)
    n = neighbour_distance(d, fps, step_frames)
    moving = n > _IDENTICAL

    # ---- diagonals: (i, i + L)
    best_len, best_lag, best_start = 0, 0, 0
    for lag in range(lag0, t - run_min + 1):
        i = np.arange(t - lag)
        floor = np.maximum(n[i], n[i + lag])
        dd = d[i, i + lag]
        tight = (dd < tight_ratio * floor) & (dd < max_distance) & moving[i] & moving[i + lag]
        start, ln = longest_run(tight)
        if ln > best_len:
            best_len, best_lag, best_start = ln, lag, start

    # ---- anti-diagonals: (c - k, c + k) from the turning point outwards
    turns: list[tuple[int, int, int]] = []  # (a + b, pairs, first frame of the reversal)
    for s in range(2, 2 * t - 3):
        # pairs (a, b), a + b = s, b - a >= 1, nearest the turning point first
        a = np.arange((s - 1) // 2, max(-1, s - t), -1)
        b = s - a
        keep = (b - a >= 1) & (b < t) & (a >= 0)
        a, b = a[keep], b[keep]
        if len(a) < 2:
            continue
        floor = np.maximum(n[a], n[b])
        dd = d[a, b]
        tight = (dd < tight_ratio * floor) & (dd < max_distance) & moving[a] & moving[b]
        # the run must start at the turning point (the first one or two pairs)
        first = int(np.argmax(~tight)) if not tight.all() else len(tight)
        if first == 0 and len(tight) > 1 and tight[1]:
            first = 1 + (int(np.argmax(~tight[1:])) if not tight[1:].all() else len(tight) - 1)
        span = int(b[first - 1] - a[first - 1]) if first > 0 else 0
        if span >= 2 * run_min:
            turns.append((s, span, int((s + 1) // 2)))
    # distinct turning points: neighbouring sums belong to one turn
    groups: list[tuple[int, int, int]] = []
    for s, span, frame in turns:
        if groups and s - groups[-1][0] <= 2:
            if span > groups[-1][1]:
                groups[-1] = (s, span, frame)
            continue
        groups.append((s, span, frame))

    loop_ok = best_len >= run_min
    pp_ok = len(groups) >= 2
    if not (loop_ok or pp_ok):
        return ReplayResult(
            False, None, None, None, None, None, round(best_len / fps, 3), None, len(groups),
            step_s,
        )  # fmt: skip
    if loop_ok and (not pp_ok or best_len >= max(g[1] for g in groups)):
        i = np.arange(best_start, best_start + best_len)
        floor = np.maximum(n[i], n[i + best_lag])
        ratio = float(np.median(d[i, i + best_lag] / np.maximum(floor, _IDENTICAL)))
        start = best_start + best_lag
        step = float(np.median(np.diff(tt))) if t > 1 else 1.0 / fps
        span = float(np.median(tt[i + best_lag] - tt[i])) if len(i) else best_lag * step
        return ReplayResult(
            True,
            "loop",
            float(best_lag),
            round(span, 4),
            int(start),
            round(float(tt[start]), 3),
            round(best_len / fps, 3),
            round(ratio, 3),
            0,
            step_s,
        )
    centres = np.array([g[0] / 2.0 for g in groups])
    period = float(np.median(np.diff(centres))) if len(centres) > 1 else None
    top = max(groups, key=lambda g: g[1])
    first_turn = groups[0]
    # the first replayed frame: just after the first turning point
    start = min(t - 1, int(np.ceil(first_turn[0] / 2.0)) + 1)
    return ReplayResult(
        True,
        "pingpong",
        None if period is None else round(period, 3),
        None if period is None else round(period / fps, 4),
        start,
        round(float(tt[start]), 3),
        round(top[1] / fps, 3),
        None,
        len(groups),
        step_s,
    )


#: A step between neighbouring frames is a jump when it is at least this many
#: times the local neighbour distance (running median, about 2 s) (chosen by
#: ``benchmarks/calibrate_loops.py``, as the two below).
JUMP_FACTOR = 5.0
#: A jump lands *back* when the frame after it is closer than this fraction
#: (0-1) of the jump to a frame at least :data:`MIN_PERIOD_S` earlier.
BACK_RATIO = 0.35
#: Evenly spaced jumps back to the same content that make a loop.
MIN_JUMPS = 4


@dataclass(frozen=True)
class JumpsBack:
    """Outcome of :func:`jumps_back`.

    Attributes:
        detected: at least ``min_jumps`` jumps land back on the same earlier
            content, evenly spaced.
        count: jumps in the longest such chain (0 without two).
        jumps: jumps of any kind (steps of ``jump_factor`` or more).
        period_s: median time (s) between the jumps of the chain.
        start_s: time (s) of the first frame after the chain's first jump.
        ratio: median over the jumps back of (distance to the earlier frame
            / size of the jump), 0-1; ``None`` without one.
    """

    detected: bool
    count: int
    jumps: int
    period_s: float | None
    start_s: float | None
    ratio: float | None


def jumps_back(
    d: np.ndarray,
    fps: float,
    *,
    times_s: np.ndarray | None = None,
    jump_factor: float = JUMP_FACTOR,
    back_ratio: float = BACK_RATIO,
    min_jumps: int = MIN_JUMPS,
    min_period_s: float = MIN_PERIOD_S,
) -> JumpsBack:
    """Hard jumps back to earlier content: the seams of a replayed stretch.

    A loop of slow content whose frames barely differ from their neighbours
    still gives itself away at every seam: the step from the stretch's last
    frame back to its first is a jump many times the neighbour distance, and
    the frame it lands on matches a frame one period earlier far better than
    the frame it came from. A cut to new content jumps too, but lands on
    nothing seen before.

    Args:
        d: (T, T) cosine distance matrix of frame embeddings (0-2).
        fps: analysis frame rate, frames/s (> 0).
        times_s: (T,) timestamps in seconds (default ``arange(T) / fps``).
        jump_factor: see :data:`JUMP_FACTOR` (> 1).
        back_ratio: see :data:`BACK_RATIO` (0-1).
        min_jumps: see :data:`MIN_JUMPS` (>= 1).
        min_period_s: a landing frame must match a frame at least this
            long (s) before the jump (a flash that comes straight back is
            not a loop).

    Returns:
        :class:`JumpsBack`.
    """
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    d = np.asarray(d, dtype=np.float64)
    t = len(d)
    tt = np.asarray(times_s, dtype=np.float64) if times_s is not None else np.arange(t) / fps
    gap = max(2, int(np.ceil(min_period_s * fps)))
    if t < gap + 3:
        return JumpsBack(False, 0, 0, None, None, None)
    step = np.diagonal(d, 1).astype(np.float64)
    width = max(3, round(2.0 * fps) | 1)
    base = median_filter(step, size=width, mode="nearest")
    jumps = np.flatnonzero((step >= jump_factor * np.maximum(base, _IDENTICAL)) & (step > 0))
    landed: list[tuple[int, float]] = []
    for i in jumps:
        j = i + 1  # the frame the jump lands on
        if i - gap + 1 <= 0:
            continue
        back = float(d[j, : i - gap + 1].min())
        if back < back_ratio * step[i]:
            landed.append((int(j), back / step[i]))
    # a loop lands on the same frame every time: keep the longest chain of
    # landings, each matching the one before (as closely as the first
    # matched earlier content), evenly spaced (within 15 % or one frame)
    best: list[int] = []
    for a in range(len(landed)):
        chain = [a]
        for b in range(a + 1, len(landed)):
            ja, jb = landed[chain[-1]][0], landed[b][0]
            if d[jb, ja] >= back_ratio * step[jb - 1]:
                continue
            if len(chain) >= 2:
                prev = ja - landed[chain[-2]][0]
                if abs((jb - ja) - prev) > max(1.0, 0.15 * prev):
                    continue
            chain.append(b)
        if len(chain) > len(best):
            best = chain
    count = len(best) if len(best) >= 2 else 0
    if count == 0:
        return JumpsBack(False, 0, len(jumps), None, None, None)
    lands = np.array([landed[k][0] for k in best])
    return JumpsBack(
        count >= min_jumps,
        count,
        len(jumps),
        round(float(np.median(np.diff(tt[lands]))), 4),
        round(float(tt[lands[0]]), 3),
        round(float(np.median([landed[k][1] for k in best])), 4),
    )
