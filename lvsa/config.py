"""User-facing configuration of LVSA."""

from __future__ import annotations

from dataclasses import dataclass

from .pattern import FramePattern, frame_pattern

__all__ = ["BACKENDS", "LVSAConfig"]

#: Backend names accepted by :class:`LVSAConfig` (``"auto"`` picks by device).
BACKENDS = ("auto", "flashinfer", "flex", "portable", "npu", "dense")


@dataclass(frozen=True)
class LVSAConfig:
    """Settings of the LVSA block-sparse self-attention.

    Attributes:
        window: half-width ``W`` of the local window in latent frames (>= 0); the window
            holds ``min(2W + 1, T - |anchors and sinks|)`` frames outside the anchors and
            sinks (shifted inward at the video ends, widened past anchors); ``0`` means no
            window: every query sees the sinks and anchors only.
        sinks: number of leading latent frames every query attends to (>= 0).
        anchor_interval: fixed keyframe-anchor interval ``kfi`` in latent frames (>= 1),
            or ``None`` to derive it from ``reference_frames`` and ``scale`` as the
            authors' reference code does (:func:`lvsa.pattern.auto_anchor_interval`).
        reference_frames: training horizon of the model in latent frames (Wan 21,
            HunyuanVideo 1.5 33); the per-query key budget is ``floor(reference_frames *
            scale)`` frames, and videos no longer than that run dense.
        scale: sparsity scale (> 0; the reference's ``sparsity_scale``): multiplier of the
            key budget, > 1 denser, < 1 sparser; 1.0 keeps the training-horizon budget.
        rotate: rotate the anchor grid with the denoising step (offset ``step mod kfi``,
            the reference's behaviour); False keeps offset 0 on every step.
        backend: kernel family, one of :data:`BACKENDS`; ``"auto"`` picks FlashInfer on
            CUDA when importable, else compiled FlexAttention on CUDA, ``"npu"``
            (``torch_npu.npu_fusion_attention``) for NPU tensors when ``torch_npu`` imports
            and ``torch.npu.is_available()``, and the portable SDPA path elsewhere. The NPU
            choice and kernel calls are tested against a stand-in ``torch_npu`` written from
            Ascend's documentation, not on Ascend hardware.
        tile: kernel block size in tokens, or ``None`` for the default (one latent frame
            for FlashInfer, 128 tokens for FlexAttention). For FlashInfer it must divide
            the tokens per latent frame; for FlexAttention it must be a multiple of 64.
        fused_norm_rope: on CUDA with Triton, run the query/key RMS norm and RoPE of Wan's
            self-attention as one fused kernel (same result up to bf16 rounding); False
            keeps the stock processor's torch ops.
    """

    window: int = 3
    sinks: int = 1
    anchor_interval: int | None = None
    reference_frames: int = 21
    scale: float = 1.0
    rotate: bool = True
    backend: str = "auto"
    tile: int | None = None
    fused_norm_rope: bool = True

    def __post_init__(self) -> None:
        if self.window < 0:
            raise ValueError(f"window must be >= 0, got {self.window}")
        if self.sinks < 0:
            raise ValueError(f"sinks must be >= 0, got {self.sinks}")
        if self.anchor_interval is not None and self.anchor_interval < 1:
            raise ValueError(f"anchor_interval must be >= 1, got {self.anchor_interval}")
        if self.reference_frames < 1:
            raise ValueError(f"reference_frames must be >= 1, got {self.reference_frames}")
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.tile is not None and self.tile < 1:
            raise ValueError(f"tile must be >= 1, got {self.tile}")

    def pattern(self, num_frames: int, step: int = 0) -> FramePattern:
        """The frame pattern these settings give for ``num_frames`` latent frames at
        denoising step ``step``; ``print(cfg.pattern(121).describe())`` shows it."""
        return frame_pattern(
            num_frames,
            step,
            window=self.window,
            sinks=self.sinks,
            anchor_interval=self.anchor_interval,
            reference_frames=self.reference_frames,
            scale=self.scale,
            rotate=self.rotate,
        )
