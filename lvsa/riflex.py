"""RIFLEx (arXiv 2502.15894): lower the intrinsic temporal RoPE frequency.

The temporal RoPE component ``j`` (0-based) of a ``dim``-channel axis with base
``theta`` has angular frequency ``w_j = theta ** (-2 j / dim)`` and period
``N_j = 2 pi / w_j`` latent frames. The intrinsic component ``k`` (1-based) is the
one whose period is closest to the first-repetition length; RIFLEx sets
``w_k = 0.9 * 2 pi / L_test`` (``L_test`` = inference latent frames) so that one
period covers the whole video. Only the time axis changes; attention stays dense.

Defaults: Wan (44 time channels, theta 1e4) k = 6 (period ~51 latent frames);
HunyuanVideo 1.5 (16 time channels, theta 256) k = 4 (period ~50).
Combinable with LVSA (this patches RoPE, LVSA patches the attention processors).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from .integrations.install import transformers_of

__all__ = [
    "RiflexSpec",
    "apply",
    "intrinsic_component",
    "periods",
    "remove",
    "temporal_frequencies",
]

_ATTR = "_lvsa_riflex"


def periods(dim: int, theta: float) -> list[float]:
    """Periods in latent frames of the ``dim // 2`` RoPE components of one axis."""
    return [2 * math.pi * theta ** (2 * j / dim) for j in range(dim // 2)]


def intrinsic_component(dim: int, theta: float, first_repetition: float) -> int:
    """1-based index of the component whose period is closest to ``first_repetition``
    (latent frames)."""
    ps = periods(dim, theta)
    return 1 + min(range(len(ps)), key=lambda j: abs(ps[j] - first_repetition))


def temporal_frequencies(dim: int, theta: float, num_latent_frames: int, k: int) -> torch.Tensor:
    """Angular frequencies (radians per latent frame, float64, ``dim // 2``) with RIFLEx:
    component ``k`` (1-based) set to ``0.9 * 2 pi / num_latent_frames``."""
    j = torch.arange(dim // 2, dtype=torch.float64)
    w = theta ** (-2 * j / dim)
    w[k - 1] = 0.9 * 2 * math.pi / num_latent_frames
    return w


@dataclass(frozen=True)
class RiflexSpec:
    """What one install changed: time-axis channels, base, component, frames."""

    time_dim: int
    theta: float
    k: int
    num_latent_frames: int

    @property
    def frequency(self) -> float:
        """New angular frequency of component ``k`` (radians per latent frame)."""
        return 0.9 * 2 * math.pi / self.num_latent_frames


def _spec_for(
    model: torch.nn.Module, num_latent_frames: int, k: int | None
) -> tuple[RiflexSpec, tuple[int, int, int]]:
    names = [c.__name__ for c in type(model).__mro__]
    cfg = model.config
    if "WanTransformer3DModel" in names:
        dim, theta, default_k = int(model.rope.t_dim), 10000.0, 6
        patch = tuple(int(p) for p in cfg.patch_size)
    elif "HunyuanVideo15Transformer3DModel" in names:
        dim, theta, default_k = int(cfg.rope_axes_dim[0]), float(cfg.rope_theta), 4
        patch = (int(cfg.patch_size_t), int(cfg.patch_size), int(cfg.patch_size))
    else:
        raise TypeError(f"RIFLEx does not support {type(model).__name__}")
    k = min(default_k, dim // 2) if k is None else k
    if not 1 <= k <= dim // 2:
        raise ValueError(f"k must be in [1, {dim // 2}], got {k}")
    return RiflexSpec(dim, theta, k, num_latent_frames), patch  # type: ignore[return-value]


def apply(
    pipe_or_transformer: Any,
    num_latent_frames: int,
    k: int | None = None,
    first_repetition: float | None = None,
) -> list[RiflexSpec]:
    """Patch the temporal RoPE of every transformer of ``pipe_or_transformer``.

    Args:
        pipe_or_transformer: diffusers pipeline or Wan / HunyuanVideo 1.5 transformer.
        num_latent_frames: inference length ``L_test`` in latent frames (>= 1).
        k: 1-based intrinsic component; default per model (Wan 6, HunyuanVideo 1.5 4).
        first_repetition: if given (latent frames), ``k`` is the component whose period
            is closest to it (overrides ``k``).

    Returns:
        One :class:`RiflexSpec` per patched transformer.
    """
    if num_latent_frames < 1:
        raise ValueError("num_latent_frames must be >= 1")
    remove(pipe_or_transformer)
    specs = []
    for model in transformers_of(pipe_or_transformer):
        spec, patch = _spec_for(model, num_latent_frames, k)
        if first_repetition is not None:
            spec = RiflexSpec(
                spec.time_dim,
                spec.theta,
                intrinsic_component(spec.time_dim, spec.theta, first_repetition),
                num_latent_frames,
            )

        def hook(module, args, output, _spec=spec, _patch=patch):
            return _patch_rope_output(args[0], output, _spec, _patch)

        handle = model.rope.register_forward_hook(hook)
        setattr(model, _ATTR, (handle, spec))
        specs.append(spec)
    return specs


def remove(pipe_or_transformer: Any) -> bool:
    """Undo :func:`apply`; True if something was removed."""
    removed = False
    for model in transformers_of(pipe_or_transformer):
        got = getattr(model, _ATTR, None)
        if got is not None:
            got[0].remove()
            delattr(model, _ATTR)
            removed = True
    return removed


def _patch_rope_output(hidden_states: torch.Tensor, output, spec: RiflexSpec, patch):
    """Rewrite channels ``2(k-1), 2(k-1)+1`` of the time block of the (cos, sin) tables."""
    cos, sin = output
    _, _, f, h, w = hidden_states.shape
    frames, per_frame = f // patch[0], (h // patch[1]) * (w // patch[2])
    pos = torch.arange(frames, dtype=torch.float64, device=cos.device).repeat_interleave(per_frame)
    ang = pos * spec.frequency
    c, s = torch.cos(ang), torch.sin(ang)
    col = 2 * (spec.k - 1)
    cos, sin = cos.clone(), sin.clone()
    view_c = cos.reshape(-1, cos.shape[-1])
    view_s = sin.reshape(-1, sin.shape[-1])
    for off in (0, 1):
        view_c[:, col + off] = c.to(cos.dtype)
        view_s[:, col + off] = s.to(sin.dtype)
    return view_c.view_as(cos), view_s.view_as(sin)
