"""FlashInfer backend: block-sparse attention with one latent frame (or a tile) per block.

FlashInfer's ``BlockSparseAttentionWrapper`` is a BSR front-end over its paged-KV prefill
kernel (pages = column blocks, requests = row blocks). This backend drives that same
kernel through ``BatchPrefillWithPagedKVCacheWrapper`` directly, which adds what the BSR
front-end lacks: text tokens become extra pages whose last page is partial, so text keys
of any length (and per-sample valid length) are merged exactly, and text queries form
one more request. ``plan`` (a host sync) runs once per (pattern, geometry, dtype, valid
text length); each layer call only does ``run``.

Needs CUDA, ``flashinfer-python`` >= 0.7 and bf16/fp16 inputs.
"""

from __future__ import annotations

import torch

from ..plan import AttentionPlan

__all__ = ["flashinfer_attention", "flashinfer_available"]

_WORKSPACE: dict[str, torch.Tensor] = {}


def flashinfer_available() -> bool:
    """True when flashinfer imports and CUDA is available."""
    if not torch.cuda.is_available():
        return False
    try:
        import flashinfer  # noqa: F401
    except Exception:
        return False
    return True


def _workspace(device: torch.device) -> torch.Tensor:
    key = str(device)
    ws = _WORKSPACE.get(key)
    if ws is None:
        ws = torch.empty(256 * 1024 * 1024, dtype=torch.uint8, device=device)
        _WORKSPACE[key] = ws
    return ws


def _wrapper(plan: AttentionPlan, q: torch.Tensor, valid: int, page: int, kernel: str):
    heads, dim = q.shape[-2], q.shape[-1]
    key = ("flashinfer", str(q.device), q.dtype, heads, dim, valid, page, kernel)
    got = plan._cache.get(key)
    if got is not None:
        return got
    import flashinfer

    lay = plan.paged_layout(page, valid)
    w = flashinfer.BatchPrefillWithPagedKVCacheWrapper(_workspace(q.device), "NHD", backend=kernel)
    dev = q.device
    w.plan(
        lay["qo_indptr"].to(dev),
        lay["kv_indptr"].to(dev),
        lay["kv_indices"].to(dev),
        lay["last_page_len"].to(dev),
        heads,
        heads,
        dim,
        page,
        causal=False,
        q_data_type=q.dtype,
        kv_data_type=q.dtype,
        o_data_type=q.dtype,
    )
    got = (w, lay["num_pages"])
    plan._cache[key] = got
    return got


def prepare(
    plan: AttentionPlan,
    q: torch.Tensor,
    text_valid: tuple[int, ...] | None = None,
    tile: int | None = None,
    kernel: str = "auto",
) -> None:
    """Plan ahead (JIT compile + host-side scheduling) so that timing excludes it."""
    g = plan.geometry
    page = g.tokens_per_frame if tile is None else tile
    for valid in set(text_valid or (g.text_tokens,)):
        _wrapper(plan, q, valid, page, kernel)


def _paged(x: torch.Tensor, plan: AttentionPlan, valid: int, page: int, pages: int):
    """``(pages, page, H, D)`` view or copy of one sample's keys/values."""
    g = plan.geometry
    vs, vt = g.video_start, g.video_tokens
    if valid == 0:
        return x[vs : vs + vt].reshape(pages, page, *x.shape[1:])
    buf = x.new_empty(pages * page, *x.shape[1:])
    buf[:vt] = x[vs : vs + vt]
    buf[vt : vt + valid] = x[g.text_start : g.text_start + valid]
    return buf.view(pages, page, *x.shape[1:])


def flashinfer_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    plan: AttentionPlan,
    text_valid: tuple[int, ...] | None = None,
    scale: float | None = None,
    tile: int | None = None,
    kernel: str = "auto",
) -> torch.Tensor:
    """LVSA attention through FlashInfer's paged prefill kernel (fa2/fa3).

    Args:
        q, k, v: ``(B, S, H, D)`` bf16 or fp16 CUDA tensors.
        plan: the attention plan.
        text_valid: per-sample valid text tokens (prefix), ``None`` = all valid.
        scale: softmax scale; only the default ``1 / sqrt(D)`` is supported.
        tile: block size in tokens (must divide tokens_per_frame), default one frame.
        kernel: ``"auto"``, ``"fa2"`` or ``"fa3"``.
    """
    if scale is not None and abs(scale - q.shape[-1] ** -0.5) > 1e-12:
        raise ValueError("flashinfer backend supports only the default softmax scale")
    g = plan.geometry
    page = g.tokens_per_frame if tile is None else tile
    outs = []
    for b in range(q.shape[0]):
        valid = text_valid[b] if text_valid else g.text_tokens
        w, pages = _wrapper(plan, q, valid, page, kernel)
        kb = _paged(k[b], plan, valid, page, pages)
        vb = _paged(v[b], plan, valid, page, pages)
        outs.append(w.run(q[b].contiguous(), (kb, vb)))
    return outs[0].unsqueeze(0) if len(outs) == 1 else torch.stack(outs, dim=0)
