"""Results JSON files: ``{"vqeval": version, "schema": N, "config": {...},
"settings": {...}, "dimensions": {name: declaration}, "results": [record, ...]}``
with ``settings`` the scoring settings (:mod:`vqeval.settings`; ``null`` when
neither the config nor the records give them) and one
:meth:`VideoResult.to_dict` record per video; ``dimensions`` holds each scored
dimension's declaration (range, unit, direction, flags, backbone, VBench
relation) and the backbones the videos really used. Readers need only
``schema`` and ``results``."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from vqeval._version import __version__
from vqeval.config import ScoreConfig
from vqeval.fileio import write_atomic
from vqeval.results import SCHEMA_VERSION, VideoResult
from vqeval.resultsio import clean, read_results

__all__ = ["clean", "declarations", "dumps", "read_results", "write_results"]


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
    from vqeval.resultsio import records_settings
    from vqeval.settings import scoring_settings

    settings = scoring_settings(config) if config is not None else records_settings(results)
    doc = {
        "vqeval": __version__,
        "schema": SCHEMA_VERSION,
        "config": dataclasses.asdict(config) if config is not None else None,
        "settings": settings,
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
