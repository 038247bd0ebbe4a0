"""Tiny pixel-space video DiT: procedural data, model, training, pipeline glue.

Importing this package registers the ``"tiny"`` preset (weights in
``data/tinydit``) with :mod:`generators.models` and makes it the default model
when the weights are present, so ``lvsa-generate`` works offline out of the box.
"""

from __future__ import annotations

from lvsa.generators.tinydit.data import CONDITIONS, DataConfig, ProceduralVideos
from lvsa.generators.tinydit.model import DEFAULT_FOLDER, TinyDiT, TinyDiTConfig, load, save
from lvsa.generators.tinydit.pipeline import TinyDiTPipeline, condition_for_prompt, sample

#: Name of the generation preset.
PRESET = "tiny"


def model_spec(folder: str | None = None):  # -> generators.models.ModelSpec
    """The :class:`generators.models.ModelSpec` of the tiny DiT (weights in ``folder``).

    Geometry: pixel space (VAE stride 1), patch (1, 4, 4), 24x24 px, 16-frame training
    horizon (= ``reference_frames``, latent frames = frames), 8 fps, 20 Euler steps.
    """
    from lvsa.generators.models import ModelSpec

    cfg = TinyDiTConfig()
    return ModelSpec(
        name=PRESET,
        repo=str(folder or DEFAULT_FOLDER),
        pipeline="lvsa.generators.tinydit.pipeline:TinyDiTPipeline",
        family="tinydit",
        vae_stride=(1, 1, 1),
        patch=(1, 4, 4),
        train_frames=cfg.reference_frames,
        reference_frames=cfg.reference_frames,
        height=cfg.size,
        width=cfg.size,
        fps=cfg.fps,
        steps=cfg.default_steps,
        guidance=None,
        text_encoder="pipeline",
        text_dim=int(cfg.transformer["text_dim"]),
    )


def _register() -> None:
    """Register the preset; make it the default when the shipped weights exist."""
    try:
        from lvsa.generators.models import register_model
    except ImportError:  # pragma: no cover - generators is part of this repository
        return
    present = (DEFAULT_FOLDER / "model.safetensors").is_file()
    register_model(model_spec(), default=present)


_register()

__all__ = [
    "CONDITIONS",
    "DEFAULT_FOLDER",
    "PRESET",
    "DataConfig",
    "ProceduralVideos",
    "TinyDiT",
    "TinyDiTConfig",
    "TinyDiTPipeline",
    "condition_for_prompt",
    "load",
    "model_spec",
    "sample",
    "save",
]
