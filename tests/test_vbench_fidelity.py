"""VBench fidelity: the VBench-style dimensions follow VBench's own rules.

Each test checks a dimension against an independent re-implementation of
VBench's rule written from its published code (``vbench/subject_consistency.py``,
``vbench/dynamic_degree.py``, ``static_filter.py``, ``vbench2_beta_long/utils.py``
and ``configs/slow_fast_params.yaml``), loop for loop as VBench computes it:
the consistency formula on a tiny learned backbone, the VBench-Long split,
cross-clip branch and slow-fast fusion, dynamic degree's ``>=`` count rule,
the 5 s switch to VBench-Long and the static filter in front of temporal
flickering.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from vqeval.metrics import consistency as mc
from vqeval.metrics import vbench as mv

from tests.test_vbench import _clip, _pan
from vqeval.analysis import Analysis
from vqeval.config import ScoreConfig
from vqeval.dimensions import registry

torch = pytest.importorskip("torch")
F = torch.nn.functional

# ------------------------------------------------------------ reference implementations


def ref_consistency(features: np.ndarray) -> float:
    """VBench subject/background consistency of one video, as VBench loops:
    per frame i >= 1, ``(max(0, cos(prev, f_i)) + max(0, cos(first, f_i))) / 2``,
    summed and divided by ``len - 1``."""
    x = F.normalize(torch.as_tensor(np.asarray(features), dtype=torch.float64), dim=-1, p=2)
    video_sim = 0.0
    first = former = None
    for i in range(len(x)):
        f = x[i].unsqueeze(0)
        if i == 0:
            first = f
        else:
            sim_pre = max(0.0, F.cosine_similarity(former, f).item())
            sim_fir = max(0.0, F.cosine_similarity(first, f).item())
            video_sim += (sim_pre + sim_fir) / 2
        former = f
    return video_sim / (len(x) - 1)


def ref_split(n: int, fps: int, duration: int = 2) -> list[range]:
    """VBench-Long ``split_video_into_clips``: full clips of ``fps * duration``
    frames; a remainder is extended backwards into one more full clip."""
    seg = fps * duration
    if n < seg:
        return [range(n)]
    total, rem = n // seg, n % seg
    clips = [range(i * seg, (i + 1) * seg) for i in range(total)]
    if rem > 0:
        start = max(0, total * seg - (seg - rem))
        clips.append(range(start, n))
    return clips


#: ``vbench2_beta_long/configs/slow_fast_params.yaml``.
YAML = {
    "subject_consistency": dict(w_in=0.7, w_c2c=0.3, in_mean=0.9206531487463249,
                                in_std=0.004580085658914342, c2c_mean=0.782773956831079,
                                c2c_std=0.024658268466961904),
    "background_consistency": dict(w_in=0.8, w_c2c=0.2, in_mean=0.9461633887475777,
                                   in_std=0.00041191287498028263, c2c_mean=0.8817304710164493,
                                   c2c_std=0.007886728751286067),
}  # fmt: skip


def ref_long_consistency(feats: np.ndarray, fps: int, dim: str) -> tuple[float, float, float]:
    """VBench-Long on one video: (in-clip mean, clip-to-clip value, slow-fast fusion)."""
    clips = ref_split(len(feats), fps)
    inclip = float(np.mean([ref_consistency(feats[list(c)]) for c in clips]))
    c2c = ref_consistency(feats[[c[0] for c in clips]])
    p = YAML[dim]
    mapped = (c2c - p["c2c_mean"]) / p["c2c_std"] * p["in_std"] + p["in_mean"]
    return inclip, c2c, inclip * p["w_in"] + mapped * p["w_c2c"]


def ref_check_move(scores: list[float], thres: float, count_num: int) -> bool:
    """VBench ``DynamicDegree.check_move``."""
    count = 0
    for score in scores:
        if score > thres:
            count += 1
        if count >= count_num:
            return True
    return False


def ref_check_static_pairs(scores: list[float], thres: float, count_num: int) -> bool:
    """The consecutive-pair rule of VBench ``StaticFilter.check_static``."""
    count = 0
    for score in scores:
        if score > thres:
            count += 1
        if count > count_num:
            return False
    return True


# ------------------------------------------------------------ consistency on a learned backbone


@pytest.fixture()
def learned(tmp_path, monkeypatch) -> ScoreConfig:
    """A config whose weights folder holds tiny deterministic DINO and CLIP models."""
    safetensors = pytest.importorskip("safetensors.torch")
    from tests.test_features import _tiny_clip, _tiny_dino

    monkeypatch.delenv("VQEVAL_WEIGHTS", raising=False)
    safetensors.save_file(_tiny_dino(), str(tmp_path / "dino_vitb16.safetensors"))
    safetensors.save_file(_tiny_clip(), str(tmp_path / "clip_vitb32.safetensors"))
    return ScoreConfig(weights_dir=str(tmp_path))


def _scene_changes(n: int) -> np.ndarray:
    """A pan with two hard scene changes (the second back to the first scene):
    cosines to the first and previous frames differ, some may be negative."""
    a, b = _pan(n, 2.0, seed=0), _pan(n, 2.0, seed=7)
    out = a.copy()
    out[n // 3 : 2 * n // 3] = 255 - b[n // 3 : 2 * n // 3]
    return out


@pytest.mark.parametrize("name", ["subject_consistency", "background_consistency"])
def test_consistency_matches_vbench_formula_on_learned_backbone(learned, name) -> None:
    a = Analysis(_clip(_scene_changes(24), fps=8.0), learned)  # 3 s: standard protocol
    d = registry()[name].compute(a)
    assert d.backbone == {"subject_consistency": "dino", "background_consistency": "clip"}[name]
    assert registry()[name].vbench_for(d.backbone) == "same formula"
    assert d.raw["protocol"] == "vbench"
    expected = ref_consistency(a.embeddings_of(d.backbone))
    assert d.raw["value"] == pytest.approx(expected, abs=1e-5)
    assert d.score == pytest.approx(100.0 * expected, abs=1e-3)


@pytest.mark.parametrize("name", ["subject_consistency", "background_consistency"])
def test_long_consistency_matches_vbench_long(learned, name) -> None:
    # 7.5 s at 8 fps: clips of 16 frames, the last one extended backwards
    a = Analysis(_clip(_scene_changes(60), fps=8.0), learned)
    d = registry()[name].compute(a)
    feats = a.embeddings_of(d.backbone)
    inclip, c2c, fused = ref_long_consistency(feats, 8, name)
    assert d.raw["protocol"] == "vbench-long" and d.raw["clips"] == len(ref_split(60, 8)) == 4
    assert d.raw["value"] == pytest.approx(inclip, abs=1e-5)
    assert d.score == pytest.approx(100.0 * inclip, abs=1e-3)  # VBench-Long's default weights
    assert d.raw["cross_clip"] == pytest.approx(c2c, abs=1e-5)
    assert d.raw["slow_fast"] == pytest.approx(fused, abs=1e-5)


def test_consistency_formula_clamps_negative_cosines_like_vbench() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        f = rng.normal(size=(int(rng.integers(2, 30)), 8))
        f[1::3] *= -1  # negative cosines to the first and previous frames
        assert mc.vbench_consistency(f) == pytest.approx(ref_consistency(f), abs=1e-12)


def test_split_clips_matches_vbench_long() -> None:
    for n in range(1, 120):
        got = [range(a, b) for a, b in mv.split_clips(n, 8.0, 2.0)]
        assert got == ref_split(n, 8), n
    assert mv.clip_first_frames(60, 8.0).tolist() == [0, 16, 32, 44]


def test_slow_fast_fusion_formula() -> None:
    p = mv.SLOW_FAST["subject_consistency"]
    y = YAML["subject_consistency"]
    got = mv.slow_fast_fusion(0.95, 0.8, p)
    mapped = (0.8 - y["c2c_mean"]) / y["c2c_std"] * y["in_std"] + y["in_mean"]
    assert got == pytest.approx(0.7 * 0.95 + 0.3 * mapped)
    assert set(mv.SLOW_FAST) == set(YAML)


# ------------------------------------------------------------ dynamic degree: VBench's >= rule


def test_dynamic_degree_count_rule_matches_vbench() -> None:
    thr = mv.dynamic_threshold(90, 160)
    rng = np.random.default_rng(0)
    for n_pairs in range(1, 41):
        needed = round(4 * (n_pairs + 1) / 16.0)  # VBench: count_num = round(4 * frames / 16)
        for _ in range(15):
            # values below, exactly at and above the threshold
            v = rng.choice([0.0, 0.5 * thr, thr, 1.5 * thr], size=n_pairs)
            dd = mv.dynamic_degree(v, 90, 160)
            assert dd.needed == needed
            assert dd.dynamic == ref_check_move(list(v), thr, needed), (n_pairs, v)
    # the boundary itself: exactly `needed` moving pairs is dynamic, one fewer is not
    v = np.zeros(15)  # 16 frames: needed = 4
    v[:4] = 2 * thr
    dd = mv.dynamic_degree(v, 90, 160)
    assert dd.needed == 4 and dd.moving_pairs == 4 and dd.dynamic
    v[3] = thr  # a pair exactly at the threshold does not move (VBench: score > thres)
    assert not mv.dynamic_degree(v, 90, 160).dynamic
    assert not mv.dynamic_degree(np.zeros(0), 90, 160).dynamic


def _steps(moving: int, n: int = 16, px: float = 12.0) -> Analysis:
    """``n`` frames at 8 fps of a photo that jumps ``px`` px on the first
    ``moving`` pairs and then stands still."""
    big = _pan(1, 0.0)[0]
    h, w = big.shape[:2]
    step = np.zeros(n - 1)
    step[:moving] = px
    pos = np.concatenate([[0.0], np.cumsum(step)])
    seq = np.stack([
        cv2.warpAffine(big, np.float32([[1, 0, -p], [0, 1, 0]]), (w, h),
                       borderMode=cv2.BORDER_REFLECT)
        for p in pos
    ])  # fmt: skip
    return Analysis(_clip(seq, fps=8.0), ScoreConfig())


def test_dynamic_degree_dimension_at_the_boundary() -> None:
    # 16 frames: needed = round(4 * 16 / 16) = 4 moving pairs (12 px per 1/8 s at
    # 160x90 is ~3x VBench's threshold): 4 moving pairs are dynamic, 3 are not
    dim = registry()["dynamic_degree"]
    four, three = dim.compute(_steps(4)), dim.compute(_steps(3))
    assert four.raw["protocol"] == "vbench"
    assert four.score == 100.0 and three.score == 0.0


# ------------------------------------------------------------ the 5 s switch to VBench-Long


@pytest.mark.parametrize(("n", "protocol"), [(40, "vbench"), (41, "vbench-long")])
def test_long_protocol_switches_above_5_s(n, protocol) -> None:
    # 40 frames at 8 fps last 5.0 s (standard VBench); 41 frames 5.125 s (VBench-Long)
    a = Analysis(_clip(_pan(n, 1.0), fps=8.0), ScoreConfig())
    assert a.duration_s == pytest.approx(n / 8.0)
    reg = registry()
    for name in ("subject_consistency", "background_consistency", "dynamic_degree"):
        d = reg[name].compute(a)
        assert d.raw["protocol"] == protocol, name
        assert ("cross_clip" in d.raw) == (protocol == "vbench-long" and name != "dynamic_degree")


# ------------------------------------------------------------ static filter before flickering


def test_static_filter_pair_rule_matches_vbench() -> None:
    thr = mv.static_threshold(90, 160, 24.0)
    assert thr == pytest.approx(3 * 90 / 256 / math.hypot(90, 160) * 100 * 24)
    rng = np.random.default_rng(1)
    for n_pairs in range(1, 41):
        allowed = round(2 * (n_pairs + 1) / 16.0)
        for _ in range(15):
            v = rng.choice([0.0, thr, 2 * thr], size=n_pairs)
            st = mv.static_check(v, 90, 160, 24.0)
            assert st.allowed == allowed
            assert st.static == ref_check_static_pairs(list(v), thr, allowed)


def test_temporal_flickering_scored_only_on_static_clips() -> None:
    dim = registry()["temporal_flickering"]
    rng = np.random.default_rng(2)
    still = np.repeat(_pan(1, 0.0), 24, axis=0).astype(np.int16)
    still = np.clip(still + rng.integers(-2, 3, still.shape), 0, 255).astype(np.uint8)
    s = dim.compute(Analysis(_clip(still), ScoreConfig()))
    assert s.raw["static"] is True and s.score is not None
    assert s.score == pytest.approx(100.0 * s.raw["value"], abs=1e-3)
    moving = dim.compute(Analysis(_clip(_pan(24, 8.0)), ScoreConfig()))
    assert moving.raw["static"] is False and moving.score is None
    assert "static" in moving.raw["reason"] and 0.0 < moving.raw["value"] < 1.0
    # the flicker detector still runs on moving clips: its flag caps the composite
    gains = np.where(np.arange(24) % 2 == 0, 1.0, 1.15)[:, None, None, None]
    flick = np.clip(np.rint(_pan(24, 8.0) * gains), 0, 255).astype(np.uint8)
    f = dim.compute(Analysis(_clip(flick), ScoreConfig()))
    assert f.score is None and f.raw["flags"] == ["flicker"]
    from vqeval.scoring import summarize

    assert summarize({"temporal_flickering": f}).flags == ("flicker",)
