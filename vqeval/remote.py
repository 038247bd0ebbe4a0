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

Timeouts: an http(s) server that does not accept the connection, or stops
sending, within ``VQEVAL_URL_TIMEOUT`` seconds (default
:data:`DEFAULT_URL_TIMEOUT_S`, 30) fails that URL: one error row naming the
host (``no answer from HOST:PORT within 30 s``), never a hang (fsspec's
client otherwise waits 300 s per request). A slow but steady download is not
cut: the limit is on each wait, not on the whole transfer.
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
#: Seconds an http(s) server may take to accept a connection or to send the
#: next bytes (``$VQEVAL_URL_TIMEOUT`` overrides it).
DEFAULT_URL_TIMEOUT_S = 30.0


def url_timeout_s() -> float:
    """``$VQEVAL_URL_TIMEOUT`` in seconds when it is a number > 0, else
    :data:`DEFAULT_URL_TIMEOUT_S`."""
    try:
        value = float(os.environ.get("VQEVAL_URL_TIMEOUT", ""))
    except ValueError:
        return DEFAULT_URL_TIMEOUT_S
    return value if 0 < value < float("inf") else DEFAULT_URL_TIMEOUT_S


def _storage_options(url: str) -> dict[str, Any]:
    """fsspec options of ``url``: for http(s), aiohttp timeouts of
    :func:`url_timeout_s` on connecting and on each read (no total limit)."""
    if not url.lower().startswith(("http://", "https://")):
        return {}
    try:
        import aiohttp
    except ImportError:  # fsspec says what to install
        return {}
    t = url_timeout_s()
    timeout = aiohttp.ClientTimeout(total=None, connect=t, sock_connect=t, sock_read=t)
    return {"client_kwargs": {"timeout": timeout}}


def _host(url: str) -> str:
    """``HOST:PORT`` of ``url`` (the port only when the URL names one)."""
    import urllib.parse

    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{parts.hostname or url}:{port}" if port else (parts.hostname or url)


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


def _timed_out(exc: BaseException | None) -> bool:
    """True when ``exc`` or an exception it was raised from is a timeout
    (fsspec reports a HEAD that timed out as ``FileNotFoundError``)."""
    for _ in range(10):  # a short chain; never loop on a cycle
        if exc is None:
            return False
        if isinstance(exc, TimeoutError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _reason(exc: BaseException, url: str = "") -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    if url and _timed_out(exc):  # asyncio, aiohttp and fsspec timeouts
        text = (
            f"no answer from {_host(url)} within {url_timeout_s():g} s "
            "(timeout; VQEVAL_URL_TIMEOUT sets it)"
        )
    elif isinstance(exc, FileNotFoundError):
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
            fs, root = _fsspec().core.url_to_fs(url, **_storage_options(url))
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
            errors.append((url, _reason(exc, url)))
    return videos, errors


def fetch(url: str, folder: str | os.PathLike[str]) -> str:
    """Copy the object at ``url`` into ``folder``; returns the local file path
    (named ``clip`` plus the URL's video extension, if any).

    Raises:
        OSError, ImportError, ValueError: the object cannot be read.
    """
    suffix = posixpath.splitext(url.split("?", 1)[0])[1].lower()
    local = os.path.join(os.fspath(folder), "clip" + (suffix if suffix in VIDEO_EXTENSIONS else ""))
    with _fsspec().open(url, "rb", **_storage_options(url)) as src, open(local, "wb") as out:
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
            reason = _reason(exc, url)
            return VideoResult(path=url, status=STATUS_ERROR, error=f"cannot read: {reason}")
        return replace(score_video(local, config), path=url)
