"""Ascend NPU backend: the portable per-group gather with ``torch_npu.npu_fusion_attention``.

For each group of query frames sharing one key set (``plan.gather_groups``) the query
tokens and the group's key/value tokens are gathered along the sequence axis of the
``(B, S, N, D)`` inputs and handed to Ascend's fused attention kernel in its ``BSND``
layout (no transposes, no mask, no dropout); the outputs are scattered back. Keys are
the group's video frames plus the valid text tokens, exactly as in
:func:`lvsa.backends.portable.portable_attention`.

Kernel contract followed (Ascend Extension for PyTorch, ``torch_npu.npu_fusion_attention``):
query/key/value in float16 or bfloat16 (float32 is only listed by newer releases, so it is
never passed: float32 inputs are cast to :data:`NPU_COMPUTE_DTYPE` and the output is cast
back), ``head_num`` = N of the query, ``input_layout`` one of BSH/SBH/BSND/BNSD/TND,
``scale`` passed explicitly (the kernel's default is 1.0, not ``1/sqrt(D)``),
``keep_prob=1.0`` (no dropout), every argument after ``input_layout`` by keyword (the
positional order changed between releases), output = first element of the returned
7-tuple.

What is tested, and what is not: ``tests/test_lvsa_npu.py`` runs this code against a
stand-in ``torch_npu`` (``tests/fake_torch_npu.py``) written from that documentation: it
rejects what the documentation rules out (layout/shape mismatch, wrong ``head_num``,
float32, ``keep_prob`` outside (0, 1], ...) and computes the attention with SDPA in
float32. Real Ascend hardware, the real kernel's numerics and its speed were never run.

Without ``torch_npu``, without an NPU, or for tensors not on an NPU this backend is the
portable backend (SDPA).
"""

from __future__ import annotations

import torch

from ..plan import AttentionPlan
from .portable import portable_attention

__all__ = [
    "NPU_COMPUTE_DTYPE",
    "NPU_KERNEL_DTYPES",
    "NPU_LAYOUT",
    "is_npu_device",
    "npu_attention",
    "npu_available",
    "npu_fused_attention",
    "on_npu",
]

#: Layout handed to ``npu_fusion_attention``: the gathered ``(B, L, N, D)`` tensors as they are.
NPU_LAYOUT = "BSND"
#: Dtype that float32 (and other non-half) inputs are cast to before the kernel call.
NPU_COMPUTE_DTYPE = torch.bfloat16
#: Input dtypes ``npu_fusion_attention`` accepts in every documented release.
NPU_KERNEL_DTYPES = (torch.float16, torch.bfloat16)


def npu_available() -> bool:
    """True when ``torch_npu`` imports and ``torch.npu.is_available()`` says an NPU is present.

    Importing ``torch_npu`` is what registers the ``npu`` device and the ``torch.npu``
    module, so the import comes first.
    """
    try:
        import torch_npu  # noqa: F401
    except Exception:
        return False
    npu = getattr(torch, "npu", None)
    if npu is None:
        return False
    try:
        return bool(npu.is_available())
    except Exception:
        return False


def is_npu_device(device: torch.device) -> bool:
    """True for an Ascend device (``torch.device("npu:0")`` once ``torch_npu`` is imported)."""
    return getattr(device, "type", None) == "npu"


def on_npu(t: torch.Tensor) -> bool:
    """True for a tensor in NPU memory: device type ``npu``, or ``Tensor.is_npu`` (torch_npu)."""
    return is_npu_device(t.device) or bool(getattr(t, "is_npu", False))


def npu_fused_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, scale: float
) -> torch.Tensor:
    """Dense attention of ``(B, L, N, D)`` half-precision tensors by ``npu_fusion_attention``.

    Args:
        q: ``(B, Lq, N, D)`` queries, float16 or bfloat16.
        k, v: ``(B, Lk, N, D)`` keys and values, same dtype.
        scale: softmax scale (always passed: the kernel's own default is 1.0).

    Returns:
        ``(B, Lq, N, D)`` output in the dtype of ``q``.
    """
    import torch_npu

    out = torch_npu.npu_fusion_attention(
        q, k, v, q.shape[2], NPU_LAYOUT, scale=float(scale), keep_prob=1.0
    )
    return out[0]


def _jobs(plan: AttentionPlan, device: torch.device, valid: int) -> list:
    """``(query_index, key_index)`` per kernel call on ``device``, text keys included (cached)."""
    key = ("npu", str(device), valid)
    got = plan._cache.get(key)
    if got is None:
        g = plan.geometry
        text = plan.text_index[:valid]
        got = [(qi.to(device), torch.cat([ki, text]).to(device)) for qi, ki in plan.gather_groups]
        if g.text_tokens:
            video = torch.arange(g.video_start, g.video_start + g.video_tokens, dtype=torch.int64)
            got.append((plan.text_index.to(device), torch.cat([video, text]).to(device)))
        plan._cache[key] = got
    return got


def npu_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    plan: AttentionPlan,
    text_valid: tuple[int, ...] | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """LVSA attention on Ascend; same contract as :func:`portable_attention`.

    Args:
        q, k, v: ``(B, S, N, D)`` tensors laid out as ``plan.geometry`` says.
        plan: the attention plan.
        text_valid: per-sample number of valid text tokens (prefix), ``None`` = all valid.
        scale: softmax scale, default ``1 / sqrt(D)``.

    Returns:
        ``(B, S, N, D)`` output in the dtype of ``q`` (float32 inputs run the kernel in
        :data:`NPU_COMPUTE_DTYPE`). Falls back to :func:`portable_attention` when
        ``torch_npu`` or an NPU is missing or ``q`` is not on the NPU.
    """
    if not (on_npu(q) and npu_available()):
        return portable_attention(q, k, v, plan, text_valid, scale)
    scale = q.shape[-1] ** -0.5 if scale is None else float(scale)
    dtype = q.dtype
    run_dtype = dtype if dtype in NPU_KERNEL_DTYPES else NPU_COMPUTE_DTYPE
    q, k, v = (x.to(run_dtype) for x in (q, k, v))  # no copy when already run_dtype
    valid = text_valid or (plan.geometry.text_tokens,)
    if len(set(valid)) > 1:
        out = torch.cat(
            [
                _run(q[b : b + 1], k[b : b + 1], v[b : b + 1], plan, t, scale)
                for b, t in enumerate(valid)
            ],
            dim=0,
        )
    else:
        out = _run(q, k, v, plan, valid[0], scale)
    return out.to(dtype)


def _run(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, plan: AttentionPlan, valid: int, scale: float
) -> torch.Tensor:
    """One kernel call per key group for samples sharing ``valid`` text tokens."""
    out = torch.empty_like(q)
    for qi, ki in _jobs(plan, q.device, valid):
        o = npu_fused_attention(
            q.index_select(1, qi), k.index_select(1, ki), v.index_select(1, ki), scale
        )
        out.index_copy_(1, qi, o)
    return out
