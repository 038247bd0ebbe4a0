"""Motion dimensions: ``motion_decay`` and ``motion_level``.

Both read the shared optical-flow series ``analysis.flow`` (one flow field
per consecutive analysis-frame pair, computed once per video with the
backend ``config.flow``) and return the per-frame motion curve as their
series ``"motion"`` (%diag/s, see :mod:`metrics.motion`; ``DimensionScore.series``).
Whether the content stops changing is the ``freeze`` dimension's question
(:mod:`vqeval.dimensions.content`); ``motion_decay`` uses its answer to tell
motion that dies from motion that merely slows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from vqeval.dimensions import Dimension, params_of, register
from vqeval.features import load_raft, validate_flow  # noqa: F401  (re-exported: they live with the flow feature)
from vqeval.metrics import motion as mm
from vqeval.params import DecayParams, MotionLevelParams
from vqeval.results import DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis
    from vqeval.params import Params


def _flow(analysis: Analysis) -> mm.FlowSeries:
    return analysis.flow


def _series(fs: mm.FlowSeries) -> dict[str, Any]:
    return {
        "motion": [round(float(v), 3) for v in mm.motion_curve(fs)],
        "times_s": [round(float(t), 3) for t in fs.times_s],
    }


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def _level(fs: mm.FlowSeries) -> dict[str, Any]:
    return {
        "motion_mean_pct_diag_s": _r(float(fs.mean_mag.mean()) if len(fs.mean_mag) else 0.0),
        "motion_top5_pct_diag_s": _r(float(fs.top_mag.mean()) if len(fs.top_mag) else 0.0),
    }


def compute_motion_decay(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """``motion_decay``: 100 = motion sustained to the end.

    The score follows the late/early ratio of the flow magnitude; the flag
    needs motion that was established and then died: the content is still
    (``freeze``'s frozen tail) for at least ``motion_decay.tail`` (max(1 s,
    20 % of the duration)). Motion that slows but goes on (a herd walking
    into the distance) is not a decay.
    """
    from vqeval.dimensions.content import freeze_stats

    p = params_of(analysis, params)
    fs = _flow(analysis)
    st = freeze_stats(analysis, p.freeze.thresholds())
    score = motion_decay_score(fs, st, analysis.duration_s, p.motion_decay)
    return score.with_series(**_series(fs))


def motion_decay_score(
    fs: mm.FlowSeries, st: Any, duration_s: float, params: DecayParams | None = None
) -> DimensionScore:
    """The ``motion_decay`` :class:`DimensionScore` of flow ``fs`` and the
    :class:`metrics.stillness.StillStats` ``st`` of the same clip (its frozen
    tail is where motion died); ``params`` (the ``motion_decay`` section,
    default its defaults) give the established motion, the score's full
    ratio and the shortest tail that counts."""
    p = params or DecayParams()
    if len(fs.dt_s) == 0:
        return DimensionScore("motion_decay", None, {"reason": "fewer than 2 frames"}, fs.method)
    d = mm.motion_decay(fs, _still_pairs(fs, st))
    established = d.decay_ratio is not None and d.early_motion > p.established_motion
    died = st.frozen_tail_start_s is not None and st.frozen_tail_s >= p.tail.need(duration_s)
    if not established:
        score = 100.0  # never really moved: a freeze, reported by `freeze`
    else:
        score = 100.0 * min(1.0, (d.decay_ratio or 0.0) / p.full_ratio)
        if died and duration_s > 0:
            score = min(score, 100.0 * (1.0 - st.frozen_tail_s / duration_s))
    decayed = established and died and st.frozen_tail_start_s > 0
    raw = {
        "decay_ratio": _r(d.decay_ratio),
        "slope": _r(d.slope),
        "motion_death_s": _r(st.frozen_tail_start_s, 3) if decayed else None,
        "early_motion_pct_diag_s": _r(d.early_motion),
        "late_motion_pct_diag_s": _r(d.late_motion),
        **_level(fs),
        "flags": ["motion_decay"] if decayed else [],
        "flag_details": [],
    }
    if decayed:
        raw["flag_details"] = [
            {
                "flag": "motion_decay",
                "start_s": _r(st.frozen_tail_start_s, 3),
                "reason": _decay_reason(d, st.frozen_tail_s),
            }
        ]
    return DimensionScore("motion_decay", round(score, 2), raw, fs.method)


def _decay_reason(d: mm.DecayStats, tail_s: float) -> str:
    """The ``motion_decay`` explanation, in the words its numbers support: the
    flag is raised by the content-still tail; the flow figures beside it say
    how much pixel motion was left."""
    early, late = d.early_motion, d.late_motion
    flow = f"flow {early:.2f} -> {late:.2f} %diag/s"
    if early > 0:
        flow += f", late {100 * late / early:.0f} % of early"
    return f"content stops changing for the last {tail_s:.1f} s ({flow})"


def _still_pairs(fs: mm.FlowSeries, st: Any) -> np.ndarray:
    """Per flow pair, 1 when it lies in the content-still tail, else 0."""
    s = np.zeros(len(fs.dt_s))
    if st.frozen_tail_start_s is not None:
        s[(fs.pair_times_s - fs.times_s[0]) >= st.frozen_tail_start_s] = 1.0
    return s


def compute_motion_level(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """``motion_level``: how much moves; 100 = at least ``motion_level.full`` %diag/s."""
    full = params_of(analysis, params).motion_level.full
    fs = _flow(analysis)
    if len(fs.dt_s) == 0:
        none = DimensionScore("motion_level", None, {"reason": "fewer than 2 frames"}, fs.method)
        return none.with_series(**_series(fs))
    lv = _level(fs)
    score = 100.0 * min(1.0, (lv["motion_mean_pct_diag_s"] or 0.0) / full)
    return DimensionScore("motion_level", round(score, 2), lv, fs.method).with_series(**_series(fs))


def _flow_backbone(config: Any) -> str:
    """The optical-flow backend the motion dimensions run on (``config.flow``)."""
    return str(config.flow)


register(
    Dimension(
        name="motion_decay",
        title="Motion decay",
        description=(
            "Whether motion lasts to the end: late/early ratio of the median flow magnitude "
            "(thirds of the moving part), slope, and the time where motion dies. 100 = late "
            "motion keeps at least half the early motion and never dies. Flag 'motion_decay': "
            "established motion, then the content is still for max(1 s, 20%) at the end."
        ),
        weight=2.0,
        default=True,
        compute=compute_motion_decay,
        family="motion",
        needs=("flow", "content"),
        raw_key="decay_ratio",
        raw_range=(0.0, None),
        raw_unit="late / early motion ratio",
        direction="higher",
        flags=("motion_decay",),
        backbone=_flow_backbone,
        short="decay",
    )
)
register(
    Dimension(
        name="motion_level",
        title="Motion level",
        description=(
            "Mean optical-flow magnitude in % of the frame diagonal per second "
            f"(100 = at least {MotionLevelParams().full:g} %diag/s). Reported, not in the "
            "composite: "
            "more motion is not better by itself."
        ),
        weight=0.0,
        default=True,
        compute=compute_motion_level,
        family="motion",
        needs=("flow",),
        raw_key="motion_mean_pct_diag_s",
        raw_range=(0.0, None),
        raw_unit="%diag/s",
        direction="neither",
        backbone=_flow_backbone,
        short="motion",
    )
)
