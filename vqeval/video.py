"""Video input: probe metadata and stream-decode clips at analysis size.

Everything that touches container/codec libraries lives here. Every failure
surfaces as :class:`vqeval.results.VideoReadError` with a one-line reason.

Sources:
    * video files decoded with PyAV (FFmpeg), any container/codec FFmpeg reads;
    * folders of numbered images (``frame_0001.png`` ...), one frame per image,
      ordered by the number in the file name, at ``DEFAULT_IMAGE_FOLDER_FPS``
      unless ``fps_override`` is given.

Decisions (see the docstrings for details):
    * Single-frame videos are readable: ``read_clip`` returns ``T == 1`` and
      scoring decides what that means.
    * Damaged files: packets the decoder rejects are skipped (the decoder
      resyncs at the next keyframe); a container read error ends the stream;
      a file holding fewer frames than its header announces is "truncated".
      Each of these adds a line to ``Clip.warnings`` when at least
      ``MIN_FRAMES_ON_ERROR`` (2) source frames decoded, and raises
      ``VideoReadError`` otherwise. A truncated MP4 whose index (``moov``)
      was at the end cannot be opened at all and raises.
    * Permission problems raise ``VideoReadError("permission denied")``.
    * Frames are never upscaled: sources smaller than the requested long side
      keep their size (an 8x8 clip gives 8x8 frames). When downscaling, both
      sides are rounded to even numbers (>= 2).
    * Rotation metadata (display matrix) is applied to every frame; horizontal
      or vertical flips in the matrix are ignored.
    * Pixel aspect ratio (anamorphic video) and image EXIF orientation are
      ignored.
    * Frames more elongated than ``MAX_ASPECT_RATIO`` (4:1, e.g. 1000x1) or
      with a side under ``MIN_FRAME_SIDE`` (8 px, e.g. 2x2) raise
      ``VideoReadError``; image folders get a warning that their frame
      rate was assumed unless ``fps_override`` is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import re
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
import numpy as np
from av.video.reformatter import VideoReformatter

from vqeval.config import (
    DEFAULT_ANALYSIS_SIZE,
    DEFAULT_MAX_FPS,
    DEFAULT_STILL_SIZE,
    DEFAULT_STILLS,
)
from vqeval.results import VideoInfo, VideoReadError

#: File extensions (lower case) treated as video files by discovery.
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif", ".m4v"})
#: File extensions (lower case) of still images; numbered ones form image-folder videos.
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})
#: Frame rate (frames/s) assumed for folders of numbered images.
DEFAULT_IMAGE_FOLDER_FPS = 24.0
#: Most elongated frame accepted (long side / short side). Wider frames give
#: analysis frames only a few pixels high, on which OpenCV's DIS optical
#: flow fails (short side < 32 px at 160 px long side); 4:1 holds for
#: every analysis size and covers real formats (32:9 ultrawide is 3.6:1).
MAX_ASPECT_RATIO = 4.0
#: Smallest frame side accepted, px. Below it (1x1, 2x2, 4x1) there is no
#: content to judge: detail, flow and contrast statistics degenerate (numpy
#: warnings, a 2x2 clip scored "good"). 8x8 is the smallest size scored.
MIN_FRAME_SIDE = 8
#: Fewest decoded source frames that make a partially corrupt video usable.
MIN_FRAMES_ON_ERROR = 2

_IMAGE_CODECS = {
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".bmp": "bmp",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".webp": "webp",
}
#: Streaming consumer factory of :func:`read_clip`: ``sink(info, fps,
#: expected_frames)`` returns ``push(frame_rgb, t_s)``.
FrameSink = Callable[[VideoInfo, float, int], Callable[[np.ndarray, float], None]]

_DIGITS = re.compile(r"(\d+)")
_MAX_MESSAGE = 300
# Relative spread of frame intervals above which timestamps count as variable.
_VFR_TOLERANCE = 0.1
#: FFmpeg decoding threads per video; 0 = FFmpeg's choice (about one per core).
#: Workers that stand for one CPU each set 1 (:func:`set_decode_threads`).
_decode_threads = 0
_EPS_S = 1e-6


@dataclass(frozen=True, eq=False)
class Clip:
    """A decoded clip at analysis resolution.

    Attributes:
        frames: (T, H, W, 3) uint8 RGB analysis frames, T >= 1; long side
            ``size`` (or the source size when smaller), display orientation.
            Empty ((0, H, W, 3)) when the frames were streamed to a sink
            (see :func:`read_clip`); ``times_s`` still has one entry each.
        times_s: (T,) float64 presentation times in seconds, relative to the
            first decoded frame (``times_s[0] == 0``), strictly increasing.
        fps: analysis frame rate in frames/s: the source rate, capped at
            ``max_fps``.
        info: source metadata; ``frame_count`` is exact when the whole stream
            was decoded.
        stills: (S, h, w, 3) uint8 RGB frames evenly spaced over the analysed
            span, long side ``still_size`` or the source size when smaller
            (never upscaled). ``S = min(stills, source frames)``; may be fewer
            when the file is truncated.
        source_indices: (T,) int64 index of each analysis frame in the
            decoded source stream (0-based).
        warnings: one-line notes about recoverable problems (e.g. decoding
            stopped early on a truncated file).
    """

    frames: np.ndarray
    times_s: np.ndarray
    fps: float
    info: VideoInfo
    stills: np.ndarray
    source_indices: np.ndarray
    warnings: tuple[str, ...] = ()

    @property
    def n_frames(self) -> int:
        """Number of analysis frames (also when they were streamed, not kept)."""
        return len(self.times_s)

    @property
    def duration_s(self) -> float:
        """Span of the analysis frames in seconds (last time + one frame)."""
        return float(self.times_s[-1]) + 1.0 / self.fps


# --------------------------------------------------------------------------- helpers


def natural_sort_key(text: str) -> tuple[object, ...]:
    """Sort key that orders embedded numbers numerically ("a2" < "a10")."""
    parts = _DIGITS.split(text)
    key: list[object] = []
    for i, part in enumerate(parts):
        key.append(int(part) if i % 2 else part.casefold())
    return (*key, text)


def _frame_number_key(path: Path) -> tuple[object, ...]:
    """Order images by the last number in the stem, then naturally."""
    numbers = _DIGITS.findall(path.stem)
    return (int(numbers[-1]) if numbers else -1, natural_sort_key(path.name))


def numbered_images(directory: str | os.PathLike[str]) -> list[Path]:
    """Image files in ``directory`` whose name contains a number, in frame order.

    Non-recursive; hidden files are ignored. Returns an empty list when the
    folder has none. Raises ``OSError`` when the folder cannot be listed.
    """
    out = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            p = Path(entry.path)
            numbered = p.suffix.lower() in IMAGE_EXTENSIONS and _DIGITS.search(p.stem)
            if numbered and entry.is_file():
                out.append(p)
    return sorted(out, key=_frame_number_key)


def is_image_folder(directory: str | os.PathLike[str]) -> bool:
    """True when ``directory`` is one image-folder video.

    That is: at least 2 numbered images, every image numbered, no video files
    and no (non-hidden) subfolders. Other files (``prompt.txt`` ...) are
    allowed. Unlistable folders give False.
    """
    images = 0
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                if entry.is_dir():
                    return False
                suffix = os.path.splitext(entry.name)[1].lower()
                if suffix in VIDEO_EXTENSIONS:
                    return False
                if suffix in IMAGE_EXTENSIONS:
                    if not _DIGITS.search(os.path.splitext(entry.name)[0]):
                        return False
                    images += 1
    except OSError:
        return False
    return images >= 2


def _one_line(text: str) -> str:
    """Collapse whitespace to single spaces and cap the length."""
    line = " ".join(str(text).split())
    return line if len(line) <= _MAX_MESSAGE else line[: _MAX_MESSAGE - 3] + "..."


def _fail(reason: str) -> VideoReadError:
    return VideoReadError(_one_line(reason))


def _error_text(exc: BaseException) -> str:
    """Short description of a library/OS error without paths or errno noise."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return _one_line(text)


def _looks_like_text(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    if not head:
        return False
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\r\n\t" for ch in decoded)


def _is_iso_media(path: str) -> bool:
    """True when the file starts like an MP4/MOV (an ``ftyp`` box)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(8)[4:8] == b"ftyp"
    except OSError:
        return False


def _check_path(path: str) -> os.stat_result:
    """Stat ``path`` and turn OS problems into one-line ``VideoReadError``s."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise _fail("broken symbolic link") from None
        raise _fail("file not found") from None
    except PermissionError:
        raise _fail("permission denied") from None
    except OSError as exc:
        raise _fail(f"cannot access file: {_error_text(exc)}") from None
    return st


def _check_readable(path: str) -> None:
    """Open the file for reading once so permission problems are named."""
    try:
        with open(path, "rb") as fh:
            fh.read(1)
    except PermissionError:
        raise _fail("permission denied") from None
    except OSError as exc:
        raise _fail(f"cannot read file: {_error_text(exc)}") from None


def fit_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """Size (w, h) with the long side at most ``long_side``, aspect kept.

    Never upscales: a source whose long side is <= ``long_side`` keeps its
    exact size. When downscaling, both sides are rounded to even numbers and
    are at least 2 pixels.
    """
    if long_side < 1:
        raise ValueError(f"long side must be >= 1 pixel, got {long_side}")
    if max(width, height) <= long_side:
        return width, height
    scale = long_side / max(width, height)

    def even(v: float) -> int:
        return max(2, 2 * round(v / 2))

    return even(width * scale), even(height * scale)


def rotate_frame(frame: np.ndarray, rotation: int) -> np.ndarray:
    """Rotate an (H, W, C) image clockwise by ``rotation`` degrees (0/90/180/270).

    ``rotation`` is :attr:`VideoInfo.rotation`: the clockwise turn that brings
    the coded picture to display orientation.
    """
    rotation %= 360
    if rotation == 0:
        return frame
    codes = {
        90: cv2.ROTATE_90_CLOCKWISE,
        180: cv2.ROTATE_180,
        270: cv2.ROTATE_90_COUNTERCLOCKWISE,
    }
    if rotation not in codes:
        raise ValueError(f"rotation must be a multiple of 90 degrees, got {rotation}")
    return cv2.rotate(frame, codes[rotation])


def _rotation_from_matrix(ccw_degrees: float) -> int:
    """FFmpeg's counter-clockwise display angle -> clockwise 0/90/180/270."""
    return int(90 * round(-float(ccw_degrees) / 90)) % 360


# --------------------------------------------------------------------------- probe


def probe(path: str | os.PathLike[str], *, fps_override: float | None = None) -> VideoInfo:
    """Read metadata of a video file or numbered-image folder.

    Reads the container index and demuxes the video packets (no pixel
    decoding except the first frame, which yields the rotation and proves the
    stream decodes). Cost: one read of the file.

    Args:
        path: video file, or folder of numbered images.
        fps_override: frame rate in frames/s to assume (> 0). Image folders
            default to ``DEFAULT_IMAGE_FOLDER_FPS`` (24); for video files it
            replaces the container rate.

    Returns:
        :class:`VideoInfo`; ``width``/``height`` are display size after
        rotation; ``rotation`` is the clockwise display turn in degrees;
        ``frame_count`` counts demuxed video packets (exact for almost all
        files); ``duration_s = frame_count / fps`` for constant frame rate,
        else the timestamp span plus one mean frame interval.

    Raises:
        VideoReadError: one-line reason (missing, empty, permission denied,
            not a video, no video stream, no decodable frames ...).
    """
    path = os.fspath(path)
    if fps_override is not None and not fps_override > 0:
        raise ValueError(f"fps_override must be > 0, got {fps_override}")
    return _probe(path, fps_override)[0]


def _probe(path: str, fps_override: float | None) -> tuple[VideoInfo, tuple[str, ...]]:
    """:func:`probe` plus one-line notes on damage found while scanning."""
    st = _check_path(path)
    if stat.S_ISDIR(st.st_mode):
        info = _probe_image_folder(path, fps_override)
        notes: tuple[str, ...] = ()
        if fps_override is None:
            notes = (
                f"image folder: frame rate assumed {DEFAULT_IMAGE_FOLDER_FPS:g} fps "
                "(image files carry no timing)",
            )
    else:
        info, notes = _probe_file(path, st, fps_override)
    _check_shape(info)
    return info, notes


def _check_shape(info: VideoInfo) -> None:
    """Refuse frames smaller than ``MIN_FRAME_SIDE`` on a side, or more
    elongated than ``MAX_ASPECT_RATIO`` (a 1000x1 strip
    is not a video the analysis can judge: at the analysis size it is a line
    of pixels, and optical flow fails on very wide frames)."""
    long, short = max(info.width, info.height), min(info.width, info.height)
    if short < 1 or long / short > MAX_ASPECT_RATIO:
        raise _fail(
            f"frame size {info.width}x{info.height} px is too elongated: aspect ratio "
            f"{long / max(short, 1):.0f}:1, VQeval analyses frames up to "
            f"{MAX_ASPECT_RATIO:g}:1"
        )
    if short < MIN_FRAME_SIDE:
        raise _fail(
            f"frame size {info.width}x{info.height} px is too small: VQeval analyses "
            f"frames of at least {MIN_FRAME_SIDE}x{MIN_FRAME_SIDE} px"
        )


def _probe_image_folder(path: str, fps_override: float | None) -> VideoInfo:
    images = _list_images(path)
    from PIL import Image

    try:
        with Image.open(images[0]) as im:
            width, height = im.size
    except Exception as exc:  # PIL raises many types for bad images
        raise _fail(f"unreadable image {images[0].name}: {_error_text(exc)}") from None
    codecs = {_IMAGE_CODECS[p.suffix.lower()] for p in images}
    fps = float(fps_override or DEFAULT_IMAGE_FOLDER_FPS)
    return VideoInfo(
        fps=fps,
        frame_count=len(images),
        width=width,
        height=height,
        codec=codecs.pop() if len(codecs) == 1 else "mixed",
        duration_s=len(images) / fps,
        rotation=0,
        variable_fps=False,
        container="image-folder",
    )


def _list_images(path: str) -> list[Path]:
    try:
        images = numbered_images(path)
    except PermissionError:
        raise _fail("permission denied") from None
    except OSError as exc:
        raise _fail(f"cannot list folder: {_error_text(exc)}") from None
    if not images:
        raise _fail("folder contains no numbered images (frame_0001.png ...)")
    return images


def _open_container(path: str) -> av.container.InputContainer:
    try:
        return av.open(path, mode="r")
    except PermissionError:
        raise _fail("permission denied") from None
    except Exception as exc:  # PyAV/FFmpeg errors have many types
        if _looks_like_text(path):
            raise _fail("not a video: the file contains text") from None
        if _is_iso_media(path):
            raise _fail(
                f"MP4/MOV file is truncated or damaged, its index is unreadable ({_error_text(exc)})"
            ) from None
        raise _fail(f"not a readable video ({_error_text(exc)})") from None


def _video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    streams = container.streams.video
    if not streams:
        raise _fail("no video stream in file")
    stream = streams[0]
    if stream.codec_context is None:
        raise _fail("unsupported video codec")
    return stream


@dataclass
class _Scan:
    """Result of the demux-only pass over the video packets."""

    times: list[float]
    packets: int
    rotation_ccw: float | None
    demux_error: str | None
    decode_error: str | None


def _first_rotation(frames: Sequence[av.VideoFrame] | Iterator[av.VideoFrame]) -> float | None:
    for frame in frames:
        return float(frame.rotation or 0.0)
    return None


def _scan_packets(container: av.container.InputContainer, stream: object) -> _Scan:
    """Count packets and collect timestamps; decode only until the first frame."""
    scan = _Scan([], 0, None, None, None)
    tb = stream.time_base  # type: ignore[attr-defined]
    try:
        for packet in container.demux(stream):
            if packet.size == 0 and packet.pts is None:
                continue  # end-of-stream flush packet
            scan.packets += 1
            if packet.pts is not None and tb is not None:
                scan.times.append(float(packet.pts * tb))
            if scan.rotation_ccw is None:
                try:
                    scan.rotation_ccw = _first_rotation(packet.decode())
                except Exception as exc:  # keep looking: later packets may decode
                    scan.decode_error = _error_text(exc)
    except Exception as exc:  # damaged or cut container: keep what was read
        scan.demux_error = _error_text(exc)
    if scan.rotation_ccw is None and scan.packets:
        try:  # frames held back by the decoder (reordering delay, tiny files)
            scan.rotation_ccw = _first_rotation(stream.codec_context.decode(None))  # type: ignore[attr-defined]
        except Exception as exc:
            scan.decode_error = scan.decode_error or _error_text(exc)
    return scan


def _frame_rate(times: list[float], stream: object, fps_override: float | None) -> float:
    if fps_override:
        return float(fps_override)
    pts = sorted(set(times))
    measured = (len(pts) - 1) / (pts[-1] - pts[0]) if len(pts) >= 2 and pts[-1] > pts[0] else 0.0
    declared = 0.0
    for attr in ("average_rate", "guessed_rate", "base_rate"):
        rate = getattr(stream, attr, None)
        if rate:
            declared = float(rate)
            break
    if measured > 0 and (declared <= 0 or abs(declared - measured) > 0.01 * measured):
        return measured
    return declared if declared > 0 else DEFAULT_IMAGE_FOLDER_FPS


def _is_variable(times: list[float], time_base: float) -> bool:
    pts = np.unique(np.asarray(times, dtype=np.float64))
    if pts.size < 3:
        return False
    steps = np.diff(pts)
    median = float(np.median(steps))
    tolerance = max(1.5 * time_base, _VFR_TOLERANCE * median)
    return bool(np.any(np.abs(steps - median) > tolerance))


def _container_name(format_names: str, path: str) -> str:
    """FFmpeg demuxer name, narrowed by the file extension ("mov,mp4,..." -> "mp4")."""
    names = format_names.split(",")
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    return ext if ext in names else names[0]


def _truncation_notes(
    scan: _Scan, stream: object, container: av.container.InputContainer, fps: float
) -> tuple[str, ...]:
    """Signs that the file holds fewer frames than its header announces."""
    notes = []
    declared = int(getattr(stream, "frames", 0) or 0)
    if scan.demux_error:
        notes.append(f"container damaged after {scan.packets} frames: {scan.demux_error}")
    if declared > scan.packets:
        notes.append(f"file looks truncated: {scan.packets} of {declared} announced frames")
    elif declared == 0 and len(container.streams) == 1 and container.duration and scan.times:
        announced_s = container.duration / 1e6
        present_s = max(scan.times) - min(scan.times) + 1.0 / fps
        if announced_s > 1.1 * present_s + 2.0 / fps:
            notes.append(
                f"file looks truncated: {present_s:.2f} s of {announced_s:.2f} s announced"
            )
    return tuple(notes)


def _probe_file(
    path: str, st: os.stat_result, fps_override: float | None
) -> tuple[VideoInfo, tuple[str, ...]]:
    if not stat.S_ISREG(st.st_mode):
        raise _fail("not a regular file (pipe, socket or device)")
    if st.st_size == 0:
        raise _fail("empty file (0 bytes)")
    _check_readable(path)
    container = _open_container(path)
    try:
        stream = _video_stream(container)
        scan = _scan_packets(container, stream)
        if scan.rotation_ccw is None:
            reason = scan.decode_error or scan.demux_error
            detail = f" ({reason})" if reason else ""
            raise _fail(f"no decodable video frames{detail}")
        fps = _frame_rate(scan.times, stream, fps_override)
        count = max(scan.packets, 1)
        tb = float(stream.time_base) if stream.time_base else 0.0
        variable = fps_override is None and _is_variable(scan.times, tb)
        duration = count / fps
        if variable and len(scan.times) >= 2:
            span = max(scan.times) - min(scan.times)
            duration = span + span / (len(scan.times) - 1)
        rotation = _rotation_from_matrix(scan.rotation_ccw)
        width, height = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            width, height = height, width
        info = VideoInfo(
            fps=fps,
            frame_count=count,
            width=int(width),
            height=int(height),
            codec=stream.codec_context.name,
            duration_s=float(duration),
            rotation=rotation,
            variable_fps=bool(variable),
            container=_container_name(container.format.name, path),
        )
        return info, _truncation_notes(scan, stream, container, fps)
    finally:
        container.close()


# --------------------------------------------------------------------------- decoding


@dataclass
class _SourceFrame:
    """One decoded source frame; ``to_rgb(w, h)`` converts on demand."""

    index: int
    time_s: float
    to_rgb: Callable[[int, int], np.ndarray]


@dataclass
class _DecodeState:
    """Progress of one decode pass."""

    decoded: int = 0
    pixels: int = 0  # source pixels decoded so far (width x height per frame)
    budget: float = 0.0  # most source pixels to decode (0 = no limit)
    error: str | None = None
    finished: bool = False
    bad_packets: int = 0
    bad_packet_error: str | None = None


def _video_frames(
    path: str, info: VideoInfo, state: _DecodeState, fps_override: float | None
) -> Iterator[_SourceFrame]:
    """Stream-decode ``path``; one decoded frame alive at a time.

    Only frames the caller asks ``to_rgb`` for are converted: one swscale
    call straight to the target size in rgb24 with area averaging (a
    reformatter per target size, so its scaler context is reused), then the
    display rotation on the small image.

    Measured on the 10 clips of shared/realvideos (h264 ~832x470, 2,784
    frames), process CPU seconds on the 2-core dev box, all frames kept /
    12 fps cap (1,456 kept): decode only 0.99 / 0.99; full-size rgb24
    ``to_ndarray`` 2.14 / 1.37; full rgb24 + ``cv2.resize(INTER_AREA)`` to
    160 px 6.30 / 3.70; ``frame.to_ndarray(width, height, AREA)`` (new scaler
    per frame) 2.49 / 1.87; shared reformatter, AREA (chosen) 1.48 / 1.34;
    shared reformatter, BILINEAR 1.90 / 1.77; Y/U/V planes resized by cv2
    then colour-converted 3.94 / 2.59.
    """
    rotation = info.rotation
    swap = rotation in (90, 270)
    scalers: dict[tuple[int, int], VideoReformatter] = {}
    step = 1.0 / info.fps
    clock = _Clock(step, fixed=fps_override is not None)
    container = _open_container(path)
    try:
        stream = _video_stream(container)
        stream.thread_type = "AUTO"
        if _decode_threads:
            stream.thread_count = _decode_threads
        for frame in _decode_tolerant(container, stream, state):
            index = state.decoded
            state.decoded += 1
            state.pixels += frame.width * frame.height
            if state.budget and state.pixels > state.budget:  # more than the probe said
                raise _fail(_budget_text(state.pixels, state.budget, f"{state.decoded} frames"))
            rel = clock.time(index, frame.time)

            def convert(width: int, height: int, frame: av.VideoFrame = frame) -> np.ndarray:
                w, h = (height, width) if swap else (width, height)
                scaler = scalers.setdefault((w, h), VideoReformatter())
                small = scaler.reformat(frame, w, h, "rgb24", interpolation="AREA")
                return np.ascontiguousarray(rotate_frame(small.to_ndarray(), rotation))

            yield _SourceFrame(index, rel, convert)
    finally:
        container.close()


class _Clock:
    """Frame times in seconds from the first frame, strictly increasing.

    Missing, duplicate or backwards timestamps become ``previous + step``;
    ``fixed`` ignores timestamps and uses ``index * step``.
    """

    def __init__(self, step: float, *, fixed: bool) -> None:
        self.step = step
        self.fixed = fixed
        self.first: float | None = None
        self.previous = -math.inf

    def time(self, index: int, pts_s: float | None) -> float:
        """Seconds since the first frame for frame ``index`` stamped ``pts_s``."""
        if self.fixed:
            rel = index * self.step
        elif pts_s is None:
            rel = max(self.previous + self.step, 0.0)
        else:
            if self.first is None:
                self.first = float(pts_s) - max(self.previous + self.step, 0.0)
            rel = float(pts_s) - self.first
        if rel <= self.previous:
            rel = self.previous + self.step
        self.previous = rel
        return rel


def _decode_tolerant(
    container: av.container.InputContainer, stream: object, state: _DecodeState
) -> Iterator[av.VideoFrame]:
    """Decode packet by packet, skipping packets the decoder rejects.

    A demux error ends the stream (``state.error``); rejected packets are
    counted in ``state.bad_packets``; ``state.finished`` is set at the end.
    """
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except Exception as exc:  # corrupt packet: the decoder resyncs later
                state.bad_packets += 1
                state.bad_packet_error = state.bad_packet_error or _error_text(exc)
                continue
            yield from frames
    except Exception as exc:  # cut or damaged container
        state.error = _error_text(exc)
        with contextlib.suppress(Exception):  # frames still buffered in the decoder
            yield from stream.codec_context.decode(None)  # type: ignore[attr-defined]
        return
    state.finished = True


class _FrameDecodeError(Exception):
    """A source frame failed to decode when it was converted (one line)."""


def _image_frames(path: str, info: VideoInfo, state: _DecodeState) -> Iterator[_SourceFrame]:
    """Frames of a numbered-image folder at ``info.fps``.

    Images are decoded only when converted, so images skipped by the frame
    rate cap are never read; a bad image raises ``_FrameDecodeError`` from
    ``to_rgb``.
    """
    from PIL import Image

    last: dict[Path, np.ndarray] = {}

    def load(image_path: Path) -> np.ndarray:
        if image_path not in last:
            try:
                with Image.open(image_path) as im:
                    rgb = np.asarray(im.convert("RGB"))
            except Exception as exc:  # PIL raises many types for bad images
                reason = f"unreadable image {image_path.name}: {_error_text(exc)}"
                raise _FrameDecodeError(reason) from None
            last.clear()  # keep one full-size image at most
            last[image_path] = rgb
        return last[image_path]

    for index, image_path in enumerate(_list_images(path)):
        state.decoded += 1

        def convert(width: int, height: int, image_path: Path = image_path) -> np.ndarray:
            rgb = load(image_path)
            if (width, height) == (rgb.shape[1], rgb.shape[0]):
                return rgb.copy()
            return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)

        yield _SourceFrame(index, index / info.fps, convert)
    state.finished = True


def _source(
    path: str, info: VideoInfo, state: _DecodeState, fps_override: float | None
) -> Iterator[_SourceFrame]:
    if info.container == "image-folder":
        return _image_frames(path, info, state)
    return _video_frames(path, info, state, fps_override)


class _RateCap:
    """Keep the first frame at or after each tick of a 1/max_fps time grid.

    Works on timestamps, so variable frame rate sources are sampled evenly in
    time; frames denser than the grid are skipped.
    """

    def __init__(self, max_fps: float | None) -> None:
        self.max_fps = max_fps
        self.next_s = 0.0

    def keep(self, t: float) -> bool:
        if self.max_fps is None:
            return True
        if t < self.next_s - _EPS_S:
            return False
        self.next_s = (math.floor(t * self.max_fps + _EPS_S) + 1) / self.max_fps
        return True


def _still_indices(count: int, stills: int) -> set[int]:
    if stills <= 0 or count <= 0:
        return set()
    n = min(stills, count)
    return {int(i) for i in np.linspace(0, count - 1, n).round()}


def _validate(size: int, max_fps: float | None, max_frames: int | None, stills: int) -> None:
    if size < 1:
        raise ValueError(f"size must be >= 1 pixel, got {size}")
    if max_fps is not None and not max_fps > 0:
        raise ValueError(f"max_fps must be > 0 or None, got {max_fps}")
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"max_frames must be >= 1 or None, got {max_frames}")
    if stills < 0:
        raise ValueError(f"stills must be >= 0, got {stills}")


@dataclass
class _Collected:
    frames: list[np.ndarray] = dataclasses.field(default_factory=list)
    times: list[float] = dataclasses.field(default_factory=list)
    indices: list[int] = dataclasses.field(default_factory=list)
    stills: list[np.ndarray] = dataclasses.field(default_factory=list)


def _collect(
    source: Iterator[_SourceFrame],
    state: _DecodeState,
    cap: _RateCap,
    max_frames: int | None,
    wanted_stills: set[int],
    frame_size: tuple[int, int],
    still_size: tuple[int, int],
    push: Callable[..., None] | None = None,
    model_size: tuple[int, int] | None = None,
) -> _Collected:
    """Convert the frames the rate cap keeps and the wanted stills; stop early
    once ``max_frames`` frames and every wanted still are in. With ``push``,
    kept frames go to it instead of being stored; with ``model_size`` too,
    each is also converted at that size and pushed as a third argument."""
    got = _Collected()
    last_still = max(wanted_stills, default=-1)
    for sf in source:
        room = max_frames is None or len(got.times) < max_frames
        try:
            if room and cap.keep(sf.time_s):
                rgb = sf.to_rgb(*frame_size)
                if push is None:
                    got.frames.append(rgb)
                elif model_size is not None:
                    push(rgb, sf.time_s, sf.to_rgb(*model_size))
                else:
                    push(rgb, sf.time_s)
                got.times.append(sf.time_s)
                got.indices.append(sf.index)
            if sf.index in wanted_stills:
                got.stills.append(sf.to_rgb(*still_size))
        except _FrameDecodeError as exc:
            state.error, state.decoded, state.finished = str(exc), sf.index, False
            break
        if not room and sf.index >= last_still:
            break
    return got


def set_decode_threads(threads: int) -> None:
    """Threads FFmpeg may use to decode one video in this process.

    Args:
        threads: >= 1 to cap them (a worker that stands for one CPU of a pool or
            cluster sets 1, so that N workers use about N cores), 0 for
            FFmpeg's choice (about one per core; the default).
    """
    global _decode_threads
    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    _decode_threads = int(threads)


def _budget_text(pixels: float, budget: float, what: str) -> str:
    """One line: the decoding budget (megapixels) is exceeded."""

    def mpx(v: float) -> str:
        return f"{v / 1e6:,.0f}" if v >= 1e8 else f"{v / 1e6:.3g}"

    return (
        f"over the decoding budget: {what} = {mpx(pixels)} Mpx to decode, "
        f"budget {mpx(budget)} Mpx per video (--max-decoded-mpx; 0 = no limit)"
    )


def check_budget(info: VideoInfo, frames: int, max_decoded_pixels: float | None) -> None:
    """Refuse, before decoding, a video whose ``frames`` source frames of
    ``info.width x info.height`` px exceed ``max_decoded_pixels`` (pixels;
    ``None`` or 0 = no limit). A few hundred KB of highly compressed frames
    can decode to 100 Gpx (minutes of CPU): this bounds the work per video.

    Raises:
        VideoReadError: over the budget (one line naming it and the option).
    """
    if not max_decoded_pixels:
        return
    total = info.width * info.height * max(frames, 0)
    if total > max_decoded_pixels:
        what = f"{info.width}x{info.height} px x {frames} frames"
        raise _fail(_budget_text(total, max_decoded_pixels, what))


def read_clip(
    path: str | os.PathLike[str],
    *,
    size: int = DEFAULT_ANALYSIS_SIZE,
    max_fps: float | None = DEFAULT_MAX_FPS,
    max_frames: int | None = None,
    stills: int = DEFAULT_STILLS,
    still_size: int = DEFAULT_STILL_SIZE,
    fps_override: float | None = None,
    sink: FrameSink | None = None,
    model_side: int = 0,
    max_decoded_pixels: float | None = None,
) -> Clip:
    """Decode a video (or numbered-image folder) into analysis frames.

    Streaming: this code holds one full-resolution frame at a time (FFmpeg's
    frame threads buffer a few more internally); kept frames are converted
    straight to ``size`` and frames skipped by the cap are never converted.

    Args:
        path: video file or folder of numbered images.
        size: long side of analysis frames in pixels (>= 1); never upscaled.
        max_fps: cap on the analysis rate in frames/s (``None`` = keep all).
            Applied on timestamps: the first frame at or after every
            ``1/max_fps`` s tick is kept.
        max_frames: stop after this many analysis frames (``None`` = all).
        stills: number of evenly spaced stills (0-64 typical). They span
            the whole video, or the analysed part when ``max_frames`` stops
            early (estimated from the rates).
        still_size: long side of stills in pixels; never upscaled.
        fps_override: frame rate in frames/s to assume; for image folders it
            replaces the default 24, for videos it replaces the container
            timestamps by ``index / fps_override``.
        sink: streaming mode. Called once as ``sink(info, fps, expected)``
            (source metadata, analysis rate in frames/s, expected number of
            analysis frames) before decoding, it returns ``push(frame, t_s)``,
            which then receives every analysis frame ((H, W, 3) uint8 RGB) and
            its time instead of the clip storing it: ``Clip.frames`` is empty
            and memory does not grow with the video's length.
        model_side: with ``sink``, also convert every analysis frame so that
            its shorter side is ``model_side`` px (never upscaled) and pass it
            as ``push(frame, t_s, model_frame)``: the input of learned
            backbones (0 = no second frame).
        max_decoded_pixels: most source pixels (width x height summed over
            decoded frames) to decode; checked on the probed size and frame
            count before decoding, and again while decoding. ``None`` or 0 =
            no limit.

    Returns:
        :class:`Clip`.

    Raises:
        VideoReadError: unreadable input (one line). Decode errors after
            ``MIN_FRAMES_ON_ERROR`` source frames are a warning instead.
        ValueError: invalid arguments.
    """
    _validate(size, max_fps, max_frames, stills)
    path = os.fspath(path)
    info, notes = _probe(path, fps_override)
    fps = min(info.fps, max_fps) if max_fps else info.fps
    span = info.frame_count
    if max_frames is not None:
        span = min(span, math.ceil(max_frames * info.fps / fps))
    check_budget(info, span, max_decoded_pixels)
    wanted_stills = _still_indices(span, stills)
    aw, ah = fit_size(info.width, info.height, size)
    sw, sh = fit_size(info.width, info.height, still_size)
    msize = None
    if model_side > 0 and sink is not None:
        short = min(info.width, info.height)
        long_side = math.ceil(model_side * max(info.width, info.height) / max(1, short)) + 1
        msize = fit_size(info.width, info.height, long_side)

    expected = max(1, round(span * fps / info.fps)) if info.fps > 0 else max(1, span)
    push = None if sink is None else sink(info, float(fps), expected)
    state = _DecodeState(budget=float(max_decoded_pixels or 0.0))
    with contextlib.closing(_source(path, info, state, fps_override)) as source:
        got = _collect(
            source,
            state,
            _RateCap(max_fps),
            max_frames,
            wanted_stills,
            (aw, ah),
            (sw, sh),
            push,
            msize,
        )
    if not got.times:
        reason = state.error or state.bad_packet_error or "empty stream"
        raise _fail(f"no decodable video frames ({reason})")
    warnings = notes + _decode_warnings(state, info)
    if state.finished and state.decoded != info.frame_count:
        duration = info.duration_s if info.variable_fps else state.decoded / info.fps
        info = dataclasses.replace(info, frame_count=state.decoded, duration_s=duration)
    return Clip(
        frames=np.stack(got.frames) if got.frames else np.zeros((0, ah, aw, 3), np.uint8),
        times_s=np.asarray(got.times, dtype=np.float64),
        fps=float(fps),
        info=info,
        stills=np.stack(got.stills) if got.stills else np.zeros((0, sh, sw, 3), np.uint8),
        source_indices=np.asarray(got.indices, dtype=np.int64),
        warnings=warnings,
    )


def _decode_warnings(state: _DecodeState, info: VideoInfo) -> tuple[str, ...]:
    """Warnings for recoverable decode trouble; raise when too little decoded."""
    problems = []
    if state.bad_packets:
        problems.append(f"{state.bad_packets} corrupt packet(s) skipped: {state.bad_packet_error}")
    if state.error is not None:
        problems.append(
            f"decoding stopped after {state.decoded} of ~{info.frame_count} frames: {state.error}"
        )
    if problems and state.decoded < MIN_FRAMES_ON_ERROR:
        raise _fail(f"no decodable video frames ({'; '.join(problems)})")
    return tuple(_one_line(p) for p in problems)


def iter_frames(
    path: str | os.PathLike[str],
    *,
    size: int | None = None,
    max_fps: float | None = None,
    fps_override: float | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(time_s, frame)`` for each kept frame, streaming.

    Args:
        path: video file or numbered-image folder.
        size: long side in pixels (never upscaled); ``None`` = source size.
        max_fps: timestamp-based rate cap in frames/s; ``None`` = every frame.
        fps_override: see :func:`read_clip`.

    Yields:
        time in seconds from the first frame, (H, W, 3) uint8 RGB frame in
        display orientation.

    Raises:
        VideoReadError: unreadable input, or decoding failed part-way (raised
            after the frames decoded so far were yielded).
    """
    if max_fps is not None and not max_fps > 0:
        raise ValueError(f"max_fps must be > 0 or None, got {max_fps}")
    path = os.fspath(path)
    info = probe(path, fps_override=fps_override)
    w, h = (info.width, info.height) if size is None else fit_size(info.width, info.height, size)
    cap = _RateCap(max_fps)
    state = _DecodeState()
    with contextlib.closing(_source(path, info, state, fps_override)) as source:
        for sf in source:
            if cap.keep(sf.time_s):
                try:
                    rgb = sf.to_rgb(w, h)
                except _FrameDecodeError as exc:
                    raise _fail(f"decoding failed after {sf.index} frames: {exc}") from None
                yield sf.time_s, rgb
    if state.error is not None:
        raise _fail(f"decoding failed after {state.decoded} frames: {state.error}")
    if state.decoded == 0:
        raise _fail("no decodable video frames")


__all__ = [
    "DEFAULT_IMAGE_FOLDER_FPS",
    "IMAGE_EXTENSIONS",
    "MAX_ASPECT_RATIO",
    "MIN_FRAMES_ON_ERROR",
    "MIN_FRAME_SIDE",
    "VIDEO_EXTENSIONS",
    "Clip",
    "FrameSink",
    "check_budget",
    "fit_size",
    "is_image_folder",
    "iter_frames",
    "natural_sort_key",
    "numbered_images",
    "probe",
    "read_clip",
    "rotate_frame",
    "set_decode_threads",
]
