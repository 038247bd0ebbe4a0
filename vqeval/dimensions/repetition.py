"""Repetition family: ``repetition`` (loops, ping-pong, revisits) and
``progression`` (how much new content appears).

Both read ``analysis.trajectory`` (the configured backbone's frame
embeddings, ``pixel`` by default; long clips pooled to at most
``SSM_MAX_FRAMES`` rows) and share ``analysis.ssm``; ``repetition`` adds the downsampled
self-similarity matrix to ``analysis.series["ssm"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vqeval.dimensions import Dimension, register
from vqeval.metrics.progression import measure_progression
from vqeval.metrics.repetition import (
    RepetitionResult,
    detect_repetition,
    downsample_matrix,
    scale_frames,
)
from vqeval.results import DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis
    from vqeval.config import ScoreConfig


def compute_repetition(analysis: Analysis) -> DimensionScore:
    """``repetition`` dimension: 100 = nothing repeats, 0 = a perfect loop.

    raw: ``loop_detected`` (bool), ``loop_period_frames`` (analysis frames),
    ``loop_period_s`` (s), ``loop_strength`` (0-1), ``pingpong`` (bool),
    ``pingpong_strength`` (0-1), ``revisit_ratio`` (0-1), ``mean_similarity``
    (-1..1), ``repeat_ranges`` (list of dicts, frames and seconds),
    ``flags`` (``["loop"]`` when a loop is detected).
    """
    bb = analysis.backbone
    tr = analysis.trajectory
    r = detect_repetition(
        tr.embeddings,
        tr.fps,
        change_distance=bb.change_distance,
        ssm=analysis.ssm,
        times_s=tr.times_s,
    )
    if tr.group > 1:  # rows of a pooled trajectory -> analysis frames
        r = scale_frames(r, tr.group)
    analysis.series["ssm"] = downsample_matrix(analysis.ssm, 64, 3)
    raw = {
        "loop_detected": r.loop_detected,
        "loop_period_frames": r.loop_period_frames,
        "loop_period_s": r.loop_period_s,
        "loop_strength": r.loop_strength,
        "pingpong": r.pingpong,
        "pingpong_strength": r.pingpong_strength,
        "revisit_ratio": r.revisit_ratio,
        "mean_similarity": r.mean_similarity,
        "repeat_ranges": [x.to_dict() for x in r.repeat_ranges],
        "flags": ["loop"] if r.loop_detected else [],
        "flag_details": [loop_detail(r)] if r.loop_detected else [],
    }
    return DimensionScore("repetition", r.score, raw, bb.name)


def loop_detail(r: RepetitionResult) -> dict[str, object]:
    """The ``loop`` flag's explanation: where the repeat starts and what it repeats."""
    first = r.repeat_ranges[0] if r.repeat_ranges else None
    if r.pingpong and r.pingpong_strength >= r.loop_strength:
        why = f"plays forward and backward (ping-pong, return {100 * r.pingpong_strength:.0f} %)"
    elif first is not None and r.loop_period_s is not None:
        why = (
            f"repeats {first.source_start_s:.1f} s onwards every {r.loop_period_s:.2f} s "
            f"(return {100 * r.loop_strength:.0f} %)"
        )
    else:
        why = f"content returns to earlier content (return {100 * r.loop_strength:.0f} %)"
    start = None if first is None or r.pingpong else round(first.start_s, 3)
    return {"flag": "loop", "start_s": start, "reason": why}


def compute_progression(analysis: Analysis) -> DimensionScore:
    """``progression`` dimension: 100 = new content all along, 0 = nothing new.

    raw: ``novel_fraction`` (0-1), ``novelty_median`` (cosine distance),
    ``states`` (count), ``states_per_min`` (1/min), ``path_length`` and
    ``spread`` (cosine distance), ``still_fraction`` (0-1),
    ``longest_still_s`` (s), ``flags`` (always empty: little new content is
    not a failure by itself; whether the content stops changing is the
    ``freeze`` dimension's call).
    """
    bb = analysis.backbone
    tr = analysis.trajectory
    p = measure_progression(
        tr.embeddings,
        tr.fps,
        novelty_distance=bb.novelty_distance,
        change_distance=bb.change_distance,
        ssm=analysis.ssm,
    )
    raw = {
        "novel_fraction": p.novel_fraction,
        "novelty_median": p.novelty_median,
        "states": p.states,
        "states_per_min": p.states_per_min,
        "path_length": p.path_length,
        "spread": p.spread,
        "still_fraction": p.still_fraction,
        "longest_still_s": p.longest_still_s,
        "flags": [],
    }
    return DimensionScore("progression", p.score, raw, bb.name)


def _backbone(config: ScoreConfig) -> str:
    """The feature backbone both dimensions embed frames with (``config.backbone``)."""
    return str(config.backbone)


REPETITION = register(
    Dimension(
        name="repetition",
        title="Repetition",
        description=(
            "Loops, ping-pong and revisits from the frame self-similarity matrix "
            "(return after departure). 0-100, 100 = nothing repeats; raises 'loop'."
        ),
        weight=3.0,  # as much as `freeze`: loops are the other long-video failure
        default=True,
        compute=compute_repetition,
        family="repetition",
        needs=("embeddings",),
        raw_key="loop_strength",
        raw_range=(0.0, 1.0),
        raw_unit="return after departure, 0-1",
        direction="lower",
        flags=("loop",),
        backbone=_backbone,
        short="repet",
    )
)

PROGRESSION = register(
    Dimension(
        name="progression",
        title="Progression",
        description=(
            "Share of the video showing content not seen a second or more before "
            "(novelty of frame embeddings). 0-100, 100 = new content all along. "
            "Raises no flag: slow content is not a failure ('freeze' decides that)."
        ),
        weight=2.0,
        default=True,
        compute=compute_progression,
        family="repetition",
        needs=("embeddings",),
        raw_key="novel_fraction",
        raw_range=(0.0, 1.0),
        raw_unit="fraction of the video showing new content",
        direction="higher",
        backbone=_backbone,
        short="progr",
    )
)
