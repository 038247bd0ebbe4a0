"""Loops the return-after-departure rule cannot see: replays of slow content
(matching beyond the frames' noise), sub-second periods, scenes that
alternate across cuts (A B A B), and every flag's start time."""

from __future__ import annotations

import numpy as np
import pytest
from vqeval.metrics.consistency import FLICKER_LEVELS, flicker_from_shifts, flicker_start
from vqeval.metrics.features import pixel_features
from vqeval.metrics.repetition import detect_repetition, self_similarity
from vqeval.metrics.replay import detect_replay
from vqeval.metrics.scenes import scene_returns

from tests.test_repetition import FPS, _analysis, _canvas, _path, _render
from vqeval.dimensions.repetition import compute_repetition


@pytest.fixture(scope="module")
def canvas() -> np.ndarray:
    return _canvas(7)


def _dist(frames: np.ndarray) -> np.ndarray:
    return np.clip(1.0 - self_similarity(pixel_features(frames)), 0.0, 2.0)


def _slow_loop(canvas: np.ndarray, *, start: int, period: int, pingpong: bool) -> np.ndarray:
    """Slow drift (0.6 px/frame) whose frames from ``start`` replay a
    ``period``-frame stretch (hard cuts back, or forward and backward),
    with fresh sensor noise (sigma 0.5) on every frame."""
    t = 132
    src = _path(t, seed=31, speed=0.6)
    idx = np.arange(t)
    if pingpong:
        cycle = np.concatenate([np.arange(period), np.arange(period - 2, 0, -1)])
    else:
        cycle = np.arange(period)
    rest = idx >= start
    idx[rest] = start + cycle[(idx[rest] - start) % len(cycle)]
    return _render(canvas, src[idx], noise=0.5, seed=5)


def test_slow_content_loop_is_a_replay_with_its_period_and_start(canvas) -> None:
    frames = _slow_loop(canvas, start=40, period=24, pingpong=False)
    r = detect_replay(_dist(frames), FPS)
    assert r.detected and r.kind == "loop"
    assert r.period_frames == pytest.approx(24, abs=1)
    # the first replayed frame is one period after the stretch starts
    assert r.start == pytest.approx(64, abs=2)
    assert r.ratio is not None and r.ratio < 0.5


def test_slow_content_pingpong_is_a_replay(canvas) -> None:
    frames = _slow_loop(canvas, start=36, period=20, pingpong=True)
    r = detect_replay(_dist(frames), FPS)
    assert r.detected and r.kind == "pingpong" and r.turns >= 2
    assert r.start_s is not None and 36 / FPS <= r.start_s <= (36 + 22) / FPS


def test_a_replay_below_the_frames_noise_shows_over_a_longer_neighbour_step(canvas) -> None:
    """Content that moves 0.2 px a frame under noise of sigma 1: a replayed
    frame is no closer to its copy than to its neighbour (motion and noise
    alike), so one-frame steps see no replay; over a quarter second the motion
    adds up and the replay stands out. The same motion without a replay stays
    clean at that step."""
    t, start, period = 132, 36, 24
    src = _path(t, seed=31, speed=0.2)
    idx = np.arange(t)
    cycle = np.concatenate([np.arange(period), np.arange(period - 2, 0, -1)])
    idx[idx >= start] = start + cycle[(idx[idx >= start] - start) % len(cycle)]
    replayed = _dist(_render(canvas, src[idx], noise=1.0, seed=5))
    natural = _dist(_render(canvas, _path(t, seed=32, speed=0.2), noise=1.0, seed=6))
    one_frame = 1.0 / FPS
    assert not detect_replay(replayed, FPS, tight_ratio=0.7, neighbour_step_s=one_frame).detected
    # (a ping-pong is periodic too: its cycle may come out as a replayed loop)
    assert detect_replay(replayed, FPS, tight_ratio=0.5, neighbour_step_s=0.25).detected
    assert not detect_replay(natural, FPS, tight_ratio=0.5, neighbour_step_s=0.25).detected


@pytest.mark.parametrize("speed", [0.25, 3.0])
def test_moving_content_without_repeats_is_no_replay(canvas, speed: float) -> None:
    frames = _render(canvas, _path(132, seed=32, speed=speed), noise=1.5, seed=6)
    assert not detect_replay(_dist(frames), FPS).detected


def test_a_still_picture_with_noise_is_no_replay(canvas) -> None:
    still = _render(canvas, np.zeros((1, 2)), noise=0)[0]
    rng = np.random.default_rng(0)
    frames = np.clip(still + rng.normal(0, 2.0, (96, *still.shape)), 0, 255).astype(np.uint8)
    assert not detect_replay(_dist(frames), FPS).detected
    exact = np.repeat(still[None], 96, axis=0)  # bit-identical frames
    assert not detect_replay(_dist(exact), FPS).detected


def test_the_dimension_flags_a_slow_replay_with_a_start_time(canvas) -> None:
    frames = _slow_loop(canvas, start=40, period=24, pingpong=False)
    s = compute_repetition(_analysis(frames))
    assert s.raw["flags"] == ["loop"]
    (detail,) = s.raw["flag_details"]
    assert detail["start_s"] == pytest.approx(64 / FPS, abs=0.25)
    assert s.raw["loop_period_s"] == pytest.approx(2.0, abs=0.1)
    assert s.score is not None and s.score <= 40


def test_sub_second_loop_reports_its_fundamental(canvas) -> None:
    period = 9  # 0.75 s at 12 frames/s
    src = _path(period, seed=33, speed=3.0)
    t = np.arange(120)
    frames = _render(canvas, src[t % period], noise=1.5, seed=7)
    r = detect_repetition(pixel_features(frames), FPS)
    assert r.loop_detected
    assert r.loop_period_s == pytest.approx(0.75, abs=1.0 / FPS)
    s = compute_repetition(_analysis(frames))
    assert s.raw["loop_period_s"] == pytest.approx(0.75, abs=1.0 / FPS)


def _shots(canvas_a: np.ndarray, canvas_b: np.ndarray, order: str, n: int = 36) -> np.ndarray:
    """Shots of ``n`` frames from two scenes in ``order`` ("ABAB"); each
    scene's camera drifts on and continues where its last shot left off."""
    paths = {"A": _path(4 * n, seed=41, speed=1.0), "B": _path(4 * n, seed=42, speed=1.0)}
    canvases = {"A": canvas_a, "B": canvas_b}
    used = {"A": 0, "B": 0}
    out = []
    for k, s in enumerate(order):
        p = paths[s][used[s] : used[s] + n]
        used[s] += n
        out.append(_render(canvases[s], p, noise=1.0, seed=k))
    return np.concatenate(out)


@pytest.mark.parametrize(("order", "expect"), [("ABAB", True), ("ABA", False), ("AB", False)])
def test_scenes_that_alternate_are_found_one_return_is_editing(order: str, expect: bool) -> None:
    a, b = _canvas(1), _canvas(2)
    frames = _shots(a, b, order)
    n = 36
    cuts = [n * k for k in range(1, len(order))]
    times = np.arange(len(frames)) / FPS
    r = scene_returns(_dist(frames), cuts, times)
    assert r.detected is expect
    if expect:
        assert r.returns >= 2 and r.start_s == pytest.approx(2 * n / FPS)
        assert r.ratio is not None and r.ratio < 0.35


def test_a_sliver_after_a_cut_does_not_join_the_shot_before() -> None:
    """A B A B then two frames of A (a remainder, or the frame between two
    detectors' reports of one cut): too short to be a shot, the sliver is
    left out; merged into the last B shot it made that shot "the same view"
    as the A shot before it, and the second return went unseen."""
    a, b = _canvas(1), _canvas(2)
    n = 36
    frames = _shots(a, b, "ABABA")[: 4 * n + 2]
    times = np.arange(len(frames)) / FPS
    r = scene_returns(_dist(frames), [n, 2 * n, 3 * n, 4 * n], times)
    assert r.detected and r.returns >= 2 and r.shots == 4


def test_a_new_scene_after_every_cut_is_no_alternation() -> None:
    frames = np.concatenate(
        [_render(_canvas(s), _path(36, seed=s, speed=1.0), seed=s) for s in (1, 2, 3, 4)]
    )
    times = np.arange(len(frames)) / FPS
    assert not scene_returns(_dist(frames), [36, 72, 108], times).detected


def test_flicker_has_a_start_time() -> None:
    rng = np.random.default_rng(0)
    shifts = rng.normal(0, 0.3, (119, 3))
    k0 = 60  # flicker from pair 60 on: the gain alternates every frame
    sign = np.where(np.arange(119 - k0) % 2 == 0, 1.0, -1.0)
    shifts[k0:] += 3 * FLICKER_LEVELS * sign[:, None]
    st = flicker_from_shifts(shifts)
    assert st.flicker
    assert flicker_start(st) == pytest.approx(k0, abs=1)
    assert flicker_start(flicker_from_shifts(rng.normal(0, 0.3, (119, 3)))) is None


def test_a_replay_must_be_a_copy_not_only_less_unlike_than_fast_neighbours() -> None:
    """Fast content: frames a quarter second apart are entirely different
    (cosine distance about 0.5), and frames 7 apart come back to 0.23 for
    four seconds. Relative to the neighbours that is a tight match; in
    absolute terms it is no copy, and ``max_distance`` says so. An exact
    replay (0.01) is found under the same limit."""
    t, fps, lag = 64, 8.0, 7
    i = np.arange(t)
    gap = np.abs(i[:, None] - i[None, :]).astype(np.float64)
    base = 0.6 * (1.0 - np.exp(-gap))
    for level, capped in ((0.23, False), (0.01, True)):
        d = base.copy()
        k = np.arange(10, 42)
        d[k, k + lag] = d[k + lag, k] = level
        assert detect_replay(d, fps).detected
        assert detect_replay(d, fps, max_distance=0.1).detected is capped


def test_the_dimension_holds_replays_to_the_match_distance(canvas) -> None:
    """``loop.match_distance`` reaches the replay detector in units of the
    backbone's change distance: a slow replay (matches at the noise level)
    is flagged at the default, and not when a copy must be closer than a
    thousandth of the change distance."""
    from vqeval.params import Params

    frames = _slow_loop(canvas, start=40, period=24, pingpong=False)
    a = _analysis(frames)
    assert compute_repetition(a).raw["replay"]["kind"] == "loop"
    strict = Params().replace({"loop.match_distance": 1e-3})
    assert compute_repetition(a, strict).raw["replay"]["kind"] is None
