"""UltraViCo (arXiv 2511.20123): dense attention with decayed far-range positive logits.

For video tokens ``i`` (query) and ``j`` (key) with ``|i - j| > tokens_per_frame *
reference_frames / 2`` (half the training window, in tokens), a positive logit
``s = q.k * scale`` becomes ``alpha * s`` (``alpha = 0.9``); negative logits are kept.
Queries of the first latent frame do not see keys of frames ``>= reference_frames``
(beyond the training horizon). Text tokens (joint attention) are neither scaled nor
masked. The score matrix is built in query chunks (float32), so this is slower than
dense SDPA: it is a quality baseline, not a speed-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from .integrations import AttentionSession, find_session, install, uninstall
from .plan import Geometry

__all__ = ["UltraViCoConfig", "apply", "remove", "ultravico_attention"]

NAME = "ultravico"


@dataclass(frozen=True)
class UltraViCoConfig:
    """UltraViCo settings: training horizon (latent frames) and decay ``alpha`` in (0, 1]."""

    reference_frames: int = 21
    alpha: float = 0.9
    chunk_elements: int = 1 << 26


def ultravico_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    geometry: Geometry,
    text_valid: tuple[int, ...] | None = None,
    *,
    reference_frames: int = 21,
    alpha: float = 0.9,
    scale: float | None = None,
    chunk_elements: int = 1 << 26,
) -> torch.Tensor:
    """UltraViCo attention of ``(B, S, H, D)`` tensors laid out as ``geometry``.

    Args:
        q, k, v: ``(B, S, H, D)``.
        geometry: token geometry (video frame-major; text before or after).
        text_valid: per-sample valid text tokens (prefix); ``None`` = all valid.
        reference_frames: training horizon in latent frames.
        alpha: factor for far positive logits (1.0 disables the decay).
        scale: softmax scale, default ``1 / sqrt(D)``.
        chunk_elements: score elements per chunk (bounds memory to ~4 bytes each).

    Returns:
        ``(B, S, H, D)`` output in the dtype of ``q``.
    """
    b, s, h, d = q.shape
    g = geometry
    scale = d**-0.5 if scale is None else scale
    dev = q.device
    idx = torch.arange(s, device=dev)
    is_video = (idx >= g.video_start) & (idx < g.video_start + g.video_tokens)
    vpos = idx - g.video_start
    frame = torch.where(is_video, vpos // g.tokens_per_frame, -1)
    half = g.tokens_per_frame * reference_frames / 2.0
    key_ok = torch.ones(b, s, dtype=torch.bool, device=dev)
    if text_valid:
        for i, t in enumerate(text_valid):
            key_ok[i, g.text_start + t : g.text_start + g.text_tokens] = False
    qt, kt, vt = (x.transpose(1, 2).float() for x in (q, k, v))
    out = torch.empty(b, h, s, d, dtype=torch.float32, device=dev)
    rows = max(1, chunk_elements // max(1, b * h * s))
    for lo in range(0, s, rows):
        hi = min(s, lo + rows)
        sc = torch.matmul(qt[:, :, lo:hi], kt.transpose(-1, -2)) * scale
        qv, kv = is_video[lo:hi, None], is_video[None, :]
        far = qv & kv & ((vpos[lo:hi, None] - vpos[None, :]).abs() > half)
        sc = torch.where(far & (sc > 0), sc * alpha, sc)
        blocked = (frame[lo:hi, None] == 0) & (frame[None, :] >= reference_frames)
        allowed = key_ok[:, None, None, :] & ~blocked[None, None]
        sc = sc.masked_fill(~allowed, float("-inf"))
        out[:, :, lo:hi] = torch.matmul(torch.softmax(sc, dim=-1), vt)
    return out.transpose(1, 2).to(q.dtype)


def _attend(q, k, v, geometry, text_valid, session: AttentionSession):
    cfg: UltraViCoConfig = session.options
    session.last_density = 1.0
    return ultravico_attention(
        q,
        k,
        v,
        geometry,
        text_valid,
        reference_frames=cfg.reference_frames,
        alpha=cfg.alpha,
        chunk_elements=cfg.chunk_elements,
    )


def apply(
    pipe_or_transformer: Any, reference_frames: int | None = None, alpha: float = 0.9
) -> AttentionSession:
    """Install UltraViCo self-attention (replaces an LVSA install on the same object).

    Args:
        pipe_or_transformer: Wan / HunyuanVideo 1.5 pipeline or transformer.
        reference_frames: training horizon in latent frames; ``None`` takes the detected
            model's default (``lvsa.config.MODEL_DEFAULTS``: Wan 21, HunyuanVideo 1.5 33).
        alpha: decay of far positive logits, in (0, 1].
    """
    if not 0 < alpha <= 1:
        raise ValueError("alpha must be in (0, 1]")
    if reference_frames is None:
        from .config import LVSAConfig
        from .integrations import model_kind, model_reference_frames, transformers_of

        model = transformers_of(pipe_or_transformer)[0]
        kind = model_kind(model)
        cfg0 = LVSAConfig().for_model(kind, model_reference_frames(model, kind))
        reference_frames = cfg0.effective_reference_frames
    uninstall(pipe_or_transformer, "lvsa")
    cfg = UltraViCoConfig(reference_frames=reference_frames, alpha=alpha)
    session = AttentionSession(attend=_attend, name=NAME, options=cfg)
    return install(pipe_or_transformer, session)


def remove(pipe_or_transformer: Any) -> bool:
    """Restore the processors UltraViCo replaced; True if it was installed."""
    return uninstall(pipe_or_transformer, NAME)


def session_of(pipe_or_transformer: Any) -> AttentionSession | None:
    """The UltraViCo session installed on the object, if any."""
    return find_session(pipe_or_transformer, NAME)
