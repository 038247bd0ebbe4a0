"""Render VQeval's labelled sample clips from photographs bundled with scikit-image.

The clips are the project's small labelled test set: healthy camera travel and moving objects,
slow-but-healthy motion, and the failure modes VQeval must flag (freeze, motion decay into a
freeze, hard loops, ping-pong loops and brightness/colour flicker). Everything is synthesised
from real photos (``skimage.data``) with sub-pixel accurate affine warps, so the ground truth
(loop period, freeze start) is exact.

Usage::

    python data/make_samples.py [--out data/samples] [--only NAME ...]

The output is deterministic: every clip has its own integer seed, and the H.264 encoder runs
single-threaded with fixed settings. ``render_clip(spec)`` returns the frames in memory
(``(T, H, W, 3)`` uint8 RGB) without encoding; the tests use it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np

#: Output frame size in pixels (width, height); both even for yuv420p.
WIDTH, HEIGHT = 256, 144
#: x264 constant rate factor (quality; higher is smaller).
CRF = 25

#: Class name -> failure group ("healthy" for the healthy classes).
CLASS_GROUP: dict[str, str] = {
    "healthy_pan": "healthy",
    "healthy_object": "healthy",
    "slow": "healthy",
    "frozen": "freeze",
    "decay": "freeze",
    "loop": "loop",
    "pingpong": "loop",
    "flicker": "flicker",
}


# --------------------------------------------------------------------------------------------
# Specs


@dataclass(frozen=True)
class Sprite:
    """An elliptical, feather-edged patch cut from a photo.

    Attributes:
        photo: ``skimage.data`` function name of the source photo.
        cx, cy: centre of the cut in source pixels.
        rx, ry: semi-axes of the cut in source pixels.
        size: diameter of the larger axis once rendered, in output pixels.
    """

    photo: str
    cx: float
    cy: float
    rx: float
    ry: float
    size: float


@dataclass(frozen=True)
class ClipSpec:
    """Everything needed to render one labelled clip.

    Attributes:
        name: file stem (the clip is ``<name>.mp4``).
        cls: sample class, a key of ``CLASS_GROUP``.
        photo: ``skimage.data`` name of the background photo.
        seed: seed of the clip's random generator.
        fps: frame rate in frames per second (integer).
        duration_s: clip length in seconds (frames = round(duration_s * fps)).
        content: ``"pan"`` (camera travel over the photo) or ``"object"`` (sprites over a
            slowly drifting background).
        speed: camera speed in output pixels per frame (background drift for ``"object"``).
        sprite_speed: sprite speed in output pixels per frame.
        sprites: sprites for ``"object"`` content.
        zoom: base zoom in output pixels per source pixel (raised automatically when the
            camera path would leave the photo).
        zoom_wobble: standard deviation of the slow log-zoom variation (0 disables it).
        heading_deg: mean direction of travel in degrees (0 = content moves left, i.e. the
            camera moves right; 90 = camera moves down).
        heading_wobble: standard deviation of the slow heading variation in radians.
        noise: standard deviation of the per-frame sensor noise in grey levels (0-255).
        jitter: standard deviation of per-frame sub-pixel camera jitter in output pixels.
        period_s: loop / ping-pong period in seconds (before rounding to whole frames).
        freeze_start_s: time at which motion stops (``frozen`` and ``decay``), seconds.
        flicker_gain: standard deviation of the per-frame log gain (``flicker``).
        flicker_colour: standard deviation of the per-frame, per-channel log gain.
        tint: RGB multipliers applied to the background photo (colours greyscale photos).
    """

    name: str
    cls: str
    photo: str
    seed: int
    fps: int = 15
    duration_s: float = 8.0
    content: str = "pan"
    speed: float = 2.5
    sprite_speed: float = 2.0
    sprites: tuple[Sprite, ...] = ()
    zoom: float = 1.0
    zoom_wobble: float = 0.04
    heading_deg: float = 0.0
    heading_wobble: float = 0.25
    noise: float = 0.5
    jitter: float = 0.0
    period_s: float | None = None
    freeze_start_s: float | None = None
    flicker_gain: float = 0.0
    flicker_colour: float = 0.0
    tint: tuple[float, float, float] = (1.0, 1.0, 1.0)

    @property
    def n_frames(self) -> int:
        """Number of frames of the clip."""
        return round(self.duration_s * self.fps)

    @property
    def group(self) -> str:
        """Failure group: ``healthy``, ``freeze``, ``loop`` or ``flicker``."""
        return CLASS_GROUP[self.cls]

    @property
    def period_frames(self) -> int | None:
        """Loop period in frames (``loop``: segment length; ``pingpong``: forward + back)."""
        if self.period_s is None:
            return None
        n = round(self.period_s * self.fps)
        if self.cls == "pingpong":
            n += n % 2  # forward + back of a segment of n/2 + 1 frames
        return n


# Sprite cuts (source-pixel coordinates chosen by eye on the bundled photos).
FACE = Sprite("astronaut", 222, 100, 72, 92, 58)
HELMET = Sprite("astronaut", 400, 425, 85, 85, 44)
CUP = Sprite("coffee", 292, 150, 125, 115, 62)
CAT = Sprite("chelsea", 228, 165, 125, 115, 56)
COIN_A = Sprite("coins", 339, 46, 30, 32, 36)
COIN_B = Sprite("coins", 46, 257, 30, 30, 32)
SHUTTLE = Sprite("astronaut", 400, 150, 34, 88, 52)

GREY_WARM = (1.0, 0.93, 0.82)
GREY_COOL = (0.86, 0.95, 1.0)

SPECS: tuple[ClipSpec, ...] = (
    # ---- healthy camera travel
    ClipSpec(
        "healthy_pan_hubble",
        "healthy_pan",
        "hubble_deep_field",
        101,
        fps=15,
        duration_s=8.0,
        speed=3.0,
        heading_deg=20,
        zoom=1.0,
    ),
    ClipSpec(
        "healthy_pan_coffee",
        "healthy_pan",
        "coffee",
        102,
        fps=12,
        duration_s=9.0,
        speed=2.2,
        heading_deg=-35,
        zoom=0.9,
        zoom_wobble=0.06,
    ),
    ClipSpec(
        "healthy_pan_rocket",
        "healthy_pan",
        "rocket",
        103,
        fps=16,
        duration_s=7.0,
        speed=2.6,
        heading_deg=175,
        zoom=0.8,
    ),
    ClipSpec(
        "healthy_pan_retina_fast",
        "healthy_pan",
        "retina",
        104,
        fps=16,
        duration_s=8.0,
        speed=4.5,
        heading_deg=-150,
        zoom=1.0,
        zoom_wobble=0.03,
    ),
    ClipSpec(
        "healthy_pan_coins_zoom",
        "healthy_pan",
        "coins",
        105,
        fps=12,
        duration_s=10.0,
        speed=1.8,
        heading_deg=70,
        zoom=0.75,
        zoom_wobble=0.12,
        tint=GREY_COOL,
    ),
    # ---- healthy moving objects over a drifting background
    ClipSpec(
        "healthy_object_brick",
        "healthy_object",
        "brick",
        111,
        fps=15,
        duration_s=8.0,
        content="object",
        speed=0.5,
        sprite_speed=2.6,
        sprites=(CAT, COIN_A),
        heading_deg=10,
        tint=GREY_WARM,
    ),
    ClipSpec(
        "healthy_object_ihc",
        "healthy_object",
        "immunohistochemistry",
        112,
        fps=12,
        duration_s=10.0,
        content="object",
        speed=0.35,
        sprite_speed=2.0,
        sprites=(FACE,),
        heading_deg=200,
    ),
    ClipSpec(
        "healthy_object_hubble",
        "healthy_object",
        "hubble_deep_field",
        113,
        fps=16,
        duration_s=7.0,
        content="object",
        speed=0.6,
        sprite_speed=2.4,
        sprites=(CUP, HELMET, COIN_B),
        heading_deg=-60,
    ),
    ClipSpec(
        "healthy_object_coffee",
        "healthy_object",
        "coffee",
        114,
        fps=15,
        duration_s=9.0,
        content="object",
        speed=0.3,
        sprite_speed=1.8,
        sprites=(COIN_A, COIN_B),
        heading_deg=90,
    ),
    ClipSpec(
        "healthy_object_retina",
        "healthy_object",
        "retina",
        115,
        fps=12,
        duration_s=8.0,
        content="object",
        speed=0.7,
        sprite_speed=2.8,
        sprites=(SHUTTLE, CAT),
        heading_deg=140,
    ),
    # ---- slow but healthy (0.2-0.5 % of the width per frame)
    ClipSpec(
        "slow_astronaut",
        "slow",
        "astronaut",
        121,
        fps=15,
        duration_s=9.0,
        speed=0.6,
        heading_deg=0,
        heading_wobble=0.15,
        zoom_wobble=0.01,
        zoom=1.0,
    ),
    ClipSpec(
        "slow_chelsea",
        "slow",
        "chelsea",
        122,
        fps=12,
        duration_s=10.0,
        speed=1.0,
        heading_deg=160,
        heading_wobble=0.15,
        zoom_wobble=0.01,
        zoom=1.0,
    ),
    ClipSpec(
        "slow_ihc",
        "slow",
        "immunohistochemistry",
        123,
        fps=16,
        duration_s=8.0,
        speed=0.9,
        heading_deg=-100,
        heading_wobble=0.15,
        zoom_wobble=0.01,
    ),
    ClipSpec(
        "slow_hubble",
        "slow",
        "hubble_deep_field",
        124,
        fps=15,
        duration_s=8.0,
        speed=0.55,
        heading_deg=35,
        heading_wobble=0.15,
        zoom_wobble=0.01,
    ),
    ClipSpec(
        "slow_rocket",
        "slow",
        "rocket",
        125,
        fps=12,
        duration_s=9.0,
        speed=0.9,
        heading_deg=-170,
        heading_wobble=0.15,
        zoom_wobble=0.01,
    ),
    # ---- frozen (whole clip, or < 1 s of motion then frozen)
    ClipSpec(
        "frozen_camera",
        "frozen",
        "camera",
        131,
        fps=15,
        duration_s=8.0,
        speed=0.0,
        zoom_wobble=0.0,
        noise=0.5,
        freeze_start_s=0.0,
        tint=GREY_COOL,
    ),
    ClipSpec(
        "frozen_coffee_jitter",
        "frozen",
        "coffee",
        132,
        fps=12,
        duration_s=8.0,
        speed=0.0,
        zoom_wobble=0.0,
        noise=0.4,
        jitter=0.03,
        freeze_start_s=0.0,
    ),
    ClipSpec(
        "frozen_rocket_after_start",
        "frozen",
        "rocket",
        133,
        fps=16,
        duration_s=7.0,
        speed=3.0,
        heading_deg=90,
        noise=0.5,
        freeze_start_s=0.75,
    ),
    ClipSpec(
        "frozen_hubble_jitter",
        "frozen",
        "hubble_deep_field",
        134,
        fps=15,
        duration_s=9.0,
        speed=0.0,
        zoom_wobble=0.0,
        noise=0.6,
        jitter=0.04,
        freeze_start_s=0.0,
    ),
    ClipSpec(
        "frozen_brick_object_after_start",
        "frozen",
        "brick",
        135,
        fps=12,
        duration_s=8.0,
        content="object",
        speed=0.5,
        sprite_speed=3.0,
        sprites=(CUP, COIN_B),
        heading_deg=0,
        noise=0.5,
        freeze_start_s=0.5,
        tint=GREY_WARM,
    ),
    # ---- motion decaying into a freeze for the last 40-60 %
    ClipSpec(
        "decay_hubble",
        "decay",
        "hubble_deep_field",
        141,
        fps=15,
        duration_s=9.0,
        speed=3.2,
        heading_deg=-15,
        freeze_start_s=4.6,
    ),
    ClipSpec(
        "decay_chelsea",
        "decay",
        "chelsea",
        142,
        fps=12,
        duration_s=10.0,
        speed=2.4,
        heading_deg=190,
        zoom=1.1,
        freeze_start_s=5.0,
    ),
    ClipSpec(
        "decay_gravel_object",
        "decay",
        "gravel",
        143,
        fps=16,
        duration_s=8.0,
        content="object",
        speed=0.5,
        sprite_speed=2.8,
        sprites=(FACE, COIN_A),
        heading_deg=30,
        freeze_start_s=3.6,
        tint=GREY_WARM,
    ),
    ClipSpec(
        "decay_rocket_early",
        "decay",
        "rocket",
        144,
        fps=16,
        duration_s=8.0,
        speed=3.0,
        heading_deg=10,
        freeze_start_s=3.2,
    ),
    ClipSpec(
        "decay_ihc_object_late",
        "decay",
        "immunohistochemistry",
        145,
        fps=12,
        duration_s=9.0,
        content="object",
        speed=0.6,
        sprite_speed=2.5,
        sprites=(CAT,),
        heading_deg=-120,
        freeze_start_s=5.3,
    ),
    # ---- hard loops (segment of 1.5-3 s repeated)
    ClipSpec(
        "loop_coffee",
        "loop",
        "coffee",
        151,
        fps=12,
        duration_s=8.0,
        speed=3.0,
        heading_deg=5,
        period_s=1.5,
        noise=0.5,
    ),
    ClipSpec(
        "loop_ihc_object",
        "loop",
        "immunohistochemistry",
        152,
        fps=15,
        duration_s=9.0,
        content="object",
        speed=0.5,
        sprite_speed=3.0,
        sprites=(CUP,),
        heading_deg=120,
        period_s=2.2,
        noise=1.2,
    ),
    ClipSpec(
        "loop_astronaut",
        "loop",
        "astronaut",
        153,
        fps=16,
        duration_s=10.0,
        speed=2.6,
        heading_deg=-80,
        period_s=3.0,
        noise=1.0,
    ),
    ClipSpec(
        "loop_rocket_exact",
        "loop",
        "rocket",
        154,
        fps=15,
        duration_s=8.0,
        speed=3.2,
        heading_deg=180,
        period_s=2.6,
        noise=0.0,
    ),
    ClipSpec(
        "loop_hubble_object",
        "loop",
        "hubble_deep_field",
        155,
        fps=12,
        duration_s=9.0,
        content="object",
        speed=0.6,
        sprite_speed=3.2,
        sprites=(FACE, COIN_A),
        heading_deg=60,
        period_s=1.8,
        noise=0.8,
    ),
    # ---- ping-pong (forward then reversed, repeated)
    ClipSpec(
        "pingpong_rocket",
        "pingpong",
        "rocket",
        161,
        fps=15,
        duration_s=9.0,
        speed=3.0,
        heading_deg=0,
        period_s=3.0,
        noise=0.8,
    ),
    ClipSpec(
        "pingpong_hubble_object",
        "pingpong",
        "hubble_deep_field",
        162,
        fps=12,
        duration_s=8.0,
        content="object",
        speed=0.5,
        sprite_speed=3.0,
        sprites=(CAT, SHUTTLE),
        heading_deg=-150,
        period_s=2.5,
        noise=0.6,
    ),
    ClipSpec(
        "pingpong_brick",
        "pingpong",
        "brick",
        163,
        fps=16,
        duration_s=7.0,
        speed=2.8,
        heading_deg=100,
        period_s=2.0,
        noise=0.8,
        tint=GREY_COOL,
    ),
    ClipSpec(
        "pingpong_coffee",
        "pingpong",
        "coffee",
        164,
        fps=12,
        duration_s=10.0,
        speed=2.4,
        heading_deg=-20,
        period_s=3.6,
        noise=0.6,
    ),
    ClipSpec(
        "pingpong_chelsea_object",
        "pingpong",
        "chelsea",
        165,
        fps=15,
        duration_s=8.0,
        content="object",
        speed=0.4,
        sprite_speed=3.0,
        sprites=(COIN_B,),
        heading_deg=45,
        period_s=2.2,
        noise=0.7,
    ),
    # ---- flicker (random per-frame gain and colour balance)
    ClipSpec(
        "flicker_astronaut_static",
        "flicker",
        "astronaut",
        171,
        fps=15,
        duration_s=7.0,
        speed=0.0,
        zoom_wobble=0.0,
        flicker_gain=0.12,
        flicker_colour=0.05,
    ),
    ClipSpec(
        "flicker_coffee_pan",
        "flicker",
        "coffee",
        172,
        fps=12,
        duration_s=8.0,
        speed=1.5,
        heading_deg=45,
        flicker_gain=0.15,
        flicker_colour=0.04,
    ),
    ClipSpec(
        "flicker_grass_object",
        "flicker",
        "grass",
        173,
        fps=16,
        duration_s=6.0,
        content="object",
        speed=0.4,
        sprite_speed=2.2,
        sprites=(COIN_B, FACE),
        heading_deg=-20,
        flicker_gain=0.10,
        flicker_colour=0.06,
        tint=GREY_WARM,
    ),
    ClipSpec(
        "flicker_chelsea_colour",
        "flicker",
        "chelsea",
        174,
        fps=15,
        duration_s=8.0,
        speed=0.0,
        zoom_wobble=0.0,
        flicker_gain=0.05,
        flicker_colour=0.10,
    ),
    ClipSpec(
        "flicker_rocket_pan",
        "flicker",
        "rocket",
        175,
        fps=12,
        duration_s=9.0,
        speed=2.5,
        heading_deg=180,
        flicker_gain=0.18,
        flicker_colour=0.03,
    ),
)


def spec_by_name(name: str) -> ClipSpec:
    """Return the spec called ``name`` (raises ``KeyError`` if unknown)."""
    for spec in SPECS:
        if spec.name == name:
            return spec
    raise KeyError(name)


# --------------------------------------------------------------------------------------------
# Photos and sprites


@lru_cache(maxsize=16)
def load_photo(name: str, tint: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """Load a ``skimage.data`` photo as float32 RGB in 0-255, greyscale tinted by ``tint``."""
    from skimage import data

    img = np.asarray(getattr(data, name)())
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3].astype(np.float32)
    img *= np.asarray(tint, dtype=np.float32)
    img.setflags(write=False)
    return img


@lru_cache(maxsize=16)
def load_sprite(sprite: Sprite) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``sprite`` from its photo: (RGB float32 0-255, alpha float32 0-1), same square size."""
    img = load_photo(sprite.photo)
    r = math.ceil(max(sprite.rx, sprite.ry) * 1.15)
    pad = cv2.copyMakeBorder(img, r, r, r, r, cv2.BORDER_REFLECT)
    x0, y0 = round(sprite.cx), round(sprite.cy)
    patch = pad[y0 : y0 + 2 * r + 1, x0 : x0 + 2 * r + 1].copy()
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1].astype(np.float32)
    d = np.sqrt((xx / sprite.rx) ** 2 + (yy / sprite.ry) ** 2)
    feather = 6.0 / max(sprite.rx, sprite.ry)  # ~6 source pixels of soft edge
    alpha = np.clip((1.0 - d) / feather, 0.0, 1.0).astype(np.float32)
    patch.setflags(write=False)
    alpha.setflags(write=False)
    return patch, alpha


# --------------------------------------------------------------------------------------------
# Motion paths


def smooth_noise(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Unit-variance Gaussian-smoothed white noise of length ``n`` (``sigma`` in samples)."""
    half = int(3 * sigma) + 1
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    k /= k.sum()
    raw = rng.standard_normal(n + 2 * half)
    out = np.convolve(raw, k, mode="valid")[:n]
    return (out - out.mean()) / (out.std() + 1e-12)


def travel_path(
    rng: np.random.Generator,
    n: int,
    fps: float,
    speed: float,
    heading_deg: float,
    heading_wobble: float,
    envelope: np.ndarray,
) -> np.ndarray:
    """Non-periodic smooth 2-D path, (n, 2) in output pixels, starting at the origin.

    Velocity has mean magnitude ``speed`` (pixels/frame) along ``heading_deg`` with slow
    heading (``heading_wobble`` radians) and speed (+-25 %) variations, times ``envelope``
    (n,) in 0-1. The heading never turns back, so the path never revisits a position.
    """
    theta = math.radians(heading_deg) + heading_wobble * smooth_noise(rng, n, 0.9 * fps)
    mag = speed * np.clip(1.0 + 0.25 * smooth_noise(rng, n, 0.7 * fps), 0.6, 1.5)
    vel = np.stack([np.cos(theta), np.sin(theta)], axis=1) * (mag * envelope)[:, None]
    pos = np.cumsum(vel, axis=0) - vel[0]
    return pos


def motion_envelope(spec: ClipSpec, n: int) -> np.ndarray:
    """Per-frame speed multiplier (n,) in 0-1 for the clip's class (1 = full speed)."""
    t = np.arange(n) / spec.fps
    env = np.ones(n)
    if spec.cls == "frozen":
        env = (t < (spec.freeze_start_s or 0.0)).astype(float)
    elif spec.cls == "decay":
        tf = float(spec.freeze_start_s or 0.0)
        t1 = 0.35 * tf  # full speed, then a smooth decay to zero at tf
        u = np.clip((t - t1) / (tf - t1), 0.0, 1.0)
        env = np.where(t < tf, 0.5 * (1.0 + np.cos(np.pi * u)), 0.0)
    return env


# --------------------------------------------------------------------------------------------
# Rendering


def _view_matrix(cx: float, cy: float, z: float) -> np.ndarray:
    """Inverse affine map (output pixel -> source pixel) of a view centred at (cx, cy)."""
    s = 1.0 / z
    return np.array(
        [[s, 0.0, cx - s * (WIDTH - 1) / 2.0], [0.0, s, cy - s * (HEIGHT - 1) / 2.0]],
        dtype=np.float64,
    )


def render_background(
    spec: ClipSpec, rng: np.random.Generator, n: int, env: np.ndarray
) -> np.ndarray:
    """Camera travel over the background photo: (n, H, W, 3) float32 in 0-255."""
    photo = load_photo(spec.photo, spec.tint)
    hs, ws = photo.shape[:2]
    path = travel_path(rng, n, spec.fps, spec.speed, spec.heading_deg, spec.heading_wobble, env)
    if spec.jitter > 0:
        path = path + rng.normal(0.0, spec.jitter, path.shape)
    dlogz = spec.zoom_wobble * smooth_noise(rng, n, 1.2 * spec.fps) * 0.05
    logz = np.cumsum(dlogz * env) - dlogz[0] * env[0]
    rel = np.exp(logz)
    # Choose the zoom so the whole path fits inside the photo (margin 2 source pixels).
    margin = 2.0
    span = path.max(axis=0) - path.min(axis=0)
    zmin_rel = float(rel.min())
    need_x = (span[0] + WIDTH / zmin_rel) / (ws - 2 * margin)
    need_y = (span[1] + HEIGHT / zmin_rel) / (hs - 2 * margin)
    z0 = max(spec.zoom, need_x, need_y)
    mid = (path.max(axis=0) + path.min(axis=0)) / 2.0
    frames = np.empty((n, HEIGHT, WIDTH, 3), np.float32)
    for i in range(n):
        cx = (ws - 1) / 2.0 + (path[i, 0] - mid[0]) / z0
        cy = (hs - 1) / 2.0 + (path[i, 1] - mid[1]) / z0
        m = _view_matrix(cx, cy, z0 * rel[i])
        frames[i] = cv2.warpAffine(
            photo,
            m,
            (WIDTH, HEIGHT),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
    return frames


def _sprite_path(rng: np.random.Generator, spec: ClipSpec, n: int, env: np.ndarray, r: float):
    """Sprite centre path (n, 2) in output pixels, kept inside the frame with margin ``r``."""
    # Mostly horizontal travel: the frame is wider than tall, so less shrinking is needed.
    heading = float(rng.uniform(-35, 35) + 180 * rng.integers(0, 2))
    path = travel_path(rng, n, spec.fps, spec.sprite_speed, heading, 0.35, env)
    lo = np.array([r, r])
    hi = np.array([WIDTH - r, HEIGHT - r])
    span = path.max(axis=0) - path.min(axis=0)
    room = hi - lo
    scale = min(1.0, float(np.min(room / np.maximum(span, 1e-6))))
    path = (path - path.min(axis=0)) * scale
    span = span * scale
    offset = lo + rng.uniform(0, 1, 2) * (room - span)
    return path + offset


def render_sprites(
    spec: ClipSpec, rng: np.random.Generator, frames: np.ndarray, env: np.ndarray
) -> np.ndarray:
    """Composite the spec's sprites, moving along smooth paths, over ``frames`` (in place)."""
    n = frames.shape[0]
    for sprite in spec.sprites:
        patch, alpha = load_sprite(sprite)
        side = patch.shape[0]
        z = sprite.size / (2.0 * max(sprite.rx, sprite.ry))  # output px per source px
        r = 0.5 * side * z
        path = _sprite_path(rng, spec, n, env, r)
        dang = 0.6 * smooth_noise(rng, n, spec.fps)  # degrees per frame, slow spin changes
        ang = np.cumsum(dang * env) + float(rng.uniform(-20, 20))
        c = (side - 1) / 2.0
        for i in range(n):
            a = math.radians(ang[i])
            ca, sa = math.cos(a) / z, math.sin(a) / z
            # output (x, y) -> sprite source: R(-a) / z about the sprite centre
            dx, dy = path[i]
            m = np.array(
                [[ca, sa, c - ca * dx - sa * dy], [-sa, ca, c + sa * dx - ca * dy]],
                dtype=np.float64,
            )
            flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
            rgb = cv2.warpAffine(patch, m, (WIDTH, HEIGHT), flags=flags)
            al = cv2.warpAffine(alpha, m, (WIDTH, HEIGHT), flags=flags)[:, :, None]
            frames[i] = frames[i] * (1.0 - al) + rgb * al
    return frames


def render_motion(spec: ClipSpec, rng: np.random.Generator, n: int, env: np.ndarray):
    """Render ``n`` frames of the spec's content with speed envelope ``env`` (float32)."""
    frames = render_background(spec, rng, n, env)
    if spec.content == "object":
        frames = render_sprites(spec, rng, frames, env)
    return frames


def frame_order(spec: ClipSpec) -> np.ndarray:
    """Index of the source segment frame shown at each output frame, (T,) int."""
    n = spec.n_frames
    p = spec.period_frames
    t = np.arange(n)
    if spec.cls == "loop" and p:
        return t % p
    if spec.cls == "pingpong" and p:
        half = p // 2  # forward 0..half, back half-1..1: period 2 * half
        u = t % p
        return np.where(u <= half, u, p - u)
    return t


def render_clip(spec: ClipSpec) -> np.ndarray:
    """Render ``spec`` in memory: (T, H, W, 3) uint8 RGB, T = ``spec.n_frames``.

    Deterministic for a given spec (all randomness comes from ``spec.seed``).
    """
    rng = np.random.default_rng(spec.seed)
    order = frame_order(spec)
    n_src = int(order.max()) + 1
    env = motion_envelope(spec, n_src)
    src = render_motion(spec, rng, n_src, env)
    frames = src[order]
    n = frames.shape[0]
    if spec.flicker_gain > 0 or spec.flicker_colour > 0:
        g = rng.normal(0.0, spec.flicker_gain, (n, 1, 1, 1))
        c = rng.normal(0.0, spec.flicker_colour, (n, 1, 1, 3))
        frames = frames * np.exp(g + c).astype(np.float32)
    if spec.noise > 0:
        frames = frames + rng.normal(0.0, spec.noise, frames.shape).astype(np.float32)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Labels and encoding


def clip_labels(spec: ClipSpec) -> dict[str, Any]:
    """Ground-truth record of ``spec`` as stored in ``labels.json``."""
    p = spec.period_frames
    photos = [spec.photo] + [s.photo for s in spec.sprites]
    return {
        "class": spec.cls,
        "group": spec.group,
        "failure": spec.group != "healthy",
        "fps": spec.fps,
        "frames": spec.n_frames,
        "loop_period_s": None if p is None else round(p / spec.fps, 6),
        "loop_period_frames": p,
        "freeze_start_s": spec.freeze_start_s,
        "photo": "+".join(dict.fromkeys(photos)),
        "seed": spec.seed,
    }


def encode_mp4(frames: np.ndarray, path: Path, fps: int, crf: int = CRF) -> None:
    """Write (T, H, W, 3) uint8 RGB frames to ``path`` as H.264 yuv420p at ``fps``."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(
            "libx264",
            rate=Fraction(fps),
            options={"crf": str(crf), "preset": "slow", "x264-params": "threads=1"},
        )
        stream.width = frames.shape[2]
        stream.height = frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.thread_count = 1
        for i, img in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, fps)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def generate(
    out: Path, names: Sequence[str] | None = None, log: Callable[[str], None] = print
) -> dict[str, dict[str, Any]]:
    """Render and encode the selected clips into ``out`` and (re)write ``out/labels.json``.

    With ``names`` given, only those clips are re-encoded; labels.json always lists all clips.
    """
    out.mkdir(parents=True, exist_ok=True)
    labels: dict[str, dict[str, Any]] = {}
    for spec in SPECS:
        fname = f"{spec.name}.mp4"
        labels[fname] = clip_labels(spec)
        if names and spec.name not in names:
            continue
        frames = render_clip(spec)
        encode_mp4(frames, out / fname, spec.fps)
        log(f"{fname}: {frames.shape[0]} frames, {(out / fname).stat().st_size / 1024:.0f} KiB")
    (out / "labels.json").write_text(json.dumps(labels, indent=2, sort_keys=True) + "\n")
    return labels


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_out = Path(__file__).resolve().parent / "samples"
    parser.add_argument("--out", type=Path, default=default_out, help="output folder")
    parser.add_argument("--only", nargs="*", default=None, help="clip names to re-render")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.only or ()) - {s.name for s in SPECS})
    if unknown:
        parser.error(f"unknown clip names: {', '.join(unknown)}")
    generate(args.out, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
