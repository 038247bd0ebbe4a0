"""Motion dimensions: ``motion_decay`` and ``motion_level``.

Both read the shared optical-flow series ``analysis.flow`` (one flow field
per consecutive analysis-frame pair, computed once per video with the
backend ``config.flow``) and add the per-frame motion curve to
``analysis.series["motion"]`` (%diag/s, see :mod:`metrics.motion`).
Whether the content stops changing is the ``freeze`` dimension's question
(:mod:`vqeval.dimensions.content`); ``motion_decay`` uses its answer to tell
motion that dies from motion that merely slows.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vqeval.dimensions import Dimension, register
from vqeval.metrics import motion as mm
from vqeval.results import ConfigError, DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis

#: Local weight file stems looked for when ``config.flow == "raft"``.
RAFT_STEMS = ("raft_large", "raft_small")
_raft_cache: dict[str, Any] = {}

#: Motion level (mean flow, %diag/s) at which ``motion_level`` scores 100.
MOTION_LEVEL_FULL = 5.0


def _raft_weights(weights_dir: str | None) -> Path:
    from vqeval.metrics.features import find_weights, weights_root

    found = find_weights(RAFT_STEMS, weights_dir)
    if found is not None:
        return found
    where = weights_root(weights_dir) or Path("$VQEVAL_WEIGHTS")
    raise ConfigError(
        f"flow 'raft' needs local weights: expected {where / 'raft_large.safetensors'} "
        "(or raft_small, .pth) holding torchvision's RAFT state dict, saved on a machine with "
        "network access; or use the weight-free flow 'dis'"
    )


def load_raft(weights_dir: str | None = None) -> Any:
    """torchvision RAFT built from local weights (never downloads).

    Raises:
        ConfigError: weights missing or unreadable, or torchvision not
            importable beside the installed torch.
    """
    path = _raft_weights(weights_dir)
    key = str(path.resolve())
    if key in _raft_cache:
        return _raft_cache[key]
    try:
        from torchvision.models.optical_flow import raft_large, raft_small
    except Exception as e:  # not installed, or built for another torch
        raise ConfigError(
            f"flow 'raft' needs torchvision importable beside torch ({type(e).__name__}: {e}); "
            "install the torchvision build matching your torch, or use the flow 'dis'"
        ) from e
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path))
        else:
            import torch

            sd = torch.load(str(path), map_location="cpu", weights_only=True)
        model = (raft_small if "small" in path.stem else raft_large)(weights=None)
        model.load_state_dict(sd)
    except Exception as e:
        raise ConfigError(f"cannot load RAFT weights {path}: {e}") from e
    model.eval()
    _raft_cache[key] = model
    return model


def validate_flow(config: Any) -> None:
    """Check ``config.flow`` before any decoding (a usage error, not a video's).

    Raises:
        ConfigError: unknown backend, or ``"raft"`` without its weights or
            without an importable torchvision.
    """
    if config.flow == "raft":
        load_raft(config.weights_dir)
    elif config.flow not in mm.FLOW_METHODS:
        raise ConfigError(
            f"unknown flow backend {config.flow!r}; known: {', '.join((*mm.FLOW_METHODS, 'raft'))}"
        )


def _flow(analysis: Analysis) -> mm.FlowSeries:
    return analysis.flow


def _add_series(analysis: Analysis, fs: mm.FlowSeries) -> None:
    if "motion" not in analysis.series:
        analysis.series["motion"] = [round(float(v), 3) for v in mm.motion_curve(fs)]
        analysis.series.setdefault("times_s", [round(float(t), 3) for t in fs.times_s])


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def _level(fs: mm.FlowSeries) -> dict[str, Any]:
    return {
        "motion_mean_pct_diag_s": _r(float(fs.mean_mag.mean()) if len(fs.mean_mag) else 0.0),
        "motion_top5_pct_diag_s": _r(float(fs.top_mag.mean()) if len(fs.top_mag) else 0.0),
    }


def compute_motion_decay(analysis: Analysis) -> DimensionScore:
    """``motion_decay``: 100 = motion sustained to the end.

    The score follows the late/early ratio of the flow magnitude; the flag
    needs motion that was established and then died: the content is still
    (``freeze``'s frozen tail) for at least max(1 s, 20 % of the duration).
    Motion that slows but goes on (a herd walking into the distance) is not
    a decay.
    """
    from vqeval.dimensions.content import freeze_stats

    fs = _flow(analysis)
    _add_series(analysis, fs)
    return motion_decay_score(fs, freeze_stats(analysis), analysis.duration_s)


def motion_decay_score(
    fs: mm.FlowSeries, st: Any, duration_s: float, thresholds: Any = None
) -> DimensionScore:
    """The ``motion_decay`` :class:`DimensionScore` of flow ``fs`` and the
    :class:`metrics.stillness.StillStats` ``st`` of the same clip (its frozen
    tail is where motion died); ``thresholds`` (:class:`metrics.stillness.
    Thresholds`, default its defaults) give the shortest tail that counts."""
    from vqeval.metrics.stillness import Thresholds

    if len(fs.dt_s) == 0:
        return DimensionScore("motion_decay", None, {"reason": "fewer than 2 frames"}, fs.method)
    d = mm.motion_decay(fs, _still_pairs(fs, st))
    established = d.decay_ratio is not None and d.early_motion > mm.ESTABLISHED_MOTION
    th = thresholds or Thresholds()
    need = max(th.tail_min_s, th.tail_fraction * duration_s)
    died = st.frozen_tail_start_s is not None and st.frozen_tail_s >= need
    if not established:
        score = 100.0  # never really moved: a freeze, reported by `freeze`
    else:
        score = 100.0 * min(1.0, (d.decay_ratio or 0.0) / DECAY_FULL_RATIO)
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
                "reason": (
                    f"motion dies: {d.early_motion:.2f} %diag/s early, content still "
                    f"for the last {st.frozen_tail_s:.1f} s"
                ),
            }
        ]
    return DimensionScore("motion_decay", round(score, 2), raw, fs.method)


def _still_pairs(fs: mm.FlowSeries, st: Any) -> np.ndarray:
    """Per flow pair, 1 when it lies in the content-still tail, else 0."""
    s = np.zeros(len(fs.dt_s))
    if st.frozen_tail_start_s is not None:
        s[(fs.pair_times_s - fs.times_s[0]) >= st.frozen_tail_start_s] = 1.0
    return s


def compute_motion_level(analysis: Analysis) -> DimensionScore:
    """``motion_level``: how much moves; 100 = at least MOTION_LEVEL_FULL %diag/s."""
    fs = _flow(analysis)
    _add_series(analysis, fs)
    if len(fs.dt_s) == 0:
        return DimensionScore("motion_level", None, {"reason": "fewer than 2 frames"}, fs.method)
    lv = _level(fs)
    score = 100.0 * min(1.0, (lv["motion_mean_pct_diag_s"] or 0.0) / MOTION_LEVEL_FULL)
    return DimensionScore("motion_level", round(score, 2), lv, fs.method)


#: ``motion_decay`` scores 100 while late motion keeps at least this fraction
#: of the early motion (natural videos often halve their motion), linearly
#: down to 0 at no late motion.
DECAY_FULL_RATIO = 0.5

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
    )
)
register(
    Dimension(
        name="motion_level",
        title="Motion level",
        description=(
            "Mean optical-flow magnitude in % of the frame diagonal per second "
            f"(100 = at least {MOTION_LEVEL_FULL:g} %diag/s). Reported, not in the composite: "
            "more motion is not better by itself."
        ),
        weight=0.0,
        default=True,
        compute=compute_motion_level,
        family="motion",
        needs=("flow",),
    )
)
