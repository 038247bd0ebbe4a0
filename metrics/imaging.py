"""Per-image quality measures for VBench-style ``imaging_quality`` and
``aesthetic_quality`` without learned weights, and the linear aesthetic head
used when local weights exist.

The weight-free measures are documented heuristics, not VBench's models
(MUSIQ-SPAQ and the LAION aesthetic predictor): they rank obvious defects
(blur, noise, blocking; washed-out, dull or badly exposed frames) but their
0-100 values are not comparable with VBench's numbers.

Images are (H, W, 3) uint8 RGB unless noted; stacks are (S, H, W, 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "AestheticParts",
    "ImagingParts",
    "aesthetic_heuristic",
    "blockiness",
    "blur_index",
    "colourfulness",
    "exposure_quality",
    "imaging_heuristic",
    "linear_head",
    "noise_sigma",
    "rms_contrast",
]


def _luma(img: np.ndarray) -> np.ndarray:
    a = np.asarray(img)
    if a.ndim == 3:
        a = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(a, dtype=np.float32)


def blur_index(img: np.ndarray, reblur: int = 9) -> float:
    """No-reference blur: how little detail a further blur removes.

    The image is re-blurred with a ``reblur``-pixel box filter along x and
    along y; for each direction the share of the absolute neighbour
    differences that survives the re-blur measures how blurry the image
    already was (idea of Crété-Roffet et al., 2007, "The blur effect").

    Args:
        img: (H, W, 3) uint8 RGB or (H, W) luma 0-255.
        reblur: box filter length in pixels (>= 3).

    Returns:
        0-1: ~0.2-0.4 for sharp natural images, -> 1 for very blurry ones
        (higher = blurrier); 1.0 for a flat image (no detail at all).
    """
    y = _luma(img)
    out = 0.0
    for axis, ksize in ((1, (reblur, 1)), (0, (1, reblur))):
        b = cv2.blur(y, ksize)
        if axis == 1:
            df = cv2.absdiff(y[:, 1:], y[:, :-1])
            db = cv2.absdiff(b[:, 1:], b[:, :-1])
        else:
            df = cv2.absdiff(y[1:], y[:-1])
            db = cv2.absdiff(b[1:], b[:-1])
        s = float(cv2.sumElems(df)[0])
        if s <= 1e-6:
            return 1.0
        v = float(cv2.sumElems(cv2.max(cv2.subtract(df, db), 0.0))[0])
        out = max(out, (s - v) / s)
    return out


def noise_sigma(img: np.ndarray) -> float:
    """Noise standard deviation estimate, grey levels 0-255.

    Immerkaer's (1996) Laplacian-difference estimator, restricted to the
    flatter half of the image (pixels whose Sobel gradient is below its
    median) so that texture and edges count less as noise.

    Args:
        img: (H, W, 3) uint8 RGB or (H, W) luma 0-255, at least 3 x 3.

    Returns:
        >= 0 grey levels (higher = noisier): ~0-1 for clean renders,
        ~2-5 for visible sensor/codec noise.
    """
    y = _luma(img)
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    r = np.abs(cv2.filter2D(y, -1, k)[1:-1, 1:-1])
    g = cv2.magnitude(cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1))[1:-1, 1:-1]
    flat = g <= np.median(g[::3, ::3])  # the median of a subsample is enough
    if not flat.any():
        return 0.0
    return float(math.sqrt(math.pi / 2.0) / 6.0 * r[flat].mean())


def blockiness(img: np.ndarray, period: float = 8.0) -> float:
    """Block-artefact ratio of a codec grid with ``period`` pixels.

    Mean absolute neighbour difference across grid boundaries divided by
    the mean across all other neighbours, for columns and rows (averaged).

    Args:
        img: (H, W, 3) uint8 RGB or (H, W) luma 0-255.
        period: grid period in pixels of this image (8 for an 8 x 8 codec
            block at the source size, scaled with any resize). Below 3 the
            grid cannot be seen and 1.0 is returned.

    Returns:
        >= 0; ~1.0 without blocking, > 1.3 for visible blocking.
    """
    if period < 3.0:
        return 1.0
    y = _luma(img)
    ratios = []
    for axis in (1, 0):
        prof = np.abs(np.diff(y, axis=axis)).mean(axis=1 - axis)
        n = len(prof)
        edges = np.unique(np.round(np.arange(period, n, period)).astype(int) - 1)
        edges = edges[(edges >= 0) & (edges < n)]
        if len(edges) < 2:
            continue
        mask = np.zeros(n, bool)
        mask[edges] = True
        other = float(prof[~mask].mean())
        ratios.append(float(prof[mask].mean()) / max(other, 1e-6))
    return float(np.mean(ratios)) if ratios else 1.0


@dataclass(frozen=True)
class ImagingParts:
    """Components of :func:`imaging_heuristic` (means over the images).

    Attributes:
        blur: :func:`blur_index`, 0-1 (higher = blurrier).
        noise: :func:`noise_sigma`, grey levels (higher = noisier).
        blockiness: :func:`blockiness` ratio (~1 = none).
        score: 0-100, higher = better.
    """

    blur: float
    noise: float
    blockiness: float
    score: float


#: Blur index at or below which sharpness is full, and where it reaches 0.
BLUR_SHARP, BLUR_BAD = 0.35, 0.85
#: Noise sigma (grey levels) at or below which noise costs nothing, and where it costs all.
NOISE_OK, NOISE_BAD = 1.0, 8.0
#: Blockiness ratio at which blocking costs everything.
BLOCK_BAD = 2.0


def imaging_heuristic(images: np.ndarray, block_period: float = 8.0) -> ImagingParts:
    """Weight-free imaging quality of a set of stills.

    ``score = 100 * (0.6 q_sharp + 0.25 q_noise + 0.15 q_block)`` with each
    ``q`` in 0-1 falling linearly from its "fine" to its "bad" level
    (``BLUR_SHARP..BLUR_BAD``, ``NOISE_OK..NOISE_BAD``, ``1..BLOCK_BAD``),
    computed per image and averaged.

    Args:
        images: (S, H, W, 3) uint8 RGB stills (S >= 1).
        block_period: codec grid period in pixels at the stills' size.

    Returns:
        :class:`ImagingParts` (score 0-100, higher = sharper/cleaner).
    """
    imgs = np.asarray(images)
    if imgs.ndim == 3:
        imgs = imgs[None]
    if len(imgs) == 0:
        raise ValueError("no images")
    bl, ns, bk, sc = [], [], [], []
    for im in imgs:
        y = _luma(im)
        b, n, k = blur_index(y), noise_sigma(y), blockiness(y, block_period)
        qs = float(np.clip((BLUR_BAD - b) / (BLUR_BAD - BLUR_SHARP), 0, 1))
        qn = float(np.clip((NOISE_BAD - n) / (NOISE_BAD - NOISE_OK), 0, 1))
        qb = float(np.clip((BLOCK_BAD - k) / (BLOCK_BAD - 1.0), 0, 1))
        bl.append(b)
        ns.append(n)
        bk.append(k)
        sc.append(100.0 * (0.6 * qs + 0.25 * qn + 0.15 * qb))
    return ImagingParts(
        float(np.mean(bl)), float(np.mean(ns)), float(np.mean(bk)), float(np.mean(sc))
    )


# ------------------------------------------------------------------ aesthetic


def colourfulness(img: np.ndarray) -> float:
    """Hasler & Suesstrunk (2003) colourfulness, on 0-255 RGB.

    ``sqrt(std_rg^2 + std_yb^2) + 0.3 sqrt(mean_rg^2 + mean_yb^2)`` with
    ``rg = R - G`` and ``yb = (R + G)/2 - B``. 0 for grey images; ~15
    "slightly", ~33 "moderately", ~45 "quite", ~60+ "highly" colourful.
    """
    f = np.asarray(img, dtype=np.float32)
    rg = f[..., 0] - f[..., 1]
    yb = 0.5 * (f[..., 0] + f[..., 1]) - f[..., 2]
    return float(
        math.hypot(float(rg.std()), float(yb.std()))
        + 0.3 * math.hypot(float(rg.mean()), float(yb.mean()))
    )


def rms_contrast(img: np.ndarray) -> float:
    """RMS contrast: standard deviation of luma in 0-1 (0 = flat; ~0.2 typical)."""
    return float(_luma(img).std() / 255.0)


def exposure_quality(img: np.ndarray) -> float:
    """Exposure in 0-1 (1 = mid-tone mean and nothing clipped).

    Mean luma within 0.35-0.65 (of full scale) costs nothing, then falls
    linearly to 0 at 0 or 1; multiplied by the fraction of pixels not
    clipped (luma <= 2 or >= 253).
    """
    y = _luma(img)
    m = float(y.mean()) / 255.0
    q = float(np.clip(1.0 - max(0.0, abs(m - 0.5) - 0.15) / 0.35, 0.0, 1.0))
    clipped = float(((y <= 2) | (y >= 253)).mean())
    return q * (1.0 - clipped)


@dataclass(frozen=True)
class AestheticParts:
    """Components of :func:`aesthetic_heuristic` (means over the images).

    Attributes:
        colourfulness: :func:`colourfulness` (0-~120).
        contrast: :func:`rms_contrast` (0-0.5).
        exposure: :func:`exposure_quality` (0-1).
        score: 0-100, higher = better.
    """

    colourfulness: float
    contrast: float
    exposure: float
    score: float


#: Long side (px) images are area-reduced to before the global aesthetic
#: statistics (they do not need detail; 4x fewer pixels).
AESTHETIC_SIZE = 256


def _reduce(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    if max(h, w) <= size:
        return img
    s = size / max(h, w)
    return cv2.resize(
        img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA
    )


#: Colourfulness and RMS contrast at which their terms saturate.
COLOUR_FULL, CONTRAST_FULL = 45.0, 0.22


def aesthetic_heuristic(images: np.ndarray) -> AestheticParts:
    """Weight-free aesthetic proxy of a set of stills (a heuristic).

    ``score = 100 * (0.3 min(1, C/COLOUR_FULL) + 0.35 min(1, c/CONTRAST_FULL)
    + 0.35 exposure)`` per image (area-reduced to ``AESTHETIC_SIZE`` long
    side), averaged: colourful, contrasted and well exposed frames score high. It knows nothing of composition or content;
    use the LAION head (local weights) for an aesthetic model.

    Args:
        images: (S, H, W, 3) uint8 RGB (S >= 1).

    Returns:
        :class:`AestheticParts` (score 0-100, higher = better).
    """
    imgs = np.asarray(images)
    if imgs.ndim == 3:
        imgs = imgs[None]
    if len(imgs) == 0:
        raise ValueError("no images")
    cs, ct, ex, sc = [], [], [], []
    for im in imgs:
        im = _reduce(im, AESTHETIC_SIZE)
        c, k, e = colourfulness(im), rms_contrast(im), exposure_quality(im)
        cs.append(c)
        ct.append(k)
        ex.append(e)
        sc.append(
            100.0
            * (0.3 * min(1.0, c / COLOUR_FULL) + 0.35 * min(1.0, k / CONTRAST_FULL) + 0.35 * e)
        )
    return AestheticParts(
        float(np.mean(cs)), float(np.mean(ct)), float(np.mean(ex)), float(np.mean(sc))
    )


def linear_head(features: np.ndarray, weight: np.ndarray, bias: np.ndarray | float) -> np.ndarray:
    """Apply a linear scoring head to L2-normalised features.

    The LAION aesthetic predictor (linear variant) is ``w . e + b`` on the
    L2-normalised CLIP ViT-L/14 image embedding ``e``, giving ~1-10 (VBench
    divides by 10).

    Args:
        features: (N, d) features (normalised here).
        weight: (d,) or (1, d) weights.
        bias: scalar or (1,) bias.

    Returns:
        (N,) float64 raw head outputs.
    """
    f = np.asarray(features, dtype=np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=-1, keepdims=True), 1e-12)
    w = np.asarray(weight, dtype=np.float64).reshape(-1)
    if w.shape[0] != f.shape[-1]:
        raise ValueError(f"head expects {w.shape[0]}-d features, got {f.shape[-1]}")
    return f @ w + float(np.asarray(bias, dtype=np.float64).reshape(-1)[0])
