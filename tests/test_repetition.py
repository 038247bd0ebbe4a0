"""Repetition and progression: known answers on synthetic clips."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from vqeval.metrics.features import pixel_features
from vqeval.metrics.progression import greedy_states, measure_progression
from vqeval.metrics.repetition import (
    detect_repetition,
    downsample_matrix,
    return_completeness,
    self_similarity,
)

from vqeval.analysis import Analysis
from vqeval.config import ScoreConfig
from vqeval.dimensions.content import compute_freeze
from vqeval.dimensions.repetition import compute_progression, compute_repetition
from vqeval.video import Clip, VideoInfo

FPS = 12.0
H, W = 96, 128


def _canvas(seed: int, size: int = 900) -> np.ndarray:
    """Smooth random colour texture (several blurred noise octaves), uint8 RGB."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((size, size, 3), np.float32)
    for sigma, amp in ((24, 1.0), (8, 0.6), (2.5, 0.35)):
        n = rng.normal(0, 1, (size, size, 3)).astype(np.float32)
        n = cv2.GaussianBlur(n, (0, 0), sigma)
        acc += amp * n / (n.std() + 1e-6)
    acc = (acc - acc.min()) / (acc.max() - acc.min())
    return (acc * 255).astype(np.uint8)


def _path(n: int, seed: int, speed: float) -> np.ndarray:
    """Smooth, non-repeating 2-D path (n, 2) in pixels: drift plus wandering."""
    rng = np.random.default_rng(seed)
    heading = rng.uniform(0, 2 * np.pi)
    turn = cv2.GaussianBlur(rng.normal(0, 0.08, (n, 1)), (1, 0), 6).ravel()
    ang = heading + np.cumsum(turn)
    v = np.stack([np.cos(ang), np.sin(ang)], 1) * speed
    return np.cumsum(v, 0)


def _render(canvas: np.ndarray, path: np.ndarray, noise: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    c = np.array(canvas.shape[:2]) / 2 - np.array([H, W]) / 2
    frames = []
    for x, y in path:
        m = np.float32([[1, 0, -(c[1] + x)], [0, 1, -(c[0] + y)]])
        fr = cv2.warpAffine(
            canvas, m, (W, H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
        )
        frames.append(fr)
    f = np.stack(frames).astype(np.float32)
    f += rng.normal(0, noise, f.shape)
    return np.clip(np.rint(f), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def canvas() -> np.ndarray:
    return _canvas(7)


def _analysis(frames: np.ndarray, fps: float = FPS) -> Analysis:
    """A real :class:`Analysis` of in-memory RGB frames at ``fps``."""
    t = len(frames)
    info = VideoInfo(fps=fps, frame_count=t, width=frames.shape[2], height=frames.shape[1],
                     codec="raw", duration_s=t / fps)  # fmt: skip
    clip = Clip(frames=frames, times_s=np.arange(t) / fps, fps=fps, info=info,
                stills=frames[:1], source_indices=np.arange(t))  # fmt: skip
    return Analysis(clip, ScoreConfig())


# ------------------------------------------------------------------------- known answers


def test_identical_frames_no_loop_full_similarity(canvas) -> None:
    frames = np.repeat(_render(canvas, np.zeros((1, 2)), noise=0)[:1], 60, axis=0)
    e = pixel_features(frames)
    r = detect_repetition(e, FPS)
    assert not r.loop_detected and r.loop_period_s is None and not r.pingpong
    assert r.mean_similarity == pytest.approx(1.0, abs=1e-4)
    assert r.score == 100.0 and r.revisit_ratio == 0.0
    p = measure_progression(e, FPS)
    assert p.frozen and p.score < 5 and p.states == 1


@pytest.mark.parametrize("period", [17, 30])
def test_known_period_detected_within_one_frame(canvas, period: int) -> None:
    n_src = period
    src_path = _path(n_src, seed=period, speed=3.0)
    t = np.arange(108)
    frames = _render(canvas, src_path[t % period], noise=1.5, seed=1)  # fresh noise each frame
    r = detect_repetition(pixel_features(frames), FPS)
    assert r.loop_detected and not r.pingpong
    assert abs(r.loop_period_frames - period) <= 1.0
    assert r.loop_period_s == pytest.approx(period / FPS, abs=1.0 / FPS)
    assert r.loop_strength > 0.9 and r.score < 20
    assert r.repeat_ranges and r.repeat_ranges[0].source_start < r.repeat_ranges[0].start
    assert r.revisit_ratio > 0.5


def test_random_smooth_content_is_no_loop(canvas) -> None:
    for seed in (3, 4, 5):
        frames = _render(canvas, _path(120, seed=seed, speed=2.5), seed=seed)
        e = pixel_features(frames)
        r = detect_repetition(e, FPS)
        assert not r.loop_detected and not r.pingpong, seed
        assert r.score >= 90, (seed, r)
        p = measure_progression(e, FPS)
        assert not p.frozen and p.score >= 90, (seed, p)


def test_slow_pan_progresses_and_is_no_loop(canvas) -> None:
    # 0.35 px/frame at 128 px width: 0.27 % of the width per frame
    frames = _render(canvas, _path(120, seed=11, speed=0.35), seed=2)
    e = pixel_features(frames)
    assert not detect_repetition(e, FPS).loop_detected
    p = measure_progression(e, FPS)
    assert not p.frozen and p.score >= 90 and p.still_fraction < 0.1


def test_pingpong_detected_with_period(canvas) -> None:
    half = 12
    src = _path(half + 1, seed=21, speed=3.0)
    t = np.arange(108)
    u = t % (2 * half)
    order = np.where(u <= half, u, 2 * half - u)
    frames = _render(canvas, src[order], seed=3)
    r = detect_repetition(pixel_features(frames), FPS)
    assert r.pingpong and r.loop_detected
    assert abs(r.loop_period_frames - 2 * half) <= 1.0


def test_single_reversal_is_not_a_loop(canvas) -> None:
    src = _path(60, seed=31, speed=2.5)
    order = np.concatenate([np.arange(60), np.arange(58, -1, -1)[:40]])
    frames = _render(canvas, src[order], seed=4)
    r = detect_repetition(pixel_features(frames), FPS)
    assert not r.pingpong and not r.loop_detected


def test_motion_then_freeze_is_frozen_not_loop(canvas) -> None:
    path = _path(24, seed=41, speed=3.0)
    path = np.concatenate([path, np.repeat(path[-1:], 72, axis=0)])
    frames = _render(canvas, path, noise=1.0, seed=5)
    e = pixel_features(frames)
    assert not detect_repetition(e, FPS).loop_detected
    p = measure_progression(e, FPS)
    assert p.frozen and p.still_fraction > 0.6 and p.score < 40


def test_loop_is_not_progress_nor_frozen(canvas) -> None:
    period = 18
    src = _path(period, seed=51, speed=3.0)
    frames = _render(canvas, src[np.arange(120) % period], seed=6)
    p = measure_progression(pixel_features(frames), FPS)
    assert not p.frozen  # a loop moves: not still ...
    assert p.score < 40  # ... but shows nothing new after its first period


# ------------------------------------------------------------------------- building blocks


def test_forward_motion_never_returns() -> None:
    # a straight line in embedding space: distances grow monotonically
    t = np.linspace(0, 1.2, 50)
    e = np.stack([np.cos(t), np.sin(t)], 1)
    q, valid = return_completeness(self_similarity(e), 0.05)
    assert valid.any() and q[valid].max() < 1e-9


def test_greedy_states() -> None:
    e = np.eye(4)[[0, 0, 1, 1, 2, 0, 3]]
    assert greedy_states(e, 0.5) == 4


def test_downsample_matrix() -> None:
    m = self_similarity(np.random.default_rng(0).normal(size=(150, 8)))
    d = np.array(downsample_matrix(m, 64, 3))
    assert d.shape == (64, 64)
    np.testing.assert_allclose(d, d.T, atol=1e-12)
    assert np.all(np.abs(d) <= 1.0) and np.all(np.round(d, 3) == d)
    small = downsample_matrix(m[:10, :10])
    assert len(small) == 10 and small[0][0] == 1.0


def test_short_clip_scores_full() -> None:
    e = np.eye(3)
    assert detect_repetition(e, FPS).score == 100.0
    assert measure_progression(e, FPS).score == 100.0


# ------------------------------------------------------------------------- dimensions


def test_dimensions_raw_flags_and_series(canvas) -> None:
    period = 20
    frames = _render(canvas, _path(period, seed=61, speed=3.0)[np.arange(100) % period], seed=7)
    a = _analysis(frames)
    rep = compute_repetition(a)
    assert rep.name == "repetition" and rep.backbone == "pixel"
    assert rep.raw["flags"] == ["loop"] and rep.raw["loop_detected"]
    assert abs(rep.raw["loop_period_frames"] - period) <= 1
    assert rep.raw["loop_period_s"] == pytest.approx(period / FPS, abs=1 / FPS)
    for key in ("loop_strength", "pingpong", "revisit_ratio", "repeat_ranges"):
        assert key in rep.raw
    ssm = rep.series["ssm"]
    assert len(ssm) == 64 and len(ssm[0]) == 64
    prog = compute_progression(a)
    assert prog.name == "progression" and prog.raw["flags"] == []
    assert 0 <= prog.score <= 100

    still = _analysis(np.repeat(frames[:1], 40, axis=0))
    assert compute_repetition(still).raw["flags"] == []
    # little new content is not a failure by itself: progression raises no
    # flag; the freeze dimension calls the held picture frozen
    assert compute_progression(still).raw["flags"] == []
    assert compute_freeze(still).raw["flags"] == ["frozen"]


def test_period_in_seconds_uses_timestamps_when_frames_dropped_unevenly(canvas) -> None:
    # a 2.2 s loop rendered at 15 frames/s, then thinned to ~6 frames/s by
    # keeping frames 0, 3, 5, 8, 10, ... (steps 0.2 s and 0.133 s alternate)
    src_fps, period_s = 15.0, 2.2
    n_src = round(period_s * src_fps)
    path = _path(n_src, seed=71, speed=1.5)
    keep = np.concatenate([[0], np.cumsum(np.tile([3, 2], 60))])[:72]
    frames = _render(canvas, path[keep % n_src], seed=8)
    times = keep / src_fps
    r = detect_repetition(pixel_features(frames), 6.0, times_s=times)
    assert r.loop_detected
    assert r.loop_period_s == pytest.approx(period_s, rel=0.05)
    with pytest.raises(ValueError, match="times_s"):
        detect_repetition(pixel_features(frames), 6.0, times_s=times[:-1])
