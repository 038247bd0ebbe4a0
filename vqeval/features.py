"""The frame features, one registered accumulator each.

A feature is a class with a ``name``, ``push(frame)`` (called once per
analysis frame, in order) and ``result(features)`` (called once after the
last frame; returns the :class:`FrameFeatures` attributes it fills), added
with :func:`register_feature`, the way dimensions are registered
(:func:`vqeval.dimensions.register`) and PySceneDetect's detectors work.
:class:`vqeval.framepass.FramePass` is a loop over the accumulators of the
features asked for. Adding a feature touches this file only: the class, its
registration, and (for documentation and a typed default) its attribute on
:class:`FrameFeatures`; a dimension then declares it in ``Dimension.needs``
and reads ``analysis.require([name])``.

=================  ===========================================================
feature            what it holds (the dimension that reads it)
=================  ===========================================================
``flow``           :class:`metrics.motion.FlowSeries` of consecutive frames,
                   backend ``config.flow`` (motion_decay, motion_level,
                   dynamic_degree)
``cuts``           frame indices starting a new shot (PySceneDetect)
``content``        :class:`metrics.content.ContentSeries`, cut-aware (freeze,
                   motion_decay)
``detail``         (T,) fine-scale detail and finest-scale share (sharpness)
                   per frame (detail)
``embeddings``     (T, d) embeddings of ``config.backbone`` (repetition,
                   progression, subject_consistency); ``embeddings:<name>`` of
                   another backbone (``dino``, ``clip:MODEL/TAG`` ...).
                   Learned backbones embed frames decoded at their own
                   resolution (``Frame.model_rgb``) with their library's
                   transform, batched on ``config.device``
``background``     (T, d) border-ring descriptor (background_consistency)
``pixel_steps``    per pair: mean absolute RGB difference and per-channel
                   median shift (temporal_flickering and its flicker flag)
``smoothness``     interpolation errors of up to 48 odd frames
                   (motion_smoothness)
``thumbnails``     4 evenly spaced JPEG data URIs (reports)
``colour``         (T, 55) colour statistics per frame: CIELAB means, balanced
                   saturation, log-luma contrast, clipped fractions, 8 x 6
                   luma layout (drift)
``signature``      (T, 48) uint8 8 x 6 mean-luma grid per frame
                   (:func:`metrics.tempo.frame_signature`); always computed
                   (a resize of the luma frame): ``compare`` aligns it
                   against the baseline's for the tempo
=================  ===========================================================
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import cv2
import numpy as np

from vqeval.config import ScoreConfig
from vqeval.results import ConfigError

#: Thumbnails kept per video for reports (evenly spaced), long side in pixels.
THUMBNAILS = 4
THUMBNAIL_SIZE = 120
#: Frames embedded per batch by learned backbones (``ScoreConfig.batch_size``).
EMBED_BATCH = 32
#: Frame pairs per RAFT forward pass.
RAFT_BATCH = 8


@dataclass
class FrameFeatures:
    """What one :class:`~vqeval.framepass.FramePass` accumulated (``None`` =
    not computed). A registered feature may fill attributes of its own.

    Attributes:
        times_s: (T,) analysis frame times, s.
        height, width: analysis frame size, px.
        flow: :class:`metrics.motion.FlowSeries`.
        cuts: frame indices that start a new shot.
        content: :class:`metrics.content.ContentSeries`.
        detail: (T,) detail per frame (dimensionless).
        embeddings: backbone name -> (T, d) float32, rows L2-normalised.
        background: (T, d) float32 border-ring descriptor.
        pixel_diffs: (T-1,) mean absolute RGB difference per pair, grey levels.
        pixel_shifts: (T-1, 3) per-channel median difference per pair.
        smoothness_errors: interpolation errors (grey levels) of the
            evaluated odd frames; ``smoothness_flow`` the flow backend used.
        thumbnails: JPEG data URIs.
        signature: (T, 48) uint8 per-frame signatures (:mod:`metrics.tempo`).
        colour: (T, 55) float32 :func:`metrics.drift.colour_stats` rows.
        sharpness: (T,) finest-scale share of the detail per frame, with
            ``detail`` (:func:`metrics.detail.sharpness_level`).
    """

    times_s: np.ndarray
    height: int
    width: int
    flow: Any = None
    cuts: list[int] | None = None
    content: Any = None
    detail: np.ndarray | None = None
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    background: np.ndarray | None = None
    pixel_diffs: np.ndarray | None = None
    pixel_shifts: np.ndarray | None = None
    smoothness_errors: list[float] | None = None
    smoothness_flow: str = ""
    thumbnails: list[str] = field(default_factory=list)
    signature: np.ndarray | None = None
    colour: np.ndarray | None = None
    sharpness: np.ndarray | None = None


class Frame:
    """One analysis frame as the accumulators see it; what several of them
    derive from it (``gray``, ``contrast``) is computed once, on first use.

    Attributes:
        index: 0-based position in the pass.
        rgb: (H, W, 3) uint8 RGB analysis frame.
        t_s: time it is shown at, s.
        model_rgb: the same frame decoded for learned backbones (shorter side
            :func:`vqeval.framepass.model_side`), ``None`` when not decoded.
    """

    def __init__(
        self, index: int, rgb: np.ndarray, t_s: float, model_rgb: np.ndarray | None = None
    ) -> None:
        self.index = index
        self.rgb = rgb
        self.t_s = t_s
        self.model_rgb = model_rgb

    @cached_property
    def gray(self) -> np.ndarray:
        """(H, W) uint8 luma."""
        return cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY)

    @cached_property
    def contrast(self) -> np.ndarray:
        """Local Weber contrast of :attr:`gray` (shared by content and detail)."""
        from vqeval.metrics.content import weber_contrast

        return weber_contrast(self.gray)


@dataclass(frozen=True)
class PassContext:
    """What an accumulator is built from.

    Attributes:
        config: the scoring configuration.
        fps: analysis frame rate, frames/s.
        expected_frames: about how many frames will come; ``None`` = unknown.
    """

    config: ScoreConfig
    fps: float
    expected_frames: int | None = None


class Accumulator:
    """One frame feature accumulated over a pass (subclass and register it).

    Class attributes:
        name: the feature name dimensions declare in ``Dimension.needs``.
        provides: the :class:`FrameFeatures` attributes :meth:`result` fills
            (the first one tells whether the feature was computed).
        requires: features computed (and finished first) whenever this one is.
        always: computed in every pass, asked for or not.

    ``param`` is the part after ``:`` of a parameterised name
    (``embeddings:dino``), "" otherwise.
    """

    name: str = ""
    provides: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    always: bool = False

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        self.ctx = ctx
        self.param = param

    def push(self, frame: Frame) -> None:
        """Take the next frame."""
        raise NotImplementedError

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        """The attributes to set on ``features`` (which holds those of the
        features finished before: :attr:`requires` first)."""
        raise NotImplementedError

    @classmethod
    def present(cls, features: FrameFeatures, param: str = "") -> bool:
        """Whether ``features`` already holds this feature."""
        return getattr(features, cls.provides[0], None) is not None


_FEATURES: dict[str, type[Accumulator]] = {}


def register_feature(cls: type[Accumulator]) -> type[Accumulator]:
    """Add an accumulator class to the registry (a name may be registered once)."""
    if not cls.name or not cls.provides:
        raise ValueError(f"feature {cls.__name__}: name and provides are required")
    if cls.name in _FEATURES and _FEATURES[cls.name] is not cls:
        raise ValueError(f"feature {cls.name!r} registered twice")
    _FEATURES[cls.name] = cls
    return cls


def feature_registry() -> dict[str, type[Accumulator]]:
    """Registered features by name, in registration order (the order of
    their :meth:`Accumulator.result` calls)."""
    return dict(_FEATURES)


def feature_class(name: str) -> tuple[type[Accumulator], str]:
    """The accumulator class of feature ``name`` (``embeddings:dino`` ->
    ``embeddings``) and its parameter.

    Raises:
        KeyError: an unknown feature.
    """
    base, _, param = name.partition(":")
    return _FEATURES[base], param


def has_feature(features: FrameFeatures, name: str, config: ScoreConfig) -> bool:
    """Whether ``features`` holds feature ``name`` (``embeddings`` = of
    ``config.backbone``)."""
    if name == "embeddings":
        name = f"embeddings:{config.backbone}"
    cls, param = feature_class(name)
    return cls.present(features, param)


# --------------------------------------------------------------------- features


@register_feature
class Signature(Accumulator):
    name = "signature"
    provides = ("signature",)
    always = True  # one tiny row per frame: compare's tempo needs it

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        super().__init__(ctx, param)
        self._rows: list[np.ndarray] = []

    def push(self, frame: Frame) -> None:
        from vqeval.metrics.tempo import frame_signature

        self._rows.append(frame_signature(frame.gray))

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        return {"signature": np.stack(self._rows) if self._rows else None}


def load_raft(weights_dir: str | None = None, device: str = "cpu") -> Any:
    """torchvision RAFT (see :func:`vqeval.weights.load_raft`, the owner of weights)."""
    from vqeval.weights import load_raft as _load

    return _load(weights_dir, device)


#: The advice of :mod:`vqeval.weights` for a missing backbone model: wrong
#: for RAFT, which is a flow method (``--flow``), not a backbone.
_BACKBONE_HINT = "; or use the weight-free backbone 'pixel'"


def validate_flow(config: Any) -> None:
    """Check ``config.flow`` before any decoding (a usage error, not a video's).

    Raises:
        ConfigError: unknown backend, or ``"raft"`` without its weights or
            without an importable torchvision.
    """
    from vqeval.metrics import motion as mm

    if config.flow == "raft":
        try:
            load_raft(config.weights_dir, getattr(config, "device", "cpu"))
        except ConfigError as e:  # point at the weight-free flow, not a backbone
            msg = str(e).replace(_BACKBONE_HINT, "")
            if "'dis'" not in msg:
                msg += "; or use the weight-free optical flow: --flow dis (the default)"
            raise ConfigError(msg) from e
    elif config.flow not in mm.FLOW_METHODS:
        raise ConfigError(
            f"unknown flow backend {config.flow!r}; known: {', '.join((*mm.FLOW_METHODS, 'raft'))}"
        )


def _padded_raft(frames: np.ndarray, model: Any) -> np.ndarray:
    """RAFT fields of consecutive pairs; sides padded to multiples of 8, cropped back."""
    from vqeval.metrics.motion import torch_flow_fields

    h, w = frames.shape[1:3]
    ph, pw = (-h) % 8, (-w) % 8
    f = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else frames
    return torch_flow_fields(f, model)[:, :h, :w]


@register_feature
class Flow(Accumulator):
    name = "flow"
    provides = ("flow",)

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        from vqeval.metrics.motion import FlowAccumulator

        super().__init__(ctx, param)
        config = ctx.config
        validate_flow(config)
        self._raft = load_raft(config.weights_dir, config.device) if config.flow == "raft" else None
        self._raft_buf: list[tuple[np.ndarray, np.ndarray, float]] = []
        self._flow = FlowAccumulator(config.flow)

    def push(self, frame: Frame) -> None:
        if self._raft is None:
            self._flow.push(frame.gray, frame.t_s)
            return
        if not self._raft_buf:
            self._flow.push_field(None, frame.gray, frame.t_s)  # the first frame has no field
        self._raft_buf.append((frame.rgb, frame.gray, frame.t_s))
        if len(self._raft_buf) > RAFT_BATCH:
            self._flush_raft()

    def _flush_raft(self) -> None:
        """Fields of the buffered pairs; the buffer keeps its last frame."""
        buf = self._raft_buf
        if len(buf) < 2:
            return
        fields = _padded_raft(np.stack([b[0] for b in buf]), self._raft)
        for j in range(1, len(buf)):
            self._flow.push_field(fields[j - 1], buf[j][1], buf[j][2])
        self._raft_buf = buf[-1:]

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        if self._raft is not None:
            self._flush_raft()
        return {"flow": self._flow.result()}


@register_feature
class Cuts(Accumulator):
    name = "cuts"
    provides = ("cuts",)

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        from vqeval.metrics.shots import CutDetector

        super().__init__(ctx, param)
        self._det = CutDetector(ctx.fps)

    def push(self, frame: Frame) -> None:
        self._det.push(frame.rgb)

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        return {"cuts": list(self._det.cuts)}


@register_feature
class Content(Accumulator):
    name = "content"
    provides = ("content",)
    requires = ("cuts",)

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        from vqeval.metrics.content import ContentAccumulator

        super().__init__(ctx, param)
        self._acc = ContentAccumulator(ctx.fps)

    def push(self, frame: Frame) -> None:
        self._acc.push(frame.gray, frame.t_s, frame.contrast)

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        times = features.times_s
        cut_times = [float(times[c]) for c in features.cuts or () if 0 < c < len(times)]
        return {"content": self._acc.result(cut_times)}


@register_feature
class Detail(Accumulator):
    name = "detail"
    provides = ("detail", "sharpness")

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        super().__init__(ctx, param)
        self._detail: list[float] = []
        self._sharp: list[float] = []

    def push(self, frame: Frame) -> None:
        from vqeval.metrics.detail import detail_level, sharpness_level

        self._detail.append(detail_level(frame.gray, frame.contrast))
        self._sharp.append(sharpness_level(frame.contrast, self._detail[-1]))

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        return {
            "detail": np.asarray(self._detail, dtype=np.float64),
            "sharpness": np.asarray(self._sharp, dtype=np.float64),
        }


@register_feature
class Embeddings(Accumulator):
    """``embeddings:<backbone>``; plain ``embeddings`` = ``config.backbone``."""

    name = "embeddings"
    provides = ("embeddings",)

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        from vqeval.weights import get_backbone

        c = ctx.config
        param = param or c.backbone
        super().__init__(ctx, param)
        self._bb = get_backbone(param, c.weights_dir, device=c.device, batch_size=c.batch_size)
        self._batch = max(1, int(c.batch_size))
        self._buf: list[np.ndarray] = []
        self._out: list[np.ndarray] = []

    def push(self, frame: Frame) -> None:
        learned = frame.model_rgb is not None and self._bb.frame_side > 0
        self._buf.append(frame.model_rgb if learned else frame.rgb)
        if len(self._buf) >= self._batch:
            self._out.append(self._bb.embed(np.stack(self._buf)))
            self._buf.clear()

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        if self._buf:
            self._out.append(self._bb.embed(np.stack(self._buf)))
            self._buf.clear()
        out = self._out
        dim = out[0].shape[1] if out else 1
        emb = np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)
        return {"embeddings": {self.param: emb}}

    @classmethod
    def present(cls, features: FrameFeatures, param: str = "") -> bool:
        return param in features.embeddings


@register_feature
class Background(Accumulator):
    name = "background"
    provides = ("background",)

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        super().__init__(ctx, param)
        self._rows: list[np.ndarray] = []

    def push(self, frame: Frame) -> None:
        from vqeval.metrics.consistency import background_features

        self._rows.append(background_features(frame.rgb[None])[0])

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        rows = self._rows
        return {
            "background": np.stack(rows).astype(np.float32)
            if rows
            else np.zeros((0, 1), np.float32)
        }


@register_feature
class PixelSteps(Accumulator):
    name = "pixel_steps"
    provides = ("pixel_diffs", "pixel_shifts")

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        super().__init__(ctx, param)
        self._prev: np.ndarray | None = None
        self._diffs: list[float] = []
        self._shifts: list[np.ndarray] = []

    def push(self, frame: Frame) -> None:
        from vqeval.metrics.consistency import brightness_shift

        if self._prev is not None:
            self._diffs.append(float(cv2.absdiff(self._prev, frame.rgb).mean()))
            self._shifts.append(brightness_shift(self._prev, frame.rgb))
        self._prev = frame.rgb

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        return {
            "pixel_diffs": np.asarray(self._diffs, dtype=np.float64),
            "pixel_shifts": np.asarray(self._shifts, dtype=np.float64).reshape(-1, 3),
        }


@register_feature
class Smoothness(Accumulator):
    name = "smoothness"
    provides = ("smoothness_errors", "smoothness_flow")

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        from vqeval.metrics.consistency import SmoothnessPredictor, smoothness_frames

        super().__init__(ctx, param)
        self._flow = "farneback" if ctx.config.flow == "farneback" else "dis-ultrafast"
        self._pred = SmoothnessPredictor(method="warp", flow=self._flow)
        n = ctx.expected_frames
        self._at = None if n is None else set(smoothness_frames(n).tolist())
        self._ring: list[np.ndarray] = []
        self._err: list[float] = []

    def push(self, frame: Frame) -> None:
        self._ring = [*self._ring[-2:], frame.gray]
        mid = frame.index - 1
        if len(self._ring) == 3 and mid % 2 == 1 and self._take(mid):
            self._err.append(self._pred.error(*self._ring))

    def _take(self, mid: int) -> bool:
        if self._at is not None:
            return mid in self._at
        return len(self._err) < 48  # unknown length: the first 48

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        return {"smoothness_errors": list(self._err), "smoothness_flow": self._flow}


def thumbnail_uri(frame: np.ndarray) -> str | None:
    """JPEG data URI of an RGB frame reduced to ``THUMBNAIL_SIZE`` px (long side)."""
    h, w = frame.shape[:2]
    s = THUMBNAIL_SIZE / max(h, w)
    f = frame
    if s < 1:
        f = cv2.resize(frame, (max(1, round(w * s)), max(1, round(h * s))), cv2.INTER_AREA)
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
    )
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode() if ok else None


def _spread(n: int, k: int) -> set[int]:
    return {int(i) for i in np.linspace(0, n - 1, min(k, n)).round()} if n > 0 else set()


@register_feature
class Thumbnails(Accumulator):
    name = "thumbnails"
    provides = ("thumbnails",)

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        super().__init__(ctx, param)
        n = ctx.expected_frames
        self._at = _spread(n, THUMBNAILS) if n else {0}
        self._thumbs: dict[int, str] = {}
        self._last: np.ndarray | None = None
        self._n = 0

    def push(self, frame: Frame) -> None:
        if frame.index in self._at:
            uri = thumbnail_uri(frame.rgb)
            if uri:
                self._thumbs[frame.index] = uri
        self._last = frame.rgb
        self._n = frame.index + 1

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        if self._last is not None and len(self._thumbs) < min(THUMBNAILS, self._n):
            uri = thumbnail_uri(self._last)  # a clip shorter than expected
            if uri:
                self._thumbs[self._n - 1] = uri
        return {"thumbnails": [self._thumbs[k] for k in sorted(self._thumbs)]}

    @classmethod
    def present(cls, features: FrameFeatures, param: str = "") -> bool:
        return bool(features.thumbnails)


@register_feature
class Colour(Accumulator):
    name = "colour"
    provides = ("colour",)

    def __init__(self, ctx: PassContext, param: str = "") -> None:
        super().__init__(ctx, param)
        self._rows: list[np.ndarray] = []

    def push(self, frame: Frame) -> None:
        from vqeval.metrics.drift import colour_stats

        self._rows.append(colour_stats(frame.rgb))

    def result(self, features: FrameFeatures) -> dict[str, Any]:
        rows = self._rows
        return {
            "colour": np.stack(rows).astype(np.float32) if rows else np.zeros((0, 55), np.float32)
        }
