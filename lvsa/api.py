"""``lvsa.apply`` / ``lvsa.remove`` / ``lvsa.density``."""

from __future__ import annotations

from typing import Any

import torch

from . import backends
from .backends import flashinfer as fi_backend
from .backends import lvsa_attention
from .config import LVSAConfig
from .integrations import (
    AttentionSession,
    find_session,
    install,
    model_kind,
    model_reference_frames,
    transformers_of,
    uninstall,
)
from .plan import Geometry, get_plan

__all__ = ["apply", "density", "remove", "session_of"]

NAME = "lvsa"


def _lvsa_attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    geometry: Geometry,
    text_valid: tuple[int, ...] | None,
    session: AttentionSession,
) -> torch.Tensor:
    cfg: LVSAConfig = session.options
    _prepare_offsets(q, geometry, text_valid, cfg, session)
    pattern = cfg.pattern(geometry.frames, session.step)
    plan = get_plan(pattern, geometry)
    session.last_density = pattern.density
    return lvsa_attention(
        q,
        k,
        v,
        plan,
        backend=cfg.backend,
        text_valid=text_valid,
        tile=cfg.tile,
        query_layout=cfg.query_layout,
    )


def _prepare_offsets(
    q: torch.Tensor,
    geometry: Geometry,
    text_valid: tuple[int, ...] | None,
    cfg: LVSAConfig,
    session: AttentionSession,
) -> None:
    """On the first call of a geometry, plan the FlashInfer launches of every anchor
    offset the rotation will use (``kfi`` plans: index layout on the CPU, ~20-30 ms each
    at Wan 6x, plus FlashInfer's ``plan``), so later denoising steps never stall the GPU
    on a new plan; the work is the same, it only moves to the first step."""
    key = (geometry, str(q.device), q.dtype, text_valid)
    if key in session.prepared:
        return
    session.prepared.add(key)
    base = cfg.pattern(geometry.frames, 0)
    if base.dense or not cfg.rotate:
        return
    if backends.resolve_backend(cfg.backend, q.device, q.dtype, q.shape[-1]) != "flashinfer":
        return
    for offset in range(base.anchor_interval):
        plan = get_plan(cfg.pattern(geometry.frames, offset), geometry)
        fi_backend.prepare(plan, q, text_valid, tile=cfg.tile, layout=cfg.query_layout)


def apply(pipe_or_transformer: Any, config: LVSAConfig | None = None) -> AttentionSession:
    """Install LVSA self-attention into a Wan / HunyuanVideo 1.5 pipeline or transformer.

    Args:
        pipe_or_transformer: a diffusers pipeline (its ``transformer`` and, for Wan 2.2,
            ``transformer_2`` are patched) or a transformer model.
        config: LVSA settings. Unset fields take the detected model's defaults
            (:data:`lvsa.config.MODEL_DEFAULTS`: ``reference_frames`` Wan 21,
            HunyuanVideo 1.5 33, CogVideoX from its config); explicit values win.
            ``session.options.describe(T)`` says which default applied.

    Returns:
        The installed session (``session.step``, ``session.steps_seen`` and
        ``session.last_density`` are readable). Replaces an earlier LVSA or UltraViCo
        install on the same object.
    """
    config = LVSAConfig() if config is None else config
    models = transformers_of(pipe_or_transformer)
    kinds = {model_kind(m) for m in models}
    if len(kinds) != 1:
        raise TypeError(f"transformers of different kinds in one pipeline: {sorted(kinds)}")
    kind = kinds.pop()
    config = config.for_model(kind, model_reference_frames(models[0], kind))
    uninstall(pipe_or_transformer, "ultravico")
    session = AttentionSession(attend=_lvsa_attend, name=NAME, options=config)
    return install(pipe_or_transformer, session)


def remove(pipe_or_transformer: Any) -> bool:
    """Restore the processors LVSA replaced; True if LVSA was installed."""
    return uninstall(pipe_or_transformer, NAME)


def session_of(pipe_or_transformer: Any) -> AttentionSession | None:
    """The LVSA session installed on the object, if any."""
    return find_session(pipe_or_transformer, NAME)


def density(pipe_or_transformer: Any) -> float | None:
    """Mean per-query frame density (0-1] of the LVSA pattern used last, or ``None``
    when LVSA is not installed or has not run yet."""
    s = session_of(pipe_or_transformer)
    return None if s is None else s.last_density
