"""Tempo and the ``slow_motion`` pair flag (metrics/tempo.py, compare, gate)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from vqeval.metrics import tempo as mt

from vqeval.compare import (
    SLOW_MOTION,
    Side,
    compare_sides,
    pair_tempo,
)
from vqeval.gate import evaluate_gate, parse_gate_config
from vqeval.report.comparetext import format_table
from vqeval.results import DimensionScore, VideoResult

REAL = Path(__file__).resolve().parents[2] / "shared" / "realvideos"
FPS = 8.0


def scene(pos: np.ndarray, *, seed: int = 0, h: int = 60, w: int = 96) -> np.ndarray:
    """(T, h, w) uint8 luma frames of a scene at content positions ``pos`` (0-1):
    two bright blobs travelling across a fixed background, the picture
    darkening from left to right as ``pos`` grows (content that never repeats)."""
    rng = np.random.default_rng(seed)
    bg = rng.uniform(40, 120, size=(h // 6 + 1, w // 6 + 1)).astype(np.float32)
    bg = np.kron(bg, np.ones((6, 6), np.float32))[:h, :w]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames = []
    for p in pos:
        cx1, cy1 = 8 + p * (w - 16), h * 0.3
        cx2, cy2 = w * 0.5, 6 + p * (h - 12)
        blob = 120 * np.exp(-((xx - cx1) ** 2 + (yy - cy1) ** 2) / 60.0)
        blob += 100 * np.exp(-((xx - cx2) ** 2 + (yy - cy2) ** 2) / 40.0)
        shade = 30 * p * (xx / w)
        frames.append(np.clip(bg + blob - shade, 0, 255).astype(np.uint8))
    return np.stack(frames)


def sigs_of(frames: np.ndarray) -> np.ndarray:
    return np.stack([mt.frame_signature(f) for f in frames])


def clip(speed: float, n: int = 80, *, seed: int = 0, noise: float = 0.0) -> tuple:
    """Signatures and times of the scene played at ``speed`` for ``n`` frames
    (the content runs out at position 1: a faster clip is shorter)."""
    pos = speed * np.arange(n) / (n - 1)
    pos = pos[pos <= 1.0 + 1e-9]
    f = scene(pos, seed=seed)
    if noise:
        rng = np.random.default_rng(99)
        f = np.clip(f + rng.normal(0, noise, f.shape), 0, 255).astype(np.uint8)
    return sigs_of(f), np.arange(len(f)) / FPS


# --------------------------------------------------------------------------- metrics


def test_half_speed_is_tempo_half_and_slow() -> None:
    base, slow = clip(1.0), clip(0.5)
    est = mt.estimate_tempo(*base, *slow)
    assert est.tempo is not None and est.tempo == pytest.approx(0.5, abs=0.04)
    assert est.confidence >= mt.MIN_CONFIDENCE
    assert mt.slow_motion(est.tempo, 0.5, 2.0).flagged


def test_two_thirds_speed_is_slow() -> None:
    est = mt.estimate_tempo(*clip(1.0), *clip(0.67))
    assert est.tempo == pytest.approx(0.67, abs=0.05)
    assert mt.slow_motion(est.tempo, 0.67, 2.0).flagged


def test_same_tempo_with_noise_is_not_slow() -> None:
    est = mt.estimate_tempo(*clip(1.0), *clip(1.0, noise=3.0))
    assert est.tempo == pytest.approx(1.0, abs=0.04)
    assert not mt.slow_motion(est.tempo, 1.0, 2.0).flagged


def test_faster_is_not_slow() -> None:
    est = mt.estimate_tempo(*clip(1.0), *clip(2.0))
    assert est.tempo == pytest.approx(2.0, abs=0.1)
    # a known tempo decides, even when the flow happens to be lower
    assert not mt.slow_motion(est.tempo, 0.3, 2.0).flagged


def test_unrelated_content_has_no_tempo() -> None:
    other = sigs_of(scene(np.linspace(1, 0, 80), seed=7)[:, ::-1])  # other scene, mirrored
    est = mt.estimate_tempo(*clip(1.0), other, np.arange(80) / FPS)
    assert est.tempo is None and est.reason
    assert est.confidence < mt.MIN_CONFIDENCE


def test_still_baseline_gives_no_tempo() -> None:
    still = sigs_of(scene(np.zeros(80)))
    est = mt.estimate_tempo(still, np.arange(80) / FPS, *clip(0.5))
    assert est.tempo is None


def test_fallback_motion_ratio() -> None:
    # no tempo: the motion ratio decides, with its own threshold
    assert mt.slow_motion(None, 0.1, 5.0).flagged  # frozen method, moving baseline
    assert not mt.slow_motion(None, 1.4, 5.0).flagged  # faster
    assert not mt.slow_motion(None, 0.95, 5.0).flagged
    # a baseline that hardly moves says nothing
    d = mt.slow_motion(None, 0.1, 0.01)
    assert not d.flagged and "still" in d.reason
    assert mt.motion_ratio(0.0, 0.0) == pytest.approx(1.0)
    assert mt.motion_ratio(None, 1.0) is None
    assert mt.motion_ratio(1.0, 4.0) == pytest.approx(0.25)


def test_signature_roundtrip_and_damage() -> None:
    s, t = clip(1.0)
    ser = mt.signature_series(s, t)
    assert len(ser[mt.SERIES_KEY][0]) == 64  # 48 bytes in base64
    back = mt.signature_from_series(json.loads(json.dumps(ser)))
    assert back is not None
    np.testing.assert_array_equal(back[0], s)
    assert mt.signature_from_series({}) is None
    bad = {**ser, mt.SERIES_KEY: ["!!", *ser[mt.SERIES_KEY][1:]]}
    assert mt.signature_from_series(bad) is None
    assert (
        mt.signature_from_series({**ser, mt.SERIES_TIMES_KEY: ser[mt.SERIES_TIMES_KEY][:-1]})
        is None
    )


def test_pooling_caps_rows() -> None:
    s = np.tile(np.arange(48, dtype=np.uint8), (5000, 1))
    ps, pt = mt.pool_signatures(s, np.arange(5000) / 8.0, max_rows=1200)
    assert len(ps) <= 1200 and len(ps) == len(pt) and np.all(np.diff(pt) > 0)


# --------------------------------------------------------------------------- compare / gate


def result(path: str, speed: float, motion: float, *, series: bool = True) -> VideoResult:
    s, t = clip(speed)
    ser = mt.signature_series(s, t) if series else {}
    dims = {
        "motion_level": DimensionScore(
            "motion_level", min(100.0, 20 * motion), {"motion_mean_pct_diag_s": motion}
        )
    }
    return VideoResult(path=path, dimensions=dims, composite=80.0, verdict="good", series=ser)


def test_pair_tempo_and_compare_json() -> None:
    base = Side("base", "base", [result("b/a.mp4", 1.0, 4.0), result("b/c.mp4", 1.0, 4.0)], "b")
    meth = Side("m", "m", [result("m/a.mp4", 0.5, 2.0), result("m/c.mp4", 1.0, 4.1)], "m")
    cmp = compare_sides([base, meth], n_boot=200)
    doc = json.loads(json.dumps(cmp.to_dict()))
    vids = {v["key"]: v for v in doc["methods"][0]["videos"]}
    assert vids["a"]["tempo"] == pytest.approx(0.5, abs=0.04)
    assert vids["a"]["pair_flags"] == [SLOW_MOTION]
    assert vids["a"]["motion_ratio"] == pytest.approx(0.5)
    assert vids["c"]["tempo"] == pytest.approx(1.0, abs=0.04)
    assert vids["c"]["pair_flags"] == []
    assert doc["methods"][0]["pair_flags"] == {SLOW_MOTION: 1}
    table = format_table(cmp)
    assert "slow_motion 1/2" in table and "tempo 0.50" in table


def test_compare_reads_the_slow_motion_params() -> None:
    # the pair flag follows the params tree's slow_motion section: a team
    # that accepts half speed moves slow_tempo below 0.5 and is not flagged
    from vqeval.params import SlowMotionParams

    base = Side("base", "base", [result("b/a.mp4", 1.0, 4.0)], "b")
    meth = Side("m", "m", [result("m/a.mp4", 0.5, 2.0)], "m")
    lax = SlowMotionParams(slow_tempo=0.4)
    assert compare_sides([base, meth], n_boot=50).methods[0].pair_flags == {SLOW_MOTION: 1}
    assert (
        not compare_sides([base, meth], n_boot=50, params=lax)
        .methods[0]
        .pair_flags.get(SLOW_MOTION)
    )
    pt = pair_tempo(result("b/a.mp4", 1.0, 4.0), result("m/a.mp4", 0.5, 2.0), lax)
    assert pt.pair_flags == () and pt.tempo == pytest.approx(0.5, abs=0.04)


def test_no_series_gives_null_tempo_with_reason() -> None:
    pt = pair_tempo(result("b/a.mp4", 1.0, 4.0), result("m/a.mp4", 0.5, 2.0, series=False))
    assert pt.tempo is None and "--no-series" in (pt.tempo_reason or "")
    assert pt.motion_ratio == pytest.approx(0.5)


def test_markdown_and_html_show_tempo() -> None:
    from vqeval.report.html import render_compare_html
    from vqeval.report.markdown import render_compare_markdown

    base = Side("base", "base", [result("b/a.mp4", 1.0, 4.0)], "b")
    meth = Side("m", "m", [result("m/a.mp4", 0.5, 2.0)], "m")
    cmp = compare_sides([base, meth], n_boot=200)
    md = render_compare_markdown(cmp)
    assert "0.50x" in md and "slow\\_motion" in md
    html = render_compare_html(cmp)
    assert 'class="tempo"' in html and "slow_motion" in html


def test_gate_slow_motion_rule() -> None:
    cfg = parse_gate_config(
        {"rule": [{"flag": "slow_motion", "max_rate": 0}]}, known_dimensions=["motion_level"]
    )
    assert cfg.rules[0].needs_baseline
    base = Side("base", "base", [result("b/a.mp4", 1.0, 4.0), result("b/c.mp4", 1.0, 4.0)], "b")
    slow = Side("m", "m", [result("m/a.mp4", 0.5, 2.0), result("m/c.mp4", 1.0, 4.0)], "m")
    fast = Side("f", "f", [result("f/a.mp4", 2.0, 8.0), result("f/c.mp4", 1.0, 4.0)], "f")
    rep = evaluate_gate(cfg, slow, base)
    assert not rep.passed and rep.results[0].offenders == ("m/a.mp4",)
    assert evaluate_gate(cfg, fast, base).passed
    no_base = evaluate_gate(cfg, slow, None)
    assert not no_base.passed and "baseline" in no_base.results[0].message


# --------------------------------------------------------------------------- real clips


@pytest.mark.slow
@pytest.mark.realvideos
@pytest.mark.skipif(not (REAL / "labels.json").is_file(), reason="../shared/realvideos absent")
def test_real_slow_pairs_flagged() -> None:
    """Each clip labelled ``slow`` is flagged against its ``reference``."""
    from vqeval.config import ScoreConfig
    from vqeval.pipeline import score_video

    labels = json.loads((REAL / "labels.json").read_text())
    slow = {n: lab["reference"] for n, lab in labels.items() if lab.get("label") == "slow"}
    assert slow
    cfg = ScoreConfig(dimensions=("motion_level",))
    scored: dict[str, VideoResult] = {}
    for n in sorted({*slow, *slow.values()}):
        scored[n] = score_video(REAL / n, cfg)
    for n, ref in slow.items():
        pt = pair_tempo(scored[ref], scored[n])
        assert SLOW_MOTION in pt.pair_flags, (n, pt)


def test_unscored_side_has_no_tempo_and_no_flag() -> None:
    from vqeval.results import STATUS_ERROR

    bad = VideoResult(path="m/a.mp4", status=STATUS_ERROR, error="corrupt")
    pt = pair_tempo(result("b/a.mp4", 1.0, 4.0), bad)
    assert pt.tempo is None and pt.motion_ratio is None and pt.pair_flags == ()
    assert pt.reason == "not scored"
