"""Separation statistics for evaluating detectors on labelled clips."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import rankdata

__all__ = ["auroc"]


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
    p = np.asarray(positive, dtype=np.float64).ravel()
    n = np.asarray(negative, dtype=np.float64).ravel()
    if len(p) == 0 or len(n) == 0:
        return float("nan")
    ranks = rankdata(np.concatenate([p, n]))
    u = ranks[: len(p)].sum() - len(p) * (len(p) + 1) / 2.0
    return float(u / (len(p) * len(n)))
