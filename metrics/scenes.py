"""Scenes that come back across cuts: A B A B.

A generator that cannot carry a story forward may cut between two shots and
back again, A B A B, with different framings of one place. No frame repeats
exactly, and each shot on its own moves, so neither a diagonal of the
self-similarity matrix nor a freeze rule sees it. At the level of shots it
is plain: a shot resembles an earlier shot far more than the shot just
before it.

For shots ``k`` (ranges between the cuts; shots shorter than
:data:`MIN_SHOT_S` are left out) and the cosine distance ``D`` of
frame embeddings, the distance of two shots is that of their closest frames
(a shot that continues where an earlier one left off has a frame next to
that shot's last one)::

    back(k)  = min over j < k - 1 of min D[shot k, shot j]
    prev(k)  = min D[shot k, shot k - 1]
    ratio(k) = back(k) / prev(k)

Shot ``k`` **returns** when ``ratio(k) <= RETURN_RATIO`` and the shot before
it is really another view (``prev(k) >= change_distance``). The flag needs
:data:`MIN_RETURNS` returns: A B A B has two (the third shot returns to the
first, the fourth to the second); one return (A B A, a cutaway and back) is
ordinary editing. A shot made of several cuts of its own (a multi-shot clip
alternating with another) returns at each switch back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

__all__ = ["MIN_RETURNS", "MIN_SHOT_S", "RETURN_RATIO", "SceneReturns", "scene_returns"]

#: A shot returns when its distance to an earlier shot is at most this
#: fraction (0-1) of its distance to the shot just before (chosen by
#: ``benchmarks/calibrate_loops.py``).
RETURN_RATIO = 0.5
#: Returning shots that raise the flag (A B A B = 2).
MIN_RETURNS = 2
#: Shorter shots (s) are left out of the comparison (flashes, fast motion,
#: the sliver between two detectors' reports of one cut). They are not
#: merged into a neighbour: a shot's distance is that of its closest frames,
#: so one foreign frame would make it "the same view" as the shot that frame
#: came from (measured 2026-12-07: merging missed 12 of 29 derived A B A B
#: clips, whose last few frames continue the first scene; leaving them out
#: misses 2, with no healthy dev or derived clip flagged either way).
MIN_SHOT_S = 0.5


@dataclass(frozen=True)
class SceneReturns:
    """Outcome of :func:`scene_returns`.

    Attributes:
        detected: at least ``min_returns`` returning shots.
        shots: number of shots considered.
        returns: number of returning shots.
        start_s: start (s) of the first returning shot.
        ratio: largest ``ratio(k)`` over the first ``min_returns`` returns
            (0-1; lower = clearer); ``None`` without a return.
        best_ratio: smallest ``ratio(k)`` over all shots (``None`` with
            fewer than three shots).
    """

    detected: bool
    shots: int
    returns: int
    start_s: float | None
    ratio: float | None
    best_ratio: float | None


def _shots(cuts: list[int], n: int, min_len: int) -> list[tuple[int, int]]:
    """``[start, end)`` shot ranges of at least ``min_len`` frames; shorter
    shots are left out (the whole clip when none is long enough)."""
    edges = [0, *sorted(c for c in set(cuts) if 0 < c < n), n]
    out = [(a, b) for a, b in itertools.pairwise(edges) if b - a >= min_len]
    return out or [(0, n)]


def scene_returns(
    d: np.ndarray,
    cuts: list[int],
    times_s: np.ndarray,
    *,
    change_distance: float = 0.05,
    return_ratio: float = RETURN_RATIO,
    min_returns: int = MIN_RETURNS,
    min_shot_s: float = MIN_SHOT_S,
) -> SceneReturns:
    """Find shots that return to an earlier scene across cuts.

    Args:
        d: (T, T) cosine distance of frame embeddings (0-2).
        cuts: frame indices (rows of ``d``) that start a new shot.
        times_s: (T,) timestamps of the rows, seconds.
        change_distance: cosine distance (0-2) that counts as another view
            for the backbone that produced ``d``.
        return_ratio: see :data:`RETURN_RATIO` (0-1).
        min_returns: see :data:`MIN_RETURNS` (>= 1).
        min_shot_s: see :data:`MIN_SHOT_S` (s).

    Returns:
        :class:`SceneReturns`.
    """
    d = np.asarray(d, dtype=np.float64)
    t = len(d)
    tt = np.asarray(times_s, dtype=np.float64)
    step = float(np.median(np.diff(tt))) if t > 1 else 1.0
    shots = _shots(list(cuts), t, max(1, round(min_shot_s / max(step, 1e-9))))
    m = len(shots)
    if m < 3:
        return SceneReturns(False, m, 0, None, None, None)

    def dist(k: int, j: int) -> float:
        (a, b), (c, e) = shots[k], shots[j]
        return float(d[a:b, c:e].min())

    ratios: list[float | None] = [None, None]
    for k in range(2, m):
        prev = dist(k, k - 1)
        back = min(dist(k, j) for j in range(k - 1))
        ratios.append(back / prev if prev >= change_distance else None)
    hits = [k for k, r in enumerate(ratios) if r is not None and r <= return_ratio]
    finite = [r for r in ratios if r is not None]
    best_ratio = round(min(finite), 4) if finite else None
    if not hits:
        return SceneReturns(False, m, 0, None, None, best_ratio)
    worst = max(ratios[k] or 0.0 for k in hits[:min_returns])
    return SceneReturns(
        len(hits) >= min_returns,
        m,
        len(hits),
        round(float(tt[shots[hits[0]][0]]), 3),
        round(worst, 4),
        best_ratio,
    )
