"""Self-attention processors for diffusers' Wan and HunyuanVideo 1.5 transformers.

Each processor reproduces the projection / norm / RoPE steps of the stock processor and
hands ``(B, S, H, D)`` query, key and value to the session's ``attend`` function
(LVSA or UltraViCo). Calls it cannot handle (cross-attention, unknown geometry) go to
the stock processor it replaced.
"""

from __future__ import annotations

import torch

from ..kernels import norm_rope
from ..plan import Geometry
from .op import session_attend
from .parallel import cp_group, heads_to_sequence, sequence_to_heads
from .session import AttentionSession

__all__ = [
    "CogVideoXSelfAttnProcessor",
    "HunyuanVideo15SelfAttnProcessor",
    "WanSelfAttnProcessor",
]


class WanSelfAttnProcessor:
    """Processor for ``WanAttention`` self-attention (``attn1``) layers.

    Under diffusers' context parallelism (``transformer.enable_parallelism``, which sets
    ``_parallel_config`` on processors that have the attribute, before or after
    ``lvsa.apply``) each rank sees a sequence shard; the processor exchanges it for a head
    shard of the whole sequence and runs the LVSA pattern there
    (:mod:`lvsa.integrations.parallel`).
    """

    #: read by diffusers' ``enable_parallelism`` (backend check) and set by it
    _attention_backend = None
    _parallel_config = None

    def __init__(self, session: AttentionSession, fallback) -> None:
        self.session = session
        self.fallback = fallback
        self._attention_backend = getattr(fallback, "_attention_backend", None)
        self._parallel_config = getattr(fallback, "_parallel_config", None)

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs,
    ) -> torch.Tensor:
        call = self.session.call
        n = hidden_states.shape[1]
        cp = cp_group(self._parallel_config)
        if cp is not None and getattr(self.fallback, "_parallel_config", None) is None:
            self.fallback._parallel_config = self._parallel_config  # for calls passed on
        world = 1 if cp is None else cp[1]
        if (
            encoder_hidden_states is not None
            or attention_mask is not None
            or call is None
            or call.frames * call.tokens_per_frame != n * world
        ):
            return self.fallback(
                attn, hidden_states, encoder_hidden_states, attention_mask, rotary_emb, **kwargs
            )
        if getattr(attn, "fused_projections", False):
            q, k, v = attn.to_qkv(hidden_states).chunk(3, dim=-1)
        else:
            q, k, v = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        fused = getattr(self.session.options, "fused_norm_rope", True)
        q = norm_rope(q, attn.norm_q, attn.heads, rotary_emb, fused)
        k = norm_rope(k, attn.norm_k, attn.heads, rotary_emb, fused)
        v = v.unflatten(2, (attn.heads, -1))
        if cp is not None:  # sequence shard -> whole sequence, H/P heads
            q, k, v = (sequence_to_heads(x, *cp) for x in (q, k, v))
        geom = Geometry(call.frames, call.tokens_per_frame, heads=q.shape[2], head_dim=q.shape[-1])
        out = session_attend(self.session, q, k, v, geom)
        if cp is not None:
            out = heads_to_sequence(out, *cp)
        out = out.flatten(2, 3).type_as(q)
        out = attn.to_out[0](out)
        return attn.to_out[1](out)


class HunyuanVideo15SelfAttnProcessor:
    """Processor for HunyuanVideo 1.5 joint attention (video tokens, then text tokens).

    Padding text tokens are dropped from the keys by valid length (no ``[B, 1, S, S]``
    mask is built); their query rows are set to zero, as the stock masked SDPA gives.
    """

    def __init__(self, session: AttentionSession, fallback) -> None:
        self.session = session
        self.fallback = fallback

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs,
    ):
        call = self.session.call
        n = hidden_states.shape[1]
        if call is None or call.frames * call.tokens_per_frame != n:
            return self.fallback(
                attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb
            )
        from diffusers.models.embeddings import apply_rotary_emb

        q = attn.to_q(hidden_states).unflatten(2, (attn.heads, -1))
        k = attn.to_k(hidden_states).unflatten(2, (attn.heads, -1))
        v = attn.to_v(hidden_states).unflatten(2, (attn.heads, -1))
        q, k = attn.norm_q(q), attn.norm_k(k)
        if image_rotary_emb is not None:
            q = apply_rotary_emb(q, image_rotary_emb, sequence_dim=1)
            k = apply_rotary_emb(k, image_rotary_emb, sequence_dim=1)
        text = 0
        valid: tuple[int, ...] | None = None
        if encoder_hidden_states is not None:
            text = encoder_hidden_states.shape[1]
            eq = attn.add_q_proj(encoder_hidden_states).unflatten(2, (attn.heads, -1))
            ek = attn.add_k_proj(encoder_hidden_states).unflatten(2, (attn.heads, -1))
            ev = attn.add_v_proj(encoder_hidden_states).unflatten(2, (attn.heads, -1))
            if attn.norm_added_q is not None:
                eq = attn.norm_added_q(eq)
            if attn.norm_added_k is not None:
                ek = attn.norm_added_k(ek)
            if attention_mask is not None:
                mask = attention_mask[:, -text:].bool()
                ek, ev, valid = _valid_prefix(mask, ek, ev)
            q, k, v = (torch.cat(p, dim=1) for p in ((q, eq), (k, ek), (v, ev)))
        geom = Geometry(
            call.frames,
            call.tokens_per_frame,
            text_tokens=text,
            heads=attn.heads,
            head_dim=q.shape[-1],
        )
        out = session_attend(self.session, q, k, v, geom, valid)
        if valid is not None and min(valid) < text:
            out[:, n:][~attention_mask[:, -text:].bool()] = 0
        out = out.flatten(2, 3).to(q.dtype)
        if encoder_hidden_states is None:
            return out, None
        hs, enc = out[:, :n], out[:, n:]
        if getattr(attn, "to_out", None) is not None:
            hs = attn.to_out[1](attn.to_out[0](hs))
        if getattr(attn, "to_add_out", None) is not None:
            enc = attn.to_add_out(enc)
        return hs, enc


class CogVideoXSelfAttnProcessor:
    """Processor for CogVideoX joint attention (``attn1``: text tokens, then video tokens,
    through the same projections).

    As the stock ``CogVideoXAttnProcessor2_0``: concatenate text before video, project,
    per-head QK LayerNorm, 3-D RoPE on the video tokens only. Then text queries see every
    key and video queries see all text keys plus their LVSA key frames (the reference's
    rule for CogVideoX). Returns ``(video_out, text_out)`` as the block expects.
    """

    def __init__(self, session: AttentionSession, fallback) -> None:
        self.session = session
        self.fallback = fallback

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        image_rotary_emb: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs,
    ):
        call = self.session.call
        n = hidden_states.shape[1]
        if (
            attention_mask is not None
            or encoder_hidden_states is None
            or call is None
            or call.frames * call.tokens_per_frame != n
        ):
            return self.fallback(
                attn, hidden_states, encoder_hidden_states, attention_mask, image_rotary_emb
            )
        text = encoder_hidden_states.shape[1]
        x = torch.cat([encoder_hidden_states, hidden_states], dim=1)
        q = attn.to_q(x).unflatten(2, (attn.heads, -1))
        k = attn.to_k(x).unflatten(2, (attn.heads, -1))
        v = attn.to_v(x).unflatten(2, (attn.heads, -1))
        if attn.norm_q is not None:
            q = attn.norm_q(q)
        if attn.norm_k is not None:
            k = attn.norm_k(k)
        if image_rotary_emb is not None:
            from diffusers.models.embeddings import apply_rotary_emb

            q = torch.cat(
                [q[:, :text], apply_rotary_emb(q[:, text:], image_rotary_emb, sequence_dim=1)],
                dim=1,
            )
            if not attn.is_cross_attention:
                k = torch.cat(
                    [k[:, :text], apply_rotary_emb(k[:, text:], image_rotary_emb, sequence_dim=1)],
                    dim=1,
                )
        geom = Geometry(
            call.frames,
            call.tokens_per_frame,
            text_tokens=text,
            text_first=True,
            heads=attn.heads,
            head_dim=q.shape[-1],
        )
        out = session_attend(self.session, q, k, v, geom)
        out = out.flatten(2, 3).to(x.dtype)
        out = attn.to_out[1](attn.to_out[0](out))
        return out[:, text:], out[:, :text]


def _valid_prefix(mask: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
    """Valid text lengths; reorders keys/values so valid tokens come first if needed."""
    counts = mask.sum(dim=1)
    prefix = mask.long().cumprod(dim=1).sum(dim=1)
    valid = tuple(int(c) for c in counts.tolist())
    if not torch.equal(prefix, counts):
        order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
        idx = order[:, :, None, None].expand(-1, -1, k.shape[2], k.shape[3])
        k, v = k.gather(1, idx), v.gather(1, idx)
    return k, v, valid
