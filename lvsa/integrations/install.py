"""Install / remove attention sessions on diffusers pipelines and transformers.

Supported: ``WanTransformer3DModel`` (Wan 2.1; Wan 2.2 pipelines with ``transformer``
and ``transformer_2`` share one session) and ``HunyuanVideo15Transformer3DModel``.
Only self-attention layers are replaced; cross-attention keeps its processor.
"""

from __future__ import annotations

from typing import Any

import torch

from .op import register
from .processors import HunyuanVideo15SelfAttnProcessor, WanSelfAttnProcessor
from .session import AttentionSession

__all__ = [
    "find_session",
    "install",
    "model_kind",
    "model_reference_frames",
    "transformers_of",
    "uninstall",
]

_ATTR = "_lvsa_sessions"


def transformers_of(obj: Any) -> list[torch.nn.Module]:
    """The transformer models of a pipeline (``transformer``, ``transformer_2``) or ``[obj]``."""
    if isinstance(obj, torch.nn.Module):
        return [obj]
    found = [getattr(obj, n, None) for n in ("transformer", "transformer_2")]
    found = [m for m in found if isinstance(m, torch.nn.Module)]
    if not found:
        raise TypeError(f"{type(obj).__name__} has no transformer to patch")
    return found


def model_kind(model: torch.nn.Module) -> str:
    """The model kind (``"wan"``, ``"hunyuan15"``), a key of ``lvsa.config.MODEL_DEFAULTS``;
    TypeError for an unsupported model."""
    names = [c.__name__ for c in type(model).__mro__]
    if "WanTransformer3DModel" in names:
        return "wan"
    if "HunyuanVideo15Transformer3DModel" in names:
        return "hunyuan15"
    raise TypeError(
        f"{type(model).__name__} is not supported (WanTransformer3DModel, "
        "HunyuanVideo15Transformer3DModel)"
    )


def model_reference_frames(model: torch.nn.Module, kind: str) -> int | None:
    """The reference horizon in latent frames read from the model's config, for kinds
    whose default comes from there; ``None`` for the others."""
    return None


def _patch_size(model: torch.nn.Module, kind: str) -> tuple[int, int, int]:
    cfg = model.config
    if kind == "wan":
        pt, ph, pw = cfg.patch_size
        return int(pt), int(ph), int(pw)
    return int(cfg.patch_size_t), int(cfg.patch_size), int(cfg.patch_size)


def _self_attention_layers(model: torch.nn.Module, kind: str) -> list[torch.nn.Module]:
    if kind == "wan":
        return [b.attn1 for b in model.blocks]
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

        def hook(module, args, kwargs, _patch=patch):
            hs = kwargs.get("hidden_states", args[0] if args else None)
            ts = kwargs.get("timestep", args[1] if len(args) > 1 else None)
            session.observe(hs, ts, _patch)

        session.handles.append(model.register_forward_pre_hook(hook, with_kwargs=True))
        proc_cls = WanSelfAttnProcessor if kind == "wan" else HunyuanVideo15SelfAttnProcessor
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
