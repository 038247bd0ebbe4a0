"""Jumps back: the seams of a slow stretch replayed with hard cuts, found
even when the content moves less than the frames' noise between seams."""

from __future__ import annotations

import numpy as np
import pytest
from vqeval.metrics.replay import jumps_back

from tests.test_repetition import FPS, _canvas, _path, _render
from tests.test_replay_scenes import _dist


@pytest.fixture(scope="module")
def canvas() -> np.ndarray:
    return _canvas(7)


def _noisy_slow_loop(canvas: np.ndarray, *, start: int, period: int) -> np.ndarray:
    """A very slow drift (0.25 px/frame) with sensor noise (sigma 1.5): the
    frames differ from their neighbours mostly by noise; from ``start`` a
    ``period``-frame stretch repeats with hard cuts back."""
    t = 144
    src = _path(t, seed=51, speed=0.25)
    idx = np.arange(t)
    rest = idx >= start
    idx[rest] = start + (idx[rest] - start) % period
    return _render(canvas, src[idx], noise=1.5, seed=9)


def test_periodic_seams_of_a_noisy_slow_loop_are_found(canvas) -> None:
    frames = _noisy_slow_loop(canvas, start=36, period=24)
    r = jumps_back(_dist(frames), FPS)
    assert r.detected and r.count >= 3
    assert r.period_s == pytest.approx(2.0, abs=1.0 / FPS)
    # the first seam lands back one period after the stretch starts
    assert r.start_s == pytest.approx(60 / FPS, abs=1.0 / FPS)


def test_cuts_to_new_content_are_jumps_that_land_nowhere(canvas) -> None:
    shots = [_render(_canvas(s), _path(36, seed=s, speed=0.25), seed=s) for s in (1, 2, 3, 4)]
    r = jumps_back(_dist(np.concatenate(shots)), FPS)
    assert r.jumps >= 3 and not r.detected and r.count == 0


def test_slow_drift_without_repeats_has_no_jumps_back(canvas) -> None:
    frames = _render(canvas, _path(144, seed=52, speed=0.25), noise=1.5, seed=10)
    assert not jumps_back(_dist(frames), FPS).detected


def test_irregular_returns_are_not_a_loop(canvas) -> None:
    # cut back to the same opening frames at uneven times (a cutaway and
    # back, twice): two jumps back, not evenly spaced, not three
    src = _path(144, seed=53, speed=0.25)
    idx = np.concatenate([np.arange(30), np.arange(30), np.arange(50), np.arange(34)])
    frames = _render(_canvas(7), src[idx], noise=1.5, seed=11)
    assert not jumps_back(_dist(frames), FPS).detected
