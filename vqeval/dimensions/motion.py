"""Motion dimensions: ``freeze``, ``motion_decay`` and ``motion_level``.

All three read the shared optical-flow series ``analysis.flow`` (one flow
field per consecutive analysis-frame pair, computed once per video with the
backend ``config.flow``) and add the per-frame motion curve to
``analysis.series["motion"]`` (%diag/s, see :mod:`metrics.motion`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from metrics import motion as mm
from vqeval.dimensions import Dimension, register
from vqeval.results import ConfigError, DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis

#: Local weight file stems looked for when ``config.flow == "raft"``.
RAFT_STEMS = ("raft_large", "raft_small")
_raft_cache: dict[str, Any] = {}

#: Motion level (mean flow, %diag/s) at which ``motion_level`` scores 100.
MOTION_LEVEL_FULL = 5.0


def _raft_weights(weights_dir: str | None) -> Path:
    from metrics.features import find_weights, weights_root

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


def _padded_flow(frames: np.ndarray, model: Any) -> np.ndarray:
    """RAFT needs sides divisible by 8: pad by edge replication, crop back."""
    h, w = frames.shape[1:3]
    ph, pw = (-h) % 8, (-w) % 8
    f = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge") if ph or pw else frames
    return mm.torch_flow_fields(f, model)[:, :h, :w]


def _frame_times(analysis: Analysis) -> np.ndarray | None:
    t = getattr(analysis.clip, "times_s", None)
    if t is None:
        return None
    t = np.asarray(t, dtype=np.float64)
    if t.shape != (len(analysis.frames),) or (len(t) > 1 and np.any(np.diff(t) <= 0)):
        return None  # irregular stamps: fall back to the analysis fps
    return t


def flow_series(analysis: Analysis) -> mm.FlowSeries:
    """The flow series of ``analysis`` with backend ``config.flow``.

    Used by ``Analysis.flow`` (cached there); call that instead.

    Raises:
        ConfigError: unknown flow backend, or ``"raft"`` without its weights.
    """
    method = analysis.config.flow
    times = _frame_times(analysis)
    if method == "raft":
        model = load_raft(analysis.config.weights_dir)
        fields = _padded_flow(analysis.frames, model)
        return mm.flow_series_from_fields(
            fields, analysis.gray, analysis.fps, method="raft", times_s=times
        )
    if method not in mm.FLOW_METHODS:
        raise ConfigError(
            f"unknown flow backend {method!r}; known: {', '.join((*mm.FLOW_METHODS, 'raft'))}"
        )
    return mm.compute_flow(analysis.gray, analysis.fps, method=method, times_s=times)


def _flow(analysis: Analysis) -> mm.FlowSeries:
    fs = getattr(analysis, "flow", None)
    if fs is None:  # Analysis without the shared property (older context)
        fs = analysis.memo.get("flow")
        if fs is None:
            fs = analysis.memo["flow"] = flow_series(analysis)
    return fs


def _add_series(analysis: Analysis, fs: mm.FlowSeries) -> None:
    if "motion" not in analysis.series:
        analysis.series["motion"] = [round(float(v), 3) for v in mm.motion_curve(fs)]
        analysis.series.setdefault("times_s", [round(float(t), 3) for t in fs.times_s])


def _freeze(analysis: Analysis) -> mm.FreezeStats:
    st = analysis.memo.get("freeze_stats")
    if st is None:
        st = analysis.memo["freeze_stats"] = mm.freeze_stats(_flow(analysis))
    return st


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def _level(fs: mm.FlowSeries) -> dict[str, Any]:
    return {
        "motion_mean_pct_diag_s": _r(float(fs.mean_mag.mean()) if len(fs.mean_mag) else 0.0),
        "motion_top5_pct_diag_s": _r(float(fs.top_mag.mean()) if len(fs.top_mag) else 0.0),
    }


def compute_freeze(analysis: Analysis) -> DimensionScore:
    """``freeze``: 100 = no frozen time; 0 = frozen throughout."""
    fs = _flow(analysis)
    _add_series(analysis, fs)
    if len(fs.dt_s) == 0:
        return DimensionScore("freeze", None, {"reason": "fewer than 2 frames"}, fs.method)
    st = _freeze(analysis)
    raw = {
        "freeze_ratio": _r(st.freeze_ratio),
        "near_duplicate_ratio": _r(st.near_duplicate_ratio),
        "frozen_tail_start_s": _r(st.frozen_tail_start_s, 3),
        "frozen_tail_s": _r(st.frozen_tail_s, 3),
        "static_opening_s": _r(st.static_opening_s, 3),
        "duration_s": _r(st.duration_s, 3),
        **_level(fs),
        "flags": ["frozen"] if st.frozen else [],
    }
    return DimensionScore("freeze", round(100.0 * (1.0 - st.freeze_ratio), 2), raw, fs.method)


def compute_motion_decay(analysis: Analysis) -> DimensionScore:
    """``motion_decay``: 100 = motion sustained to the end."""
    fs = _flow(analysis)
    _add_series(analysis, fs)
    if len(fs.dt_s) == 0:
        return DimensionScore("motion_decay", None, {"reason": "fewer than 2 frames"}, fs.method)
    st = _freeze(analysis)
    d = mm.motion_decay(fs, st.still)
    if d.decay_ratio is None or d.early_motion <= mm.ESTABLISHED_MOTION:
        score = 100.0  # never really moved: a freeze, reported by `freeze`
    else:
        score = 100.0 * min(1.0, d.decay_ratio / DECAY_FULL_RATIO)
        if (
            d.motion_death_s is not None
            and d.early_motion > mm.ESTABLISHED_MOTION
            and st.duration_s > 0
        ):
            dead = max(0.0, st.duration_s - d.motion_death_s) / st.duration_s
            score = min(score, 100.0 * (1.0 - dead))
    raw = {
        "decay_ratio": _r(d.decay_ratio),
        "slope": _r(d.slope),
        "motion_death_s": _r(d.motion_death_s, 3),
        "early_motion_pct_diag_s": _r(d.early_motion),
        "late_motion_pct_diag_s": _r(d.late_motion),
        **_level(fs),
        "flags": ["motion_decay"] if d.decayed else [],
    }
    return DimensionScore("motion_decay", round(score, 2), raw, fs.method)


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
        name="freeze",
        title="Freeze",
        description=(
            "Share of the video whose frames stop changing (optical flow of the fastest 5% of "
            "the picture below 0.6% of the frame diagonal per second, or near-duplicate "
            "frames). Raw freeze_ratio 0-1 excludes a still opening followed by motion. "
            "100 = never frozen, 0 = frozen throughout. Flag 'frozen': frozen tail of at least "
            "max(1 s, 20% of the duration) or more than half the time frozen."
        ),
        weight=3.0,
        default=True,
        compute=compute_freeze,
        family="motion",
    )
)
register(
    Dimension(
        name="motion_decay",
        title="Motion decay",
        description=(
            "Whether motion lasts to the end: late/early ratio of the median flow magnitude "
            "(thirds of the moving part), slope, and the time where motion dies. 100 = late "
            "motion keeps at least half the early motion and never dies. Flag 'motion_decay': "
            "motion dies for max(1 s, 20%) at the end or drops below a quarter."
        ),
        weight=2.0,
        default=True,
        compute=compute_motion_decay,
        family="motion",
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
    )
)
