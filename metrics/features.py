"""Frame embedding backbones behind one small interface.

A :class:`Backbone` turns frames into one L2-normalised vector per frame, so
that the cosine similarity of two frames (their dot product) is in -1..1 and
higher means more alike content. Pure code: the models arrive built (state
dicts or library models); finding, downloading and caching weights is
:mod:`vqeval.weights`' job. The kinds:

``"pixel"`` (default, weight-free, CPU, ~1 ms per frame)
    Hand-made descriptor: a contrast-normalised 16 x 16 luma thumbnail, a
    4 x 4 grid of opponent-colour means and a 4 x 4 x 8 histogram of gradient
    orientations (HOG-like). Every block is centred so that its expected value
    over unrelated images is zero (thumbnail minus its mean, histogram minus its
    uniform level, opponent colours are zero on grey), which makes the cosine
    of unrelated frames scatter around 0 instead of sitting near 1. Area
    downsampling makes it insensitive to sensor/codec noise of a few grey
    levels while a change of content moves it far.

:class:`DinoBackbone` (DINO ViT CLS token) and :class:`ClipBackbone` (CLIP ViT
image embedding)
    Small local implementations built from a state dict (the ``dino`` and
    ``clip`` files of a local weights folder); their size is read from the
    weight shapes, so any checkpoint with the usual key layout loads.

:class:`LibraryBackbone`
    A model built by open_clip or timm, run with that library's own
    evaluation transform (resize the shorter side, centre crop, mean/std).

Every backbone declares ``change_distance``: the cosine distance
(1 - similarity) above which two frames of one video show clearly different
content. Repetition and progression metrics use it as their one absolute
scale; everything else in them is relative.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

__all__ = [
    "Backbone",
    "ClipBackbone",
    "DinoBackbone",
    "LibraryBackbone",
    "PixelBackbone",
    "pixel_features",
]


def _as_frames(frames: np.ndarray) -> np.ndarray:
    f = np.asarray(frames)
    if f.ndim == 3 and f.shape[-1] == 3:
        f = f[None]
    if f.ndim != 4 or f.shape[-1] != 3:
        raise ValueError(f"frames must be (T, H, W, 3) RGB, got shape {f.shape}")
    if f.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 0-255, got {f.dtype}")
    return f


def _l2(x: np.ndarray, axis: int = -1) -> np.ndarray:
    n = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(n, 1e-12)


class Backbone(ABC):
    """Frame embedder.

    Attributes:
        name: registry name (``"pixel"``, ``"dino"``, ``"clip"``).
        input_size: side in pixels of the square image the model sees.
        change_distance: cosine distance (0-2) above which two frames show
            clearly different content for this backbone.
        novelty_distance: smallest cosine distance that counts as new content
            (several times the distance between two noisy encodes of one frame).
        frame_side: shorter side in pixels the frames should have when they
            reach :meth:`embed` (the model's resize target, before its centre
            crop); 0 = the analysis frames are enough (weight-free backbones).
    """

    name: str = ""
    input_size: int = 0
    frame_side: int = 0
    change_distance: float = 0.1
    novelty_distance: float = 0.01

    @abstractmethod
    def embed(self, frames: np.ndarray) -> np.ndarray:
        """Embed frames.

        Args:
            frames: (T, H, W, 3) uint8 RGB.

        Returns:
            (T, d) float32, every row L2-normalised (norm 1), so ``e @ e.T`` is
            the cosine self-similarity in -1..1 (higher = more alike).
        """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, input_size={self.input_size})"


# --------------------------------------------------------------------------- pixel

_PIX = 64  # working resolution of the pixel descriptor
_THUMB = 16  # luma thumbnail side
_CELLS = 4  # HOG / colour grid side
_BINS = 8  # unsigned gradient orientation bins
_W_LUMA, _W_HOG, _W_COLOUR = 1.0, 1.0, 0.6
#: contrast floor (luma units 0-1) so flat frames do not amplify noise
_STD_FLOOR = 0.04
#: opponent colour scale: a fully saturated cell contributes ~1
_COLOUR_GAIN = 2.0
#: Gaussian blur (pixels at 64 x 64) before the gradients of the HOG block
_HOG_BLUR = 1.0
#: mean Sobel magnitude (luma 0-1 at 64 x 64, after the blur) giving the HOG
#: block its full weight (textured photos: 0.3-0.7; sensor noise: < 0.01)
_HOG_FULL = 0.02
#: constant last component (direction of featureless frames)
_FLAT = 0.05


def pixel_features(frames: np.ndarray) -> np.ndarray:
    """Weight-free frame descriptor of the ``"pixel"`` backbone.

    Args:
        frames: (T, H, W, 3) uint8 RGB, any size >= 8 x 8.

    Returns:
        (T, 256 + 32 + 128 + 1) float32, rows L2-normalised. Blocks: centred
        contrast-normalised 16 x 16 luma, 4 x 4 opponent colour means (x 2),
        centred 4 x 4 x 8 gradient-orientation histograms, each weighted
        (norm <= 1, smaller for low-contrast frames), and one constant 0.05
        so that featureless frames have a direction.
    """
    f = _as_frames(frames)
    n_feat = _THUMB * _THUMB + 2 * _CELLS * _CELLS + _CELLS * _CELLS * _BINS
    out = np.empty((len(f), n_feat + 1))
    for i, fr in enumerate(f):
        small = cv2.resize(fr, (_PIX, _PIX), interpolation=cv2.INTER_AREA).astype(np.float32)
        small /= 255.0
        r, g, b = small[..., 0], small[..., 1], small[..., 2]
        y = 0.299 * r + 0.587 * g + 0.114 * b

        thumb = cv2.resize(y, (_THUMB, _THUMB), interpolation=cv2.INTER_AREA).ravel()
        thumb = thumb - thumb.mean()
        # unit-variance thumbnail (norm 1); low-contrast frames get a shorter block
        thumb = thumb / (max(float(thumb.std()), _STD_FLOOR) * _THUMB) * _W_LUMA

        rg = r - g
        yb = 0.5 * (r + g) - b
        opp = np.stack([rg, yb], -1)
        cells = cv2.resize(opp, (_CELLS, _CELLS), interpolation=cv2.INTER_AREA)
        colour = cells.ravel() * (_COLOUR_GAIN * _W_COLOUR / _CELLS)

        ys = cv2.GaussianBlur(y, (0, 0), _HOG_BLUR)  # orientation of noise is random
        gx = cv2.Sobel(ys, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(ys, cv2.CV_32F, 0, 1, ksize=3)
        mag = np.hypot(gx, gy)
        ang = np.mod(np.arctan2(gy, gx), np.pi)  # unsigned orientation
        bins = np.minimum((ang / np.pi * _BINS).astype(np.int64), _BINS - 1)
        cs = _PIX // _CELLS
        cell_id = (np.arange(_PIX) // cs)[:, None] * _CELLS + (np.arange(_PIX) // cs)[None, :]
        hist = np.bincount(
            (cell_id * _BINS + bins).ravel(),
            weights=mag.ravel(),
            minlength=_CELLS * _CELLS * _BINS,
        ).reshape(_CELLS * _CELLS, _BINS)
        total = float(mag.sum())
        hist = hist - hist.mean(axis=1, keepdims=True)  # zero mean over orientations
        # weak gradients carry little orientation information: the block
        # fades out below a mean gradient magnitude of _HOG_FULL
        hog = _l2(hist.ravel()) * _W_HOG * min(1.0, total / (_PIX * _PIX * _HOG_FULL))

        out[i, :n_feat] = np.concatenate([thumb, colour, hog])
    # a small constant component: featureless frames (uniform colour) would
    # otherwise have an undefined direction; with it they are similar to each
    # other and unlike textured frames (it adds <= 0.0025 to similarities)
    out[:, -1] = _FLAT
    return _l2(out).astype(np.float32)


class PixelBackbone(Backbone):
    """Weight-free descriptor (:func:`pixel_features`); fast on CPU."""

    name = "pixel"
    input_size = _PIX
    change_distance = 0.05
    novelty_distance = 0.01

    def embed(self, frames: np.ndarray) -> np.ndarray:
        return pixel_features(frames)


# ----------------------------------------------------------------- learned (torch)

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def _strip(sd: dict[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    for p in prefixes:
        if any(k.startswith(p) for k in sd):
            return {k[len(p) :]: v for k, v in sd.items() if k.startswith(p)}
    return sd


def _require(sd: dict[str, Any], keys: tuple[str, ...], source: str, what: str) -> None:
    missing = [k for k in keys if k not in sd]
    if missing:
        raise ValueError(
            f"{source}: not {what} weights (missing {', '.join(missing[:3])}); "
            "see docs/metrics.md, section Backbones"
        )


def center_crop_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """Resize ``frame`` so its shorter side is ``size`` px (aspect kept; area
    interpolation when shrinking, bicubic when enlarging), then crop the centre
    ``size`` x ``size`` square: the evaluation transform of CLIP and timm models.

    Args:
        frame: (H, W, 3) uint8 RGB.
        size: output side in pixels (>= 1).

    Returns:
        (size, size, 3) uint8 RGB.
    """
    h, w = frame.shape[:2]
    s = size / min(h, w)
    nh, nw = max(size, round(h * s)), max(size, round(w * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    r = cv2.resize(frame, (nw, nh), interpolation=interp) if (nh, nw) != (h, w) else frame
    top, left = (nh - size) // 2, (nw - size) // 2
    return np.ascontiguousarray(r[top : top + size, left : left + size])


def _preprocess(frames: np.ndarray, size: int, mean: tuple, std: tuple) -> Any:
    import torch

    f = _as_frames(frames)
    x = np.stack([center_crop_resize(fr, size) for fr in f])
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
    m = torch.tensor(mean).view(1, 3, 1, 1)
    s = torch.tensor(std).view(1, 3, 1, 1)
    return (t - m) / s


def _resize_pos(pos: Any, n_tokens: int) -> Any:
    """Bicubically resample a (1, 1 + g*g, d) position table to ``n_tokens``."""
    import torch.nn.functional as F

    if pos.shape[1] == n_tokens:
        return pos
    cls, grid = pos[:, :1], pos[:, 1:]
    g0 = round(math.sqrt(grid.shape[1]))
    g1 = round(math.sqrt(n_tokens - 1))
    grid = grid.reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=(g1, g1), mode="bicubic", align_corners=False)
    return torch_cat(cls, grid.permute(0, 2, 3, 1).reshape(1, g1 * g1, -1))


def torch_cat(a: Any, b: Any) -> Any:
    import torch

    return torch.cat([a, b], dim=1)


def _attention(x: Any, w_qkv: Any, b_qkv: Any, w_o: Any, b_o: Any, heads: int) -> Any:
    import torch.nn.functional as F

    n, t, d = x.shape
    qkv = F.linear(x, w_qkv, b_qkv).reshape(n, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
    y = F.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2])
    return F.linear(y.transpose(1, 2).reshape(n, t, d), w_o, b_o)


class _TorchBackbone(Backbone):
    """Common code of the learned backbones: lazy torch, batching, no grad."""

    batch_size = 32

    def __init__(self, state_dict: dict[str, Any], source: str = "") -> None:
        import torch

        self.source = source
        self.sd = {k: v.float() for k, v in state_dict.items() if isinstance(v, torch.Tensor)}

    def _forward(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def embed(self, frames: np.ndarray) -> np.ndarray:
        import torch

        f = _as_frames(frames)
        outs = []
        with torch.inference_mode():
            for i in range(0, len(f), self.batch_size):
                x = _preprocess(f[i : i + self.batch_size], self.input_size, *self._norm)
                outs.append(self._forward(x).float().numpy())
        e = np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)
        return _l2(e).astype(np.float32)

    _norm: tuple = (_IMAGENET_MEAN, _IMAGENET_STD)


class DinoBackbone(_TorchBackbone):
    """DINO ViT (B/16 for VBench) CLS token after the final norm.

    Key layout: ``cls_token``, ``pos_embed``, ``patch_embed.proj.*``,
    ``blocks.<i>.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*``, ``norm.*``
    (the original DINO release and timm ``vit_base_patch16_224.dino``).
    Width, depth and patch size are read from the shapes; heads = width / 64.
    """

    name = "dino"
    input_size = 224
    change_distance = 0.05  # first guess, not calibrated (no weights offline)
    novelty_distance = 0.01
    _norm = (_IMAGENET_MEAN, _IMAGENET_STD)

    def __init__(self, state_dict: dict[str, Any], source: str = "") -> None:
        super().__init__(_strip(state_dict, ("module.", "backbone.")), source)
        sd = self.sd
        _require(sd, ("cls_token", "pos_embed", "patch_embed.proj.weight", "norm.weight"),
                 source, "DINO ViT")  # fmt: skip
        self.dim = sd["cls_token"].shape[-1]
        self.patch = sd["patch_embed.proj.weight"].shape[-1]
        self.depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
        self.heads = max(1, self.dim // 64)
        g = round(math.sqrt(sd["pos_embed"].shape[1] - 1))
        self.input_size = self.frame_side = g * self.patch

    def _forward(self, x: Any) -> Any:
        import torch.nn.functional as F

        sd = self.sd
        d = self.dim
        h = F.conv2d(
            x, sd["patch_embed.proj.weight"], sd["patch_embed.proj.bias"], stride=self.patch
        )
        h = h.flatten(2).transpose(1, 2)
        h = torch_cat(sd["cls_token"].expand(len(h), -1, -1), h)
        h = h + _resize_pos(sd["pos_embed"], h.shape[1])
        for i in range(self.depth):
            p = f"blocks.{i}."
            y = F.layer_norm(h, (d,), sd[p + "norm1.weight"], sd[p + "norm1.bias"], 1e-6)
            h = h + _attention(y, sd[p + "attn.qkv.weight"], sd[p + "attn.qkv.bias"],
                               sd[p + "attn.proj.weight"], sd[p + "attn.proj.bias"], self.heads)  # fmt: skip
            y = F.layer_norm(h, (d,), sd[p + "norm2.weight"], sd[p + "norm2.bias"], 1e-6)
            y = F.gelu(F.linear(y, sd[p + "mlp.fc1.weight"], sd[p + "mlp.fc1.bias"]))
            h = h + F.linear(y, sd[p + "mlp.fc2.weight"], sd[p + "mlp.fc2.bias"])
        h = F.layer_norm(h, (d,), sd["norm.weight"], sd["norm.bias"], 1e-6)
        return h[:, 0]


class ClipBackbone(_TorchBackbone):
    """CLIP image tower (ViT-B/32 for VBench), projected image embedding.

    Key layout of OpenAI CLIP / open_clip (``visual.`` prefix optional):
    ``conv1.weight``, ``class_embedding``, ``positional_embedding``,
    ``ln_pre.*``, ``transformer.resblocks.<i>.{ln_1,attn.in_proj_*,
    attn.out_proj.*,ln_2,mlp.c_fc.*,mlp.c_proj.*}``, ``ln_post.*``, ``proj``.
    Uses QuickGELU (the OpenAI weights VBench uses).
    """

    name = "clip"
    input_size = 224
    change_distance = 0.03  # first guess, not calibrated (no weights offline)
    novelty_distance = 0.005
    _norm = (_CLIP_MEAN, _CLIP_STD)

    def __init__(
        self, state_dict: dict[str, Any], source: str = "", quick_gelu: bool = True
    ) -> None:
        super().__init__(_strip(state_dict, ("visual.", "module.visual.")), source)
        sd = self.sd
        _require(sd, ("conv1.weight", "class_embedding", "positional_embedding", "proj"),
                 source, "CLIP ViT")  # fmt: skip
        self.dim = sd["class_embedding"].shape[-1]
        self.patch = sd["conv1.weight"].shape[-1]
        self.depth = len({k.split(".")[2] for k in sd if k.startswith("transformer.resblocks.")})
        self.heads = max(1, self.dim // 64)
        g = round(math.sqrt(sd["positional_embedding"].shape[0] - 1))
        self.input_size = self.frame_side = g * self.patch
        self.quick_gelu = quick_gelu

    def _forward(self, x: Any) -> Any:
        import torch
        import torch.nn.functional as F

        sd = self.sd
        d = self.dim
        h = F.conv2d(x, sd["conv1.weight"], None, stride=self.patch).flatten(2).transpose(1, 2)
        h = torch_cat(sd["class_embedding"].view(1, 1, d).expand(len(h), -1, -1), h)
        h = h + _resize_pos(sd["positional_embedding"][None], h.shape[1])
        h = F.layer_norm(h, (d,), sd["ln_pre.weight"], sd["ln_pre.bias"], 1e-5)
        for i in range(self.depth):
            p = f"transformer.resblocks.{i}."
            y = F.layer_norm(h, (d,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], 1e-5)
            h = h + _attention(y, sd[p + "attn.in_proj_weight"], sd[p + "attn.in_proj_bias"],
                               sd[p + "attn.out_proj.weight"], sd[p + "attn.out_proj.bias"],
                               self.heads)  # fmt: skip
            y = F.layer_norm(h, (d,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], 1e-5)
            y = F.linear(y, sd[p + "mlp.c_fc.weight"], sd[p + "mlp.c_fc.bias"])
            y = y * torch.sigmoid(1.702 * y) if self.quick_gelu else F.gelu(y)
            h = h + F.linear(y, sd[p + "mlp.c_proj.weight"], sd[p + "mlp.c_proj.bias"])
        h = F.layer_norm(h[:, 0], (d,), sd["ln_post.weight"], sd["ln_post.bias"], 1e-5)
        return h @ sd["proj"]


# ------------------------------------------------------------ library-built models


class LibraryBackbone(Backbone):
    """A model built by its own library (open_clip, timm), run as that library
    runs it: its evaluation transform, batches on one device, no grad.

    Args:
        name: registry name (e.g. ``"clip:ViT-B-32/laion2b_s34b_b79k"``, ``"dinov2-s"``).
        encode_image: (N, 3, S, S) float tensor on ``device`` -> (N, d) tensor.
        transform: the library's evaluation transform, PIL RGB image ->
            (3, S, S) float tensor (resize, centre crop, mean/std).
        input_size: S, side in pixels of the model's input.
        frame_side: shorter side in pixels the transform resizes to (>= S).
        device: torch device the model lives on (``"cpu"``, ``"cuda"``, ``"cuda:1"``).
        batch_size: frames per forward pass (>= 1).
        encode_text: for CLIP models, list of str -> (n, d) tensor in the
            image embedding space; ``None`` for image-only models.
        change_distance, novelty_distance: see :class:`Backbone` (first guesses
            for learned models, not calibrated).
        source: where the weights came from (file or cache path), for messages.
    """

    def __init__(
        self,
        name: str,
        encode_image: Callable[[Any], Any],
        transform: Callable[[Any], Any],
        input_size: int,
        frame_side: int,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        encode_text: Callable[[Sequence[str]], Any] | None = None,
        change_distance: float = 0.05,
        novelty_distance: float = 0.01,
        source: str = "",
    ) -> None:
        self.name = name
        self.encode_image = encode_image
        self.transform = transform
        self.input_size = int(input_size)
        self.frame_side = int(frame_side)
        self.device = device
        self.batch_size = max(1, int(batch_size))
        self.encode_text = encode_text
        self.change_distance = change_distance
        self.novelty_distance = novelty_distance
        self.source = source

    def embed(self, frames: np.ndarray) -> np.ndarray:
        import torch
        from PIL import Image

        f = _as_frames(frames)
        outs = []
        with torch.inference_mode():
            for i in range(0, len(f), self.batch_size):
                x = torch.stack(
                    [self.transform(Image.fromarray(fr)) for fr in f[i : i + self.batch_size]]
                )
                y = self.encode_image(x.to(self.device))
                outs.append(y.float().cpu().numpy())
        e = np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)
        return _l2(e).astype(np.float32)

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """(n, d) float32 L2-normalised text embeddings in the image space
        (cosine with :meth:`embed` rows in -1..1, higher = better match).

        Raises:
            ValueError: the model has no text tower.
        """
        import torch

        if self.encode_text is None:
            raise ValueError(f"backbone {self.name!r} has no text tower")
        with torch.inference_mode():
            y = self.encode_text(list(texts)).float().cpu().numpy()
        return _l2(y).astype(np.float32)
