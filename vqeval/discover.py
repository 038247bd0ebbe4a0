"""Turn command-line paths into a sorted list of videos to score.

Rules:
    * A file given explicitly is always returned, whatever its extension or
      ``pattern`` (a ``.txt`` becomes an error row when it is read).
    * A folder of numbered images (see :func:`vqeval.video.is_image_folder`)
      is one video, given explicitly or met while walking.
    * Other folders are walked (recursively by default) in natural order.
      While walking, files count when their extension is in
      ``VIDEO_EXTENSIONS`` (any case) and their name matches ``pattern``;
      image folders count when their folder name matches ``pattern``.
      Hidden entries (name starting with ".") are skipped.
    * Symbolic links are followed, but a folder whose real path was already
      walked is not walked again (no loops, no duplicates).
    * The walk keeps its own stack (no recursion), so a tree thousands of
      folders deep is walked like a flat one; a folder whose path is too long
      for the operating system to open is one error.
    * Names are sorted with :func:`natural_sort_key`, which never compares
      a number with a text ("run" < "run2" < "run10").
    * The same file reached twice (same real path) is listed once, under the
      spelling met first.
    * Paths keep the user's spelling: relative inputs give relative results.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from vqeval.video import VIDEO_EXTENSIONS, is_image_folder

_DIGITS = re.compile(r"(\d+)")


def natural_sort_key(text: str) -> tuple[tuple[str | int, ...], str]:
    """Sort key that orders embedded numbers numerically ("a2" < "a10").

    The split parts alternate text, number, text ... in every key, and the
    text itself (the tie-break) sits in a second element of its own, so two
    keys never compare a number with a text: ``"run"`` < ``"run2"`` (the
    older key ``(*parts, text)`` raised ``TypeError`` there).
    """
    parts = _DIGITS.split(text)
    key = tuple(int(part) if i % 2 else part.casefold() for i, part in enumerate(parts))
    return key, text


@dataclass
class _Walk:
    pattern: str | None
    recursive: bool
    videos: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    seen_files: set[str] = field(default_factory=set)
    seen_dirs: set[str] = field(default_factory=set)

    def add_video(self, path: str) -> None:
        real = os.path.realpath(path)
        if real not in self.seen_files:
            self.seen_files.add(real)
            self.videos.append(path)

    def matches(self, name: str) -> bool:
        return self.pattern is None or fnmatch.fnmatchcase(name, self.pattern)


def find_videos(
    paths: Sequence[str | os.PathLike[str]],
    pattern: str | None = None,
    recursive: bool = True,
) -> tuple[list[str], list[tuple[str, str]]]:
    """Expand files and folders into videos.

    Args:
        paths: files and/or folders, as the user typed them.
        pattern: shell glob on the file (or image-folder) name, e.g.
            ``"*.mp4"``, applied to entries found by walking folders only;
            case-sensitive. ``None`` = every video extension.
        recursive: walk sub-folders (True) or only the folder's own entries.

    Returns:
        ``(videos, errors)``: video paths sorted naturally ("a2" before
        "a10"), and ``(path, one-line reason)`` for inputs that do not exist,
        dangling links and folders that cannot be listed.
    """
    walk = _Walk(pattern, recursive)
    for raw in paths:
        path = os.fspath(raw)
        if os.path.isdir(path):
            if is_image_folder(path):
                walk.add_video(path)
            else:
                _walk_dir(walk, path)
        elif os.path.exists(path):
            walk.add_video(path)
        elif os.path.lexists(path):
            walk.errors.append((path, _link_problem(path)))
        else:
            walk.errors.append((path, _missing_reason(path)))
    return sorted(walk.videos, key=natural_sort_key), walk.errors


def _missing_reason(path: str) -> str:
    """Why ``path`` (for which ``os.path.exists`` is False) cannot be used:
    a folder on the way that may not be searched (mode 000) is "permission
    denied", not "no such file"."""
    try:
        os.lstat(path)
    except PermissionError:
        return "permission denied"
    except NotADirectoryError:
        return "a parent is not a folder"
    except FileNotFoundError:
        return "no such file or directory"
    except OSError as exc:
        return f"cannot access: {exc.strerror or exc}"
    return "no such file or directory"


#: What a symbolic link may point at besides a file or folder (``stat`` modes).
_SPECIAL_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _link_problem(path: str) -> str:
    """Why the symbolic link ``path`` is not a video: a loop, a target that
    is missing, unreachable (permission) or not a regular file (FIFO, device,
    socket: named)."""
    try:
        st = os.stat(path)
    except PermissionError:
        return "symbolic link to a path that may not be read (permission denied)"
    except OSError as exc:
        if exc.strerror and "symbolic links" in exc.strerror:
            return "symbolic link loop"
        return "broken symbolic link"
    for test, kind in _SPECIAL_KINDS:
        if test(st.st_mode):
            return f"symbolic link to {kind}, not a regular file"
    return "symbolic link to something that is not a regular file"


def _list_dir(walk: _Walk, path: str) -> list[os.DirEntry[str]] | None:
    """The visible entries of folder ``path`` in natural order, or ``None``
    (an error recorded) when it was walked already or cannot be listed."""
    real = os.path.realpath(path)
    if real in walk.seen_dirs:
        return None
    walk.seen_dirs.add(real)
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: natural_sort_key(e.name))
    except PermissionError:
        walk.errors.append((path, "permission denied"))
        return None
    except OSError as exc:
        walk.errors.append((path, f"cannot list folder: {exc.strerror or exc}"))
        return None
    return [e for e in entries if not e.name.startswith(".")]


def _walk_dir(walk: _Walk, path: str) -> None:
    """Walk folder ``path`` depth-first in natural order, with an explicit
    stack of entry iterators (no recursion: depth is bounded only by the
    operating system's path length)."""
    top = _list_dir(walk, path)
    if top is None:
        return
    stack: list[tuple[str, Iterator[os.DirEntry[str]]]] = [(path, iter(top))]
    while stack:
        folder, entries = stack[-1]
        entry = next(entries, None)
        if entry is None:
            stack.pop()
            continue
        child = os.path.join(folder, entry.name)
        if _visit(walk, entry, child):
            sub = _list_dir(walk, child)
            if sub is not None:
                stack.append((child, iter(sub)))


def _visit(walk: _Walk, entry: os.DirEntry[str], child: str) -> bool:
    """Record ``entry`` (a video, an image folder or a link problem); True
    when it is a folder to walk into."""
    try:
        is_dir = entry.is_dir()
        is_file = not is_dir and entry.is_file()
    except OSError:  # e.g. a symlink loop: stat fails
        is_dir = is_file = False
    if is_dir:
        if is_image_folder(child):
            if walk.matches(entry.name):
                walk.add_video(child)
            return False
        return walk.recursive
    suffix = os.path.splitext(entry.name)[1].lower()
    if suffix not in VIDEO_EXTENSIONS or not walk.matches(entry.name):
        return False
    if is_file:
        walk.add_video(child)
    elif entry.is_symlink():
        walk.errors.append((child, _link_problem(child)))
    return False
