"""Drift from error accumulation: the picture degrades relative to its opening.

Autoregressive and streaming generators run past their horizon let the
picture degrade step by step: colours over-saturate, exposure and contrast
blow up, highlights and shadows clip, the palette slides towards false
colours (magenta, green), while motion often dies. Natural light changes
(a sunrise, a time-lapse, a cut to a new shot) are not drift. What tells
them apart, and how this module uses it:

* **Illumination-invariant measures.** Saturation is measured after a
  grey-world white balance (each channel divided by its frame mean), as
  HSV saturation ``(max - min) / max``: a global gain (exposure, a sunrise)
  and a change of white balance along any axis leave it unchanged.
  Contrast is the standard deviation of log luma, which a global gain does
  not change either. A sunrise or sunset therefore moves neither.
* **Clipping.** Blown highlights (max channel >= 250) and crushed shadows
  (max channel <= 5), as fractions of the picture, grown beyond the
  opening's: exposure and contrast blow-up.
* **Palette shift off the daylight axis.** Natural illuminants (daylight,
  sunrise, tungsten) vary along the blue-yellow axis (CIELAB ``b*``); a
  shift of the mean colour along green-magenta (``a*``), in CIELAB ΔE
  units, is not a change of light.
* **Persistence.** Drift accumulates and does not come back: the flag needs
  the degradation to hold from its start to the end of the shot, for at
  least ``max(min_s, min_fraction x duration)``.
* **Cuts.** Every hard cut starts a new reference (the shot's own
  opening): a cut to a new shot is a new picture, not a degraded one.
* **Dying motion.** Past a generator's horizon the picture also tends to
  stop moving. With little motion (median flow below ``still_motion``
  %diag/s over the drifted run) the thresholds apply as they are; while
  the picture keeps moving (edited footage, stage lights, a busy scene), the
  growth must reach ``moving_factor`` times them.

Per frame (see :func:`colour_stats`, computed in the frame pass): mean
CIELAB ``L*``, ``a*``, ``b*``; balanced saturation (0-1); contrast (std of
``ln(Y + 8)``, Y luma 0-255); highlight and shadow fractions (0-1). The
series are smoothed with a running median of ``smooth_s`` within each shot.
Growth against the shot's opening (median of its first ``max(1 s, min(5 s,
10 % of the shot))``):

==============  ================================================  ==========
component       growth                                            threshold
==============  ================================================  ==========
saturation      ``ln((S + 0.1) / (S0 + 0.1))``                    ``saturation``
contrast        ``ln((c + 0.05) / (c0 + 0.05))``                  ``contrast``
clipping        ``(hi + sh) - (hi0 + sh0)`` (fraction of pixels)  ``clipping``
palette         ``|a* - a*0|`` (CIELAB ΔE along green-magenta)    ``cast``
==============  ================================================  ==========

The drift level of a frame is the largest growth / threshold (1 = at the
threshold). All pure functions; no I/O.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import cv2
import numpy as np

__all__ = [
    "COLOUR_FIELDS",
    "DriftStats",
    "DriftThresholds",
    "colour_stats",
    "drift_components",
    "drift_stats",
]

#: Columns of :func:`colour_stats` (units: CIELAB for L/a/b, 0-1 for
#: saturation and the fractions, natural-log units for contrast).
COLOUR_FIELDS = ("L", "a", "b", "saturation", "contrast", "highlights", "shadows")
#: Saturation floor added before the log ratio (keeps grey openings finite).
SAT_FLOOR = 0.1
#: Contrast floor added before the log ratio.
CONTRAST_FLOOR = 0.05
#: The flag starts where the drift level last sat at or below this before the
#: drifted run (the onset of the degradation, not the threshold crossing).
ONSET = 0.25
#: Highlight / shadow levels (max channel, 0-255).
HIGHLIGHT_LEVEL = 250
SHADOW_LEVEL = 5


def colour_stats(rgb: np.ndarray) -> np.ndarray:
    """Colour statistics of one (H, W, 3) uint8 RGB frame (see :data:`COLOUR_FIELDS`).

    Returns:
        (7,) float32: mean CIELAB L* (0-100), a*, b* (about -100..100);
        grey-world-balanced HSV saturation (0-1); contrast, the std of
        ``ln(Y + 8)`` over the frame (Y luma 0-255; 0 = flat); the fractions
        of pixels whose largest channel is >= 250 (highlights) and <= 5
        (shadows), 0-1.
    """
    h, w = rgb.shape[:2]
    small = rgb
    if max(h, w) > 96:  # colour statistics do not need every pixel
        s = 96.0 / max(h, w)
        small = cv2.resize(rgb, (max(1, round(w * s)), max(1, round(h * s))), cv2.INTER_AREA)
    f = small.astype(np.float32) * (1.0 / 255.0)
    lab = cv2.cvtColor(f, cv2.COLOR_RGB2Lab).reshape(-1, 3)
    mean_lab = lab.mean(axis=0)
    px = f.reshape(-1, 3)
    m = px.mean(axis=0) + 1e-3
    bal = px * (m.mean() / m)
    mx, mn = bal.max(axis=1), bal.min(axis=1)
    sat = float(np.mean((mx - mn) / np.maximum(mx, 1e-3)))
    y = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    contrast = float(np.log(y + 8.0).std())
    top = rgb.max(axis=2)
    hi = float(np.count_nonzero(top >= HIGHLIGHT_LEVEL)) / top.size
    sh = float(np.count_nonzero(top <= SHADOW_LEVEL)) / top.size
    return np.array([*mean_lab.tolist(), sat, contrast, hi, sh], dtype=np.float32)


@dataclass(frozen=True)
class DriftThresholds:
    """Decision thresholds (units in the module doc).

    Attributes:
        saturation: saturation growth, log ratio (0.5 = x1.65 with the floor).
        contrast: contrast growth, log ratio.
        clipping: growth of the clipped fraction (0-1).
        cast: palette shift along green-magenta, CIELAB ΔE.
        still_motion: %diag/s; a run with median flow above it is "moving".
        moving_factor: the thresholds are multiplied by this for a moving run.
        min_s, min_fraction: the drifted run lasts at least max(min_s,
            min_fraction x duration).
        smooth_s: running-median window, s.
    """

    saturation: float = 0.45
    contrast: float = 0.5
    clipping: float = 0.15
    cast: float = 6.0
    still_motion: float = 1.5
    moving_factor: float = 2.0
    min_s: float = 2.0
    min_fraction: float = 0.2
    smooth_s: float = 2.0


@dataclass(frozen=True)
class DriftStats:
    """Drift of one clip.

    Attributes:
        drifted: the ``drift`` flag.
        start_s: start of the drifted run (s from the first frame), ``None``
            without one.
        length_s: its length, s (0 without one).
        level: persistent drift level of the clip (0 = like the opening, 1 =
            at the threshold): the lowest frame level over the last
            ``max(min_s, min_fraction x duration)`` of the last long-enough
            shot, motion factor applied.
        moving: whether the run (or the tail) kept moving.
        motion_pct_diag_s: median flow over the run (or the tail), %diag/s.
        growth: component -> growth at the run (or the tail), median.
        ratios: human-readable numbers of the run: ``saturation_x``,
            ``contrast_x`` (end / opening), ``highlights``, ``shadows``
            (fractions at the run and at the opening), ``delta_e`` (mean
            colour, CIELAB ΔE) and ``delta_a`` (along green-magenta).
        reason: words for the flag ("" when not drifted).
        level_series: (T,) per-frame drift level (for plots).
    """

    drifted: bool
    start_s: float | None
    length_s: float
    level: float
    moving: bool
    motion_pct_diag_s: float | None
    growth: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    level_series: np.ndarray = field(default_factory=lambda: np.zeros(0))


def _smooth(x: np.ndarray, edges: list[int], w: int) -> np.ndarray:
    from scipy.ndimage import median_filter

    out = x.copy()
    for a, b in itertools.pairwise(edges):
        k = max(1, min(w, b - a))
        out[a:b] = median_filter(x[a:b], size=(k, 1), mode="nearest")
    return out


def drift_components(
    colour: np.ndarray,
    times_s: np.ndarray,
    cuts: list[int] | tuple[int, ...] = (),
    smooth_s: float = 2.0,
) -> tuple[dict[str, np.ndarray], np.ndarray, list[int]]:
    """Per-frame growth of each component against its shot's opening.

    Args:
        colour: (T, 7) :func:`colour_stats` rows.
        times_s: (T,) frame times, s.
        cuts: frame indices starting a new shot.
        smooth_s: running-median window, s.

    Returns:
        (growth, reference, edges): component name -> (T,) growth (units of
        the module table); (T, 7) smoothed opening statistics of each
        frame's shot; shot edges ``[0, cut..., T]``.
    """
    x = np.asarray(colour, dtype=np.float64).reshape(len(times_s), -1)
    t = np.asarray(times_s, dtype=np.float64)
    n = len(x)
    step = float(np.median(np.diff(t))) if n > 1 else 1.0
    per_s = max(1, round(1.0 / step)) if step > 0 else 1
    edges = [0, *sorted({int(c) for c in cuts if 0 < c < n}), n]
    w = max(1, round(smooth_s / step) if step > 0 else 1) | 1
    xs = _smooth(x, edges, w) if n else x
    ref = np.empty_like(xs)
    for a, b in itertools.pairwise(edges):
        k0 = max(1, min(b - a, max(per_s, min(5 * per_s, (b - a) // 10))))
        ref[a:b] = np.median(xs[a : a + k0], axis=0)
    g = {
        "saturation": np.log((xs[:, 3] + SAT_FLOOR) / (ref[:, 3] + SAT_FLOOR)),
        "contrast": np.log((xs[:, 4] + CONTRAST_FLOOR) / (ref[:, 4] + CONTRAST_FLOOR)),
        "clipping": (xs[:, 5] + xs[:, 6]) - (ref[:, 5] + ref[:, 6]),
        "cast": np.abs(xs[:, 1] - ref[:, 1]),
    }
    return g, np.concatenate([xs, ref], axis=1), edges


def _frame_motion(motion: np.ndarray | None, n: int) -> np.ndarray | None:
    """Per-pair flow (T-1,) -> per-frame (T,) (mean of the adjacent pairs)."""
    if motion is None:
        return None
    m = np.asarray(motion, dtype=np.float64)
    if len(m) == 0 or n < 2:
        return np.zeros(n)
    out = np.empty(n)
    out[0], out[-1] = m[0], m[-1]
    if n > 2:
        out[1:-1] = 0.5 * (m[:-1] + m[1:])
    return out


def _levels(g: dict[str, np.ndarray], th: DriftThresholds) -> np.ndarray:
    return np.max(
        np.stack([g[k] / getattr(th, k) for k in ("saturation", "contrast", "clipping", "cast")]),
        axis=0,
    )


def drift_stats(
    colour: np.ndarray,
    times_s: np.ndarray,
    *,
    cuts: list[int] | tuple[int, ...] = (),
    motion: np.ndarray | None = None,
    thresholds: DriftThresholds | None = None,
    components: tuple[dict[str, np.ndarray], np.ndarray, list[int]] | None = None,
) -> DriftStats:
    """The drift decision of a clip (see module doc).

    Args:
        colour: (T, 7) :func:`colour_stats` rows of the analysis frames.
        times_s: (T,) frame times, s.
        cuts: frame indices that start a new shot.
        motion: (T-1,) mean flow per frame pair, %diag/s (``None``: every
            run counts as still).
        thresholds: :class:`DriftThresholds` (defaults when ``None``).
        components: a precomputed :func:`drift_components` result (the
            calibration re-decides without recomputing).
    """
    th = thresholds or DriftThresholds()
    t = np.asarray(times_s, dtype=np.float64)
    n = len(t)
    if n < 2:
        return DriftStats(False, None, 0.0, 0.0, False, None, level_series=np.zeros(n))
    g, xr, edges = components or drift_components(colour, t, cuts, th.smooth_s)
    step = float(np.median(np.diff(t)))
    duration = float(t[-1] - t[0]) + step
    need = max(th.min_s, th.min_fraction * duration)
    need_frames = max(2, int(np.ceil(need / step - 1e-9)))
    raw_level = _levels(g, th)
    fm = _frame_motion(motion, n)

    best: tuple[int, int] | None = None  # the run (a, b)
    tail: tuple[int, int] | None = None  # last long-enough shot's tail window
    level = 0.0
    moving_at = False
    best_moving = False
    onset = 0
    for a, b in itertools.pairwise(edges):
        if b - a < need_frames:
            continue
        tail = (b - need_frames, b)
        mot = None if fm is None else float(np.median(fm[tail[0] : tail[1]]))
        mv = mot is not None and mot > th.still_motion
        lv = raw_level[a:b] / (th.moving_factor if mv else 1.0)
        level = float(lv[-need_frames:].min())
        moving_at = mv
        above = lv >= 1.0
        if not above[-1]:
            continue
        k = len(above) - int(np.argmin(above[::-1])) if not above.all() else 0
        # the run: the suffix of the shot above threshold (motion of the shot's tail)
        ra = a + k
        if b - ra >= need_frames and (best is None or b - ra > best[1] - best[0]):
            best = (ra, b)
            best_moving = mv
            # the drift began where the level last sat near the opening's
            below = np.flatnonzero(lv[: ra - a] <= ONSET)
            onset = a + (int(below[-1]) + 1 if len(below) else 0)
    series = raw_level.copy()
    win = best or tail or (max(0, n - need_frames), n)
    mot_win = None if fm is None else float(np.median(fm[win[0] : win[1]]))
    moving = best_moving if best is not None else (moving_at if tail else False)
    grow = {k: float(np.median(v[win[0] : win[1]])) for k, v in g.items()}
    xs, ref = xr[:, :7], xr[:, 7:]
    cur = np.median(xs[win[0] : win[1]], axis=0)
    op = ref[win[0]]
    d_lab = cur[:3] - op[:3]
    ratios = {
        "saturation_x": float((cur[3] + 1e-3) / (op[3] + 1e-3)),
        "contrast_x": float((cur[4] + 1e-3) / (op[4] + 1e-3)),
        "highlights": float(cur[5]),
        "highlights_opening": float(op[5]),
        "shadows": float(cur[6]),
        "shadows_opening": float(op[6]),
        "delta_e": float(np.sqrt(np.sum(d_lab**2))),
        "delta_a": float(d_lab[1]),
    }
    drifted = best is not None
    reason = ""
    if drifted:
        reason = _reason(grow, ratios, th, moving)
    return DriftStats(
        drifted=drifted,
        start_s=float(t[min(onset, best[0])] - t[0]) if best else None,
        length_s=float((best[1] - min(onset, best[0])) * step) if best else 0.0,
        level=level,
        moving=bool(moving),
        motion_pct_diag_s=mot_win,
        growth=grow,
        ratios=ratios,
        reason=reason,
        level_series=series,
    )


def _reason(grow: dict[str, float], r: dict[str, float], th: DriftThresholds, moving: bool) -> str:
    """What drifted, strongest first, e.g. ``saturation x2.3 of the opening,
    18 % clipped highlights``."""
    f = th.moving_factor if moving else 1.0
    parts: list[tuple[float, str]] = []
    for key, text in (
        ("saturation", f"saturation x{r['saturation_x']:.1f} of the opening"),
        ("contrast", f"contrast x{r['contrast_x']:.1f} of the opening"),
        (
            "clipping",
            f"{100 * r['highlights']:.0f} % clipped highlights and "
            f"{100 * r['shadows']:.0f} % crushed shadows (opening "
            f"{100 * (r['highlights_opening'] + r['shadows_opening']):.0f} %)",
        ),
        (
            "cast",
            f"palette shifted towards {'magenta' if r['delta_a'] > 0 else 'green'} "
            f"(ΔE {r['delta_e']:.0f})",
        ),
    ):
        parts.append((grow[key] / (getattr(th, key) * f), text))
    parts.sort(key=lambda p: -p[0])
    words = ", ".join([parts[0][1]] + [p[1] for p in parts[1:] if p[0] >= 1.0])
    return words + ("" if moving else "; motion died down")
