"""VBench-style dimensions with VBench's published formulas.

``subject_consistency``, ``background_consistency``, ``temporal_flickering``,
``motion_smoothness``, ``dynamic_degree``, ``imaging_quality`` and
``aesthetic_quality``; scores are VBench's 0-1 values x 100. They run by
default with light weights: VBench rewards freezes and loops (a frozen video
scores ~100 on consistency, flickering and smoothness), so the composite
leans on ``freeze``, ``motion_decay`` and ``repetition`` instead.

Learned models run only from local weights (``config.weights_dir`` or
``$VQEVAL_WEIGHTS``): DINO for subject consistency, CLIP ViT-B/32 for
background consistency, CLIP ViT-L/14 + the LAION linear head for aesthetic
quality. Without them each dimension uses its weight-free default and says
so in ``backbone``.

Videos longer than ``LONG_VIDEO_S`` follow the VBench-Long protocol for the
consistency and dynamic-degree dimensions (2 s clips scored and averaged);
``raw["protocol"]`` records which one was used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vqeval.dimensions import Dimension, register
from vqeval.metrics import consistency as mc
from vqeval.metrics import imaging as mi
from vqeval.metrics import vbench as mv
from vqeval.results import ConfigError, DimensionScore

if TYPE_CHECKING:
    from vqeval.analysis import Analysis

#: Videos longer than this (s) use the VBench-Long protocol (standard VBench
#: clips are 2-8 s long).
LONG_VIDEO_S = 8.0
#: VBench-Long clip length, s.
CLIP_S = 2.0
#: Weight files of the learned aesthetic path (in the weights folder).
AESTHETIC_HEAD_STEMS = ("laion_aesthetic_l14_linear", "laion_aesthetic_l14")
CLIP_L14_STEMS = ("clip_vitl14",)
#: Weight of each VBench dimension in the composite (freeze = 3, decay = 2).
VBENCH_WEIGHT = 0.5

_model_cache: dict[str, Any] = {}


def _protocol(analysis: Analysis, values: Any, fn: Any) -> tuple[float, dict[str, Any]]:
    """``fn`` over the whole sequence, or VBench-Long over 2 s clips."""
    if analysis.duration_s > LONG_VIDEO_S:
        n_clips = len(mv.split_clips(len(values), analysis.fps, CLIP_S))
        v = mv.long_protocol(values, analysis.fps, fn, CLIP_S)
        return v, {"protocol": "vbench-long", "clip_s": CLIP_S, "clips": n_clips}
    return float(fn(values)), {"protocol": "vbench"}


def _has_weights(name: str, config: Any) -> bool:
    from vqeval.metrics.features import weights_path

    try:
        weights_path(name, config.weights_dir)
    except ConfigError:
        return False
    return True


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
    return DimensionScore(name, round(100.0 * v, 3), {"value": round(v, 5), **proto}, backbone)


def compute_subject_consistency(analysis: Analysis) -> DimensionScore:
    """VBench subject consistency on DINO features (local weights) or the configured backbone."""
    name = _subject_backbone(analysis.config)
    return _consistency(analysis, "subject_consistency", analysis.embeddings_of(name), name)


def compute_background_consistency(analysis: Analysis) -> DimensionScore:
    """VBench background consistency on CLIP features, else the frame border ring."""
    if _has_weights("clip", analysis.config):
        feats, name = analysis.embeddings_of("clip"), "clip"
    else:
        feats, name = analysis.background, "border-ring"
    return _consistency(analysis, "background_consistency", feats, name)


def compute_temporal_flickering(analysis: Analysis) -> DimensionScore:
    """VBench temporal flickering, plus the brightness-flicker detector (flag ``flicker``)."""
    feats = analysis.require(["pixel_steps"])
    diffs = feats.pixel_diffs
    if diffs is None or len(diffs) < 1:
        return DimensionScore(
            "temporal_flickering", None, {"reason": "fewer than 2 frames"}, "pixels"
        )
    v = mc.temporal_flickering_from_diffs(diffs)
    fl = mc.flicker_from_shifts(feats.pixel_shifts)
    raw = {
        "value": round(v, 5),
        "flicker_index": round(fl.flicker_index, 4),
        "flicker_fraction": round(fl.flicker_fraction, 4),
        "flags": ["flicker"] if fl.flicker else [],
        "flag_details": [
            {
                "flag": "flicker",
                "start_s": None,
                "reason": (
                    f"brightness or colour jumps back and forth on {100 * fl.flicker_fraction:.0f} % "
                    f"of frame triplets (index {fl.flicker_index:.2f} grey levels)"
                ),
            }
        ]
        if fl.flicker
        else [],
    }
    return DimensionScore("temporal_flickering", round(100.0 * v, 3), raw, "pixels")


def compute_motion_smoothness(analysis: Analysis) -> DimensionScore:
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


def compute_dynamic_degree(analysis: Analysis) -> DimensionScore:
    """VBench dynamic degree (per 2 s clip for long videos: share of dynamic clips)."""
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


def compute_imaging_quality(analysis: Analysis) -> DimensionScore:
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


def _load_tensors(path: Path) -> dict[str, Any]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return dict(load_file(str(path)))
        import torch

        sd = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ConfigError(f"cannot read weights {path}: {e}") from e
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict):
        raise ConfigError(f"{path}: not a state dict of tensors")
    return sd


def _aesthetic_model(weights_dir: str | None) -> tuple[Any, np.ndarray, float] | None:
    """(CLIP ViT-L/14 backbone, head weight, head bias), or None without a head file.

    Raises:
        ConfigError: the head is there but its CLIP ViT-L/14 tower is not, or
            a file does not hold the expected tensors.
    """
    from vqeval.metrics.features import find_weights

    head = find_weights(AESTHETIC_HEAD_STEMS, weights_dir)
    if head is None:
        return None
    tower = find_weights(CLIP_L14_STEMS, weights_dir)
    if tower is None:
        raise ConfigError(
            f"aesthetic head {head} needs the CLIP ViT-L/14 image tower beside it: expected "
            f"{head.parent / (CLIP_L14_STEMS[0] + '.safetensors')} (OpenAI CLIP ViT-L/14 state "
            "dict, saved on a machine with network access); remove the head file to use the "
            "weight-free aesthetic heuristic"
        )
    key = f"{head.resolve()}|{tower.resolve()}"
    if key not in _model_cache:
        from vqeval.metrics.features import ClipBackbone

        sd = _load_tensors(head)
        w = next((sd[k] for k in ("weight", "linear.weight", "layers.0.weight") if k in sd), None)
        b = next((sd[k] for k in ("bias", "linear.bias", "layers.0.bias") if k in sd), None)
        if w is None or b is None or w.numel() != w.shape[-1]:
            raise ConfigError(
                f"{head}: not a linear aesthetic head (expected tensors 'weight' (1, d) and 'bias')"
            )
        bb = ClipBackbone(_load_tensors(tower), str(tower))
        _model_cache[key] = (bb, w.float().numpy().reshape(-1), float(b.float().reshape(-1)[0]))
    return _model_cache[key]


def compute_aesthetic_quality(analysis: Analysis) -> DimensionScore:
    """LAION linear head on CLIP ViT-L/14 (local weights), else a colour/contrast/exposure heuristic."""
    st = _stills(analysis)
    if len(st) == 0:
        return DimensionScore("aesthetic_quality", None, {"reason": "no frames"}, "heuristic")
    model = _aesthetic_model(analysis.config.weights_dir)
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
     "VBench: (1 - mean |F_t - F_t+1| / 255) x 100 (100 = steady). Flag 'flicker' when the "
     "median brightness shift alternates by > 2 grey levels on >= 20% of frame triplets."),
    ("motion_smoothness", "Motion smoothness", compute_motion_smoothness,
     "(255 - mean abs error of odd frames predicted by flow-warped averaging of their "
     "neighbours) / 255 x 100 (VBench uses AMT interpolation). Rewards freezes."),
    ("dynamic_degree", "Dynamic degree", compute_dynamic_degree,
     "VBench dynamic degree x 100: 100 when more than round(4n/16) pairs move faster than "
     "6*min(H,W)/256 px per ~8 fps pair; for long videos the share of dynamic 2 s clips."),
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
    "temporal_flickering": ("pixel_steps",),
    "motion_smoothness": ("smoothness",),
    "dynamic_degree": ("flow",),
    "imaging_quality": (),
    "aesthetic_quality": (),
}

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
        )
    )
