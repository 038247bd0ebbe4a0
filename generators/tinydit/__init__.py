"""Tiny pixel-space video DiT: procedural data, model, training, pipeline glue.

Importing this package registers the ``"tiny"`` preset (weights in
``data/tinydit``) with :mod:`generators.models` and makes it the default model
when the weights are present, so ``lvsa-generate`` works offline out of the box.
"""

from __future__ import annotations

from generators.tinydit.data import CONDITIONS, DataConfig, ProceduralVideos
from generators.tinydit.model import DEFAULT_FOLDER, TinyDiT, TinyDiTConfig, load, save
from generators.tinydit.pipeline import TinyDiTPipeline, condition_for_prompt, sample

__all__ = [
    "CONDITIONS",
    "DEFAULT_FOLDER",
    "DataConfig",
    "ProceduralVideos",
    "TinyDiT",
    "TinyDiTConfig",
    "TinyDiTPipeline",
    "condition_for_prompt",
    "load",
    "sample",
    "save",
]
