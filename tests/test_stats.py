"""Paired statistics: bootstrap CI, Wilcoxon p-values, win/tie/loss, verdicts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import wilcoxon

from vqeval.stats import (
    VERDICT_BETTER,
    VERDICT_NA,
    VERDICT_SAME,
    VERDICT_WORSE,
    bootstrap_mean_ci,
    paired_stats,
    wilcoxon_p,
    win_tie_loss,
)


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    rng = np.random.default_rng(1)
    d = rng.normal(3.0, 2.0, size=40)
    a = bootstrap_mean_ci(d, seed=7)
    b = bootstrap_mean_ci(d, seed=7)
    c = bootstrap_mean_ci(d, seed=8)
    assert a == b
    assert a != c
    lo, hi = a
    assert lo < d.mean() < hi
    # the percentile interval is close to the normal-theory one for n=40
    se = d.std(ddof=1) / np.sqrt(d.size)
    assert hi - lo == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_bootstrap_constant_sample_has_zero_width() -> None:
    assert bootstrap_mean_ci([2.5, 2.5, 2.5]) == (2.5, 2.5)
    assert bootstrap_mean_ci([4.0]) == (4.0, 4.0)


def test_bootstrap_coverage_is_near_nominal() -> None:
    rng = np.random.default_rng(123)
    hits = 0
    reps = 200
    for i in range(reps):
        lo, hi = bootstrap_mean_ci(rng.normal(0.0, 1.0, 30), n_boot=400, seed=i)
        hits += lo <= 0.0 <= hi
    assert 0.86 <= hits / reps <= 0.99


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        bootstrap_mean_ci([])
    with pytest.raises(ValueError):
        bootstrap_mean_ci([1.0], n_boot=0)
    with pytest.raises(ValueError):
        bootstrap_mean_ci([1.0], confidence=1.0)


def test_wilcoxon_matches_scipy_and_handles_all_zero() -> None:
    rng = np.random.default_rng(5)
    d = rng.normal(1.0, 1.0, 25)  # no ties: scipy uses the exact distribution too
    assert wilcoxon_p(d) == pytest.approx(wilcoxon(d, method="exact").pvalue, rel=1e-9)
    big = rng.normal(0.3, 1.0, 200)
    assert wilcoxon_p(big) == pytest.approx(wilcoxon(big, method="asymptotic").pvalue)
    assert wilcoxon_p([0.0, 0.0, 0.0]) == 1.0
    assert wilcoxon_p(np.full(20, 3.0) + np.arange(20) * 0.01) < 0.001
    with pytest.raises(ValueError):
        wilcoxon_p([])


def test_wilcoxon_exact_with_ties_matches_enumeration() -> None:
    from itertools import product

    from scipy.stats import rankdata

    d = np.array([1.0, -1.0, 2.0, 2.0, 2.0, -3.0, 4.0, 4.0, 5.0, 0.0, 6.0])
    nz = d[d != 0]
    ranks = rankdata(np.abs(nz))
    t_obs = ranks[nz > 0].sum()
    stats = np.array([ranks[np.array(s, bool)].sum() for s in product([0, 1], repeat=nz.size)])
    p_brute = min(1.0, 2 * min(np.mean(stats <= t_obs + 1e-9), np.mean(stats >= t_obs - 1e-9)))
    assert wilcoxon_p(d) == pytest.approx(p_brute, rel=1e-12)


def test_wilcoxon_is_fast_with_ties() -> None:
    import time

    d = np.round(np.random.default_rng(2).normal(0.5, 2.0, 50))  # many ties and zeros
    t0 = time.perf_counter()
    for _ in range(20):
        wilcoxon_p(d)
    assert time.perf_counter() - t0 < 1.0


def test_win_tie_loss_tolerance_boundary_is_a_tie() -> None:
    assert win_tie_loss([0.5, -0.5, 0.51, -0.51, 0.0], tie_tol=0.5) == (1, 3, 1)
    assert win_tie_loss([0.5, -0.5], tie_tol=0.0) == (1, 0, 1)


def test_paired_stats_better_worse_and_same() -> None:
    rng = np.random.default_rng(0)
    base = rng.uniform(40, 80, 30)
    up = paired_stats(base, base + rng.normal(5, 2, 30))
    assert up.verdict == VERDICT_BETTER
    assert up.ci_low > 0 and up.p_value < 0.001 and up.wins > 25
    down = paired_stats(base, base - rng.normal(5, 2, 30))
    assert down.verdict == VERDICT_WORSE
    assert down.ci_high < 0 and down.losses > 25
    same = paired_stats(base, base + rng.normal(0, 0.2, 30))
    assert same.verdict == VERDICT_SAME
    assert same.ties == 30


def test_paired_stats_small_samples_cannot_be_significant() -> None:
    # 4 pairs, all better: the smallest exact two-sided p is 2/2**4 = 0.125
    st = paired_stats([50, 60, 70, 80], [60, 70, 80, 90])
    assert st.p_value == pytest.approx(0.125)
    assert st.verdict == VERDICT_SAME
    assert st.mean_diff == pytest.approx(10.0)


def test_paired_stats_skips_missing_scores_and_reports_na() -> None:
    st = paired_stats([50, None, 70, float("nan")], [55, 60, None, 10])
    assert st.n == 1 and st.mean_a == 50 and st.mean_b == 55
    none = paired_stats([None], [None])
    assert none.n == 0 and none.verdict == VERDICT_NA and none.p_value is None
    with pytest.raises(ValueError):
        paired_stats([1.0], [1.0, 2.0])
    assert set(none.to_dict()) >= {"n", "mean_diff", "ci_low", "ci_high", "p_value", "verdict"}
