"""Scoring configuration: one frozen dataclass with defaults that run offline."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

#: Defaults shared by :class:`ScoreConfig`, ``vqeval.video.read_clip`` and the CLI.
DEFAULT_ANALYSIS_SIZE = 160  # px, long side
DEFAULT_MAX_FPS = 8.0  # frames/s
DEFAULT_STILLS = 8
DEFAULT_STILL_SIZE = 512  # px, long side


@dataclass(frozen=True)
class ScoreConfig:
    """How videos are analysed.

    Attributes:
        dimensions: dimension names to compute; ``None`` = the default set.
        analysis_size: long side of analysis frames in pixels (32-1024).
            Frames are downscaled (area interpolation) keeping aspect.
        max_fps: cap on the analysis frame rate in frames/s; frames are
            dropped evenly in time above it. ``None`` keeps every frame.
        max_frames: cap on analysed frames (after the fps cap); ``None`` = all.
        stills: number of evenly spaced frames also kept at ``still_size``
            for image-quality dimensions (0-64).
        still_size: long side of those stills in pixels.
        backbone: feature backbone for embeddings (``"pixel"`` is weight-free).
        flow: optical-flow backbone (``"dis"`` default, ``"farneback"``,
            ``"raft"`` with local weights).
        weights_dir: folder holding local weights for learned backbones;
            ``None`` = the ``VQEVAL_WEIGHTS`` environment variable or none.
        image_fps: frame rate in frames/s of folders of numbered images
            (images carry no timing); ``None`` = 24, with a warning in the
            row. Video files keep their own timestamps.
    """

    dimensions: tuple[str, ...] | None = None
    analysis_size: int = DEFAULT_ANALYSIS_SIZE
    max_fps: float | None = DEFAULT_MAX_FPS
    max_frames: int | None = None
    stills: int = DEFAULT_STILLS
    still_size: int = DEFAULT_STILL_SIZE
    backbone: str = "pixel"
    flow: str = "dis"
    weights_dir: str | None = None
    image_fps: float | None = None

    def key(self) -> str:
        """Stable hex digest of everything that changes results (cache key part)."""
        from vqeval import __version__

        blob = json.dumps(
            {"v": __version__, **dataclasses.asdict(self)}, sort_keys=True, default=str
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
