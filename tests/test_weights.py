"""The weights owner: tiny random models loaded through the libraries' own calls
(open_clip, timm, torchvision), from a local file or a pre-filled cache, never
the network; and the one-line message when weights are missing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tests.badinputs import make_clip
from vqeval import weights
from vqeval.results import ConfigError

torch = pytest.importorskip("torch")
open_clip = pytest.importorskip("open_clip")
timm = pytest.importorskip("timm")
from PIL import Image  # noqa: E402
from safetensors.torch import save_file  # noqa: E402

DINOV2 = "vit_small_patch14_dinov2.lvd142m"
#: tiny DINOv2 of the same timm name: 1 block, width 32, 224 px input
TINY_DINOV2 = {
    "depth": 1,
    "embed_dim": 32,
    "num_heads": 2,
    "img_size": 224,
    "pretrained_cfg_overlay": {"input_size": (3, 224, 224)},
}
#: tiny CLIP with open_clip's config layout (1 vision and 1 text block)
TINY_CLIP_CFG = {
    "embed_dim": 16,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
LAION_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"


@pytest.fixture(autouse=True)
def _fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("VQEVAL_OFFLINE", "1")
    monkeypatch.delenv("VQEVAL_WEIGHTS", raising=False)
    weights.clear_cache()
    from vqeval.dimensions import alignment

    alignment._tried.clear()
    yield
    weights.clear_cache()
    alignment._tried.clear()


def _frames(n: int = 3, h: int = 90, w: int = 160) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (n, h // 10, w // 10, 3), dtype=np.uint8)
    return np.repeat(np.repeat(base, 10, axis=1), 10, axis=2)


def _l2(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def _hf_cache_file(repo: str, filename: str, tensors: dict) -> Path:
    """Lay ``tensors`` out as the HF hub cache would after a download."""
    root = Path(os.environ["HF_HUB_CACHE"]) / ("models--" + repo.replace("/", "--"))
    snap = root / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("0" * 40)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(snap / filename))
    return snap / filename


def _tiny_dinov2(monkeypatch: pytest.MonkeyPatch) -> torch.nn.Module:
    monkeypatch.setitem(weights.TIMM_KWARGS, DINOV2, TINY_DINOV2)
    kw = {k: v for k, v in TINY_DINOV2.items() if k != "pretrained_cfg_overlay"}
    torch.manual_seed(0)
    return timm.create_model(DINOV2, pretrained=False, num_classes=0, **kw).eval()


def _tiny_clip_as_vitb32(monkeypatch: pytest.MonkeyPatch) -> torch.nn.Module:
    """open_clip's 'ViT-B-32' architecture shrunk to TINY_CLIP_CFG (same name,
    same tags, same loader)."""
    from open_clip import factory

    monkeypatch.setitem(factory._MODEL_CONFIGS, "ViT-B-32", json.loads(json.dumps(TINY_CLIP_CFG)))
    torch.manual_seed(0)
    model, _, _ = open_clip.create_model_and_transforms("ViT-B-32")
    return model.eval()


# ----------------------------------------------------------------- open_clip


def test_open_clip_local_checkpoint_matches_the_library_pipeline(tmp_path: Path) -> None:
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    (cfg_dir / "TinyCLIP-vq.json").write_text(json.dumps(TINY_CLIP_CFG))
    open_clip.add_model_config(cfg_dir)
    torch.manual_seed(1)
    model, _, preprocess = open_clip.create_model_and_transforms("TinyCLIP-vq")
    ckpt = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(ckpt))

    bb = weights.get_backbone(f"clip:TinyCLIP-vq/{ckpt}")
    frames = _frames()
    e = bb.embed(frames)
    with torch.no_grad():
        x = torch.stack([preprocess(Image.fromarray(f)) for f in frames])
        ref = _l2(model.eval().encode_image(x).numpy())
        tok = open_clip.get_tokenizer("TinyCLIP-vq")(["a red fox"])
        ref_t = _l2(model.encode_text(tok).numpy())
    np.testing.assert_allclose(e, ref, atol=1e-5)
    np.testing.assert_allclose(bb.embed_text(["a red fox"]), ref_t, atol=1e-5)
    assert bb.input_size == 32 and bb.frame_side == 32
    assert weights.get_backbone(f"clip:TinyCLIP-vq/{ckpt}") is bb  # loaded once


def test_clip_tag_loads_from_a_prefilled_hub_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    model = _tiny_clip_as_vitb32(monkeypatch)
    _hf_cache_file(LAION_REPO, "open_clip_model.safetensors", model.state_dict())
    name = "clip:ViT-B-32/laion2b_s34b_b79k"
    assert weights.available(name)
    bb = weights.get_backbone(name)
    frames = _frames(2)
    with torch.no_grad():
        _, _, pre = open_clip.create_model_and_transforms("ViT-B-32")
        ref = _l2(
            model.encode_image(torch.stack([pre(Image.fromarray(f)) for f in frames])).numpy()
        )
    np.testing.assert_allclose(bb.embed(frames), ref, atol=1e-5)
    assert "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K" in bb.source


# ---------------------------------------------------------------------- timm


def test_dinov2_alias_from_local_file_and_from_hub_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref_model = _tiny_dinov2(monkeypatch)
    sd = ref_model.state_dict()
    wdir = tmp_path / "w"
    wdir.mkdir()
    save_file({k: v.contiguous() for k, v in sd.items()}, str(wdir / f"{DINOV2}.safetensors"))
    frames = _frames(2, 240, 320)

    bb = weights.get_backbone("dinov2-s", wdir)
    cfg = timm.data.resolve_data_config({}, model=ref_model)
    cfg["input_size"] = (3, 224, 224)
    tf = timm.data.create_transform(**cfg)
    with torch.no_grad():
        ref = _l2(ref_model(torch.stack([tf(Image.fromarray(f)) for f in frames])).numpy())
    e = bb.embed(frames)
    np.testing.assert_allclose(e, ref, atol=1e-5)
    assert bb.input_size == 224 and bb.frame_side >= 224

    weights.clear_cache()
    assert not weights.available("dinov2-s")
    _hf_cache_file(f"timm/{DINOV2}", "model.safetensors", sd)
    assert weights.available("dinov2-s")
    np.testing.assert_allclose(weights.get_backbone("dinov2-s").embed(frames), e, atol=1e-6)


# ---------------------------------------------------------------------- RAFT


def test_raft_from_the_torch_hub_cache(tmp_path: Path) -> None:
    from torchvision.models.optical_flow import Raft_Large_Weights, raft_large

    torch.manual_seed(0)
    ref = raft_large(weights=None).eval()
    ckpt = Path(os.environ["TORCH_HOME"]) / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.save(ref.state_dict(), ckpt / os.path.basename(Raft_Large_Weights.DEFAULT.url))
    model = weights.load_raft()
    for k, v in ref.state_dict().items():
        assert torch.equal(model.raft.state_dict()[k], v)

    # 0-255 frames reach RAFT as torchvision's transforms give them: -1..1
    class SeenError(Exception):
        pass

    def stop(_m: object, args: tuple) -> None:
        raise SeenError(float(args[0].min()), float(args[0].max()))

    model.raft.register_forward_pre_hook(stop)
    a = torch.cat([torch.zeros(1, 3, 8, 8), torch.full((1, 3, 8, 8), 255.0)])
    with pytest.raises(SeenError) as got:
        model(a, a)
    assert got.value.args == pytest.approx((-1.0, 1.0))


# ------------------------------------------------------------ missing weights


@pytest.mark.parametrize(
    ("name", "cache_part", "repo"),
    [
        ("dinov2-s", f"models--timm--{DINOV2}", f"timm/{DINOV2}"),
        (
            "clip:ViT-B-32/laion2b_s34b_b79k",
            "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K",
            LAION_REPO,
        ),
    ],
)
def test_missing_weights_offline_is_one_line(
    tmp_path: Path, name: str, cache_part: str, repo: str
) -> None:
    with pytest.raises(ConfigError) as ei:
        weights.get_backbone(name, tmp_path)
    msg = str(ei.value)
    assert "\n" not in msg
    assert str(Path(os.environ["HF_HUB_CACHE"]) / cache_part) in msg  # where it would be cached
    assert f"hf download {repo}" in msg  # how to place it by hand
    assert str(tmp_path) in msg and "pixel" in msg  # or as a local file


def test_missing_raft_offline_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as ei:
        weights.load_raft(tmp_path)
    msg = str(ei.value)
    assert "\n" not in msg and os.environ["TORCH_HOME"] in msg and "raft_large" in msg


def test_unknown_and_malformed_names() -> None:
    with pytest.raises(ConfigError, match="unknown backbone"):
        weights.get_backbone("resnet")
    with pytest.raises(ConfigError, match="clip:MODEL/TAG"):
        weights.get_backbone("clip:ViT-B-32")
    with pytest.raises(ConfigError, match="no pretrained tag"):
        weights.get_backbone("clip:ViT-B-32/no-such-tag")


def test_device_must_exist() -> None:
    weights.validate_device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA"):
            weights.validate_device("cuda")
    with pytest.raises(ConfigError, match="not a torch device"):
        weights.validate_device("gpu0")


# ------------------------------------------------------------------- the CLI


def _score(args: list[str]) -> tuple[int, str]:
    from vqeval.cli import main

    r = CliRunner().invoke(main, ["score", "--no-cache", "-j", "1", *args])
    return r.exit_code, r.output


def test_cli_backbone_dinov2_and_clip_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = make_clip(tmp_path, n=16, width=320, height=240, fps=8.0)
    code, out = _score([str(clip), "--backbone", "dinov2-s", "-d", "repetition"])
    assert code == 2 and out.count("\n") == 1 and f"hf download timm/{DINOV2}" in out

    _hf_cache_file(f"timm/{DINOV2}", "model.safetensors", _tiny_dinov2(monkeypatch).state_dict())
    seen: list[tuple[int, ...]] = []
    from vqeval.metrics.features import LibraryBackbone

    orig = LibraryBackbone.embed

    def spy(self: LibraryBackbone, frames: np.ndarray) -> np.ndarray:
        seen.append(frames.shape)
        return orig(self, frames)

    monkeypatch.setattr(LibraryBackbone, "embed", spy)
    js = tmp_path / "r.json"
    code, out = _score([str(clip), "--backbone", "dinov2-s", "-d", "repetition", "--json", str(js)])
    assert code == 0, out
    row = json.loads(js.read_text())["results"][0]
    assert row["backbones"]["repetition"] == "dinov2-s"
    # frames reach the model at its resolution (shorter side 224 of 320x240), not 160 px
    assert seen and all(min(s[1:3]) >= 224 for s in seen)

    _tiny_clip_as_vitb32(monkeypatch)
    model = _tiny_clip_as_vitb32(monkeypatch)
    _hf_cache_file(LAION_REPO, "open_clip_model.safetensors", model.state_dict())
    code, out = _score(
        [str(clip), "--backbone", "clip:ViT-B-32/laion2b_s34b_b79k", "-d", "repetition"]
    )
    assert code == 0, out
