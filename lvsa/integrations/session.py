"""Per-install state shared by the processors of one pipeline: geometry and step.

A forward pre-hook on each transformer records the latent geometry of the call and the
denoising step index (0, 1, 2, ...; LVSA rotates its anchor grid by it).

* Installed on a pipeline, the step is the pipeline scheduler's ``step_index`` (the
  number of ``scheduler.step`` calls of this run, ``None`` before the first one, i.e.
  step 0). That count cannot be fooled by timesteps that round to the same value:
  HunyuanVideo 1.5 casts timesteps to bf16, and at 50 steps with shift 7 or 9
  neighbouring timesteps become equal.
* Installed on a bare transformer (or before the scheduler's first step), the step is
  derived from the timestep argument: a timestep higher than the previous one starts a
  new run at step 0, a lower one is the next step. An equal one is the same step
  (classifier-free guidance's second call, a second expert) until the number of calls
  the first step took has been reached; after that it is the next step, so bf16 ties
  between neighbouring steps do not merge two steps (as long as the first two
  timesteps differ, which they do in bf16 for the usual schedules).

Wan 2.2's two experts share one session, so the count continues across the expert
switch.
"""

from __future__ import annotations

import weakref
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
    step_source: str = "timestep"
    calls_at_step: int = 0
    calls_per_step: int | None = None
    pipeline: Any = field(default=None, repr=False)
    last_density: float | None = None
    prepared: set = field(default_factory=set)
    handles: list = field(default_factory=list)
    restore: list = field(default_factory=list)
    transformers: list = field(default_factory=list)

    def bind_pipeline(self, pipeline: Any) -> None:
        """Count steps with ``pipeline.scheduler`` (read at call time, so a scheduler
        swapped after ``apply`` is followed). Held by weak reference where possible."""
        try:
            self.pipeline = weakref.ref(pipeline)
        except TypeError:
            self.pipeline = lambda p=pipeline: p

    def _scheduler_step(self) -> int | None:
        """The pipeline scheduler's step index of this run, or ``None`` when unknown."""
        pipe = self.pipeline() if self.pipeline is not None else None
        sched = getattr(pipe, "scheduler", None)
        idx = getattr(sched, "step_index", None)
        if not isinstance(idx, int):
            return None
        begin = getattr(sched, "begin_index", None)
        return max(0, idx - (begin if isinstance(begin, int) else 0))

    def observe(
        self,
        hidden_states: torch.Tensor,
        timestep: Any,
        patch: tuple[int, int, int],
        frame_dim: int = 2,
    ) -> None:
        """Record geometry and advance the step from a transformer call's inputs.

        ``hidden_states`` is ``(B, C, F, H, W)`` (``frame_dim=2``: Wan, HunyuanVideo) or
        ``(B, F, C, H, W)`` (``frame_dim=1``: CogVideoX); latent frames become
        ``F // patch_t`` token frames of ``(H // patch_h) * (W // patch_w)`` tokens."""
        if hidden_states is not None and hidden_states.ndim == 5:
            f = hidden_states.shape[frame_dim]
            h, w = hidden_states.shape[-2:]
            pt, ph, pw = patch
            self.call = CallGeometry(f // pt, (h // ph) * (w // pw))
        if timestep is None:
            return
        t = float(torch.as_tensor(timestep).detach().float().max().item())
        self._count_from_timestep(t)
        idx = self._scheduler_step()
        if idx is not None:
            self.step, self.step_source = idx, "scheduler"
        else:
            self.step_source = "timestep"
        if len(self.steps_seen) < 4096:
            self.steps_seen.append(self.step)

    def _count_from_timestep(self, t: float) -> None:
        last = self.last_timestep
        if last is None or t > last:  # a new run
            self.step, self.calls_at_step, self.calls_per_step = 0, 1, None
        elif t < last:  # the next step; the first step's call count is learnt here
            if self.calls_per_step is None:
                self.calls_per_step = self.calls_at_step
            self.step, self.calls_at_step = self.step + 1, 1
        elif self.calls_per_step is not None and self.calls_at_step >= self.calls_per_step:
            self.step, self.calls_at_step = self.step + 1, 1  # equal timestep, next step
        else:
            self.calls_at_step += 1
        self.last_timestep = t

    def reset(self) -> None:
        """Forget the step count (the next call is step 0)."""
        self.step, self.last_timestep = 0, None
        self.calls_at_step, self.calls_per_step = 0, None
