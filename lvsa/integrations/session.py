"""Per-install state shared by the processors of one pipeline: geometry and step.

A forward pre-hook on each transformer records the latent geometry of the call and the
denoising step. The step is derived from the timestep argument alone (no pipeline
internals): a new run starts when the timestep is not lower than the previous one,
a lower timestep is the next step, and an equal one (classifier-free guidance's second
call, or a second expert at the same step) keeps the step. Wan 2.2's two experts share
one session, so the count continues across the expert switch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["AttentionSession", "CallGeometry"]


@dataclass
class CallGeometry:
    """Latent geometry of the current transformer call (after patchification)."""

    frames: int
    tokens_per_frame: int


@dataclass
class AttentionSession:
    """Mutable state of one ``apply`` (LVSA or UltraViCo) on a pipeline or transformer.

    Attributes:
        attend: ``attend(q, k, v, geometry, text_valid, session) -> out`` on
            ``(B, S, H, D)`` tensors, where ``geometry`` is a :class:`lvsa.plan.Geometry`.
        name: ``"lvsa"`` or ``"ultravico"``.
        options: method options (e.g. the :class:`lvsa.LVSAConfig`).
    """

    attend: Callable[..., torch.Tensor]
    name: str
    options: Any = None
    call: CallGeometry | None = None
    step: int = 0
    last_timestep: float | None = None
    steps_seen: list[int] = field(default_factory=list)
    last_density: float | None = None
    handles: list = field(default_factory=list)
    restore: list = field(default_factory=list)
    transformers: list = field(default_factory=list)

    def observe(
        self, hidden_states: torch.Tensor, timestep: Any, patch: tuple[int, int, int]
    ) -> None:
        """Record geometry and advance the step from a transformer call's inputs."""
        if hidden_states is not None and hidden_states.ndim == 5:
            _, _, f, h, w = hidden_states.shape
            pt, ph, pw = patch
            self.call = CallGeometry(f // pt, (h // ph) * (w // pw))
        if timestep is None:
            return
        t = float(torch.as_tensor(timestep).detach().float().max().item())
        if self.last_timestep is None or t > self.last_timestep:
            self.step = 0
        elif t < self.last_timestep:
            self.step += 1
        self.last_timestep = t
        if len(self.steps_seen) < 4096:
            self.steps_seen.append(self.step)

    def reset(self) -> None:
        """Forget the step count (the next call is step 0)."""
        self.step, self.last_timestep = 0, None
