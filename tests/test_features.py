"""Backbones: the weight-free pixel descriptor and the local-weights loaders."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from skimage import data as skdata
from vqeval.metrics.features import (
    ClipBackbone,
    DinoBackbone,
    PixelBackbone,
    pixel_features,
)

from vqeval.results import ConfigError
from vqeval.weights import available_backbones, get_backbone, weights_path


def _photo(name: str = "astronaut", size: tuple[int, int] = (144, 256)) -> np.ndarray:
    import cv2

    img = getattr(skdata, name)()
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return cv2.resize(img[..., :3], (size[1], size[0]), interpolation=cv2.INTER_AREA)


# ------------------------------------------------------------------ pixel backbone


def test_pixel_shape_norm_dtype() -> None:
    f = np.stack([_photo("astronaut"), _photo("coffee"), _photo("chelsea")])
    e = pixel_features(f)
    assert e.shape == (3, 417) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)


def test_pixel_robust_to_noise_sensitive_to_content() -> None:
    rng = np.random.default_rng(0)
    a = _photo("astronaut")
    noisy = np.clip(a + rng.normal(0, 2.0, a.shape), 0, 255).astype(np.uint8)
    shifted = np.roll(a, 12, axis=1)
    other = _photo("coffee")
    e = pixel_features(np.stack([a, noisy, shifted, other]))
    s = e @ e.T
    assert s[0, 1] > 0.995  # noise of 2 grey levels: same content
    assert s[0, 2] < s[0, 1] - 0.02  # a 12-px shift is a change ...
    assert s[0, 3] < s[0, 2]  # ... but smaller than another photo
    assert s[0, 3] < 0.6  # unrelated photos are not "similar" (centred blocks)


def test_pixel_flat_frames_are_finite_and_self_similar() -> None:
    flat = np.full((2, 32, 48, 3), 128, np.uint8)
    flat[1] = 30
    e = pixel_features(flat)
    assert np.isfinite(e).all()
    assert float(e[0] @ e[1]) == pytest.approx(1.0, abs=1e-6)


def test_pixel_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        pixel_features(np.zeros((2, 16, 16, 3), np.float32))
    with pytest.raises(ValueError, match="RGB"):
        pixel_features(np.zeros((2, 16, 16), np.uint8))


def test_registry_and_pixel_default() -> None:
    assert available_backbones()[0] == "pixel"
    assert {"dino", "clip"} <= set(available_backbones())
    bb = get_backbone("pixel")
    assert isinstance(bb, PixelBackbone) and bb.name == "pixel" and bb.input_size > 0
    with pytest.raises(ConfigError, match="unknown backbone"):
        get_backbone("nope")


# ------------------------------------------------------------- learned backbones


def test_missing_weights_message_names_file(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("VQEVAL_WEIGHTS", raising=False)
    with pytest.raises(ConfigError) as ei:
        get_backbone("dino", tmp_path)
    msg = str(ei.value)
    assert str(tmp_path / "dino_vitb16.safetensors") in msg and "pixel" in msg
    assert "\n" not in msg
    with pytest.raises(ConfigError, match="VQEVAL_WEIGHTS"):
        get_backbone("clip")


def _tiny_dino(dim: int = 64, depth: int = 2, patch: int = 8, grid: int = 4) -> dict:
    g = torch.Generator().manual_seed(0)

    def r(*shape: int, s: float = 0.05) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * s

    sd = {
        "cls_token": r(1, 1, dim),
        "pos_embed": r(1, 1 + grid * grid, dim),
        "patch_embed.proj.weight": r(dim, 3, patch, patch),
        "patch_embed.proj.bias": r(dim),
        "norm.weight": 1 + r(dim),
        "norm.bias": r(dim),
    }
    for i in range(depth):
        p = f"blocks.{i}."
        sd |= {
            p + "norm1.weight": 1 + r(dim), p + "norm1.bias": r(dim),
            p + "attn.qkv.weight": r(3 * dim, dim), p + "attn.qkv.bias": r(3 * dim),
            p + "attn.proj.weight": r(dim, dim), p + "attn.proj.bias": r(dim),
            p + "norm2.weight": 1 + r(dim), p + "norm2.bias": r(dim),
            p + "mlp.fc1.weight": r(4 * dim, dim), p + "mlp.fc1.bias": r(4 * dim),
            p + "mlp.fc2.weight": r(dim, 4 * dim), p + "mlp.fc2.bias": r(dim),
        }  # fmt: skip
    return sd


def _tiny_clip(dim: int = 64, depth: int = 2, patch: int = 8, grid: int = 4, out: int = 32) -> dict:
    g = torch.Generator().manual_seed(1)

    def r(*shape: int, s: float = 0.05) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * s

    sd = {
        "visual.conv1.weight": r(dim, 3, patch, patch),
        "visual.class_embedding": r(dim),
        "visual.positional_embedding": r(1 + grid * grid, dim),
        "visual.ln_pre.weight": 1 + r(dim), "visual.ln_pre.bias": r(dim),
        "visual.ln_post.weight": 1 + r(dim), "visual.ln_post.bias": r(dim),
        "visual.proj": r(dim, out, s=0.2),
        "token_embedding.weight": r(10, dim),  # text tower keys are ignored
    }  # fmt: skip
    for i in range(depth):
        p = f"visual.transformer.resblocks.{i}."
        sd |= {
            p + "ln_1.weight": 1 + r(dim), p + "ln_1.bias": r(dim),
            p + "attn.in_proj_weight": r(3 * dim, dim), p + "attn.in_proj_bias": r(3 * dim),
            p + "attn.out_proj.weight": r(dim, dim), p + "attn.out_proj.bias": r(dim),
            p + "ln_2.weight": 1 + r(dim), p + "ln_2.bias": r(dim),
            p + "mlp.c_fc.weight": r(4 * dim, dim), p + "mlp.c_fc.bias": r(4 * dim),
            p + "mlp.c_proj.weight": r(dim, 4 * dim), p + "mlp.c_proj.bias": r(dim),
        }  # fmt: skip
    return sd


def _reference_vit(sd: dict, x: torch.Tensor, *, clip: bool, depth: int, dim: int) -> torch.Tensor:
    """Independent forward pass built from torch.nn modules (pre-norm encoder)."""
    eps = 1e-5 if clip else 1e-6
    layers = []
    for i in range(depth):
        layer = torch.nn.TransformerEncoderLayer(
            dim, dim // 64 or 1, 4 * dim, dropout=0.0, activation="gelu",
            layer_norm_eps=eps, batch_first=True, norm_first=True,
        )  # fmt: skip
        if clip:
            p = f"visual.transformer.resblocks.{i}."
            m = {
                "self_attn.in_proj_weight": "attn.in_proj_weight",
                "self_attn.in_proj_bias": "attn.in_proj_bias",
                "self_attn.out_proj.weight": "attn.out_proj.weight",
                "self_attn.out_proj.bias": "attn.out_proj.bias",
                "linear1.weight": "mlp.c_fc.weight", "linear1.bias": "mlp.c_fc.bias",
                "linear2.weight": "mlp.c_proj.weight", "linear2.bias": "mlp.c_proj.bias",
                "norm1.weight": "ln_1.weight", "norm1.bias": "ln_1.bias",
                "norm2.weight": "ln_2.weight", "norm2.bias": "ln_2.bias",
            }  # fmt: skip
        else:
            p = f"blocks.{i}."
            m = {
                "self_attn.in_proj_weight": "attn.qkv.weight",
                "self_attn.in_proj_bias": "attn.qkv.bias",
                "self_attn.out_proj.weight": "attn.proj.weight",
                "self_attn.out_proj.bias": "attn.proj.bias",
                "linear1.weight": "mlp.fc1.weight", "linear1.bias": "mlp.fc1.bias",
                "linear2.weight": "mlp.fc2.weight", "linear2.bias": "mlp.fc2.bias",
                "norm1.weight": "norm1.weight", "norm1.bias": "norm1.bias",
                "norm2.weight": "norm2.weight", "norm2.bias": "norm2.bias",
            }  # fmt: skip
        layer.load_state_dict({k: sd[p + v] for k, v in m.items()})
        layers.append(layer.eval())
    ln = torch.nn.functional.layer_norm
    with torch.no_grad():
        if clip:
            w = sd["visual.conv1.weight"]
            h = torch.nn.functional.conv2d(x, w, stride=w.shape[-1]).flatten(2).transpose(1, 2)
            cls = sd["visual.class_embedding"].view(1, 1, -1).expand(len(h), -1, -1)
            h = torch.cat([cls, h], 1) + sd["visual.positional_embedding"][None]
            h = ln(h, (dim,), sd["visual.ln_pre.weight"], sd["visual.ln_pre.bias"], eps)
            for layer in layers:
                h = layer(h)
            return (
                ln(h[:, 0], (dim,), sd["visual.ln_post.weight"], sd["visual.ln_post.bias"], eps)
                @ sd["visual.proj"]
            )
        w = sd["patch_embed.proj.weight"]
        h = torch.nn.functional.conv2d(x, w, sd["patch_embed.proj.bias"], stride=w.shape[-1])
        h = h.flatten(2).transpose(1, 2)
        h = torch.cat([sd["cls_token"].expand(len(h), -1, -1), h], 1) + sd["pos_embed"]
        for layer in layers:
            h = layer(h)
        return ln(h, (dim,), sd["norm.weight"], sd["norm.bias"], eps)[:, 0]


@pytest.mark.parametrize("kind", ["dino", "clip"])
def test_learned_backbone_matches_reference(kind: str, tmp_path) -> None:
    from vqeval.metrics.features import (
        _CLIP_MEAN,
        _CLIP_STD,
        _IMAGENET_MEAN,
        _IMAGENET_STD,
        _preprocess,
    )

    sd = _tiny_dino() if kind == "dino" else _tiny_clip()
    stem = "dino_vitb16" if kind == "dino" else "clip_vitb32"
    save_file({k: v.contiguous() for k, v in sd.items()}, str(tmp_path / f"{stem}.safetensors"))
    bb = get_backbone(kind, tmp_path)
    assert bb.name == kind and bb.input_size == 32
    if kind == "clip":
        bb = ClipBackbone(sd, "test", quick_gelu=False)  # the reference uses exact GELU
    assert isinstance(bb, DinoBackbone if kind == "dino" else ClipBackbone)

    frames = np.stack([_photo("astronaut"), _photo("coffee"), _photo("chelsea")])
    e = bb.embed(frames)
    assert e.shape == (3, 64 if kind == "dino" else 32) and e.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)

    mean, std = (_IMAGENET_MEAN, _IMAGENET_STD) if kind == "dino" else (_CLIP_MEAN, _CLIP_STD)
    x = _preprocess(frames, 32, mean, std)
    ref = _reference_vit(sd, x, clip=kind == "clip", depth=2, dim=64).numpy()
    ref /= np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(e, ref, atol=2e-4)
    # batching does not change the result
    bb.batch_size = 1
    np.testing.assert_allclose(bb.embed(frames), e, atol=1e-5)


def test_learned_backbone_cached_and_env_var(tmp_path, monkeypatch) -> None:
    save_file(_tiny_dino(), str(tmp_path / "dino_vitb16.safetensors"))
    monkeypatch.setenv("VQEVAL_WEIGHTS", str(tmp_path))
    assert weights_path("dino") == tmp_path / "dino_vitb16.safetensors"
    assert get_backbone("dino") is get_backbone("dino", tmp_path)


class Evil:
    """An arbitrary pickled object: ``weights_only=True`` must refuse it."""


def test_torch_file_loaded_weights_only(tmp_path) -> None:
    torch.save({"model": _tiny_dino()}, tmp_path / "dino_vitb16.pth")
    bb = get_backbone("dino", tmp_path)
    assert bb.embed(_photo()[None]).shape == (1, 64)

    d2 = tmp_path / "evil"
    d2.mkdir()
    torch.save({"x": Evil()}, d2 / "dino_vitb16.pt")
    with pytest.raises(ConfigError, match="cannot read backbone weights"):
        get_backbone("dino", d2)


def test_wrong_checkpoint_layout(tmp_path) -> None:
    save_file({"foo": torch.zeros(2)}, str(tmp_path / "clip_vitb32.safetensors"))
    with pytest.raises(ConfigError, match="not CLIP ViT weights"):
        get_backbone("clip", tmp_path)


def test_analysis_embeddings_use_configured_backbone(tmp_path) -> None:
    from vqeval.analysis import Analysis
    from vqeval.config import ScoreConfig
    from vqeval.dimensions.repetition import compute_repetition
    from vqeval.results import VideoInfo
    from vqeval.video import Clip

    frames = np.stack([_photo("astronaut"), _photo("coffee")] * 6)
    info = VideoInfo(fps=12.0, frame_count=12, width=256, height=144, codec="h264", duration_s=1.0)
    clip = Clip(frames, np.arange(12) / 12.0, 12.0, info, frames[:2], np.arange(12))
    a = Analysis(clip, ScoreConfig())
    assert a.backbone.name == "pixel" and a.embeddings.shape == (12, 417)
    assert a.ssm.shape == (12, 12)

    save_file(_tiny_dino(), str(tmp_path / "dino_vitb16.safetensors"))
    b = Analysis(clip, ScoreConfig(backbone="dino", weights_dir=str(tmp_path)))
    assert b.embeddings.shape == (12, 64)
    assert compute_repetition(b).backbone == "dino"

    c = Analysis(clip, ScoreConfig(backbone="clip", weights_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="clip_vitb32"):
        _ = c.embeddings
