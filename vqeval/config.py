"""Scoring configuration: one frozen dataclass with defaults that run offline."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from vqeval.params import Params, load_params

#: Defaults shared by :class:`ScoreConfig`, ``vqeval.video.read_clip`` and the CLI.
DEFAULT_ANALYSIS_SIZE = 160  # px, long side
DEFAULT_MAX_FPS = 8.0  # frames/s
#: Frame rates accepted for ``max_fps`` (besides ``None`` / 0 = no cap) and
#: ``image_fps``, frames/s: one frame per 100 s up to 1,000 frames/s. Outside
#: (``inf``, ``1e-300``, ``nan``) every video would fail; a usage error instead.
MIN_FPS, MAX_FPS = 0.01, 1000.0
DEFAULT_STILLS = 8
DEFAULT_STILL_SIZE = 512  # px, long side
DEFAULT_BATCH_SIZE = 32  # frames per forward pass of a learned backbone
#: Decoding budget per video, megapixels of source frames (width x height x
#: frames): 30,000 Mpx is about 8 min of 1080p at 30 fps or 2 min of 4K.
#: Bounds the work a small, highly compressed file can cause (a 212 KB file
#: of 6,000 8192x2048 frames is 100,663 Mpx, 85 s of decoding).
DEFAULT_MAX_DECODED_MPX = 30_000.0


@dataclass(frozen=True)
class ScoreConfig:
    """How videos are analysed.

    Attributes:
        dimensions: dimension names to compute, as a tuple or one
            comma-separated string (``"freeze,repetition"``); ``None`` = the
            default set.
        analysis_size: long side of analysis frames in pixels (32-1024).
            Frames are downscaled (area interpolation) keeping aspect.
        max_fps: cap on the analysis frame rate in frames/s; frames are
            dropped evenly in time above it. ``None`` keeps every frame.
        max_frames: cap on analysed frames (after the fps cap); ``None`` = all.
        stills: number of evenly spaced frames also kept at ``still_size``
            for image-quality dimensions (0-64).
        still_size: long side of those stills in pixels.
        backbone: feature backbone for embeddings (``"pixel"`` is weight-free;
            ``"clip:MODEL/TAG"``, ``"dinov2-s"`` ...: see :mod:`vqeval.weights`).
        flow: optical-flow backbone (``"dis"`` default, ``"farneback"``,
            ``"raft"``: torchvision RAFT-large).
        weights_dir: folder holding local weights for learned backbones;
            ``None`` = the ``VQEVAL_WEIGHTS`` environment variable or none
            (then the libraries' caches, see :mod:`vqeval.weights`).
        image_fps: frame rate in frames/s of folders of numbered images
            (images carry no timing); ``None`` = 24, with a warning in the
            row. Video files keep their own timestamps.
        device: torch device of learned backbones and RAFT (``"cpu"``,
            ``"cuda"``, ``"cuda:N"``); weight-free backbones ignore it.
        batch_size: frames per forward pass of a learned backbone (1-4096).
        prompt: text prompt of every video (``text_alignment``); ``None`` =
            from ``prompts`` or the clip's generator sidecar.
        prompts: (video path or file name, prompt) pairs read from a
            ``--prompts`` file; ``None`` = none.
        max_decoded_mpx: decoding budget per video in megapixels of source
            frames (width x height x decoded frames, before ``max_fps``
            drops any); a video over it is one error row, found before
            decoding. ``None`` or 0 = no limit.
        params: the decision parameters (:class:`vqeval.params.Params`:
            thresholds, flag caps, verdict words); also accepted as a nested
            mapping or the path of a params TOML file (validated here, a
            :class:`~vqeval.results.ConfigError` naming the key otherwise).
            Part of :meth:`key`.
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
    device: str = "cpu"
    batch_size: int = DEFAULT_BATCH_SIZE
    prompt: str | None = None
    prompts: tuple[tuple[str, str], ...] | None = None
    max_decoded_mpx: float | None = DEFAULT_MAX_DECODED_MPX
    params: Params = field(default_factory=Params)

    def __post_init__(self) -> None:
        """Accept ``dimensions`` as one comma-separated string (``"freeze"``,
        ``"freeze,repetition"``) or any iterable of names; stored as a tuple.
        Accept ``params`` as a :class:`Params`, a mapping or a TOML path."""
        if not isinstance(self.params, Params):
            p: Params | Mapping[str, object] | str | os.PathLike[str] | None = self.params
            object.__setattr__(self, "params", load_params(p))
        dims = self.dimensions
        if dims is None:
            return
        if isinstance(dims, str):
            names = tuple(d.strip() for d in dims.split(",") if d.strip())
        else:
            try:
                names = tuple(dims)
            except TypeError:
                raise TypeError(
                    "ScoreConfig.dimensions: expected None, a comma-separated string or "
                    f"a sequence of dimension names, got {type(dims).__name__}"
                ) from None
            bad = [n for n in names if not isinstance(n, str)]
            if bad:
                raise TypeError(
                    "ScoreConfig.dimensions: dimension names are strings, got "
                    f"{type(bad[0]).__name__} {bad[0]!r}"
                )
        if not names:
            raise ValueError(
                "ScoreConfig.dimensions is empty: give names such as 'freeze,repetition' "
                "or None for the default set"
            )
        object.__setattr__(self, "dimensions", names)

    def key(self) -> str:
        """Stable hex digest of everything that changes results (cache key part)."""
        from vqeval._version import __version__

        blob = json.dumps(
            {"v": __version__, **dataclasses.asdict(self)}, sort_keys=True, default=str
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]
