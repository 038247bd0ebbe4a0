"""Install / remove attention sessions on diffusers pipelines and transformers.

Supported: ``WanTransformer3DModel`` (Wan 2.1; Wan 2.2 pipelines with ``transformer``
and ``transformer_2`` share one session), ``HunyuanVideo15Transformer3DModel`` and
``CogVideoXTransformer3DModel`` (CogVideoX 1.0 / 1.5; joint text + video attention).
Only self-attention layers are replaced; cross-attention keeps its processor.
"""

from __future__ import annotations

from typing import Any

import torch

from .op import register
from .processors import (
    CogVideoXSelfAttnProcessor,
    HunyuanVideo15SelfAttnProcessor,
    WanSelfAttnProcessor,
)
from .session import AttentionSession
from .targets import transformers_of

__all__ = [
    "find_session",
    "install",
    "model_kind",
    "model_reference_frames",
    "transformers_of",
    "uninstall",
]

_ATTR = "_lvsa_sessions"


def model_kind(model: torch.nn.Module) -> str:
    """The model kind (``"wan"``, ``"hunyuan15"``), a key of ``lvsa.config.MODEL_DEFAULTS``;
    TypeError for an unsupported model."""
    names = [c.__name__ for c in type(model).__mro__]
    if "WanTransformer3DModel" in names:
        return "wan"
    if "HunyuanVideo15Transformer3DModel" in names:
        return "hunyuan15"
    if "CogVideoXTransformer3DModel" in names:
        return "cogvideox"
    raise TypeError(
        f"{type(model).__name__} is not supported (WanTransformer3DModel, "
        "HunyuanVideo15Transformer3DModel, CogVideoXTransformer3DModel)"
    )


def model_reference_frames(model: torch.nn.Module, kind: str) -> int | None:
    """The reference horizon in latent frames read from the model's config, for kinds
    whose default comes from there; ``None`` for the others.

    CogVideoX: ``sample_frames`` video frames (49 for 1.0) -> ``(f - 1) //
    temporal_compression_ratio + 1`` latent frames (13), in token frames
    (``ceil(latent / patch_size_t)`` for CogVideoX 1.5)."""
    if kind != "cogvideox":
        return None
    cfg = model.config
    frames = getattr(cfg, "sample_frames", None)
    if not frames:
        return None
    latent = (int(frames) - 1) // int(getattr(cfg, "temporal_compression_ratio", 4) or 4) + 1
    pt = int(getattr(cfg, "patch_size_t", None) or 1)
    return -(-latent // pt)


def _patch_size(model: torch.nn.Module, kind: str) -> tuple[int, int, int]:
    cfg = model.config
    if kind == "wan":
        pt, ph, pw = cfg.patch_size
        return int(pt), int(ph), int(pw)
    return int(cfg.patch_size_t or 1), int(cfg.patch_size), int(cfg.patch_size)


def _self_attention_layers(model: torch.nn.Module, kind: str) -> list[torch.nn.Module]:
    if kind == "wan":
        return [b.attn1 for b in model.blocks]
    if kind == "cogvideox":
        return [b.attn1 for b in model.transformer_blocks]
    return [b.attn for b in model.transformer_blocks]


def install(obj: Any, session: AttentionSession) -> AttentionSession:
    """Attach ``session`` to every transformer of ``obj`` (replacing an earlier one of
    the same name) and return it."""
    uninstall(obj, session.name)
    register(session)
    if not isinstance(obj, torch.nn.Module) and getattr(obj, "scheduler", None) is not None:
        session.bind_pipeline(obj)  # count denoising steps with the scheduler
    for model in transformers_of(obj):
        kind = model_kind(model)
        patch = _patch_size(model, kind)

        # CogVideoX takes (B, F, C, H, W) and its timestep as the third argument
        frame_dim = 1 if kind == "cogvideox" else 2
        ts_pos = 2 if kind == "cogvideox" else 1

        def hook(module, args, kwargs, _patch=patch, _fd=frame_dim, _tp=ts_pos):
            hs = kwargs.get("hidden_states", args[0] if args else None)
            ts = kwargs.get("timestep", args[_tp] if len(args) > _tp else None)
            session.observe(hs, ts, _patch, frame_dim=_fd)

        session.handles.append(model.register_forward_pre_hook(hook, with_kwargs=True))
        proc_cls = {
            "wan": WanSelfAttnProcessor,
            "hunyuan15": HunyuanVideo15SelfAttnProcessor,
            "cogvideox": CogVideoXSelfAttnProcessor,
        }[kind]
        for layer in _self_attention_layers(model, kind):
            old = layer.processor
            base = getattr(old, "fallback", old)
            layer.set_processor(proc_cls(session, base))
            session.restore.append((layer, old))
        sessions = getattr(model, _ATTR, {})
        sessions[session.name] = session
        setattr(model, _ATTR, sessions)
        session.transformers.append(model)
    return session


def uninstall(obj: Any, name: str) -> bool:
    """Remove the session ``name`` from ``obj``; True if one was installed."""
    removed = False
    for model in transformers_of(obj):
        sessions = getattr(model, _ATTR, {})
        session = sessions.pop(name, None)
        if session is None:
            continue
        removed = True
        for h in session.handles:
            h.remove()
        session.handles.clear()
        for layer, old in reversed(session.restore):
            layer.set_processor(old)
        session.restore.clear()
        for other in session.transformers:
            getattr(other, _ATTR, {}).pop(name, None)
    return removed


def find_session(obj: Any, name: str) -> AttentionSession | None:
    """The session ``name`` installed on ``obj`` (pipeline or transformer), if any."""
    try:
        models = transformers_of(obj)
    except TypeError:
        return None
    for model in models:
        s = getattr(model, _ATTR, {}).get(name)
        if s is not None:
            return s
    return None
