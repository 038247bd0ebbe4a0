"""LVSA / RIFLEx / UltraViCo installed into tiny diffusers Wan and HunyuanVideo 1.5 models."""

from __future__ import annotations

import types

import pytest
import torch

import lvsa

diffusers = pytest.importorskip("diffusers")


def tiny_wan(seed: int = 0):
    torch.manual_seed(seed)
    return diffusers.WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=16,
        out_channels=16,
        text_dim=32,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    ).eval()


def tiny_wan_pipeline(**parts):
    """An offline ``WanPipeline`` around the tiny transformer(s) in ``parts``."""
    vae = diffusers.AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    )
    scheduler = diffusers.FlowMatchEulerDiscreteScheduler(shift=7.0)
    return diffusers.WanPipeline(
        tokenizer=None, text_encoder=None, vae=vae, scheduler=scheduler, **parts
    )


def tiny_hunyuan(seed: int = 0):
    torch.manual_seed(seed)
    return diffusers.HunyuanVideo15Transformer3DModel(
        in_channels=8,
        out_channels=4,
        num_attention_heads=2,
        attention_head_dim=16,
        num_layers=2,
        num_refiner_layers=1,
        patch_size=1,
        patch_size_t=1,
        text_embed_dim=32,
        text_embed_2_dim=16,
        image_embed_dim=16,
        rope_axes_dim=(4, 6, 6),
    ).eval()


def wan_inputs(frames: int = 9, batch: int = 1):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 16, frames, 8, 8, generator=g)
    return x, torch.full((batch,), 500.0), torch.randn(batch, 7, 32, generator=g)


def hunyuan_inputs(frames: int = 9):
    g = torch.Generator().manual_seed(2)
    return dict(
        hidden_states=torch.randn(2, 8, frames, 4, 4, generator=g),
        timestep=torch.tensor([500.0, 500.0]),
        encoder_hidden_states=torch.randn(2, 6, 32, generator=g),
        encoder_attention_mask=torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]]),
        encoder_hidden_states_2=torch.randn(2, 3, 16, generator=g),
        encoder_attention_mask_2=torch.tensor([[1, 0, 0], [1, 1, 0]]),
        image_embeds=torch.zeros(2, 5, 16),
    )


SPARSE = lvsa.LVSAConfig(window=1, anchor_interval=3, reference_frames=3)


@torch.no_grad()
def test_wan_dense_equals_stock_sparse_differs_and_remove_restores() -> None:
    m = tiny_wan()
    x, t, e = wan_inputs()
    ref = m(x, t, e).sample
    lvsa.apply(m, lvsa.LVSAConfig(reference_frames=21))
    assert (m(x, t, e).sample - ref).abs().max().item() <= 1e-5
    assert lvsa.density(m) == 1.0
    lvsa.apply(m, SPARSE)
    out = m(x, t, e).sample
    assert torch.isfinite(out).all()
    assert (out - ref).abs().max().item() > 1e-3
    assert 0 < lvsa.density(m) < 1
    # cross-attention keeps its stock processor
    assert type(m.blocks[0].attn2.processor).__name__ == "WanAttnProcessor"
    assert lvsa.remove(m)
    assert lvsa.density(m) is None
    assert torch.equal(m(x, t, e).sample, ref)


@torch.no_grad()
def test_wan_sparse_matches_manual_masked_attention() -> None:
    """The installed processor computes masked attention with the pattern of the step."""
    from lvsa.integrations.install import uninstall
    from lvsa.integrations.session import AttentionSession

    m = tiny_wan()
    x, t, e = wan_inputs()
    lvsa.apply(m, SPARSE)
    out = m(x, t, e).sample

    def masked(q, k, v, geom, valid, session):
        plan = lvsa.get_plan(
            lvsa.frame_pattern(geom.frames, session.step, window=1, anchor_interval=3), geom
        )
        mask = plan.token_mask()
        o = torch.nn.functional.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask
        )
        return o.transpose(1, 2)

    uninstall(m, "lvsa")
    from lvsa.integrations import install

    install(m, AttentionSession(attend=masked, name="lvsa"))
    assert (m(x, t, e).sample - out).abs().max().item() <= 1e-5


@torch.no_grad()
def test_step_tracking_from_timesteps() -> None:
    m = tiny_wan()
    x, _, e = wan_inputs(frames=5)
    s = lvsa.apply(m, SPARSE)
    for ts in (999.0, 999.0, 800.0, 800.0, 500.0, 999.0, 700.0):
        m(x, torch.tensor([ts]), e)
    assert s.steps_seen == [0, 0, 1, 1, 2, 0, 1]


@torch.no_grad()
def test_wan_pipeline_rotates_anchors_across_steps() -> None:
    pipe = tiny_wan_pipeline(transformer=tiny_wan())
    pipe.set_progress_bar_config(disable=True)
    session = lvsa.apply(pipe, SPARSE)
    offsets = []
    real = session.attend

    def spy(q, k, v, geom, valid, s):
        offsets.append(lvsa.frame_pattern(geom.frames, s.step, window=1, anchor_interval=3).offset)
        return real(q, k, v, geom, valid, s)

    session.attend = spy
    g = torch.Generator().manual_seed(0)
    out = pipe(
        prompt_embeds=torch.randn(1, 7, 32, generator=g),
        negative_prompt_embeds=torch.randn(1, 7, 32, generator=g),
        height=16,
        width=16,
        num_frames=33,  # 9 latent frames: sparse at every offset
        num_inference_steps=3,
        guidance_scale=2.0,
        output_type="pt",
    ).frames
    assert torch.isfinite(out).all()
    # 3 steps x (cond + uncond) x 2 layers; anchor grid offset = step mod 3
    assert offsets == [0] * 4 + [1] * 4 + [2] * 4
    assert session.steps_seen == [0, 0, 1, 1, 2, 2]
    assert 0 < lvsa.density(pipe) < 1


@torch.no_grad()
def test_wan22_pipeline_step_count_continues_across_experts() -> None:
    """WanPipeline with transformer_2 (Wan 2.2 MoE): the high-noise expert runs the
    first steps, the low-noise expert the rest; one session counts them all."""
    pipe = tiny_wan_pipeline(transformer=tiny_wan(0), transformer_2=tiny_wan(1), boundary_ratio=0.5)
    pipe.set_progress_bar_config(disable=True)
    session = lvsa.apply(pipe, SPARSE)
    calls: list[str] = []
    for name in ("transformer", "transformer_2"):
        getattr(pipe, name).register_forward_pre_hook(lambda m, a, n=name: calls.append(n))
    g = torch.Generator().manual_seed(0)
    pipe(
        prompt_embeds=torch.randn(1, 7, 32, generator=g),
        negative_prompt_embeds=torch.randn(1, 7, 32, generator=g),
        height=16,
        width=16,
        num_frames=17,
        num_inference_steps=4,
        guidance_scale=2.0,
        output_type="pt",
    )
    assert "transformer" in calls and "transformer_2" in calls
    assert session.steps_seen == [0, 0, 1, 1, 2, 2, 3, 3]


@torch.no_grad()
def test_wan22_two_experts_share_one_step_count() -> None:
    pipe = types.SimpleNamespace(transformer=tiny_wan(0), transformer_2=tiny_wan(1))
    session = lvsa.apply(pipe, SPARSE)
    x, _, e = wan_inputs(frames=5)
    pipe.transformer(x, torch.tensor([999.0]), e)
    pipe.transformer(x, torch.tensor([900.0]), e)
    pipe.transformer_2(x, torch.tensor([800.0]), e)
    pipe.transformer_2(x, torch.tensor([700.0]), e)
    assert session.steps_seen == [0, 1, 2, 3]
    assert lvsa.session_of(pipe.transformer_2) is session
    assert lvsa.remove(pipe)
    for model in (pipe.transformer, pipe.transformer_2):
        assert type(model.blocks[0].attn1.processor).__name__ == "WanAttnProcessor"


@torch.no_grad()
def test_hunyuan15_dense_equals_stock_and_sparse_is_finite() -> None:
    m = tiny_hunyuan()
    kw = hunyuan_inputs()
    ref = m(**kw).sample
    assert torch.isfinite(ref).all()
    lvsa.apply(m, lvsa.LVSAConfig(reference_frames=33))
    assert (m(**kw).sample - ref).abs().max().item() <= 1e-5
    lvsa.apply(m, SPARSE)
    sparse = m(**kw).sample
    assert torch.isfinite(sparse).all()
    assert (sparse - ref).abs().max().item() > 1e-3
    lvsa.apply(m, lvsa.LVSAConfig(window=1, anchor_interval=3, reference_frames=3, backend="flex"))
    assert (m(**kw).sample - sparse).abs().max().item() <= 1e-5
    lvsa.remove(m)
    assert torch.equal(m(**kw).sample, ref)


def test_unsupported_model_raises() -> None:
    with pytest.raises(TypeError):
        lvsa.apply(torch.nn.Linear(2, 2))


@pytest.mark.compile  # ~10 s on CPU
@torch.no_grad()
def test_wan_compiled_blocks_one_graph_no_recompiles_across_steps() -> None:
    """Regional compilation with LVSA: the attention is one opaque op, so all blocks share
    one graph with no graph breaks, and rotating anchors over steps recompile nothing."""
    from torch._dynamo.utils import counters

    m = tiny_wan()
    x, _, e = wan_inputs(frames=9)
    lvsa.apply(m, SPARSE)
    steps = (999.0, 800.0, 600.0, 400.0)
    eager = [m(x, torch.tensor([ts]), e).sample for ts in steps]
    torch._dynamo.reset()
    counters.clear()
    m.compile_repeated_blocks(fullgraph=True, dynamic=False)
    lvsa.session_of(m).reset()
    compiled = [m(x, torch.tensor([ts]), e).sample for ts in steps]
    for a, b in zip(eager, compiled):
        assert (a - b).abs().max().item() <= 1e-4
    assert counters["stats"]["unique_graphs"] == 1
    assert sum(counters["graph_break"].values()) == 0
    assert lvsa.session_of(m).steps_seen[-4:] == [0, 1, 2, 3]
    torch._dynamo.reset()
