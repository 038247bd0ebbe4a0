"""Fused elementwise kernels for the attention processors (Triton on CUDA, torch elsewhere)."""

from .qk_norm_rope import norm_rope, rope_interleaved, triton_available

__all__ = ["norm_rope", "rope_interleaved", "triton_available"]
