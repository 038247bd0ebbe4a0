"""Content change, freezes, cuts and detail: what counts as a freeze is content
that stops changing, not pixels that stop moving."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from vqeval.metrics.content import (
    ContentAccumulator,
    changed_windows,
    content_series,
    faded_residual,
    weber_contrast,
)
from vqeval.metrics.detail import collapse_stats, detail_level
from vqeval.metrics.shots import detect_cuts, structure_correlation
from vqeval.metrics.stillness import REASON_IN_PLACE, REASON_NOISE, Thresholds, still_stats

from tests.test_motion import DIAG, FPS, _clip, _pan, _render
from vqeval.analysis import Analysis
from vqeval.config import ScoreConfig


def _stats(gray: np.ndarray, fps: float = FPS, **th: float):
    cs = content_series(gray, fps)
    return still_stats(cs, len(gray) / fps, Thresholds(**th) if th else None)


def _held(n: int) -> np.ndarray:
    return _render(np.zeros((n, 2)) + 40.0)


# ------------------------------------------------------------ representation


def test_weber_contrast_ignores_gain_and_keeps_flat_fields_flat() -> None:
    g = _render(_pan(1, 0.0))[0].astype(np.float32)
    a, b = weber_contrast(g), weber_contrast(np.clip(g * 1.25, 0, 255))
    corr = float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))
    assert corr > 0.99
    flat = weber_contrast(np.full((90, 160), 120.0))
    assert float(np.abs(flat).max()) < 1e-4


def test_streaming_accumulator_equals_the_array_function() -> None:
    g = _render(_pan(40, 1.0), noise=1.0)
    acc = ContentAccumulator(FPS)
    for i, f in enumerate(g):
        acc.push(f, i / FPS)
    a, b = acc.result(), content_series(g, FPS)
    np.testing.assert_allclose(a.block_change, b.block_change)
    np.testing.assert_allclose(a.block_noise, b.block_noise)
    assert acc._ring.maxlen == acc.m + 1  # memory does not grow with the length


# ------------------------------------------------------------------- freezes


def test_identical_frames_are_frozen_from_the_start() -> None:
    st = _stats(_held(36))
    assert st.frozen and st.freeze_ratio == pytest.approx(1.0)
    assert st.frozen_tail_start_s == 0.0 and st.start_s == 0.0


@pytest.mark.parametrize("sigma", [2.0, 4.0])
def test_sensor_noise_does_not_hide_a_freeze(sigma: float) -> None:
    st = _stats(_render(np.zeros((48, 2)) + 40.0, noise=sigma))
    assert st.frozen and st.freeze_ratio > 0.9


def test_slow_healthy_pan_is_not_frozen() -> None:
    k = 0.5 * DIAG / 100.0 / FPS  # 0.5 %diag/s: ~0.08 px per frame
    st = _stats(_render(_pan(60, k), noise=1.0))
    assert not st.frozen and st.freeze_ratio < 0.1


def test_motion_then_frozen_tail() -> None:
    n_move, n_still = 48, 36
    pos = _pan(n_move + n_still, 2.0)
    pos[n_move:] = pos[n_move - 1]
    st = _stats(_render(pos, noise=0.5))
    assert st.frozen
    assert st.frozen_tail_start_s == pytest.approx((n_move - 1) / FPS, abs=0.75)


def test_static_opening_then_motion_is_not_frozen() -> None:
    pos = _pan(84, 2.0)
    pos[:24] = pos[0]
    pos[24:] = _pan(60, 2.0)
    st = _stats(_render(pos, noise=0.5))
    assert not st.frozen and st.frozen_tail_start_s is None
    assert st.static_opening_s == pytest.approx(24 / FPS, abs=0.75)


def _fade_out(g: np.ndarray, frames: int) -> np.ndarray:
    out = g.astype(np.float32)
    out[-frames:] *= np.linspace(1.0, 0.0, frames, dtype=np.float32)[:, None, None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def test_a_held_picture_that_fades_to_black_stays_frozen_to_the_end() -> None:
    """The Weber offset keeps a darkening picture's contrast from cancelling;
    undone as a gain, a fade of a held picture is no change, and the still
    tail runs through it instead of ending in "motion"."""
    g = _fade_out(_render(np.zeros((60, 2)) + 40.0, noise=1.0), round(1.5 * FPS))
    st = _stats(g)
    assert st.frozen and st.frozen_tail_start_s == 0.0 and st.static_opening_s == 0.0


def test_a_moving_picture_that_fades_to_black_is_not_frozen() -> None:
    g = _fade_out(_render(_pan(60, 2.0), noise=1.0), round(1.5 * FPS))
    st = _stats(g)
    assert not st.frozen and st.frozen_tail_start_s is None


def test_the_faded_residual_undoes_a_gain_and_keeps_a_change() -> None:
    a = weber_contrast(_render(_pan(1, 0.0))[0])
    assert float(np.abs(faded_residual(a, 0.4 * a)).max()) < 1e-5
    assert float(np.abs(faded_residual(0.4 * a, a)).max()) < 1e-5

    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(x**2)))

    # a small move (the changes a freeze is decided on) keeps its size; a
    # large one keeps at least sqrt(1/2) of it (the gain fits its common part)
    small = weber_contrast(_render(_pan(1, 0.0) + 0.5)[0])
    assert rms(faded_residual(a, small)) == pytest.approx(rms(small - a), rel=0.03)
    large = weber_contrast(_render(_pan(1, 0.0) + 3.0)[0])
    assert rms(faded_residual(a, large)) >= np.sqrt(0.5) * rms(large - a)


def test_a_held_picture_under_flicker_is_frozen() -> None:
    rng = np.random.default_rng(3)
    g = _held(48).astype(np.float32) * rng.uniform(0.85, 1.15, (48, 1, 1))
    st = _stats(np.clip(g, 0, 255).astype(np.uint8))
    assert st.frozen and st.freeze_ratio > 0.9


def test_twitching_texture_is_noise_not_motion() -> None:
    rng = np.random.default_rng(5)
    base = _held(1)[0].astype(np.float32)
    yy, xx = np.mgrid[0:90, 0:160].astype(np.float32)
    frames = []
    for _ in range(48):  # a new random sub-pixel warp every frame
        d = cv2.resize(rng.normal(0, 0.8, (2, 6, 6)).astype(np.float32)[0], (160, 90))
        e = cv2.resize(rng.normal(0, 0.8, (2, 6, 6)).astype(np.float32)[1], (160, 90))
        frames.append(cv2.remap(base, xx + d, yy + e, cv2.INTER_LINEAR))
    st = _stats(np.clip(frames, 0, 255).astype(np.uint8))
    assert st.frozen and st.reason == REASON_NOISE


def _pulsing(amplitude: float, n: int = 72, hz: float = 0.25) -> np.ndarray:
    """A held picture whose central patch brightens and darkens at ``hz``."""
    base = _held(1)[0].astype(np.float32)
    tex = cv2.GaussianBlur(np.random.default_rng(9).normal(0, 1, (90, 160)), (0, 0), 2.0)
    tex = (tex / tex.std()).astype(np.float32)
    mask = np.zeros((90, 160), np.float32)
    mask[25:65, 50:110] = 1.0
    t = np.arange(n) / FPS
    out = [base * (1 + amplitude * math.sin(2 * math.pi * hz * s) * tex * mask) for s in t]
    return np.clip(out, 0, 255).astype(np.uint8)


def test_texture_fluctuating_in_place_is_frozen_and_lively_change_is_not() -> None:
    small = _stats(_pulsing(0.1))  # visible (> the change floor), above noise, in place
    assert small.frozen and small.reason == REASON_IN_PLACE
    big = _stats(_pulsing(0.4))  # like a talking mouth: large, but going nowhere
    assert not big.frozen
    # the progress test is what tells the small one apart: without it, it "moves"
    assert not _stats(_pulsing(0.1), progress_ratio=0.0).frozen


def test_changed_windows_needs_change_noise_margin_and_progress() -> None:
    cs = content_series(_render(_pan(36, 2.0)), FPS)
    assert changed_windows(cs).min() == pytest.approx(1.0)
    assert changed_windows(cs, change_floor=10.0).max() == 0.0
    assert changed_windows(cs, snr_floor=1e12).max() == 0.0


# ---------------------------------------------------------------------- cuts


def test_hard_cut_is_found_and_flicker_is_not() -> None:
    a = _render(_pan(24, 1.0), seed=1)
    other = np.ascontiguousarray(np.rot90(_render(_pan(24, 1.0), seed=2)[:, :90, :90], axes=(1, 2)))
    b = np.stack([cv2.resize(f, (160, 90)) for f in other])
    rgb = _clip(np.concatenate([a, b])).frames
    assert detect_cuts(rgb, FPS) == [24]
    rng = np.random.default_rng(1)
    flick = np.clip(_clip(_held(36)).frames * rng.uniform(0.6, 1.4, (36, 1, 1, 1)), 0, 255)
    assert detect_cuts(flick.astype(np.uint8), FPS) == []
    assert structure_correlation(rgb[23], rgb[24]) < 0.6 < structure_correlation(rgb[0], rgb[1])
    cs = content_series(np.concatenate([a, b]), FPS, cuts=[24])
    assert cs.transition.any() and not cs.transition.all()


# -------------------------------------------------------------------- detail


def test_dissolving_into_blur_is_a_collapse_and_a_softer_shot_is_not() -> None:
    g = _render(_pan(72, 2.0))
    blurred = g.copy()
    for i in range(24, 72):
        s = 0.5 + min(1.0, (i - 24) / 12) * 8.0
        blurred[i] = cv2.GaussianBlur(g[i], (0, 0), s)
    d = np.array([detail_level(f) for f in blurred])
    t = np.arange(72) / FPS
    st = collapse_stats(d, t)
    assert st.collapsed and st.reason == "dissolved"
    assert st.start_s == pytest.approx(24 / FPS, abs=1.0)
    # the same drop at a hard cut is a new, softer shot
    soft = np.concatenate([g[:36], np.stack([cv2.GaussianBlur(f, (0, 0), 3.0) for f in g[36:]])])
    ds = np.array([detail_level(f) for f in soft])
    assert not collapse_stats(ds, t, cuts=[36]).collapsed
    assert not collapse_stats(np.array([detail_level(f) for f in g]), t).collapsed


def test_featureless_clip_is_a_collapse() -> None:
    g = np.full((36, 90, 160), 128, np.uint8)
    g[:, :, 80:] = 131  # one faint edge
    d = np.array([detail_level(f) for f in g])
    st = collapse_stats(d, np.arange(36) / FPS)
    assert st.collapsed and st.reason == "featureless"


# ---------------------------------------------------------------- dimensions


def test_freeze_and_detail_dimensions_explain_their_flags() -> None:
    from vqeval.dimensions.content import compute_detail, compute_freeze
    from vqeval.scoring import summarize

    frozen = Analysis(_clip(_render(np.zeros((36, 2)) + 40.0, noise=2.0)), ScoreConfig())
    f = compute_freeze(frozen)
    assert f.score == pytest.approx(0.0, abs=1.0) and f.raw["flags"] == ["frozen"]
    (detail,) = f.raw["flag_details"]
    assert detail["flag"] == "frozen" and detail["start_s"] == 0.0 and detail["reason"]
    s = summarize({"freeze": f}, {"freeze": 1.0})
    assert s.flag_details[0].text.startswith("frozen from 0.0 s: ")
    moving = Analysis(_clip(_render(_pan(36, 2.0))), ScoreConfig())
    fm = compute_freeze(moving)
    assert fm.raw["flags"] == []
    assert compute_detail(moving).raw["flags"] == [] and compute_detail(moving).score == 100.0
    # plot series come back in the score; the analysis is not written to
    assert len(fm.series["still"]) == len(fm.series["still_times_s"]) > 0
    assert not hasattr(moving, "series")


@pytest.mark.parametrize("px_per_frame", [6.0, 10.0])
def test_fast_pan_is_change_not_noise(px_per_frame: float) -> None:
    # consecutive frames no longer overlap at the contrast blur: the even/odd
    # noise estimate of a window is the motion itself (SNR ~1), so without the
    # fast-motion rule a fast pan reads as "motion is noise"
    from vqeval.metrics.stillness import fast_pairs

    from vqeval.dimensions.content import compute_freeze

    a = Analysis(_clip(_render(_pan(48, px_per_frame))), ScoreConfig())
    assert still_stats(a.content, a.duration_s).frozen  # SNR alone is fooled
    assert fast_pairs(a.content, a.flow, max(a.frame_size)).all()
    assert compute_freeze(a).raw["flags"] == []
