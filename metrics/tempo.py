"""Tempo of one clip against another: how fast a method shows a baseline's content.

Pure functions over arrays (no I/O). ``vqeval compare`` pairs a method's clip
with the baseline's clip of the same key and asks two questions:

* **tempo**: the slope of the best monotone, linear time-warp that maps the
  method's frames onto the baseline's (baseline time = offset + tempo x
  method time). 1.0 = same speed, 0.5 = the method needs twice as long to
  show the same content, 2.0 = twice as fast. It is read from a compact
  per-frame signature (:func:`frame_signature`: an 8 x 6 grid of mean luma,
  48 bytes a frame) that travels in the results record. ``None`` when the
  content does not correspond (different seeds or scenes) or when the
  baseline's content does not change enough to tell speeds apart.
* **motion ratio**: the method's mean optical-flow speed over the baseline's
  (both in % of the frame diagonal per second); always defined, but a weaker
  witness: two seeds of one prompt can move differently.

:func:`slow_motion` turns them into the ``slow_motion`` pair flag with the
thresholds of :data:`SLOW_TEMPO` and :data:`SLOW_MOTION_RATIO` (chosen by the
written procedure in ``benchmarks/tempo_evidence.py``; numbers in
``docs/metrics.md``, section "Tempo and slow motion (compare)").
"""

from __future__ import annotations

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

#: Signature grid (columns x rows) of mean luma; 48 bytes per analysis frame.
SIG_W, SIG_H = 8, 6
SIG_SIZE = SIG_W * SIG_H
#: At most this many signature rows are stored per video (longer clips are
#: averaged in consecutive groups, like the self-similarity trajectory).
SIG_MAX_ROWS = 1200
#: The alignment reads at most this many rows per clip (longer signatures are
#: averaged in consecutive groups first: a 40-minute clip is aligned at about
#: one row per 6 s; a pair then takes well under a second).
ALIGN_MAX_ROWS = 400
#: Tempo hypotheses searched: log-spaced slopes from 1/8 to 4.
TEMPO_MIN, TEMPO_MAX, TEMPO_STEPS = 0.125, 4.0, 121
#: Offsets searched: up to this fraction of the baseline's duration either way.
MAX_OFFSET_FRACTION = 0.25
#: A warp must explain at least this fraction of the method's duration (its
#: frames land inside the baseline): a short stretch of the method matched
#: to a still part of the baseline is not a tempo.
MIN_COVERAGE = 0.5
#: Alternatives at least this far away (ratio) are "another tempo" for the margin.
ALT_RATIO = 1.4
#: Tempo is reported (not ``None``) when :attr:`TempoEstimate.confidence`
#: reaches this (0-1). Chosen by the written procedure (balanced accuracy,
#: plateau middle; ``benchmarks/tempo_evidence.py``): derived pairs whose best
#: slope is right against wrong slopes and pairs of unrelated clips (plateau
#: 0.0055-0.0065; unrelated clips score 0.0016 at their 90th percentile).
MIN_CONFIDENCE = 0.0058
#: ``slow_motion`` when tempo <= this (tempo known); same procedure on the
#: derived pairs with a tempo (plateau 0.67-0.91).
SLOW_TEMPO = 0.79
#: ... or, when tempo is ``None``, when the motion ratio <= this and the
#: baseline moves at least :data:`MIN_BASELINE_MOTION` %diag/s; same
#: procedure on the pairs without a tempo (derived, and the dev set's real
#: same-prompt pairs; plateau 0.42-0.67). A weaker witness: see
#: ``docs/metrics.md``.
SLOW_MOTION_RATIO = 0.54
#: Below this mean flow speed (%diag/s) a baseline counts as still: its
#: motion ratio says nothing (fixed, not calibrated; the dev set's stillest
#: healthy clip moves at 0.23).
MIN_BASELINE_MOTION = 0.2
#: Motion speeds below this (%diag/s) count as this in the ratio (a still
#: clip is not infinitely slower than another still clip).
MOTION_FLOOR = 0.02


# --------------------------------------------------------------------------- signature


def frame_signature(gray: np.ndarray) -> np.ndarray:
    """Compact signature of one frame.

    Args:
        gray: (H, W) uint8 luma, any size >= 1 x 1.

    Returns:
        (SIG_SIZE,) uint8: mean luma (0-255) of an SIG_W x SIG_H grid of cells,
        row by row (area average, aspect ratio ignored).
    """
    g = np.asarray(gray)
    if g.ndim == 3:
        g = cv2.cvtColor(g, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(g, (SIG_W, SIG_H), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small, dtype=np.uint8).ravel()


def encode_signatures(sigs: np.ndarray) -> list[str]:
    """Rows of (T, SIG_SIZE) uint8 signatures as base64 strings (64 characters each)."""
    s = np.asarray(sigs, dtype=np.uint8).reshape(len(sigs), -1)
    return [base64.b64encode(r.tobytes()).decode("ascii") for r in s]


def decode_signatures(rows: Sequence[object]) -> np.ndarray | None:
    """Inverse of :func:`encode_signatures`: (T, SIG_SIZE) uint8, or ``None``
    when the rows are not valid signatures (another tool, a damaged file)."""
    out = []
    for r in rows:
        if not isinstance(r, str):
            return None
        try:
            b = base64.b64decode(r.encode("ascii"), validate=True)
        except (ValueError, UnicodeEncodeError):
            return None
        if len(b) != SIG_SIZE:
            return None
        out.append(np.frombuffer(b, dtype=np.uint8))
    if not out:
        return None
    return np.stack(out)


def pool_signatures(
    sigs: np.ndarray, times_s: np.ndarray, max_rows: int = SIG_MAX_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Average consecutive signature rows in groups so at most ``max_rows``
    remain (a no-op for clips up to ``max_rows`` frames).

    Returns:
        ((R, SIG_SIZE) uint8 rounded means, (R,) mean times in s).
    """
    s = np.asarray(sigs, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    n = len(s)
    g = max(1, -(-n // max(1, max_rows)))
    if g == 1 or n == 0:
        return np.asarray(sigs, dtype=np.uint8), t
    edges = np.arange(0, n, g)
    counts = np.diff(np.append(edges, n)).astype(np.float64)
    ps = np.add.reduceat(s, edges, axis=0) / counts[:, None]
    pt = np.add.reduceat(t, edges) / counts
    return np.clip(np.rint(ps), 0, 255).astype(np.uint8), pt


# --------------------------------------------------------------------------- tempo


@dataclass(frozen=True)
class TempoEstimate:
    """The time-warp that best maps a method's frames onto a baseline's.

    Attributes:
        tempo: baseline seconds shown per method second (1.0 = same speed,
            0.5 = half speed); ``None`` when ``confidence`` < :data:`MIN_CONFIDENCE`.
        slope: the best slope found, reported even when ``tempo`` is ``None``.
        offset_s: baseline time (s) of the method's first frame on that warp.
        confidence: 0-1; 1 = the best warp fits far better than any warp of
            another tempo (see :func:`estimate_tempo`).
        cost: rms signature difference along the best warp, grey levels (0-255).
        margin: the best cost of a warp whose tempo differs by a factor >=
            :data:`ALT_RATIO`, minus ``cost`` (grey levels).
        reason: why ``tempo`` is ``None`` (``None`` when it is not).
    """

    tempo: float | None
    slope: float | None
    offset_s: float | None
    confidence: float
    cost: float | None
    margin: float | None
    reason: str | None = None


def _pooled(sigs: np.ndarray, times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float signatures and times, averaged to at most :data:`ALIGN_MAX_ROWS` rows."""
    s = np.asarray(sigs, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    g = max(1, -(-len(s) // ALIGN_MAX_ROWS))
    if g == 1:
        return s, t
    edges = np.arange(0, len(s), g)
    counts = np.diff(np.append(edges, len(s))).astype(np.float64)
    return np.add.reduceat(s, edges, axis=0) / counts[:, None], np.add.reduceat(t, edges) / counts


def _centred(sigs: np.ndarray) -> np.ndarray:
    """Rows minus their mean luma (an exposure shift between methods is not content)."""
    x = np.asarray(sigs, dtype=np.float64)
    return x - x.mean(axis=1, keepdims=True)


#: Fraction of the method's frames left out of a warp's cost (its worst
#: matches: frames at a cut, a flash).
TRIM = 0.1
#: Grey levels added to every cost in the confidence (the rounding and coding
#: noise of a signature), see :func:`estimate_tempo`.
COST_NOISE = 0.5


def estimate_tempo(
    base_sigs: np.ndarray,
    base_times_s: np.ndarray,
    meth_sigs: np.ndarray,
    meth_times_s: np.ndarray,
    *,
    min_confidence: float = MIN_CONFIDENCE,
) -> TempoEstimate:
    """Tempo of a method's clip against a baseline's clip of the same prompt.

    Every linear warp ``baseline time = offset + slope x method time`` with
    slope log-spaced in [:data:`TEMPO_MIN`, :data:`TEMPO_MAX`] and offset
    within +-:data:`MAX_OFFSET_FRACTION` of the baseline's duration costs the
    rms difference (grey levels, each frame's mean luma removed) between each
    method frame and the baseline interpolated at its warped time (frames
    warped past an end meet the baseline's first or last frame; the worst
    :data:`TRIM` of the frames are left out); at least
    :data:`MIN_COVERAGE` of the method's duration must land inside the
    baseline (a method more than 1 / MIN_COVERAGE times faster than a
    baseline of its length gets no reliable tempo; it is not slow either
    way). The cheapest warp gives the tempo. Its confidence (0-1) is
    ``sharp x fit``: ``sharp = 1 - (best + n) / (alt + n)`` with ``alt`` the
    cheapest warp whose tempo differs by a factor >= :data:`ALT_RATIO`, and
    ``fit = 1 - (best + n) / (chance + n)`` with ``chance`` the rms
    difference of any method frame to any baseline frame; ``n`` =
    :data:`COST_NOISE`. Content that corresponds frame by frame (the same
    scene, played at some speed) scores near 1; unrelated content or a
    baseline that hardly changes scores near 0.

    Args:
        base_sigs, meth_sigs: (T, SIG_SIZE) signatures (:func:`frame_signature`).
        base_times_s, meth_times_s: (T,) frame times, s, increasing.
        min_confidence: below this, ``tempo`` is ``None``.
    """
    if len(base_sigs) < 4 or len(meth_sigs) < 4:
        return TempoEstimate(None, None, None, 0.0, None, None, "fewer than 4 frames")
    base_sigs, tb = _pooled(base_sigs, base_times_s)
    meth_sigs, tm = _pooled(meth_sigs, meth_times_s)
    nb, nm = len(base_sigs), len(meth_sigs)
    tb = tb - tb[0]
    tm = tm - tm[0]
    dur_b, dur_m = float(tb[-1]), float(tm[-1])
    if dur_b <= 0 or dur_m <= 0:
        return TempoEstimate(None, None, None, 0.0, None, None, "no duration")
    a = _centred(base_sigs)
    b = _centred(meth_sigs)
    # squared distance of every method frame to every baseline frame, per element
    d2 = ((b * b).sum(1)[:, None] + (a * a).sum(1)[None, :] - 2.0 * (b @ a.T)) / a.shape[1]
    d2 = np.maximum(d2, 0.0)
    slopes = np.exp(np.linspace(math.log(TEMPO_MIN), math.log(TEMPO_MAX), TEMPO_STEPS))
    step_b = dur_b / (nb - 1)
    n_off = int(min(20, math.ceil(MAX_OFFSET_FRACTION * dur_b / step_b)))
    offsets = np.linspace(-MAX_OFFSET_FRACTION * dur_b, MAX_OFFSET_FRACTION * dur_b, 2 * n_off + 1)
    cost = np.full((len(slopes), len(offsets)), np.inf)
    rows = np.arange(nm)[None, :]
    for ki, slope in enumerate(slopes):  # one slope at a time: memory (C, nm)
        q = offsets[:, None] + slope * tm[None, :]
        inside = (q >= 0.0) & (q <= dur_b)
        count = inside.sum(axis=1)
        if not count.any():
            continue
        # frames warped past either end meet the baseline's first / last frame:
        # every method frame counts, whatever the warp (no cheap partial fits)
        qc = np.clip(q, 0.0, dur_b)
        j = np.clip(np.searchsorted(tb, qc, side="right") - 1, 0, nb - 2)
        t0, t1 = tb[j], tb[j + 1]
        w = np.clip((qc - t0) / np.maximum(t1 - t0, 1e-9), 0.0, 1.0)
        c2 = (1.0 - w) * d2[rows, j] + w * d2[rows, j + 1]
        # trimmed: the worst TRIM of the frames (a frame at a cut, seen mid-blend
        # on one side and sharp on the other) do not decide the warp
        keep = max(1, nm - int(TRIM * nm))
        c = np.sqrt(np.partition(c2, keep - 1, axis=1)[:, :keep].mean(axis=1))
        # span of the method's time whose frames land inside the baseline
        tmi = np.broadcast_to(tm, q.shape)
        lo_m = np.where(inside, tmi, np.inf).min(axis=1)
        span_m = np.where(count > 0, np.where(inside, tmi, -np.inf).max(axis=1) - lo_m, 0.0)
        ok = (count >= 4) & (span_m >= MIN_COVERAGE * dur_m)
        cost[ki] = np.where(ok, c, np.inf)
    ok = np.isfinite(cost)
    if not ok.any():
        return TempoEstimate(None, None, None, 0.0, None, None, "clips do not overlap in time")
    k, c = np.unravel_index(int(np.argmin(cost)), cost.shape)
    best = float(cost[k, c])
    far = np.abs(np.log(slopes / slopes[k])) >= math.log(ALT_RATIO) - 1e-9
    alt_costs = cost[far]
    alt = float(alt_costs.min()) if alt_costs.size else math.inf
    chance = float(np.sqrt(d2.mean()))  # a method frame against any baseline frame
    sharp = 0.0 if not math.isfinite(alt) else 1.0 - (best + COST_NOISE) / (alt + COST_NOISE)
    fit = 1.0 - (best + COST_NOISE) / (chance + COST_NOISE)
    conf = float(np.clip(sharp, 0.0, 1.0) * np.clip(fit, 0.0, 1.0))
    slope = float(slopes[k])
    off = float(offsets[c])
    margin = None if not math.isfinite(alt) else round(alt - best, 4)
    if conf < min_confidence:
        why = (
            f"content does not correspond or does not change (best warp {best:.1f} grey "
            f"levels rms, another tempo {alt:.1f}; confidence {conf:.4f} < {min_confidence:g})"
        )
        return TempoEstimate(None, slope, off, conf, best, margin, why)
    return TempoEstimate(slope, slope, off, conf, best, margin, None)


# --------------------------------------------------------------------------- decision


def motion_ratio(method_motion: float | None, baseline_motion: float | None) -> float | None:
    """Method / baseline mean flow speed (both %diag/s, each floored at
    :data:`MOTION_FLOOR`); ``None`` only when either is missing. 1.0 = same
    speed, < 1 = the method moves less."""
    if method_motion is None or baseline_motion is None:
        return None
    if not (math.isfinite(method_motion) and math.isfinite(baseline_motion)):
        return None
    return max(float(method_motion), MOTION_FLOOR) / max(float(baseline_motion), MOTION_FLOOR)


@dataclass(frozen=True)
class SlowMotionDecision:
    """Outcome of :func:`slow_motion`.

    Attributes:
        flagged: True = the method is clearly slower than the baseline.
        evidence: ``"tempo"``, ``"motion_ratio"`` or ``None`` (nothing to judge).
        reason: one line for reports, e.g. ``"tempo 0.50 (slow at <= 0.80)"``.
    """

    flagged: bool
    evidence: str | None
    reason: str


def slow_motion(
    tempo: float | None,
    ratio: float | None,
    baseline_motion: float | None,
    *,
    slow_tempo: float = SLOW_TEMPO,
    slow_ratio: float = SLOW_MOTION_RATIO,
    min_baseline_motion: float = MIN_BASELINE_MOTION,
) -> SlowMotionDecision:
    """Is the method clearly slower than the baseline?

    A known tempo decides alone (``tempo <= slow_tempo``): when the content
    corresponds frame by frame, its pace is the direct measure. Without a
    tempo (different seeds, different shots), the motion ratio decides, with
    a stricter threshold (``ratio <= slow_ratio``), and only when the
    baseline itself moves (>= ``min_baseline_motion`` %diag/s). A faster
    method (tempo or ratio > 1) is never slow.
    """
    if tempo is not None:
        flagged = tempo <= slow_tempo
        word = "slower" if flagged else "not slower"
        return SlowMotionDecision(
            flagged, "tempo", f"tempo {tempo:.2f}: {word} (slow at <= {slow_tempo:.2f})"
        )
    if ratio is None:
        return SlowMotionDecision(False, None, "no tempo and no motion ratio")
    if baseline_motion is None or baseline_motion < min_baseline_motion:
        return SlowMotionDecision(
            False,
            None,
            f"no tempo; baseline nearly still ({baseline_motion or 0.0:.2f} %diag/s, "
            f"needs {min_baseline_motion:g})",
        )
    flagged = ratio <= slow_ratio
    word = "slower" if flagged else "not slower"
    return SlowMotionDecision(
        flagged,
        "motion_ratio",
        f"no tempo; motion ratio {ratio:.2f}: {word} (slow at <= {slow_ratio:.2f})",
    )


# --------------------------------------------------------------------------- records


#: Keys of the signature in ``VideoResult.series``.
SERIES_KEY, SERIES_TIMES_KEY = "signature", "signature_times_s"


def signature_series(sigs: np.ndarray, times_s: np.ndarray) -> dict[str, list]:
    """The series entries that carry a clip's signature in its results record:
    ``{"signature": [base64 row, ...], "signature_times_s": [s, ...]}``, pooled
    to at most :data:`SIG_MAX_ROWS` rows (about 70 bytes of JSON a row)."""
    s, t = pool_signatures(np.asarray(sigs), np.asarray(times_s, dtype=np.float64))
    return {
        SERIES_KEY: encode_signatures(s),
        SERIES_TIMES_KEY: [round(float(x), 3) for x in t],
    }


def signature_from_series(series: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """(signatures, times_s) stored by :func:`signature_series`, or ``None``
    when the record has none (``--no-series``, an older file) or it is damaged."""
    rows, times = series.get(SERIES_KEY), series.get(SERIES_TIMES_KEY)
    if not isinstance(rows, list) or not isinstance(times, list) or len(rows) != len(times):
        return None
    sigs = decode_signatures(rows)
    if sigs is None:
        return None
    try:
        t = np.asarray(times, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if t.ndim != 1 or not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
        return None
    return sigs, t
