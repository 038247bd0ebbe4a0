"""LVSA under diffusers' context parallelism (``ContextParallelConfig``).

diffusers splits the token sequence of a transformer over the ranks of its context
parallel mesh (``_cp_plan``: the hidden states entering ``blocks.0`` and the RoPE tables
are cut into equal sequence shards) and its own processors run attention with Ulysses
(all-to-all: sequence shards -> head shards) or ring passes. The LVSA processor does the
Ulysses exchange itself, over the *flattened* mesh (ring x Ulysses ranks):

1. each rank projects, normalises and rotates the query / key / value of its sequence
   shard (all heads);
2. an all-to-all turns ``(B, S/P, H, D)`` into ``(B, S, H/P, D)``: every rank holds the
   whole sequence for ``H/P`` heads;
3. LVSA runs its pattern on the whole sequence for those heads (the pattern depends only
   on the frame count and the denoising step, which every rank knows, so every rank uses
   the same anchors);
4. the inverse all-to-all returns ``(B, S/P, H, D)``.

A ring configuration is served the same way (one all-to-all over the ring ranks too):
a ring pass would move every key/value chunk to every rank and compute the blocks the
pattern drops; the all-to-all moves each token once and keeps the sparse kernel. Needs
``heads % P == 0`` (Wan 1.3B: 12 heads, P in 2, 3, 4, 6, 12).
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch

__all__ = [
    "cp_group",
    "enable_context_parallel",
    "heads_to_sequence",
    "sequence_to_heads",
]


def cp_group(parallel_config: Any) -> tuple[Any, int] | None:
    """``(process group, world size)`` of a diffusers ``ParallelConfig``'s context
    parallel mesh (ring x Ulysses, flattened), or ``None`` without context parallelism."""
    cp = getattr(parallel_config, "context_parallel_config", None)
    if cp is None:
        return None
    mesh = getattr(cp, "_flattened_mesh", None)
    if mesh is None or mesh.size() <= 1:
        return None
    return mesh.get_group(), int(mesh.size())


def _all_to_all(x: torch.Tensor, group: Any) -> torch.Tensor:
    """All-to-all of equal chunks along dim 0 (a functional collective, so it also works
    under ``torch.compile``)."""
    from torch.distributed import _functional_collectives as funcol

    shape = x.shape
    out = funcol.all_to_all_single(x.contiguous().flatten(), None, None, group)
    if isinstance(out, funcol.AsyncCollectiveTensor):
        out = out.wait()
    return out.reshape(shape)


def sequence_to_heads(x: torch.Tensor, group: Any, world: int) -> torch.Tensor:
    """``(B, S/P, H, D)`` sequence shard -> ``(B, S, H/P, D)`` head shard (rank order =
    sequence order, as diffusers' sharder cuts it)."""
    b, s_local, h, d = x.shape
    if h % world:
        raise ValueError(
            f"LVSA under context parallelism needs heads ({h}) divisible by the context "
            f"parallel degree ({world})"
        )
    x = x.reshape(b, s_local, world, h // world, d).permute(2, 1, 0, 3, 4)
    x = _all_to_all(x, group)  # (P source ranks = sequence shards, S/P, B, H/P, D)
    return x.flatten(0, 1).permute(1, 0, 2, 3).contiguous()


def heads_to_sequence(x: torch.Tensor, group: Any, world: int) -> torch.Tensor:
    """Inverse of :func:`sequence_to_heads`: ``(B, S, H/P, D)`` -> ``(B, S/P, H, D)``."""
    b, s, h_local, d = x.shape
    x = x.reshape(b, world, s // world, h_local, d).permute(1, 3, 0, 2, 4)
    x = _all_to_all(x, group)  # (P source ranks = head groups, H/P, B, S/P, D)
    return x.flatten(0, 1).permute(1, 2, 0, 3).contiguous()


@contextlib.contextmanager
def _cpu_device_count():
    """diffusers computes ``rank % torch.accelerator.device_count()``, which divides by
    zero on a machine without accelerators; count the CPU as one device meanwhile."""
    acc = getattr(torch, "accelerator", None)
    if acc is None or acc.device_count() > 0:
        yield
        return
    real = acc.device_count
    acc.device_count = lambda: 1
    try:
        yield
    finally:
        acc.device_count = real


def enable_context_parallel(
    pipe_or_transformer: Any, ulysses_degree: int | None = None, ring_degree: int | None = None
) -> list[torch.nn.Module]:
    """``transformer.enable_parallelism(config=ContextParallelConfig(...))`` on every
    transformer of a pipeline (``torch.distributed`` initialised first; works on CPU with
    gloo too). Call it before or after ``lvsa.apply``: either way LVSA keeps its pattern
    on every rank. Returns the transformers."""
    from diffusers import ContextParallelConfig

    from .targets import transformers_of

    models = transformers_of(pipe_or_transformer)
    for m in models:
        cfg = ContextParallelConfig(ulysses_degree=ulysses_degree, ring_degree=ring_degree)
        with _cpu_device_count():
            m.enable_parallelism(config=cfg)
    return models
