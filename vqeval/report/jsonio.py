"""Results JSON files: ``{"vqeval": version, "schema": N, "config": {...},
"dimensions": {name: declaration}, "results": [record, ...]}`` with one
:meth:`VideoResult.to_dict` record per video; ``dimensions`` holds each scored
dimension's declaration (range, unit, direction, flags, backbone, VBench
relation) and the backbones the videos really used. Readers need only
``schema`` and ``results``."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from vqeval._version import __version__
from vqeval.config import ScoreConfig
from vqeval.report import write_atomic
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


def declarations(
    results: list[VideoResult], config: ScoreConfig | None = None
) -> dict[str, dict[str, Any]]:
    """Declarations (:meth:`vqeval.dimensions.Dimension.describe`) of the
    dimensions present in ``results``, with the backbones the videos really
    used (``backbones_used``) and the VBench relation of those values."""
    from vqeval.compare import backbones_used, dimension_declarations, dimension_provenance

    decl = dimension_declarations()
    out: dict[str, dict[str, Any]] = {}
    for r in results:
        for name in r.dimensions:
            if name in out or name not in decl:
                continue
            out[name] = {
                **decl[name].describe(config),
                "backbones_used": backbones_used(results, name),
                "vbench_used": dimension_provenance(results, name)[1],
            }
    return out


def dumps(results: list[VideoResult], config: ScoreConfig | None = None) -> str:
    """The results JSON document as text (``summary``: videos per verdict,
    flags of the failed ones and errors, :func:`vqeval.report.summary.verdict_counts`)."""
    from vqeval.report.summary import verdict_counts

    doc = {
        "vqeval": __version__,
        "schema": SCHEMA_VERSION,
        "config": dataclasses.asdict(config) if config is not None else None,
        "dimensions": declarations(results, config),
        "summary": verdict_counts(results),
        "results": [r.to_dict() for r in results],
    }
    return json.dumps(clean(doc), indent=1, allow_nan=False, ensure_ascii=False)


def write_results(
    path: str | os.PathLike[str], results: list[VideoResult], config: ScoreConfig | None = None
) -> Path:
    """Write a results JSON file atomically; returns the path."""
    return write_atomic(path, dumps(results, config))


def read_results(path: str | os.PathLike[str]) -> list[VideoResult]:
    """Read a results JSON file written by :func:`write_results`.

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
        return [VideoResult.from_dict(r) for r in doc["results"]]
    except ResultsFormatError as e:
        raise ResultsFormatError(f"{p}: {e}") from e
    except (TypeError, KeyError, ValueError) as e:
        raise ResultsFormatError(f"{p}: malformed result record ({e})") from e
