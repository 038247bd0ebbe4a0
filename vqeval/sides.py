"""The inputs of ``vqeval compare`` and ``vqeval gate``, loaded.

Every input is a folder of videos (scored through
:func:`vqeval.batch.score_batch`, so the result cache makes a re-run instant)
or a results JSON written by ``vqeval score --json``; either becomes a
:class:`vqeval.compare.Side` with the scoring settings it was made with
(:mod:`vqeval.settings`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vqeval.compare import Side
from vqeval.config import ScoreConfig
from vqeval.results import ConfigError, VideoResult
from vqeval.resultsio import read_document, read_results, records_settings
from vqeval.settings import scoring_settings


def read_results_json(path: str | os.PathLike[str]) -> list[VideoResult]:
    """Read a results file written by ``vqeval score --json``.

    Thin wrapper over :func:`vqeval.resultsio.read_results` (one reader
    of the format in the code base).

    Raises:
        ResultsFormatError: unreadable file, invalid JSON, another schema
            version, or records that are not VQeval results (one line naming
            the file).
    """
    return read_results(path)


def _common_root(paths: Iterable[str]) -> str:
    dirs = [os.path.dirname(os.path.normpath(p)) for p in paths]
    if not dirs:
        return ""
    try:
        return os.path.commonpath(dirs) if len(set(map(os.path.isabs, dirs))) == 1 else ""
    except ValueError:
        return ""


def is_results_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` names a results JSON (an existing ``.json`` file)."""
    p = Path(path)
    return p.suffix.lower() == ".json" and p.is_file()


def load_side(
    path: str | os.PathLike[str],
    config: ScoreConfig | None = None,
    *,
    workers: int = 1,
    cache: Any = True,
    pattern: str | None = None,
    progress: bool | None = False,
) -> Side:
    """Load one comparison input: score a folder, or read a results JSON.

    Raises:
        ConfigError: the path does not exist, or holds no videos.
        ResultsFormatError: a results JSON is malformed or from another version.
    """
    src = os.fspath(path)
    p = Path(src)
    if not p.exists():
        raise ConfigError(f"{src}: no such folder or results file")
    if is_results_file(p):
        doc = read_document(p)
        if not doc.results:
            raise ConfigError(f"{src}: results file holds no videos")
        root = _common_root(r.path for r in doc.results)
        return Side(p.stem, src, doc.results, root, doc.settings)
    if not p.is_dir():
        raise ConfigError(f"{src}: not a folder or a results .json file")
    from vqeval.batch import score_batch

    config = config or ScoreConfig()
    results = list(
        score_batch(
            [src],
            config,
            workers=workers,
            cache=cache,
            pattern=pattern,
            progress=progress,
        )
    )
    if not results:
        what = f" matching {pattern!r}" if pattern else ""
        raise ConfigError(f"{src}: no videos{what} found in this folder")
    label = p.resolve().name or src
    return Side(label, src, results, src, records_settings(results) or scoring_settings(config))
