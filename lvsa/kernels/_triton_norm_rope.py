"""Triton kernel: RMS norm over all heads of a token, then interleaved RoPE, in one pass.

Imported only where Triton is installed (CUDA builds of torch ship it). One program
handles one token row of ``H * D`` channels: it reads the row once, writes it once.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _norm_rope_kernel(
    x_ptr,
    w_ptr,
    cos_ptr,
    sin_ptr,
    out_ptr,
    seq_len,
    stride_xb,
    stride_xs,
    stride_cs,
    stride_ss,
    eps,
    H: tl.constexpr,
    D: tl.constexpr,
    BLOCK_H: tl.constexpr,
    BLOCK_D: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    b = row // seq_len
    s = row % seq_len
    h = tl.arange(0, BLOCK_H)[:, None]
    d = tl.arange(0, BLOCK_D)[None, :]
    mask = (h < H) & (d < D)
    off = h * D + d
    # contiguous (vectorised) row load; the channel pairs are split in registers
    x = tl.load(x_ptr + b * stride_xb + s * stride_xs + off, mask=mask, other=0.0)
    x = x.to(tl.float32)
    sq = tl.sum(tl.sum(x * x, axis=1), axis=0)
    y = x * (1.0 / tl.sqrt(sq / (H * D) + eps))
    if HAS_WEIGHT:
        y = y * tl.load(w_ptr + off, mask=mask, other=0.0).to(tl.float32)
    # the stock module rounds the normed tensor to the model dtype before RoPE
    y = y.to(out_ptr.dtype.element_ty).to(tl.float32)
    ye, yo = tl.split(tl.reshape(y, (BLOCK_H, BLOCK_D // 2, 2)))
    dd = tl.arange(0, BLOCK_D)
    cv = tl.load(cos_ptr + s * stride_cs + dd, mask=dd < D, other=0.0).to(tl.float32)
    sv = tl.load(sin_ptr + s * stride_ss + dd, mask=dd < D, other=0.0).to(tl.float32)
    c, _ = tl.split(tl.reshape(cv, (BLOCK_D // 2, 2)))
    _, sn = tl.split(tl.reshape(sv, (BLOCK_D // 2, 2)))
    c = c[None, :]
    sn = sn[None, :]
    o = tl.reshape(tl.join(ye * c - yo * sn, ye * sn + yo * c), (BLOCK_H, BLOCK_D))
    tl.store(out_ptr + row * (H * D) + off, o.to(out_ptr.dtype.element_ty), mask=mask)


def triton_norm_rope(
    x: torch.Tensor,
    weight: torch.Tensor | None,
    eps: float,
    cos: torch.Tensor,
    sin: torch.Tensor,
    heads: int,
) -> torch.Tensor:
    """``rope(rms_norm(x) * weight)`` for ``x`` (B, S, H*D) with row-contiguous channels.

    ``cos`` / ``sin``: (S, D) views (any float dtype, last dim contiguous). Returns a new
    contiguous (B, S, H*D) tensor in ``x``'s dtype.
    """
    bsz, seq, chans = x.shape
    dim = chans // heads
    out = torch.empty((bsz, seq, chans), dtype=x.dtype, device=x.device)
    block_h = triton.next_power_of_2(heads)
    _norm_rope_kernel[(bsz * seq,)](
        x,
        weight if weight is not None else x,
        cos,
        sin,
        out,
        seq,
        x.stride(0),
        x.stride(1),
        cos.stride(0),
        sin.stride(0),
        eps,
        H=heads,
        D=dim,
        BLOCK_H=block_h,
        BLOCK_D=triton.next_power_of_2(dim),
        HAS_WEIGHT=weight is not None,
        num_warps=4,
    )
    return out
