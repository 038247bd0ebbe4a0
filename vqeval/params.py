"""The decision parameters of VQeval: one frozen tree, one section per flag.

Every number that decides a flag, caps the composite or maps a measurement
to a score lives here, with its unit and the procedure that chose it. The
tree is part of :class:`vqeval.config.ScoreConfig` (``config.params``), so it
is hashed into the result cache key, and the scoring path passes it down:
``Dimension.compute(analysis, params)`` and :func:`vqeval.scoring.summarize`
read their thresholds from it, never from module constants. The functions of
``vqeval.metrics`` take the same numbers as arguments; their defaults equal
the values below for library callers (``tests/test_params.py`` keeps them
equal).

Sections (TOML tables of the same names)::

    freeze        flag ``frozen``        (dimension ``freeze``)
    collapse      flag ``collapse``      (dimension ``detail``)
    loop          flag ``loop``          (dimension ``repetition``)
    drift         flag ``drift``         (dimension ``drift``)
    motion_decay  flag ``motion_decay``  (dimension ``motion_decay``)
    flicker       flag ``flicker``       (dimension ``temporal_flickering``)
    motion_level  score of ``motion_level`` (no flag)
    slow_motion   pair flag ``slow_motion`` of ``vqeval compare``
    composite     verdict words and the cap of a flag not listed above

The **flag policy** sits in the section of the flag it governs: ``cap``
(the highest composite a video with the flag gets) and, for flags that need
a stretch of time, ``tail`` (:class:`TailRule`: the stretch must last at
least ``max(min_s, fraction x duration)``; :func:`vqeval.metrics.stats.
required_span_s` is that rule, the one place it is written).

Not here: the constants of the analysis itself (content windows and grid,
cut detection, flow, colour statistics, frame embeddings), which change what
is measured rather than what is decided and are computed once per video;
VBench's own protocol constants (static filter, 2-s clips), which define
VBench's numbers; and the feature backbones' change and novelty distances,
which belong to each backbone (:data:`vqeval.weights.BACKBONE_DISTANCES`;
hashed into the cache key next to this tree).

Loading: :func:`load_params` (a TOML file, a mapping or a :class:`Params`),
``vqeval score --params FILE``, ``score_video(..., params=...)`` /
``score_batch(..., params=...)``, and the ``[tool.vqeval]`` table of
``pyproject.toml`` in the current working directory (:func:`project_params`,
CLI only). A file may hold any subset of the keys; the others keep their
defaults. Unknown keys, wrong types and values out of range are refused with
one line naming the key, e.g. ``params: drift.cap: expected a number in
[0, 100], got "x"``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vqeval.results import ConfigError

__all__ = [
    "FLAG_SECTIONS",
    "CollapseParams",
    "CompositeParams",
    "DecayParams",
    "DriftParams",
    "FlickerParams",
    "FreezeParams",
    "LoopParams",
    "MotionLevelParams",
    "Params",
    "SlowMotionParams",
    "TailRule",
    "load_params",
    "project_params",
]

#: Largest params file read (bytes): a real one is a few KB.
MAX_PARAMS_FILE_BYTES = 1 << 20
#: Most dots on one line of a params file: tomllib's time grows with the
#: square of a key's dotted parts; a real file needs 2 or 3.
MAX_DOTS_PER_LINE = 64


def _num(default: float, lo: float, hi: float, unit: str, *, open_lo: bool = False) -> Any:
    """A float parameter in ``[lo, hi]`` (``(lo, hi]`` with ``open_lo``)."""
    return field(default=default, metadata={"range": (lo, hi), "unit": unit, "open_lo": open_lo})


def _int(default: int, lo: int, hi: int, unit: str) -> Any:
    """An integer parameter in ``[lo, hi]``."""
    return field(default=default, metadata={"range": (lo, hi), "unit": unit, "int": True})


def _cap(default: float) -> Any:
    return _num(default, 0.0, 100.0, "composite points 0-100")


@dataclass(frozen=True)
class TailRule:
    """How long a flag's stretch must last: ``max(min_s, fraction x duration)``.

    Attributes:
        min_s: s; the shortest stretch on any clip.
        fraction: 0-1; the shortest stretch as a share of the clip's duration
            (the larger of the two counts).
    """

    min_s: float = _num(1.0, 0.0, 86400.0, "s")
    fraction: float = _num(0.2, 0.0, 1.0, "fraction of the duration")

    def need(self, duration_s: float) -> float:
        """The shortest stretch, s, on a clip of ``duration_s`` seconds."""
        from vqeval.metrics.stats import required_span_s

        return required_span_s(duration_s, self.min_s, self.fraction)


@dataclass(frozen=True)
class FreezeParams:
    """Flag ``frozen`` (dimension ``freeze``; :mod:`vqeval.metrics.stillness`).

    A block of the 8 x 8 grid changed between two 0.5-s windows 1 s apart
    when its change is visible, above noise and going somewhere; a pair
    changed when the ``quantile`` block did (docs/metrics.md, Freeze).

    Attributes:
        change_floor: RMS Weber contrast (0.01 = 1 % of the local
            brightness) a block's change needs. 0.03, chosen with
            ``snr_floor``, ``lively_change`` and ``progress_ratio`` by
            ``benchmarks/calibrate.py`` (balanced accuracy of the verdict on
            the real dev clips and the failures derived from them, plateau
            middle; docs/evidence.md reports the leave-one-source-out
            figures). ``vqeval calibrate`` re-chooses these four.
        snr_floor: change energy / noise energy (ratio >= 0) a block needs:
            below it the change is noise, shimmer or codec twitching. 10,
            same procedure.
        lively_change: RMS Weber contrast above which a fluctuation that
            goes nowhere still counts as live content (a talking mouth,
            water, fire). 0.06, same procedure.
        progress_ratio: energy at the 1-s lag / energy between adjacent
            windows (1 = stationary fluctuation, 2 = random walk, 4 = steady
            motion) a change needs to count as going somewhere. 2, same
            procedure.
        quantile: block quantile that decides (0-1; 0.95 = about 5 % of the
            picture must change). Set by design, not calibrated.
        fast_motion: mean optical flow, contrast-blur widths per analysis
            frame (1 px at a 160-px long side), from which a pair counts as
            changed whatever its SNR (the noise estimate then measures the
            motion). 2: no frozen dev clip's still pairs exceed 1; set by
            design.
        share: fraction of the time (0-1; a still opening excluded) still
            above which the clip is frozen. 0.5 (more than half), set by
            design.
        tail: a still tail lasting to the end raises the flag when at least
            ``max(1 s, 20 % of the duration)``; set by design (the flags
            table of docs/metrics.md).
        cap: composite cap of a frozen clip, 30 points (docs/metrics.md,
            Composite and verdict; set by design).
    """

    change_floor: float = _num(0.03, 0.0, 1.0, "RMS Weber contrast")
    snr_floor: float = _num(10.0, 0.0, 1e6, "energy ratio")
    lively_change: float = _num(0.06, 0.0, 1.0, "RMS Weber contrast")
    progress_ratio: float = _num(2.0, 0.0, 1e6, "energy ratio")
    quantile: float = _num(0.95, 0.0, 1.0, "block quantile 0-1")
    fast_motion: float = _num(2.0, 0.0, 1e6, "contrast-blur widths per frame")
    share: float = _num(0.5, 0.0, 1.0, "fraction of the time")
    tail: TailRule = field(default_factory=TailRule)
    cap: float = _cap(30.0)

    def thresholds(self) -> Any:
        """These values as :class:`vqeval.metrics.stillness.Thresholds`."""
        from vqeval.metrics.stillness import Thresholds

        return Thresholds(
            change_floor=self.change_floor,
            snr_floor=self.snr_floor,
            lively_change=self.lively_change,
            progress_ratio=self.progress_ratio,
            freeze_share=self.share,
            tail_min_s=self.tail.min_s,
            tail_fraction=self.tail.fraction,
            quantile=self.quantile,
            fast_motion=self.fast_motion,
        )


@dataclass(frozen=True)
class CollapseParams:
    """Flag ``collapse`` and the ``detail`` score (:mod:`vqeval.metrics.detail`).

    Attributes:
        dissolve_ratio: detail (RMS fine-scale Weber contrast) below this
            fraction of its shot's opening detail is dissolved (0-1). 0.3,
            chosen by ``benchmarks/calibrate.py`` with the freeze thresholds.
            Also where the ``detail`` score reaches 0.
        featureless: detail below this level is a featureless picture (RMS
            Weber contrast; real generated clips measure 0.03-0.2 at 160 px,
            a blurred field < 0.01). 0.008, set by design.
        blur_ratio: accumulated sharpness (finest-scale share of the detail,
            followed across cuts) below this fraction of the opening's is
            blurred (0-1). 0.8, the procedure's point
            (``benchmarks/drift_families.py``: balanced accuracy on the real
            dev clips, plateau middle; 0.8 in-sample and in 4 of 5 LOSO
            folds); real healthy dev clips keep >= 0.89, derived healthy
            controls >= 0.83 (docs/metrics.md, Detail).
        full_retention: end / opening detail at and above which ``detail``
            scores 100 (0-1), linear down to 0 at ``dissolve_ratio``. 0.7,
            set by design.
        tail: the low-detail run must last ``max(1 s, 20 %)``.
        cap: composite cap, 30 points.
    """

    dissolve_ratio: float = _num(0.3, 0.0, 1.0, "fraction of the opening detail")
    featureless: float = _num(0.008, 0.0, 1.0, "RMS Weber contrast")
    blur_ratio: float = _num(0.8, 0.0, 1.0, "fraction of the opening sharpness")
    full_retention: float = _num(0.7, 0.0, 1.0, "end / opening detail")
    tail: TailRule = field(default_factory=TailRule)
    cap: float = _cap(30.0)


@dataclass(frozen=True)
class LoopParams:
    """Flag ``loop`` (dimension ``repetition``): four detectors
    (:mod:`vqeval.metrics.repetition`, :mod:`vqeval.metrics.replay`,
    :mod:`vqeval.metrics.scenes`).

    The first ten were chosen together by ``benchmarks/calibrate_loops.py``
    (balanced accuracy of the ``loop`` flag over the real sets and the derived
    clips, plateau middle, leave-one-source-out: ``benchmarks/results/
    loops.md``); ``vqeval calibrate`` re-chooses them.

    Attributes:
        min_away: return after departure: fraction (0-1) of the frames
            between a pair that must be away from the first. 0.15.
        strength: return after departure: loop / ping-pong strength (0-1) at
            or above which a loop is reported. 0.85.
        tight_ratio: replays: a match is beyond noise below this fraction
            (0-1) of the larger local neighbour distance. 0.5 (the grid stops
            at 0.7, decided before choosing).
        min_run_s: replays: shortest run of tight matches, s. 1.
        neighbour_step_s: replays: step over which the neighbour distance
            is taken, s (at least one analysis frame). 0.25.
        match_distance: replays: a tight match must also be closer than this
            many of the backbone's change distances (x; 40 is no limit at the
            pixel backbone's 0.05). 2.
        jump_factor: jumps back: a step is a jump at this many times the
            local neighbour distance (ratio). 5.
        back_ratio: jumps back: a jump lands back when closer than this
            fraction (0-1) of the jump to earlier content. 0.35.
        min_jumps: jumps back: evenly spaced jumps that make a loop (count). 4.
        return_ratio: scene returns: a shot returns when its distance to an
            earlier shot is at most this fraction (0-1) of its distance to the
            shot just before. 0.5.
        turn_strength: anti-diagonal strength (0-1) at which a ping-pong
            turning point counts. 0.8, set by design.
        return_threshold: return completeness (0-1) at which a pair of frames
            counts as a return. 0.5, set by design.
        min_period_s: shortest loop / replay period, s (below it frames are
            neighbours). 0.3, set by design.
        min_returns: scene returns that raise the flag (A B A B = 2). Set by
            design.
        min_shot_s: shorter shots are left out of the scene-return
            comparison (flashes, fast motion), s. 0.5, set by design.
        score_floor: loop strength (0-1) at or below which ``repetition``
            scores 100 (linear to 0 at strength 1). 0.5, set by design.
        cap: composite cap, 40 points.
    """

    min_away: float = _num(0.15, 0.0, 1.0, "fraction of the period")
    strength: float = _num(0.85, 0.0, 1.0, "strength 0-1")
    tight_ratio: float = _num(0.5, 0.0, 1.0, "fraction of the neighbour distance", open_lo=True)
    min_run_s: float = _num(1.0, 0.0, 86400.0, "s")
    neighbour_step_s: float = _num(0.25, 0.0, 3600.0, "s")
    match_distance: float = _num(2.0, 0.0, 1e6, "x the change distance", open_lo=True)
    jump_factor: float = _num(5.0, 0.0, 1e6, "x the neighbour distance")
    back_ratio: float = _num(0.35, 0.0, 1.0, "fraction of the jump")
    min_jumps: int = _int(4, 1, 10_000, "jumps")
    return_ratio: float = _num(
        0.5, 0.0, 1.0, "fraction of the distance to the shot before", open_lo=True
    )
    turn_strength: float = _num(0.8, 0.0, 1.0, "strength 0-1")
    return_threshold: float = _num(0.5, 0.0, 1.0, "return completeness 0-1")
    min_period_s: float = _num(0.3, 0.0, 86400.0, "s")
    min_returns: int = _int(2, 1, 10_000, "returns")
    min_shot_s: float = _num(0.5, 0.0, 86400.0, "s")
    score_floor: float = _num(0.5, 0.0, 0.99, "strength 0-1")
    cap: float = _cap(40.0)


@dataclass(frozen=True)
class DriftParams:
    """Flag ``drift`` and its score (:mod:`vqeval.metrics.drift`).

    Growth of each component against the clip's opening, followed across
    cuts; the drift level is the largest growth / threshold. Chosen by
    ``benchmarks/drift_families.py`` (the written procedure over 324,000
    grid points, balanced accuracy of the verdict, plateau middle, LOSO:
    ``benchmarks/results/drift.md``; a sharp optimum, a fit rather than a
    margin) unless said otherwise.

    Attributes:
        saturation: growth of white-balanced saturation,
            ``ln((S + 0.1) / (S0 + 0.1))`` (0.3 = x1.35).
        contrast: growth of log-luma contrast, log ratio (0.9 = x2.5).
        clipping: growth of the clipped fraction of the picture (0-1). 0.05.
        cast: palette shift along green-magenta, CIELAB ΔE along a*. 11.
        still_motion: %diag/s; a run whose median flow is above it is
            moving and needs ``moving_factor`` x the thresholds. 6.
        moving_factor: threshold factor for a moving run (>= 1). 4.
        replaced: layout correlation ``replaced_lag_s`` apart (-1..1) below
            which the picture counts as replaced (the colour change in
            between is not accumulated). 0.4.
        replaced_lag_s: the lag of that correlation, s. 1 (grid 1, 2, 4 s;
            the procedure kept 1).
        smooth_s: running-median window within shots, s. 2, set by design.
        onset: the flag starts where the level last sat at or below this
            (drift level, 1 = threshold). 0.25, set by design.
        full: persistent drift level at or below which ``drift`` scores 100
            (1 = the threshold scores 50, 1.5 and above 0). 0.5, set by
            design.
        tail: the drifted run lasts from its start to the end, at least
            ``max(2 s, 10 % of the duration)`` (the fraction chosen by the
            procedure, the 2 s by design).
        cap: composite cap, 50 points.
    """

    saturation: float = _num(0.3, 0.0, 100.0, "log ratio", open_lo=True)
    contrast: float = _num(0.9, 0.0, 100.0, "log ratio", open_lo=True)
    clipping: float = _num(0.05, 0.0, 1.0, "fraction of the picture", open_lo=True)
    cast: float = _num(11.0, 0.0, 1000.0, "CIELAB ΔE", open_lo=True)
    still_motion: float = _num(6.0, 0.0, 1e6, "%diag/s")
    moving_factor: float = _num(4.0, 1.0, 1e6, "x the thresholds")
    replaced: float = _num(0.4, -1.0, 1.0, "layout correlation -1..1")
    replaced_lag_s: float = _num(1.0, 0.0, 3600.0, "s", open_lo=True)
    smooth_s: float = _num(2.0, 0.0, 3600.0, "s")
    onset: float = _num(0.25, 0.0, 1.0, "drift level")
    full: float = _num(0.5, 0.0, 1.5, "drift level")
    tail: TailRule = field(default_factory=lambda: TailRule(2.0, 0.1))
    cap: float = _cap(50.0)

    def thresholds(self) -> Any:
        """These values as :class:`vqeval.metrics.drift.DriftThresholds`."""
        from vqeval.metrics.drift import DriftThresholds

        return DriftThresholds(
            saturation=self.saturation,
            contrast=self.contrast,
            clipping=self.clipping,
            cast=self.cast,
            still_motion=self.still_motion,
            moving_factor=self.moving_factor,
            min_s=self.tail.min_s,
            min_fraction=self.tail.fraction,
            smooth_s=self.smooth_s,
            replaced=self.replaced,
            replaced_lag_s=self.replaced_lag_s,
            onset=self.onset,
        )


@dataclass(frozen=True)
class DecayParams:
    """Flag ``motion_decay`` and its score (:mod:`vqeval.dimensions.motion`).

    Attributes:
        established_motion: early median flow (%diag/s) above which motion
            counts as established (a clip that barely moved is a freeze, not
            a decay). 0.3 = half the still-pair flow level 0.6 %diag/s (which
            sits between the DIS noise floor on frozen video, 0.1-0.4, and the
            slowest healthy motion measured, 0.8-1.5); set by design.
        full_ratio: late / early motion ratio at and above which the score is
            100 (natural videos often halve their motion), linear to 0. 0.5,
            set by design.
        tail: the content-still tail (from ``freeze``) after established
            motion must last ``max(1 s, 20 %)``.
        cap: composite cap, 50 points.
    """

    established_motion: float = _num(0.3, 0.0, 1e6, "%diag/s")
    full_ratio: float = _num(0.5, 0.0, 100.0, "late / early motion", open_lo=True)
    tail: TailRule = field(default_factory=TailRule)
    cap: float = _cap(50.0)


@dataclass(frozen=True)
class FlickerParams:
    """Flag ``flicker`` (dimension ``temporal_flickering``;
    :func:`vqeval.metrics.consistency.flicker_from_shifts`).

    Attributes:
        levels: alternation of the median brightness shift (grey levels
            0-255) above which a frame triplet flickers. 2: about 1 % of full
            scale, above codec noise (< 0.5) and near the visibility of 5-15 Hz
            luminance modulation; set by design.
        fraction: fraction of flickering triplets (0-1) that raises the flag.
            0.2, set by design.
        cap: composite cap, 60 points.
    """

    levels: float = _num(2.0, 0.0, 255.0, "grey levels")
    fraction: float = _num(0.2, 0.0, 1.0, "fraction of frame triplets")
    cap: float = _cap(60.0)


@dataclass(frozen=True)
class MotionLevelParams:
    """Score of ``motion_level`` (weight 0: reported, not in the composite).

    Attributes:
        full: mean flow (%diag/s) at and above which ``motion_level`` scores
            100. 5, set by design.
    """

    full: float = _num(5.0, 0.0, 1e6, "%diag/s", open_lo=True)


@dataclass(frozen=True)
class SlowMotionParams:
    """Pair flag ``slow_motion`` of ``vqeval compare`` (:mod:`vqeval.metrics.
    tempo`). Each threshold by ``benchmarks/tempo_evidence.py`` (the written
    procedure, one after the other; ``benchmarks/results/tempo.md``).

    Attributes:
        min_confidence: tempo confidence (0-1) below which the tempo is not
            trusted. 0.0058 (plateau 0.0055-0.0065).
        slow_tempo: a known tempo (baseline s per method s) at or below which
            the method is slow. 0.79 (plateau 0.67-0.91).
        slow_ratio: without a tempo, method / baseline motion ratio at or
            below which it is slow. 0.54 (plateau 0.42-0.67).
        min_baseline_motion: the ratio only judges when the baseline moves
            at least this much, %diag/s. 0.2, a fixed guard, not calibrated.
    """

    min_confidence: float = _num(0.0058, 0.0, 1.0, "confidence 0-1")
    slow_tempo: float = _num(0.79, 0.0, 1.0, "tempo")
    slow_ratio: float = _num(0.54, 0.0, 1.0, "motion ratio")
    min_baseline_motion: float = _num(0.2, 0.0, 1e6, "%diag/s")


@dataclass(frozen=True)
class CompositeParams:
    """Verdict words of the composite (:mod:`vqeval.scoring`).

    Attributes:
        good: composite (0-100) from which a clip without flags reads
            ``good``: the pass threshold. 70, set by design; ``vqeval
            calibrate`` re-chooses it.
        fair: composite from which it reads ``fair`` (below: ``poor``). 50.
        other_cap: composite cap of a flag no section declares. 50.
    """

    good: float = _num(70.0, 0.0, 100.0, "composite points 0-100")
    fair: float = _num(50.0, 0.0, 100.0, "composite points 0-100")
    other_cap: float = _cap(50.0)


#: Failure flag -> the section of :class:`Params` that governs it, in the
#: order flags are reported.
FLAG_SECTIONS: dict[str, str] = {
    "frozen": "freeze",
    "collapse": "collapse",
    "loop": "loop",
    "motion_decay": "motion_decay",
    "drift": "drift",
    "flicker": "flicker",
}


@dataclass(frozen=True)
class Params:
    """The whole tree (see the module doc); ``Params()`` is the defaults.

    Attributes:
        freeze, collapse, loop, drift, motion_decay, flicker, motion_level,
        slow_motion, composite: the sections.
    """

    freeze: FreezeParams = field(default_factory=FreezeParams)
    collapse: CollapseParams = field(default_factory=CollapseParams)
    loop: LoopParams = field(default_factory=LoopParams)
    drift: DriftParams = field(default_factory=DriftParams)
    motion_decay: DecayParams = field(default_factory=DecayParams)
    flicker: FlickerParams = field(default_factory=FlickerParams)
    motion_level: MotionLevelParams = field(default_factory=MotionLevelParams)
    slow_motion: SlowMotionParams = field(default_factory=SlowMotionParams)
    composite: CompositeParams = field(default_factory=CompositeParams)

    def __post_init__(self) -> None:
        if self.composite.fair > self.composite.good:
            raise ConfigError(
                f"params: composite.fair: must not exceed composite.good "
                f"({self.composite.good:g}), got {self.composite.fair:g}"
            )

    # ------------------------------------------------------------- policy

    def cap(self, flag: str) -> float:
        """Composite cap (0-100) of ``flag``."""
        sec = FLAG_SECTIONS.get(flag)
        return float(getattr(self, sec).cap) if sec else float(self.composite.other_cap)

    def caps(self) -> dict[str, float]:
        """Flag -> composite cap, for every flag a section declares."""
        return {f: self.cap(f) for f in FLAG_SECTIONS}

    # ----------------------------------------------------- (de)serialising

    def to_dict(self) -> dict[str, Any]:
        """Nested plain dict (TOML / JSON ready)."""
        return dataclasses.asdict(self)

    def digest(self) -> str:
        """Short stable hex digest (16) of every value."""
        blob = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def is_default(self) -> bool:
        """Whether every value is the library default."""
        return self == Params()

    def replace(self, values: Mapping[str, Any]) -> Params:
        """A copy with dotted keys set (``{"freeze.change_floor": 0.02}``),
        validated like a file."""
        tree = self.to_dict()
        for key, v in values.items():
            node = tree
            parts = key.split(".")
            for p in parts[:-1]:
                if not isinstance(node.get(p), dict):
                    raise ConfigError(f"params: {key}: unknown key")
                node = node[p]
            if parts[-1] not in node or isinstance(node[parts[-1]], dict):
                raise ConfigError(f"params: {key}: unknown key")
            node[parts[-1]] = v
        return Params.from_dict(tree)

    def get(self, key: str) -> Any:
        """The value at a dotted key (``"loop.strength"``)."""
        node: Any = self
        for p in key.split("."):
            node = getattr(node, p)
        return node

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "") -> Params:
        """Validate a nested mapping (any subset of the keys).

        Raises:
            ConfigError: one line naming the key (``params: drift.cap: ...``),
                with `` (in SOURCE)`` appended when ``source`` is given.
        """
        try:
            return _build(cls(), data, "")
        except ConfigError as e:
            if source:
                raise ConfigError(f"{e} (in {source})") from None
            raise

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Params:
        """Read a params TOML file (see the module doc).

        Raises:
            ConfigError: unreadable or malformed file, or invalid values (one line).
        """
        p = os.fspath(path)
        return cls.from_dict(_read_toml(p), source=p)

    def to_toml(self, header: str = "", *, only_changed: bool = False) -> str:
        """TOML text that :meth:`from_toml` reads back to an equal tree.

        Args:
            header: comment lines written first (each prefixed with ``# ``).
            only_changed: write only the values that differ from the defaults.
        """
        lines = [f"# {h}".rstrip() for h in header.splitlines()] if header else []
        default = Params().to_dict()
        for sec in dataclasses.fields(self):
            body = _toml_table(getattr(self, sec.name), default[sec.name], only_changed)
            for sub, rows in body:
                if not rows:
                    continue
                if lines:
                    lines.append("")
                lines.append(f"[{sec.name}{'.' + sub if sub else ''}]")
                lines += rows
        return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    return repr(float(v))


def _toml_table(
    obj: Any, default: dict[str, Any], only_changed: bool
) -> list[tuple[str, list[str]]]:
    """``[(sub-table name or "", ["key = value  # unit", ...]), ...]``."""
    rows: list[str] = []
    subs: list[tuple[str, list[str]]] = []
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v):
            for name, r in _toml_table(v, default[f.name], only_changed):
                subs.append((f"{f.name}{'.' + name if name else ''}", r))
            continue
        if only_changed and v == default[f.name]:
            continue
        unit = f.metadata.get("unit", "")
        rows.append(f"{f.name} = {_toml_value(v)}" + (f"  # {unit}" if unit else ""))
    return [("", rows), *subs]


def _fmt(x: float) -> str:
    return f"{x:g}"


def _describe(f: dataclasses.Field[Any]) -> str:
    lo, hi = f.metadata["range"]
    if f.metadata.get("int"):
        return f"an integer in [{lo}, {hi}]"
    left = "(" if f.metadata.get("open_lo") else "["
    return f"a number in {left}{_fmt(lo)}, {_fmt(hi)}]"


def _shown(v: Any) -> str:
    if isinstance(v, str):
        return json.dumps(v[:60])
    if isinstance(v, Mapping):
        return "a table"
    if isinstance(v, (list, tuple)):
        return "an array"
    return repr(v)[:60]


def _check(f: dataclasses.Field[Any], v: Any, key: str) -> Any:
    lo, hi = f.metadata["range"]
    bad = ConfigError(f"params: {key}: expected {_describe(f)}, got {_shown(v)}")
    if isinstance(v, bool):
        raise bad
    if f.metadata.get("int"):
        if not isinstance(v, int) or not lo <= v <= hi:
            raise bad
        return int(v)
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        raise bad
    x = float(v)
    if not (lo < x if f.metadata.get("open_lo") else lo <= x) or x > hi:
        raise bad
    return x


def _build(base: Any, data: Any, prefix: str) -> Any:
    """``base`` (a section, or the whole tree) with the values of ``data`` set,
    each checked; keys not given keep ``base``'s values."""
    where = prefix.rstrip(".") or "params"
    if not isinstance(data, Mapping):
        raise ConfigError(f"params: {where}: expected a table, got {_shown(data)}")
    fs = {f.name: f for f in dataclasses.fields(base)}
    kwargs: dict[str, Any] = {}
    for k, v in data.items():
        key = f"{prefix}{k}"
        if not isinstance(k, str) or k not in fs:
            what = "section" if not prefix else "key"
            raise ConfigError(f"params: {key}: unknown {what}; known: {', '.join(fs)}")
        current = getattr(base, k)
        if dataclasses.is_dataclass(current):
            kwargs[k] = _build(current, v, f"{key}.")
        else:
            kwargs[k] = _check(fs[k], v, key)
    return dataclasses.replace(base, **kwargs)


def _read_toml(path: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    from vqeval.inputfile import InputFileError, read_input_file

    try:  # a regular file of bounded size: never /dev/zero read without end
        raw = read_input_file(path, max_bytes=MAX_PARAMS_FILE_BYTES)
    except InputFileError as e:
        raise ConfigError(f"params: {path}: cannot read ({e})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"params: {path}: not UTF-8 text ({e.reason})") from None
    for n, line in enumerate(text.splitlines(), 1):
        if line.count(".") > MAX_DOTS_PER_LINE:
            raise ConfigError(
                f"params: {path}: line {n}: more than {MAX_DOTS_PER_LINE} dots "
                "(a params file needs keys of 2 or 3 parts)"
            )
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"params: {path}: malformed TOML ({e})") from None
    except RecursionError:
        raise ConfigError(f"params: {path}: malformed TOML (nested too deeply)") from None


def load_params(source: Params | Mapping[str, Any] | str | os.PathLike[str] | None) -> Params:
    """A :class:`Params` from a tree, a nested mapping or a TOML file path
    (``None`` = the defaults).

    Raises:
        ConfigError: one line naming the key or the file.
    """
    if source is None:
        return Params()
    if isinstance(source, Params):
        return source
    if isinstance(source, Mapping):
        return Params.from_dict(source)
    if isinstance(source, (str, os.PathLike)):
        return Params.from_toml(source)
    raise ConfigError(
        "params: expected a vqeval.params.Params, a mapping or a TOML file path, "
        f"got {type(source).__name__}"
    )


def project_params(cwd: str | os.PathLike[str] | None = None) -> tuple[Params, str] | None:
    """The ``[tool.vqeval]`` table of ``pyproject.toml`` in ``cwd`` (default:
    the current working directory; parent folders are not searched), as
    ``(params, "pyproject.toml path")``; ``None`` when there is no such file
    or it has no ``[tool.vqeval]`` table.

    A ``pyproject.toml`` that never mentions ``tool.vqeval`` is not parsed,
    so a project file broken elsewhere does not stop ``vqeval``.

    Raises:
        ConfigError: a malformed file or invalid values (one line).
    """
    try:
        path = Path(cwd if cwd is not None else os.getcwd()) / "pyproject.toml"
        if not path.is_file() or b"tool.vqeval" not in path.read_bytes():
            return None
    except OSError:  # no working directory, unreadable file: no project table
        return None
    data = _read_toml(str(path))
    tool = data.get("tool")
    table = tool.get("vqeval") if isinstance(tool, Mapping) else None
    if table is None:
        return None
    try:
        return Params.from_dict(table), str(path)
    except ConfigError as e:
        msg = str(e).replace("params: ", "params: tool.vqeval.", 1)
        raise ConfigError(f"{msg} (in {path})") from None
