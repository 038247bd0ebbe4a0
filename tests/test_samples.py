"""Tests of the embedded sample clips (``data/samples``) and their generator.

Fast by design (a few seconds): the stored clips are only decoded, and the generator renders a
handful of clips in memory without encoding.
"""

from __future__ import annotations

import json
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
LABELS = SAMPLES / "labels.json"


ms = load_script("data/make_samples.py", "vqeval_make_samples")


@pytest.fixture(scope="module")
def labels() -> dict[str, dict]:
    """The committed ground truth, ``labels.json``."""
    return json.loads(LABELS.read_text())


@lru_cache(maxsize=8)
def _render(name: str) -> np.ndarray:
    """Cached in-memory render of the clip called ``name`` (read-only)."""
    frames = ms.render_clip(ms.spec_by_name(name))
    frames.setflags(write=False)
    return frames


def _mean_abs(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 arrays in grey levels (0-255)."""
    return float(np.abs(a.astype(np.float32) - b.astype(np.float32)).mean())


# ---------------------------------------------------------------------------- labels vs files


def test_labels_match_specs(labels: dict[str, dict]) -> None:
    expected = {f"{s.name}.mp4": ms.clip_labels(s) for s in ms.SPECS}
    assert labels == expected


def test_every_class_has_three_clips(labels: dict[str, dict]) -> None:
    counts = Counter(rec["class"] for rec in labels.values())
    assert set(counts) == set(ms.CLASS_GROUP)
    assert min(counts.values()) >= 3
    for rec in labels.values():
        assert rec["group"] == ms.CLASS_GROUP[rec["class"]]
        assert rec["failure"] == (rec["group"] != "healthy")
        if rec["group"] == "loop":
            assert rec["loop_period_frames"] >= 2
            assert rec["loop_period_s"] == pytest.approx(rec["loop_period_frames"] / rec["fps"])
            assert rec["frames"] >= 2 * rec["loop_period_frames"]
        else:
            assert rec["loop_period_s"] is None and rec["loop_period_frames"] is None
        if rec["class"] == "decay":
            duration = rec["frames"] / rec["fps"]
            assert 0.4 <= 1.0 - rec["freeze_start_s"] / duration <= 0.6
        if rec["class"] == "frozen":
            assert rec["freeze_start_s"] < 1.0


def test_files_exist_and_decode(labels: dict[str, dict]) -> None:
    av = pytest.importorskip("av")
    mp4s = sorted(p.name for p in SAMPLES.glob("*.mp4"))
    assert mp4s == sorted(labels)
    total = 0
    for fname, rec in labels.items():
        path = SAMPLES / fname
        total += path.stat().st_size
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            assert stream.codec_context.name == "h264"
            assert Fraction(stream.average_rate) == rec["fps"], fname
            n = 0
            for frame in container.decode(stream):
                assert (frame.width, frame.height) == (ms.WIDTH, ms.HEIGHT)
                n += 1
        assert n == rec["frames"], fname
    assert total < 4 * 1024 * 1024


def test_encoded_clip_matches_render() -> None:
    av = pytest.importorskip("av")
    spec = ms.spec_by_name("loop_coffee")
    frames = _render(spec.name)
    with av.open(str(SAMPLES / f"{spec.name}.mp4")) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
    assert decoded.shape == frames.shape
    assert _mean_abs(decoded, frames) < 4.0  # H.264 at crf 25, same colour order


# ---------------------------------------------------------------------------- generator


def test_render_is_deterministic() -> None:
    spec = ms.spec_by_name("loop_coffee")
    a = ms.render_clip(spec)
    b = _render(spec.name)
    assert a.dtype == np.uint8
    assert a.shape == (spec.n_frames, ms.HEIGHT, ms.WIDTH, 3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["loop_coffee", "pingpong_brick"])
def test_loop_ground_truth(name: str) -> None:
    spec = ms.spec_by_name(name)
    frames = _render(name)
    p = spec.period_frames
    assert p is not None
    for t in (0, 3, p - 1):
        assert _mean_abs(frames[t], frames[t + p]) < 2.0
    # Half a period apart, the content has moved: clearly different frames.
    assert _mean_abs(frames[1], frames[1 + p // 2]) > 8.0


def test_frozen_and_slow_ground_truth() -> None:
    frozen = ms.render_clip(ms.spec_by_name("frozen_coffee_jitter"))
    d_frozen = np.abs(np.diff(frozen.astype(np.float32), axis=0)).mean()
    assert d_frozen < 1.0
    slow = ms.render_clip(ms.spec_by_name("slow_astronaut"))
    d_slow = np.abs(np.diff(slow.astype(np.float32), axis=0)).mean(axis=(1, 2, 3))
    assert d_slow.min() > 1.0  # never stops
    assert d_slow.mean() > 2.0 * d_frozen


def test_decay_freezes_after_label() -> None:
    spec = ms.spec_by_name("decay_rocket_early")
    frames = ms.render_clip(spec).astype(np.float32)
    d = np.abs(np.diff(frames, axis=0)).mean(axis=(1, 2, 3))
    k = int(np.ceil(spec.freeze_start_s * spec.fps))
    assert d[k:].max() < 1.0
    assert d[: k // 3].min() > 2.0
