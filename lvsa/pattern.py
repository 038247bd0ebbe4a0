"""Frame-level LVSA rule, exactly as the authors' reference code builds it.

Every latent frame is one unit here (a "frame"); the token-level layout lives in
:mod:`lvsa.plan`. ``T`` latent frames, half window ``W``, ``n`` sinks, anchor interval
``kfi`` and rotation offset ``o`` (the denoising step modulo ``kfi``). All indices are
0-based. The key frames of query frame ``f`` are ``G(o) U [lo, hi]`` with

* the global frames ``G(o) = {0..n-1} U {(o + i*kfi) mod T : i = 0..ceil(T/kfi)-1}``:
  sinks plus an anchor grid that **wraps modulo T**, so every offset has the same number
  of periodic anchors, and over ``kfi`` consecutive steps every frame is an anchor;
* a local window ``[lo, hi]`` that starts *shifted* (not clipped) at the video ends,
  ``lo = max(0, min(f-W, T-1-2W))``, ``hi = min(T-1, max(f+W, 2W))``, so it always spans
  ``min(2W+1, T)`` frames; while it holds fewer than ``min(2W+1, T-|G|)`` frames outside
  ``G`` it grows left by one (if it can), re-checks, then right by one (if it can), until
  neither side can grow. The query frame counts like any other frame. ``W = 0`` means
  no window at all (anchors and sinks only).

``kfi`` is given or derived by :func:`auto_anchor_interval` (``kfi == 1`` is dense).
Wan 2.1 (reference 21, W=3, one sink) at offset 0: T=41 -> kfi 3, 51.2 %; T=81 -> 6,
25.9 %; T=121 -> 9, 17.4 % (the paper's ~51/26/17 %). Source of the rules:
``gglorian/LVSA`` ``lvsa/sparse_attention.py``; ``tests/test_lvsa_reference.py`` checks
this module against key frames produced by that code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import torch

__all__ = [
    "FramePattern",
    "attention_flops",
    "auto_anchor_interval",
    "dense_attention_flops",
    "frame_pattern",
]


def _global_count(num_frames: int, sinks: int, kfi: int) -> int:
    """``|{0..n-1} U {0, kfi, 2 kfi, ... < T}|`` (frame 0 counted once)."""
    grid = range(0, num_frames, kfi)
    n = min(sinks, num_frames)
    return n + sum(1 for a in grid if a >= n)


@lru_cache(maxsize=1024)
def auto_anchor_interval(
    num_frames: int,
    *,
    reference_frames: int = 21,
    scale: float = 1.0,
    window: int = 3,
    sinks: int = 1,
) -> int:
    """Keyframe-anchor interval of the reference code (``compute_auto_kfi``).

    Args:
        num_frames: latent frames ``T`` of the video (>= 1).
        reference_frames: training horizon ``R`` in latent frames (Wan 21,
            HunyuanVideo 1.5 33).
        scale: sparsity scale ``s`` (> 0): the key budget is ``floor(R * s)`` frames.
        window: half window ``W`` in latent frames.
        sinks: number of first-frame sinks ``n``.

    Returns:
        ``R' = max(n + 1, floor(R * s))``. ``1`` (dense) when ``T <= R'``. Otherwise
        ``max(strict, fallback)``, where ``strict`` is the largest ``k`` whose global
        frames ``{0..n-1} U {0, k, 2k, ... < T}`` number at least
        ``target = max(n, min(R', T) - min(2W + 1, T))`` and
        ``fallback = ceil(max(T - m, R' - m) / max(R' - m, 1))`` with ``m = 2W + n``.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    t, n = num_frames, max(0, sinks)
    budget = max(n + 1, math.floor(reference_frames * scale))
    if t <= budget:
        return 1
    target = max(n, min(budget, t) - min(2 * window + 1, t))
    strict = 1
    for k in range(t, 0, -1):
        if _global_count(t, n, k) >= target:
            strict = k
            break
    m = 2 * window + n
    fallback = math.ceil(max(t - m, budget - m) / max(budget - m, 1))
    return max(1, min(t, max(strict, fallback)))


@dataclass(frozen=True)
class FramePattern:
    """The frame-level key sets of one denoising step (hashable, used as a cache key).

    Attributes:
        num_frames: latent frames ``T``.
        window: half window ``W`` (0 = no window, anchors and sinks only).
        sinks: first-frame sinks ``n``.
        anchor_interval: ``kfi`` (1 = dense).
        offset: anchor rotation offset ``o`` in ``[0, kfi)`` (the step modulo ``kfi``).
    """

    num_frames: int
    window: int
    sinks: int
    anchor_interval: int
    offset: int

    def __post_init__(self) -> None:
        if self.num_frames < 1:
            raise ValueError("num_frames must be >= 1")
        if self.window < 0 or self.sinks < 0:
            raise ValueError("window and sinks must be >= 0")
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
        """Periodic anchor frames of this step, ``(o + i*kfi) mod T``, ascending."""
        t, k = self.num_frames, self.anchor_interval
        return tuple(sorted({(self.offset + i * k) % t for i in range(-(-t // k))}))

    @cached_property
    def global_frames(self) -> frozenset[int]:
        """Frames every query attends to (sinks and anchors)."""
        sinks = range(min(self.sinks, self.num_frames))
        return frozenset(sinks) | frozenset(self.anchors)

    def window_range(self, frame: int) -> tuple[int, int] | None:
        """Inclusive ``(lo, hi)`` of the local window of ``frame``; ``None`` when ``W = 0``."""
        t, w = self.num_frames, self.window
        if not 0 <= frame < t:
            raise ValueError(f"frame {frame} outside [0, {t})")
        if w == 0:
            return None
        glob = self.global_frames
        lo = max(0, min(frame - w, t - 1 - 2 * w))
        hi = min(t - 1, max(frame + w, 2 * w))
        need = min(2 * w + 1, t - len(glob))
        have = sum(1 for j in range(lo, hi + 1) if j not in glob)
        while have < need:
            grew = False
            if lo > 0:
                lo, grew = lo - 1, True
                have += lo not in glob
                if have >= need:
                    break
            if hi < t - 1:
                hi, grew = hi + 1, True
                have += hi not in glob
            if not grew:
                break
        return lo, hi

    def window_frames(self, frame: int) -> tuple[int, ...]:
        """Frames of the local window of ``frame`` (empty when ``W = 0``)."""
        r = self.window_range(frame)
        return () if r is None else tuple(range(r[0], r[1] + 1))

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

    def describe(self, grid: bool | None = None) -> str:
        """Human-readable pattern: parameters, density, anchors, each query's keys.

        Args:
            grid: also draw the ``T x T`` frame mask (``#`` = attended); default only
                when ``T <= 64``.

        Returns:
            Multi-line text; ``print(lvsa.frame_pattern(121).describe())``.
        """
        t = self.num_frames
        lines = [
            f"LVSA pattern: T={t} latent frames, window W={self.window}"
            f"{' (anchors only)' if self.window == 0 else ''}, sinks={self.sinks}, "
            f"kfi={self.anchor_interval}, offset={self.offset}"
            + (" (dense)" if self.dense else ""),
            f"density {100 * self.density:.1f} % of key frames per query "
            f"(mean {sum(len(k) for k in self.key_frames) / t:.1f} of {t})",
            f"anchors ({len(self.anchors)}): {_ranges(self.anchors)}",
        ]
        width = len(str(t - 1))
        for qs, keys in self.groups:
            lines.append(
                f"  q {_ranges(qs):>{2 * width + 1}} -> {len(keys):3d} keys: {_ranges(keys)}"
            )
        if grid if grid is not None else t <= 64:
            lines.append("mask (rows = query frames, # = attended key frame):")
            for q, keys in enumerate(self.key_frames):
                ks = set(keys)
                lines.append(
                    f"  {q:>{width}} " + "".join("#" if k in ks else "." for k in range(t))
                )
        return "\n".join(lines)


def _ranges(frames: tuple[int, ...] | list[int]) -> str:
    """``0-3,7,9-10`` for ``(0, 1, 2, 3, 7, 9, 10)``."""
    out: list[str] = []
    for f in sorted(frames):
        if out and isinstance(out[-1], list) and out[-1][1] == f - 1:
            out[-1][1] = f
        else:
            out.append([f, f])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in out)


def frame_pattern(
    num_frames: int,
    step: int = 0,
    *,
    window: int = 3,
    sinks: int = 1,
    anchor_interval: int | None = None,
    reference_frames: int = 21,
    scale: float = 1.0,
    rotate: bool = True,
) -> FramePattern:
    """Build the LVSA pattern for ``num_frames`` latent frames at denoising step ``step``.

    Args:
        num_frames: latent frames ``T`` (>= 1).
        step: denoising step index (>= 0, 0 for the first step); the offset is
            ``step mod kfi``.
        window: half window ``W`` in latent frames (0 = anchors and sinks only).
        sinks: first-frame sinks.
        anchor_interval: fixed ``kfi``; ``None`` derives it with
            :func:`auto_anchor_interval`.
        reference_frames: training horizon in latent frames (for the automatic ``kfi``).
        scale: sparsity scale (for the automatic ``kfi``; > 1 is denser).
        rotate: False keeps the anchor grid at offset 0 on every step.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
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
    return _pattern(num_frames, window, sinks, kfi, step % kfi if rotate else 0)


@lru_cache(maxsize=1024)
def _pattern(t: int, window: int, sinks: int, kfi: int, offset: int) -> FramePattern:
    """One shared object per pattern, so its key sets are computed once per run."""
    return FramePattern(t, window, sinks, kfi, offset)


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
