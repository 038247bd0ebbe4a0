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
  the degradation to hold from its start to the end of the clip, for at
  least ``max(min_s, min_fraction x duration)``.
* **Cuts and replaced pictures.** A cut to a new shot is a new picture, not
  a degraded one: the statistics are followed *across* cuts, each cut's
  jump removed, so that change within shots accumulates against the clip's
  opening (a drift that runs through a cut is still seen). The same holds
  for seconds in which the picture is *replaced* rather than recoloured
  (a soft transition to a new prompt, a whip pan): when the 8 x 6 luma
  layout correlates below :data:`REPLACED` with the layout 1 s earlier,
  the colour change of that second (and of the smoothing window around it)
  is not accumulated.
* **Motion.** Past a generator's horizon the picture often stops moving.
  Over the drifted run, a picture moving faster than ``still_motion``
  %diag/s (median flow) needs ``moving_factor`` times the thresholds. The
  calibration chose the top of its grid (6 %diag/s), so in practice only
  fast-moving footage is held to the higher bar; the reason states the run's
  and the opening's motion.

Per frame (see :func:`colour_stats`, computed in the frame pass): mean
CIELAB ``L*``, ``a*``, ``b*``; balanced saturation (0-1); contrast (std of
``ln(Y + 8)``, Y luma 0-255); highlight and shadow fractions (0-1); the
luma layout. The series are smoothed with a running median of ``smooth_s``
within each shot. Growth against the opening (median of the first
``max(1 s, min(5 s, 10 %))``), accumulated as above:

==============  ================================================  ==========
component       growth                                            threshold
==============  ================================================  ==========
saturation      ``ln((S + 0.1) / (S0 + 0.1))``                    ``saturation``
contrast        ``ln((c + 0.05) / (c0 + 0.05))``                  ``contrast``
clipping        ``(hi + sh) - (hi0 + sh0)`` (fraction of pixels)  ``clipping``
palette         ``|a* - a*0|`` (CIELAB ΔE along green-magenta)    ``cast``
==============  ================================================  ==========

The drift level of a frame is the largest growth / threshold (1 = at the
threshold). The thresholds (:class:`DriftThresholds` defaults) were chosen
by ``benchmarks/drift_families.py`` (``docs/metrics.md#drift``). All pure
functions; no I/O.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import cv2
import numpy as np
from vqeval.metrics.stats import required_span_s

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
#: The frame is area-halved while its long side exceeds this (px): clipping
#: is counted after one halving (80 px for 160-px analysis frames), the other
#: statistics and the layout after two (40 px).
STATS_SIZE = 48
#: Layout grid (width, height) stored after the colour statistics.
LAYOUT = (8, 6)
#: Layout correlation (-1..1) 1 s apart below which the picture counts as
#: replaced (a transition, a new prompt, a fast move): colour change there
#: is not accumulated. Chosen with the other thresholds (grid 0.3-0.6);
#: measured: seven drifting SVI clips have 0-7 % of their seconds below 0.5,
#: the five prompt-stream films 9-48 %.
REPLACED = 0.4
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
        (55,) float32, on the frame area-halved (see :data:`STATS_SIZE`):
        mean CIELAB L* (0-100), a*, b* (about -100..100);
        grey-world-balanced HSV saturation (0-1); contrast, the std of
        ``ln(Y + 8)`` over the frame (Y luma 0-255; 0 = flat); the fractions
        of pixels whose largest channel is >= 250 (highlights) and <= 5
        (shadows), 0-1; then the layout: the 8 x 6 area-mean luma grid,
        zero-mean and unit-norm (48 values), to tell a picture that changes
        colour from one that is replaced.
    """
    half = _halve(np.ascontiguousarray(rgb))
    top = cv2.cvtColor(half, cv2.COLOR_RGB2HSV)[..., 2]  # V = the largest channel
    hi = float(np.count_nonzero(top >= HIGHLIGHT_LEVEL)) / top.size
    sh = float(np.count_nonzero(top <= SHADOW_LEVEL)) / top.size
    small = _halve(half)
    f = small.astype(np.float32) * np.float32(1.0 / 255.0)
    mean_lab = cv2.mean(cv2.cvtColor(f, cv2.COLOR_RGB2Lab))[:3]
    m = [v + 1e-3 for v in cv2.mean(f)[:3]]
    avg = sum(m) / 3.0
    bal = cv2.multiply(f, (avg / m[0], avg / m[1], avg / m[2], 0.0))
    sat = cv2.mean(cv2.cvtColor(bal, cv2.COLOR_RGB2HSV))[1]  # (max - min) / max
    y = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    contrast = float(np.log(y + 8.0).std())
    grid = cv2.resize(y, LAYOUT, interpolation=cv2.INTER_AREA).ravel()
    grid -= grid.mean()
    grid /= float(np.linalg.norm(grid)) + 1e-6
    out = np.empty(7 + grid.size, np.float32)
    out[:7] = (*mean_lab, sat, contrast, hi, sh)
    out[7:] = grid
    return out


def _halve(img: np.ndarray) -> np.ndarray:
    """Area-halve an image while its long side exceeds :data:`STATS_SIZE`."""
    if max(img.shape[:2]) <= STATS_SIZE or min(img.shape[:2]) < 8:
        return img
    return cv2.resize(img, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class DriftThresholds:
    """Decision thresholds (units in the module doc).

    Attributes:
        saturation: saturation growth, log ratio (0.3 = x1.35 with the floor).
        contrast: contrast growth, log ratio.
        clipping: growth of the clipped fraction (0-1).
        cast: palette shift along green-magenta, CIELAB ΔE.
        still_motion: %diag/s; a run with median flow above it is "moving".
        moving_factor: the thresholds are multiplied by this for a moving run.
        min_s, min_fraction: the drifted run lasts at least max(min_s,
            min_fraction x duration).
        smooth_s: running-median window, s.
        accumulate: follow the statistics across cuts against the clip's
            opening (each cut's jump removed); ``False``: every shot against
            its own opening (see :func:`drift_components`).
        replaced: layout correlation (-1..1) ``replaced_lag_s`` apart below
            which the colour change in between is not accumulated
            (:data:`REPLACED`).
        replaced_lag_s: the lag of that correlation, s (:data:`REPLACED_LAG_S`).
        onset: drift level at or below which the degradation had not begun
            (:data:`ONSET`): the flag starts after the last such frame.
    """

    saturation: float = 0.3
    contrast: float = 0.9
    clipping: float = 0.05
    cast: float = 11.0
    still_motion: float = 6.0
    moving_factor: float = 4.0
    min_s: float = 2.0
    min_fraction: float = 0.1
    smooth_s: float = 2.0
    accumulate: bool = True
    replaced: float = REPLACED
    replaced_lag_s: float = 1.0
    onset: float = ONSET


@dataclass(frozen=True)
class DriftStats:
    """Drift of one clip.

    Attributes:
        drifted: the ``drift`` flag.
        start_s: onset of the drift (s from the first frame): the last frame
            before the drifted run whose level was <= ``onset``;
            ``None`` without a flag.
        length_s: from the onset to the end, s (0 without a flag).
        level: persistent drift level of the clip (0 = like the opening, 1 =
            at the threshold): the lowest frame level over the last
            ``max(min_s, min_fraction x duration)`` of the last long-enough
            shot, motion factor applied.
        moving: whether the run (or the tail) kept moving.
        motion_pct_diag_s: median flow over the run (or the tail), %diag/s.
        growth: component -> growth at the run (or the tail), median.
        ratios: the run's numbers: ``saturation_x`` and ``contrast_x``
            (``exp`` of the accumulated growth: ``(S + 0.1) / (S0 + 0.1)``,
            ``(c + 0.05) / (c0 + 0.05)``), ``clipped_growth`` (fraction),
            ``delta_a`` (accumulated a* shift, + = towards magenta), and for
            reading the raw ``highlights`` / ``shadows`` fractions and
            ``delta_e`` (CIELAB ΔE of the mean colour against the opening).
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
    accumulate: bool = True,
    replaced: float = REPLACED,
    replaced_lag_s: float = 1.0,
) -> tuple[dict[str, np.ndarray], np.ndarray, list[int]]:
    """Per-frame growth of each component against the opening.

    Args:
        colour: (T, 55) :func:`colour_stats` rows ((T, 7) without the layout:
            then no second counts as replaced).
        times_s: (T,) frame times, s.
        cuts: frame indices starting a new shot.
        smooth_s: running-median window, s (within each shot).
        accumulate: ``True``: the clip's opening is the reference and each
            cut's jump is removed (the statistics continue across a cut
            where the last shot left them, so change within shots
            accumulates and a cut to a new shot adds nothing); ``False``:
            every shot is measured against its own opening.
        replaced: layout correlation (-1..1) ``replaced_lag_s`` apart below
            which the picture counts as replaced (accumulating mode only).
        replaced_lag_s: that lag, s (> 0; rounded to whole frames, >= 1).

    Returns:
        (growth, stats, edges): component name -> (T,) growth (units of the
        module table); (T, 14) smoothed statistics and the opening's
        (reference) statistics of each frame; the segments the drifted run
        may span (``[0, T]`` when accumulating, else the shot edges).
    """
    x = np.asarray(colour, dtype=np.float64).reshape(len(times_s), -1)
    t = np.asarray(times_s, dtype=np.float64)
    n = len(x)
    step = float(np.median(np.diff(t))) if n > 1 else 1.0
    per_s = max(1, round(1.0 / step)) if step > 0 else 1
    edges = [0, *sorted({int(c) for c in cuts if 0 < c < n}), n]
    w = max(1, round(smooth_s / step) if step > 0 else 1) | 1
    xs = _smooth(x[:, :7], edges, w) if n else x[:, :7]
    # the compared quantities: log saturation and contrast, clipped fraction, a*
    z = np.stack(
        [
            np.log(xs[:, 3] + SAT_FLOOR),
            np.log(xs[:, 4] + CONTRAST_FLOOR),
            xs[:, 5] + xs[:, 6],
            xs[:, 1],
        ],
        axis=1,
    )
    segments = edges if not accumulate else [0, n]
    zref = np.empty_like(z)
    ref = np.empty_like(xs)
    if accumulate and n:
        for c in edges[1:-1]:
            z[c:] -= z[c] - z[c - 1]  # the cut's jump is not drift
        lag = max(1, round(replaced_lag_s / step)) if step > 0 else per_s
        if x.shape[1] >= 7 + LAYOUT[0] * LAYOUT[1] and n > lag:
            # spans in which the picture was replaced rather than recoloured
            lay = x[:, 7 : 7 + LAYOUT[0] * LAYOUT[1]]
            corr = np.ones(n)
            corr[lag:] = np.sum(lay[lag:] * lay[:-lag], axis=1)
            rep = corr < replaced
            ev = rep.copy()
            for k in range(1, lag + per_s + 1):  # the replaced span, +- the smoothing
                ev[:-k] |= rep[k:]
                if k <= per_s:
                    ev[k:] |= rep[:-k]
            inc = np.diff(z, axis=0, prepend=z[:1])
            inc[ev] = 0.0
            z = z[:1] + np.cumsum(inc, axis=0)
    for a, b in itertools.pairwise(segments):
        k0 = max(1, min(b - a, max(per_s, min(5 * per_s, (b - a) // 10))))
        zref[a:b] = np.median(z[a : a + k0], axis=0)
        ref[a:b] = np.median(xs[a : a + k0], axis=0)
    d = z - zref
    g = {
        "saturation": d[:, 0],
        "contrast": d[:, 1],
        "clipping": d[:, 2],
        "cast": np.abs(d[:, 3]),
        "cast_signed": d[:, 3],
    }
    return g, np.concatenate([xs, ref], axis=1), segments


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
        colour: (T, 55) :func:`colour_stats` rows of the analysis frames.
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
    g, xr, edges = components or drift_components(
        colour, t, cuts, th.smooth_s, th.accumulate, th.replaced, th.replaced_lag_s
    )
    step = float(np.median(np.diff(t)))
    duration = float(t[-1] - t[0]) + step
    need = required_span_s(duration, th.min_s, th.min_fraction)
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
            below = np.flatnonzero(lv[: ra - a] <= th.onset)
            onset = a + (int(below[-1]) + 1 if len(below) else 0)
    series = raw_level.copy()
    win = best or tail or (max(0, n - need_frames), n)
    mot_win = None if fm is None else float(np.median(fm[win[0] : win[1]]))
    k_open = max(1, min(n, max(round(1.0 / step), min(round(5.0 / step), n // 10))))
    mot_open = None if fm is None else float(np.median(fm[:k_open]))
    moving = best_moving if best is not None else (moving_at if tail else False)
    grow = {
        k: float(np.median(g[k][win[0] : win[1]]))
        for k in ("saturation", "contrast", "clipping", "cast")
    }
    xs, ref = xr[:, :7], xr[:, 7:]
    cur = np.median(xs[win[0] : win[1]], axis=0)
    op = ref[win[0]]
    d_lab = cur[:3] - op[:3]
    ratios = {
        # the decision's own (accumulated) numbers, as factors of the opening
        "saturation_x": float(np.exp(grow["saturation"])),
        "contrast_x": float(np.exp(grow["contrast"])),
        "clipped_growth": float(grow["clipping"]),
        "delta_a": float(np.median(g["cast_signed"][win[0] : win[1]])),
        # raw statistics of the window, for reading
        "highlights": float(cur[5]),
        "shadows": float(cur[6]),
        "delta_e": float(np.sqrt(np.sum(d_lab**2))),
    }
    drifted = best is not None
    reason = ""
    if drifted:
        reason = _reason(grow, ratios, th, moving, mot_win, mot_open)
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


def _reason(
    grow: dict[str, float],
    r: dict[str, float],
    th: DriftThresholds,
    moving: bool,
    motion: float | None = None,
    opening_motion: float | None = None,
) -> str:
    """What drifted, strongest first, e.g. ``saturation x2.3 of the opening,
    18 % clipped highlights``."""
    f = th.moving_factor if moving else 1.0
    parts: list[tuple[float, str]] = []
    for key, text in (
        ("saturation", f"saturation x{r['saturation_x']:.1f} of the opening"),
        ("contrast", f"contrast x{r['contrast_x']:.1f} of the opening"),
        (
            "clipping",
            f"clipped pixels +{100 * r['clipped_growth']:.0f} % of the picture "
            f"({100 * r['highlights']:.0f} % highlights, {100 * r['shadows']:.0f} % shadows)",
        ),
        (
            "cast",
            f"palette shifted towards {'magenta' if r['delta_a'] > 0 else 'green'} "
            f"(ΔE {abs(r['delta_a']):.0f} along a*)",
        ),
    ):
        parts.append((grow[key] / (getattr(th, key) * f), text))
    parts.sort(key=lambda p: -p[0])
    words = ", ".join([parts[0][1]] + [p[1] for p in parts[1:] if p[0] >= 1.0])
    if motion is not None and opening_motion is not None:
        words += f"; motion {motion:.1f} %diag/s (opening {opening_motion:.1f})"
    return words
