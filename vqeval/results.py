"""Typed results of scoring videos, and their JSON form.

A :class:`VideoResult` is one row of every report: one video, its metadata,
every dimension score (0-100, higher is better), raw metric values, the
composite, the verdict and the failure flags. ``to_dict`` / ``from_dict`` give
the stable JSON record used by ``--json``, the cache and ``vqeval compare``.
"""

from __future__ import annotations

import dataclasses
import math
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
        series: plot-ready series for reports that the dimension computed
            (``"motion"``, ``"ssm"`` ...); the pipeline gathers them into
            :attr:`VideoResult.series` (they are not stored per dimension).
    """

    name: str
    score: float | None
    raw: dict[str, Any] = field(default_factory=dict)
    backbone: str | None = None
    series: dict[str, Any] = field(default_factory=dict, compare=False)

    def with_series(self, **series: Any) -> DimensionScore:
        """This score with the plot series ``series`` added."""
        return dataclasses.replace(self, series={**self.series, **series})


@dataclass(frozen=True)
class FlagDetail:
    """When a failure flag starts and why it was raised.

    Attributes:
        flag: the flag (``frozen``, ``loop``, ``collapse`` ...).
        start_s: time (s from the first frame) where the failure starts,
            ``None`` when it has no single start.
        reason: short cause in words, e.g. ``"content still: change 0.9 % of
            local contrast (floor 2 %)"``.
        dimension: the dimension that raised it.
    """

    flag: str
    start_s: float | None
    reason: str
    dimension: str = ""

    @property
    def text(self) -> str:
        """One line for people: ``"frozen from 12.4 s: content still ..."``."""
        when = "" if self.start_s is None else f" from {self.start_s:.1f} s"
        return f"{self.flag}{when}: {self.reason}" if self.reason else f"{self.flag}{when}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "flag": self.flag,
            "start_s": None if self.start_s is None else round(float(self.start_s), 3),
            "reason": self.reason,
            "dimension": self.dimension,
            "text": self.text,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FlagDetail:
        start = d.get("start_s")
        return cls(
            flag=str(d.get("flag", "")),
            start_s=None if start is None else float(start),
            reason=str(d.get("reason", "")),
            dimension=str(d.get("dimension", "")),
        )


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
        flags: failure flags, those the dimensions declare
            (``Dimension.flags``: ``loop``, ``frozen``, ``collapse``,
            ``motion_decay``, ``flicker``).
        loop_period_s: detected loop period in seconds, ``None`` if no loop.
        flag_details: one :class:`FlagDetail` per flag (when it starts, why).
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
    flag_details: tuple[FlagDetail, ...] = ()
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
            "flag_details": [f.to_dict() for f in self.flag_details],
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
        check_record(d)  # wrong field types: ResultsFormatError, never a crash later
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
            flag_details=tuple(
                FlagDetail.from_dict(f) for f in d.get("flag_details") or () if isinstance(f, dict)
            ),
            analysis=d.get("analysis") or {},
            elapsed_s=float(d.get("elapsed_s") or 0.0),
            cached=bool(d.get("cached", False)),
            series=d.get("series") or {},
        )


def _is_num(v: Any) -> bool:
    """A finite number (not a bool): NaN, +-Infinity (which Python's JSON
    reader accepts) and integers too large for a float (``10**400``) are not."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int beyond float range
        return False


def _is_score(v: Any) -> bool:
    """A score: a finite number in 0-100 (NaN compares false, so it fails)."""
    return _is_num(v) and 0.0 <= v <= 100.0


def _is_int(v: Any) -> bool:
    """An integer (not a bool) that fits 64 bits."""
    return isinstance(v, int) and not isinstance(v, bool) and -(2**63) <= v < 2**63


#: Field -> type test of a result record (``None`` allowed where it says so).
_RECORD_FIELDS: dict[str, tuple[str, Any]] = {
    "path": ("a string", lambda v: isinstance(v, str)),
    "status": ("'ok' or 'error'", lambda v: v in (STATUS_OK, STATUS_ERROR)),
    "error": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "info": ("an object or null", lambda v: v is None or isinstance(v, dict)),
    "scores": ("an object of scores 0-100 or null", lambda v: isinstance(v, dict)
               and all(x is None or _is_score(x) for x in v.values())),
    "raw": ("an object of objects", lambda v: isinstance(v, dict)
            and all(isinstance(x, dict) for x in v.values())),
    "backbones": ("an object of strings", lambda v: isinstance(v, dict)
                  and all(x is None or isinstance(x, str) for x in v.values())),
    "composite": ("a score 0-100 or null", lambda v: v is None or _is_score(v)),
    "verdict": ("a string or null", lambda v: v is None or isinstance(v, str)),
    "flags": ("a list of strings", lambda v: isinstance(v, list)
              and all(isinstance(x, str) for x in v)),
    "loop_period_s": ("a finite number or null", lambda v: v is None or _is_num(v)),
    "flag_details": ("a list of objects", lambda v: isinstance(v, list)
                     and all(isinstance(x, dict) and (x.get("start_s") is None
                             or _is_num(x.get("start_s"))) for x in v)),
    "analysis": ("an object", lambda v: isinstance(v, dict)),
    "elapsed_s": ("a finite number", lambda v: v is None or _is_num(v)),
    "cached": ("true or false", lambda v: isinstance(v, bool)),
    "series": ("an object of lists", lambda v: isinstance(v, dict)
               and all(isinstance(x, list) for x in v.values())),
}  # fmt: skip
_INFO_FIELDS: dict[str, tuple[str, Any]] = {
    "fps": ("a finite number", _is_num),
    "frame_count": ("an integer", _is_int),
    "width": ("an integer", _is_int),
    "height": ("an integer", _is_int),
    "codec": ("a string", lambda v: isinstance(v, str)),
    "duration_s": ("a finite number", _is_num),
    "rotation": ("an integer", _is_int),
    "variable_fps": ("true or false", lambda v: isinstance(v, bool)),
    "container": ("a string", lambda v: isinstance(v, str)),
}


def check_record(d: dict[str, Any]) -> None:
    """Check the field types of a result record (a cache entry, or a results
    JSON from another tool or an old version): one place, so readers of a
    record never meet a string where a number belongs.

    Raises:
        ResultsFormatError: naming the first wrong field and what it must be.
    """
    for key, (what, ok) in _RECORD_FIELDS.items():
        if key in d and not ok(d[key]):
            raise ResultsFormatError(f"result record field '{key}' must be {what}")
    if not isinstance(d.get("path"), str):
        raise ResultsFormatError("result record field 'path' must be a string")
    info = d.get("info")
    if info:
        unknown = sorted(set(info) - set(_INFO_FIELDS))
        missing = sorted(k for k in ("fps", "frame_count", "width", "height", "codec",
                                     "duration_s") if k not in info)  # fmt: skip
        if unknown or missing:
            raise ResultsFormatError(
                f"result record field 'info' has unknown {unknown} / lacks {missing} keys"
            )
        for key, (what, ok) in _INFO_FIELDS.items():
            if key in info and not ok(info[key]):
                raise ResultsFormatError(f"result record field 'info.{key}' must be {what}")


class VQevalError(Exception):
    """Base class of every error VQeval raises on purpose (message = one line)."""


class VideoReadError(VQevalError):
    """A video could not be opened or decoded (corrupt, empty, unsupported...)."""


class ResultsFormatError(VQevalError):
    """A results JSON file is malformed or from an incompatible version."""


class ConfigError(VQevalError):
    """A configuration (CLI options, gate file, backbone paths) is invalid."""
