"""LVSA frame rule: the paper's densities, auto interval, rotation and window properties.

The exact key sets of the authors' reference code are checked case by case in
``test_lvsa_reference.py``; these are the properties that hold for any size.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import lvsa
from lvsa.pattern import (
    attention_flops,
    auto_anchor_interval,
    dense_attention_flops,
    frame_pattern,
)


@pytest.mark.parametrize(
    ("frames", "kfi", "reference_density", "published"),
    [(21, 1, 1.0, 1.00), (41, 3, 21 / 41, 0.51), (81, 6, 21 / 81, 0.26), (121, 9, 21 / 121, 0.17)],
)
def test_reproduces_reference_wan_densities(frames, kfi, reference_density, published) -> None:
    """Wan 480p, W=3, one sink, reference 21: the reference code's interval and density
    (51.2 / 25.9 / 17.4 % at offset 0, i.e. 21 key frames per query: the paper's
    ~51 / 26 / 17 %); other offsets add at most one key frame per query (the sink is then
    no longer an anchor)."""
    p0 = frame_pattern(frames, 0, reference_frames=21)
    assert p0.anchor_interval == kfi
    assert abs(p0.density - reference_density) < 1e-12
    assert abs(p0.density - published) < 0.005
    for step in range(kfi):
        p = frame_pattern(frames, step, reference_frames=21)
        assert reference_density <= p.density <= reference_density + 1 / frames + 1e-12


def test_auto_interval_values() -> None:
    assert auto_anchor_interval(21) == 1
    assert auto_anchor_interval(41) == 3
    assert auto_anchor_interval(81) == 6
    assert auto_anchor_interval(121) == 9
    assert auto_anchor_interval(33, reference_frames=33) == 1
    # HunyuanVideo 1.5 just past its horizon is sparse (the fallback interval applies)
    for t in range(34, 49):
        assert auto_anchor_interval(t, reference_frames=33) == 2
        assert not frame_pattern(t, reference_frames=33).dense
    # a larger budget means denser anchors; a budget covering T is dense
    assert auto_anchor_interval(121, scale=2.0) < auto_anchor_interval(121)
    assert auto_anchor_interval(41, scale=2.0) == 1
    with pytest.raises(ValueError):
        auto_anchor_interval(41, scale=0)


def test_anchor_interval_override_and_mask_shape() -> None:
    p = frame_pattern(30, 7, anchor_interval=4, window=2)
    assert p.anchor_interval == 4 and p.offset == 3
    # (3 + 4i) mod 30 for i = 0..7: the grid wraps (31 -> 1)
    assert p.anchors == (1, 3, 7, 11, 15, 19, 23, 27)
    m = p.mask()
    assert m.shape == (30, 30) and m.dtype == torch.bool
    assert m.sum().item() == sum(len(k) for k in p.key_frames)
    assert abs(p.density - m.double().mean().item()) < 1e-12


def test_flop_accounting() -> None:
    p = frame_pattern(41)
    sparse = attention_flops(p, 1560, 12, 128)
    dense = dense_attention_flops(41 * 1560, 12, 128)
    assert abs(sparse / dense - p.density) < 1e-9
    dense_p = frame_pattern(21)
    assert attention_flops(dense_p, 10, 2, 8, text_tokens=5) == dense_attention_flops(215, 2, 8)


frames_st = st.integers(min_value=1, max_value=90)
window_st = st.integers(min_value=0, max_value=4)
sinks_st = st.integers(min_value=0, max_value=2)
kfi_st = st.integers(min_value=1, max_value=12)


@settings(max_examples=150, deadline=None)
@given(frames_st, st.integers(0, 60), window_st, sinks_st, kfi_st)
def test_every_query_sees_sinks_anchors_and_itself(t, step, w, sinks, kfi) -> None:
    """Sinks and anchors for every query; itself too unless W = 0 (anchors only)."""
    p = frame_pattern(t, step, window=w, sinks=sinks, anchor_interval=kfi)
    for f, keys in enumerate(p.key_frames):
        assert keys, "every query frame has keys"
        assert set(range(min(sinks, t))) <= set(keys)
        assert set(p.anchors) <= set(keys)
        assert list(keys) == sorted(set(keys))
        if w > 0:
            assert f in keys
        else:
            assert set(keys) == p.global_frames


@settings(max_examples=150, deadline=None)
@given(frames_st, st.integers(0, 60), window_st, kfi_st)
def test_anchor_count_is_the_same_at_every_offset(t, step, w, kfi) -> None:
    """The anchor grid wraps modulo T: ceil(T / kfi) distinct periodic anchors."""
    p = frame_pattern(t, step, window=w, anchor_interval=kfi)
    k = p.anchor_interval
    assert len(p.anchors) == -(-t // k)
    assert set(p.anchors) == {(p.offset + i * k) % t for i in range(-(-t // k))}


@settings(max_examples=150, deadline=None)
@given(frames_st, st.integers(0, 60), st.integers(1, 4), sinks_st, kfi_st)
def test_window_is_shifted_and_holds_2w_plus_1_free_frames(t, step, w, sinks, kfi) -> None:
    """The window is one contiguous span around the query that contains the shifted
    start span and exactly min(2W+1, T - |G|) frames outside the global frames G,
    also for a query frame that is itself an anchor."""
    p = frame_pattern(t, step, window=w, sinks=sinks, anchor_interval=kfi)
    glob = p.global_frames
    need = min(2 * w + 1, t - len(glob))
    for f in range(t):
        lo, hi = p.window_range(f)
        start_lo = max(0, min(f - w, t - 1 - 2 * w))
        start_hi = min(t - 1, max(f + w, 2 * w))
        assert lo <= start_lo <= f <= start_hi <= hi
        assert start_hi - start_lo + 1 == min(2 * w + 1, t)
        free = [j for j in range(lo, hi + 1) if j not in glob]
        assert len(free) == need
        assert set(p.key_frames[f]) == glob | set(range(lo, hi + 1))


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 90), kfi_st, st.integers(0, 30))
def test_rotation_covers_every_frame_over_kfi_steps(t, kfi, start) -> None:
    kfi = min(kfi, t)
    seen: set[int] = set()
    for s in range(start, start + kfi):
        seen |= set(frame_pattern(t, s, anchor_interval=kfi).anchors)
    assert seen == set(range(t))


def test_rotation_off_keeps_offset_zero() -> None:
    cfg = lvsa.LVSAConfig(rotate=False)
    assert {cfg.pattern(121, s).offset for s in range(20)} == {0}
    assert {lvsa.LVSAConfig().pattern(121, s).offset for s in range(20)} == set(range(9))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 60), st.integers(1, 40), st.integers(0, 20))
def test_dense_within_training_horizon(ref, t, step) -> None:
    p = frame_pattern(t, step, reference_frames=ref)
    if t <= max(2, ref):
        assert p.dense and p.density == 1.0
        assert bool(p.mask().all())
    else:
        assert p.density <= 1.0


def test_sparse_beyond_horizon_is_sparse() -> None:
    assert not frame_pattern(81).dense
    assert frame_pattern(81).density < 0.3


def test_groups_partition_queries() -> None:
    p = frame_pattern(50, 2, anchor_interval=5)
    qs = sorted(q for grp, _ in p.groups for q in grp)
    assert qs == list(range(50))
    for grp, keys in p.groups:
        for q in grp:
            assert p.key_frames[q] == keys


def test_describe_prints_the_pattern() -> None:
    text = lvsa.LVSAConfig().pattern(121, 4).describe()
    assert "T=121" in text and "kfi=9" in text and "offset=4" in text
    assert "density 17.4 %" in text
    assert "anchors (14): 0,4,13,22,31,40,49,58,67,76,85,94,103,112\n" in text
    assert "mask" not in text  # no grid above 64 frames unless asked
    small = frame_pattern(12, 0, window=1, anchor_interval=4).describe()
    rows = [r for r in small.splitlines() if r.startswith("   ")]
    assert rows[4].split()[-1] == "#.####..#..."  # query 4: sink 0, anchors 4 8, window 2-5
    assert "(anchors only)" in frame_pattern(12, 0, window=0, anchor_interval=4).describe()


def test_paged_layout_merges_runs_of_query_frames_with_one_key_set() -> None:
    """One FlashInfer request per run of consecutive query frames sharing their keys
    (Wan 6x, offset 0: 101 runs of 121 frames), covering every frame once, in order."""
    plan = lvsa.get_plan(frame_pattern(121, 0), lvsa.Geometry(121, 1560))
    runs = plan.query_runs
    assert len(runs) == 101 and sum(n for _, n in runs) == 121
    assert [a for a, _ in runs] == sorted(a for a, _ in runs) and runs[0][0] == 0
    lay = plan.paged_layout(1560, 0)
    lengths = (lay["qo_indptr"][1:] - lay["qo_indptr"][:-1]).tolist()
    assert lengths == [1560 * n for _, n in runs]
    kf = plan.pattern.key_frames
    for a, n in runs:
        assert all(kf[f] == kf[a] for f in range(a, a + n))
        assert a + n == 121 or kf[a + n] != kf[a]
