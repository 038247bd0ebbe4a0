"""One streaming pass over a video's analysis frames.

Every per-frame and per-pair quantity the dimensions read is accumulated
while the video decodes, holding a handful of frames at a time: memory grows
with the video's length only by one small feature row per frame (about
2 KB with the weight-free backbone), never by the frames themselves, so a
40-minute clip fits where a 10-minute one does.

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
                   resolution (``model_rgb`` of :meth:`FramePass.push`) with
                   their library's transform, batched on ``config.device``
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

Dimensions declare the features they need (``Dimension.needs``); the pass
computes only those.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from vqeval.config import ScoreConfig

__all__ = ["ALL_FEATURES", "THUMBNAILS", "FrameFeatures", "FramePass"]

#: Every feature name the pass knows (``embeddings:<name>`` comes on top).
ALL_FEATURES = (
    "flow",
    "cuts",
    "content",
    "detail",
    "embeddings",
    "background",
    "pixel_steps",
    "smoothness",
    "thumbnails",
    "colour",
)
#: Thumbnails kept per video for reports (evenly spaced), long side in pixels.
THUMBNAILS = 4
THUMBNAIL_SIZE = 120
#: Frames embedded per batch by learned backbones (``ScoreConfig.batch_size``).
EMBED_BATCH = 32
#: Frame pairs per RAFT forward pass.
RAFT_BATCH = 8


@dataclass
class FrameFeatures:
    """What one :class:`FramePass` accumulated (``None`` = not computed).

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


class FramePass:
    """Accumulates the features in ``needs`` over frames pushed in order.

    Args:
        config: the scoring configuration (backbone, flow, weights).
        fps: analysis frame rate, frames/s (> 0).
        expected_frames: about how many frames will come (spreads the
            thumbnails and the smoothness samples); ``None`` = unknown.
        needs: feature names (see module doc); ``None`` = all of
            :data:`ALL_FEATURES`.

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
        from vqeval.metrics.consistency import SmoothnessPredictor, smoothness_frames
        from vqeval.metrics.content import ContentAccumulator
        from vqeval.metrics.motion import FlowAccumulator
        from vqeval.metrics.shots import CutDetector
        from vqeval.weights import get_backbone

        if not fps > 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self.config = config
        self.fps = float(fps)
        want = set(ALL_FEATURES if needs is None else needs)
        if "content" in want:
            want.add("cuts")
        if "embeddings" in want:
            want.discard("embeddings")
            want.add(f"embeddings:{config.backbone}")
        self.needs = frozenset(want)
        self._n = 0
        self._times: list[float] = []
        self._hw = (0, 0)
        self._prev_rgb: np.ndarray | None = None
        self._gray_ring: list[np.ndarray] = []
        expected = expected_frames if expected_frames and expected_frames > 0 else None

        self._flow = None
        self._raft: Any = None
        self._raft_buf: list[tuple[np.ndarray, np.ndarray, float]] = []
        if "flow" in want:
            from vqeval.dimensions.motion import load_raft, validate_flow

            validate_flow(config)
            if config.flow == "raft":
                self._raft = load_raft(config.weights_dir, config.device)
            self._flow = FlowAccumulator(config.flow)
        self._cuts = CutDetector(self.fps) if "cuts" in want else None
        self._content = ContentAccumulator(self.fps) if "content" in want else None
        self._detail: list[float] | None = [] if "detail" in want else None
        self._sharp: list[float] = []
        self._embed: dict[str, tuple[Any, list[np.ndarray], list[np.ndarray]]] = {}
        for name in sorted(n.split(":", 1)[1] for n in want if n.startswith("embeddings:")):
            bb = get_backbone(
                name, config.weights_dir, device=config.device, batch_size=config.batch_size
            )
            self._embed[name] = (bb, [], [])
        self._embed_batch = max(1, int(config.batch_size))
        self._background: list[np.ndarray] | None = [] if "background" in want else None
        self._diffs: list[float] | None = [] if "pixel_steps" in want else None
        self._shifts: list[np.ndarray] = []
        self._smooth = None
        self._smooth_at: set[int] | None = None
        self._smooth_err: list[float] = []
        self._smooth_flow = "farneback" if config.flow == "farneback" else "dis-ultrafast"
        if "smoothness" in want:
            self._smooth = SmoothnessPredictor(method="warp", flow=self._smooth_flow)
            self._smooth_at = (
                None if expected is None else set(smoothness_frames(expected).tolist())
            )
        self._thumb_at = _spread(expected, THUMBNAILS) if expected else {0}
        self._thumbs: dict[int, str] = {}
        self._last_rgb: np.ndarray | None = None
        self._want_thumbs = "thumbnails" in want
        self._colour: list[np.ndarray] | None = [] if "colour" in want else None
        self._signature: list[np.ndarray] = []  # always: one tiny row per frame

    # ------------------------------------------------------------------ push

    def push(self, rgb: np.ndarray, t_s: float, model_rgb: np.ndarray | None = None) -> None:
        """Add the next (H, W, 3) uint8 RGB analysis frame shown at ``t_s`` s.

        ``model_rgb`` is the same frame decoded for learned backbones (shorter
        side :func:`model_side`, see :func:`vqeval.pipeline.analyse`); learned
        backbones embed it instead of the analysis frame when it is given.
        """
        from vqeval.metrics.consistency import background_features, brightness_shift
        from vqeval.metrics.content import weber_contrast
        from vqeval.metrics.detail import detail_level, sharpness_level
        from vqeval.metrics.tempo import frame_signature

        i = self._n
        self._hw = rgb.shape[:2]
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        self._signature.append(frame_signature(gray))
        if self._cuts is not None:
            self._cuts.push(rgb)
        if self._flow is not None:
            if self._raft is None:
                self._flow.push(gray, t_s)
            else:
                if not self._raft_buf:
                    self._flow.push_field(None, gray, t_s)  # the first frame has no field
                self._raft_buf.append((rgb, gray, t_s))
                if len(self._raft_buf) > RAFT_BATCH:
                    self._flush_raft()
        contrast = (
            weber_contrast(gray) if self._content is not None or self._detail is not None else None
        )  # shared by content and detail
        if self._content is not None:
            self._content.push(gray, t_s, contrast)
        if self._detail is not None:
            self._detail.append(detail_level(gray, contrast))
            self._sharp.append(sharpness_level(contrast, self._detail[-1]))
        for _, (bb, buf, out) in self._embed.items():
            buf.append(model_rgb if model_rgb is not None and bb.frame_side > 0 else rgb)
            if len(buf) >= self._embed_batch:
                out.append(bb.embed(np.stack(buf)))
                buf.clear()
        if self._background is not None:
            self._background.append(background_features(rgb[None])[0])
        if self._diffs is not None and self._prev_rgb is not None:
            self._diffs.append(float(cv2.absdiff(self._prev_rgb, rgb).mean()))
            self._shifts.append(brightness_shift(self._prev_rgb, rgb))
        if self._smooth is not None:
            self._gray_ring = [*self._gray_ring[-2:], gray]
            mid = i - 1
            if len(self._gray_ring) == 3 and mid % 2 == 1 and self._take_smooth(mid):
                self._smooth_err.append(self._smooth.error(*self._gray_ring))
        if self._colour is not None:
            from vqeval.metrics.drift import colour_stats

            self._colour.append(colour_stats(rgb))
        if self._want_thumbs and i in self._thumb_at:
            uri = thumbnail_uri(rgb)
            if uri:
                self._thumbs[i] = uri
        self._prev_rgb = rgb if self._diffs is not None else None
        self._last_rgb = rgb
        self._times.append(float(t_s))
        self._n += 1

    def _take_smooth(self, mid: int) -> bool:
        if self._smooth_at is not None:
            return mid in self._smooth_at
        return len(self._smooth_err) < 48  # unknown length: the first 48

    def _flush_raft(self) -> None:
        """Fields of the buffered pairs; the buffer keeps its last frame."""
        buf = self._raft_buf
        if len(buf) < 2:
            return
        assert self._flow is not None
        fields = _padded_raft(np.stack([b[0] for b in buf]), self._raft)
        for j in range(1, len(buf)):
            self._flow.push_field(fields[j - 1], buf[j][1], buf[j][2])
        self._raft_buf = buf[-1:]

    # ---------------------------------------------------------------- finish

    def finish(self) -> FrameFeatures:
        """The accumulated :class:`FrameFeatures` (call once, after the last frame)."""
        times = np.asarray(self._times, dtype=np.float64)
        h, w = self._hw
        feats = FrameFeatures(times_s=times, height=int(h), width=int(w))
        if self._signature:
            feats.signature = np.stack(self._signature)
        if self._flow is not None:
            if self._raft is not None:
                self._flush_raft()
            feats.flow = self._flow.result()
        if self._cuts is not None:
            feats.cuts = list(self._cuts.cuts)
        if self._content is not None:
            cut_times = [float(times[c]) for c in feats.cuts or () if 0 < c < len(times)]
            feats.content = self._content.result(cut_times)
        if self._detail is not None:
            feats.detail = np.asarray(self._detail, dtype=np.float64)
            feats.sharpness = np.asarray(self._sharp, dtype=np.float64)
        for name, (bb, buf, out) in self._embed.items():
            if buf:
                out.append(bb.embed(np.stack(buf)))
                buf.clear()
            dim = out[0].shape[1] if out else 1
            feats.embeddings[name] = (
                np.concatenate(out).astype(np.float32) if out else np.zeros((0, dim), np.float32)
            )
        if self._background is not None:
            feats.background = (
                np.stack(self._background).astype(np.float32)
                if self._background
                else np.zeros((0, 1), np.float32)
            )
        if self._diffs is not None:
            feats.pixel_diffs = np.asarray(self._diffs, dtype=np.float64)
            feats.pixel_shifts = np.asarray(self._shifts, dtype=np.float64).reshape(-1, 3)
        if self._smooth is not None:
            feats.smoothness_errors = list(self._smooth_err)
            feats.smoothness_flow = self._smooth_flow
        if self._colour is not None:
            feats.colour = (
                np.stack(self._colour).astype(np.float32)
                if self._colour
                else np.zeros((0, 55), np.float32)
            )
        if self._want_thumbs:
            if self._last_rgb is not None and len(self._thumbs) < min(THUMBNAILS, self._n):
                uri = thumbnail_uri(self._last_rgb)  # a clip shorter than expected
                if uri:
                    self._thumbs[self._n - 1] = uri
            feats.thumbnails = [self._thumbs[k] for k in sorted(self._thumbs)]
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


def _padded_raft(frames: np.ndarray, model: Any) -> np.ndarray:
    """RAFT fields of consecutive pairs; sides padded to multiples of 8, cropped back."""
    from vqeval.metrics.motion import torch_flow_fields

    h, w = frames.shape[1:3]
    ph, pw = (-h) % 8, (-w) % 8
    f = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else frames
    return torch_flow_fields(f, model)[:, :h, :w]


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
