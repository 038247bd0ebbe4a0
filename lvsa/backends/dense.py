"""Dense attention over the whole sequence without an S x S mask (the dense fast path)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..plan import Geometry

__all__ = ["dense_attention"]


def dense_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    geometry: Geometry,
    text_valid: tuple[int, ...] | None = None,
    scale: float | None = None,
) -> torch.Tensor:
    """Full attention; invalid (padding) text keys are dropped by slicing, not masked.

    Args:
        q, k, v: ``(B, S, H, D)`` tensors.
        geometry: the token geometry (text position and length).
        text_valid: per-sample number of valid text tokens (a prefix of the text), or
            ``None`` when all text tokens are valid.
        scale: softmax scale, default ``1 / sqrt(D)``.

    Returns:
        ``(B, S, H, D)`` output. No mask is passed to SDPA, so the fastest kernel (cuDNN or
        flash on CUDA) stays eligible.
    """
    qt, kt, vt = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    g = geometry
    if not text_valid or all(t == g.text_tokens for t in text_valid):
        return F.scaled_dot_product_attention(qt, kt, vt, scale=scale).transpose(1, 2)
    outs = []
    for b, valid in enumerate(text_valid):
        keep = _valid_key_slices(g, valid)
        kb = torch.cat([kt[b : b + 1, :, lo:hi] for lo, hi in keep], dim=2)
        vb = torch.cat([vt[b : b + 1, :, lo:hi] for lo, hi in keep], dim=2)
        outs.append(F.scaled_dot_product_attention(qt[b : b + 1], kb, vb, scale=scale))
    return torch.cat(outs, dim=0).transpose(1, 2)


def _valid_key_slices(g: Geometry, valid: int) -> list[tuple[int, int]]:
    """Token ranges of the video keys and the valid text keys."""
    vs = (g.video_start, g.video_start + g.video_tokens)
    ts = (g.text_start, g.text_start + valid)
    return [r for r in (ts, vs) if r[1] > r[0]] if g.text_first else [vs, ts]
