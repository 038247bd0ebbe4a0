"""Separation statistics for evaluating detectors on labelled clips, and the
one rule for how long a flag's stretch must last."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["auroc", "longest_run", "required_span_s"]


def required_span_s(duration_s: float, min_s: float, fraction: float) -> float:
    """The shortest stretch (s) a flag needs on a clip of ``duration_s``
    seconds: ``max(min_s, fraction x duration_s)`` (the tail rule of
    ``frozen``, ``collapse``, ``drift`` and ``motion_decay``; their values are
    in :mod:`vqeval.params`).

    Args:
        duration_s: the clip's duration, s.
        min_s: shortest stretch on any clip, s.
        fraction: shortest stretch as a share of the duration, 0-1.
    """
    return max(min_s, fraction * duration_s)


def longest_run(mask: np.ndarray) -> tuple[int, int]:
    """``(start, length)`` of the longest run of True in the 1-D boolean
    ``mask`` (frame indices; the first of equally long runs; ``(0, 0)`` when
    there is none)."""
    m = np.asarray(mask, dtype=bool)
    if not m.any():
        return 0, 0
    edges = np.flatnonzero(np.diff(np.concatenate([[0], m.astype(np.int8), [0]])))
    starts, ends = edges[::2], edges[1::2]
    k = int(np.argmax(ends - starts))
    return int(starts[k]), int(ends[k] - starts[k])


def auroc(positive: Sequence[float], negative: Sequence[float]) -> float:
    """Area under the ROC curve of scores where positives should score higher.

    Equals the probability that a random positive scores above a random
    negative, ties counting one half (Mann-Whitney U / (n_pos * n_neg)).

    Args:
        positive: scores of the positive class (e.g. failures' badness).
        negative: scores of the negative class.

    Returns:
        0-1; 1 = perfect separation, 0.5 = chance. ``nan`` if a class is empty.
    """
    from scipy.stats import rankdata

    p = np.asarray(positive, dtype=np.float64).ravel()
    n = np.asarray(negative, dtype=np.float64).ravel()
    if len(p) == 0 or len(n) == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([p, n]))
    u = ranks[: len(p)].sum() - len(p) * (len(p) + 1) / 2.0
    return float(u / (len(p) * len(n)))
