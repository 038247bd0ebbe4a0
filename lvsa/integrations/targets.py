"""Which modules of a pipeline LVSA patches (below :mod:`.install` and
:mod:`.parallel`, which both need it)."""

from __future__ import annotations

from typing import Any

import torch


def transformers_of(obj: Any) -> list[torch.nn.Module]:
    """The transformer models of a pipeline (``transformer``, ``transformer_2``) or ``[obj]``."""
    if isinstance(obj, torch.nn.Module):
        return [obj]
    found = [getattr(obj, n, None) for n in ("transformer", "transformer_2")]
    found = [m for m in found if isinstance(m, torch.nn.Module)]
    if not found:
        raise TypeError(f"{type(obj).__name__} has no transformer to patch")
    return found
