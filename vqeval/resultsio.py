"""Results JSON files at the lowest level: the plain-JSON form of a record
(:func:`clean`) and reading a file back (:func:`read_results`,
:func:`read_document`). Below the result cache, ``compare``, ``gate`` and the
report writers, which all use them; writing a results file with its
dimension declarations is :mod:`vqeval.report.jsonio`.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vqeval._version import __version__
from vqeval.results import SCHEMA_VERSION, ResultsFormatError, VideoResult


def clean(obj: Any) -> Any:
    """Plain-JSON copy of ``obj``: numpy scalars/arrays to Python, NaN/inf to ``None``."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    if isinstance(obj, (np.bool_, bool)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        f = float(obj)
        return f if math.isfinite(f) else None
    return obj


@dataclass(frozen=True)
class ResultsDocument:
    """A results file read back.

    Attributes:
        results: one :class:`VideoResult` per video.
        settings: the scoring settings it records
            (:func:`vqeval.settings.scoring_settings`): the file's ``settings``,
            else those every record carries when they agree; ``None`` when
            unknown (a file from before settings were recorded).
    """

    results: list[VideoResult]
    settings: dict[str, Any] | None


def read_results(path: str | os.PathLike[str]) -> list[VideoResult]:
    """The records of a results JSON file (see :func:`read_document`)."""
    return read_document(path).results


def read_document(path: str | os.PathLike[str]) -> ResultsDocument:
    """Read a results JSON file written by :func:`vqeval.report.jsonio.write_results`.

    Raises:
        ResultsFormatError: unreadable or not a regular file (a device, FIFO),
            not JSON, not a VQeval results file, a record with wrong field
            types or scores that are not finite numbers in 0-100 (NaN,
            Infinity, ``10**400``), or written with another schema version.
    """
    from vqeval.inputfile import InputFileError, read_input_file

    p = Path(path)
    try:
        # a regular file only: /dev/zero or a FIFO would never end or block
        doc = json.loads(read_input_file(p, max_bytes=None).decode("utf-8"))
    except InputFileError as e:
        raise ResultsFormatError(f"{p}: cannot read results file ({e})") from None
    except ValueError as e:
        raise ResultsFormatError(f"{p}: not valid JSON ({e})") from e
    except RecursionError:
        raise ResultsFormatError(f"{p}: not a VQeval results file (nested too deeply)") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ResultsFormatError(f"{p}: not a VQeval results file (no 'results' list)")
    if doc.get("schema") != SCHEMA_VERSION:
        raise ResultsFormatError(
            f"{p}: results schema {doc.get('schema')!r} (VQeval {doc.get('vqeval', '?')}), "
            f"this VQeval {__version__} reads schema {SCHEMA_VERSION}: re-run `vqeval score`"
        )
    try:
        results = [VideoResult.from_dict(r) for r in doc["results"]]
    except ResultsFormatError as e:
        raise ResultsFormatError(f"{p}: {e}") from e
    except (TypeError, KeyError, ValueError) as e:
        raise ResultsFormatError(f"{p}: malformed result record ({e})") from e
    settings = doc.get("settings")
    if not isinstance(settings, dict):
        settings = records_settings(results)
    return ResultsDocument(results, settings)


def records_settings(results: list[VideoResult]) -> dict[str, Any] | None:
    """The scoring settings the scored records carry (``analysis["settings"]``)
    when every one carries the same; ``None`` when none does or they differ."""
    found = [r.analysis.get("settings") for r in results if r.ok]
    if not found or not all(isinstance(f, dict) for f in found):
        return None
    first = found[0]
    return dict(first) if all(f == first for f in found[1:]) else None
