"""LVSA attention backends; all compute the same function.

| name | device | kernel |
| --- | --- | --- |
| ``flashinfer`` | CUDA (bf16/fp16) | FlashInfer paged prefill (fa3 on Hopper, fa2), 128-row query tiles |
| ``flex`` | CUDA, CPU | compiled FlexAttention with a BlockMask |
| ``portable`` | any | gather key frames per query group + torch SDPA |
| ``npu`` | Ascend | portable gather + ``npu_fusion_attention`` (BSND) |
| ``dense`` | any | SDPA on the whole sequence (used when the pattern is dense) |

The ``npu`` backend and the ``auto`` choice of it are tested only against a stand-in
``torch_npu`` written from Ascend's documentation (``tests/fake_torch_npu.py``); no
Ascend hardware was available, so the real kernel and its speed are untested.
"""

from __future__ import annotations

import torch

from ..plan import AttentionPlan
from .dense import dense_attention
from .flashinfer import flashinfer_attention, flashinfer_available
from .flex import flex_attention_lvsa, flex_available
from .npu import is_npu_device, npu_attention, npu_available
from .portable import portable_attention

__all__ = [
    "dense_attention",
    "flashinfer_attention",
    "flex_attention_lvsa",
    "lvsa_attention",
    "npu_attention",
    "portable_attention",
    "resolve_backend",
]


#: Head dimensions FlashInfer's prefill kernels are built for.
FLASHINFER_HEAD_DIMS = (64, 128, 256)
#: Smallest head dimension compiled FlexAttention handles well.
FLEX_MIN_HEAD_DIM = 16


def resolve_backend(
    name: str, device: torch.device, dtype: torch.dtype, head_dim: int | None = None
) -> str:
    """Concrete backend for ``name`` (``"auto"`` picks by device, dtype and head size).

    ``auto``: FlashInfer on CUDA for bf16/fp16 and head_dim 64/128/256 when
    importable, else compiled FlexAttention on CUDA (head_dim >= 16); ``npu`` for a
    device of type ``npu`` when ``torch_npu`` imports and ``torch.npu.is_available()``
    (any dtype: float32 is cast for the kernel); the portable path elsewhere (tiny test
    models included). The ``npu`` choice is tested with a stand-in ``torch_npu`` and
    device, not on Ascend hardware.
    """
    if name != "auto":
        return name
    if device.type == "cuda":
        fi_ok = head_dim is None or head_dim in FLASHINFER_HEAD_DIMS
        if dtype in (torch.float16, torch.bfloat16) and fi_ok and flashinfer_available():
            return "flashinfer"
        flex_ok = head_dim is None or head_dim >= FLEX_MIN_HEAD_DIM
        return "flex" if flex_ok and flex_available() else "portable"
    if is_npu_device(device) and npu_available():
        return "npu"
    return "portable"


def lvsa_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    plan: AttentionPlan,
    *,
    backend: str = "auto",
    text_valid: tuple[int, ...] | None = None,
    scale: float | None = None,
    tile: int | None = None,
    dense_fallback: bool = True,
    query_layout: str = "auto",
) -> torch.Tensor:
    """LVSA self-attention of ``(B, S, H, D)`` tensors laid out as ``plan.geometry``.

    Args:
        q, k, v: ``(B, S, H, D)`` query, key, value.
        plan: from :func:`lvsa.plan.get_plan`.
        backend: a backend name or ``"auto"``.
        text_valid: per-sample count of valid text tokens (a prefix of the text block);
            ``None`` when all are valid.
        scale: softmax scale, default ``1 / sqrt(D)``.
        tile: kernel block size in tokens (see :class:`lvsa.LVSAConfig`).
        dense_fallback: run plain SDPA (cuDNN / flash on CUDA) when the pattern is dense.
        query_layout: FlashInfer query layout (``"auto"``, ``"aligned"``, ``"runs"``; see
            :class:`lvsa.LVSAConfig`); other backends ignore it.

    Returns:
        ``(B, S, H, D)`` output.
    """
    if (dense_fallback and plan.dense) or backend == "dense":
        return dense_attention(q, k, v, plan.geometry, text_valid, scale)
    name = resolve_backend(backend, q.device, q.dtype, q.shape[-1])
    if name == "flashinfer":
        return flashinfer_attention(
            q, k, v, plan, text_valid, scale, tile=tile, layout=query_layout
        )
    if name == "flex":
        return flex_attention_lvsa(
            q, k, v, plan, text_valid, scale, block=tile, compiled=q.device.type != "cpu"
        )
    if name == "npu":
        return npu_attention(q, k, v, plan, text_valid, scale)
    if name == "portable":
        return portable_attention(q, k, v, plan, text_valid, scale)
    raise ValueError(f"unknown backend {name!r}")
