"""The scoring settings that travel with results.

A score means little without the settings it was made with: the same videos
scored at another analysis size, frame-rate cap, backbone or flow, with other
dimensions, parameters or scoring code give other numbers. Every result
record carries them (``VideoResult.analysis["settings"]``) and every results
file repeats them at the top (``"settings"``), so that ``vqeval compare`` and
``vqeval gate`` can tell when two sides were scored differently and say what
differs, instead of reporting differences that come from the settings alone.

The settings (:func:`scoring_settings`):

==================  =========================================================
``dimensions``      the dimension names scored (sorted)
``analysis_size``   long side of the analysis frames, px
``max_fps``         analysis frame-rate cap, frames/s (``None`` = none)
``backbone``        feature backbone (``pixel``, ``dinov2-s`` ...)
``flow``            optical-flow backend (``dis``, ``raft`` ...)
``params_hash``     16 hex digits over every other field of the
                    :class:`~vqeval.config.ScoreConfig` except those that only
                    change how a run goes (:data:`RUN_ONLY`); a field added to
                    the config later is covered without a change here
``code``            ``VERSION+FINGERPRINT``: the package version and
                    :func:`vqeval.cache.code_fingerprint`, a digest of the
                    source of the scoring modules, ``vqeval.dimensions`` and
                    ``metrics`` (computed once per process)
==================  =========================================================
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from vqeval._version import __version__
from vqeval.config import ScoreConfig

#: Settings compared one by one (each difference is one line); the rest of
#: the configuration is compared through ``params_hash``.
NAMED: tuple[str, ...] = ("dimensions", "analysis_size", "max_fps", "backbone", "flow")
#: ScoreConfig fields that change how a run goes (where, how fast, within
#: which budget), not the numbers it gives: left out of ``params_hash``.
RUN_ONLY: tuple[str, ...] = ("device", "batch_size", "weights_dir", "max_decoded_mpx")
#: Every key of a settings record, in order.
KEYS: tuple[str, ...] = (*NAMED, "params_hash", "code")
#: The one warning for a side whose settings are not recorded.
UNKNOWN = "settings unknown"


def params_hash(config: ScoreConfig) -> str:
    """16 hex digits over every field of ``config`` that is neither one of
    :data:`NAMED` nor :data:`RUN_ONLY` (generic: new fields are included)."""
    fields = {k: v for k, v in dataclasses.asdict(config).items() if k not in NAMED + RUN_ONLY}
    blob = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def code_version() -> str:
    """``VERSION+FINGERPRINT`` of the scoring code that runs here."""
    from vqeval.cache import code_fingerprint

    return f"{__version__}+{code_fingerprint()}"


def scoring_settings(
    config: ScoreConfig, dimensions: Sequence[str] | None = None
) -> dict[str, Any]:
    """The settings record of results scored under ``config``.

    Args:
        config: the scoring configuration.
        dimensions: the dimension names scored; ``None`` = those ``config``
            selects (:func:`vqeval.dimensions.resolve`).
    """
    if dimensions is None:
        from vqeval.dimensions import resolve

        dimensions = [d.name for d in resolve(config.dimensions, config)]
    return {
        "dimensions": sorted(dimensions),
        "analysis_size": config.analysis_size,
        "max_fps": config.max_fps,
        "backbone": config.backbone,
        "flow": config.flow,
        "params_hash": params_hash(config),
        "code": code_version(),
    }


def _show(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v)) or "none"
    return "none" if v is None else str(v)


def differences(baseline: dict[str, Any], other: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(setting, baseline value, other value)`` for each setting that
    differs (a setting one side lacks counts as ``None`` there)."""
    keys = [*KEYS, *sorted((set(baseline) | set(other)) - set(KEYS))]
    return [(k, baseline.get(k), other.get(k)) for k in keys if baseline.get(k) != other.get(k)]


def settings_warnings(sides: Sequence[Any]) -> list[str]:
    """One line per setting that differs between the first side (the
    baseline) and each other side, naming the setting, both values and both
    sides; one ``settings unknown`` line naming the sides without recorded
    settings (results files from before they were recorded).

    ``sides`` are :class:`vqeval.compare.Side` (``label``, ``settings``).
    """
    if len(sides) < 2:
        return []
    lines: list[str] = []
    unknown = [s.label for s in sides if s.settings is None]
    if unknown:
        lines.append(
            f"{UNKNOWN} for {', '.join(unknown)} (a results file without recorded scoring "
            "settings): differences may come from the settings; re-score it to record them"
        )
    base = sides[0]
    if base.settings is None:
        return lines
    for side in sides[1:]:
        if side.settings is None:
            continue
        for key, a, b in differences(base.settings, side.settings):
            lines.append(
                f"settings differ: {key} is {_show(a)} in {base.label} (baseline) but "
                f"{_show(b)} in {side.label}"
            )
    return lines
