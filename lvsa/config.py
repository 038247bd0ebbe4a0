"""User-facing configuration of LVSA."""

from __future__ import annotations

from dataclasses import dataclass, replace

from .pattern import FramePattern, frame_pattern

__all__ = ["BACKENDS", "MODEL_DEFAULTS", "QUERY_LAYOUTS", "LVSAConfig", "ModelDefaults"]

#: Backend names accepted by :class:`LVSAConfig` (``"auto"`` picks by device).
BACKENDS = ("auto", "flashinfer", "flex", "portable", "npu", "dense")
#: FlashInfer query layouts accepted by :class:`LVSAConfig` (see ``query_layout``).
QUERY_LAYOUTS = ("auto", "aligned", "runs")


@dataclass(frozen=True)
class ModelDefaults:
    """Per-model LVSA defaults (the rules of the authors' reference code, docs/lvsa.md).

    Attributes:
        name: human-readable model family.
        reference_frames: training horizon in latent frames, or ``None`` when it is read
            from the model's config at install time (CogVideoX).
        why: one line: where the number comes from.
    """

    name: str
    reference_frames: int | None
    why: str


#: The one place the per-model defaults live; keys are the model kinds ``lvsa.apply``
#: detects (:func:`lvsa.integrations.install.model_kind`).
MODEL_DEFAULTS: dict[str, ModelDefaults] = {
    "wan": ModelDefaults(
        "Wan 2.1/2.2", 21, "trained on 81 frames = 21 latent frames (VAE stride 4)"
    ),
    "hunyuan15": ModelDefaults(
        "HunyuanVideo 1.5", 33, "the reference uses R = 33 latent frames (~129 frames)"
    ),
    "cogvideox": ModelDefaults(
        "CogVideoX",
        None,
        "the model config's sample_frames (49 frames = 13 latent frames for CogVideoX 1.0), "
        "in token frames (divided by patch_size_t where the model has it)",
    ),
}
#: Model kind whose default applies when no model is known (``cfg.pattern`` called
#: directly, before ``lvsa.apply``).
FALLBACK_MODEL = "wan"


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
        reference_frames: training horizon of the model in latent frames; the per-query
            key budget is ``floor(reference_frames * scale)`` frames, and videos no longer
            than that run dense. ``None`` (default): the model's own default from
            :data:`MODEL_DEFAULTS` (Wan 21, HunyuanVideo 1.5 33, CogVideoX from its
            config), chosen by ``lvsa.apply`` from the model it patches; an explicit value
            always wins. Without a model (``cfg.pattern(T)`` before ``apply``) Wan's 21.
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
        query_layout: FlashInfer query layout, one of :data:`QUERY_LAYOUTS`: ``"runs"``
            (one kernel request per run of query frames sharing a key set), ``"aligned"``
            (requests cut at the kernel's 128-row query tiles, boundary tiles fixed by a
            second launch merged by log-sum-exp: exact) or ``"auto"`` (default: the layout
            with fewer (128 x 96) tiles by the tile model; aligned for Wan 480p at 2x-6x).
            Other backends ignore it.
        model: model kind whose defaults fill unset fields (``"wan"``, ``"hunyuan15"``,
            ``"cogvideox"``); set by ``lvsa.apply`` (:meth:`for_model`), ``None`` before.
        model_reference_frames: the reference horizon read from the model's config when
            its kind has no fixed default (CogVideoX); set by ``lvsa.apply``.
    """

    window: int = 3
    sinks: int = 1
    anchor_interval: int | None = None
    reference_frames: int | None = None
    scale: float = 1.0
    rotate: bool = True
    backend: str = "auto"
    tile: int | None = None
    fused_norm_rope: bool = True
    query_layout: str = "auto"
    model: str | None = None
    model_reference_frames: int | None = None

    def __post_init__(self) -> None:
        if self.window < 0:
            raise ValueError(f"window must be >= 0, got {self.window}")
        if self.sinks < 0:
            raise ValueError(f"sinks must be >= 0, got {self.sinks}")
        if self.anchor_interval is not None and self.anchor_interval < 1:
            raise ValueError(f"anchor_interval must be >= 1, got {self.anchor_interval}")
        if self.reference_frames is not None and self.reference_frames < 1:
            raise ValueError(f"reference_frames must be >= 1, got {self.reference_frames}")
        if self.query_layout not in QUERY_LAYOUTS:
            raise ValueError(
                f"query_layout must be one of {QUERY_LAYOUTS}, got {self.query_layout!r}"
            )
        if self.model is not None and self.model not in MODEL_DEFAULTS:
            raise ValueError(f"model must be one of {tuple(MODEL_DEFAULTS)}, got {self.model!r}")
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.tile is not None and self.tile < 1:
            raise ValueError(f"tile must be >= 1, got {self.tile}")

    def for_model(self, kind: str, config_reference_frames: int | None = None) -> LVSAConfig:
        """These settings for a model of ``kind`` (what ``lvsa.apply`` installs).

        Args:
            kind: a key of :data:`MODEL_DEFAULTS`.
            config_reference_frames: the horizon read from the model's config, for kinds
                whose default comes from there (CogVideoX), in latent (token) frames.
        """
        if kind not in MODEL_DEFAULTS:
            raise ValueError(f"unknown model kind {kind!r}")
        return replace(self, model=kind, model_reference_frames=config_reference_frames)

    def reference(self) -> tuple[int, str]:
        """``(reference_frames in latent frames, why)``: the value the pattern uses and
        which default (if any) supplied it."""
        if self.reference_frames is not None:
            return self.reference_frames, "set explicitly"
        kind = self.model or FALLBACK_MODEL
        d = MODEL_DEFAULTS[kind]
        ref = d.reference_frames if d.reference_frames is not None else None
        if ref is None:
            ref = self.model_reference_frames
        if ref is None:  # a config-derived kind without the value: Wan's, and say so
            d = MODEL_DEFAULTS[FALLBACK_MODEL]
            return int(d.reference_frames or 21), (
                f"default of {d.name} ({d.why}): {MODEL_DEFAULTS[kind].name}'s config "
                "gave no horizon"
            )
        if self.model is None:
            return ref, (
                f"default of {d.name} ({d.why}); no model detected yet: lvsa.apply picks "
                "the patched model's default"
            )
        return ref, f"default of {d.name}, detected by lvsa.apply ({d.why})"

    @property
    def effective_reference_frames(self) -> int:
        """Reference horizon in latent frames the pattern uses (see :meth:`reference`)."""
        return self.reference()[0]

    def pattern(self, num_frames: int, step: int = 0) -> FramePattern:
        """The frame pattern these settings give for ``num_frames`` latent frames at
        denoising step ``step``; ``print(cfg.describe(121))`` shows it."""
        return frame_pattern(
            num_frames,
            step,
            window=self.window,
            sinks=self.sinks,
            anchor_interval=self.anchor_interval,
            reference_frames=self.effective_reference_frames,
            scale=self.scale,
            rotate=self.rotate,
        )

    def describe(self, num_frames: int, step: int = 0, grid: bool | None = None) -> str:
        """The pattern for ``num_frames`` latent frames at ``step`` (as
        :meth:`FramePattern.describe`), headed by the reference horizon and which default
        applied and why."""
        ref, why = self.reference()
        head = f"reference_frames={ref} latent frames: {why}"
        if self.scale != 1.0:
            head += f"; scale {self.scale:g} -> key budget {int(ref * self.scale)} frames"
        return head + "\n" + self.pattern(num_frames, step).describe(grid)
