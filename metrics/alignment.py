"""Prompt-video alignment: CLIP similarity of a text and frames over time.

Pure functions over embeddings (no model here): the frame and text vectors
come from the same CLIP model, L2-normalised, so their dot product is the
cosine similarity in -1..1 (higher = the frame matches the prompt better).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CLIPSCORE_W", "Alignment", "clip_score", "text_alignment"]

#: CLIPScore weight (Hessel et al. 2021): score = w * max(cos, 0); a cosine of
#: 1 / w = 0.4 and above maps to 100 (matched CLIP ViT-B/32 image-caption
#: pairs sit around 0.3).
CLIPSCORE_W = 2.5


@dataclass(frozen=True)
class Alignment:
    """Prompt-frame similarity of one video.

    Attributes:
        per_frame: (T,) cosine of each frame with the prompt, -1..1.
        mean: mean cosine over frames.
        early, late: mean cosine of the first and last third of the frames
            (the whole clip when it has fewer than 3 frames).
        drift: ``late - early`` in cosine units (negative = the video drifts
            away from the prompt).
    """

    per_frame: np.ndarray
    mean: float
    early: float
    late: float
    drift: float


def text_alignment(frames: np.ndarray, text: np.ndarray) -> Alignment:
    """Cosine of each frame embedding with the text embedding, and its trend.

    Args:
        frames: (T, d) float L2-normalised frame embeddings, T >= 1.
        text: (d,) or (1, d) float L2-normalised text embedding (same model).

    Raises:
        ValueError: no frames, or the dimensions differ.
    """
    f = np.asarray(frames, dtype=np.float64)
    t = np.asarray(text, dtype=np.float64).reshape(-1)
    if f.ndim != 2 or len(f) == 0:
        raise ValueError(f"frames must be (T >= 1, d), got shape {f.shape}")
    if f.shape[1] != len(t):
        raise ValueError(f"frame dim {f.shape[1]} != text dim {len(t)}")
    cos = np.clip(f @ t, -1.0, 1.0)
    k = max(1, len(cos) // 3)
    early, late = float(cos[:k].mean()), float(cos[-k:].mean())
    return Alignment(cos, float(cos.mean()), early, late, late - early)


def clip_score(cosine: float, w: float = CLIPSCORE_W) -> float:
    """CLIPScore as 0-100: ``100 * min(1, w * max(cos, 0))`` (higher = better match)."""
    return float(100.0 * min(1.0, w * max(float(cosine), 0.0)))
