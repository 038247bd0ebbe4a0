"""Evidence: VQeval separates failures from healthy clips on labelled videos.

``data/samples`` (synthetic, exact labels) must be separated almost perfectly
(AUROC >= 0.98) and loop periods found within 10 %; the real generated videos
in ``../shared/realvideos`` (or ``$VQEVAL_REALVIDEOS``), when present, with
AUROC >= 0.90. Every clip is scored end to end with the default configuration
(``vqeval.score_video``). ``benchmarks/evidence.py`` prints the same numbers
per clip and per class into ``docs/evidence.md``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from vqeval.metrics.stats import auroc

import vqeval
from tests.conftest import SAMPLES, realvideos_dir, realvideos_svi_dir
from vqeval.dimensions import registry

#: Issue 26's floors on the SVI clips: every collapse caught and the
#: composite AUROC against the healthy ones.
COLLAPSES_CAUGHT = 4
SVI_AUROC = 0.95


def _score_folder(root: Path) -> list[tuple[dict[str, Any], Any]]:
    labels = json.loads((root / "labels.json").read_text())
    return [
        ({**lab, "file": name}, vqeval.score_video(root / name, raise_errors=True))
        for name, lab in sorted(labels.items())
        if (root / name).exists()
    ]


@pytest.fixture(scope="module")
def samples() -> list[tuple[dict[str, Any], Any]]:
    if not (SAMPLES / "labels.json").is_file():
        pytest.skip("data/samples/labels.json missing (run data/make_samples.py)")
    rows = _score_folder(SAMPLES)
    assert len(rows) >= 20
    return rows


@pytest.fixture(scope="module")
def real() -> list[tuple[dict[str, Any], Any]]:
    d = realvideos_dir()
    if d is None:
        pytest.skip("../shared/realvideos not present (only on the project's machines)")
    return _score_folder(d)


@pytest.fixture(scope="module")
def svi() -> list[tuple[dict[str, Any], Any]]:
    d = realvideos_svi_dir()
    if d is None:
        pytest.skip("../shared/realvideos_svi not present (only on the project's machines)")
    return _score_folder(d)


def _split(rows, positive, value):
    pos = [value(r) for lab, r in rows if positive(lab)]
    neg = [value(r) for lab, r in rows if not positive(lab)]
    return pos, neg


def test_samples_failure_vs_healthy_composite(samples) -> None:
    # badness = -composite: failures must score lower than healthy clips
    pos, neg = _split(samples, lambda lab: lab["failure"], lambda r: -r.composite)
    assert len(pos) >= 10 and len(neg) >= 10
    assert auroc(pos, neg) >= 0.98


def test_samples_loop_vs_rest_repetition(samples) -> None:
    pos, neg = _split(samples, lambda lab: lab["group"] == "loop", lambda r: -r.score("repetition"))
    assert len(pos) >= 4
    assert auroc(pos, neg) >= 0.98


def _held_picture(lab: dict[str, Any]) -> bool:
    """The sample's generator holds one picture (no camera travel, zoom or
    sprites): its content is still whatever else (flicker) it does."""
    from tests.test_samples import ms

    spec = ms.spec_by_name(Path(lab["file"]).stem) if "file" in lab else None
    return spec is not None and spec.speed == 0 and spec.zoom_wobble == 0 and not spec.sprites


def test_samples_freeze_vs_rest_freeze_dimension(samples) -> None:
    if "freeze" not in registry():
        pytest.skip("the 'freeze' dimension is not registered yet")
    # a freeze is content that stops changing: the freeze group, and clips
    # that flicker over a held picture (pixels move, content does not)
    pos, neg = _split(
        samples,
        lambda lab: lab["group"] == "freeze" or _held_picture(lab),
        lambda r: -r.score("freeze"),
    )
    assert len(pos) >= 4
    assert auroc(pos, neg) >= 0.98


def test_samples_loop_period_within_10_percent(samples) -> None:
    loops = [(lab, r) for lab, r in samples if lab.get("loop_period_s")]
    assert loops
    for lab, r in loops:
        assert "loop" in r.flags, r.path
        truth = lab["loop_period_s"]
        assert r.loop_period_s == pytest.approx(truth, rel=0.10), r.path


def test_samples_healthy_raise_no_flag(samples) -> None:
    for lab, r in samples:
        if not lab["failure"]:
            assert r.flags == () and r.verdict != "failed", (r.path, r.flags)


def _auroc_vs_healthy(rows, failure_labels: tuple[str, ...]) -> tuple[float, int, int]:
    """Composite AUROC of clips labelled ``failure_labels`` below healthy
    ones (other labels, e.g. ``slow``, take no part)."""
    pos = [-r.composite for lab, r in rows if lab["label"] in failure_labels]
    neg = [-r.composite for lab, r in rows if lab["label"] == "healthy"]
    return auroc(pos, neg), len(pos), len(neg)


@pytest.mark.slow
@pytest.mark.realvideos
def test_realvideos_failure_vs_healthy_composite(real) -> None:
    # issue 26's floor: healthy against loop and frozen (a `slow` clip is a
    # failure only against its reference: vqeval compare)
    a, n_pos, n_neg = _auroc_vs_healthy(real, ("loop", "frozen"))
    assert n_pos >= 3 and n_neg >= 3
    assert a >= 0.97


@pytest.mark.slow
@pytest.mark.realvideos
def test_realvideos_healthy_clips_pass_and_loops_are_caught(real) -> None:
    # floors: at most 1 healthy clip failed, every loop caught (verdict "failed")
    healthy = [r for lab, r in real if lab["label"] == "healthy"]
    loops = [r for lab, r in real if lab["label"] == "loop"]
    assert len(healthy) >= 3 and loops
    assert sum(r.verdict == "failed" for r in healthy) <= 1
    assert all(r.verdict == "failed" and "loop" in r.flags for r in loops)


@pytest.mark.slow
@pytest.mark.realvideos
def test_realvideos_freezes_caught_and_explained(real) -> None:
    # every freeze caught; a caught failure says from when and why
    frozen = [r for lab, r in real if lab["label"] == "frozen"]
    assert frozen and all(r.verdict == "failed" for r in frozen)
    for _lab, r in real:
        d = {fd.flag: fd for fd in r.flag_details}
        assert set(r.flags) <= set(d), r.path
        for fd in d.values():
            assert fd.reason and fd.start_s is not None, (r.path, fd)


@pytest.mark.slow
@pytest.mark.realvideos
def test_svi_healthy_pass_drift_and_collapse_caught(svi) -> None:
    # issue 26's floors on the Stable Video Infinity clips
    a, n_pos, n_neg = _auroc_vs_healthy(svi, ("drift", "collapse"))
    assert n_pos >= 3 and n_neg >= 3
    assert a >= SVI_AUROC
    healthy = [r for lab, r in svi if lab["label"] == "healthy"]
    drift = [r for lab, r in svi if lab["label"] == "drift"]
    collapse = [r for lab, r in svi if lab["label"] == "collapse"]
    assert sum(r.verdict == "failed" for r in healthy) <= 1
    caught = [r for r in drift if "drift" in r.flags or r.verdict == "failed"]
    assert len(caught) >= len(drift) - 1
    assert sum(r.verdict == "failed" for r in collapse) >= COLLAPSES_CAUGHT


def test_auroc_known_answers() -> None:
    assert auroc([3, 4, 5], [0, 1, 2]) == 1.0
    assert auroc([0, 1], [2, 3]) == 0.0
    assert auroc([1, 1], [1, 1]) == 0.5
    assert auroc([2, 0], [1]) == 0.5
    assert auroc([1.0], []) != auroc([1.0], [])  # nan when a class is empty
