"""Per-video analysis context: the decoded clip plus lazily computed,
shared intermediates (grey frames, embeddings, optical flow) so that each
dimension computes what it needs once.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import cv2
import numpy as np

from vqeval.config import ScoreConfig
from vqeval.video import Clip


class Analysis:
    """Shared state for scoring one video.

    Attributes:
        clip: decoded analysis frames (``clip.frames``: (T, H, W, 3) uint8 RGB),
            timestamps, analysis fps, metadata and stills.
        config: the scoring configuration.
    """

    def __init__(self, clip: Clip, config: ScoreConfig) -> None:
        self.clip = clip
        self.config = config
        self.memo: dict[str, Any] = {}
        #: plot-ready series for reports (see ``VideoResult.series``);
        #: dimensions may add entries (``"ssm"``, ``"motion"`` ...).
        self.series: dict[str, Any] = {}

    @property
    def frames(self) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB analysis frames."""
        return self.clip.frames

    @property
    def fps(self) -> float:
        """Analysis frame rate in frames/s (after the fps cap)."""
        return self.clip.fps

    @cached_property
    def gray(self) -> np.ndarray:
        """(T, H, W) uint8 luma 0-255 (BT.601 weights), computed once."""
        f = self.frames
        g = np.empty(f.shape[:3], np.uint8)
        for i, fr in enumerate(f):
            cv2.cvtColor(fr, cv2.COLOR_RGB2GRAY, dst=g[i])
        return g

    @cached_property
    def flow(self) -> Any:
        """:class:`metrics.motion.FlowSeries` of consecutive analysis frames.

        Per pair: mean and top-5 % flow magnitude in % of the frame diagonal
        per second, mean absolute luma difference (grey levels); backend
        ``config.flow`` (``"dis"``, ``"dis-ultrafast"``, ``"farneback"``,
        ``"raft"``). Computed once.

        Raises:
            ConfigError: unknown flow backend, or RAFT without local weights.
        """
        from vqeval.dimensions.motion import flow_series

        return flow_series(self)

    @cached_property
    def backbone(self) -> Any:
        """The feature :class:`metrics.features.Backbone` named by the config.

        Raises:
            ConfigError: unknown backbone or missing local weights.
        """
        from metrics.features import get_backbone

        return get_backbone(self.config.backbone, self.config.weights_dir)

    @cached_property
    def embeddings(self) -> np.ndarray:
        """(T, d) float32 L2-normalised frame embeddings of :attr:`backbone`."""
        return self.backbone.embed(self.frames)

    @cached_property
    def ssm(self) -> np.ndarray:
        """(T, T) float64 cosine self-similarity of :attr:`embeddings`, -1..1."""
        from metrics.repetition import self_similarity

        return self_similarity(self.embeddings)
