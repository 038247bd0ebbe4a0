"""Sampling glue: a small diffusers-style pipeline around :class:`TinyDiT`.

:class:`TinyDiTPipeline` follows the calling convention ``generators`` uses for
diffusers pipelines (``from_pretrained``, ``to``, ``set_progress_bar_config``,
``__call__(prompt=..., num_frames=..., num_inference_steps=..., generator=...,
output_type="np", callback_on_step_end=...)`` returning an object with
``.frames`` of shape (B, F, H, W, 3) in [0, 1]) and exposes the denoiser as
``pipe.transformer`` so ``lvsa.apply(pipe, ...)``, RIFLEx and UltraViCo install
into it like into a Wan pipeline.

Sampling is a plain Euler integration of the rectified-flow ODE from sigma=1
(noise) to sigma=0 (clean) on a shifted uniform sigma grid; the model predicts
the velocity (noise - clean).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lvsa.generators.tinydit.data import CONDITIONS, DIRECTIONS
from lvsa.generators.tinydit.model import TinyDiT, load

#: Words that pick a background photo in a free-text prompt.
PHOTO_WORDS: dict[str, tuple[str, ...]] = {
    "coffee": ("coffee", "cup", "mug"),
    "chelsea": ("chelsea", "cat", "kitten"),
    "rocket": ("rocket", "launch"),
    "astronaut": ("astronaut", "space", "person"),
}


def condition_for_prompt(prompt: str | int) -> int:
    """Map a prompt to a condition class id (0-7).

    An int, a digit string or an exact condition name (``"coffee-pan-right"``)
    selects that class. Otherwise words of the prompt choose the photo
    (:data:`PHOTO_WORDS`) and the direction (right / left / up / down); what the
    prompt leaves open is filled deterministically from a SHA-256 of the text,
    so any prompt yields a valid, reproducible class.
    """
    if isinstance(prompt, (int, np.integer)):
        idx = int(prompt)
        if not 0 <= idx < len(CONDITIONS):
            raise ValueError(f"condition id {idx} out of range 0..{len(CONDITIONS) - 1}")
        return idx
    text = str(prompt).strip().lower()
    if text.isdigit():
        return condition_for_prompt(int(text))
    names = [c.name for c in CONDITIONS]
    if text in names:
        return names.index(text)
    words = set(re.findall(r"[a-z]+", text))
    photo = next((p for p, ws in PHOTO_WORDS.items() if words & set(ws)), None)
    direction = next((d for d in DIRECTIONS if d in words), None)
    candidates = [
        i
        for i, c in enumerate(CONDITIONS)
        if (photo is None or c.photo == photo) and (direction is None or c.direction == direction)
    ]
    if not candidates:  # e.g. "cat moving right": photo wins, direction from the hash
        candidates = [i for i, c in enumerate(CONDITIONS) if photo is None or c.photo == photo]
    h = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
    return candidates[h % len(candidates)]


def sigma_schedule(steps: int, shift: float) -> torch.Tensor:
    """Shifted sigma grid (steps + 1,) from 1 to 0: s' = shift*s / (1 + (shift - 1)*s)."""
    s = torch.linspace(1.0, 0.0, steps + 1, dtype=torch.float64)
    return (shift * s / (1.0 + (shift - 1.0) * s)).float()


@torch.no_grad()
def sample(
    model: TinyDiT,
    labels: torch.Tensor,
    frames: int,
    steps: int = 20,
    *,
    guidance_scale: float = 1.0,
    generator: torch.Generator | None = None,
    shift: float | None = None,
    noise: torch.Tensor | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> torch.Tensor:
    """Generate clips (B, 3, frames, S, S) in [-1, 1] with Euler steps.

    Args:
        model: the tiny DiT (its device and dtype are used).
        labels: class ids (B,).
        frames: clip length in frames (16 = the training horizon).
        steps: Euler steps.
        guidance_scale: classifier-free guidance scale; 1.0 runs one forward per step.
        generator: CPU generator for the initial noise (device-independent results).
        shift: sigma-grid shift (default ``model.config.sample_shift``).
        noise: explicit initial noise (B, 3, frames, S, S); overrides ``generator``.
        on_step: called after each step with (step index, sigma reached).
    """
    p = next(model.parameters())
    dev, dtype = p.device, p.dtype
    S = model.config.size
    B = int(labels.shape[0])
    if noise is None:
        noise = torch.randn(B, 3, frames, S, S, generator=generator, dtype=torch.float32)
    x = noise.to(dev, torch.float32)
    labels = labels.to(dev)
    null = torch.full_like(labels, model.config.null_class)
    sig = sigma_schedule(steps, model.config.sample_shift if shift is None else shift)
    for i in range(steps):
        s, s_next = float(sig[i]), float(sig[i + 1])
        sb = torch.full((B,), s, device=dev, dtype=dtype)
        v = model(x.to(dtype), sb, labels).float()
        if guidance_scale != 1.0:
            vu = model(x.to(dtype), sb, null).float()
            v = vu + guidance_scale * (v - vu)
        x = x + (s_next - s) * v
        if on_step is not None:
            on_step(i, s_next)
    return x.clamp(-1, 1)


@dataclass
class TinyDiTOutput:
    """Pipeline output: ``frames`` (B, F, H, W, 3) float in [0, 1] (``np``) or a tensor (``pt``)."""

    frames: Any


class TinyDiTPipeline:
    """Diffusers-style pipeline for the tiny pixel-space video DiT.

    Args:
        model: a loaded :class:`TinyDiT`.
    """

    def __init__(self, model: TinyDiT) -> None:
        self.model = model
        self._progress: dict[str, Any] = {}

    @property
    def transformer(self) -> torch.nn.Module:
        """The ``WanTransformer3DModel`` denoiser (where attention methods install)."""
        return self.model.transformer

    @property
    def config(self) -> Any:
        """The :class:`~generators.tinydit.model.TinyDiTConfig`."""
        return self.model.config

    @property
    def device(self) -> torch.device:
        """Device of the weights."""
        return next(self.model.parameters()).device

    @classmethod
    def from_pretrained(
        cls,
        folder: str | Path | None = None,
        *,
        dtype: torch.dtype | dict[str, torch.dtype] | None = None,
        torch_dtype: torch.dtype | None = None,
        **_: Any,
    ) -> TinyDiTPipeline:
        """Load a model folder (``config.json`` + ``model.safetensors``; default data/tinydit).

        Extra keyword arguments of diffusers' loader (``text_encoder=None``...) are ignored.
        """
        if isinstance(dtype, dict):
            dtype = dtype.get("default")
        dt = dtype or torch_dtype or torch.float32
        return cls(load(folder, dtype=dt))

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None):
        """Move the weights; returns ``self``."""
        self.model.to(device=device, dtype=dtype)
        return self

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        """Accepted for API compatibility (this pipeline prints no progress bar)."""
        self._progress.update(kwargs)

    def __call__(
        self,
        prompt: str | int | Sequence[str | int] | None = None,
        negative_prompt: str | Sequence[str] | None = None,
        height: int | None = None,
        width: int | None = None,
        num_frames: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float = 1.0,
        generator: torch.Generator | None = None,
        output_type: str = "np",
        callback_on_step_end: Callable[..., Any] | None = None,
        **_: Any,
    ) -> TinyDiTOutput:
        """Generate clips.

        Args:
            prompt: condition name, class id or free text (see :func:`condition_for_prompt`),
                or a list of them (one clip each). Default: class 0.
            negative_prompt: ignored (guidance uses the learned null embedding).
            height: must equal the model's frame size (24 px) when given.
            width: must equal the model's frame size (24 px) when given.
            num_frames: frames to generate (default: the 16-frame training horizon).
            num_inference_steps: Euler steps (default ``config.default_steps``).
            guidance_scale: classifier-free guidance; 1.0 disables it (one forward per step).
            generator: CPU torch generator for the initial noise.
            output_type: ``"np"`` (float [0, 1], (B, F, H, W, 3)) or ``"pt"`` ([-1, 1], (B, 3, F, H, W)).
            callback_on_step_end: diffusers-style ``cb(pipe, step, timestep, kwargs) -> kwargs``.
        """
        cfg = self.model.config
        for name, value in (("height", height), ("width", width)):
            if value is not None and int(value) != cfg.size:
                raise ValueError(f"{name} must be {cfg.size} px for the tiny DiT, got {value}")
        prompts = [0] if prompt is None else prompt
        if isinstance(prompts, (str, int)):
            prompts = [prompts]
        labels = torch.tensor([condition_for_prompt(p) for p in prompts], dtype=torch.long)
        frames = int(num_frames or cfg.reference_frames)
        steps = int(num_inference_steps or cfg.default_steps)
        sig = sigma_schedule(steps, cfg.sample_shift)

        def on_step(i: int, _s: float) -> None:
            if callback_on_step_end is not None:
                callback_on_step_end(self, i, float(sig[i]) * 1000.0, {})

        x = sample(
            self.model,
            labels,
            frames,
            steps,
            guidance_scale=guidance_scale,
            generator=generator,
            on_step=on_step,
        )
        if output_type == "pt":
            return TinyDiTOutput(frames=x)
        arr = ((x.float() + 1.0) / 2.0).permute(0, 2, 3, 4, 1).cpu().numpy()
        return TinyDiTOutput(frames=arr)
