"""Portable LVSA backend: gather the key frames of each query group and call torch SDPA.

Only standard torch ops (index_select, cat, scaled_dot_product_attention, index_copy_),
so it runs wherever torch does. Tested on CPU (and on CUDA on the GPU machines); on an
Ascend NPU it would run through torch_npu's SDPA, which is not tested here (no Ascend
hardware was reachable; see the ``npu`` backend).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..plan import AttentionPlan

__all__ = ["portable_attention"]

Kernel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, float | None], torch.Tensor]


def _sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v, scale=scale)


def _device_groups(plan: AttentionPlan, device: torch.device) -> list:
    key = ("portable", str(device))
    got = plan._cache.get(key)
    if got is None:
        got = [(qi.to(device), ki.to(device)) for qi, ki in plan.gather_groups] + [
            (plan.text_index.to(device), None)
        ]
        plan._cache[key] = got
    return got


def portable_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    plan: AttentionPlan,
    text_valid: tuple[int, ...] | None = None,
    scale: float | None = None,
    kernel: Kernel = _sdpa,
) -> torch.Tensor:
    """LVSA attention by gathering keys per group of query frames.

    Args:
        q, k, v: ``(B, S, H, D)`` tensors laid out as ``plan.geometry`` says.
        plan: the attention plan.
        text_valid: per-sample number of valid text tokens (prefix), ``None`` = all valid.
        scale: softmax scale, default ``1 / sqrt(D)``.
        kernel: dense attention on ``(B, H, L, D)`` tensors (SDPA by default).

    Returns:
        ``(B, S, H, D)`` output with the dtype of ``q``.
    """
    g = plan.geometry
    if text_valid and len(set(text_valid)) > 1:
        return torch.cat(
            [
                portable_attention(
                    q[b : b + 1], k[b : b + 1], v[b : b + 1], plan, (t,), scale, kernel
                )
                for b, t in enumerate(text_valid)
            ],
            dim=0,
        )
    valid = text_valid[0] if text_valid else g.text_tokens
    groups = _device_groups(plan, q.device)
    text_idx = groups[-1][0][:valid]
    all_video = torch.arange(
        g.video_start, g.video_start + g.video_tokens, device=q.device, dtype=torch.int64
    )
    qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    out = torch.empty_like(q)
    jobs = list(groups[:-1])
    if g.text_tokens:
        jobs.append((groups[-1][0], all_video))
    for qi, ki in jobs:
        kk = torch.cat([ki, text_idx]) if valid else ki
        o = kernel(qt.index_select(2, qi), kt.index_select(2, kk), vt.index_select(2, kk), scale)
        out.index_copy_(1, qi, o.transpose(1, 2).to(out.dtype))
    return out
