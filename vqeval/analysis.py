"""Per-video analysis context: the clip's metadata and stills plus the
features of its analysis frames (:class:`~vqeval.framepass.FrameFeatures`),
computed once and shared by every dimension.

In the pipeline the features come from one streaming pass while the video
decodes (the frames themselves are never all in memory). An ``Analysis``
built from a clip whose frames are in memory (tests, notebooks) runs that
pass over them on first use, computing any feature asked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from vqeval.config import ScoreConfig
from vqeval.features import has_feature
from vqeval.framepass import FrameFeatures, run_pass
from vqeval.video import Clip

#: At most this many rows enter the (T, T) self-similarity matrix. Longer
#: clips are summarised first: consecutive frame embeddings are averaged in
#: groups of ``ceil(T / SSM_MAX_FRAMES)`` (:class:`Trajectory`), so memory and
#: time of repetition and progression stay bounded (a 40-minute clip at 8
#: frames/s is seen at about 2 frames/s, loop periods to +-0.5 s) while clips
#: up to 150 s at 8 frames/s are judged frame by frame.
SSM_MAX_FRAMES = 1200


@dataclass(frozen=True)
class Trajectory:
    """The embedding trajectory repetition and progression judge.

    Attributes:
        embeddings: (R, d) float32 L2-normalised rows, R <= SSM_MAX_FRAMES.
        times_s: (R,) time of each row, s (the mean time of its frames).
        fps: rows per second (analysis frame rate / ``group``).
        group: analysis frames averaged into one row (1 = none).
    """

    embeddings: np.ndarray
    times_s: np.ndarray
    fps: float
    group: int


def pool_trajectory(
    embeddings: np.ndarray, times_s: np.ndarray, fps: float, max_rows: int | None = None
) -> Trajectory:
    """Average consecutive rows of ``embeddings`` in groups so at most
    ``max_rows`` remain (rows re-normalised); a no-op for short clips.

    Args:
        embeddings: (T, d) frame embeddings.
        times_s: (T,) frame times, s.
        fps: analysis frame rate, frames/s (> 0).
        max_rows: the most rows kept (>= 1); ``None`` = :data:`SSM_MAX_FRAMES`.
    """
    e = np.asarray(embeddings, dtype=np.float32)
    t = np.asarray(times_s, dtype=np.float64)
    n = len(e)
    cap = SSM_MAX_FRAMES if max_rows is None else max_rows
    g = max(1, -(-n // max(1, cap)))
    if g == 1:
        return Trajectory(e, t, float(fps), 1)
    edges = np.arange(0, n, g)
    counts = np.diff(np.append(edges, n)).astype(np.float32)
    pooled = np.add.reduceat(e, edges, axis=0) / counts[:, None]
    pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
    pt = np.add.reduceat(t, edges) / counts
    return Trajectory(pooled.astype(np.float32), pt, float(fps) / g, g)


class Analysis:
    """Shared state for scoring one video.

    Args:
        clip: the decoded clip (``clip.frames`` may be empty when streamed).
        config: the scoring configuration.
        features: features from a :class:`~vqeval.framepass.FramePass`;
            ``None`` = computed from ``clip.frames`` on first use.
        path: the video's path (prompt look-up of ``text_alignment``); ``None``
            for clips made in memory.
    """

    def __init__(
        self,
        clip: Clip,
        config: ScoreConfig,
        features: FrameFeatures | None = None,
        *,
        path: str | None = None,
    ) -> None:
        self.clip = clip
        self.path = path
        self.config = config
        self._features = features
        self.memo: dict[str, Any] = {}

    # ---------------------------------------------------------------- frames

    @property
    def frames(self) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB analysis frames; empty when they were streamed."""
        return self.clip.frames

    @property
    def fps(self) -> float:
        """Analysis frame rate in frames/s (after the fps cap)."""
        return self.clip.fps

    @cached_property
    def gray(self) -> np.ndarray:
        """(T, H, W) uint8 luma 0-255 of in-memory frames (empty when streamed)."""
        f = self.frames
        g = np.empty(f.shape[:3], np.uint8)
        for i, fr in enumerate(f):
            cv2.cvtColor(fr, cv2.COLOR_RGB2GRAY, dst=g[i])
        return g

    @cached_property
    def times_s(self) -> np.ndarray:
        """(T,) analysis frame times in s (from the clip, else ``arange(T) / fps``)."""
        t = getattr(self.clip, "times_s", None)
        if self._features is not None:
            return np.asarray(self._features.times_s, dtype=np.float64)
        n = len(self.frames)
        if t is None or len(t) != n:
            return np.arange(n) / self.fps
        return np.asarray(t, dtype=np.float64)

    @property
    def n_frames(self) -> int:
        """Number of analysis frames."""
        return len(self.times_s)

    @cached_property
    def duration_s(self) -> float:
        """Duration covered by the analysis frames, s (last - first + one step)."""
        t = self.times_s
        if len(t) == 0:
            return 0.0
        step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0 / self.fps
        return float(t[-1] - t[0]) + step

    @property
    def frame_size(self) -> tuple[int, int]:
        """(height, width) of the analysis frames, px."""
        if self._features is not None and self._features.height:
            return self._features.height, self._features.width
        return int(self.frames.shape[1]), int(self.frames.shape[2])

    # -------------------------------------------------------------- features

    @property
    def features(self) -> FrameFeatures:
        """The :class:`~vqeval.framepass.FrameFeatures` computed so far."""
        if self._features is None:
            self._features = FrameFeatures(self.times_s, *self.frame_size)
        return self._features

    def require(self, names: Iterable[str]) -> FrameFeatures:
        """Make sure the features ``names`` are there (computing them from
        in-memory frames if needed) and return the features.

        Raises:
            RuntimeError: a feature is missing and the frames were streamed
                (a dimension did not declare it in ``Dimension.needs``).
        """
        feats = self.features
        missing = [n for n in names if not has_feature(feats, n, self.config)]
        if missing:
            if len(self.frames) == 0:
                raise RuntimeError(
                    f"feature(s) {', '.join(missing)} were not computed in the frame pass; "
                    "declare them in the dimension's needs"
                )
            extra = run_pass(self.frames, self.times_s, self.fps, self.config, needs=missing)
            _merge(feats, extra)
        return feats

    @property
    def flow(self) -> Any:
        """:class:`metrics.motion.FlowSeries` of consecutive analysis frames (``config.flow``)."""
        return self.require(["flow"]).flow

    @property
    def cuts(self) -> list[int]:
        """Analysis frame indices that start a new shot (hard cuts, PySceneDetect)."""
        return list(self.require(["cuts"]).cuts or [])

    @property
    def content(self) -> Any:
        """:class:`metrics.content.ContentSeries` of the analysis frames (cut-aware)."""
        return self.require(["content"]).content

    @property
    def detail(self) -> np.ndarray:
        """(T,) fine-scale detail per frame (:func:`metrics.detail.detail_level`)."""
        d = self.require(["detail"]).detail
        assert d is not None
        return d

    @cached_property
    def backbone(self) -> Any:
        """The feature :class:`metrics.features.Backbone` named by the config.

        Raises:
            ConfigError: unknown backbone or missing local weights.
        """
        from vqeval.weights import get_backbone

        c = self.config
        return get_backbone(c.backbone, c.weights_dir, device=c.device, batch_size=c.batch_size)

    @property
    def embeddings(self) -> np.ndarray:
        """(T, d) float32 L2-normalised frame embeddings of :attr:`backbone`."""
        return self.embeddings_of(self.config.backbone)

    def embeddings_of(self, name: str) -> np.ndarray:
        """(T, d) float32 frame embeddings of backbone ``name``."""
        return self.require([f"embeddings:{name}"]).embeddings[name]

    @property
    def background(self) -> np.ndarray:
        """(T, d) float32 border-ring descriptor per frame."""
        b = self.require(["background"]).background
        assert b is not None
        return b

    @property
    def thumbnails(self) -> list[str]:
        """Evenly spaced JPEG data URIs of the analysis frames."""
        return list(self.require(["thumbnails"]).thumbnails)

    @cached_property
    def trajectory(self) -> Trajectory:
        """:attr:`embeddings` over time, pooled to at most :data:`SSM_MAX_FRAMES` rows."""
        return pool_trajectory(self.embeddings, self.times_s, self.fps)

    @cached_property
    def ssm(self) -> np.ndarray:
        """(R, R) float64 cosine self-similarity of :attr:`trajectory`, -1..1
        (R = analysis frames, or :data:`SSM_MAX_FRAMES` rows for long clips)."""
        from vqeval.metrics.repetition import self_similarity

        return self_similarity(self.trajectory.embeddings)


def _merge(into: FrameFeatures, extra: FrameFeatures) -> None:
    for key, value in vars(extra).items():
        if key in ("times_s", "height", "width"):
            continue
        if key == "embeddings":
            into.embeddings.update(value)
        elif key == "thumbnails":
            if value:
                into.thumbnails = value
        elif key == "smoothness_flow":
            if value:
                into.smoothness_flow = value
        elif value is not None:
            setattr(into, key, value)
