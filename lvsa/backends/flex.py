"""FlexAttention backend: a BlockMask built from the plan's block lists, compiled kernel.

Blocks are ``block`` tokens (128 by default) over the unpadded sequence. Block pairs
whose tokens are all allowed are "full" (no mask_mod call); pairs cut by a frame
boundary, the sequence end or invalid text keys are "partial" and the mask_mod decides
per token from a token -> segment table and the segment mask.
"""

from __future__ import annotations

import torch

from ..plan import AttentionPlan

__all__ = ["flex_attention_lvsa", "flex_available"]

_COMPILED: dict[str, object] = {}


def flex_available() -> bool:
    """True when ``torch.nn.attention.flex_attention`` can be imported."""
    try:
        from torch.nn.attention import flex_attention  # noqa: F401
    except Exception:
        return False
    return True


def _kernel(compiled: bool):
    from torch.nn.attention.flex_attention import flex_attention

    if not compiled:
        return flex_attention
    fn = _COMPILED.get("flex")
    if fn is None:
        fn = torch.compile(flex_attention, dynamic=False)
        _COMPILED["flex"] = fn
    return fn


def block_mask_for(
    plan: AttentionPlan,
    device: torch.device,
    batch: int,
    text_valid: tuple[int, ...] | None,
    block: int = 128,
):
    """Cached ``BlockMask`` of ``plan`` on ``device`` (one row per sample if text varies)."""
    from torch.nn.attention.flex_attention import BlockMask

    tv = tuple(text_valid) if text_valid and len(set(text_valid)) > 1 else ()
    valid_one = text_valid[0] if text_valid and not tv else plan.geometry.text_tokens
    key = ("flexmask", str(device), block, tv, valid_one, batch)
    got = plan._cache.get(key)
    if got is not None:
        return got
    g = plan.geometry
    rows = tv if tv else (valid_one,)
    lists = {n: t.to(device) for n, t in plan.flex_blocks(block, rows).items()}
    s = g.seq_len
    nb = -(-s // block)
    nseg = g.frames + 1
    seg = torch.full((nb * block,), nseg, dtype=torch.int64)
    seg[:s] = plan.token_segment.long()
    seg = seg.to(device)
    segm = torch.zeros(nseg + 1, nseg + 1, dtype=torch.bool)
    segm[:nseg, :nseg] = plan.segment_mask
    segm = segm.to(device)
    valid = torch.tensor(rows if tv else rows * batch, dtype=torch.int64)
    lo = (valid + g.text_start).to(device)
    hi = g.text_start + g.text_tokens

    def mask_mod(b, h, q_idx, kv_idx):
        allowed = segm[seg[q_idx], seg[kv_idx]]
        return allowed & ~((kv_idx >= lo[b]) & (kv_idx < hi))

    bm = BlockMask.from_kv_blocks(
        lists["kv_num_blocks"],
        lists["kv_indices"],
        lists["full_kv_num_blocks"],
        lists["full_kv_indices"],
        BLOCK_SIZE=block,
        mask_mod=mask_mod,
        seq_lengths=(s, s),
    )
    plan._cache[key] = bm
    return bm


def flex_attention_lvsa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    plan: AttentionPlan,
    text_valid: tuple[int, ...] | None = None,
    scale: float | None = None,
    block: int | None = None,
    compiled: bool = True,
) -> torch.Tensor:
    """LVSA attention through FlexAttention.

    Args:
        q, k, v: ``(B, S, H, D)`` tensors.
        plan: the attention plan.
        text_valid: per-sample valid text tokens (prefix), ``None`` = all valid.
        scale: softmax scale, default ``1 / sqrt(D)``.
        block: block size in tokens (multiple of 64 on GPU), default 128.
        compiled: run under ``torch.compile`` (needed for a sparse, fused kernel; the
            eager path materialises the score matrix and is for tests only).
    """
    block = 128 if block is None else block
    bm = block_mask_for(plan, q.device, q.shape[0], text_valid, block)
    fn = _kernel(compiled)
    out = fn(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), block_mask=bm, scale=scale)
    return out.transpose(1, 2)
