"""Videos named by URL or object-store path (``s3://bucket/clip.mp4``,
``gs://...``, ``https://...``, ``file:///...``), read through fsspec.

A URL naming one object is one video; a URL naming a folder (prefix) is
walked recursively for files with a video extension, like a local folder
(hidden names skipped, natural order). The worker that scores a URL copies
the object to a temporary file (removed after scoring) and decodes that, so
every container PyAV reads works; the row keeps the URL as its path.
Protocols other than ``file``/``memory``/``http(s)`` need fsspec's plugin
(``s3fs``, ``gcsfs``, ``adlfs``) on every worker; credentials come from the
usual environment of that plugin. Image folders are local only.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from vqeval.config import ScoreConfig
from vqeval.discover import natural_sort_key
from vqeval.results import STATUS_ERROR, VideoResult
from vqeval.video import VIDEO_EXTENSIONS

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_CHUNK = 1 << 20


def is_url(path: str) -> bool:
    """True when ``path`` starts with a URL scheme (``s3://``, ``file://`` ...)."""
    return bool(_SCHEME.match(path))


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise ImportError(
            "reading URLs needs fsspec: pip install fsspec (plus s3fs/gcsfs for s3://, gs://)"
        ) from None
    return fsspec


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, FileNotFoundError):
        text = "no such file or object"
    elif text.startswith("Protocol not known"):
        text = f"unknown URL protocol ({text}); is its fsspec plugin installed?"
    elif isinstance(exc, PermissionError):
        text = "permission denied"
    return text[:300]


def expand_urls(
    urls: Sequence[str], pattern: str | None = None
) -> tuple[list[str], list[tuple[str, str]]]:
    """Expand URLs into videos, like :func:`vqeval.discover.find_videos`.

    Args:
        urls: URLs or object-store paths, as the user typed them.
        pattern: glob on the file name, applied to objects found under a
            folder URL only (an object named explicitly is always kept).

    Returns:
        ``(videos, errors)``: video URLs (each folder's in natural order, no
        duplicates) and ``(url, one-line reason)`` for those that cannot be
        listed (missing, no fsspec or protocol plugin, no permission).
    """
    videos: list[str] = []
    errors: list[tuple[str, str]] = []
    seen: set[str] = set()

    def add(url: str, canonical: str) -> None:
        if canonical not in seen:  # one object named twice, spelled two ways
            seen.add(canonical)
            videos.append(url)

    for url in urls:
        try:
            fs, root = _fsspec().core.url_to_fs(url)
            if fs.isdir(root):
                found = []
                for obj in fs.find(root):
                    rel = posixpath.relpath(obj, root.rstrip("/") or "/")
                    name = posixpath.basename(obj)
                    if any(part.startswith(".") for part in rel.split("/")):
                        continue
                    if posixpath.splitext(name)[1].lower() not in VIDEO_EXTENSIONS:
                        continue
                    if pattern is None or fnmatch.fnmatchcase(name, pattern):
                        found.append(fs.unstrip_protocol(obj))
                for v in sorted(found, key=natural_sort_key):
                    add(v, v)
            elif fs.exists(root):
                add(url, fs.unstrip_protocol(root))
            else:
                errors.append((url, "no such file or object"))
        except Exception as exc:  # fsspec/plugins raise many types (ImportError, ValueError ...)
            errors.append((url, _reason(exc)))
    return videos, errors


def fetch(url: str, folder: str | os.PathLike[str]) -> str:
    """Copy the object at ``url`` into ``folder``; returns the local file path
    (named ``clip`` plus the URL's video extension, if any).

    Raises:
        OSError, ImportError, ValueError: the object cannot be read.
    """
    suffix = posixpath.splitext(url.split("?", 1)[0])[1].lower()
    local = os.path.join(os.fspath(folder), "clip" + (suffix if suffix in VIDEO_EXTENSIONS else ""))
    with _fsspec().open(url, "rb") as src, open(local, "wb") as out:
        shutil.copyfileobj(src, out, _CHUNK)
    return local


def score_url(url: str, config: ScoreConfig) -> VideoResult:
    """Score the video at ``url`` (copied to a temporary file first). Never
    raises for a bad or unreadable object: one error row with ``path=url``."""
    from vqeval.pipeline import score_video

    with tempfile.TemporaryDirectory(prefix="vqeval-url-") as tmp:
        try:
            local = fetch(url, tmp)
        except Exception as exc:
            return VideoResult(path=url, status=STATUS_ERROR, error=f"cannot read: {_reason(exc)}")
        return replace(score_video(local, config), path=url)
