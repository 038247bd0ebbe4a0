"""vqeval.video: metadata, streaming decode, frame-rate cap, sizes and bad inputs."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from tests import badinputs as bad
from vqeval import video
from vqeval.results import VideoReadError
from vqeval.video import fit_size, iter_frames, probe, read_clip, rotate_frame


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder with the inputs most tests share (written once)."""
    d = tmp_path_factory.mktemp("videos")
    bad.make_clip(d, "clip48.mp4", n=48)
    bad.make_tiny(d)
    bad.make_odd_size(d)
    bad.make_single_frame(d)
    bad.make_vfr(d)
    bad.make_image_folder(d)
    return d


# --------------------------------------------------------------------------- metadata

CONTAINERS = [
    # extension, codec, fps, expected codec name, expected container name
    ("mp4", "libx264", 24.0, "h264", "mp4"),
    ("mov", "libx264", 30.0, "h264", "mov"),
    ("m4v", "libx264", 25.0, "h264", "mov"),
    ("mkv", "libx264", 24.0, "h264", "matroska"),
    ("webm", "libvpx-vp9", 24.0, "vp9", "webm"),
    ("avi", "mpeg4", 25.0, "mpeg4", "avi"),
    ("gif", "gif", 10.0, "gif", "gif"),
]


@pytest.mark.parametrize(("ext", "codec", "fps", "codec_name", "container"), CONTAINERS)
def test_probe_metadata_per_container(
    tmp_path: Path, ext: str, codec: str, fps: float, codec_name: str, container: str
) -> None:
    n = 20
    path = bad.make_clip(tmp_path, f"c.{ext}", n=n, width=64, height=48, fps=fps, codec=codec)
    info = probe(path)
    assert info.fps == pytest.approx(fps, rel=1e-3)
    assert info.frame_count == n
    assert (info.width, info.height) == (64, 48)
    assert info.duration_s == pytest.approx(n / fps, rel=1e-3)
    assert info.codec == codec_name
    assert info.container == container
    assert info.rotation == 0
    assert info.variable_fps is False
    clip = read_clip(path, max_fps=None, size=64)
    assert clip.frames.shape == (n, 48, 64, 3)
    assert clip.info.frame_count == n


def test_probe_image_folder(files: Path) -> None:
    info = probe(files / "frames")
    assert info.container == "image-folder"
    assert info.codec == "png"
    assert info.frame_count == 12
    assert (info.width, info.height) == (40, 30)
    assert info.fps == video.DEFAULT_IMAGE_FOLDER_FPS == 24.0
    assert info.duration_s == pytest.approx(0.5)
    assert probe(files / "frames", fps_override=6).duration_s == pytest.approx(2.0)


def test_image_folder_frames_in_numeric_order(files: Path) -> None:
    clip = read_clip(files / "frames", max_fps=None)
    red = clip.frames[:, 0, 0, 0].astype(int)
    assert red.tolist() == [10 * i for i in range(1, 13)]  # frame_2 before frame_10
    assert clip.times_s == pytest.approx(np.arange(12) / 24.0)


def test_image_folder_fps_override_and_jpeg(tmp_path: Path) -> None:
    folder = bad.make_image_folder(tmp_path, ext=".jpg", n=6, mode="L")
    info = probe(folder, fps_override=12.0)
    assert (info.codec, info.fps, info.frame_count) == ("jpeg", 12.0, 6)
    clip = read_clip(folder, fps_override=12.0, max_fps=None)
    assert clip.frames.shape == (6, 30, 40, 3)
    assert clip.fps == 12.0


def test_image_folder_rgba_becomes_rgb(tmp_path: Path) -> None:
    folder = bad.make_image_folder(tmp_path, n=3, mode="RGBA")
    assert read_clip(folder).frames.shape[-1] == 3


def test_image_folder_bad_image_mid_way_keeps_earlier_frames(tmp_path: Path) -> None:
    folder = bad.make_image_folder_with_bad_frame(tmp_path, bad_number=6)
    clip = read_clip(folder, max_fps=None, stills=0)
    assert clip.frames.shape[0] == 5
    damage = [w for w in clip.warnings if "assumed" not in w]
    assert len(damage) == 1 and "frame_6.png" in damage[0]
    with pytest.raises(VideoReadError, match=r"frame_6\.png"):
        list(iter_frames(folder))


def test_image_folder_skipped_images_are_not_read(tmp_path: Path) -> None:
    folder = bad.make_image_folder_with_bad_frame(tmp_path, bad_number=2)  # index 1
    clip = read_clip(folder, max_fps=12.0, stills=0)  # 24 fps source: odd indices skipped
    assert clip.source_indices.tolist() == list(range(0, 12, 2))
    assert [w for w in clip.warnings if "assumed" not in w] == []


def test_image_folder_bad_first_image(tmp_path: Path) -> None:
    folder = bad.make_image_folder_with_bad_frame(tmp_path, bad_number=1)
    with pytest.raises(VideoReadError, match=r"unreadable image frame_1\.png"):
        read_clip(folder)


# --------------------------------------------------------------------------- frame rate


def test_fps_cap_keeps_every_second_frame(files: Path) -> None:
    clip = read_clip(files / "clip48.mp4", max_fps=12.0)
    assert clip.fps == 12.0
    assert clip.source_indices.tolist() == list(range(0, 48, 2))
    assert clip.times_s == pytest.approx(np.arange(24) / 12.0)
    assert clip.times_s.dtype == np.float64


def test_fps_cap_non_divisor_keeps_average_rate(files: Path) -> None:
    clip = read_clip(files / "clip48.mp4", max_fps=10.0)
    # 24 fps over 2 s: the first frame at or after each 0.1 s tick, ticks 0.0 .. 1.9
    assert len(clip.frames) == 20
    assert clip.fps == 10.0


def test_no_cap_and_cap_above_source_keep_all(files: Path) -> None:
    assert len(read_clip(files / "clip48.mp4", max_fps=None).frames) == 48
    slow = read_clip(files / "clip48.mp4", max_fps=60.0)
    assert len(slow.frames) == 48
    assert slow.fps == 24.0


def test_max_frames_stops_early(files: Path) -> None:
    clip = read_clip(files / "clip48.mp4", max_fps=None, max_frames=10, stills=3)
    assert clip.frames.shape[0] == 10
    assert clip.source_indices.tolist() == list(range(10))
    assert clip.stills.shape[0] == 3


def test_skipped_frames_are_never_converted(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    real = video.VideoReformatter

    class Counting:
        def __init__(self) -> None:
            self.inner = real()

        def reformat(self, frame, *args, **kwargs):  # type: ignore[no-untyped-def]
            calls.append(frame.pts)
            return self.inner.reformat(frame, *args, **kwargs)

    monkeypatch.setattr(video, "VideoReformatter", Counting)
    clip = read_clip(files / "clip48.mp4", max_fps=6.0, stills=2)
    assert len(clip.frames) == 12
    assert len(calls) == len(clip.frames) + len(clip.stills)


def test_vfr_detected_and_sampled_by_timestamps(files: Path) -> None:
    info = probe(files / "vfr.mp4")
    assert info.variable_fps is True
    assert info.frame_count == len(bad.VFR_TIMES_S)
    full = read_clip(files / "vfr.mp4", max_fps=None)
    assert full.times_s == pytest.approx(bad.VFR_TIMES_S, abs=2e-3)
    capped = read_clip(files / "vfr.mp4", max_fps=12.0)
    # 30 fps part (0 .. 0.633 s): one frame per 1/12 s tick -> 8 frames;
    # the 10 fps part after the gap is below the cap -> all 10 frames kept.
    assert len(capped.frames) == 18
    assert capped.times_s[-10:] == pytest.approx(bad.VFR_TIMES_S[-10:], abs=2e-3)
    assert probe(files / "clip48.mp4").variable_fps is False


def test_clock_repairs_missing_and_backward_timestamps() -> None:
    clock = video._Clock(0.1, fixed=False)
    stamps = [5.0, 5.1, None, 5.1, 5.0, 5.6]
    times = [clock.time(i, t) for i, t in enumerate(stamps)]
    # relative to the first frame; a missing, repeated or backward stamp
    # becomes previous + one step, so times stay strictly increasing
    assert times == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4, 0.6])
    leading = video._Clock(0.1, fixed=False)
    assert [leading.time(i, t) for i, t in enumerate([None, 5.0, 5.1])] == pytest.approx(
        [0.0, 0.1, 0.2]
    )


def test_fps_override_replaces_timestamps(files: Path) -> None:
    clip = read_clip(files / "vfr.mp4", max_fps=None, fps_override=10.0)
    assert clip.times_s == pytest.approx(np.arange(30) / 10.0)


# --------------------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("w", "h", "long_side", "expected"),
    [
        (1920, 1080, 160, (160, 90)),
        (1080, 1920, 160, (90, 160)),
        (832, 470, 160, (160, 90)),
        (33, 17, 16, (16, 8)),
        (8, 8, 160, (8, 8)),  # never upscaled
        (33, 17, 160, (33, 17)),  # kept exactly, even when odd
        (4000, 3, 100, (100, 2)),  # at least 2 px
    ],
)
def test_fit_size(w: int, h: int, long_side: int, expected: tuple[int, int]) -> None:
    assert fit_size(w, h, long_side) == expected


def test_analysis_and_still_sizes(files: Path) -> None:
    clip = read_clip(files / "clip48.mp4", size=32, stills=4, still_size=40)
    assert clip.frames.shape[1:] == (24, 32, 3)
    assert clip.stills.shape == (4, 30, 40, 3)
    assert clip.frames.dtype == clip.stills.dtype == np.uint8


def test_stills_never_upscaled_and_capped_by_frame_count(files: Path) -> None:
    clip = read_clip(files / "tiny.mp4", stills=8, still_size=512)
    assert clip.frames.shape[1:] == (8, 8, 3)
    assert clip.stills.shape == (8, 8, 8, 3)
    assert read_clip(files / "single.mp4", stills=8).stills.shape == (1, 48, 64, 3)
    none = read_clip(files / "tiny.mp4", stills=0)
    assert none.stills.shape == (0, 8, 8, 3)


def test_odd_size(files: Path) -> None:
    clip = read_clip(files / "odd.mp4")
    assert clip.frames.shape[1:] == (17, 33, 3)
    assert read_clip(files / "odd.mp4", size=16).frames.shape[1:] == (8, 16, 3)


def test_large_frames_downscaled(tmp_path: Path) -> None:
    clip = read_clip(bad.make_large_frames(tmp_path), size=160, max_fps=12.0, stills=8)
    assert clip.info.width == 3840
    assert clip.frames.shape == (2, 90, 160, 3)
    assert clip.stills.shape == (3, 288, 512, 3)


@pytest.mark.slow
def test_hd_clip_kept_at_analysis_size(tmp_path: Path) -> None:
    clip = read_clip(bad.make_hd_clip(tmp_path, n=200), max_fps=12.0)
    assert clip.info.frame_count == 200
    assert clip.frames.shape == (100, 90, 160, 3)
    assert clip.stills.shape == (8, 288, 512, 3)
    assert clip.frames.nbytes < 5_000_000


# --------------------------------------------------------------------------- pixels


def test_rgb_channel_order_lossless(tmp_path: Path) -> None:
    frames = np.zeros((3, 16, 16, 3), np.uint8)
    frames[:, :, :, 0] = 200  # red
    frames[:, 8:, :, 2] = 90  # blue in the bottom half
    path = bad.write_video(tmp_path / "rgb.mkv", frames, 24.0, "ffv1")
    clip = read_clip(path, max_fps=None)
    np.testing.assert_array_equal(clip.frames, frames)


def test_grayscale_becomes_rgb(tmp_path: Path) -> None:
    clip = read_clip(bad.make_grayscale(tmp_path), max_fps=None)
    f = clip.frames.astype(int)
    assert f.shape == (12, 48, 64, 3)
    assert np.array_equal(f[..., 0], f[..., 1]) and np.array_equal(f[..., 1], f[..., 2])
    expected = bad.synthetic_frames(12, 48, 64, gray=True).astype(int)
    assert np.abs(f[..., 0] - expected).max() <= 2


def test_palette_gif(tmp_path: Path) -> None:
    path = bad.make_palette_gif(tmp_path)
    info = probe(path)
    assert (info.codec, info.frame_count, info.fps) == ("gif", 10, pytest.approx(10.0))
    clip = read_clip(path, max_fps=12.0)
    assert clip.frames.shape == (10, 20, 30, 3)
    assert clip.frames.dtype == np.uint8
    # the palette holds the moving square's near-white colour
    assert clip.frames[0, :5, :5].min() > 200


def test_alpha_channel_dropped(tmp_path: Path) -> None:
    clip = read_clip(bad.make_alpha(tmp_path), max_fps=None)
    assert clip.frames.shape == (12, 48, 64, 3)


def test_h264_colours_close(files: Path) -> None:
    clip = read_clip(files / "clip48.mp4", max_fps=None, size=64)
    expected = bad.synthetic_frames(48, 48, 64)
    err = np.abs(clip.frames.astype(int) - expected.astype(int)).mean()
    assert err < 6


# --------------------------------------------------------------------------- rotation


def test_rotate_frame_matches_numpy() -> None:
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert np.array_equal(rotate_frame(img, 90), np.rot90(img, k=-1))
    assert np.array_equal(rotate_frame(img, 180), np.rot90(img, k=2))
    assert np.array_equal(rotate_frame(img, 270), np.rot90(img, k=1))
    assert rotate_frame(img, 0) is img
    with pytest.raises(ValueError):
        rotate_frame(img, 45)


@pytest.mark.parametrize(
    ("rotation", "white_corner"),
    [(90, "top-right"), (180, "bottom-right"), (270, "bottom-left")],
)
def test_rotation_metadata_applied(tmp_path: Path, rotation: int, white_corner: str) -> None:
    path = bad.make_rotated(tmp_path, rotation)  # coded 64x32, white top-left
    info = probe(path)
    assert info.rotation == rotation
    size = (32, 64) if rotation in (90, 270) else (64, 32)
    assert (info.width, info.height) == size
    frame = read_clip(path, size=64).frames[0].astype(int)
    assert frame.shape[:2] == (size[1], size[0])
    h, w = frame.shape[:2]
    corners = {
        "top-left": frame[2, 2],
        "top-right": frame[2, w - 3],
        "bottom-left": frame[h - 3, 2],
        "bottom-right": frame[h - 3, w - 3],
    }
    assert corners.pop(white_corner).min() > 200
    assert all(c.max() < 60 for c in corners.values())


# --------------------------------------------------------------------------- odd but valid


def test_single_frame_is_readable(files: Path) -> None:
    clip = read_clip(files / "single.mp4")
    assert clip.frames.shape == (1, 48, 64, 3)
    assert clip.times_s.tolist() == [0.0]
    assert clip.source_indices.tolist() == [0]
    assert clip.info.frame_count == 1


def test_unicode_and_spaces_in_path(tmp_path: Path) -> None:
    path = bad.make_unicode_path(tmp_path)
    assert " " in str(path) and not str(path).isascii()
    assert probe(path).frame_count == 6
    assert read_clip(path, max_fps=12.0).frames.shape[0] == 3


def test_truncated_with_index_first_keeps_decoded_frames(tmp_path: Path) -> None:
    clip = read_clip(bad.make_truncated_faststart_mp4(tmp_path), max_fps=None)
    assert 2 <= len(clip.frames) < 48
    assert clip.warnings and "truncated" in clip.warnings[0]
    assert all("\n" not in w for w in clip.warnings)


def test_truncated_mkv_keeps_decoded_frames(tmp_path: Path) -> None:
    clip = read_clip(bad.make_truncated_mkv(tmp_path), max_fps=None)
    assert 2 <= len(clip.frames) < 48
    assert any("truncated" in w for w in clip.warnings)


def test_corrupt_middle_skips_bad_packets(tmp_path: Path) -> None:
    clip = read_clip(bad.make_corrupt_middle_mp4(tmp_path), max_fps=None)
    assert 2 <= len(clip.frames) < 48
    assert any("corrupt" in w for w in clip.warnings)
    assert np.all(np.diff(clip.times_s) > 0)


def test_clean_file_has_no_warnings(files: Path) -> None:
    assert read_clip(files / "clip48.mp4").warnings == ()


# --------------------------------------------------------------------------- failures

BAD = [
    (bad.make_zero_byte, "empty file"),
    (bad.make_random_bytes, "not a readable video"),
    (bad.make_text_mp4, "text"),
    (bad.make_truncated_mp4, "truncated"),
    (bad.make_audio_only, "no video stream"),
    (bad.make_fifo, "not a regular file"),
    (bad.make_broken_symlink, "broken symbolic link"),
    (bad.make_symlink_file_loop, "symbolic links"),
    (lambda d: d / "missing.mp4", "file not found"),
    (lambda d: d, "no numbered images"),
]


@pytest.mark.parametrize(("factory", "words"), BAD, ids=lambda x: getattr(x, "__name__", x))
def test_bad_input_raises_one_line(tmp_path: Path, factory, words: str) -> None:  # type: ignore[no-untyped-def]
    path = factory(tmp_path)
    for call in (probe, read_clip, lambda p: list(iter_frames(p))):
        with pytest.raises(VideoReadError) as err:
            call(path)
        message = str(err.value)
        assert words in message, message
        assert "\n" not in message and "Traceback" not in message
        assert 0 < len(message) <= 300


def test_permission_error_is_mapped(files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root reads mode-000 files, so simulate the OS refusing the open."""
    real_open = open

    def refusing_open(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if str(file).endswith("clip48.mp4"):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    with pytest.raises(VideoReadError, match=r"^permission denied$"):
        read_clip(files / "clip48.mp4")


def test_unreadable_file_permission_denied(tmp_path: Path) -> None:
    """A mode-000 file; as root the check runs in a forked child as ``nobody``."""
    if os.geteuid() != 0:
        with pytest.raises(VideoReadError, match="permission denied"):
            probe(bad.make_unreadable(tmp_path))
        return
    shared = Path(tempfile.mkdtemp(prefix="vqeval-perm-"))
    try:
        shared.chmod(0o755)
        path = bad.make_unreadable(shared)
        outcome = bad.call_as_other_user(lambda: read_clip(path))
        assert outcome == "VideoReadError: permission denied"
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_invalid_arguments(files: Path) -> None:
    with pytest.raises(ValueError):
        read_clip(files / "clip48.mp4", size=0)
    with pytest.raises(ValueError):
        read_clip(files / "clip48.mp4", max_fps=0)
    with pytest.raises(ValueError):
        probe(files / "clip48.mp4", fps_override=-1)


# --------------------------------------------------------------------------- iter_frames


def test_iter_frames_full_size_and_capped(files: Path) -> None:
    items = list(iter_frames(files / "clip48.mp4"))
    assert len(items) == 48
    t, frame = items[1]
    assert t == pytest.approx(1 / 24)
    assert frame.shape == (48, 64, 3) and frame.dtype == np.uint8
    small = list(iter_frames(files / "clip48.mp4", size=32, max_fps=8.0))
    assert len(small) == 16
    assert small[0][1].shape == (24, 32, 3)


def test_iter_frames_early_stop(files: Path) -> None:
    gen = iter_frames(files / "clip48.mp4")
    first = next(gen)
    gen.close()
    assert first[0] == 0.0


# --------------------------------------------------------------------------- real videos


@pytest.mark.realvideos
def test_real_videos_probe_and_read(realvideos: Path) -> None:
    paths = sorted(realvideos.glob("*.mp4"))
    assert paths
    for p in paths:
        info = probe(p)
        assert info.fps > 0 and info.frame_count > 1 and info.width > 0
    clip = read_clip(paths[0])
    assert clip.frames.shape[2] == 160 or clip.frames.shape[1] == 160
    assert clip.warnings == ()
