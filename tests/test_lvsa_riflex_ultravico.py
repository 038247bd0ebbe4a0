"""RIFLEx frequency rule and UltraViCo logit rule."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import lvsa
from lvsa.plan import Geometry
from lvsa.riflex import intrinsic_component, periods, temporal_frequencies
from lvsa.ultravico import ultravico_attention

from .test_lvsa_diffusers import hunyuan_inputs, tiny_hunyuan, tiny_wan, wan_inputs


def test_wan_periods_and_intrinsic_component() -> None:
    ps = periods(44, 1e4)
    assert [round(p, 1) for p in ps[:6]] == [6.3, 9.5, 14.5, 22.1, 33.5, 51.0]
    assert intrinsic_component(44, 1e4, 50.0) == 6
    assert intrinsic_component(44, 1e4, 21.0) == 4
    assert intrinsic_component(16, 256.0, 50.0) == 4


def test_temporal_frequencies_only_component_k_changes() -> None:
    base = 1e4 ** (-2 * torch.arange(22, dtype=torch.float64) / 44)
    w = temporal_frequencies(44, 1e4, 121, 6)
    assert w[5].item() == pytest.approx(0.9 * 2 * math.pi / 121)
    mask = torch.ones(22, dtype=torch.bool)
    mask[5] = False
    assert torch.equal(w[mask], base[mask])
    # one period of the new component spans 121 / 0.9 latent frames (> the video)
    assert 2 * math.pi / w[5].item() == pytest.approx(121 / 0.9)


def _rope_tables(model, x):
    cos, sin = model.rope(x)
    return cos.reshape(-1, cos.shape[-1]).double(), sin.reshape(-1, sin.shape[-1]).double()


@pytest.mark.parametrize("kind", ["wan", "hunyuan"])
def test_riflex_rewrites_only_the_intrinsic_time_channels(kind: str) -> None:
    if kind == "wan":
        m, x = tiny_wan(), wan_inputs(frames=9)[0]
        per_frame = (8 // 2) * (8 // 2)
    else:
        m, x = tiny_hunyuan(), hunyuan_inputs(frames=9)["hidden_states"]
        per_frame = 4 * 4
    c0, s0 = _rope_tables(m, x)
    (spec,) = lvsa.riflex.apply(m, num_latent_frames=9, k=2)
    c1, s1 = _rope_tables(m, x)
    col = 2 * (spec.k - 1)
    pos = torch.arange(9, dtype=torch.float64).repeat_interleave(per_frame)
    w = 0.9 * 2 * math.pi / 9
    for off in (0, 1):
        assert torch.allclose(c1[:, col + off], torch.cos(pos * w), atol=1e-6)
        assert torch.allclose(s1[:, col + off], torch.sin(pos * w), atol=1e-6)
    keep = torch.ones(c0.shape[-1], dtype=torch.bool)
    keep[col : col + 2] = False
    assert torch.equal(c1[:, keep], c0[:, keep]) and torch.equal(s1[:, keep], s0[:, keep])
    assert lvsa.riflex.remove(m)
    c2, _ = _rope_tables(m, x)
    assert torch.equal(c2, c0)


@torch.no_grad()
def test_riflex_combines_with_lvsa() -> None:
    m = tiny_wan()
    x, t, e = wan_inputs()
    lvsa.apply(m, lvsa.LVSAConfig(window=1, anchor_interval=3))
    a = m(x, t, e).sample
    lvsa.riflex.apply(m, num_latent_frames=9)
    b = m(x, t, e).sample
    assert torch.isfinite(b).all() and not torch.allclose(a, b)
    assert lvsa.density(m) < 1


def _ultravico_loop(q, k, v, g: Geometry, ref: int, alpha: float, valid=None):
    """Direct per-element reference of the UltraViCo rule (tiny sizes only)."""
    b, s, h, d = q.shape
    out = torch.zeros_like(q, dtype=torch.float64)
    half = g.tokens_per_frame * ref / 2
    for bi in range(b):
        for hi in range(h):
            for i in range(s):
                logits = []
                for j in range(s):
                    x = float((q[bi, i, hi].double() @ k[bi, j, hi].double()) / math.sqrt(d))
                    vi = g.video_start <= i < g.video_start + g.video_tokens
                    vj = g.video_start <= j < g.video_start + g.video_tokens
                    if vi and vj and abs(i - j) > half and x > 0:
                        x *= alpha
                    fi = (i - g.video_start) // g.tokens_per_frame if vi else -1
                    fj = (j - g.video_start) // g.tokens_per_frame if vj else -1
                    if fi == 0 and fj >= ref:
                        x = -math.inf
                    tj = j - g.text_start
                    if valid is not None and 0 <= tj < g.text_tokens and tj >= valid[bi]:
                        x = -math.inf
                    logits.append(x)
                p = torch.softmax(torch.tensor(logits, dtype=torch.float64), 0)
                out[bi, i, hi] = p @ v[bi, :, hi].double()
    return out


@pytest.mark.parametrize("text_first", [False, True])
def test_ultravico_matches_elementwise_rule(text_first: bool) -> None:
    g = Geometry(6, 3, 4, text_first, heads=2, head_dim=4)
    gen = torch.Generator().manual_seed(3)
    q, k, v = (torch.randn(2, g.seq_len, 2, 4, generator=gen) for _ in range(3))
    out = ultravico_attention(q, k, v, g, (4, 2), reference_frames=3, alpha=0.5, chunk_elements=50)
    ref = _ultravico_loop(q, k, v, g, 3, 0.5, (4, 2))
    assert (out.double() - ref).abs().max().item() <= 1e-5


def test_ultravico_is_dense_attention_within_half_the_window() -> None:
    """All token distances <= half the training window (20 tokens): plain attention."""
    g = Geometry(4, 5, heads=2, head_dim=8)
    q, k, v = (torch.randn(1, g.seq_len, 2, 8) for _ in range(3))
    out = ultravico_attention(q, k, v, g, reference_frames=8, alpha=0.9)
    plain = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    ).transpose(1, 2)
    assert (out - plain).abs().max().item() <= 1e-5


@torch.no_grad()
def test_ultravico_install_and_remove() -> None:
    m = tiny_wan()
    x, t, e = wan_inputs()
    ref = m(x, t, e).sample
    lvsa.ultravico.apply(m, reference_frames=21, alpha=1.0)
    assert (m(x, t, e).sample - ref).abs().max().item() <= 1e-5
    lvsa.ultravico.apply(m, reference_frames=3, alpha=0.9)
    out = m(x, t, e).sample
    assert torch.isfinite(out).all() and (out - ref).abs().max().item() > 1e-4
    # installing LVSA replaces UltraViCo
    lvsa.apply(m, lvsa.LVSAConfig())
    assert lvsa.ultravico.session_of(m) is None
    lvsa.remove(m)
    assert torch.equal(m(x, t, e).sample, ref)
