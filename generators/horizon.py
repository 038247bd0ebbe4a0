"""Horizon arithmetic: multiples of the training horizon to frame counts and latent frames.

A horizon of ``h`` x scales the *intervals* of the training clip, so the latent length is
``(L_train - 1) * h + 1`` and frames stay ``k * t_stride + 1``: Wan (81 frames, 21 latent) gives
1x = 81 frames / 21 latent, 2x = 161 / 41, 4x = 321 / 81, 6x = 481 / 121 (docs/generation.md).
"""

from __future__ import annotations

import re

from lvsa.generators.errors import GeneratorError
from lvsa.generators.models import ModelSpec

#: Smallest and largest accepted horizon multiple.
MIN_HORIZON = 1.0
MAX_HORIZON = 6.0

_HORIZON_RE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*[xX]?\s*$")


def parse_horizon(text: str | float) -> float:
    """Parse ``"4x"``, ``"1.5x"`` or ``4`` into a multiple of the training horizon.

    Raises:
        GeneratorError: not a number, or outside ``MIN_HORIZON..MAX_HORIZON``.
    """
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = _HORIZON_RE.match(text)
        if not match:
            raise GeneratorError(
                f"horizon {text!r} is not a multiple like 1x, 1.5x, 4x "
                f"(accepted {MIN_HORIZON:g}x..{MAX_HORIZON:g}x)"
            )
        value = float(match.group(1))
    if not MIN_HORIZON <= value <= MAX_HORIZON:
        raise GeneratorError(
            f"horizon {value:g}x is outside {MIN_HORIZON:g}x..{MAX_HORIZON:g}x of the training "
            "length (use --frames for other lengths)"
        )
    return value


def snap_frames(frames: int, t_stride: int) -> int:
    """Nearest frame count of the form ``k * t_stride + 1`` (ties round up), at least 1."""
    k = max(0, int((frames - 1) / t_stride + 0.5))
    return k * t_stride + 1


def frames_for_horizon(spec: ModelSpec, horizon: float) -> int:
    """Video frames for ``horizon`` x the training horizon of ``spec``, snapped to ``k*t+1``."""
    t = spec.vae_stride[0]
    return snap_frames(round((spec.train_frames - 1) * horizon) + 1, t)


def latent_frames(spec: ModelSpec, frames: int) -> int:
    """Latent frames the VAE produces for ``frames`` video frames: ``(frames - 1) / t + 1``."""
    return (frames - 1) // spec.vae_stride[0] + 1


def check_frames(spec: ModelSpec, frames: int) -> int:
    """Validate an explicit ``--frames`` value (positive, ``k * t_stride + 1``)."""
    t = spec.vae_stride[0]
    if frames < 1 or (frames - 1) % t:
        raise GeneratorError(
            f"--frames {frames} must be {t}k+1 for {spec.name} (e.g. {snap_frames(max(frames, 1), t)})"
        )
    return frames


def check_resolution(spec: ModelSpec, height: int, width: int) -> tuple[int, int]:
    """Validate height and width in pixels: positive multiples of ``spec.spatial_multiple``."""
    m = spec.spatial_multiple
    for label, value in (("height", height), ("width", width)):
        if value <= 0 or value % m:
            raise GeneratorError(
                f"--{label} {value} must be a positive multiple of {m} px for {spec.name}"
            )
    return height, width
