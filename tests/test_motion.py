"""Motion metrics and dimensions: flow units, freeze, motion decay, RAFT path."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from metrics import motion as mm
from vqeval.analysis import Analysis
from vqeval.config import ScoreConfig
from vqeval.results import ConfigError, VideoInfo
from vqeval.video import Clip

FPS = 12.0
H, W = 90, 160
DIAG = math.hypot(H, W)


def _texture(seed: int = 0, shape: tuple[int, int] = (400, 700), sigma: float = 2.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = cv2.GaussianBlur(rng.uniform(0, 255, shape).astype(np.float32), (0, 0), sigma)
    return cv2.normalize(t, None, 20, 235, cv2.NORM_MINMAX)


def _render(
    positions: np.ndarray, *, noise: float = 0.0, size: tuple[int, int] = (W, H), seed: int = 1
) -> np.ndarray:
    """(T, h, w) uint8 views of a texture whose top-left corner is at ``positions`` (px)."""
    tex = _texture(shape=(400 * size[1] // H, 700 * size[0] // W), sigma=2.5 * size[0] / W)
    rng = np.random.default_rng(seed)
    out = []
    for x, y in positions:
        m = np.float32([[1, 0, x], [0, 1, y]])
        f = cv2.warpAffine(tex, m, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
        if noise:
            f = f + rng.normal(0, noise, f.shape)
        out.append(np.clip(np.rint(f), 0, 255).astype(np.uint8))
    return np.stack(out)


def _pan(n: int, px_per_frame: float, start: float = 40.0) -> np.ndarray:
    return np.stack([start + px_per_frame * np.arange(n), np.full(n, 50.0)], axis=1)


def _clip(gray: np.ndarray, fps: float = FPS) -> Clip:
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    t = len(rgb)
    info = VideoInfo(fps=fps, frame_count=t, width=rgb.shape[2], height=rgb.shape[1],
                     codec="raw", duration_s=t / fps)  # fmt: skip
    return Clip(frames=rgb, times_s=np.arange(t) / fps, fps=fps, info=info,
                stills=rgb[:: max(1, t // 4)], source_indices=np.arange(t))  # fmt: skip


# ----------------------------------------------------------------- flow units


@pytest.mark.parametrize("method", ["dis", "dis-ultrafast", "farneback"])
@pytest.mark.parametrize("k", [2.0, 3.5])
def test_translation_magnitude_within_10_percent(method: str, k: float) -> None:
    g = _render(_pan(10, k))
    fs = mm.compute_flow(g, FPS, method=method)
    expected = k / DIAG * 100.0 * FPS  # %diag/s
    assert len(fs.mean_mag) == 9
    assert np.median(fs.mean_mag) == pytest.approx(expected, rel=0.10)
    assert np.median(fs.top_mag) == pytest.approx(expected, rel=0.10)
    assert fs.to_px_per_frame(np.median(fs.mean_mag)) == pytest.approx(k, rel=0.10)


def test_units_do_not_depend_on_resolution_or_fps() -> None:
    # the same scene motion (10 %diag/s, >= 1.5 px per pair: DIS over-reads
    # sub-pixel motion by 10-20 %) at two sizes and two frame rates
    vals = []
    for (w, h), fps in (((160, 90), 12.0), ((320, 180), 12.0), ((160, 90), 8.0)):
        k = 10.0 * math.hypot(w, h) / 100.0 / fps
        g = _render(_pan(8, k), size=(w, h))
        vals.append(float(np.median(mm.compute_flow(g, fps).mean_mag)))
    assert max(vals) / min(vals) < 1.12, vals


def test_times_override_fps_and_validation() -> None:
    g = _render(_pan(5, 2.0))
    fs = mm.compute_flow(g, 999.0, times_s=np.arange(5) / FPS)
    assert np.allclose(fs.dt_s, 1 / FPS)
    with pytest.raises(ValueError):
        mm.compute_flow(g, FPS, times_s=np.zeros(5))
    with pytest.raises(ValueError):
        mm.compute_flow(g, FPS, method="nope")
    assert len(mm.compute_flow(g[:1], FPS).mean_mag) == 0


def test_motion_curve_one_value_per_frame() -> None:
    g = _render(_pan(6, 2.0))
    fs = mm.compute_flow(g, FPS)
    c = mm.motion_curve(fs)
    assert c.shape == (6,)
    assert np.all(c > 0)


# ----------------------------------------------------------------- freeze


def test_identical_frames_are_frozen() -> None:
    g = np.repeat(_render(_pan(1, 0.0)), 24, axis=0)
    fs = mm.compute_flow(g, FPS)
    st = mm.freeze_stats(fs)
    assert st.freeze_ratio == pytest.approx(1.0)
    assert st.near_duplicate_ratio == pytest.approx(1.0)
    assert st.frozen
    assert st.frozen_tail_start_s == 0.0
    assert st.static_opening_s == 0.0
    d = mm.motion_decay(fs, st.still)
    assert d.decay_ratio is None and not d.decayed  # frozen, not decaying


def test_sensor_noise_does_not_hide_a_freeze() -> None:
    still = np.zeros((36, 2)) + 40.0
    st = mm.freeze_stats(mm.compute_flow(_render(still, noise=2.0), FPS))
    assert st.frozen and st.freeze_ratio > 0.9


def test_slow_healthy_pan_is_not_frozen() -> None:
    # 1 %diag/s: a feature needs 100 s to cross the frame diagonal
    k = 1.0 * DIAG / 100.0 / FPS  # ~0.15 px per frame
    st = mm.freeze_stats(mm.compute_flow(_render(_pan(48, k), noise=1.0), FPS))
    assert not st.frozen
    assert st.freeze_ratio < 0.1


def test_motion_then_frozen_tail() -> None:
    n_move, n_still = 48, 36  # 4 s of motion, then 3 s frozen
    pos = _pan(n_move + n_still, 2.0)
    pos[n_move:] = pos[n_move - 1]
    fs = mm.compute_flow(_render(pos, noise=0.5), FPS)
    st = mm.freeze_stats(fs)
    truth = (n_move - 1) / FPS  # last moving frame
    assert st.frozen
    assert st.frozen_tail_start_s == pytest.approx(truth, abs=0.5)
    assert st.freeze_ratio == pytest.approx(n_still / (n_move + n_still - 1), abs=0.1)
    d = mm.motion_decay(fs, st.still)
    assert d.decayed
    assert d.motion_death_s == pytest.approx(truth, abs=0.5)
    assert d.decay_ratio is not None and d.decay_ratio < 0.25


def test_static_opening_then_motion_is_not_frozen() -> None:
    n_still, n_move = 24, 60  # 2 s still, then 5 s of motion
    pos = _pan(n_still + n_move, 2.0)
    pos[:n_still] = pos[0]
    pos[n_still:] = _pan(n_move, 2.0)
    fs = mm.compute_flow(_render(pos, noise=0.5), FPS)
    st = mm.freeze_stats(fs)
    assert not st.frozen
    assert st.static_opening_s == pytest.approx(n_still / FPS, abs=0.5)
    assert st.freeze_ratio < 0.05
    assert st.frozen_tail_start_s is None
    assert not mm.motion_decay(fs, st.still).decayed


def test_steady_motion_has_no_decay() -> None:
    fs = mm.compute_flow(_render(_pan(60, 2.0)), FPS)
    d = mm.motion_decay(fs)
    assert d.decay_ratio == pytest.approx(1.0, abs=0.15)
    assert abs(d.slope) < 0.05
    assert d.motion_death_s is None and not d.decayed


def test_gradual_decay_is_flagged() -> None:
    speed = np.concatenate([np.full(36, 3.0), np.linspace(3.0, 0.3, 36), np.full(24, 0.3)])
    pos = np.stack([40 + np.cumsum(speed), np.full(len(speed), 50.0)], axis=1)
    d = mm.motion_decay(mm.compute_flow(_render(pos), FPS))
    assert d.decayed and d.decay_ratio is not None and d.decay_ratio < 0.25
    assert d.slope < 0


# ----------------------------------------------------------------- dimensions


def test_dimensions_on_frozen_and_moving_video() -> None:
    frozen = Analysis(_clip(np.repeat(_render(_pan(1, 0.0)), 30, axis=0)), ScoreConfig())
    from vqeval.dimensions.motion import compute_freeze, compute_motion_decay, compute_motion_level

    f = compute_freeze(frozen)
    assert f.score == pytest.approx(0.0, abs=1e-6)
    assert f.raw["flags"] == ["frozen"] and f.backbone == "dis"
    assert f.raw["freeze_ratio"] == pytest.approx(1.0)
    dec = compute_motion_decay(frozen)
    assert dec.raw["flags"] == [] and dec.score == 100.0
    assert len(frozen.series["motion"]) == 30 and len(frozen.series["times_s"]) == 30

    moving = Analysis(_clip(_render(_pan(30, 3.0))), ScoreConfig())
    f = compute_freeze(moving)
    assert f.score == pytest.approx(100.0, abs=1.0) and f.raw["flags"] == []
    lvl = compute_motion_level(moving)
    expected = 3.0 / DIAG * 100 * FPS
    assert lvl.raw["motion_mean_pct_diag_s"] == pytest.approx(expected, rel=0.1)
    assert moving.flow is moving.flow  # computed once


def test_registry_weights_and_defaults() -> None:
    from vqeval.dimensions import registry

    reg = registry()
    assert reg["freeze"].weight > reg["subject_consistency"].weight
    assert reg["motion_level"].weight == 0.0
    assert all(reg[n].default for n in ("freeze", "motion_decay", "motion_level"))


def test_unknown_flow_backend_is_a_config_error() -> None:
    from vqeval.dimensions.motion import validate_flow

    a = Analysis(_clip(_render(_pan(4, 1.0))), ScoreConfig(flow="lucas"))
    with pytest.raises(ConfigError, match="unknown flow backend"):
        _ = a.flow
    with pytest.raises(ConfigError, match="unknown flow backend"):
        validate_flow(ScoreConfig(flow="lucas"))
    validate_flow(ScoreConfig())  # the default is valid


# ----------------------------------------------------------------- RAFT path


def test_torch_flow_fields_with_a_raft_like_module() -> None:
    torch = pytest.importorskip("torch")

    class ConstantFlow(torch.nn.Module):
        """RAFT-like interface: (img1, img2) -> list of (B, 2, H, W) refinements."""

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> list[torch.Tensor]:
            assert a.shape == b.shape and a.shape[1] == 3 and float(a.max()) > 1.0
            f = torch.zeros(a.shape[0], 2, *a.shape[2:])
            f[:, 0] = 3.0
            f[:, 1] = 4.0
            return [f * 0.5, f]

    g = _render(_pan(7, 0.0))
    rgb = np.repeat(g[..., None], 3, axis=-1)
    fields = mm.torch_flow_fields(rgb, ConstantFlow().eval(), batch=4)
    assert fields.shape == (6, H, W, 2)
    fs = mm.flow_series_from_fields(fields, g, FPS, method="raft")
    assert fs.method == "raft"
    assert np.allclose(fs.mean_mag, 5.0 / DIAG * 100 * FPS, rtol=1e-5)
    with pytest.raises(ValueError):
        mm.flow_series_from_fields(fields[:3], g, FPS, method="raft")


def test_raft_without_weights_is_one_clear_config_error(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VQEVAL_WEIGHTS", raising=False)
    a = Analysis(_clip(_render(_pan(4, 1.0))), ScoreConfig(flow="raft", weights_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match=r"raft_large\.safetensors"):
        _ = a.flow


def test_raft_without_torchvision_names_it(tmp_path) -> None:
    try:
        import torchvision  # noqa: F401
    except Exception:
        pass
    else:
        pytest.skip("torchvision importable here: the missing-torchvision message cannot be shown")
    (tmp_path / "raft_small.pth").write_bytes(b"not used")
    from vqeval.dimensions.motion import load_raft

    with pytest.raises(ConfigError, match="torchvision"):
        load_raft(str(tmp_path))


def test_tiny_frames_are_upscaled_for_the_flow() -> None:
    g = _render(_pan(6, 0.5), size=(8, 8))
    fs = mm.compute_flow(g, FPS)
    assert fs.height == 8 and fs.width == 8 and np.all(np.isfinite(fs.mean_mag))
    from metrics.consistency import motion_smoothness

    assert 0.0 <= motion_smoothness(g) <= 1.0


@pytest.mark.realvideos
def test_freeze_ranks_real_frozen_clips_below_the_rest(realvideos) -> None:
    import json

    from vqeval.dimensions.motion import compute_freeze
    from vqeval.video import read_clip

    labels = json.loads((realvideos / "labels.json").read_text())
    scores: dict[str, list[float]] = {"frozen": [], "other": []}
    # measured at 12 frames/s, where the freeze dimension alone separates them;
    # at the default 8 frames/s the slow almond timelapse (76) falls just below
    # frozen_riflex_pi (80), and only the composite separates all (docs/metrics.md)
    cfg = ScoreConfig(max_fps=12.0)
    for name, meta in labels.items():
        d = compute_freeze(Analysis(read_clip(realvideos / name, max_fps=12.0), cfg))
        frozen = meta["label"] == "frozen"
        scores["frozen" if frozen else "other"].append(d.score)
        if not frozen:
            assert d.raw["flags"] == [], name  # no healthy or looping clip reads frozen
    assert scores["frozen"] and scores["other"]
    assert max(scores["frozen"]) < min(scores["other"])  # AUROC 1
