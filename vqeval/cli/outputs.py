"""Checks on report paths before any work: a report never overwrites an input.

``vqeval score clip.mp4 --json clip.mp4`` used to replace the video with its
report (exit 0). Every subcommand now checks, before it decodes or reads
anything, that no report path (``--json``, ``--csv``, ``--html``, ``--md``,
``--junit``) names an existing file that is one of its inputs: a video given
or found in a folder (or a frame of an image folder), a results JSON, a gate
file or a baseline. Such a report is one ``error:`` line, exit 2. The same
file under another spelling (``./clip.mp4``, a symbolic or hard link) counts.
``--resume FILE`` with ``--json FILE`` stays allowed: it is how a run is
continued.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from vqeval.cli.common import fail_usage
from vqeval.safetext import one_line


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of what ``path`` names after links, or ``None``."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def check_reports_not_inputs(
    reports: Sequence[tuple[str, str | None]],
    inputs: Sequence[str],
    *,
    pattern: str | None = None,
) -> None:
    """Exit 2 with one line when a report would overwrite an input.

    Args:
        reports: ``(option, path)`` pairs; ``None`` and ``-`` (stdout) are skipped.
        inputs: the command's input paths as typed (videos, folders, results
            JSON, gate file, baseline; URLs are skipped). Folders are walked
            (as scoring walks them, with ``pattern``) only when an existing
            report lies inside one.
        pattern: the ``--glob`` of the run.
    """
    from vqeval.remote import is_url

    existing: dict[tuple[int, int], tuple[str, str]] = {}
    for option, path in reports:
        if path and path != "-":
            ident = _identity(path)
            if ident is not None:
                existing.setdefault(ident, (option, path))
    if not existing:  # nothing there yet: nothing to overwrite
        return

    def check(candidate: str) -> None:
        hit = existing.get(_identity(candidate) or (-1, -1))
        if hit is not None:
            option, path = hit
            same = "" if candidate == path else f" ({one_line(candidate)})"
            fail_usage(
                f"{option} {path} is one of the inputs{same}: refusing to overwrite it; "
                "write the report to another file"
            )

    local = [p for p in inputs if p and not is_url(p)]
    for p in local:
        check(p)
    reals = [os.path.realpath(path) for _, path in existing.values()]
    folders = []
    for p in local:
        if os.path.isdir(p):
            root = os.path.join(os.path.realpath(p), "")
            if any(r.startswith(root) for r in reals):
                folders.append(p)
    if not folders:
        return
    from vqeval.discover import find_videos
    from vqeval.video import numbered_images

    videos, _ = find_videos(folders, pattern=pattern)
    for v in videos:
        if os.path.isdir(v):  # an image folder: its frames are the input
            try:
                frames = numbered_images(v)
            except OSError:
                continue
            for f in frames:
                check(os.fspath(f))
        else:
            check(v)
