"""Output layout and atomic writers: ``out/<method>/<slug>_s<seed>.mp4`` + ``.json`` sidecar.

Both files are written to a ``.part`` file in the same folder and renamed into place, so a clip
is never seen half-written; the sidecar is renamed last and marks the clip as finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
from lvsa.generators.errors import GeneratorError

#: Longest prompt slug in characters (a short hash is appended when a prompt is cut).
SLUG_MAX = 48


def slugify(prompt: str, max_len: int = SLUG_MAX) -> str:
    """File-name slug of a prompt: lowercase ASCII words joined by ``-``.

    Prompts longer than ``max_len`` characters are cut at a word boundary and get ``-`` plus
    the first 6 hex digits of the prompt's SHA-1, so long prompts sharing a beginning stay apart.
    """
    words = re.findall(r"[a-z0-9]+", prompt.lower())
    slug = "-".join(words) or "prompt"
    if len(slug) > max_len:
        cut = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
        slug = f"{cut}-{hashlib.sha1(prompt.encode()).hexdigest()[:6]}"
    return slug


def clip_paths(out: Path, method: str, prompt: str, seed: int) -> tuple[Path, Path]:
    """(mp4 path, sidecar path) of one clip."""
    stem = f"{slugify(prompt)}_s{seed}"
    folder = Path(out) / method
    return folder / f"{stem}.mp4", folder / f"{stem}.json"


def _part(path: Path) -> Path:
    return path.with_name(f"{path.name}.{os.getpid()}.part")


def to_uint8_frames(video: Any) -> np.ndarray:
    """Pipeline output (F, H, W, 3) or (1, F, H, W, 3), float in [0, 1] or uint8 -> uint8."""
    arr = np.asarray(video)
    if arr.ndim == 5:
        arr = arr[0]
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise GeneratorError(f"unexpected video array shape {arr.shape}; want (F, H, W, 3)")
    if arr.dtype != np.uint8:
        arr = np.clip(np.round(arr.astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
    return arr


def write_mp4(path: Path, frames: np.ndarray, fps: float, *, crf: int = 18) -> None:
    """Encode (F, H, W, 3) uint8 RGB frames as H.264 (libx264, yuv420p) at ``fps`` frames/s.

    Odd heights/widths are cropped by one pixel (yuv420p needs even sizes). Atomic.
    """
    import av

    _, h, w, _ = frames.shape
    h2, w2 = h - h % 2, w - w % 2
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _part(path)
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = w2, h2
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(crf), "preset": "medium"}
            for frame in frames:
                vf = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(frame[:h2, :w2]), format="rgb24"
                )
                for packet in stream.encode(vf):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as indented JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _part(path)
    try:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def read_sidecar(path: Path) -> dict[str, Any] | None:
    """The sidecar dict, or ``None`` when it is missing or unreadable."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
