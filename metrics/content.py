"""Content change over time, with noise, flicker and illumination removed.

A freeze is content that stops changing, not pixels that stop moving: a held
frame under sensor noise, shimmering texture or flickering light has moving
pixels and still content, while a slow pan or a talking head changes content
slowly but surely. This module measures content change so that the two are
told apart, in three steps:

1. **Illumination-free representation.** Each luma frame becomes its local
   Weber contrast ``(Y - mu) / (mu + 16)`` with ``mu`` a wide Gaussian blur
   (sigma 12 % of the long side) of ``Y``: multiplicative light changes
   (flicker, fades, a flash over part of the scene, exposure drift) cancel,
   and a flat field stays flat instead of being amplified. Then a light blur
   (sigma = long side / 160 px) removes pixel-level noise.
2. **Temporal denoising.** Frames are grouped into consecutive windows of
   ``n`` frames (``window_s``, default 0.5 s; ``n`` even). Each window's
   mean image is its content; the difference between the mean of its even
   and of its odd frames is a pure noise sample of the same size: with
   independent noise of variance ``s^2`` per frame, ``var(mean_k - mean_j)``
   and ``var(even - odd) / 2`` are both ``2 s^2 / n``. Noise, twitching
   texture that does not go anywhere and fast flicker all land in the noise
   estimate, because they differ between neighbouring frames as much as
   between windows.
3. **Change against noise, per region.** Window ``k`` is compared with window
   ``k + m`` (``lag_s``, default 1 s). On a grid of about 8 x 8 blocks each
   block gets its change energy ``C`` (mean squared difference of the two
   window means) and its noise energy ``N`` (the mean of the two windows'
   noise energies). Content changed in a block when ``C`` is large in
   absolute terms (a visible change of local contrast) *and* large against
   ``N`` (it is not noise). A block's change is the smaller of its plain
   difference and its difference once a fade between the two windows is
   undone (:func:`faded_residual`): the Weber offset keeps a picture that
   darkens towards black from cancelling, and a gain fitted to the whole
   picture must not put change into a block that did not change.

:class:`ContentSeries` keeps every block's energies, so that the decision
(:func:`changed_windows`) can be re-made with other thresholds without
re-reading the video. Everything is streaming: :class:`ContentAccumulator`
holds one window of frames and ``m + 1`` window means at a time.

Units: change and noise are RMS local Weber contrast (dimensionless; 0.01 =
a change of 1 % of the local brightness), SNR is the ratio of energies
(``C / N``, 1 = as large as noise alone would make it).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = [
    "CHANGE_FLOOR",
    "LIVELY_CHANGE",
    "PROGRESS_RATIO",
    "SNR_FLOOR",
    "ContentAccumulator",
    "ContentSeries",
    "changed_windows",
    "content_series",
    "faded_residual",
    "weber_contrast",
]

#: Default window of frames averaged together (s).
WINDOW_S = 0.5
#: Default time between the two compared windows (s).
LAG_S = 1.0
#: Blocks per side of the comparison grid (fewer on tiny frames: >= 3 px a block).
GRID = 8
#: Quantile of the blocks whose change decides: 0.95 = the ~3 most-changing
#: blocks of 64, i.e. about 5 % of the picture has to change.
BLOCK_QUANTILE = 0.95
#: Default absolute change floor (RMS Weber contrast): below it the content
#: of the most-changing blocks changed by less than this fraction of the local
#: brightness within ``LAG_S``. This and the next three thresholds were
#: chosen on the dev data by ``benchmarks/calibrate.py`` (docs/evidence.md).
CHANGE_FLOOR = 0.03
#: Default SNR floor (energy ratio): a change smaller than this many times the
#: noise energy of its block is noise.
SNR_FLOOR = 10.0
#: Default RMS change above which a fluctuation that goes nowhere still counts
#: as live content (a talking mouth, water, fire).
LIVELY_CHANGE = 0.06
#: Default progress ratio (energy at the lag / energy between adjacent
#: windows): 1 for a stationary fluctuation, ``m`` for a random walk, ``m^2``
#: for steady motion (``m`` = 2 at the default lag and window).
PROGRESS_RATIO = 2.0
#: Grey offset in the Weber denominator: dark regions are not amplified
#: beyond 1 / 16 per grey level.
_WEBER_OFFSET = 16.0
#: Wide blur of the illumination estimate, as a fraction of the long side.
_ILLUMINATION_SIGMA = 0.12


def _wide_blur(y: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of ``y`` with a wide ``sigma`` (px, >= 8), computed at
    half size and enlarged back: 3-4x faster, and the Weber contrast built on
    it differs from the full-size one by about 1 % of its RMS (measured on the
    dev clips at 160 px)."""
    h, w = y.shape
    if sigma < 8 or min(h, w) < 16:
        return cv2.GaussianBlur(y, (0, 0), sigma)
    small = cv2.resize(y, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma * small.shape[1] / w)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def weber_contrast(gray: np.ndarray) -> np.ndarray:
    """Local Weber contrast of one luma frame, lightly denoised.

    Args:
        gray: (H, W) uint8 or float luma, 0-255.

    Returns:
        (H, W) float32, dimensionless: ``(Y - mu) / (mu + 16)`` with ``mu`` a
        Gaussian blur of sigma 12 % of the long side, then blurred with sigma
        ``max(0.5, long side / 160)`` px. Flat regions are ~0; a 10 % bright
        edge over its surroundings is ~0.1. Invariant to a global gain.
    """
    y = np.asarray(gray, dtype=np.float32)
    if y.ndim != 2:
        raise ValueError(f"gray must be (H, W), got shape {y.shape}")
    long_side = max(y.shape)
    mu = _wide_blur(y, max(1.0, _ILLUMINATION_SIGMA * long_side))
    c = (y - mu) / (mu + _WEBER_OFFSET)
    return cv2.GaussianBlur(c, (0, 0), max(0.5, long_side / 160.0))


def faded_residual(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The difference of two contrast maps once a fade between them is undone.

    A fade to or from black scales the whole Weber-contrast map: the offset
    in its denominator (:data:`_WEBER_OFFSET`) keeps a darkening picture's
    contrast from cancelling. The map with less contrast energy is compared
    with the other scaled by their least-squares gain (0-1): a still picture
    that fades leaves nothing, content that changes keeps its difference (at
    a gain of about 1 for the small changes a freeze is decided on).

    Args:
        a, b: (H, W) float contrast maps (window means), dimensionless.

    Returns:
        (H, W) float32, ``small - g x large`` (sign as ``b - a`` when ``b``
        is the smaller).
    """
    ea, eb = float(np.vdot(a, a)), float(np.vdot(b, b))
    big, small, sign = (a, b, 1.0) if ea >= eb else (b, a, -1.0)
    eg = max(ea, eb)
    g = float(np.vdot(small, big)) / eg if eg > 0 else 1.0
    return (sign * (small - min(max(g, 0.0), 1.0) * big)).astype(np.float32)


def _grid(h: int, w: int) -> tuple[int, int]:
    """Blocks (across, down): up to GRID per side, each at least 3 px."""
    return max(1, min(GRID, w // 3)), max(1, min(GRID, h // 3))


@dataclass(frozen=True)
class ContentSeries:
    """Content change between windows ``k`` and ``k + lag_windows``.

    Pair ``k`` compares the mean of frames ``[k n, (k+1) n)`` with the mean of
    frames ``[(k+m) n, (k+m+1) n)``. Arrays have one entry per pair (K pairs,
    B blocks).

    Attributes:
        start_s: (K,) time of the first frame of the first window, s.
        end_s: (K,) time of the last frame of the second window, s.
        block_change: (K, B) float32 change energy per block between the two
            windows (Weber contrast^2).
        block_step: (K, B) float32 mean change energy per block between
            *adjacent* windows over the same span: for content moving steadily
            ``block_change`` is ``m^2`` times it, for a random walk ``m``
            times, for a stationary fluctuation (shimmer, twitching, noise)
            about equal.
        block_noise: (K, B) float32 expected noise energy per block.
        transition: (K,) bool, the pair spans a shot cut (not evidence of
            content change inside a shot; see :func:`changed_windows`).
        window_frames: frames per window ``n``.
        lag_windows: ``m``, windows between the compared windows.
        window_s: nominal window length, s.
        lag_s: nominal time between compared windows, s.
    """

    start_s: np.ndarray
    end_s: np.ndarray
    block_change: np.ndarray
    block_step: np.ndarray
    block_noise: np.ndarray
    transition: np.ndarray
    window_frames: int
    lag_windows: int
    window_s: float
    lag_s: float

    def __len__(self) -> int:
        return len(self.start_s)

    @property
    def times_s(self) -> np.ndarray:
        """(K,) mid-time of each pair, s."""
        return 0.5 * (self.start_s + self.end_s)

    def change(self, quantile: float = BLOCK_QUANTILE) -> np.ndarray:
        """(K,) RMS change of the ``quantile`` block by change (Weber contrast)."""
        if len(self) == 0:
            return np.zeros(0)
        return np.sqrt(np.quantile(self.block_change, quantile, axis=1))

    def snr(self, quantile: float = BLOCK_QUANTILE) -> np.ndarray:
        """(K,) SNR (energy ratio) of the ``quantile`` block by SNR."""
        if len(self) == 0:
            return np.zeros(0)
        return np.quantile(self.block_change / (self.block_noise + 1e-9), quantile, axis=1)

    def noise(self) -> np.ndarray:
        """(K,) median block noise, RMS Weber contrast."""
        if len(self) == 0:
            return np.zeros(0)
        return np.sqrt(np.median(self.block_noise, axis=1))


def changed_windows(
    series: ContentSeries,
    *,
    change_floor: float = CHANGE_FLOOR,
    snr_floor: float = SNR_FLOOR,
    lively_change: float = LIVELY_CHANGE,
    progress_ratio: float = PROGRESS_RATIO,
    quantile: float = BLOCK_QUANTILE,
) -> np.ndarray:
    """Per pair, the share of the picture whose content changed, 0-1.

    A block changed when its RMS change is at least ``change_floor``, its
    change energy at least ``snr_floor`` times its noise energy, and the
    change is either lively (RMS at least ``lively_change``: a talking mouth,
    water, fire) or progressive (its change energy at least
    ``progress_ratio`` times the mean energy between adjacent windows: the
    content goes somewhere instead of fluctuating in place, as shimmering or
    twitching texture does).

    Returns:
        (K,) float in 0-1: the fraction of blocks that changed, divided by
        ``1 - quantile`` and clipped to 1 (1 = at least that share of the
        picture changed, the amount that counts as a change; 0 = nothing did).
    """
    if len(series) == 0:
        return np.zeros(0)
    c, n, st = series.block_change, series.block_noise, series.block_step
    visible = (c >= change_floor**2) & (c >= snr_floor * n)
    going = (c >= lively_change**2) | (c >= progress_ratio * st)
    ok = visible & going
    return np.clip(ok.mean(axis=1) / max(1e-9, 1.0 - quantile), 0.0, 1.0)


class ContentAccumulator:
    """Streaming :class:`ContentSeries`: push luma frames in time order.

    Holds one window of Weber-contrast frames (as running sums) and the last
    ``lag_windows + 1`` window means; memory is independent of the video
    length. Shot cuts are applied afterwards (:meth:`result`), since a cut
    detector may report a cut a few frames late.

    Args:
        fps: analysis frame rate, frames/s (> 0), to size the windows.
        window_s: window length, s (>= 2 frames).
        lag_s: time between compared windows, s (>= one window).
    """

    def __init__(self, fps: float, *, window_s: float = WINDOW_S, lag_s: float = LAG_S) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        n = max(2, round(window_s * fps))
        self.n = n + n % 2
        self.m = max(1, round(lag_s * fps / self.n))
        self.window_s, self.lag_s = window_s, lag_s
        self._sums: list[np.ndarray] = []  # even- and odd-frame sums of the open window
        self._count = 0
        self._t0 = self._t1 = 0.0
        self._grid: tuple[int, int] | None = None
        # closed windows: (mean image, block noise energies, t first, t last)
        self._ring: deque[tuple[np.ndarray, np.ndarray, float, float]] = deque(maxlen=self.m + 1)
        self._steps: deque[np.ndarray] = deque(maxlen=self.m)  # adjacent-window energies
        self._out: list[tuple[float, float, np.ndarray, np.ndarray, np.ndarray]] = []

    def push(self, gray: np.ndarray, t_s: float, contrast: np.ndarray | None = None) -> None:
        """Add the next luma frame ((H, W), 0-255) shown at ``t_s`` seconds
        (``contrast``: its :func:`weber_contrast`, when already computed)."""
        c = weber_contrast(gray) if contrast is None else contrast
        if self._grid is None:
            self._grid = _grid(*c.shape)
        if self._count == 0:
            self._sums = [np.zeros_like(c), np.zeros_like(c)]
            self._t0 = t_s
        self._sums[self._count % 2] += c
        self._count += 1
        self._t1 = t_s
        if self._count == self.n:
            self._close_window()

    def _blocks(self, x: np.ndarray) -> np.ndarray:
        assert self._grid is not None
        return cv2.resize(x, self._grid, interpolation=cv2.INTER_AREA).ravel()

    def _close_window(self) -> None:
        half = self.n // 2
        even, odd = self._sums[0] / half, self._sums[1] / half
        # var(even - odd) = 4 s^2 / n; the difference of two window means has
        # variance 2 s^2 / n: half the split-half energy is the noise energy
        noise = self._blocks((even - odd) ** 2) / 2.0
        mean = 0.5 * (even + odd)
        if self._ring:
            self._steps.append(self._blocks((mean - self._ring[-1][0]) ** 2))
        self._ring.append((mean, noise, self._t0, self._t1))
        self._count = 0
        if len(self._ring) == self.m + 1:
            first, last = self._ring[0], self._ring[-1]
            # a block changed as it is and once a fade is undone (the global
            # gain must not move change into a still block)
            change = np.minimum(
                self._blocks((last[0] - first[0]) ** 2),
                self._blocks(faded_residual(first[0], last[0]) ** 2),
            )
            step = np.mean(np.stack(list(self._steps)), axis=0)
            self._out.append((first[2], last[3], change, step, 0.5 * (first[1] + last[1])))

    def result(self, cut_times_s: list[float] | tuple[float, ...] = ()) -> ContentSeries:
        """The pairs completed so far (a trailing partial window is dropped).

        Args:
            cut_times_s: times (s) of the first frame of each new shot; a
                pair whose span contains one is a ``transition``.
        """
        k = len(self._out)
        nb = len(self._out[0][2]) if k else 0
        start = np.array([o[0] for o in self._out], dtype=np.float64)
        end = np.array([o[1] for o in self._out], dtype=np.float64)
        cuts = np.asarray(sorted(cut_times_s), dtype=np.float64)
        transition = np.zeros(k, dtype=bool)
        for c in cuts:
            transition |= (start < c) & (c <= end)
        return ContentSeries(
            start_s=start,
            end_s=end,
            block_change=np.array([o[2] for o in self._out], dtype=np.float32).reshape(k, nb),
            block_step=np.array([o[3] for o in self._out], dtype=np.float32).reshape(k, nb),
            block_noise=np.array([o[4] for o in self._out], dtype=np.float32).reshape(k, nb),
            transition=transition,
            window_frames=self.n,
            lag_windows=self.m,
            window_s=self.window_s,
            lag_s=self.lag_s,
        )


def content_series(
    gray: np.ndarray,
    fps: float,
    *,
    times_s: np.ndarray | None = None,
    cuts: list[int] | tuple[int, ...] = (),
    window_s: float = WINDOW_S,
    lag_s: float = LAG_S,
) -> ContentSeries:
    """:class:`ContentSeries` of a whole (T, H, W) luma array.

    Args:
        gray: (T, H, W) uint8 luma frames, 0-255.
        fps: analysis frame rate, frames/s.
        times_s: (T,) frame times, s (default ``arange(T) / fps``).
        cuts: frame indices that start a new shot (a cut lies just before).
        window_s, lag_s: see :class:`ContentAccumulator`.
    """
    g = np.asarray(gray)
    if g.ndim != 3:
        raise ValueError(f"gray must be (T, H, W), got shape {g.shape}")
    t = np.arange(len(g)) / fps if times_s is None else np.asarray(times_s, dtype=np.float64)
    acc = ContentAccumulator(fps, window_s=window_s, lag_s=lag_s)
    for i, frame in enumerate(g):
        acc.push(frame, float(t[i]))
    return acc.result([float(t[c]) for c in cuts if 0 < c < len(t)])
