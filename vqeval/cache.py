"""Result cache keyed by file content and scoring configuration.

One JSON record per (content, configuration) under ``<root>/<k[:2]>/<k>.json``,
written atomically, so two runs sharing a cache never read half a record;
a record that fails to parse is treated as a miss. Error rows are not cached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import replace
from pathlib import Path

from vqeval.config import ScoreConfig
from vqeval.report import write_atomic
from vqeval.report.jsonio import clean
from vqeval.results import ResultsFormatError, VideoResult

_CHUNK = 1 << 20


def default_cache_dir() -> Path:
    """``$VQEVAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/vqeval``, else ``~/.cache/vqeval``."""
    env = os.environ.get("VQEVAL_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "vqeval" if xdg else Path.home() / ".cache" / "vqeval"


def content_digest(path: str | os.PathLike[str]) -> str:
    """BLAKE2b hex digest of a file's bytes, or of a folder's files (names + bytes,
    sorted). Raises ``OSError`` when unreadable."""
    h = hashlib.blake2b(digest_size=20)
    p = Path(path)
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    for f in files:
        if p.is_dir():
            h.update(f.name.encode("utf-8", "surrogateescape") + b"\0")
        with open(f, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()


class ResultCache:
    """Content + configuration keyed store of :class:`VideoResult` records."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    def key(self, path: str | os.PathLike[str], config: ScoreConfig) -> str:
        """Cache key of ``path`` under ``config`` (raises ``OSError`` if unreadable)."""
        return f"{content_digest(path)}-{config.key()}"

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str, path: str) -> VideoResult | None:
        """The cached result for ``key`` reported under ``path``, or ``None``."""
        try:
            record = json.loads(self._file(key).read_text(encoding="utf-8"))
            result = VideoResult.from_dict(record)
        except (OSError, ValueError, ResultsFormatError, TypeError, KeyError):
            return None
        return replace(result, path=path, cached=True)

    def put(self, key: str, result: VideoResult) -> None:
        """Store ``result`` (error rows are skipped). Never raises on I/O errors."""
        if not result.ok:
            return
        with contextlib.suppress(OSError, ValueError):
            write_atomic(self._file(key), json.dumps(clean(result.to_dict()), allow_nan=False))
