"""Repetition family: ``repetition`` (loops, ping-pong, revisits) and
``progression`` (how much new content appears).

Both read ``analysis.trajectory`` (the configured backbone's frame
embeddings, ``pixel`` by default; long clips pooled to at most
``SSM_MAX_FRAMES`` rows) and share ``analysis.ssm``; ``repetition`` returns the downsampled
self-similarity matrix as its series ``"ssm"`` (``DimensionScore.series``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from vqeval.dimensions import Dimension, params_of, register
from vqeval.metrics.progression import measure_progression
from vqeval.metrics.repetition import (
    RepetitionResult,
    detect_repetition,
    downsample_matrix,
    scale_frames,
)
from vqeval.metrics.replay import JumpsBack, ReplayResult, detect_replay, jumps_back
from vqeval.metrics.scenes import SceneReturns, scene_returns
from vqeval.params import LoopParams
from vqeval.results import DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis
    from vqeval.config import ScoreConfig
    from vqeval.params import Params


def compute_repetition(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """``repetition`` dimension: 100 = nothing repeats, 0 = a perfect loop.

    Four detectors, each raising ``loop``:

    * return after departure (:func:`metrics.repetition.detect_repetition`):
      loops and ping-pong of moving content;
    * replays (:func:`metrics.replay.detect_replay`): repeats that match
      beyond the frames' own noise, the loops of slow or still content;
    * jumps back (:func:`metrics.replay.jumps_back`): evenly spaced hard
      cuts back to the same content, the seams of a replayed stretch;
    * scene returns (:func:`metrics.scenes.scene_returns`): shots that
      alternate A B A B across cuts.

    raw: ``loop_detected`` (bool), ``loop_period_frames`` (analysis frames),
    ``loop_period_s`` (s), ``loop_strength`` (0-1), ``pingpong`` (bool),
    ``pingpong_strength`` (0-1), ``revisit_ratio`` (0-1), ``mean_similarity``
    (-1..1), ``repeat_ranges`` (list of dicts, frames and seconds),
    ``replay`` (dict: kind, period_s, start_s, run_s, ratio, turns, step_s),
    ``jumps_back`` (dict: count, jumps, period_s, start_s, ratio),
    ``scene_returns`` (dict: shots, returns, start_s, ratio, best_ratio),
    ``flags`` (``["loop"]`` when any detector fires), ``flag_details``.
    """
    p = params_of(analysis, params).loop
    bb = analysis.backbone
    tr = analysis.trajectory
    r = detect_repetition(
        tr.embeddings,
        tr.fps,
        change_distance=bb.change_distance,
        ssm=analysis.ssm,
        times_s=tr.times_s,
        min_away=p.min_away,
        strength_threshold=p.strength,
        turn_strength=p.turn_strength,
        return_threshold=p.return_threshold,
        min_period_s=p.min_period_s,
    )
    if tr.group > 1:  # rows of a pooled trajectory -> analysis frames
        r = scale_frames(r, tr.group)
    dist = np.clip(1.0 - np.asarray(analysis.ssm, dtype=np.float64), 0.0, 2.0)
    rp = detect_replay(
        dist,
        tr.fps,
        times_s=tr.times_s,
        tight_ratio=p.tight_ratio,
        min_run_s=p.min_run_s,
        neighbour_step_s=p.neighbour_step_s,
        max_distance=p.match_distance * bb.change_distance,
        min_period_s=p.min_period_s,
    )
    jb = jumps_back(
        dist,
        tr.fps,
        times_s=tr.times_s,
        jump_factor=p.jump_factor,
        back_ratio=p.back_ratio,
        min_jumps=p.min_jumps,
        min_period_s=p.min_period_s,
    )
    rows = sorted({c // tr.group for c in analysis.cuts})
    sc = scene_returns(
        dist,
        rows,
        tr.times_s,
        change_distance=bb.change_distance,
        return_ratio=p.return_ratio,
        min_returns=p.min_returns,
        min_shot_s=p.min_shot_s,
    )
    detected = r.loop_detected or rp.detected or sc.detected or jb.detected
    period_s = r.loop_period_s
    period_frames = r.loop_period_frames
    if not r.loop_detected and rp.detected and rp.period_frames is not None:
        # the departure detector refines its period to sub-frame precision;
        # a replay seen by it alone has the lag of its copies, a replayed
        # ping-pong a cycle of two turns (forward and back)
        turns = 1 if rp.kind == "loop" else 2
        period_s = None if rp.period_s is None else round(turns * rp.period_s, 4)
        period_frames = round(turns * rp.period_frames * tr.group, 3)
    elif not (r.loop_detected or rp.detected) and jb.detected and jb.period_s is not None:
        period_s = jb.period_s
        period_frames = round(jb.period_s * tr.fps * tr.group, 3)
    strength = max(
        r.loop_strength,
        r.pingpong_strength,
        _replay_strength(rp, p),
        _scene_strength(sc, p),
        p.strength if jb.detected else 0.0,
    )
    score = 100.0 * float(np.clip((1.0 - strength) / (1.0 - p.score_floor), 0.0, 1.0))
    raw = {
        "loop_detected": detected,
        "loop_period_frames": period_frames if detected else None,
        "loop_period_s": period_s if detected else None,
        "loop_strength": r.loop_strength,
        "pingpong": r.pingpong or (rp.detected and rp.kind == "pingpong"),
        "pingpong_strength": r.pingpong_strength,
        "revisit_ratio": r.revisit_ratio,
        "mean_similarity": r.mean_similarity,
        "repeat_ranges": [x.to_dict() for x in r.repeat_ranges],
        "replay": {
            "kind": rp.kind,
            "period_s": rp.period_s,
            "start_s": rp.start_s,
            "run_s": rp.run_s,
            "ratio": rp.ratio,
            "turns": rp.turns,
            "step_s": rp.step_s,
        },
        "jumps_back": {
            "count": jb.count,
            "jumps": jb.jumps,
            "period_s": jb.period_s,
            "start_s": jb.start_s,
            "ratio": jb.ratio,
        },
        "scene_returns": {
            "shots": sc.shots,
            "returns": sc.returns,
            "start_s": sc.start_s,
            "ratio": sc.ratio,
            "best_ratio": sc.best_ratio,
        },
        "flags": ["loop"] if detected else [],
        "flag_details": [loop_detail(r, rp, sc, jb)] if detected else [],
    }
    ssm = downsample_matrix(analysis.ssm, 64, 3)
    return DimensionScore("repetition", round(score, 2), raw, bb.name).with_series(ssm=ssm)


def _replay_strength(rp: ReplayResult, p: LoopParams) -> float:
    """0-1 strength of a replay: the loop threshold at the tight-match limit,
    1 for exact copies; half-way for a ping-pong; 0 without a replay."""
    if not rp.detected:
        return 0.0
    thr = p.strength
    if rp.ratio is None:
        return thr + 0.5 * (1.0 - thr)
    return thr + (1.0 - thr) * float(np.clip(1.0 - rp.ratio / p.tight_ratio, 0.0, 1.0))


def _scene_strength(sc: SceneReturns, p: LoopParams) -> float:
    """0-1 strength of scene returns: the loop threshold at the return-ratio
    limit, 1 when the returning shots touch the shots they return to; 0
    without them."""
    if not sc.detected or sc.ratio is None:
        return 0.0
    thr = p.strength
    return thr + (1.0 - thr) * float(np.clip(1.0 - sc.ratio / p.return_ratio, 0.0, 1.0))


def loop_detail(
    r: RepetitionResult,
    rp: ReplayResult | None = None,
    sc: SceneReturns | None = None,
    jb: JumpsBack | None = None,
) -> dict[str, object]:
    """The ``loop`` flag's explanation: when the repeat starts and what it
    repeats, from the detector that saw it (the earliest when several did)."""
    options: list[tuple[float, str]] = []
    first = r.repeat_ranges[0] if r.repeat_ranges else None
    if r.loop_detected:
        if r.pingpong and r.pingpong_strength >= r.loop_strength:
            why = (
                f"plays forward and backward (ping-pong, return {100 * r.pingpong_strength:.0f} %)"
            )
            start = r.pingpong_start_s
        elif first is not None and r.loop_period_s is not None:
            why = (
                f"repeats {first.source_start_s:.1f} s onwards every {r.loop_period_s:.2f} s "
                f"(return {100 * r.loop_strength:.0f} %)"
            )
            start = first.start_s
        else:
            why = f"content returns to earlier content (return {100 * r.loop_strength:.0f} %)"
            start = r.pingpong_start_s
        options.append((start if start is not None else 0.0, why))
    if rp is not None and rp.detected and rp.start_s is not None:
        if rp.kind == "pingpong":
            why = (
                f"a stretch plays forward and backward ({rp.turns} turns"
                + (f", every {rp.period_s:.2f} s" if rp.period_s else "")
                + f"), repeats closer than the picture changes in {rp.step_s:.2f} s"
            )
        else:
            pct = 100 * (rp.ratio or 0.0)
            why = (
                f"replays the content of {rp.period_s:.2f} s earlier, "
                f"{pct:.0f} % of the picture's change in {rp.step_s:.2f} s"
            )
        options.append((rp.start_s, why))
    if jb is not None and jb.detected and jb.start_s is not None:
        why = (
            f"jumps back to the same content {jb.count} times"
            + (f", every {jb.period_s:.2f} s" if jb.period_s else "")
            + f" (lands {100 * (jb.ratio or 0.0):.0f} % of the jump away from it)"
        )
        options.append((jb.start_s, why))
    if sc is not None and sc.detected and sc.start_s is not None:
        why = (
            f"the scene comes back across cuts ({sc.returns} returns, as in A B A B; "
            f"{100 * (sc.ratio or 0.0):.0f} % of the distance to the shot between)"
        )
        options.append((sc.start_s, why))
    if not options:
        return {"flag": "loop", "start_s": None, "reason": "content returns to earlier content"}
    start, why = min(options, key=lambda o: o[0])
    return {"flag": "loop", "start_s": round(float(start), 3), "reason": why}


def compute_progression(analysis: Analysis, params: Params | None = None) -> DimensionScore:
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
        needs=("embeddings", "cuts"),
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
