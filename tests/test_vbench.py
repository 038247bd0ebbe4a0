"""VBench-style metrics and dimensions: formulas, flicker detector, dynamic
degree, VBench-Long protocol, image heuristics and learned heads."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from vqeval.metrics import consistency as mc
from vqeval.metrics import imaging as mi
from vqeval.metrics import vbench as mv

from vqeval.analysis import Analysis
from vqeval.config import ScoreConfig
from vqeval.results import ConfigError, VideoInfo
from vqeval.video import Clip

FPS = 12.0
H, W = 90, 160


def _photo(h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """A colourful smooth random RGB image, uint8."""
    rng = np.random.default_rng(seed)
    f = cv2.GaussianBlur(rng.uniform(0, 255, (h * 3, w * 3, 3)).astype(np.float32), (0, 0), 3)
    f = cv2.normalize(f, None, 10, 245, cv2.NORM_MINMAX)
    return np.clip(f, 0, 255).astype(np.uint8)


def _pan(n: int, k: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """(n, H, W, 3) views of a big photo moving ``k`` px per frame to the left."""
    big = _photo(seed=seed).astype(np.float32)
    rng = np.random.default_rng(seed + 1)
    out = []
    for t in range(n):
        m = np.float32([[1, 0, 20 + k * t], [0, 1, 40]])
        f = cv2.warpAffine(big, m, (W, H), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        if noise:
            f = f + rng.normal(0, noise, f.shape)
        out.append(np.clip(np.rint(f), 0, 255).astype(np.uint8))
    return np.stack(out)


def _clip(frames: np.ndarray, fps: float = FPS, stills: np.ndarray | None = None) -> Clip:
    t = len(frames)
    info = VideoInfo(fps=fps, frame_count=t, width=frames.shape[2], height=frames.shape[1],
                     codec="raw", duration_s=t / fps)  # fmt: skip
    st = frames[:: max(1, t // 4)] if stills is None else stills
    return Clip(frames=frames, times_s=np.arange(t) / fps, fps=fps, info=info, stills=st,
                source_indices=np.arange(t))  # fmt: skip


def _gain(frames: np.ndarray, gains: np.ndarray) -> np.ndarray:
    g = np.asarray(gains, np.float32)[:, None, None, None]
    return np.clip(np.rint(frames.astype(np.float32) * g), 0, 255).astype(np.uint8)


# ------------------------------------------------------------ consistency formula


def test_vbench_consistency_known_values() -> None:
    same = np.tile([[1.0, 2.0, 3.0]], (5, 1))
    assert mc.vbench_consistency(same) == pytest.approx(1.0)
    # f0 = e1, f1 = e2 (orthogonal), f2 = e1: s1 = (0 + 0)/2, s2 = (0 + 1)/2
    f = np.array([[1.0, 0, 0], [0, 1.0, 0], [1.0, 0, 0]])
    assert mc.vbench_consistency(f) == pytest.approx(0.25)
    # negative cosines are clipped at 0
    assert mc.vbench_consistency(np.array([[1.0, 0], [-1.0, 0]])) == pytest.approx(0.0)
    assert mc.vbench_consistency(np.ones((1, 4))) == 1.0


def test_temporal_flickering_formula() -> None:
    a = np.full((3, 4, 4, 3), 100, np.uint8)
    assert mc.temporal_flickering(a) == 1.0
    a[1] = 151  # |diff| = 51 on both pairs
    assert mc.temporal_flickering(a) == pytest.approx(1.0 - 51 / 255)


def test_background_features_shape_and_consistency() -> None:
    f = _pan(6, 0.0)
    bg = mc.background_features(f)
    assert bg.shape[0] == 6 and np.allclose(np.linalg.norm(bg, axis=1), 1.0, atol=1e-5)
    assert mc.vbench_consistency(bg) == pytest.approx(1.0)
    other = mc.background_features(_pan(6, 0.0, seed=5))
    assert float(bg[0] @ other[0]) < 0.7  # different content, different border


# ------------------------------------------------------------ flicker detector


def test_alternating_gain_is_flicker_static_and_moving() -> None:
    gains = np.where(np.arange(36) % 2 == 0, 1.0, 1.12)
    for base in (_pan(36, 0.0, noise=1.0), _pan(36, 3.0, noise=1.0)):
        st = mc.brightness_flicker(_gain(base, gains))
        assert st.flicker, st.flicker_fraction
        assert st.flicker_index > 5.0


def test_motion_noise_and_fades_are_not_flicker() -> None:
    assert not mc.brightness_flicker(_pan(36, 0.0, noise=1.5)).flicker
    assert not mc.brightness_flicker(_pan(36, 4.0, noise=1.5)).flicker
    fade = _gain(_pan(36, 2.0), np.linspace(1.0, 0.5, 36))  # one-way brightness change
    st = mc.brightness_flicker(fade)
    assert not st.flicker and st.flicker_index < 0.5
    # a moving bright object over a static background is motion, not flicker
    base = _pan(36, 0.0)
    for t in range(36):
        cv2.circle(base[t], (20 + 3 * t, 45), 15, (255, 255, 255), -1)
    assert not mc.brightness_flicker(base).flicker


# ------------------------------------------------------------ motion smoothness


def test_motion_smoothness_warp_beats_averaging_on_smooth_motion() -> None:
    g = cv2.cvtColor(_pan(13, 1.0).reshape(-1, W, 3), cv2.COLOR_RGB2GRAY).reshape(13, H, W)
    warp = mc.motion_smoothness(g, method="warp")
    avg = mc.motion_smoothness(g, method="average")
    assert 0.0 <= avg < warp <= 1.0
    assert warp > 0.99
    same = np.repeat(g[:1], 5, axis=0)
    assert mc.motion_smoothness(same) == pytest.approx(1.0)
    # jerky motion (random jumps) is less smooth than steady motion
    rng = np.random.default_rng(3)
    pos = np.cumsum(rng.choice([0.0, 6.0], 13))
    big = cv2.cvtColor(_photo(), cv2.COLOR_RGB2GRAY).astype(np.float32)
    jerky = np.stack([
        cv2.warpAffine(big, np.float32([[1, 0, 20 + p], [0, 1, 40]]), (W, H),
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP) for p in pos
    ]).astype(np.uint8)  # fmt: skip
    assert mc.motion_smoothness(jerky) < warp
    with pytest.raises(ValueError):
        mc.motion_smoothness(g, method="amt")


# ------------------------------------------------------------ dynamic degree


def test_dynamic_threshold_matches_vbench_rule() -> None:
    # 6*min/256 px per pair at 8 fps, as %diag/s
    thr = mv.dynamic_threshold(90, 160)
    assert thr == pytest.approx(6 * 90 / 256 / math.hypot(90, 160) * 100 * 8)
    assert mv.dynamic_threshold(180, 320) == pytest.approx(thr)  # resolution-free
    dd = mv.dynamic_degree(np.full(16, thr * 1.5), 90, 160)
    assert dd.dynamic and dd.needed == round(4 * 17 / 16) and dd.moving_pairs == 16
    few = np.zeros(16)
    few[:3] = thr * 2  # 3 moving pairs of 17 frames: needed round(4.25) = 4
    assert not mv.dynamic_degree(few, 90, 160).dynamic
    few[:4] = thr * 2  # 4 >= 4: dynamic (VBench's count >= count_num)
    assert mv.dynamic_degree(few, 90, 160).dynamic


def test_split_clips_and_long_protocol() -> None:
    assert mv.split_clips(10, 12.0) == [(0, 10)]
    assert mv.split_clips(48, 12.0) == [(0, 24), (24, 48)]
    # VBench-Long: a remainder becomes a full-length clip of the last frames
    assert mv.split_clips(60, 12.0) == [(0, 24), (24, 48), (36, 60)]
    assert mv.split_clips(55, 12.0) == [(0, 24), (24, 48), (31, 55)]
    vals = np.concatenate([np.zeros(24), np.ones(24)])
    assert mv.long_protocol(vals, 12.0, np.mean) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        mv.split_clips(10, 0.0)


# ------------------------------------------------------------ image heuristics


def test_imaging_heuristic_ranks_defects() -> None:
    from skimage import data

    sharp = data.astronaut()  # bundled with scikit-image, 512 x 512 RGB
    base = mi.imaging_heuristic(sharp[None])
    blurred = mi.imaging_heuristic(cv2.GaussianBlur(sharp, (0, 0), 2.5)[None])
    assert blurred.blur > base.blur + 0.2 and blurred.score < base.score - 20
    rng = np.random.default_rng(0)
    noisy = np.clip(sharp + rng.normal(0, 10, sharp.shape), 0, 255).astype(np.uint8)
    assert mi.noise_sigma(noisy) > mi.noise_sigma(sharp) + 4
    assert mi.imaging_heuristic(noisy[None]).score < base.score
    ok, enc = cv2.imencode(".jpg", sharp, [cv2.IMWRITE_JPEG_QUALITY, 5])
    assert ok
    blocky = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    assert mi.blockiness(blocky, 8.0) > 1.3 > mi.blockiness(sharp, 8.0)
    assert mi.blockiness(blocky, 2.0) == 1.0  # grid too fine to see
    assert mi.imaging_heuristic(blocky[None]).score < base.score
    assert 0 <= blurred.score <= base.score <= 100
    assert mi.blur_index(np.full((32, 32), 7, np.uint8)) == 1.0


def test_aesthetic_heuristic_ranks_dull_frames_low() -> None:
    good = mi.aesthetic_heuristic(_photo(200, 300)[None])
    grey = mi.aesthetic_heuristic(np.full((1, 200, 300, 3), 128, np.uint8))
    dark = mi.aesthetic_heuristic((_photo(200, 300) // 12)[None])
    assert good.score > dark.score and good.score > grey.score
    assert grey.colourfulness == pytest.approx(0.0) and grey.contrast == pytest.approx(0.0)
    assert mi.colourfulness(np.zeros((4, 4, 3), np.uint8)) == 0.0
    assert mi.exposure_quality(np.full((8, 8), 255, np.uint8)) == 0.0


def test_linear_head() -> None:
    f = np.array([[3.0, 4.0], [0.0, 2.0]])
    out = mi.linear_head(f, np.array([[10.0, 0.0]]), np.array([1.0]))
    assert np.allclose(out, [1.0 + 10 * 0.6, 1.0])
    with pytest.raises(ValueError):
        mi.linear_head(f, np.ones(3), 0.0)


# ------------------------------------------------------------ dimensions


def _score_all(a: Analysis) -> dict:
    from vqeval.dimensions import registry

    reg = registry()
    names = ("subject_consistency", "background_consistency", "temporal_flickering",
             "motion_smoothness", "dynamic_degree", "imaging_quality", "aesthetic_quality")  # fmt: skip
    return {n: reg[n].compute(a) for n in names}


def test_identical_frames_on_vbench_dimensions() -> None:
    frames = np.repeat(_pan(1, 0.0), 24, axis=0)
    s = _score_all(Analysis(_clip(frames), ScoreConfig()))
    assert s["subject_consistency"].score == pytest.approx(100.0, abs=0.01)
    assert s["subject_consistency"].backbone == "pixel"
    assert s["background_consistency"].score == pytest.approx(100.0, abs=0.01)
    assert s["background_consistency"].backbone == "border-ring"
    assert s["temporal_flickering"].score == pytest.approx(100.0)
    assert s["temporal_flickering"].raw["flags"] == []
    assert s["motion_smoothness"].score == pytest.approx(100.0)
    assert s["dynamic_degree"].score == 0.0
    assert s["subject_consistency"].raw["protocol"] == "vbench"
    for d in s.values():
        assert d.score is not None and 0.0 <= d.score <= 100.0 and d.backbone


def test_fast_motion_is_dynamic_and_flicker_is_flagged() -> None:
    frames = _pan(24, 8.0)  # ~52 %diag/s, far above the ~9 %diag/s threshold
    gains = np.where(np.arange(24) % 2 == 0, 1.0, 1.15)
    s = _score_all(Analysis(_clip(_gain(frames, gains)), ScoreConfig()))
    assert s["dynamic_degree"].score == 100.0
    assert s["temporal_flickering"].raw["flags"] == ["flicker"]
    assert s["subject_consistency"].score < 100.0


def test_long_video_uses_vbench_long_protocol() -> None:
    frames = _pan(12 * 10, 1.0)  # 10 s at 12 fps > LONG_VIDEO_S
    s = _score_all(Analysis(_clip(frames), ScoreConfig()))
    for n in ("subject_consistency", "background_consistency", "dynamic_degree"):
        assert s[n].raw["protocol"] == "vbench-long"
        assert s[n].raw["clips"] == 5 and s[n].raw["clip_s"] == 2.0
    # 2 s clips forget slow drift: VBench-Long is more lenient than whole-video scoring
    a = Analysis(_clip(frames), ScoreConfig())
    whole = mc.vbench_consistency(a.embeddings_of("pixel"))
    assert s["subject_consistency"].raw["value"] >= whole


# ------------------------------------------------------------ learned weights


def test_learned_consistency_backbones_from_local_weights(tmp_path, monkeypatch) -> None:
    safetensors = pytest.importorskip("safetensors.torch")
    from tests.test_features import _tiny_clip, _tiny_dino

    monkeypatch.delenv("VQEVAL_WEIGHTS", raising=False)
    safetensors.save_file(_tiny_dino(), str(tmp_path / "dino_vitb16.safetensors"))
    safetensors.save_file(_tiny_clip(), str(tmp_path / "clip_vitb32.safetensors"))
    a = Analysis(_clip(_pan(6, 2.0)), ScoreConfig(weights_dir=str(tmp_path)))
    from vqeval.dimensions.vbench import (
        compute_background_consistency,
        compute_subject_consistency,
    )

    sc = compute_subject_consistency(a)
    bc = compute_background_consistency(a)
    assert sc.backbone == "dino" and bc.backbone == "clip"
    assert 0.0 <= sc.score <= 100.0 and 0.0 <= bc.score <= 100.0


def test_aesthetic_head_from_local_weights(tmp_path, monkeypatch) -> None:
    torch = pytest.importorskip("torch")
    safetensors = pytest.importorskip("safetensors.torch")
    from tests.test_features import _tiny_clip
    from vqeval.dimensions import vbench as dv

    monkeypatch.delenv("VQEVAL_WEIGHTS", raising=False)
    a = Analysis(_clip(_pan(4, 1.0)), ScoreConfig(weights_dir=str(tmp_path)))
    assert dv.compute_aesthetic_quality(a).backbone == "heuristic"  # nothing there

    g = torch.Generator().manual_seed(0)
    head = {"weight": torch.randn(1, 32, generator=g), "bias": torch.tensor([5.0])}
    safetensors.save_file(head, str(tmp_path / "laion_aesthetic_l14_linear.safetensors"))
    with pytest.raises(ConfigError, match=r"clip_vitl14\.safetensors"):
        dv.compute_aesthetic_quality(a)

    safetensors.save_file(_tiny_clip(out=32), str(tmp_path / "clip_vitl14.safetensors"))
    d = dv.compute_aesthetic_quality(a)
    assert d.backbone == "clip-l14+laion" and d.raw["model"] == "laion-linear"
    # the score is the head on normalised embeddings / 10, x100
    bb, w, b = dv._aesthetic_model(str(tmp_path))
    expected = np.clip(mi.linear_head(bb.embed(a.clip.stills), w, b).mean() / 10, 0, 1) * 100
    assert d.score == pytest.approx(expected, abs=0.01)

    safetensors.save_file(
        {"other": torch.zeros(3)}, str(tmp_path / "laion_aesthetic_l14_linear.safetensors")
    )
    from vqeval.weights import clear_cache

    clear_cache()
    with pytest.raises(ConfigError, match="linear aesthetic head"):
        dv.compute_aesthetic_quality(a)
