"""Procedural training videos for the tiny video DiT.

Each clip is a small camera window travelling over one of four bundled
scikit-image photos, with one or two textured sprites (disc, square or ring)
moving and bouncing inside the frame. Motion is continuous and non-periodic:
the camera velocity drifts smoothly (constant acceleration plus a slow
perpendicular sway with a random, incommensurate rate) and the sprites move at
unrelated speeds.

The condition label (the "prompt") is one of :data:`CONDITIONS`: a background
photo and a camera travel direction. Everything is rendered with
``torch.nn.functional.grid_sample`` so a whole batch is generated on the fly on
the training device (a batch of 64 clips of 16 frames takes a few ms on a GPU).

Pixel values are float in [-1, 1], layout (B, 3, T, H, W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

#: Background photos from ``skimage.data`` (bundled, load offline).
PHOTOS: tuple[str, ...] = ("coffee", "chelsea", "rocket", "astronaut")

#: Unit camera travel directions (dx, dy) in image axes (x right, y down).
DIRECTIONS: dict[str, tuple[float, float]] = {
    "right": (1.0, 0.0),
    "left": (-1.0, 0.0),
    "down": (0.0, 1.0),
    "up": (0.0, -1.0),
}


@dataclass(frozen=True)
class Condition:
    """One class label: a background photo and a camera travel direction."""

    name: str
    photo: str
    direction: str


def _make_conditions() -> tuple[Condition, ...]:
    pairs = (
        ("coffee", "right"),
        ("coffee", "left"),
        ("chelsea", "down"),
        ("chelsea", "up"),
        ("rocket", "left"),
        ("rocket", "right"),
        ("astronaut", "up"),
        ("astronaut", "down"),
    )
    return tuple(Condition(f"{p}-pan-{d}", p, d) for p, d in pairs)


#: The 8 condition classes, index = class id.
CONDITIONS: tuple[Condition, ...] = _make_conditions()


@dataclass(frozen=True)
class DataConfig:
    """Geometry and motion ranges of the procedural videos.

    Attributes:
        size: frame side in pixels (square frames).
        frames: clip length in frames (the model's training horizon).
        photo_size: side in pixels of the square photo the camera travels over.
        cam_speed: camera speed range in pixels per frame.
        cam_accel: max |acceleration| along the travel direction, pixels/frame^2.
        cam_sway: max perpendicular sway amplitude in pixels.
        sprite_radius: sprite radius range in pixels.
        sprite_speed: sprite speed range in pixels per frame.
    """

    size: int = 24
    frames: int = 16
    photo_size: int = 128
    cam_speed: tuple[float, float] = (0.45, 1.0)
    cam_accel: float = 0.006
    cam_sway: float = 2.0
    sprite_radius: tuple[float, float] = (2.5, 4.5)
    sprite_speed: tuple[float, float] = (0.3, 1.1)


def load_photos(photo_size: int = 128) -> torch.Tensor:
    """Load :data:`PHOTOS` as a float tensor (P, 3, S, S) in [-1, 1].

    Each photo is centre-cropped to a square and resized to ``photo_size``
    pixels with area averaging.
    """
    import cv2
    import skimage.data

    out = []
    for name in PHOTOS:
        img = np.asarray(getattr(skimage.data, name)())
        if img.ndim == 2:
            img = np.stack([img] * 3, axis=-1)
        h, w = img.shape[:2]
        s = min(h, w)
        y0, x0 = (h - s) // 2, (w - s) // 2
        img = img[y0 : y0 + s, x0 : x0 + s, :3]
        img = cv2.resize(img, (photo_size, photo_size), interpolation=cv2.INTER_AREA)
        out.append(torch.from_numpy(img).permute(2, 0, 1).float() / 127.5 - 1.0)
    return torch.stack(out)


def _reflect(x: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """Fold positions into [lo, hi] as a ball bouncing off both walls."""
    span = (hi - lo).clamp_min(1e-6)
    y = torch.remainder(x - lo, 2 * span)
    return lo + span - (y - span).abs()


class ProceduralVideos:
    """On-the-fly batch generator of labelled procedural clips.

    Args:
        config: geometry and motion ranges.
        device: torch device to render on.
        photos: optional pre-loaded photos (P, 3, S, S); loaded if omitted.
    """

    def __init__(
        self,
        config: DataConfig | None = None,
        device: str | torch.device = "cpu",
        photos: torch.Tensor | None = None,
    ) -> None:
        self.config = config or DataConfig()
        self.device = torch.device(device)
        p = photos if photos is not None else load_photos(self.config.photo_size)
        self.photos = p.to(self.device)
        self.photo_index = torch.tensor(
            [PHOTOS.index(c.photo) for c in CONDITIONS], device=self.device
        )
        self.direction = torch.tensor(
            [DIRECTIONS[c.direction] for c in CONDITIONS], device=self.device
        )

    @property
    def num_classes(self) -> int:
        """Number of condition classes (8)."""
        return len(CONDITIONS)

    def sample(
        self,
        batch: int,
        labels: torch.Tensor | None = None,
        frames: int | None = None,
        generator: torch.Generator | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Render a batch of clips.

        Args:
            batch: number of clips.
            labels: optional class ids (B,) int; random if omitted.
            frames: clip length in frames (default ``config.frames``).
            generator: optional torch generator on ``self.device``.

        Returns:
            (video, labels): video (B, 3, T, H, W) float in [-1, 1], labels (B,) int64.
        """
        cfg = self.config
        dev = self.device
        T = frames or cfg.frames
        S = cfg.size
        P = cfg.photo_size

        def rnd(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, device=dev, generator=generator)

        if labels is None:
            labels = torch.randint(0, self.num_classes, (batch,), device=dev, generator=generator)
        labels = labels.to(dev).long()
        B = labels.shape[0]
        t = torch.arange(T, device=dev, dtype=torch.float32)  # (T,)

        # --- camera path (window top-left corner in photo pixels) -----------------
        d = self.direction[labels]  # (B, 2)
        perp = torch.stack([-d[:, 1], d[:, 0]], dim=1)
        speed = cfg.cam_speed[0] + (cfg.cam_speed[1] - cfg.cam_speed[0]) * rnd(B)
        accel = (2 * rnd(B) - 1) * cfg.cam_accel
        sway_amp = cfg.cam_sway * rnd(B)
        sway_rate = 0.05 + 0.12 * rnd(B)  # rad/frame, random so nothing repeats exactly
        sway_phase = 2 * math.pi * rnd(B)
        along = speed[:, None] * t + 0.5 * accel[:, None] * t**2  # (B, T)
        across = sway_amp[:, None] * (
            torch.sin(sway_rate[:, None] * t + sway_phase[:, None]) - torch.sin(sway_phase[:, None])
        )
        path = along[..., None] * d[:, None, :] + across[..., None] * perp[:, None, :]  # (B,T,2)
        # choose the start so the whole path stays inside the photo
        lo = -path.amin(dim=1)  # (B, 2)
        hi = (P - S - 1) - path.amax(dim=1)
        start = lo + (hi - lo).clamp_min(0) * rnd(B, 2)
        corner = start[:, None, :] + path  # (B, T, 2)

        pix = torch.arange(S, device=dev, dtype=torch.float32) + 0.5
        gx = corner[..., 0, None, None] + pix[None, None, None, :]  # (B,T,1,S)
        gy = corner[..., 1, None, None] + pix[None, None, :, None]  # (B,T,S,1)
        gx, gy = torch.broadcast_tensors(gx, gy)
        grid = torch.stack([gx / P * 2 - 1, gy / P * 2 - 1], dim=-1)  # (B,T,S,S,2)
        src = self.photos[self.photo_index[labels]]  # (B,3,P,P)
        # frames stacked vertically in one grid: no per-frame copy of the photo
        bg = F.grid_sample(
            src, grid.reshape(B, T * S, S, 2), mode="bilinear", align_corners=False
        )  # (B, 3, T*S, S)
        bg = bg.reshape(B, 3, T, S, S).permute(0, 2, 1, 3, 4)

        # --- sprites -----------------------------------------------------------
        frame = bg
        yy = pix[:, None].expand(S, S)
        xx = pix[None, :].expand(S, S)
        n_sprites = 1 + (rnd(B) < 0.6).long()  # 1 or 2 per clip
        for k in range(2):
            r = cfg.sprite_radius[0] + (cfg.sprite_radius[1] - cfg.sprite_radius[0]) * rnd(B)
            ang = 2 * math.pi * rnd(B)
            sp = cfg.sprite_speed[0] + (cfg.sprite_speed[1] - cfg.sprite_speed[0]) * rnd(B)
            p0 = r[:, None] + (S - 2 * r[:, None]) * rnd(B, 2)
            raw = p0[:, None, :] + t[None, :, None] * (
                sp[:, None, None] * torch.stack([torch.cos(ang), torch.sin(ang)], -1)[:, None, :]
            )
            lo_b = r[:, None, None].expand_as(raw)
            c = _reflect(raw, lo_b, S - lo_b)  # (B, T, 2) centre in frame pixels
            dx = xx[None, None] - c[..., 0, None, None]
            dy = yy[None, None] - c[..., 1, None, None]
            kind = torch.randint(0, 3, (B,), device=dev, generator=generator)
            rr = r[:, None, None, None]
            dist_disc = torch.sqrt(dx**2 + dy**2)
            dist_sq = torch.maximum(dx.abs(), dy.abs())
            sdf = torch.where(
                (kind == 1)[:, None, None, None],
                dist_sq - rr,
                torch.where(
                    (kind == 2)[:, None, None, None],
                    (dist_disc - 0.7 * rr).abs() - 0.35 * rr,
                    dist_disc - rr,
                ),
            )
            alpha = (0.5 - sdf).clamp(0, 1)  # 1-pixel antialiased edge
            alpha = alpha * (k < n_sprites).float()[:, None, None, None]
            # texture: two-colour stripes fixed to the sprite body
            c1 = 2 * rnd(B, 3) - 1
            c2 = 2 * rnd(B, 3) - 1
            freq = 1.2 + 1.0 * rnd(B)
            tang = math.pi * rnd(B)
            u = (
                dx * torch.cos(tang)[:, None, None, None]
                + dy * torch.sin(tang)[:, None, None, None]
            )
            stripe = 0.5 + 0.5 * torch.sin(freq[:, None, None, None] * u)
            tex = c1[:, None, :, None, None] * stripe[:, :, None] + c2[:, None, :, None, None] * (
                1 - stripe[:, :, None]
            )  # (B,T,3,S,S)
            a = alpha[:, :, None]
            frame = frame * (1 - a) + tex * a
        video = frame.permute(0, 2, 1, 3, 4).contiguous().clamp(-1, 1)
        return video, labels


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """Convert one clip (3, T, H, W) in [-1, 1] to a (T, H, W, 3) uint8 array."""
    v = ((video.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return v.permute(1, 2, 3, 0).cpu().numpy()
