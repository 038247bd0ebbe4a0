"""Typed results of scoring videos, and their JSON form.

A :class:`VideoResult` is one row of every report: one video, its metadata,
every dimension score (0-100, higher is better), raw metric values, the
composite, the verdict and the failure flags. ``to_dict`` / ``from_dict`` give
the stable JSON record used by ``--json``, the cache and ``vqeval compare``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

#: Version of the JSON record layout. Bump when a field changes meaning.
SCHEMA_VERSION = 1

STATUS_OK = "ok"
STATUS_ERROR = "error"


@dataclass(frozen=True)
class VideoInfo:
    """Container metadata of one video (before any resampling).

    Attributes:
        fps: average frames per second of the source (> 0).
        frame_count: number of decodable frames (exact when counted, else the
            container's estimate).
        width, height: display size in pixels after rotation metadata.
        codec: codec name as reported by the decoder ("h264", "gif", "png" for
            image folders, ...).
        duration_s: duration in seconds.
        rotation: display rotation in degrees (0, 90, 180, 270).
        variable_fps: True when frame timestamps are irregular.
        container: container or source kind ("mp4", "matroska", "image-folder").
    """

    fps: float
    frame_count: int
    width: int
    height: int
    codec: str
    duration_s: float
    rotation: int = 0
    variable_fps: bool = False
    container: str = ""


@dataclass(frozen=True)
class DimensionScore:
    """The outcome of one dimension on one video.

    Attributes:
        name: dimension name from the registry (e.g. ``"repetition"``).
        score: 0-100, higher is better; ``None`` when it could not be computed.
        raw: raw metric values with their own units (documented per dimension).
        backbone: name of the feature/flow backbone that produced it, if any.
    """

    name: str
    score: float | None
    raw: dict[str, Any] = field(default_factory=dict)
    backbone: str | None = None


@dataclass(frozen=True)
class VideoResult:
    """Everything VQeval knows about one scored (or failed) video.

    Attributes:
        path: the path as given (relative paths stay relative).
        status: ``"ok"`` or ``"error"``.
        error: one-line reason when ``status == "error"``, else ``None``.
        info: container metadata, ``None`` when the file could not be probed.
        dimensions: dimension name -> :class:`DimensionScore`.
        composite: 0-100 weighted mean of dimension scores after failure caps.
        verdict: a word for the composite ("good", "fair", "poor", "failed").
        flags: failure flags, a subset of ``loop``, ``frozen``,
            ``motion_decay``, ``flicker``.
        loop_period_s: detected loop period in seconds, ``None`` if no loop.
        analysis: the analysis geometry actually used (fps, size, frames).
        elapsed_s: wall time spent on this video in seconds.
        cached: True when the record came from the result cache.
        series: small plot-ready series for reports: ``"times_s"`` (analysis
            frame times, s), ``"motion"`` (per-frame motion, % of the frame
            diagonal per second), ``"ssm"`` (self-similarity matrix, at most
            64 x 64, values -1..1), ``"thumbnails"`` (JPEG data URIs).
    """

    path: str
    status: str = STATUS_OK
    error: str | None = None
    info: VideoInfo | None = None
    dimensions: dict[str, DimensionScore] = field(default_factory=dict)
    composite: float | None = None
    verdict: str | None = None
    flags: tuple[str, ...] = ()
    loop_period_s: float | None = None
    analysis: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0
    cached: bool = False
    series: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def score(self, name: str) -> float | None:
        """Score (0-100) of dimension ``name`` or ``None`` when absent."""
        d = self.dimensions.get(name)
        return None if d is None else d.score

    @property
    def backbones(self) -> dict[str, str]:
        """Dimension name -> backbone name, for dimensions that used one."""
        return {k: v.backbone for k, v in self.dimensions.items() if v.backbone}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (plain types only)."""
        return {
            "schema": SCHEMA_VERSION,
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "info": None if self.info is None else dataclasses.asdict(self.info),
            "scores": {k: v.score for k, v in self.dimensions.items()},
            "raw": {k: v.raw for k, v in self.dimensions.items()},
            "backbones": self.backbones,
            "composite": self.composite,
            "verdict": self.verdict,
            "flags": list(self.flags),
            "loop_period_s": self.loop_period_s,
            "analysis": dict(self.analysis),
            "elapsed_s": self.elapsed_s,
            "cached": self.cached,
            "series": dict(self.series),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VideoResult:
        """Inverse of :meth:`to_dict`.

        Raises:
            ResultsFormatError: when the record is from another schema version
                or lacks required fields.
        """
        if not isinstance(d, dict) or "path" not in d:
            raise ResultsFormatError("not a VQeval result record (no 'path')")
        if d.get("schema") != SCHEMA_VERSION:
            raise ResultsFormatError(
                f"result record has schema {d.get('schema')!r}, this VQeval reads "
                f"schema {SCHEMA_VERSION}: re-run `vqeval score` to regenerate it"
            )
        info = VideoInfo(**d["info"]) if d.get("info") else None
        scores = d.get("scores") or {}
        raw = d.get("raw") or {}
        backbones = d.get("backbones") or {}
        dims = {
            k: DimensionScore(k, scores.get(k), raw.get(k) or {}, backbones.get(k)) for k in scores
        }
        return cls(
            path=d["path"],
            status=d.get("status", STATUS_OK),
            error=d.get("error"),
            info=info,
            dimensions=dims,
            composite=d.get("composite"),
            verdict=d.get("verdict"),
            flags=tuple(d.get("flags") or ()),
            loop_period_s=d.get("loop_period_s"),
            analysis=d.get("analysis") or {},
            elapsed_s=float(d.get("elapsed_s") or 0.0),
            cached=bool(d.get("cached", False)),
            series=d.get("series") or {},
        )


class VQevalError(Exception):
    """Base class of every error VQeval raises on purpose (message = one line)."""


class VideoReadError(VQevalError):
    """A video could not be opened or decoded (corrupt, empty, unsupported...)."""


class ResultsFormatError(VQevalError):
    """A results JSON file is malformed or from an incompatible version."""


class ConfigError(VQevalError):
    """A configuration (CLI options, gate file, backbone paths) is invalid."""
