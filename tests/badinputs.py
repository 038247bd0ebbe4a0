"""Factories of good, odd and broken video inputs for tests.

Every ``make_*`` function writes into the given directory and returns the
path it created (file, folder or link). They only need PyAV, numpy and
Pillow, and are small and quick (well under a second each, except the
large-frame ones). Import as ``from tests import badinputs`` or
``from tests.badinputs import make_truncated_mp4``.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

_DEFAULT_PIX_FMT = {
    "libx264": "yuv420p",
    "libvpx-vp9": "yuv420p",
    "libvpx": "yuv420p",
    "mpeg4": "yuv420p",
    "mjpeg": "yuvj420p",
    "gif": "rgb8",
    "ffv1": "bgr0",
    "png": "rgb24",
    "qtrle": "argb",
}
_ENCODER_OPTIONS = {
    "libx264": {"preset": "ultrafast", "tune": "zerolatency"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
}


#: Frame times (s) of :func:`make_vfr`.
VFR_TIMES_S = tuple([i / 30 for i in range(20)] + [19 / 30 + 0.5 + k * 0.1 for k in range(10)])

# --------------------------------------------------------------------------- content


def iter_synthetic_frames(
    n: int, height: int, width: int, *, seed: int = 0
) -> Iterator[np.ndarray]:
    """Yield ``n`` distinct, compressible (height, width, 3) uint8 RGB frames:
    a bright square moving right over a tinted gradient (one frame in memory)."""
    tint = np.random.default_rng(seed).integers(0, 60, size=3).astype(np.uint8)
    ramp_x = np.linspace(40, 120, width, dtype=np.float32)[None, :]
    ramp_y = np.linspace(0, 60, height, dtype=np.float32)[:, None]
    base = (ramp_x + ramp_y).astype(np.uint8)
    background = np.stack([base + tint[0], base + tint[1], base + tint[2]], axis=-1)
    side = max(1, min(height, width) // 4)
    for i in range(n):
        img = background.copy()
        x = (i * max(1, width // 16)) % max(1, width - side + 1)
        img[:side, x : x + side] = (250, 240, 230)
        yield img


def synthetic_frames(
    n: int, height: int, width: int, *, seed: int = 0, gray: bool = False
) -> np.ndarray:
    """All of :func:`iter_synthetic_frames` as (n, height, width, 3) uint8, or
    (n, height, width) (the red channel) when ``gray``."""
    frames = np.stack(list(iter_synthetic_frames(n, height, width, seed=seed)))
    return frames[..., 0].copy() if gray else frames


def quadrant_frames(n: int, height: int, width: int) -> np.ndarray:
    """(n, h, w, 3) frames, white top-left quadrant on black (for orientation tests)."""
    frames = np.zeros((n, height, width, 3), np.uint8)
    frames[:, : height // 2, : width // 2] = 255
    return frames


# --------------------------------------------------------------------------- writing


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray | Iterable[np.ndarray],
    fps: float,
    codec: str = "libx264",
    *,
    pix_fmt: str | None = None,
    rotation: int = 0,
    pts_s: Sequence[float] | None = None,
    faststart: bool = False,
) -> Path:
    """Encode ``frames`` to ``path`` with PyAV.

    Args:
        path: output file; the container follows the extension.
        frames: (T, H, W, 3) uint8 RGB, (T, H, W, 4) RGBA or (T, H, W) grey;
            an array or any iterable of per-frame arrays (streamed).
        fps: nominal frame rate in frames/s.
        codec: ``libx264``, ``libvpx-vp9``, ``mpeg4``, ``gif``, ``ffv1``,
            ``png``, ``qtrle`` ...; odd sizes with libx264 use yuv444p.
        pix_fmt: encoder pixel format; a sensible default per codec.
        rotation: clockwise display rotation in degrees written as display
            matrix (what :attr:`VideoInfo.rotation` should read back).
        pts_s: presentation time of each frame in seconds (variable frame
            rate); default ``i / fps``.
        faststart: put the MP4 index (``moov``) at the front.
    """
    path = Path(path)
    frames = iter(frames)
    first = np.asarray(next(frames))
    height, width = first.shape[:2]
    options = {"movflags": "faststart"} if faststart else {}
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height = width, height
        fmt = pix_fmt or _DEFAULT_PIX_FMT.get(codec, "yuv420p")
        if codec == "libx264" and fmt == "yuv420p" and (width % 2 or height % 2):
            fmt = "yuv444p"
        stream.pix_fmt = fmt
        stream.options = dict(_ENCODER_OPTIONS.get(codec, {}))
        time_base = Fraction(1, 1000) if pts_s is not None else None
        if time_base is not None:
            stream.codec_context.time_base = time_base
        if rotation:
            stream.set_display_rotation(-rotation)
        if first.ndim == 2:
            src_format = "gray"
        else:
            src_format = "rgba" if first.shape[2] == 4 else "rgb24"
        for i, image in enumerate(itertools.chain([first], frames)):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format=src_format)
            if time_base is not None:
                frame.pts = round(pts_s[i] / time_base)  # type: ignore[index]
                frame.time_base = time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_clip(
    directory: Path,
    name: str = "clip.mp4",
    *,
    n: int = 24,
    width: int = 64,
    height: int = 48,
    fps: float = 24.0,
    codec: str = "libx264",
    **kwargs: object,
) -> Path:
    """A valid synthetic clip ``directory/name`` (default 24 frames 64x48 at 24 fps)."""
    frames = synthetic_frames(n, height, width)
    return write_video(directory / name, frames, fps, codec, **kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- broken files


def make_zero_byte(directory: Path) -> Path:
    """An empty ``empty.mp4``."""
    path = directory / "empty.mp4"
    path.write_bytes(b"")
    return path


def make_random_bytes(directory: Path, size: int = 4096) -> Path:
    """``random.mp4`` full of random bytes (not a container)."""
    path = directory / "random.mp4"
    path.write_bytes(np.random.default_rng(1).integers(0, 256, size, np.uint8).tobytes())
    return path


def make_text_mp4(directory: Path) -> Path:
    """A text file named ``notes.mp4``."""
    path = directory / "notes.mp4"
    path.write_text("this is not a video\njust some notes\n", encoding="utf-8")
    return path


def _truncate(path: Path, keep: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_truncated_mp4(directory: Path) -> Path:
    """A real 48-frame MP4 cut at 40%; its index (``moov``) was at the end, so lost."""
    path = make_clip(directory, "truncated.mp4", n=48, width=96, height=64)
    return _truncate(path, 0.4)


def make_truncated_faststart_mp4(directory: Path) -> Path:
    """A 48-frame MP4 with the index first, cut at 40%: the first frames decode."""
    frames = np.random.default_rng(2).integers(0, 256, (48, 64, 96, 3), np.uint8)
    path = write_video(directory / "truncated_faststart.mp4", frames, 24.0, faststart=True)
    return _truncate(path, 0.4)


def make_truncated_mkv(directory: Path) -> Path:
    """A 48-frame Matroska clip cut at 40% (no index needed: partial decode)."""
    frames = np.random.default_rng(3).integers(0, 256, (48, 64, 96, 3), np.uint8)
    path = write_video(directory / "truncated.mkv", frames, 24.0)
    return _truncate(path, 0.4)


def make_corrupt_middle_mp4(directory: Path) -> Path:
    """A valid faststart MP4 whose middle third is overwritten with random bytes."""
    path = make_clip(directory, "corrupt_middle.mp4", n=48, width=96, height=64, faststart=True)
    data = bytearray(path.read_bytes())
    lo, hi = len(data) // 3, 2 * len(data) // 3
    data[lo:hi] = np.random.default_rng(4).integers(0, 256, hi - lo, np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def make_audio_only(directory: Path) -> Path:
    """``audio_only.mp4``: one second of AAC audio, no video stream."""
    path = directory / "audio_only.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=16000)
        stream.layout = "mono"
        samples = (np.sin(np.arange(16000) / 10.0) * 0.1).astype(np.float32)[None]
        for start in range(0, 16000, 1024):
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples[:, start : start + 1024]), format="fltp", layout="mono"
            )
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def make_unreadable(directory: Path) -> Path:
    """A valid clip with mode 000. Root can still read it: check ``os.geteuid()``."""
    path = make_clip(directory, "unreadable.mp4", n=4)
    path.chmod(0)
    return path


def make_fifo(directory: Path) -> Path:
    """A named pipe ``pipe.mp4`` (opening it for reading would block forever)."""
    path = directory / "pipe.mp4"
    os.mkfifo(path)
    return path


def make_broken_symlink(directory: Path) -> Path:
    """``dangling.mp4`` pointing at a file that does not exist."""
    path = directory / "dangling.mp4"
    path.symlink_to(directory / "does_not_exist.mp4")
    return path


def make_symlink_file_loop(directory: Path) -> Path:
    """``loop_a.mp4`` -> ``loop_b.mp4`` -> ``loop_a.mp4``."""
    a, b = directory / "loop_a.mp4", directory / "loop_b.mp4"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


def call_as_other_user(func: Callable[[], object], uid: int = 65534) -> str:
    """Run ``func()`` in a forked child with user and group ``uid`` (default
    ``nobody``) and return a one-line outcome: ``"ok"`` or
    ``"<ExceptionName>: <message>"``.

    Lets tests running as root check real permission errors (root reads
    mode-000 files). The caller must be root; the paths involved must be
    reachable by ``uid`` (e.g. a ``tempfile.mkdtemp()`` folder chmod 0o755,
    not pytest's 0o700 ``tmp_path``). POSIX only.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into the test runner
        outcome = "child crashed"
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            func()
            outcome = "ok"
        except BaseException as exc:
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            os.write(write_fd, outcome.encode("utf-8", "replace")[:4000])
            os._exit(0)
    os.close(write_fd)
    chunks = []
    while chunk := os.read(read_fd, 4096):
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode("utf-8", "replace")


# --------------------------------------------------------------------------- odd but valid


def make_single_frame(directory: Path) -> Path:
    """``single.mp4`` with exactly one frame (64x48)."""
    return make_clip(directory, "single.mp4", n=1)


def make_tiny(directory: Path) -> Path:
    """``tiny.mp4``: 12 frames of 8x8 pixels at 24 fps."""
    return make_clip(directory, "tiny.mp4", n=12, width=8, height=8)


def make_odd_size(directory: Path) -> Path:
    """``odd.mp4``: 12 frames of 33x17 pixels (libx264 yuv444p) at 24 fps."""
    return make_clip(directory, "odd.mp4", n=12, width=33, height=17)


def make_large_frames(directory: Path, n: int = 3) -> Path:
    """``large.mp4``: ``n`` frames of 3840x2160 at 24 fps."""
    return make_clip(directory, "large.mp4", n=n, width=3840, height=2160)


def make_hd_clip(directory: Path, n: int = 200) -> Path:
    """``hd.mp4``: ``n`` frames of 1920x1080 at 24 fps (the memory-bound case).

    Frames are generated and encoded one at a time."""
    return write_video(directory / "hd.mp4", iter_synthetic_frames(n, 1080, 1920), 24.0)


def make_grayscale(directory: Path) -> Path:
    """``gray.mkv``: 12 frames of 64x48 grey pixels (FFV1, pixel format gray)."""
    frames = synthetic_frames(12, 48, 64, gray=True)
    return write_video(directory / "gray.mkv", frames, 24.0, "ffv1", pix_fmt="gray")


def make_alpha(directory: Path) -> Path:
    """``alpha.mov``: 12 RGBA frames 64x48 (QuickTime RLE, argb), half transparent."""
    rgb = synthetic_frames(12, 48, 64)
    alpha = np.full((*rgb.shape[:3], 1), 128, np.uint8)
    return write_video(
        directory / "alpha.mov", np.concatenate([rgb, alpha], axis=-1), 24.0, "qtrle"
    )


def make_palette_gif(directory: Path, n: int = 10, duration_ms: int = 100) -> Path:
    """``palette.gif``: ``n`` palette (P mode) frames of 30x20 via Pillow, 10 fps."""
    frames = synthetic_frames(n, 20, 30)
    images = [Image.fromarray(f).convert("P", palette=Image.Palette.ADAPTIVE) for f in frames]
    path = directory / "palette.gif"
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
    return path


def make_rotated(directory: Path, rotation: int = 90) -> Path:
    """``rotated_<rotation>.mp4``: 64x32 coded frames, white top-left quadrant,
    with a display matrix asking for a clockwise turn of ``rotation`` degrees."""
    frames = quadrant_frames(6, 32, 64)
    return write_video(directory / f"rotated_{rotation}.mp4", frames, 24.0, rotation=rotation)


def make_unicode_path(directory: Path) -> Path:
    """A valid clip at ``directory/"dir ü"/"clip ü 日本.mp4"`` (spaces, non-ASCII)."""
    sub = directory / "dir ü"
    sub.mkdir(exist_ok=True)
    return make_clip(sub, "clip ü 日本.mp4", n=6)


def make_symlink_dir_loop(directory: Path) -> Path:
    """``directory/tree`` with a clip, a sub-folder and a link ``sub/back`` -> ``tree``."""
    tree = directory / "tree"
    sub = tree / "sub"
    sub.mkdir(parents=True)
    make_clip(tree, "a.mp4", n=4)
    make_clip(sub, "b.mp4", n=4)
    (sub / "back").symlink_to(tree, target_is_directory=True)
    return tree


def make_image_folder(
    directory: Path,
    name: str = "frames",
    *,
    n: int = 12,
    width: int = 40,
    height: int = 30,
    ext: str = ".png",
    mode: str = "RGB",
) -> Path:
    """``directory/name`` with ``frame_1.ext`` ... ``frame_<n>.ext`` (no zero padding,
    so the order needs natural sorting). Frame ``i`` has a red channel of ``10 * i``."""
    folder = directory / name
    folder.mkdir()
    for i in range(1, n + 1):
        img = np.zeros((height, width, 3), np.uint8)
        img[..., 0] = (10 * i) % 256
        img[..., 1] = 100
        Image.fromarray(img).convert(mode).save(folder / f"frame_{i}{ext}")
    return folder


def make_image_folder_with_bad_frame(directory: Path, bad_number: int, n: int = 12) -> Path:
    """Like :func:`make_image_folder` (``frames_bad``) but ``frame_<bad_number>.png``
    holds random bytes instead of an image."""
    folder = make_image_folder(directory, "frames_bad", n=n)
    bad = folder / f"frame_{bad_number}.png"
    bad.write_bytes(np.random.default_rng(5).integers(0, 256, 300, np.uint8).tobytes())
    return folder


def make_vfr(directory: Path) -> Path:
    """``vfr.mp4``: 20 frames 32x32 at 30 fps, then a 0.5 s gap, then 10 frames at 10 fps.

    Frame times (s): 0, 1/30, ..., 19/30, then 19/30 + 0.5 + k * 0.1 (k = 0..9).
    """
    frames = synthetic_frames(len(VFR_TIMES_S), 32, 32)
    return write_video(directory / "vfr.mp4", frames, 30.0, pts_s=VFR_TIMES_S)
