"""Motion metrics and dimensions: flow units, freeze, motion decay, RAFT path."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from vqeval.metrics import motion as mm

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


# ----------------------------------------------------------------- decay
# (whether the content freezes is tests/test_content.py's subject)


def test_identical_frames_do_not_decay() -> None:
    fs = mm.compute_flow(np.repeat(_render(_pan(1, 0.0)), 24, axis=0), FPS)
    d = mm.motion_decay(fs)
    assert d.decay_ratio is None  # frozen, not decaying


def test_steady_motion_has_no_decay() -> None:
    fs = mm.compute_flow(_render(_pan(60, 2.0)), FPS)
    d = mm.motion_decay(fs)
    assert d.decay_ratio == pytest.approx(1.0, abs=0.15)
    assert abs(d.slope) < 0.05


def test_gradual_decay_is_measured() -> None:
    speed = np.concatenate([np.full(36, 3.0), np.linspace(3.0, 0.3, 36), np.full(24, 0.3)])
    pos = np.stack([40 + np.cumsum(speed), np.full(len(speed), 50.0)], axis=1)
    d = mm.motion_decay(mm.compute_flow(_render(pos), FPS))
    assert d.decay_ratio is not None and d.decay_ratio < 0.25
    assert d.slope < 0


# ----------------------------------------------------------------- dimensions


def test_dimensions_on_frozen_and_moving_video() -> None:
    from vqeval.dimensions.motion import compute_motion_decay, compute_motion_level

    frozen = Analysis(_clip(np.repeat(_render(_pan(1, 0.0)), 30, axis=0)), ScoreConfig())
    dec = compute_motion_decay(frozen)
    assert dec.raw["flags"] == [] and dec.score == 100.0  # never moved: frozen, not decayed
    assert len(dec.series["motion"]) == 30 and len(dec.series["times_s"]) == 30

    moving = Analysis(_clip(_render(_pan(30, 3.0))), ScoreConfig())
    lvl = compute_motion_level(moving)
    expected = 3.0 / DIAG * 100 * FPS
    assert lvl.raw["motion_mean_pct_diag_s"] == pytest.approx(expected, rel=0.1)
    assert moving.flow is moving.flow  # computed once
    assert compute_motion_decay(moving).raw["flags"] == []


def test_motion_that_dies_is_a_decay_and_slowing_is_not() -> None:
    from vqeval.dimensions.motion import compute_motion_decay

    n_move, n_still = 48, 36  # 4 s of motion, then 3 s frozen
    pos = _pan(n_move + n_still, 2.0)
    pos[n_move:] = pos[n_move - 1]
    dead = compute_motion_decay(Analysis(_clip(_render(pos, noise=0.5)), ScoreConfig()))
    assert dead.raw["flags"] == ["motion_decay"]
    assert dead.raw["motion_death_s"] == pytest.approx((n_move - 1) / FPS, abs=0.75)
    assert dead.raw["flag_details"][0]["start_s"] == dead.raw["motion_death_s"]
    # the same speed falling to a tenth but never stopping: slower, still alive
    speed = np.concatenate([np.full(36, 3.0), np.linspace(3.0, 0.3, 36), np.full(24, 0.3)])
    slow = np.stack([40 + np.cumsum(speed), np.full(len(speed), 50.0)], axis=1)
    slowing = compute_motion_decay(Analysis(_clip(_render(slow, noise=0.5)), ScoreConfig()))
    assert slowing.raw["flags"] == []
    assert slowing.score < 60  # the score still follows the late/early ratio


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
    from vqeval.metrics.consistency import motion_smoothness

    assert 0.0 <= motion_smoothness(g) <= 1.0
