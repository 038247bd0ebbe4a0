"""vqeval.discover.find_videos: walking, ordering, image folders, loops, errors."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from tests import badinputs as bad
from vqeval import discover
from vqeval.discover import find_videos


def touch(path: Path) -> Path:
    """An empty placeholder: discovery never reads file contents."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """vids/{a.mp4, b2.mp4, b10.mp4, notes.txt, sub/c.MOV, sub/deep/d.webm,
    frames/ (image folder), .hidden/x.mp4, cover.png}"""
    root = tmp_path / "vids"
    for name in ("a.mp4", "b2.mp4", "b10.mp4", "notes.txt", "cover.png"):
        touch(root / name)
    touch(root / "sub" / "c.MOV")
    touch(root / "sub" / "deep" / "d.webm")
    touch(root / ".hidden" / "x.mp4")
    bad.make_image_folder(root, "frames", n=3)
    return root


def rel(paths: list[str], base: Path) -> list[str]:
    return [os.path.relpath(p, base) for p in paths]


def test_walks_recursively_in_natural_order(tree: Path) -> None:
    videos, errors = find_videos([tree])
    assert errors == []
    assert rel(videos, tree) == [
        "a.mp4",
        "b2.mp4",
        "b10.mp4",
        "frames",
        os.path.join("sub", "c.MOV"),
        os.path.join("sub", "deep", "d.webm"),
    ]


def test_non_recursive(tree: Path) -> None:
    videos, _ = find_videos([tree], recursive=False)
    assert rel(videos, tree) == ["a.mp4", "b2.mp4", "b10.mp4", "frames"]


def test_pattern_filters_walked_names(tree: Path) -> None:
    videos, _ = find_videos([tree], pattern="b*.mp4")
    assert rel(videos, tree) == ["b2.mp4", "b10.mp4"]
    videos, _ = find_videos([tree], pattern="fra*")
    assert rel(videos, tree) == ["frames"]


def test_explicit_files_always_returned(tree: Path) -> None:
    notes = str(tree / "notes.txt")
    videos, errors = find_videos([notes], pattern="*.mp4")
    assert videos == [notes]
    assert errors == []


def test_missing_path_is_an_error_row(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.mp4")
    videos, errors = find_videos([missing])
    assert videos == []
    assert errors == [(missing, "no such file or directory")]


def test_image_folder_is_one_video(tree: Path) -> None:
    videos, errors = find_videos([tree / "frames"])
    assert videos == [str(tree / "frames")]
    assert errors == []


def test_single_numbered_image_is_not_a_video(tmp_path: Path) -> None:
    bad.make_image_folder(tmp_path, "one", n=1)
    assert find_videos([tmp_path / "one"]) == ([], [])


def test_folder_with_images_and_videos_is_walked(tmp_path: Path) -> None:
    folder = bad.make_image_folder(tmp_path, "mixed", n=3)
    touch(folder / "clip.mp4")
    videos, _ = find_videos([folder])
    assert videos == [str(folder / "clip.mp4")]


def test_relative_paths_stay_relative(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tree.parent)
    videos, _ = find_videos(["vids"], pattern="a.mp4")
    assert videos == [os.path.join("vids", "a.mp4")]
    videos, _ = find_videos(["./vids/b2.mp4"])
    assert videos == ["./vids/b2.mp4"]


def test_symlink_loop_terminates_and_lists_once(tmp_path: Path) -> None:
    tree = bad.make_symlink_dir_loop(tmp_path)  # tree/a.mp4, tree/sub/b.mp4, sub/back -> tree
    videos, errors = find_videos([tree])
    assert rel(videos, tree) == ["a.mp4", os.path.join("sub", "b.mp4")]
    assert errors == []


def test_self_loop_link_to_parent(tmp_path: Path) -> None:
    touch(tmp_path / "d" / "v.mp4")
    (tmp_path / "d" / "self").symlink_to(tmp_path / "d", target_is_directory=True)
    videos, _ = find_videos([tmp_path / "d"])
    assert videos == [str(tmp_path / "d" / "v.mp4")]


def test_duplicates_listed_once(tree: Path) -> None:
    a = str(tree / "a.mp4")
    videos, _ = find_videos([a, tree, a], pattern="a.mp4")
    assert videos == [a]


def test_broken_links_and_file_loops_are_error_rows(tmp_path: Path) -> None:
    dangling = bad.make_broken_symlink(tmp_path)
    loop = bad.make_symlink_file_loop(tmp_path)
    videos, errors = find_videos([tmp_path])
    assert videos == []
    reasons = dict(errors)
    assert reasons[str(dangling)] == "broken symbolic link"
    assert reasons[str(loop)] == "symbolic link loop"
    _, errors = find_videos([dangling])
    assert errors == [(str(dangling), "broken symbolic link")]


def test_unicode_and_spaces(tmp_path: Path) -> None:
    path = touch(tmp_path / "dir ü" / "clip ü 日本.mp4")
    videos, errors = find_videos([tmp_path])
    assert videos == [str(path)]
    assert errors == []


def test_unreadable_folder_is_an_error_row(tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Root lists mode-000 folders, so simulate the OS refusing."""
    real_scandir = os.scandir
    blocked = str(tree / "sub")

    def scandir(path):  # type: ignore[no-untyped-def]
        if os.fspath(path) == blocked:
            raise PermissionError(13, "Permission denied", blocked)
        return real_scandir(path)

    monkeypatch.setattr(discover.os, "scandir", scandir)
    videos, errors = find_videos([tree])
    assert errors == [(blocked, "permission denied")]
    assert "a.mp4" in rel(videos, tree)


def test_unreadable_folder_as_other_user() -> None:
    """A mode-000 folder; as root the walk runs in a forked child as ``nobody``."""
    shared = Path(tempfile.mkdtemp(prefix="vqeval-perm-"))
    try:
        shared.chmod(0o755)
        touch(shared / "ok.mp4")
        locked = shared / "locked"
        touch(locked / "hidden.mp4")
        locked.chmod(0)
        expected = ([str(shared / "ok.mp4")], [(str(locked), "permission denied")])
        if os.geteuid() != 0:
            assert find_videos([shared]) == expected
            return

        def check() -> None:
            result = find_videos([shared])
            if result != expected:
                raise AssertionError(repr(result))

        assert bad.call_as_other_user(check) == "ok"
    finally:
        (shared / "locked").chmod(0o755)
        shutil.rmtree(shared, ignore_errors=True)
