"""How much new content a video shows over time.

A healthy video keeps showing content it has not shown before, even when it
moves slowly; a frozen video shows nothing new, and a loop stops showing new
content after its first period. With the cosine distance ``D`` of frame
embeddings and ``w`` = ``min_lag_s`` in frames:

* **novelty** of frame ``t`` (``t >= w``): ``n(t) = min over s <= t - w of
  D[s, t]``, the distance from frame ``t`` to everything shown at least
  ``min_lag_s`` earlier. Slow motion accumulates novelty over a second; a
  loop returns to old content (``n`` drops to the noise level); a freeze has
  ``n`` at the noise level throughout.
* **novel fraction**: mean over ``t >= w`` of ``clip((n(t) - r/2) / (r/2),
  0, 1)`` with ``r`` the backbone's ``novelty_distance`` (several times the
  distance between two noisy encodes of the same frame): novelty below
  ``r/2`` is noise and counts 0, at or above ``r`` it counts 1. The
  progression score is 100 x this.
* **still** frames: nothing changed by ``r`` or more within the last
  ``min_lag_s`` (``max over t - w <= s < t of D[s, t] < r``). The share of
  still frames separates a freeze (still) from a loop (not still: the
  content moves, it just is not new); >= 25 % and >= 2 s sets
  ``ProgressionResult.frozen``, reported only: the ``progression`` dimension
  raises no flag, since little new content is not a failure by itself (the
  ``freeze`` dimension decides whether content stops changing).
* **distinct states**: greedy covering of the trajectory with balls of cosine
  radius ``change_distance / 2`` (each frame farther than that from every
  existing centre opens a new state); also path length (sum of adjacent
  distances) and spread (largest pairwise distance).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from vqeval.metrics.stats import longest_run

__all__ = ["FROZEN_MIN_S", "FROZEN_MIN_SHARE", "ProgressionResult", "measure_progression"]

#: Still frames set ``ProgressionResult.frozen`` when they make up at least
#: this share of the video ...
FROZEN_MIN_SHARE = 0.25
#: ... and at least this many seconds.
FROZEN_MIN_S = 2.0


@dataclass(frozen=True)
class ProgressionResult:
    """Outcome of :func:`measure_progression`.

    Attributes:
        score: 0-100, 100 x ``novel_fraction`` (100 = new content all along).
        novel_fraction: 0-1, mean capped novelty (see module doc).
        novelty_median: median novelty ``n(t)``, cosine distance 0-2.
        states: number of distinct states (greedy covering), >= 1.
        states_per_min: distinct states per minute of video.
        path_length: sum of adjacent-frame cosine distances (0-2 per step).
        spread: largest pairwise cosine distance, 0-2.
        still_fraction: 0-1, share of frames that are still.
        longest_still_s: longest run of still frames in seconds.
        frozen: still frames make up >= 25 % of the video and >= 2 s in all
            (a share, not one run: a near-freeze broken by tiny twitches
            still counts).
    """

    score: float
    novel_fraction: float
    novelty_median: float
    states: int
    states_per_min: float
    path_length: float
    spread: float
    still_fraction: float
    longest_still_s: float
    frozen: bool


def greedy_states(embeddings: np.ndarray, radius: float) -> int:
    """Number of balls of cosine radius ``radius`` a greedy pass needs.

    Frames are visited in time order; a frame farther than ``radius`` (cosine
    distance) from every existing centre becomes a new centre.
    """
    e = np.asarray(embeddings, dtype=np.float64)
    if len(e) == 0:
        return 0
    centres = [e[0]]
    c = np.array(centres)
    for x in e[1:]:
        if (1.0 - c @ x).min() > radius:
            centres.append(x)
            c = np.array(centres)
    return len(centres)


def measure_progression(
    embeddings: np.ndarray,
    fps: float,
    *,
    novelty_distance: float = 0.01,
    change_distance: float = 0.05,
    min_lag_s: float = 1.0,
    ssm: np.ndarray | None = None,
) -> ProgressionResult:
    """Measure how much new content appears over time.

    Args:
        embeddings: (T, d) L2-normalised frame embeddings in time order.
        fps: analysis frame rate in frames/s (> 0).
        novelty_distance: cosine distance counting as new content
            (``Backbone.novelty_distance``).
        change_distance: cosine distance between clearly different content
            (``Backbone.change_distance``); states have half this radius.
        min_lag_s: novelty is measured against content at least this old (s).
        ssm: precomputed cosine self-similarity (optional).

    Returns:
        :class:`ProgressionResult`. A clip shorter than ``min_lag_s`` + 2
        frames gets score 100 (nothing to judge) and no flag.
    """
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    e = np.asarray(embeddings, dtype=np.float64)
    t = len(e)
    if ssm is None:
        n = np.linalg.norm(e, axis=1, keepdims=True)
        en = e / np.maximum(n, 1e-12)
        ssm = en @ en.T
    d = np.clip(1.0 - np.asarray(ssm, dtype=np.float64), 0.0, 2.0)
    w = max(1, round(min_lag_s * fps))
    duration = t / fps
    states = greedy_states(e, change_distance / 2) if t else 0
    path = float(np.diagonal(d, 1).sum()) if t > 1 else 0.0
    spread = float(d.max()) if t else 0.0
    if t < w + 2:
        return ProgressionResult(
            100.0, 1.0, 0.0, states, states / max(duration, 1e-9) * 60.0, path, spread,
            0.0, 0.0, False,
        )  # fmt: skip

    # novelty against everything at least w frames earlier
    colmin = np.minimum.accumulate(d, axis=0)  # colmin[s, t] = min over s' <= s of d[s', t]
    idx = np.arange(w, t)
    novelty = colmin[idx - w, idx]
    novel_fraction = float(np.clip(2.0 * novelty / novelty_distance - 1.0, 0.0, 1.0).mean())

    # still: nothing moved by novelty_distance within the last w frames
    still = np.zeros(t, dtype=bool)
    for j in range(1, t):
        still[j] = d[max(0, j - w) : j, j].max() < novelty_distance
    longest = longest_run(still)[1]
    longest_s = longest / fps
    n_still = int(still.sum())
    frozen = n_still / fps >= FROZEN_MIN_S and n_still >= FROZEN_MIN_SHARE * t

    return ProgressionResult(
        score=round(100.0 * novel_fraction, 2),
        novel_fraction=round(novel_fraction, 4),
        novelty_median=round(float(np.median(novelty)), 5),
        states=states,
        states_per_min=round(states / duration * 60.0, 2),
        path_length=round(path, 4),
        spread=round(spread, 4),
        still_fraction=round(float(still.mean()), 4),
        longest_still_s=round(longest_s, 3),
        frozen=bool(frozen),
    )
