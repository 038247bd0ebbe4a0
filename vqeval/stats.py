"""Paired statistics for comparing two methods on the same videos.

Every function works on scores on the 0-100 scale (higher is better) and on
paired differences ``d = method - baseline`` (points, -100..100): a positive
difference means the method scores higher than the baseline on that video.

Choices (documented in ``docs/reports.md``):

* confidence interval of the mean difference: percentile bootstrap with
  :data:`DEFAULT_N_BOOT` resamples, seeded (:data:`DEFAULT_SEED`) so that a
  re-run prints the same numbers;
* p-value: two-sided Wilcoxon signed-rank test, zero differences dropped;
  exact (ties included) up to 50 non-zero differences, normal approximation
  with tie correction above;
* win / tie / loss: a difference within :data:`DEFAULT_TIE_TOL` points of zero
  is a tie;
* verdict: ``better`` / ``worse`` only when the p-value is below ``alpha``
  *and* the bootstrap interval excludes zero on that side; otherwise
  ``no significant difference``. p-values are per dimension, not corrected
  for testing several dimensions.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Bootstrap resamples of the mean difference.
DEFAULT_N_BOOT = 2000
#: Seed of the bootstrap random generator (numpy PCG64).
DEFAULT_SEED = 0
#: |difference| <= this many points (0-100 scale) counts as a tie.
DEFAULT_TIE_TOL = 0.5
#: Significance level of the Wilcoxon test.
DEFAULT_ALPHA = 0.05
#: Two-sided confidence level of the bootstrap interval.
DEFAULT_CONFIDENCE = 0.95

VERDICT_BETTER = "better"
VERDICT_WORSE = "worse"
VERDICT_SAME = "no significant difference"
VERDICT_NA = "n/a"


@dataclass(frozen=True)
class PairedStats:
    """Summary of paired scores ``b`` (method) against ``a`` (baseline).

    Attributes:
        n: number of pairs where both scores exist.
        mean_a: mean baseline score (0-100), ``None`` when ``n == 0``.
        mean_b: mean method score (0-100), ``None`` when ``n == 0``.
        mean_diff: mean of ``b - a`` in points (-100..100).
        ci_low, ci_high: bootstrap confidence interval of ``mean_diff`` (points).
        p_value: two-sided Wilcoxon signed-rank p-value (0-1); 1.0 when every
            difference is zero, ``None`` when ``n == 0``.
        wins, ties, losses: videos where the method is higher / within the tie
            tolerance / lower.
        verdict: ``better``, ``worse``, ``no significant difference`` or ``n/a``.
        n_boot: bootstrap resamples used; confidence: interval level (0-1).
        tie_tol: tie tolerance in points; alpha: significance level.
    """

    n: int
    mean_a: float | None
    mean_b: float | None
    mean_diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    wins: int
    ties: int
    losses: int
    verdict: str
    n_boot: int = DEFAULT_N_BOOT
    confidence: float = DEFAULT_CONFIDENCE
    tie_tol: float = DEFAULT_TIE_TOL
    alpha: float = DEFAULT_ALPHA

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (plain floats / ints / str / None)."""
        return asdict(self)


def bootstrap_mean_ci(
    diffs: Sequence[float] | np.ndarray,
    *,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean of ``diffs``.

    Args:
        diffs: 1-D finite values (any unit; the interval has the same unit).
        n_boot: resamples (>= 1).
        confidence: two-sided level in (0, 1), e.g. 0.95.
        seed: random seed; same inputs + seed give the same interval.

    Returns:
        ``(low, high)``; both equal the single value when ``len(diffs) == 1``.

    Raises:
        ValueError: for an empty input, ``n_boot < 1`` or a level outside (0, 1).
    """
    x = np.asarray(diffs, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("bootstrap of an empty sample")
    if n_boot < 1:
        raise ValueError("n_boot must be >= 1")
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must be in (0, 1)")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot, dtype=np.float64)
    # chunk to bound memory at ~8 MB for large samples
    chunk = max(1, min(n_boot, 1_000_000 // max(1, x.size)))
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, x.size, size=(stop - start, x.size))
        means[start:stop] = x[idx].mean(axis=1)
    tail = (1.0 - confidence) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return float(lo), float(hi)


#: Up to this many non-zero differences the Wilcoxon p-value is exact.
EXACT_MAX_N = 50


def _signed_rank_exact_p(d: np.ndarray) -> float:
    """Exact two-sided p of the signed-rank statistic, ties included.

    Under the null every sign is +/- with probability 1/2 independently; the
    statistic is the sum of the (average, hence half-integer) ranks of the
    positive differences. Its distribution is built by dynamic programming on
    doubled ranks (integers), O(n * sum of ranks): a fraction of a millisecond
    for n <= 50.
    """
    from scipy.stats import rankdata

    r2 = np.rint(2.0 * rankdata(np.abs(d))).astype(np.int64)
    total = int(r2.sum())
    dist = np.zeros(total + 1, dtype=np.float64)
    dist[0] = 1.0
    for r in r2:
        shifted = np.zeros_like(dist)
        shifted[r:] = dist[: total + 1 - r]
        dist = 0.5 * (dist + shifted)
    t = int(r2[d > 0].sum())
    lower = float(dist[: t + 1].sum())
    upper = float(dist[t:].sum())
    return min(1.0, 2.0 * min(lower, upper))


def wilcoxon_p(diffs: Sequence[float] | np.ndarray) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (0-1).

    Zero differences are dropped (Wilcoxon's convention); when every
    difference is zero the answer is 1.0 (no evidence of a difference).
    Up to :data:`EXACT_MAX_N` non-zero differences the p-value is exact, tied
    magnitudes included (:func:`_signed_rank_exact_p`; scipy would fall back
    to a slow permutation test there); above, the normal approximation with
    tie correction (``scipy.stats.wilcoxon(method="asymptotic")``).

    Raises:
        ValueError: for an empty input.
    """
    from scipy.stats import wilcoxon

    x = np.asarray(diffs, dtype=np.float64).ravel()
    if x.size == 0:
        raise ValueError("Wilcoxon test of an empty sample")
    nz = x[x != 0.0]
    if nz.size == 0:
        return 1.0
    if nz.size <= EXACT_MAX_N:
        return _signed_rank_exact_p(nz)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = wilcoxon(nz, zero_method="wilcox", alternative="two-sided", method="asymptotic")
    p = float(res.pvalue)
    return 1.0 if math.isnan(p) else min(1.0, max(0.0, p))


def win_tie_loss(
    diffs: Sequence[float] | np.ndarray, tie_tol: float = DEFAULT_TIE_TOL
) -> tuple[int, int, int]:
    """Count differences above ``tie_tol``, within it, and below ``-tie_tol``."""
    x = np.asarray(diffs, dtype=np.float64).ravel()
    wins = int(np.sum(x > tie_tol))
    losses = int(np.sum(x < -tie_tol))
    return wins, int(x.size) - wins - losses, losses


def paired_stats(
    a: Sequence[float | None],
    b: Sequence[float | None],
    *,
    tie_tol: float = DEFAULT_TIE_TOL,
    alpha: float = DEFAULT_ALPHA,
    n_boot: int = DEFAULT_N_BOOT,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> PairedStats:
    """Compare paired scores ``b`` (method) with ``a`` (baseline).

    Pairs where either score is ``None`` or not finite are skipped.

    Args:
        a, b: equally long sequences of scores (0-100) for the same videos.
        tie_tol: tie tolerance in points (>= 0).
        alpha: significance level for the verdict (0-1).
        n_boot, confidence, seed: see :func:`bootstrap_mean_ci`.

    Raises:
        ValueError: when ``a`` and ``b`` differ in length.
    """
    if len(a) != len(b):
        raise ValueError(f"paired samples differ in length ({len(a)} vs {len(b)})")
    keep = [
        (float(x), float(y))
        for x, y in zip(a, b)
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
    ]
    common = {"n_boot": n_boot, "confidence": confidence, "tie_tol": tie_tol, "alpha": alpha}
    if not keep:
        return PairedStats(0, None, None, None, None, None, None, 0, 0, 0, VERDICT_NA, **common)
    xa = np.array([k[0] for k in keep])
    xb = np.array([k[1] for k in keep])
    d = xb - xa
    lo, hi = bootstrap_mean_ci(d, n_boot=n_boot, confidence=confidence, seed=seed)
    p = wilcoxon_p(d)
    w, t, l_ = win_tie_loss(d, tie_tol)
    mean_d = float(d.mean())
    if p < alpha and lo > 0.0 and mean_d > 0.0:
        verdict = VERDICT_BETTER
    elif p < alpha and hi < 0.0 and mean_d < 0.0:
        verdict = VERDICT_WORSE
    else:
        verdict = VERDICT_SAME
    return PairedStats(
        n=int(d.size),
        mean_a=float(xa.mean()),
        mean_b=float(xb.mean()),
        mean_diff=mean_d,
        ci_low=lo,
        ci_high=hi,
        p_value=p,
        wins=w,
        ties=t,
        losses=l_,
        verdict=verdict,
        **common,
    )
