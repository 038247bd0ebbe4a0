"""Make ``import torchvision`` work beside a torch build its C extension does not fit.

torchvision wheels carry a C extension (``_C``) linked against one torch build.
Beside another build (a CPU-only torch next to the CUDA torchvision wheel of the
same release, as on machines whose torch comes from a local CPU wheel) the
extension cannot load, torchvision then still registers a fake kernel for
``torchvision::nms`` and the whole import fails with ``operator torchvision::nms
does not exist``, taking timm, open_clip, transformers and diffusers down with it.

:func:`install` adds an import hook that runs once, right before torchvision is
first imported: when the extension cannot load, it declares the two operator
schemas torchvision registers unconditionally (``nms``, ``qnms``), without
kernels. The pure-Python parts (models such as RAFT, transforms) then import and
run; the compiled operators stay unavailable and say so when called
(``torchvision.extension._has_ops()`` is False). Nothing happens when the
extension loads, when torchvision is not installed, or when torch is missing.

Why it exists: CI (``.ci/run``) installs the CPU build of torch 2.13.0 from a
local wheel, and PyPI's torchvision 0.28.0 (the release that pairs with it) is
built against the CUDA torch of PyPI: its ``_C.so`` does not load beside the
CPU build. The matching CPU torchvision is published only on PyTorch's own
package index, which CI cannot reach, and the CUDA torch from PyPI would bring
several GB of CUDA libraries to a machine without a GPU. So the pair cannot be
matched there, and this hook stays, but only in the test and benchmark
bootstrap: neither ``vqeval`` nor ``lvsa`` installs it on import. Opt in
elsewhere with ``PYTHONPATH=tests/bootstrap`` (its ``sitecustomize`` calls
:func:`install`) or by calling :func:`install` before the first torchvision
import.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path
from typing import Any

#: Schemas torchvision registers fake kernels for at import time, unguarded.
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_library: Any = None  # the stub torch.library.Library, kept alive


def _declare_missing_ops() -> None:
    global _library
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return
    try:
        import torch
    except Exception:  # torchvision's own import reports it
        return
    for loc in spec.submodule_search_locations:
        for lib in sorted(Path(loc).glob("_C*.so")) + sorted(Path(loc).glob("_C*.pyd")):
            try:
                torch.ops.load_library(str(lib))
                return  # the extension fits this torch
            except OSError:
                pass
    if hasattr(torch.ops, "torchvision") and hasattr(torch.ops.torchvision, "nms"):
        return
    _library = torch.library.Library("torchvision", "DEF")
    for schema in _SCHEMAS:
        _library.define(schema)


class _Hook(importlib.abc.MetaPathFinder):
    """Runs :func:`_declare_missing_ops` once, before the first torchvision import."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        if fullname == "torchvision":
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            with contextlib.suppress(Exception):  # never break an import that might work
                _declare_missing_ops()
        return None


def install() -> None:
    """Install the hook (idempotent; a no-op once torchvision is imported)."""
    if "torchvision" in sys.modules or any(isinstance(f, _Hook) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _Hook())
