"""Loops, ping-pong and revisits from a temporal self-similarity matrix.

The idea that separates a loop from a freeze or a slow pan is *return after
departure*: frame ``j`` repeats frame ``i`` when the video first moved away
from ``i`` (some frame between them is far from ``i``) and then came back
(``j`` is close to ``i`` again). With the cosine distance ``D = 1 - S`` of
frame embeddings, for ``i < j``::

    M[i, j] = max over i <= k <= j of D[i, k]      (how far the video departed)
    q[i, j] = 1 - D[i, j] / M[i, j]                  (return completeness, 0..1)

``q`` is only defined when the departure ``M[i, j]`` is at least the
backbone's ``change_distance`` (the content really changed) and ``j - i`` is
at least ``min_lag_s``. A freeze never departs (undefined -> no repetition);
a slow pan or any forward motion departs monotonically (``D[i, j] = M[i, j]``,
``q = 0``); a loop returns (``q`` near 1). ``q`` is relative to the departure,
so it does not depend on how fast the content moves. The departure is
measured on a 3-frame running minimum of each row of ``D`` so that a single
odd frame (a flash, a cut transition) does not count as a departure.

* A **loop** of period ``P`` is a run of pairs ``(i, i + P)`` along one
  diagonal of ``q``; its strength is the mean ``q`` over the longest run of
  pairs with ``q >= 0.5``, times ``min(1, run / min_lag)`` (a second of
  repeated content is full evidence). The period is the smallest lag whose
  strength is a local maximum within 90 % of the best one (the fundamental,
  not a multiple), moved to the lag of least mean distance (over the
  repeating frames) within +-10 %, and refined to sub-frame precision by a
  parabola through the mean distances of the neighbouring diagonals.
* A **ping-pong** (forward then reversed) returns along anti-diagonals
  ``(c - k, c + k)``, from the turning point ``c`` outwards: the run of
  returning pairs must start at the first pair that departed (a hard loop
  crosses anti-diagonals only near lag ``P``). Reversed playback needs two or
  more turning points; one reversal (a head turning back) is ordinary motion.
* A frame is a **revisit** when it returns at least half-way (``q >= 0.5``)
  to some frame at least ``min_lag_s`` earlier.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = [
    "LOOP_STRENGTH_THRESHOLD",
    "RepeatRange",
    "RepetitionResult",
    "detect_repetition",
    "downsample_matrix",
    "return_completeness",
    "scale_frames",
    "self_similarity",
]


def _min3(x: np.ndarray) -> np.ndarray:
    """Running minimum over 3 neighbours, edges repeated (a 1-D erosion)."""
    p = np.concatenate([x[:1], x, x[-1:]])
    return np.minimum(np.minimum(p[:-2], p[1:-1]), p[2:])


#: Loop / ping-pong strength (0-1) at or above which a loop is reported
#: (chosen by ``benchmarks/calibrate_loops.py``; results/loops.md).
LOOP_STRENGTH_THRESHOLD = 0.85
#: Anti-diagonal strength (0-1) at or above which a turning point counts.
TURN_STRENGTH = 0.8
#: Return completeness (0-1) at or above which a pair counts as a return.
RETURN_THRESHOLD = 0.5
#: Fraction (0-1) of the frames between a pair that must be away from the
#: first (:func:`return_completeness`): a loop departs for much of its
#: period, a blink or a gesture that comes straight back does not (chosen by
#: ``benchmarks/calibrate_loops.py``).
MIN_AWAY = 0.15
#: Shortest loop period reported (s) when a longer lag repeats it: the
#: fundamental of a sub-second loop, not its multiple.
MIN_PERIOD_S = 0.3
#: Strength (0-1) at or below which the repetition score is 100.
_SCORE_FLOOR = 0.5


@dataclass(frozen=True)
class RepeatRange:
    """Frames ``[start, end]`` repeating frames ``[source_start, source_end]``.

    Attributes:
        start, end: analysis frame indices (inclusive) of the repeat.
        source_start, source_end: the earlier frames they repeat.
        start_s, end_s, source_start_s: the same in seconds.
        completeness: mean return completeness over the range, 0-1.
    """

    start: int
    end: int
    source_start: int
    source_end: int
    start_s: float
    end_s: float
    source_start_s: float
    completeness: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "start": self.start,
            "end": self.end,
            "source_start": self.source_start,
            "source_end": self.source_end,
            "start_s": round(self.start_s, 3),
            "end_s": round(self.end_s, 3),
            "source_start_s": round(self.source_start_s, 3),
            "completeness": round(self.completeness, 3),
        }


@dataclass(frozen=True)
class RepetitionResult:
    """Outcome of :func:`detect_repetition`.

    Attributes:
        score: 0-100, 100 = no repetition; ``100 * (1 - s) / 0.5`` clipped
            to 0-100, with ``s`` the larger of loop and ping-pong strength
            (strength 0.85, the detection threshold, scores 30).
        loop_detected: loop strength >= ``strength_threshold`` or ``pingpong``.
        loop_period_frames: period in analysis frames (sub-frame precision),
            ``None`` without a loop.
        loop_period_s: the same in seconds.
        loop_strength: 0-1, strength of the best diagonal (see module doc).
        pingpong: reversed playback: ping-pong strength >=
            ``strength_threshold``, with two or more turning points (anti-diagonals
            of strength >= :data:`TURN_STRENGTH`).
        pingpong_strength: 0-1, strength of the best anti-diagonal (0 when
            fewer than two turning points: one reversal is ordinary motion).
        revisit_ratio: 0-1, fraction of frames that return at least half-way
            to content seen at least ``min_lag_s`` earlier.
        mean_similarity: mean cosine similarity over all frame pairs, -1..1.
        repeat_ranges: frame ranges repeating earlier ones (at the period).
        best_lag_frames: lag of the strongest diagonal even without a loop.
        pingpong_start_s: time (s) of the first frame after the first
            turning point of a ping-pong (``None`` without one).
    """

    score: float
    loop_detected: bool
    loop_period_frames: float | None
    loop_period_s: float | None
    loop_strength: float
    pingpong: bool
    pingpong_strength: float
    revisit_ratio: float
    mean_similarity: float
    repeat_ranges: tuple[RepeatRange, ...] = field(default_factory=tuple)
    best_lag_frames: int | None = None
    pingpong_start_s: float | None = None


def self_similarity(embeddings: np.ndarray) -> np.ndarray:
    """Cosine self-similarity matrix.

    Args:
        embeddings: (T, d) float, rows L2-normalised (any backbone output).

    Returns:
        (T, T) float64, symmetric, values in -1..1 (1 = same content).
    """
    e = np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2:
        raise ValueError(f"embeddings must be (T, d), got shape {e.shape}")
    n = np.linalg.norm(e, axis=1, keepdims=True)
    e = e / np.maximum(n, 1e-12)
    return np.clip(e @ e.T, -1.0, 1.0)


def return_completeness(
    ssm: np.ndarray, change_distance: float, min_away: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Return completeness ``q`` and validity mask from a self-similarity matrix.

    Args:
        ssm: (T, T) cosine similarity, -1..1.
        change_distance: cosine distance a departure must reach (> 0).
        min_away: fraction (0-1) of the frames between ``i`` and ``j`` that
            must be at least ``change_distance`` away from frame ``i``: the
            departure is sustained, not a brief excursion (a blink, a gesture,
            a flash) that comes straight back.

    Returns:
        ``(q, valid)``: (T, T) float64 in 0..1 (upper triangle; 0 elsewhere)
        and (T, T) bool, True where ``i < j`` and the video departed from
        frame ``i`` by at least ``change_distance`` before frame ``j``, for
        at least ``min_away`` of the frames between them.
    """
    d = np.clip(1.0 - np.asarray(ssm, dtype=np.float64), 0.0, 2.0)
    t = len(d)
    q = np.zeros_like(d)
    valid = np.zeros(d.shape, dtype=bool)
    for i in range(t - 1):
        row = d[i, i:]
        robust = _min3(row) if len(row) >= 3 else row
        dep = np.maximum.accumulate(robust)
        ok = dep >= change_distance
        if min_away > 0.0:
            away = np.cumsum(robust >= change_distance) / np.arange(1, len(row) + 1)
            ok &= away >= min_away
        ok[0] = False
        valid[i, i:] = ok
        q[i, i:] = np.where(ok, np.clip(1.0 - row / np.maximum(dep, 1e-12), 0.0, 1.0), 0.0)
    return q, valid


def _best_run(mask: np.ndarray, values: np.ndarray) -> tuple[int, int, float]:
    """Longest run of True in ``mask``: (start, length, mean value over it)."""
    if not mask.any():
        return 0, 0, 0.0
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    starts, ends = edges[::2], edges[1::2]
    k = int(np.argmax(ends - starts))
    s, e = int(starts[k]), int(ends[k])
    return s, e - s, float(values[s:e].mean())


def _runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(m))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2]) if b - a >= min_len]


def _strength(mean_q: float, run: int, full: int) -> float:
    return mean_q * min(1.0, run / max(full, 1))


def detect_repetition(
    embeddings: np.ndarray,
    fps: float,
    *,
    change_distance: float = 0.05,
    min_lag_s: float = 1.0,
    ssm: np.ndarray | None = None,
    times_s: np.ndarray | None = None,
    min_away: float = MIN_AWAY,
    strength_threshold: float = LOOP_STRENGTH_THRESHOLD,
    turn_strength: float = TURN_STRENGTH,
    return_threshold: float = RETURN_THRESHOLD,
    min_period_s: float = MIN_PERIOD_S,
) -> RepetitionResult:
    """Detect loops, ping-pong and revisits in a frame-embedding trajectory.

    Args:
        embeddings: (T, d) L2-normalised frame embeddings in time order.
        fps: analysis frame rate in frames/s (> 0).
        change_distance: cosine distance (0-2) that counts as a real change of
            content for the backbone that produced ``embeddings``
            (``Backbone.change_distance``).
        min_lag_s: shortest loop period / revisit delay in seconds.
        ssm: precomputed :func:`self_similarity` of ``embeddings`` (optional).
        times_s: (T,) frame timestamps in seconds (optional; default
            ``arange(T) / fps``). Periods and ranges in seconds are measured
            on them, which stays exact when frames were dropped unevenly.
        min_away: see :data:`MIN_AWAY` (0-1).
        strength_threshold: loop / ping-pong strength (0-1) at or above
            which a loop is reported (:data:`LOOP_STRENGTH_THRESHOLD`).
        turn_strength: anti-diagonal strength (0-1) at which a turning
            point counts (:data:`TURN_STRENGTH`).
        return_threshold: return completeness (0-1) at which a pair counts
            as a return (:data:`RETURN_THRESHOLD`).
        min_period_s: shortest period reported, s (:data:`MIN_PERIOD_S`).

    Returns:
        :class:`RepetitionResult`. Identical frames give no loop and
        ``mean_similarity`` 1; fewer than 3 frames give score 100.
    """
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    s = self_similarity(embeddings) if ssm is None else np.asarray(ssm, dtype=np.float64)
    t = len(s)
    mean_sim = float(s.mean()) if t else 1.0
    w = max(2, round(min_lag_s * fps))
    if t < w + 2:
        return RepetitionResult(100.0, False, None, None, 0.0, False, 0.0, 0.0, mean_sim)

    q, valid = return_completeness(s, change_distance, min_away)
    ret = valid & (q >= return_threshold)

    # ---- diagonals (loops)
    lag_strength = np.zeros(t)
    w_short = max(2, int(np.ceil(min_period_s * fps)))
    for lag in range(min(w, w_short), t - 1):
        dq = np.diagonal(q, lag)
        dr = np.diagonal(ret, lag)
        _, ln, mq = _best_run(dr, dq)
        lag_strength[lag] = _strength(mq, ln, w)
    # lags below min_lag only name the fundamental of a loop found above it
    short = lag_strength.copy()
    lag_strength[:w] = 0.0
    best = float(lag_strength.max())
    period: int | None = None
    if best > 0:
        cands = [
            lag
            for lag in range(w, t - 1)
            if lag_strength[lag] >= 0.9 * best
            and lag_strength[lag] >= lag_strength[lag - 1]
            and (lag + 1 >= t - 1 or lag_strength[lag] >= lag_strength[lag + 1])
        ]
        period = min(cands) if cands else int(np.argmax(lag_strength))
        # a loop shorter than min_lag also repeats at its multiples: report
        # the fundamental when a whole fraction of the lag repeats as strongly
        for k in (4, 3, 2):
            sub = round(period / k)
            if sub >= w_short and short[sub] >= 0.9 * lag_strength[period]:
                period = sub
                break
    loop_strength = float(short[period]) if period is not None else 0.0

    # ---- anti-diagonals (ping-pong): pairs (a, b) with a + b = const, b - a >= 2
    anti_best = 0.0
    turns: list[int] = []
    for ssum in range(4, 2 * t - 5):
        a = np.arange(max(0, ssum - (t - 1)), (ssum - 2) // 2 + 1)
        if len(a) == 0:
            continue
        b = ssum - a
        keep = b - a >= 2
        a, b = a[keep][::-1], b[keep][::-1]  # from the turning point outwards
        if len(a) < 2:
            continue
        qa = q[a, b]
        ra = ret[a, b]
        va = valid[a, b]
        if not va.any():
            continue
        # a reversal mirrors from the turning point outwards: the run must
        # start at the first pair that departed (a hard loop only crosses an
        # anti-diagonal near lag P, after valid pairs that do not return)
        i0 = int(np.argmax(va))
        ln = int(np.argmin(ra[i0:])) if not ra[i0:].all() else len(ra) - i0
        if ln == 0:
            continue
        mq = float(qa[i0 : i0 + ln].mean())
        st = _strength(mq, ln, max(2, w // 2))
        if st >= turn_strength:
            turns.append(ssum)
        anti_best = max(anti_best, st)
    # distinct turning points: runs of passing anti-diagonals (gaps <= 2 closed)
    n_turns = 0
    last = -(10**9)
    for ssum in turns:
        if ssum - last > 3:
            n_turns += 1
        last = ssum
    # one reversal is ordinary motion (a head turning back); reversed playback
    # turns at least twice
    pingpong = anti_best >= strength_threshold and n_turns >= 2
    first_turn = (turns[0] + 1) // 2 + 1 if turns else None
    if n_turns < 2:
        anti_best = 0.0

    loop_detected = loop_strength >= strength_threshold or pingpong

    # ---- period refinement (sub-frame) from the mean distance along diagonals
    period_f: float | None = None
    ranges: list[RepeatRange] = []
    period_s: float | None = None
    tt = np.asarray(times_s, dtype=np.float64) if times_s is not None else np.arange(t) / fps
    if len(tt) != t:
        raise ValueError(f"times_s has {len(tt)} entries for {t} frames")
    if loop_detected and period is not None:
        d = 1.0 - s
        dq = np.diagonal(q, period)
        dr = np.diagonal(ret, period)
        st, ln, _ = _best_run(dr, dq)
        rows = np.arange(st, st + max(ln, 1))

        def mean_d(lag: int) -> float:
            # distance along the diagonal, over the frames that repeat
            if lag < max(1, w_short // 2) or lag >= t - 1:
                return np.inf
            i = rows[rows + lag < t]
            return float(d[i, i + lag].mean()) if len(i) >= 2 else np.inf

        # the integer lag of least distance within +-10 % of the chosen one
        win = max(1, round(0.1 * period))
        p = min(range(period - win, period + win + 1), key=mean_d)
        period_f = float(p)
        y0, y1, y2 = mean_d(p - 1), mean_d(p), mean_d(p + 1)
        den = y0 - 2 * y1 + y2
        frac = 0.0
        if np.isfinite(den) and den > 1e-12:
            frac = float(np.clip(0.5 * (y0 - y2) / den, -0.5, 0.5))
        period_f = p + frac
        # seconds from the timestamps (robust to uneven frame dropping)
        i = rows[rows + p < t]
        step = float(np.median(np.diff(tt))) if t > 1 else 1.0 / fps
        span = float(np.median(tt[i + p] - tt[i])) if len(i) else p / fps
        period_s = span + frac * step
        for a, b in _runs(dr, max(2, w // 2)):
            ranges.append(
                RepeatRange(
                    start=a + period,
                    end=b - 1 + period,
                    source_start=a,
                    source_end=b - 1,
                    start_s=float(tt[a + period]),
                    end_s=float(tt[b - 1 + period]),
                    source_start_s=float(tt[a]),
                    completeness=float(dq[a:b].mean()),
                )
            )

    # ---- revisits: frames j returning half-way to a frame >= min_lag earlier
    lagm = np.arange(t)[None, :] - np.arange(t)[:, None]
    revisit = (ret & (lagm >= w)).any(axis=0)
    revisit_ratio = float(revisit.mean())

    strength = max(loop_strength, anti_best)
    score = 100.0 * float(np.clip((1.0 - strength) / (1.0 - _SCORE_FLOOR), 0.0, 1.0))
    return RepetitionResult(
        score=round(score, 2),
        loop_detected=bool(loop_detected),
        loop_period_frames=None if period_f is None else round(period_f, 3),
        loop_period_s=None if period_s is None else round(period_s, 4),
        loop_strength=round(loop_strength, 4),
        pingpong=bool(pingpong),
        pingpong_strength=round(anti_best, 4),
        revisit_ratio=round(revisit_ratio, 4),
        mean_similarity=round(mean_sim, 4),
        repeat_ranges=tuple(ranges),
        best_lag_frames=period,
        pingpong_start_s=(
            round(float(tt[min(first_turn, t - 1)]), 3)
            if pingpong and first_turn is not None
            else None
        ),
    )


def scale_frames(result: RepetitionResult, group: int) -> RepetitionResult:
    """``result`` of a trajectory whose rows each average ``group`` frames,
    with its frame counts and indices in frames (seconds are unchanged)."""
    ranges = tuple(
        replace(
            r,
            start=r.start * group,
            end=(r.end + 1) * group - 1,
            source_start=r.source_start * group,
            source_end=(r.source_end + 1) * group - 1,
        )
        for r in result.repeat_ranges
    )
    period = result.loop_period_frames
    best = result.best_lag_frames
    return replace(
        result,
        loop_period_frames=None if period is None else round(period * group, 3),
        best_lag_frames=None if best is None else best * group,
        repeat_ranges=ranges,
    )


def downsample_matrix(m: np.ndarray, max_size: int = 64, decimals: int = 3) -> list[list[float]]:
    """Block-average a square matrix to at most ``max_size`` x ``max_size``.

    Returns:
        Nested lists (JSON-ready) rounded to ``decimals``; values keep the
        range of ``m`` (cosine similarity: -1..1).
    """
    m = np.asarray(m, dtype=np.float64)
    n = len(m)
    if n == 0:
        return []
    k = min(n, max_size)
    edges = np.linspace(0, n, k + 1).round().astype(int)
    rows = np.add.reduceat(m, edges[:-1], axis=0) / np.diff(edges)[:, None]
    out = np.add.reduceat(rows, edges[:-1], axis=1) / np.diff(edges)[None, :]
    return np.round(out, decimals).tolist()
