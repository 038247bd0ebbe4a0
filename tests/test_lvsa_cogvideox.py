"""LVSA in diffusers' CogVideoX transformer (joint text + video attention), tiny random
models on the CPU: the processor reproduces the stock one when dense, equals the stock
processor run with the LVSA token mask when sparse, and takes its reference horizon from
the model config."""

from __future__ import annotations

import pytest
import torch

import lvsa
from lvsa.plan import Geometry, get_plan

diffusers = pytest.importorskip("diffusers")


def tiny_cogvideox(patch_t: int | None = None, seed: int = 0, rope: bool = True):
    torch.manual_seed(seed)
    return diffusers.CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=4,
        out_channels=4,
        time_embed_dim=8,
        text_embed_dim=16,
        num_layers=2,
        sample_width=8,
        sample_height=8,
        sample_frames=49 if patch_t is None else 81,
        patch_size=2,
        patch_size_t=patch_t,
        temporal_compression_ratio=4,
        max_text_seq_length=6,
        use_rotary_positional_embeddings=rope,
    ).eval()


def inputs(frames: int, rope: bool = True, patch_t: int | None = None):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, frames, 4, 8, 8, generator=g)
    text = torch.randn(1, 6, 16, generator=g)
    kw = {}
    if rope:
        from diffusers.models.embeddings import get_3d_rotary_pos_embed

        t = frames // (patch_t or 1)
        cos, sin = get_3d_rotary_pos_embed(
            embed_dim=16, crops_coords=((0, 0), (4, 4)), grid_size=(4, 4), temporal_size=t
        )
        kw["image_rotary_emb"] = (cos, sin)
    return x, text, kw


def forward(model, x, text, kw, t: float = 500.0):
    with torch.no_grad():
        return model(x, text, torch.tensor([t]), return_dict=False, **kw)[0]


def test_reference_horizon_comes_from_the_config() -> None:
    s = lvsa.apply(tiny_cogvideox())
    assert s.options.model == "cogvideox"
    assert s.options.effective_reference_frames == 13  # 49 frames -> 13 latent frames
    assert "CogVideoX" in s.options.describe(40)
    s15 = lvsa.apply(tiny_cogvideox(patch_t=2))
    assert s15.options.effective_reference_frames == 11  # 81 -> 21 latent -> 11 token frames
    assert lvsa.apply(tiny_cogvideox(), lvsa.LVSAConfig(reference_frames=5)).options.reference()[
        1
    ] == ("set explicitly")


@pytest.mark.parametrize("rope", [True, False])
def test_dense_equals_stock_and_sparse_differs(rope) -> None:
    model = tiny_cogvideox(rope=rope)
    x, text, kw = inputs(30, rope)
    stock = forward(model, x, text, kw)
    lvsa.apply(model, lvsa.LVSAConfig(reference_frames=10**6))
    dense = forward(model, x, text, kw)
    assert (dense - stock).abs().max().item() <= 1e-5
    s = lvsa.apply(model, lvsa.LVSAConfig(reference_frames=6))
    sparse = forward(model, x, text, kw)
    assert s.last_density < 0.8
    assert torch.isfinite(sparse).all()
    assert (sparse - stock).abs().max().item() > 1e-3
    lvsa.remove(model)
    assert torch.equal(forward(model, x, text, kw), stock)


@pytest.mark.parametrize("patch_t", [None, 2])
def test_sparse_equals_stock_processor_with_the_token_mask(patch_t, monkeypatch) -> None:
    """The stock processor with SDPA given the LVSA token mask (text first, then video)
    computes the same function as the LVSA processor."""
    import diffusers.models.attention_processor as ap

    frames = 30
    model = tiny_cogvideox(patch_t=patch_t)
    x, text, kw = inputs(frames, True, patch_t)
    cfg = lvsa.LVSAConfig(reference_frames=6)
    s = lvsa.apply(model, cfg)
    sparse = forward(model, x, text, kw)
    token_frames = frames // (patch_t or 1)
    assert s.call.frames == token_frames and s.call.tokens_per_frame == 16
    lvsa.remove(model)
    plan = get_plan(cfg.pattern(token_frames, 0), Geometry(token_frames, 16, 6, True))
    mask = plan.token_mask()
    assert not mask.all()
    real = ap.F.scaled_dot_product_attention

    def masked(q, k, v, attn_mask=None, **kw2):
        assert attn_mask is None
        return real(q, k, v, attn_mask=mask, **kw2)

    monkeypatch.setattr(ap.F, "scaled_dot_product_attention", masked)
    ref = forward(model, x, text, kw)
    assert (sparse - ref).abs().max().item() <= 1e-5


@pytest.fixture(scope="module")
def tiny_cog_folder(tmp_path_factory):
    """A tiny random CogVideoX 1.5-style pipeline (patch_size_t 2) saved without its T5."""
    torch.manual_seed(0)
    vae = diffusers.AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    pipe = diffusers.CogVideoXPipeline(
        tokenizer=None,
        text_encoder=None,
        vae=vae,
        transformer=tiny_cogvideox(patch_t=2),
        scheduler=diffusers.CogVideoXDPMScheduler(),
    )
    folder = tmp_path_factory.mktemp("models") / "tiny-cogvideox"
    pipe.save_pretrained(folder)
    return folder


@pytest.mark.slow
def test_lvsa_generate_runs_cogvideox(tiny_cog_folder, tmp_path) -> None:
    """`lvsa-generate --model <CogVideoX folder>` writes dense and LVSA clips; LVSA is
    sparse beyond the reference (the folder's 81 sample frames = 11 token frames)."""
    import json

    from click.testing import CliRunner
    from lvsa.generators.cli import main
    from lvsa.generators.models import spec_from_folder

    spec = spec_from_folder(tiny_cog_folder)
    assert spec.family == "cogvideox" and spec.patch == (2, 2, 2)
    assert spec.reference_frames == 11 and spec.train_frames == 81
    out = tmp_path / "out"
    args = ["--model", str(tiny_cog_folder), "--frames", "125", "--height", "32", "--width"]
    args += ["32", "--steps", "2", "-q", "--device", "cpu", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--method", "dense,lvsa", "--prompt", "a fox"])
    assert result.exit_code == 0, result.output
    side = {m: json.loads((out / m / "a-fox_s0.json").read_text()) for m in ("dense", "lvsa")}
    assert side["dense"]["attention_density"] == 1.0
    assert side["lvsa"]["attention_density"] < 0.9
    assert (out / "lvsa" / "a-fox_s0.mp4").stat().st_size > 0
