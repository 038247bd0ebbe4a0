"""Query/key RMS norm + interleaved rotary embedding (Wan's ``rms_norm_across_heads``).

:func:`norm_rope` computes ``rope(norm(x))`` for one projected query or key. On CUDA
with Triton it is one fused kernel (read once, write once; the eager version makes
about ten passes over the tensor); elsewhere, under ``torch.compile`` (Inductor fuses
it itself) and for any layout the kernel does not cover, it runs the torch ops of the
stock diffusers processor.
"""

from __future__ import annotations

import functools

import torch

__all__ = ["norm_rope", "rope_interleaved", "triton_available"]


@functools.cache
def triton_available() -> bool:
    """True when Triton imports (CUDA builds of torch ship it)."""
    try:
        import triton  # noqa: F401
    except Exception:
        return False
    return True


def rope_interleaved(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved channel pairs (2i, 2i+1) of ``x`` (B, S, H, D) by the tables.

    ``cos`` / ``sin`` hold each pair's value twice along ``D`` (diffusers' layout,
    broadcastable to ``x``); the result is in ``x``'s dtype.
    """
    pairs = x.unflatten(-1, (-1, 2))
    even, odd = pairs[..., 0], pairs[..., 1]
    c, s = cos[..., 0::2], sin[..., 1::2]
    rotated = torch.stack((even * c - odd * s, even * s + odd * c), dim=-1)
    return rotated.flatten(-2).type_as(x)


def _tables(t: torch.Tensor, seq: int, dim: int) -> torch.Tensor | None:
    """``(S, D)`` view of a ``(1, S, 1, D)`` / ``(S, D)`` table, or None if not that shape."""
    if t.numel() != seq * dim or t.shape[-1] != dim or t.stride(-1) != 1:
        return None
    flat = t.reshape(seq, dim)
    return flat if flat.stride(-1) == 1 else None


def _fusable(x: torch.Tensor, norm: torch.nn.Module, heads: int) -> bool:
    return (
        x.is_cuda
        and x.ndim == 3
        and x.stride(-1) == 1
        and x.shape[-1] % heads == 0
        and (x.shape[-1] // heads) % 2 == 0
        and isinstance(norm, torch.nn.RMSNorm)
        and tuple(norm.normalized_shape) == (x.shape[-1],)
        and not torch.compiler.is_compiling()
        and not (torch.is_grad_enabled() and x.requires_grad)
        and triton_available()
    )


def norm_rope(
    x: torch.Tensor,
    norm: torch.nn.Module,
    heads: int,
    rotary: tuple[torch.Tensor, torch.Tensor] | None,
    fused: bool = True,
) -> torch.Tensor:
    """``(B, S, H, D)`` query or key: ``norm`` over the ``H * D`` channels, then RoPE.

    Args:
        x: projected ``(B, S, H * D)`` tensor.
        norm: the layer's ``norm_q`` / ``norm_k`` (an ``nn.RMSNorm`` over ``H * D`` for
            the fused kernel; any module otherwise).
        heads: number of heads ``H``.
        rotary: ``(cos, sin)`` tables in diffusers' interleaved layout, or ``None``.
        fused: allow the fused Triton kernel when it applies.
    """
    seq = x.shape[1]
    if fused and rotary is not None and _fusable(x, norm, heads):
        dim = x.shape[-1] // heads
        cos, sin = (_tables(t, seq, dim) for t in rotary)
        if cos is not None and sin is not None:
            from ._triton_norm_rope import triton_norm_rope

            eps = norm.eps if norm.eps is not None else torch.finfo(x.dtype).eps
            out = triton_norm_rope(x, norm.weight, eps, cos, sin, heads)
            return out.unflatten(2, (heads, -1))
    y = norm(x).unflatten(2, (heads, -1))
    return y if rotary is None else rope_interleaved(y, *rotary)
