"""Drift: colour / exposure degradation against the opening, and what must pass."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from lvsa.generators.output import write_mp4
from vqeval.metrics.drift import colour_stats, drift_stats

from tests.conftest import REPO
from vqeval.config import ScoreConfig

FPS = 8.0
H, W = 90, 160
SVI = REPO.parent / "shared" / "realvideos_svi"


def _scene(n: int, seed: int, speed: float = 1.0) -> np.ndarray:
    """A colourful textured scene (T, H, W, 3) uint8 drifting sideways at
    ``speed`` px per frame, natural saturation (about 0.3)."""
    rng = np.random.default_rng(seed)
    big = rng.uniform(0, 1, (H // 6 + 2, W // 6 + 40, 3)).astype(np.float32)
    import cv2

    tex = cv2.resize(big, ((W // 6 + 40) * 6, (H // 6 + 2) * 6), interpolation=cv2.INTER_CUBIC)
    base = 70.0 + 110.0 * tex
    y = base.mean(axis=-1, keepdims=True)
    base = y + 0.45 * (base - y)
    out = np.empty((n, H, W, 3), np.float32)
    for i in range(n):
        x0 = round(i * speed) % (tex.shape[1] - W)
        out[i] = base[:H, x0 : x0 + W]
    return out


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def _score(tmp_path: Path, frames: np.ndarray, name: str):
    import vqeval

    p = tmp_path / f"{name}.mp4"
    write_mp4(p, frames, FPS, crf=18)
    cfg = replace(ScoreConfig(), dimensions=("drift",))
    return vqeval.score_video(p, cfg, raise_errors=True)


def _ramp(n: int, start: int) -> np.ndarray:
    p = np.zeros(n)
    p[start:] = np.linspace(0.0, 1.0, n - start)
    return p[:, None, None, None]


def test_colour_stats_ignore_exposure_and_white_balance() -> None:
    f = _u8(_scene(1, 0)[0])
    a = colour_stats(f)
    darker = colour_stats(_u8(f.astype(np.float32) * 0.6))
    warm = colour_stats(_u8(f.astype(np.float32) * np.array([1.12, 1.0, 0.82])))
    # balanced saturation and log contrast hardly move under gain and white balance
    assert darker[3] == pytest.approx(a[3], abs=0.02)
    assert darker[4] == pytest.approx(a[4], abs=0.03)
    assert warm[3] == pytest.approx(a[3], abs=0.03)
    # doubling the chroma does move saturation
    y = f.astype(np.float32).mean(-1, keepdims=True)
    sat = colour_stats(_u8(y + 2.0 * (f - y)))
    assert sat[3] > 1.6 * a[3]


def test_saturation_ramp_is_drift_from_about_its_start(tmp_path: Path) -> None:
    n, start = 240, 96  # 30 s, saturation grows from 12 s, motion dies
    f = _scene(n, 1, speed=1.0)
    slow = np.concatenate([[0.0], np.cumsum(1.0 - 0.9 * _ramp(n, start)[:-1, 0, 0, 0])])
    f = f[np.clip(np.round(slow).astype(int), 0, n - 1)]
    y = f.mean(-1, keepdims=True)
    f = y + (f - y) * (1.0 + 2.0 * _ramp(n, start))
    r = _score(tmp_path, _u8(f), "sat_ramp")
    assert "drift" in r.flags
    fd = next(d for d in r.flag_details if d.flag == "drift")
    assert fd.start_s is not None and 12.0 <= fd.start_s <= 22.0
    assert "saturation x" in fd.reason
    assert r.score("drift") < 50


@pytest.mark.slow
def test_sunrise_is_not_drift(tmp_path: Path) -> None:
    n = 240
    f = _scene(n, 2, speed=0.5)
    s = np.linspace(0.0, 1.0, n)[:, None, None, None]
    gain = 0.45 + 0.55 * s
    wb = np.concatenate([1.0 + 0.15 * (1 - s), np.ones_like(s), 1.0 - 0.2 * (1 - s)], -1)
    r = _score(tmp_path, _u8(f * gain * wb), "sunrise")
    assert "drift" not in r.flags
    assert r.score("drift") >= 80


def test_cut_to_a_different_scene_is_not_drift(tmp_path: Path) -> None:
    n = 240
    a = _scene(n // 2, 3, speed=0.5)
    b = _scene(n // 2, 4, speed=0.5)
    yb = b.mean(-1, keepdims=True)
    b = yb + (b - yb) * 2.2  # the new shot is far more colourful
    r = _score(tmp_path, _u8(np.concatenate([a, b])), "cut")
    assert "drift" not in r.flags


def test_drift_stats_needs_persistence() -> None:
    # saturation up for a while, then back: not drift
    n = 200
    t = np.arange(n) / FPS
    col = np.tile(np.array([50, 0, 0, 0.3, 0.6, 0.0, 0.0], np.float32), (n, 1))
    col[60:140, 3] = 0.8
    assert not drift_stats(col, t).drifted
    col[60:, 3] = 0.8
    st = drift_stats(col, t)
    assert st.drifted and st.start_s == pytest.approx(7.5, abs=1.0)


@pytest.mark.slow
@pytest.mark.realvideos
@pytest.mark.skipif(not (SVI / "labels.json").is_file(), reason="../shared/realvideos_svi absent")
def test_svi_drifts_flagged_and_healthy_single_shots_not() -> None:
    from vqeval.analysis import Analysis  # noqa: F401  (the pipeline below builds it)
    from vqeval.dimensions.drift import compute_drift
    from vqeval.pipeline import analyse

    labels = json.loads((SVI / "labels.json").read_text())
    cfg = replace(ScoreConfig(), dimensions=("drift",))
    flagged = {}
    for name, lab in sorted(labels.items()):
        if lab["label"] not in ("drift", "healthy"):
            continue
        ds = compute_drift(analyse(SVI / name, cfg))
        flagged[name] = ("drift" in ds.raw["flags"], lab["label"])
    drifts = [f for f, lab in flagged.values() if lab == "drift"]
    healthy = [f for f, lab in flagged.values() if lab == "healthy"]
    # issue 26's floors: >= 8 of 9 drifts, at most 1 of 12 healthy failed
    assert sum(drifts) >= 8, flagged
    assert sum(healthy) <= 1, flagged


def _gray_texture(seed: int, blur: float = 0.0) -> np.ndarray:
    import cv2

    rng = np.random.default_rng(seed)
    g = rng.uniform(40, 215, (H, W)).astype(np.float32)
    g = cv2.GaussianBlur(g, (0, 0), 0.7)
    if blur > 0:
        g = cv2.GaussianBlur(g, (0, 0), blur)
    return np.clip(g, 0, 255).astype(np.uint8)


def _detail_series(frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    from vqeval.metrics.content import weber_contrast
    from vqeval.metrics.detail import detail_level, sharpness_level

    det, sharp = [], []
    for g in frames:
        c = weber_contrast(g)
        det.append(detail_level(g, c))
        sharp.append(sharpness_level(c, det[-1]))
    return np.array(det), np.array(sharp)


def test_softening_across_jump_cuts_is_a_blurred_collapse_and_a_softer_shot_is_not() -> None:
    from vqeval.metrics.detail import collapse_stats

    n = 160  # 20 s at 8 frames/s
    t = np.arange(n) / FPS
    # the picture softens step by step (blur sigma 0 -> 3 px) while it jumps
    # to a new (equally soft) scene every 2.5 s: detected as cuts
    blur = np.linspace(0.0, 3.0, n)
    frames = [_gray_texture(i // 20, float(b)) for i, b in enumerate(blur)]
    cuts = list(range(20, n, 20))
    det, sharp = _detail_series(frames)
    cs = collapse_stats(det, t, cuts=cuts, sharpness=sharp)
    assert cs.collapsed and cs.reason == "blurred"
    assert cs.sharpness_retention is not None and cs.sharpness_retention < 0.6
    # one cut to a softer (but steady) shot: a new picture, not a collapse
    frames = [_gray_texture(0) for _ in range(n // 2)] + [_gray_texture(1, 1.2)] * (n // 2)
    det, sharp = _detail_series(frames)
    cs = collapse_stats(det, t, cuts=[n // 2], sharpness=sharp)
    assert not cs.collapsed
