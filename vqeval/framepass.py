"""One streaming pass over a video's analysis frames.

Every per-frame and per-pair quantity the dimensions read is accumulated
while the video decodes, holding a handful of frames at a time: memory grows
with the video's length only by one small feature row per frame (about
2 KB with the weight-free backbone), never by the frames themselves, so a
40-minute clip fits where a 10-minute one does.

The pass is a loop over registered feature accumulators
(:mod:`vqeval.features`, which lists the features and what each holds):
each gets every frame (``push``) and, at the end, fills its part of the
:class:`FrameFeatures` (``result``). Dimensions declare the features they
need (``Dimension.needs``); the pass runs only those (and those they require).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from vqeval.config import ScoreConfig
from vqeval.features import (
    THUMBNAILS,
    Accumulator,
    Frame,
    FrameFeatures,
    PassContext,
    feature_class,
    feature_registry,
    thumbnail_uri,
)

__all__ = ["ALL_FEATURES", "THUMBNAILS", "FrameFeatures", "FramePass", "thumbnail_uri"]

#: Every feature name the pass knows besides those it always computes
#: (``embeddings:<name>`` comes on top), in registry order.
ALL_FEATURES: tuple[str, ...] = tuple(n for n, c in feature_registry().items() if not c.always)


def wanted_features(config: ScoreConfig, needs: Iterable[str] | None = None) -> frozenset[str]:
    """The features a pass computes for ``needs`` (``None`` = all of
    :data:`ALL_FEATURES`): those, the ones they require, and ``embeddings``
    named by its backbone (``embeddings:<config.backbone>``); the features
    every pass computes are not listed.

    Raises:
        KeyError: an unknown feature name.
    """
    todo = list(ALL_FEATURES if needs is None else needs)
    want: set[str] = set()
    while todo:
        name = todo.pop()
        if name == "embeddings":
            name = f"embeddings:{config.backbone}"
        if name in want:
            continue
        cls, _ = feature_class(name)
        want.add(name)
        todo.extend(cls.requires)
    return frozenset(want)


class FramePass:
    """Accumulates the features in ``needs`` over frames pushed in order.

    Args:
        config: the scoring configuration (backbone, flow, weights).
        fps: analysis frame rate, frames/s (> 0).
        expected_frames: about how many frames will come (spreads the
            thumbnails and the smoothness samples); ``None`` = unknown.
        needs: feature names (see :mod:`vqeval.features`); ``None`` = all
            of :data:`ALL_FEATURES`.

    Raises:
        ConfigError: an unknown backbone or flow backend, or missing weights.
    """

    def __init__(
        self,
        config: ScoreConfig,
        fps: float,
        *,
        expected_frames: int | None = None,
        needs: Iterable[str] | None = None,
    ) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.config = config
        self.fps = float(fps)
        self.needs = wanted_features(config, needs)
        expected = expected_frames if expected_frames and expected_frames > 0 else None
        ctx = PassContext(config, self.fps, expected)
        self._accs: list[Accumulator] = []
        for name, cls in feature_registry().items():  # registry order: required ones first
            if cls.always:
                self._accs.append(cls(ctx))
                continue
            params = sorted(n.partition(":")[2] for n in self.needs if n.partition(":")[0] == name)
            self._accs += [cls(ctx, p) for p in params]
        self._n = 0
        self._times: list[float] = []
        self._hw = (0, 0)

    def push(self, rgb: np.ndarray, t_s: float, model_rgb: np.ndarray | None = None) -> None:
        """Add the next (H, W, 3) uint8 RGB analysis frame shown at ``t_s`` s.

        ``model_rgb`` is the same frame decoded for learned backbones (shorter
        side :func:`model_side`, see :func:`vqeval.pipeline.analyse`); learned
        backbones embed it instead of the analysis frame when it is given.
        """
        frame = Frame(self._n, rgb, t_s, model_rgb)
        self._hw = rgb.shape[:2]
        for acc in self._accs:
            acc.push(frame)
        self._times.append(float(t_s))
        self._n += 1

    def finish(self) -> FrameFeatures:
        """The accumulated :class:`FrameFeatures` (call once, after the last frame)."""
        h, w = self._hw
        feats = FrameFeatures(
            times_s=np.asarray(self._times, dtype=np.float64), height=int(h), width=int(w)
        )
        for acc in self._accs:
            for key, value in acc.result(feats).items():
                old = getattr(feats, key, None)
                if isinstance(old, dict) and isinstance(value, dict):
                    old.update(value)  # embeddings of several backbones
                else:
                    setattr(feats, key, value)
        return feats


def model_side(config: ScoreConfig, needs: Iterable[str]) -> int:
    """Shorter side in pixels the frames of the learned backbones in ``needs``
    should be decoded at (the largest resize target among them; 0 = none needs
    more than the analysis frames).

    Raises:
        ConfigError: a backbone cannot be built (see :func:`vqeval.weights.get_backbone`).
    """
    from vqeval.weights import get_backbone

    want = {config.backbone if n == "embeddings" else n.split(":", 1)[1]
            for n in needs if n == "embeddings" or n.startswith("embeddings:")}  # fmt: skip
    sides = [
        get_backbone(n, config.weights_dir, device=config.device, batch_size=config.batch_size)
        .frame_side for n in sorted(want)
    ]  # fmt: skip
    return max(sides, default=0)


def run_pass(
    frames: np.ndarray,
    times_s: np.ndarray,
    fps: float,
    config: ScoreConfig,
    needs: Iterable[str] | None = None,
) -> FrameFeatures:
    """:class:`FrameFeatures` of frames already in memory ((T, H, W, 3) uint8 RGB)."""
    fp = FramePass(config, fps, expected_frames=len(frames), needs=needs)
    for f, t in zip(frames, times_s):
        fp.push(f, float(t))
    return fp.finish()
