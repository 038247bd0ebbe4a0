"""Frame-level LVSA rule: first-frame sinks + local window + rotating keyframe anchors.

Every latent frame is one unit here (a "frame"); the token-level layout lives in
:mod:`lvsa.plan`. For query frame ``f`` the key frames are

* the sinks ``{0, ..., sinks - 1}``,
* the anchors ``{(step mod kfi) + i * kfi}`` (the grid rotates with the denoising step),
* a local window: ``f`` itself plus the ``W`` nearest non-anchor, non-sink frames on
  each side (so the window is widened outward past anchors and always holds ``2W + 1``
  non-anchor frames, clipped at the video ends).

With ``kfi == 1`` every frame is an anchor and the pattern is dense.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

__all__ = [
    "FramePattern",
    "attention_flops",
    "auto_anchor_interval",
    "dense_attention_flops",
    "frame_pattern",
]


def auto_anchor_interval(
    num_frames: int,
    *,
    reference_frames: int = 21,
    scale: float = 1.0,
    window: int = 3,
    sinks: int = 1,
) -> int:
    """Keyframe-anchor interval that keeps the per-query key count at the training budget.

    Args:
        num_frames: latent frames ``T`` of the video (>= 1).
        reference_frames: training horizon in latent frames (Wan 21, HunyuanVideo 1.5 33).
        scale: budget multiplier (> 0).
        window: half window ``W`` in latent frames.
        sinks: number of first-frame sinks.

    Returns:
        ``1`` (dense) when ``T <= budget`` with ``budget = min(reference_frames * scale, T)``;
        otherwise the largest ``kfi`` whose key count ``sinks + 2W + 1 + ceil(T / kfi)``
        still reaches the budget (at least 1, at most ``T``).
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    budget = min(reference_frames * scale, num_frames)
    if num_frames <= budget:
        return 1
    fixed = sinks + 2 * window + 1
    best = 1
    for kfi in range(1, num_frames + 1):
        if fixed + math.ceil(num_frames / kfi) >= budget:
            best = kfi
        else:
            break
    return best


@dataclass(frozen=True)
class FramePattern:
    """The frame-level key sets of one denoising step (hashable, used as a cache key).

    Attributes:
        num_frames: latent frames ``T``.
        window: half window ``W``.
        sinks: first-frame sinks.
        anchor_interval: ``kfi`` (1 = dense).
        offset: anchor rotation offset in ``[0, kfi)`` (the step modulo ``kfi``).
    """

    num_frames: int
    window: int
    sinks: int
    anchor_interval: int
    offset: int

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError("num_frames must be >= 1")
        if self.anchor_interval < 1:
            raise ValueError("anchor_interval must be >= 1")
        if not 0 <= self.offset < self.anchor_interval:
            raise ValueError("offset must be in [0, anchor_interval)")

    @property
    def dense(self) -> bool:
        """True when every query frame attends to every key frame."""
        return self.density >= 1.0

    @cached_property
    def anchors(self) -> tuple[int, ...]:
        """Anchor frames of this step, ascending."""
        return tuple(range(self.offset, self.num_frames, self.anchor_interval))

    @cached_property
    def global_frames(self) -> frozenset[int]:
        """Frames every query attends to (sinks and anchors)."""
        sinks = range(min(self.sinks, self.num_frames))
        return frozenset(sinks) | frozenset(self.anchors)

    def window_frames(self, frame: int) -> tuple[int, ...]:
        """Local window of ``frame``: itself plus up to ``W`` non-global frames per side."""
        glob = self.global_frames
        picked = [frame]
        for step in (-1, 1):
            need, j = self.window, frame + step
            while need > 0 and 0 <= j < self.num_frames:
                if j not in glob:
                    picked.append(j)
                    need -= 1
                j += step
        return tuple(sorted(picked))

    @cached_property
    def key_frames(self) -> tuple[tuple[int, ...], ...]:
        """Sorted key frames of each query frame (index = query frame)."""
        glob = self.global_frames
        return tuple(
            tuple(sorted(glob.union(self.window_frames(f)))) for f in range(self.num_frames)
        )

    def mask(self, device: torch.device | str | None = None) -> torch.Tensor:
        """Boolean ``(T, T)`` frame mask, ``mask[q, k]`` True where query frame q sees key frame k."""
        m = torch.zeros(self.num_frames, self.num_frames, dtype=torch.bool)
        for q, keys in enumerate(self.key_frames):
            m[q, list(keys)] = True
        return m.to(device) if device is not None else m

    @cached_property
    def density(self) -> float:
        """Mean per-query density: attended key frames / T, averaged over query frames (0-1]."""
        total = sum(len(k) for k in self.key_frames)
        return total / float(self.num_frames * self.num_frames)

    @cached_property
    def groups(self) -> tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]:
        """``(query_frames, key_frames)`` pairs: query frames that share one key set."""
        by_keys: dict[tuple[int, ...], list[int]] = {}
        for q, keys in enumerate(self.key_frames):
            by_keys.setdefault(keys, []).append(q)
        return tuple((tuple(qs), keys) for keys, qs in by_keys.items())


def frame_pattern(
    num_frames: int,
    step: int = 0,
    *,
    window: int = 3,
    sinks: int = 1,
    anchor_interval: int | None = None,
    reference_frames: int = 21,
    scale: float = 1.0,
) -> FramePattern:
    """Build the LVSA pattern for ``num_frames`` latent frames at denoising step ``step``.

    Args:
        num_frames: latent frames ``T`` (>= 1).
        step: denoising step index (>= 0); anchors are ``{(step mod kfi) + i * kfi}``.
        window: half window ``W`` in latent frames.
        sinks: first-frame sinks.
        anchor_interval: ``kfi``; ``None`` derives it with :func:`auto_anchor_interval`.
        reference_frames: training horizon in latent frames (for the automatic ``kfi``).
        scale: key-budget multiplier (for the automatic ``kfi``).
    """
    kfi = anchor_interval
    if kfi is None:
        kfi = auto_anchor_interval(
            num_frames,
            reference_frames=reference_frames,
            scale=scale,
            window=window,
            sinks=sinks,
        )
    kfi = max(1, min(kfi, num_frames))
    return FramePattern(num_frames, window, sinks, kfi, step % kfi)


def attention_flops(
    pattern: FramePattern,
    tokens_per_frame: int,
    heads: int,
    head_dim: int,
    *,
    text_tokens: int = 0,
    batch: int = 1,
) -> float:
    """FLOPs of the attention the pattern keeps (QK^T and PV, 2 FLOPs per multiply-add).

    Video query rows see their key frames plus all text tokens; text query rows are dense.
    """
    c = tokens_per_frame
    keys = sum(len(k) for k in pattern.key_frames) * c * c
    video = pattern.num_frames * c
    pairs = keys + video * text_tokens + text_tokens * (video + text_tokens)
    return 4.0 * batch * heads * head_dim * pairs


def dense_attention_flops(
    seq_len: int, heads: int, head_dim: int, *, batch: int = 1, kv_len: int | None = None
) -> float:
    """FLOPs of dense attention over ``seq_len`` queries and ``kv_len`` keys (default same)."""
    kv = seq_len if kv_len is None else kv_len
    return 4.0 * batch * heads * head_dim * seq_len * kv
