"""Result cache keyed by file content, scoring configuration and scoring code.

One JSON record per key under ``<root>/<k[:2]>/<k>.json``, written atomically,
so two runs sharing a cache never read half a record. The key joins

* the BLAKE2b digest of the video's bytes (or of an image folder's files),
* :meth:`ScoreConfig.key` (every option that changes results, the decision
  parameters ``config.params`` included), and
* :func:`code_fingerprint`: a digest of the scoring code itself (the
  ``metrics`` package, ``vqeval.dimensions`` and the modules between decoding
  and the summary) and of the registered dimensions, so that any change to
  how scores are computed makes old records misses instead of silently
  returning old numbers; it also covers the backbones' change and novelty
  distances (:data:`vqeval.weights.BACKBONE_DISTANCES`).

A record that fails to parse or has fields of the wrong type is a miss and is
rewritten by the next successful scoring. Error rows are not cached. Only
regular files are hashed: a FIFO or a device (``/dev/zero``) is never opened
for reading here (it would block or never end); scoring then reports it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import importlib.util
import json
import os
import stat
from dataclasses import replace
from pathlib import Path

from vqeval.config import ScoreConfig
from vqeval.fileio import write_atomic
from vqeval.results import ResultsFormatError, VideoResult
from vqeval.resultsio import clean

_CHUNK = 1 << 20
#: Modules of ``vqeval`` whose code decides the numbers (besides the
#: ``vqeval.dimensions`` package and the ``metrics`` package).
SCORING_MODULES: tuple[str, ...] = (
    "analysis",
    "config",
    "framepass",
    "params",
    "pipeline",
    "results",
    "scoring",
    "video",
)


def default_cache_dir() -> Path:
    """``$VQEVAL_CACHE_DIR``, else ``$XDG_CACHE_HOME/vqeval``, else ``~/.cache/vqeval``."""
    env = os.environ.get("VQEVAL_CACHE_DIR")
    if env:
        return Path(env).expanduser()  # '~/x' from a quoted shell value or a .env file
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg).expanduser() / "vqeval" if xdg else Path.home() / ".cache" / "vqeval"


def _hash_regular_file(h: hashlib._Hash, path: Path) -> None:
    """Feed the bytes of ``path`` to ``h``; ``OSError`` unless a regular file.

    Opened non-blocking and checked with ``fstat`` on the open descriptor, so
    a FIFO is never waited on and a file swapped for one after a check is
    still caught."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        while chunk := fh.read(_CHUNK):
            h.update(chunk)


def content_digest(path: str | os.PathLike[str]) -> str:
    """BLAKE2b hex digest of a regular file's bytes, or of a folder's regular
    files (names + bytes, sorted). Raises ``OSError`` when unreadable or not
    a regular file (pipe, socket, device)."""
    h = hashlib.blake2b(digest_size=20)
    p = Path(path)
    if p.is_dir():
        for f in sorted(f for f in p.iterdir() if f.is_file()):
            h.update(f.name.encode("utf-8", "surrogateescape") + b"\0")
            _hash_regular_file(h, f)
    else:
        _hash_regular_file(h, p)
    return h.hexdigest()


def _package_dir(name: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def scoring_sources() -> list[Path]:
    """Source files whose code decides the scores (sorted)."""
    files: list[Path] = []
    vq = _package_dir("vqeval")
    if vq is not None:
        files += [vq / f"{m}.py" for m in SCORING_MODULES]
        files += sorted((vq / "dimensions").rglob("*.py"))
    # the science package: installed as vqeval.metrics (wheel), or metrics/ of the checkout
    metrics = _package_dir("vqeval.metrics") or _package_dir("metrics")
    if metrics is not None:
        files += sorted(metrics.rglob("*.py"))
    return [f for f in files if f.is_file()]


@functools.lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """Digest (16 hex) of the scoring code and the dimension registry.

    Covers the bytes of :func:`scoring_sources`, the package version and, per
    registered dimension, its name, family, weight, default flag and
    ``version`` attribute when it has one. Computed once per process (about
    a millisecond)."""
    from vqeval._version import __version__

    h = hashlib.blake2b(digest_size=8)
    h.update(__version__.encode())
    for f in scoring_sources():
        h.update(f"\0{f.parent.name}/{f.name}\0".encode())
        with contextlib.suppress(OSError):
            h.update(f.read_bytes())
    try:
        from vqeval.dimensions import registry

        dims = registry()
    except Exception:  # a broken family module shows up when scoring, not here
        dims = {}
    for name in sorted(dims):
        d = dims[name]
        version = getattr(d, "version", "")
        h.update(f"\0{name}:{d.family}:{d.weight!r}:{d.default}:{version}".encode())
    # the backbones' change / novelty distances (the decision parameters
    # themselves are part of ScoreConfig.key(): config.params)
    from vqeval.weights import BACKBONE_DISTANCES

    h.update(json.dumps(BACKBONE_DISTANCES, sort_keys=True).encode())
    return h.hexdigest()


def _prompt_digest(path: str | os.PathLike[str], config: ScoreConfig) -> str:
    """Short digest of the prompt a selected dimension that reads prompts
    (``Dimension.uses_prompt``: ``text_alignment``) would use for ``path``
    (``"none"`` without one, or when no such dimension is selected: then no
    sidecar is read)."""
    from vqeval.dimensions import resolve
    from vqeval.prompts import prompt_for

    if not any(d.uses_prompt for d in resolve(config.dimensions, config)):
        return "none"
    prompt, _ = prompt_for(path, config)
    if prompt is None:
        return "none"
    return hashlib.blake2b(prompt.encode("utf-8"), digest_size=6).hexdigest()


class ResultCache:
    """Content + configuration + code keyed store of :class:`VideoResult` records."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    def key(self, path: str | os.PathLike[str], config: ScoreConfig) -> str:
        """Cache key of ``path`` under ``config``, the video's prompt (``--prompt``,
        ``--prompts`` or the generator's sidecar JSON, which can change without the
        video changing) and the current scoring code.

        Raises:
            OSError: unreadable, or not a regular file / folder.
        """
        if config.dimensions is None:  # the default set depends on the config: key it
            from vqeval.dimensions import default_names

            config = replace(config, dimensions=default_names(config))
        return f"{content_digest(path)}-{config.key()}-{_prompt_digest(path, config)}-{code_fingerprint()}"

    def _file(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str, path: str) -> VideoResult | None:
        """The cached result for ``key`` reported under ``path``, or ``None``
        (missing, unreadable, not JSON, wrong schema or field types)."""
        try:
            record = json.loads(self._file(key).read_text(encoding="utf-8"))
            result = VideoResult.from_dict(record)
        except (
            OSError,
            ValueError,
            ResultsFormatError,
            TypeError,
            KeyError,
            AttributeError,
            RecursionError,
        ):
            return None
        if not result.ok:
            return None
        return replace(result, path=path, cached=True)

    def put(self, key: str, result: VideoResult) -> None:
        """Store ``result`` (error rows are skipped). Never raises on I/O errors."""
        if not result.ok:
            return
        with contextlib.suppress(OSError, ValueError):
            write_atomic(self._file(key), json.dumps(clean(result.to_dict()), allow_nan=False))
