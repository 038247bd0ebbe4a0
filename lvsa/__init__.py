"""LVSA: training-free block-sparse self-attention for long video diffusion.

Per query latent frame the keys are the first-frame sinks, a local window holding
``min(2W + 1, T - |anchors|)`` non-anchor frames (shifted inward at the ends) and keyframe
anchors every ``kfi`` frames whose grid wraps modulo ``T`` and rotates with the denoising
step (the authors' reference rules, exactly). ``pattern`` (frame rule) -> ``plan`` (token layout, cached) ->
``backends`` (FlashInfer, FlexAttention, portable SDPA, NPU).

Usage::

    import lvsa
    lvsa.apply(pipe, lvsa.LVSAConfig(reference_frames=21))
    video = pipe(...)
    lvsa.density(pipe)        # mean per-query density of the last pattern, 0-1
    lvsa.remove(pipe)

    lvsa.riflex.apply(pipe, num_latent_frames=121)      # RoPE extrapolation baseline
    lvsa.ultravico.apply(pipe, reference_frames=21)     # dense logit-decay baseline
"""

from . import backends, pattern, plan, riflex, ultravico
from .api import apply, density, remove, session_of
from .backends import lvsa_attention
from .config import LVSAConfig
from .pattern import FramePattern, frame_pattern
from .plan import AttentionPlan, Geometry, get_plan

__all__ = [
    "AttentionPlan",
    "FramePattern",
    "Geometry",
    "LVSAConfig",
    "apply",
    "backends",
    "density",
    "frame_pattern",
    "get_plan",
    "lvsa_attention",
    "pattern",
    "plan",
    "remove",
    "riflex",
    "session_of",
    "ultravico",
]
