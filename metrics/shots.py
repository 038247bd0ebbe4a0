"""Shot boundaries (hard cuts) with PySceneDetect.

Long generated videos are mostly single shots, but some generators (and every
edited clip) cut between shots. A cut is a change of content that says
nothing about whether the shot itself moves, and a cut back to an earlier
shot is a scene that returns. :class:`CutDetector` feeds analysis frames one
at a time to PySceneDetect's ``ContentDetector`` (HSV content difference of
consecutive frames, threshold 27 of 255 by default, the library's default)
and reports the frame indices that start a new shot.

A second, luma-only ``ContentDetector`` finds cuts in grey or washed-out
footage, where hue and saturation differences are ~0. PySceneDetect's HSV
difference also fires on brightness flicker, flashes and
colour jumps; a candidate is kept only when the picture's *structure*
changes too: the correlation of the two frames' local Weber contrast
(:func:`metrics.content.weber_contrast`, illumination removed) at 64 px is
below :data:`CUT_STRUCTURE` (measured: real cuts 0.05-0.52, flicker and
flash candidates 0.89-1.0).

Gradual transitions (cross-fades) are not cuts for this detector; they are
content change, which is what they are.
"""

from __future__ import annotations

import itertools

import cv2
import numpy as np

__all__ = [
    "CUT_STRUCTURE",
    "CUT_THRESHOLD",
    "MIN_SHOT_S",
    "CutDetector",
    "detect_cuts",
    "shot_ranges",
    "structure_correlation",
]

#: ContentDetector threshold (mean HSV difference, 0-255): PySceneDetect's default.
CUT_THRESHOLD = 27.0
#: Shortest shot, s: a second cut within this time of the last is ignored
#: (a flash, or fast motion at a low analysis rate).
MIN_SHOT_S = 0.5
#: A cut candidate is kept when the structure correlation of the frames
#: around it is below this (-1..1).
CUT_STRUCTURE = 0.6
#: Frames whose structure thumbnail is kept to confirm late-reported cuts.
_RING = 64


def _structure(frame_rgb: np.ndarray) -> np.ndarray:
    """Unit-norm, zero-mean Weber-contrast thumbnail (64 px wide) of a frame."""
    from vqeval.metrics.content import weber_contrast

    g = cv2.cvtColor(np.ascontiguousarray(frame_rgb), cv2.COLOR_RGB2GRAY)
    h, w = g.shape
    if w > 64:
        g = cv2.resize(g, (64, max(1, round(64 * h / w))), interpolation=cv2.INTER_AREA)
    x = weber_contrast(g).astype(np.float64)
    x -= x.mean()
    return x / (np.linalg.norm(x) + 1e-9)


def structure_correlation(a_rgb: np.ndarray, b_rgb: np.ndarray) -> float:
    """Correlation (-1..1) of two frames' local structure, illumination removed."""
    return float((_structure(a_rgb) * _structure(b_rgb)).sum())


class CutDetector:
    """Streaming hard-cut detector over RGB analysis frames.

    Args:
        fps: analysis frame rate, frames/s (> 0).
        threshold: ContentDetector threshold (0-255; higher = fewer cuts).
        min_shot_s: shortest shot in seconds.
    """

    def __init__(
        self, fps: float, *, threshold: float = CUT_THRESHOLD, min_shot_s: float = MIN_SHOT_S
    ) -> None:
        from scenedetect.common import FrameTimecode
        from scenedetect.detectors import ContentDetector

        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        self._fps = float(fps)
        self._timecode = FrameTimecode
        min_len = max(1, round(min_shot_s * fps))
        # the default HSV detector, and a luma-only one for grey or washed-out
        # footage (hue and saturation differences are ~0 there)
        self._dets = (
            ContentDetector(threshold=threshold, min_scene_len=min_len),
            ContentDetector(threshold=threshold, min_scene_len=min_len, luma_only=True),
        )
        self._index = 0
        self._ring: dict[int, np.ndarray] = {}
        self.cuts: list[int] = []

    def push(self, frame_rgb: np.ndarray) -> None:
        """Add the next (H, W, 3) uint8 RGB frame."""
        bgr = cv2.cvtColor(np.ascontiguousarray(frame_rgb), cv2.COLOR_RGB2BGR)
        self._ring[self._index] = _structure(frame_rgb)
        self._ring.pop(self._index - _RING, None)
        tc = self._timecode(self._index, fps=self._fps)
        found = {int(x.frame_num) for d in self._dets for x in d.process_frame(tc, bgr)}
        self._index += 1
        for c in sorted(found):
            if c <= 0 or (self.cuts and c <= self.cuts[-1]):
                continue
            a, b = self._ring.get(c - 1), self._ring.get(c)
            if a is None or b is None or float((a * b).sum()) < CUT_STRUCTURE:
                self.cuts.append(c)


def detect_cuts(frames: np.ndarray, fps: float, **kwargs: float) -> list[int]:
    """Frame indices that start a new shot in (T, H, W, 3) uint8 RGB ``frames``."""
    det = CutDetector(fps, **kwargs)
    for f in frames:
        det.push(f)
    return list(det.cuts)


def shot_ranges(cuts: list[int], n_frames: int) -> list[tuple[int, int]]:
    """``[start, end)`` frame ranges of the shots between ``cuts``."""
    edges = [0, *sorted(c for c in cuts if 0 < c < n_frames), n_frames]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]
