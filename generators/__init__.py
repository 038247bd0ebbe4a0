"""Producing long-horizon clips with diffusers, laid out for ``vqeval compare``.

    >>> import generators
    >>> generators.sweep(["a red fox running through snow"], methods="dense,lvsa",
    ...                  model="wan2.1-t2v-1.3b", horizon="4x", out="out")   # doctest: +SKIP

writes ``out/dense/<slug>_s0.mp4`` and ``out/lvsa/<slug>_s0.mp4`` (+ JSON sidecars), which
``vqeval compare out/dense out/lvsa`` pairs by file name. See docs/generation.md.
"""

from __future__ import annotations

from lvsa.generators.errors import GeneratorError
from lvsa.generators.horizon import frames_for_horizon, latent_frames, parse_horizon
from lvsa.generators.methods import METHODS, parse_methods
from lvsa.generators.models import (
    PRESETS,
    ModelSpec,
    default_model,
    get_model,
    model_names,
    register_model,
    resolve_model,
)
from lvsa.generators.output import clip_paths, slugify
from lvsa.generators.runner import (
    ClipResult,
    GenerationConfig,
    Plan,
    SweepReport,
    generate,
    read_prompts,
    resolve_config,
    sweep,
)

__all__ = [
    "METHODS",
    "PRESETS",
    "ClipResult",
    "GenerationConfig",
    "GeneratorError",
    "ModelSpec",
    "Plan",
    "SweepReport",
    "clip_paths",
    "default_model",
    "frames_for_horizon",
    "generate",
    "get_model",
    "latent_frames",
    "model_names",
    "parse_horizon",
    "parse_methods",
    "read_prompts",
    "register_model",
    "resolve_config",
    "resolve_model",
    "slugify",
    "sweep",
]
