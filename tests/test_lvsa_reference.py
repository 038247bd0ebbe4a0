"""``lvsa.pattern`` against the authors' reference code (gglorian/LVSA).

* ``patterns.json``: key frames produced by running the reference code (interval and
  every query frame's key frames per offset). Read from ``$LVSA_REFERENCE_PATTERNS`` or
  ``<repo>/../shared/lvsa_reference/patterns.json``; skipped when absent.
* Hand-computed cases from the reference's rules (``../shared/RESEARCH.md`` section 1a),
  written out here so they run everywhere; each one is a case the earlier rule got wrong.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import lvsa
from lvsa.pattern import auto_anchor_interval, frame_pattern

REPO = Path(__file__).resolve().parents[1]


def reference_patterns_path() -> Path | None:
    """``$LVSA_REFERENCE_PATTERNS`` or ``<repo>/../shared/lvsa_reference/patterns.json``."""
    env = os.environ.get("LVSA_REFERENCE_PATTERNS")
    cand = Path(env) if env else REPO.parent / "shared" / "lvsa_reference" / "patterns.json"
    return cand if cand.is_file() else None


def _cases() -> list:
    path = reference_patterns_path()
    if path is None:
        reason = "../shared/lvsa_reference/patterns.json not present ($LVSA_REFERENCE_PATTERNS)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="absent")]
    cases = json.loads(path.read_text())["cases"]
    return [
        pytest.param(
            c,
            id=f"R{c['reference_frames']}-T{c['frames']}-W{c['window']}-n{c['sinks']}"
            f"-s{c['sparsity_scale']:g}-o{c['offset']}",
        )
        for c in cases
    ]


@pytest.mark.parametrize("case", _cases())
def test_matches_reference_code(case: dict) -> None:
    """Interval, offset, every query frame's key frames and the density, exactly."""
    kw = dict(
        window=case["window"],
        sinks=case["sinks"],
        reference_frames=case["reference_frames"],
        scale=case["sparsity_scale"],
    )
    kfi = auto_anchor_interval(case["frames"], **kw)
    assert kfi == case["anchor_interval"]
    p = frame_pattern(case["frames"], case["offset"], **kw)
    assert (p.anchor_interval, p.offset) == (case["anchor_interval"], case["offset"])
    got = [list(k) for k in p.key_frames]
    bad = [f for f, (a, b) in enumerate(zip(got, case["key_frames"])) if a != b]
    assert len(got) == len(case["key_frames"])
    assert not bad, f"query {bad[0]}: got {got[bad[0]]}, reference {case['key_frames'][bad[0]]}"
    assert abs(p.density - case["density"]) < 1e-6


def test_reference_file_covers_wan_and_hunyuan() -> None:
    path = reference_patterns_path()
    if path is None:
        pytest.skip("../shared/lvsa_reference/patterns.json not present")
    cases = json.loads(path.read_text())["cases"]
    assert len(cases) >= 100
    assert {c["reference_frames"] for c in cases} >= {21, 33}
    # every offset of each (R, T, W) configuration is present
    for c in cases:
        same = [
            d["offset"]
            for d in cases
            if (d["reference_frames"], d["frames"], d["window"])
            == (c["reference_frames"], c["frames"], c["window"])
        ]
        assert sorted(same) == list(range(c["anchor_interval"]))


# --------------------------------------------------------------- hand-computed cases


def test_wan_6x_interval_is_9_not_10() -> None:
    """R' = 21, target = 21 - 7 = 14 global frames; frame 0 counts once:
    |{0, 9, ..., 117}| = 14 >= 14 but |{0, 10, ..., 120}| = 13, so strict = 9;
    fallback = ceil(max(121 - 7, 21 - 7) / 14) = 9."""
    assert auto_anchor_interval(121, reference_frames=21, window=3, sinks=1) == 9
    p = frame_pattern(121, 0)
    assert p.anchors == tuple(range(0, 121, 9))
    assert all(len(k) == 21 for k in p.key_frames)  # 21 of 121 frames: 17.4 %
    assert round(100 * p.density, 1) == 17.4


def test_hunyuan_just_past_horizon_uses_the_fallback_interval() -> None:
    """R = 33, T = 34: target = 26 needs strict = 1 (dense), but the fallback is
    ceil(max(34 - 7, 33 - 7) / 26) = 2, so the reference runs sparse at kfi 2."""
    assert auto_anchor_interval(34, reference_frames=33) == 2
    p = frame_pattern(34, 0, reference_frames=33)
    assert p.anchors == tuple(range(0, 34, 2)) and not p.dense


def test_anchor_grid_wraps_modulo_t() -> None:
    """T = 10, kfi = 4: i = 0..ceil(10/4)-1 = 0..2, so offset 3 gives {3, 7, 11 mod 10 = 1}."""
    assert frame_pattern(10, 3, anchor_interval=4).anchors == (1, 3, 7)
    assert [frame_pattern(10, o, anchor_interval=4).anchors for o in range(4)] == [
        (0, 4, 8),
        (1, 5, 9),
        (0, 2, 6),
        (1, 3, 7),
    ]


def test_window_is_shifted_inward_at_the_ends() -> None:
    """T = 12, W = 2, one sink, a single anchor at 0 (kfi = 12), so G = {0}.
    Query 0: start [max(0, min(-2, 7)), min(11, max(2, 4))] = [0, 4] holds 4 frames
    outside G, needs min(5, 11) = 5: cannot grow left, grows right -> [0, 5].
    Query 11: [max(0, min(9, 7)), 11] = [7, 11]. Query 5: [3, 7]."""
    p = frame_pattern(12, 0, window=2, anchor_interval=12)
    assert p.key_frames[0] == (0, 1, 2, 3, 4, 5)
    assert p.key_frames[11] == (0, 7, 8, 9, 10, 11)
    assert p.key_frames[5] == (0, 3, 4, 5, 6, 7)


def test_anchor_query_frame_gets_2w_plus_1_free_frames_growing_left_first() -> None:
    """T = 12, W = 1, kfi = 4, offset 0: G = {0, 4, 8}; need min(3, 12 - 3) = 3.
    Query 4 (an anchor): [3, 5] holds {3, 5}; grow left -> [2, 5] holds {2, 3, 5}.
    Query 3: [2, 4] holds {2, 3}; grow left -> [1, 4] holds {1, 2, 3}."""
    p = frame_pattern(12, 0, window=1, anchor_interval=4)
    assert p.key_frames[4] == (0, 2, 3, 4, 5, 8)
    assert p.key_frames[3] == (0, 1, 2, 3, 4, 8)


def test_window_zero_means_anchors_and_sinks_only() -> None:
    """W = 0: no window; a query that is not an anchor does not see itself."""
    p = frame_pattern(12, 1, window=0, anchor_interval=4)
    assert set(p.key_frames) == {(0, 1, 5, 9)}
    cfg = lvsa.LVSAConfig(window=0, anchor_interval=4)
    assert cfg.pattern(12, 1) == p


def test_sparsity_scale_and_fixed_interval() -> None:
    """s = 0.5: R' = floor(21 * 0.5) = 10, target = 10 - 7 = 3, strict = 20
    (ceil(41 / 20) = 3), fallback = ceil(34 / 3) = 12 -> kfi 20. s = 2: R' = 42 >= 41,
    dense. A fixed interval is used as given."""
    assert auto_anchor_interval(41, scale=0.5) == 20
    assert frame_pattern(41, scale=2.0).dense
    assert lvsa.LVSAConfig(scale=0.5).pattern(41).anchor_interval == 20
    assert lvsa.LVSAConfig(anchor_interval=5).pattern(121, 7).anchors == tuple(
        sorted((2 + 5 * i) % 121 for i in range(25))
    )
