"""Detail retention: does the picture keep its texture, or collapse into blur?

Past their training length some generators dissolve the picture into a flat,
blurred field (a garden becomes a brown haze) that may still drift slowly, so
it is neither frozen nor alive. The **detail** of a frame is the RMS of its
fine-scale band of local Weber contrast: :func:`metrics.content.weber_contrast`
(illumination removed, pixel noise lightly blurred) minus the same image
blurred with sigma ``4 x long side / 160`` px. It is dimensionless (0.01 =
1 % of the local brightness) and does not depend on exposure or gain.
Measured at 160 px: real generated videos 0.03-0.2; a blurred field < 0.01.

A clip **collapses** when, for at least ``max(min_s, min_fraction x
duration)`` (one run), its detail stays below

* ``dissolve_ratio`` x its opening detail (median over the first
  ``max(1 s, 10 %)`` of the shot; every hard cut starts a new reference, so a
  cut to a softer shot is not a collapse): the picture dissolved, or
* ``featureless``: there is hardly any detail at all (a clip born blurred), or
* ``blurred`` (when the per-frame ``sharpness`` is given): the finest scale
  fades out of the picture. **Sharpness** is the RMS of the finest band of
  local Weber contrast (the contrast image minus itself blurred with sigma
  ``long side / 160`` px) over the RMS of the detail band: the share of the
  detail that sits at the finest scale, dimensionless, independent of
  exposure and of how much texture the scene has (generated clips measure
  0.17-0.29 at 160 px). Blur removes the finest scale first. A dissolving
  generator often jumps between blurred scenes, which reads as cuts, so the
  sharpness is followed *across* cuts: the jump at each cut is removed (the
  series continues where the last shot left it) and the change within shots
  accumulates against the clip's opening (first ``max(1 s, min(5 s, 10 %))``,
  after a running median of 2 s within each shot). A cut to a softer shot
  therefore adds nothing; a picture that keeps softening does.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np
from vqeval.metrics.content import weber_contrast
from vqeval.metrics.stats import longest_run, required_span_s

__all__ = [
    "BLUR_RATIO",
    "DISSOLVE_RATIO",
    "FEATURELESS",
    "CollapseStats",
    "collapse_stats",
    "detail_level",
    "sharpness_level",
]

#: Default dissolve ratio: detail below this fraction of the opening's.
DISSOLVE_RATIO = 0.3
#: Default featureless level (RMS fine-scale Weber contrast).
FEATURELESS = 0.008
#: Default blur ratio: sharpness below this fraction of the opening's
#: (accumulated within shots, see module doc). The procedure's point
#: (``benchmarks/drift_families.py``, balanced accuracy on the real dev
#: clips, plateau middle; 0.8 in-sample and in 4 of 5 LOSO folds): real
#: healthy dev clips keep >= 0.89, derived healthy controls >= 0.83
#: (``docs/metrics.md``, detail).
BLUR_RATIO = 0.8
#: A collapse must last at least this long (s) ...
MIN_S = 1.0
#: ... and this share of the duration.
MIN_FRACTION = 0.2


def detail_level(gray: np.ndarray, contrast: np.ndarray | None = None) -> float:
    """Fine-scale detail of one luma frame (see module doc), dimensionless >= 0
    (``contrast``: its :func:`metrics.content.weber_contrast`, when already computed)."""
    c = weber_contrast(gray) if contrast is None else contrast
    long_side = max(c.shape)
    band = c - cv2.GaussianBlur(c, (0, 0), max(1.0, 4.0 * long_side / 160.0))
    return float(np.sqrt(np.mean(band * band)))


def sharpness_level(contrast: np.ndarray, detail: float | None = None) -> float:
    """Share of a frame's detail at the finest scale (see module doc): RMS of
    the local Weber contrast ``contrast`` minus itself blurred with sigma
    ``long side / 160`` px, over the detail (:func:`detail_level`, passed as
    ``detail`` when already computed). Dimensionless, >= 0 (0 for a flat frame)."""
    c = contrast
    long_side = max(c.shape)
    band = c - cv2.GaussianBlur(c, (0, 0), max(0.5, long_side / 160.0))
    fine = float(np.sqrt(np.mean(band * band)))
    d = detail_level(c, c) if detail is None else detail
    return fine / d if d > 1e-6 else 0.0


def _accumulated_log(x: np.ndarray, t: np.ndarray, edges: list[int]) -> np.ndarray:
    """log(x) smoothed (2-s running median within shots), each cut's jump
    removed, relative to the clip's opening (see module doc)."""
    from scipy.ndimage import median_filter

    n = len(x)
    step = float(np.median(np.diff(t))) if n > 1 else 1.0
    per_s = max(1, round(1.0 / step)) if step > 0 else 1
    w = max(1, round(2.0 / step) if step > 0 else 1) | 1
    z = np.log(np.maximum(np.asarray(x, dtype=np.float64), 1e-4))
    for a, b in itertools.pairwise(edges):
        z[a:b] = median_filter(z[a:b], size=max(1, min(w, b - a)), mode="nearest")
    for c in edges[1:-1]:
        z[c:] -= z[c] - z[c - 1]
    k0 = max(1, min(n, max(per_s, min(5 * per_s, n // 10))))
    return z - np.median(z[:k0])


@dataclass(frozen=True)
class CollapseStats:
    """Detail over time and the collapse decision.

    Attributes:
        opening_detail: median detail of the opening (dimensionless).
        min_detail: lowest detail of the clip.
        end_detail: median detail of the last 10 % of the last shot (at
            least one frame).
        retention: ``end_detail`` / the last shot's opening detail (1 =
            kept; 0 = lost).
        collapsed: the ``collapse`` flag.
        start_s: start of the longest low-detail run (s from the first
            frame), ``None`` without a collapse.
        length_s: its length, s (0 without one).
        reason: ``"dissolved"``, ``"featureless"``, ``"blurred"`` or ``""``.
        sharpness_retention: lowest accumulated sharpness / the opening's
            over a window of the required run length (``None`` without a
            sharpness series; 1 = kept).
    """

    opening_detail: float
    min_detail: float
    end_detail: float
    retention: float
    collapsed: bool
    start_s: float | None
    length_s: float
    reason: str
    sharpness_retention: float | None = None


def collapse_stats(
    detail: np.ndarray,
    times_s: np.ndarray,
    *,
    cuts: list[int] | tuple[int, ...] = (),
    dissolve_ratio: float = DISSOLVE_RATIO,
    featureless: float = FEATURELESS,
    min_s: float = MIN_S,
    min_fraction: float = MIN_FRACTION,
    sharpness: np.ndarray | None = None,
    blur_ratio: float = BLUR_RATIO,
) -> CollapseStats:
    """Collapse decision from a per-frame detail series.

    Args:
        detail: (T,) :func:`detail_level` per analysis frame.
        times_s: (T,) frame times, s.
        cuts: frame indices that start a new shot.
        dissolve_ratio, featureless, min_s, min_fraction: see module doc.
        sharpness: (T,) :func:`sharpness_level` per frame (``None``: no
            ``blurred`` test).
        blur_ratio: see module doc.
    """
    d = np.asarray(detail, dtype=np.float64)
    t = np.asarray(times_s, dtype=np.float64)
    n = len(d)
    if n == 0:
        return CollapseStats(0.0, 0.0, 0.0, 1.0, False, None, 0.0, "")
    step = float(np.median(np.diff(t))) if n > 1 else 0.0
    duration = float(t[-1] - t[0]) + step
    per_s = round(1.0 / step) if step > 0 else 1
    reference = np.empty(n)  # the opening detail of each frame's shot
    edges = [0, *sorted(c for c in cuts if 0 < c < n), n]
    for a, b in itertools.pairwise(edges):
        k0 = max(1, min(b - a, max(per_s, (b - a) // 10)))
        reference[a:b] = np.median(d[a : a + k0])
    opening = float(reference[0])
    last = edges[-2]
    end = float(np.median(d[max(last, n - max(1, n // 10)) :]))
    end_ref = float(reference[-1])
    need = required_span_s(duration, min_s, min_fraction)
    best: tuple[str, int, int] = ("", 0, 0)
    tests = [
        ("dissolved", d < dissolve_ratio * reference),
        ("featureless", d < featureless),
    ]
    sharp_ret = None
    if sharpness is not None and len(sharpness) == n and n > 1:
        acc = _accumulated_log(np.asarray(sharpness), t, edges)
        tests.append(("blurred", acc < np.log(blur_ratio)))
        k = max(1, min(n, int(np.ceil(need / step - 1e-9)) if step > 0 else n))
        win = np.lib.stride_tricks.sliding_window_view(acc, k).max(axis=1)
        sharp_ret = float(np.exp(win.min()))
    for reason, mask in tests:
        a, ln = longest_run(mask)
        if ln > best[2] - best[1]:
            best = (reason, a, a + ln)
    reason, a, b = best
    length = (b - a) * step
    collapsed = b > a and length >= need
    return CollapseStats(
        opening_detail=opening,
        min_detail=float(d.min()),
        end_detail=end,
        retention=end / end_ref if end_ref > 0 else 1.0,
        collapsed=bool(collapsed),
        start_s=float(t[a] - t[0]) if collapsed else None,
        length_s=float(length) if collapsed else 0.0,
        reason=reason if collapsed else "",
        sharpness_retention=sharp_ret,
    )
