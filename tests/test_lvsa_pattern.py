"""LVSA frame rule: published densities, auto interval, rotation and window properties."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lvsa.pattern import (
    attention_flops,
    auto_anchor_interval,
    dense_attention_flops,
    frame_pattern,
)


@pytest.mark.parametrize(
    ("frames", "published"),
    [(21, 1.00), (41, 0.51), (81, 0.26), (121, 0.17)],
)
def test_reproduces_published_wan_densities(frames: int, published: float) -> None:
    """Wan 480p, W=3, one sink, reference 21: density within 2 points at every offset."""
    p0 = frame_pattern(frames, 0, reference_frames=21)
    for step in range(p0.anchor_interval):
        d = frame_pattern(frames, step, reference_frames=21).density
        assert abs(d - published) <= 0.02, (frames, step, d)


def test_auto_interval_values() -> None:
    assert auto_anchor_interval(21) == 1
    assert auto_anchor_interval(41) == 3
    assert auto_anchor_interval(81) == 6
    assert auto_anchor_interval(121) == 10
    assert auto_anchor_interval(33, reference_frames=33) == 1
    # a larger budget means denser anchors
    assert auto_anchor_interval(121, scale=2.0) < auto_anchor_interval(121)


def test_anchor_interval_override_and_mask_shape() -> None:
    p = frame_pattern(30, 7, anchor_interval=4, window=2)
    assert p.anchor_interval == 4 and p.offset == 3
    assert p.anchors == tuple(range(3, 30, 4))
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
def test_every_query_has_itself_sinks_and_anchors(t, step, w, sinks, kfi) -> None:
    p = frame_pattern(t, step, window=w, sinks=sinks, anchor_interval=kfi)
    for f, keys in enumerate(p.key_frames):
        assert keys, "every query frame has keys"
        assert f in keys
        assert set(range(min(sinks, t))) <= set(keys)
        assert set(p.anchors) <= set(keys)
        assert list(keys) == sorted(set(keys))


@settings(max_examples=150, deadline=None)
@given(frames_st, st.integers(0, 60), window_st, sinks_st, kfi_st)
def test_window_holds_2w_plus_1_non_anchor_frames(t, step, w, sinks, kfi) -> None:
    """W non-global frames on each side of the query (fewer only at the video ends)."""
    p = frame_pattern(t, step, window=w, sinks=sinks, anchor_interval=kfi)
    glob = p.global_frames
    for f in range(t):
        win = p.window_frames(f)
        left = [j for j in win if j < f]
        right = [j for j in win if j > f]
        assert not (set(left) | set(right)) & glob
        avail_left = [j for j in range(f) if j not in glob]
        avail_right = [j for j in range(f + 1, t) if j not in glob]
        assert len(left) == min(w, len(avail_left))
        assert len(right) == min(w, len(avail_right))
        # nearest ones: widened outward only past global frames
        assert left == avail_left[len(avail_left) - len(left) :]
        assert right == avail_right[: len(right)]
        if f not in glob and len(avail_left) >= w and len(avail_right) >= w:
            assert len([j for j in win if j not in glob]) == 2 * w + 1


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 90), kfi_st, st.integers(0, 30))
def test_rotation_covers_every_frame_over_kfi_steps(t, kfi, start) -> None:
    kfi = min(kfi, t)
    seen: set[int] = set()
    for s in range(start, start + kfi):
        seen |= set(frame_pattern(t, s, anchor_interval=kfi).anchors)
    assert seen == set(range(t))


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 60), st.integers(1, 40), st.integers(0, 20))
def test_dense_within_training_horizon(ref, t, step) -> None:
    p = frame_pattern(t, step, reference_frames=ref)
    if t <= ref:
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
