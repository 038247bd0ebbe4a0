"""VBench-style dimensions with VBench's published formulas.

``subject_consistency``, ``background_consistency``, ``temporal_flickering``,
``motion_smoothness``, ``dynamic_degree``, ``imaging_quality`` and
``aesthetic_quality``; scores are VBench's 0-1 values x 100. They run by
default with light weights: VBench rewards freezes and loops (a frozen video
scores ~100 on consistency, flickering and smoothness), so the composite
leans on ``freeze``, ``motion_decay`` and ``repetition`` instead.

Learned models (owned by :mod:`vqeval.weights`) are used when they are there
without the network, a local file (``config.weights_dir`` or
``$VQEVAL_WEIGHTS``) or the library cache: DINO ViT-B/16 for subject
consistency, CLIP ViT-B/32 for background consistency, CLIP ViT-L/14 + the
LAION linear head for aesthetic quality. Without them each dimension uses its
weight-free default and says so in ``backbone``.

Videos longer than ``LONG_VIDEO_S`` (5 s) follow the VBench-Long protocol
for the consistency and dynamic-degree dimensions (2 s clips scored and
averaged; the consistency dimensions also report VBench-Long's cross-clip
branch, ``raw["cross_clip"]``, and its slow-fast fusion, ``raw["slow_fast"]``);
``raw["protocol"]`` records which one was used. ``temporal_flickering`` is
scored only on clips that pass VBench's static filter (``raw["static"]``).

Each dimension declares its raw value, direction, flags, backbone and how it
relates to VBench (:class:`~vqeval.dimensions.Dimension`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from vqeval import weights as _weights
from vqeval.dimensions import VBENCH_APPROX, VBENCH_SAME, Dimension, params_of, register
from vqeval.metrics import consistency as mc
from vqeval.metrics import imaging as mi
from vqeval.metrics import vbench as mv
from vqeval.results import ConfigError, DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis
    from vqeval.params import Params

#: Videos longer than this (s) use the VBench-Long protocol (as VBench-Long
#: does for videos over 5 s).
LONG_VIDEO_S = 5.0
#: VBench-Long clip length, s.
CLIP_S = 2.0
#: Weight files of the learned aesthetic path (in the weights folder; owned by
#: :mod:`vqeval.weights`).
AESTHETIC_HEAD_STEMS = _weights.AESTHETIC_HEAD_STEMS
CLIP_L14_STEMS = _weights.CLIP_L14_STEMS
#: Weight of each VBench dimension in the composite (freeze = 3, decay = 2).
VBENCH_WEIGHT = 0.5


def is_long(analysis: Analysis) -> bool:
    """True when ``analysis`` is scored with the VBench-Long protocol
    (duration strictly above :data:`LONG_VIDEO_S`)."""
    return analysis.duration_s > LONG_VIDEO_S


def _protocol(analysis: Analysis, values: Any, fn: Any) -> tuple[float, dict[str, Any]]:
    """``fn`` over the whole sequence, or VBench-Long over 2 s clips."""
    if is_long(analysis):
        n_clips = len(mv.split_clips(len(values), analysis.fps, CLIP_S))
        v = mv.long_protocol(values, analysis.fps, fn, CLIP_S)
        return v, {"protocol": "vbench-long", "clip_s": CLIP_S, "clips": n_clips}
    return float(fn(values)), {"protocol": "vbench"}


def _has_weights(name: str, config: Any) -> bool:
    """Backbone ``name`` can be built without the network (local file or cache)."""
    return _weights.available(name, config.weights_dir)


def _subject_backbone(config: Any) -> str:
    return "dino" if _has_weights("dino", config) else config.backbone


def _subject_needs(config: Any) -> tuple[str, ...]:
    return (f"embeddings:{_subject_backbone(config)}",)


def _background_needs(config: Any) -> tuple[str, ...]:
    return ("embeddings:clip",) if _has_weights("clip", config) else ("background",)


def _consistency(analysis: Analysis, name: str, feats: np.ndarray, backbone: str) -> DimensionScore:
    if len(feats) < 2:
        return DimensionScore(name, None, {"reason": "fewer than 2 frames"}, backbone)
    v, proto = _protocol(analysis, feats, mc.vbench_consistency)
    raw: dict[str, Any] = {"value": round(v, 5), **proto}
    if proto["protocol"] == "vbench-long":
        # VBench-Long's "fast" branch: the same formula on the first frame of
        # each clip; its default evaluation weighs it 0 (in-clip score only),
        # its slow-fast branch fuses the two (reported, not scored)
        firsts = mv.clip_first_frames(len(feats), analysis.fps, CLIP_S)
        c2c = mc.vbench_consistency(feats[firsts])
        raw["cross_clip"] = round(c2c, 5)
        raw["slow_fast"] = round(mv.slow_fast_fusion(v, c2c, mv.SLOW_FAST[name]), 5)
    return DimensionScore(name, round(100.0 * v, 3), raw, backbone)


def compute_subject_consistency(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """VBench subject consistency on DINO features (local weights) or the configured backbone."""
    name = _subject_backbone(analysis.config)
    return _consistency(analysis, "subject_consistency", analysis.embeddings_of(name), name)


def compute_background_consistency(
    analysis: Analysis, params: Params | None = None
) -> DimensionScore:
    """VBench background consistency on CLIP features, else the frame border ring."""
    if _has_weights("clip", analysis.config):
        feats, name = analysis.embeddings_of("clip"), "clip"
    else:
        feats, name = analysis.background, "border-ring"
    return _consistency(analysis, "background_consistency", feats, name)


def compute_temporal_flickering(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """VBench temporal flickering on static clips (VBench's static filter; ``None`` on
    moving ones), plus the brightness-flicker detector (flag ``flicker``, on every clip)."""
    feats = analysis.require(["pixel_steps"])
    diffs = feats.pixel_diffs
    if diffs is None or len(diffs) < 1:
        return DimensionScore(
            "temporal_flickering", None, {"reason": "fewer than 2 frames"}, "pixels"
        )
    p = params_of(analysis, params).flicker
    v = mc.temporal_flickering_from_diffs(diffs)
    fl = mc.flicker_from_shifts(feats.pixel_shifts, levels=p.levels, fraction=p.fraction)
    k = mc.flicker_start(fl, levels=p.levels, fraction=p.fraction)
    times = analysis.times_s
    flicker_from = None if k is None else round(float(times[min(k + 1, len(times) - 1)]), 3)
    st = static_filter(analysis)
    raw: dict[str, Any] = {
        "value": round(v, 5),
        "static": st.static,
        "moving_pairs": st.moving_pairs,
        "static_allowed_pairs": st.allowed,
        "static_threshold_pct_diag_s": round(st.threshold, 3),
        "flicker_index": round(fl.flicker_index, 4),
        "flicker_fraction": round(fl.flicker_fraction, 4),
        "flags": ["flicker"] if fl.flicker else [],
        "flag_details": [
            {
                "flag": "flicker",
                "start_s": flicker_from,
                "reason": (
                    f"brightness or colour jumps back and forth on {100 * fl.flicker_fraction:.0f} % "
                    f"of frame triplets (index {fl.flicker_index:.2f} grey levels)"
                ),
            }
        ]
        if fl.flicker
        else [],
    }
    if not st.static:
        # VBench scores temporal flickering on static videos only: on a moving
        # one the value measures motion, so it is reported in raw, not scored
        raw["reason"] = (
            f"not static ({st.moving_pairs} moving pairs > {st.allowed} allowed): VBench "
            "scores temporal flickering on static clips only"
        )
        return DimensionScore("temporal_flickering", None, raw, "pixels")
    return DimensionScore("temporal_flickering", round(100.0 * v, 3), raw, "pixels")


def static_filter(analysis: Analysis) -> mv.StaticCheck:
    """VBench's static-video filter on the clip's flow (:func:`metrics.vbench.
    static_check`; the threshold refers to the source frame rate)."""
    fs = analysis.flow
    info = getattr(analysis.clip, "info", None)
    src_fps = float(getattr(info, "fps", 0.0) or 0.0) or analysis.fps
    return mv.static_check(fs.top_mag, fs.height, fs.width, src_fps)


def compute_motion_smoothness(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """Odd frames re-synthesised by flow-warped averaging of their neighbours."""
    # the interpolation error is dominated by the larger motions, where DIS
    # ultrafast is as accurate as DIS fast at half the cost (the frame pass
    # uses farneback when that is the configured flow)
    feats = analysis.require(["smoothness"])
    flow = feats.smoothness_flow or "dis-ultrafast"
    errors = feats.smoothness_errors or []
    if analysis.n_frames < 3 or not errors:
        return DimensionScore(
            "motion_smoothness", None, {"reason": "fewer than 3 frames"}, f"{flow}-warp"
        )
    v = mc.smoothness_from_errors(errors)
    raw = {
        "value": round(v, 5),
        "interpolation": "flow-warped average",
        "frames_evaluated": len(errors),
    }
    return DimensionScore("motion_smoothness", round(100.0 * v, 3), raw, f"{flow}-warp")


def compute_dynamic_degree(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """VBench dynamic degree (per 2 s clip over 5 s: share of dynamic clips)."""
    fs = analysis.flow
    if len(fs.top_mag) < 1:
        return DimensionScore("dynamic_degree", None, {"reason": "fewer than 2 frames"}, fs.method)
    h, w = fs.height, fs.width

    def clip_dynamic(top: np.ndarray) -> float:
        return 1.0 if len(top) and mv.dynamic_degree(top, h, w).dynamic else 0.0

    v, proto = _protocol(analysis, fs.top_mag, clip_dynamic)
    whole = mv.dynamic_degree(fs.top_mag, h, w)
    raw = {
        "value": round(v, 4),
        "threshold_pct_diag_s": round(whole.threshold, 3),
        "moving_pair_fraction": round(whole.moving_fraction, 4),
        **proto,
    }
    return DimensionScore("dynamic_degree", round(100.0 * v, 2), raw, fs.method)


def _stills(analysis: Analysis) -> np.ndarray:
    s = getattr(analysis.clip, "stills", None)
    if (s is None or len(s) == 0) and len(analysis.frames):
        f = analysis.frames
        return f[np.unique(np.linspace(0, len(f) - 1, min(8, len(f))).round().astype(int))]
    return np.asarray(s) if s is not None else np.zeros((0, 1, 1, 3), np.uint8)


def compute_imaging_quality(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """Weight-free sharpness / noise / blockiness heuristic on the stills."""
    st = _stills(analysis)
    if len(st) == 0:
        return DimensionScore("imaging_quality", None, {"reason": "no frames"}, "heuristic")
    info = getattr(analysis.clip, "info", None)
    src_w = getattr(info, "width", 0) or st.shape[2]
    period = 8.0 * st.shape[2] / src_w
    p = mi.imaging_heuristic(st, block_period=period)
    raw = {
        "blur_index": round(p.blur, 4),
        "noise_sigma": round(p.noise, 3),
        "blockiness": round(p.blockiness, 3),
        "stills": len(st),
        "model": "heuristic",
    }
    return DimensionScore("imaging_quality", round(p.score, 2), raw, "heuristic")


def _aesthetic_model(weights_dir: str | None, device: str = "cpu") -> Any:
    """(CLIP ViT-L/14 backbone, head weight, head bias), or None without a head
    file (:func:`vqeval.weights.aesthetic_model`)."""
    return _weights.aesthetic_model(weights_dir, device)


def compute_aesthetic_quality(analysis: Analysis, params: Params | None = None) -> DimensionScore:
    """LAION linear head on CLIP ViT-L/14 (local weights), else a colour/contrast/exposure heuristic."""
    st = _stills(analysis)
    if len(st) == 0:
        return DimensionScore("aesthetic_quality", None, {"reason": "no frames"}, "heuristic")
    model = _aesthetic_model(analysis.config.weights_dir, getattr(analysis.config, "device", "cpu"))
    if model is not None:
        bb, w, b = model
        raw_scores = mi.linear_head(bb.embed(st), w, b)
        v = float(np.clip(raw_scores.mean() / 10.0, 0.0, 1.0))
        raw = {
            "value": round(v, 5),
            "laion_mean": round(float(raw_scores.mean()), 4),
            "model": "laion-linear",
        }
        return DimensionScore("aesthetic_quality", round(100.0 * v, 2), raw, "clip-l14+laion")
    p = mi.aesthetic_heuristic(st)
    raw = {
        "colourfulness": round(p.colourfulness, 3),
        "contrast": round(p.contrast, 4),
        "exposure": round(p.exposure, 4),
        "model": "heuristic",
    }
    return DimensionScore("aesthetic_quality", round(p.score, 2), raw, "heuristic")


_DIMS = (
    ("subject_consistency", "Subject consistency", compute_subject_consistency,
     "VBench subject consistency: mean over frames of (cos to previous + cos to first)/2 of "
     "DINO features (weight-free backbone without local weights), x100. Rewards freezes."),
    ("background_consistency", "Background consistency", compute_background_consistency,
     "VBench background consistency: same formula on CLIP ViT-B/32 features, or on a "
     "weight-free descriptor of the frame border ring, x100. Rewards freezes."),
    ("temporal_flickering", "Temporal flickering", compute_temporal_flickering,
     "VBench: (1 - mean |F_t - F_t+1| / 255) x 100 (100 = steady), scored only on clips "
     "passing VBench's static filter (else no score). Flag 'flicker' when the median "
     "brightness shift alternates by > 2 grey levels on >= 20% of frame triplets."),
    ("motion_smoothness", "Motion smoothness", compute_motion_smoothness,
     "(255 - mean abs error of odd frames predicted by flow-warped averaging of their "
     "neighbours) / 255 x 100 (VBench uses AMT interpolation). Rewards freezes."),
    ("dynamic_degree", "Dynamic degree", compute_dynamic_degree,
     "VBench dynamic degree x 100: 100 when at least round(4n/16) pairs move faster than "
     "6*min(H,W)/256 px per ~8 fps pair; over 5 s the share of dynamic 2 s clips."),
    ("imaging_quality", "Imaging quality", compute_imaging_quality,
     "Weight-free heuristic 0-100 on the stills: sharpness (re-blur), noise (Immerkaer), "
     "codec blocking. Not MUSIQ: ranks defects, values not comparable with VBench."),
    ("aesthetic_quality", "Aesthetic quality", compute_aesthetic_quality,
     "LAION linear head on CLIP ViT-L/14 / 10 x 100 with local weights; else a colourfulness, "
     "contrast and exposure heuristic 0-100 (not an aesthetic model)."),
)  # fmt: skip

_NEEDS: dict[str, Any] = {
    "subject_consistency": _subject_needs,
    "background_consistency": _background_needs,
    "temporal_flickering": ("pixel_steps", "flow"),
    "motion_smoothness": ("smoothness",),
    "dynamic_degree": ("flow",),
    "imaging_quality": (),
    "aesthetic_quality": (),
}


def _background_backbone(config: Any) -> str:
    return "clip" if _has_weights("clip", config) else "border-ring"


def _smoothness_backbone(config: Any) -> str:
    return f"{'farneback' if config.flow == 'farneback' else 'dis-ultrafast'}-warp"


def _aesthetic_backbone(config: Any) -> str:
    try:
        head = _weights.find_weights(AESTHETIC_HEAD_STEMS, config.weights_dir)
    except ConfigError:
        head = None
    return "clip-l14+laion" if head is not None else "heuristic"


def _same_with(*models: str) -> Any:
    """``Dimension.vbench``: VBench's number with one of ``models``, else an approximation."""
    return lambda backbone: VBENCH_SAME if backbone in models else VBENCH_APPROX


#: Per dimension: the declarations of :class:`~vqeval.dimensions.Dimension`
#: (raw value, unit, range, direction, flags, backbone, VBench relation).
_DECLARED: dict[str, dict[str, Any]] = {
    "subject_consistency": dict(
        raw_key="value", raw_range=(0.0, 1.0), raw_unit="0-1 (mean clamped cosine)",
        flags=(), backbone=_subject_backbone, vbench=_same_with("dino"), short="subj",
        vbench_definition=(
            "DINO ViT-B/16 features of every frame; mean over frames i >= 1 of "
            "(max(0, cos(f_{i-1}, f_i)) + max(0, cos(f_0, f_i))) / 2"
        ),
    ),
    "background_consistency": dict(
        raw_key="value", raw_range=(0.0, 1.0), raw_unit="0-1 (mean clamped cosine)",
        flags=(), backbone=_background_backbone, vbench=_same_with("clip"), short="bg",
        vbench_definition="the subject-consistency formula on CLIP ViT-B/32 image features",
    ),
    "temporal_flickering": dict(
        raw_key="value", raw_range=(0.0, 1.0), raw_unit="0-1 (1 - mean abs frame difference / 255)",
        flags=("flicker",), backbone="pixels", vbench=VBENCH_SAME, short="flick",
        vbench_definition=(
            "(255 - mean |F_t - F_{t+1}|) / 255 over every frame, on videos that pass the "
            "static filter (RAFT)"
        ),
    ),
    "motion_smoothness": dict(
        raw_key="value", raw_range=(0.0, 1.0), raw_unit="0-1 ((255 - mean abs error) / 255)",
        flags=(), backbone=_smoothness_backbone, vbench=VBENCH_APPROX, short="smooth",
        vbench_definition=(
            "odd frames re-synthesised from their neighbours by AMT; "
            "(255 - mean abs error) / 255"
        ),
    ),
    "dynamic_degree": dict(
        raw_key="value", raw_range=(0.0, 1.0), raw_unit="0-1 (dynamic or not; share of dynamic clips)",
        flags=(), backbone=lambda c: str(c.flow), vbench=_same_with("raft"), short="dyn",
        vbench_definition=(
            "RAFT at ~8 fps: a pair moves when the mean of its top-5 % flow magnitudes exceeds "
            "6 min(H, W) / 256 px; dynamic when at least round(4 n / 16) pairs move"
        ),
    ),
    "imaging_quality": dict(
        raw_key="blur_index", raw_range=(0.0, 1.0), raw_unit="0-1 blur index",
        direction="lower", flags=(), backbone="heuristic", vbench=VBENCH_APPROX, short="img",
        vbench_definition="MUSIQ (SPAQ) image quality of every frame / 100",
    ),
    "aesthetic_quality": dict(
        raw_key="value", raw_range=(0.0, 1.0), raw_unit="0-1 (LAION score / 10)",
        flags=(), backbone=_aesthetic_backbone, vbench=_same_with("clip-l14+laion"),
        short="aesth",
        vbench_definition="LAION aesthetic linear head on CLIP ViT-L/14 of every frame / 10",
    ),
}  # fmt: skip

for _name, _title, _fn, _desc in _DIMS:
    register(
        Dimension(
            name=_name,
            title=_title,
            description=_desc,
            weight=VBENCH_WEIGHT,
            default=True,
            compute=_fn,
            family="vbench",
            needs=_NEEDS[_name],
            **_DECLARED[_name],
        )
    )
