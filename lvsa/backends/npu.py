"""Ascend NPU backend (UNTESTED: no Ascend hardware was available).

A thin layer over the portable backend: the same per-group gather, with the dense
kernel replaced by ``torch_npu.npu_fusion_attention`` (BNSD layout, no mask) when
torch_npu imports; otherwise it is exactly the portable backend (SDPA).
"""

from __future__ import annotations

import torch

from ..plan import AttentionPlan
from .portable import portable_attention

__all__ = ["npu_attention", "npu_available"]


def npu_available() -> bool:
    """True when ``torch_npu`` imports and an NPU device is present."""
    try:
        import torch_npu  # noqa: F401
    except Exception:
        return False
    return bool(getattr(torch, "npu", None) and torch.npu.is_available())


def _npu_kernel(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float | None):
    import torch_npu

    heads, dim = q.shape[1], q.shape[-1]
    scale = dim**-0.5 if scale is None else scale
    out = torch_npu.npu_fusion_attention(
        q, k, v, heads, input_layout="BNSD", scale=scale, keep_prob=1.0
    )
    return out[0]


def npu_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    plan: AttentionPlan,
    text_valid: tuple[int, ...] | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """LVSA attention on Ascend; same contract as :func:`portable_attention`."""
    kernel = _npu_kernel if (q.device.type == "npu" and npu_available()) else None
    if kernel is None:
        return portable_attention(q, k, v, plan, text_valid, scale)
    return portable_attention(q, k, v, plan, text_valid, scale, kernel=kernel)
