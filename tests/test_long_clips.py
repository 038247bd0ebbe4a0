"""Long clips: repetition and progression judge a bounded trajectory.

Above ``SSM_MAX_FRAMES`` analysis frames the frame embeddings are averaged in
consecutive groups, so the self-similarity matrix never exceeds that size;
loop periods and repeat ranges are still reported in analysis frames and
seconds. The cap is lowered here so that the tests stay small.
"""

from __future__ import annotations

import numpy as np
import pytest

import vqeval.analysis as analysis_mod
from tests.test_repetition import FPS, _analysis, _canvas, _path, _render
from vqeval.analysis import pool_trajectory
from vqeval.dimensions.repetition import compute_progression, compute_repetition


@pytest.fixture(scope="module")
def canvas() -> np.ndarray:
    return _canvas(7)


def test_pool_trajectory_is_a_no_op_below_the_cap() -> None:
    e = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    t = np.arange(50) / 8.0
    tr = pool_trajectory(e, t, 8.0, max_rows=50)
    assert tr.group == 1 and tr.fps == 8.0
    np.testing.assert_array_equal(tr.embeddings, e)


def test_pool_trajectory_averages_groups_and_keeps_rows_unit_length() -> None:
    e = np.random.default_rng(1).normal(size=(101, 4)).astype(np.float32)
    t = np.arange(101) / 10.0
    tr = pool_trajectory(e, t, 10.0, max_rows=20)
    assert tr.group == 6 and len(tr.embeddings) == 17 and tr.fps == pytest.approx(10 / 6)
    np.testing.assert_allclose(np.linalg.norm(tr.embeddings, axis=1), 1.0, rtol=1e-5)
    first = e[:6].mean(0)
    np.testing.assert_allclose(tr.embeddings[0], first / np.linalg.norm(first), rtol=1e-5)
    assert tr.times_s[0] == pytest.approx(t[:6].mean())
    assert tr.times_s[-1] == pytest.approx(t[96:].mean())  # the short last group


def test_long_loop_is_found_on_the_pooled_trajectory(canvas, monkeypatch) -> None:
    period = 24  # frames (2 s at 12 fps)
    frames = _render(canvas, _path(period, seed=61, speed=3.0)[np.arange(240) % period], seed=7)
    full = compute_repetition(_analysis(frames))
    monkeypatch.setattr(analysis_mod, "SSM_MAX_FRAMES", 80)  # 240 frames -> groups of 3
    a = _analysis(frames)
    rep = compute_repetition(a)
    assert a.trajectory.group == 3 and a.ssm.shape == (80, 80)
    assert rep.raw["flags"] == ["loop"] == full.raw["flags"]
    assert rep.raw["loop_period_frames"] == pytest.approx(period, abs=3)  # one row
    assert rep.raw["loop_period_s"] == pytest.approx(period / FPS, abs=3 / FPS)
    r0 = rep.raw["repeat_ranges"][0]
    assert r0["end"] >= r0["start"] and r0["start"] % 3 == 0  # frames, not rows
    assert 0 <= compute_progression(a).score <= 100
