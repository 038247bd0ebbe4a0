"""LVSA plan layouts and backends against dense SDPA with the equivalent boolean mask."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import lvsa
from lvsa.backends import (
    dense_attention,
    flex_attention_lvsa,
    lvsa_attention,
    portable_attention,
    resolve_backend,
)
from lvsa.backends import flashinfer as fi_backend
from lvsa.backends.flashinfer import (
    choose_layout,
    flashinfer_available,
    layout_tiles,
    merge_partial,
)
from lvsa.pattern import frame_pattern
from lvsa.plan import Geometry, get_plan

# (frames, tokens/frame, text tokens, text first, step, kfi, window, text valid per sample)
CASES = [
    (12, 20, 0, False, 1, 3, 1, None),
    (12, 20, 7, False, 2, 3, 1, (7, 3)),
    (10, 33, 9, True, 0, 4, 1, (5, 9)),
    (12, 16, 0, False, 0, 3, 2, None),
    (16, 12, 40, False, 5, 5, 3, (40, 40)),
    (7, 130, 3, True, 1, 3, 1, None),
]


def _reference(q, k, v, plan, valid):
    outs = []
    for b in range(q.shape[0]):
        m = plan.token_mask(valid[b] if valid else None).to(q.device)
        o = F.scaled_dot_product_attention(
            q[b : b + 1].transpose(1, 2),
            k[b : b + 1].transpose(1, 2),
            v[b : b + 1].transpose(1, 2),
            attn_mask=m,
        )
        outs.append(o.transpose(1, 2))
    return torch.cat(outs)


def _setup(case, seed=0, heads=2, dim=8):
    t, c, text, first, step, kfi, w, valid = case
    g = Geometry(t, c, text, first, heads=heads, head_dim=dim)
    plan = get_plan(frame_pattern(t, step, window=w, anchor_interval=kfi), g)
    gen = torch.Generator().manual_seed(seed)
    b = len(valid) if valid else 2
    q, k, v = (torch.randn(b, g.seq_len, heads, dim, generator=gen) for _ in range(3))
    return plan, q, k, v, valid


@pytest.mark.parametrize("case", CASES)
def test_portable_matches_masked_sdpa(case) -> None:
    plan, q, k, v, valid = _setup(case)
    assert not plan.dense
    ref = _reference(q, k, v, plan, valid)
    out = portable_attention(q, k, v, plan, valid)
    assert (out - ref).abs().max().item() <= 1e-5


@pytest.mark.parametrize("case", CASES[:4])
def test_flex_eager_matches_masked_sdpa(case) -> None:
    plan, q, k, v, valid = _setup(case, seed=1)
    ref = _reference(q, k, v, plan, valid)
    out = flex_attention_lvsa(q, k, v, plan, valid, compiled=False, block=64)
    assert (out - ref).abs().max().item() <= 1e-5


@pytest.mark.compile  # compiled FlexAttention on CPU: ~60 s cold build
def test_flex_compiled_cpu_matches_masked_sdpa() -> None:
    plan, q, k, v, valid = _setup((8, 40, 24, False, 1, 3, 1, (20, 24)), heads=2, dim=16)
    ref = _reference(q, k, v, plan, valid)
    out = flex_attention_lvsa(q, k, v, plan, valid, compiled=True, block=128)
    assert (out - ref).abs().max().item() <= 1e-5


@pytest.mark.parametrize("block", [16, 64, 128])
@pytest.mark.parametrize("case", CASES)
def test_flex_block_lists_agree_with_token_mask(case, block) -> None:
    """Full blocks are all-allowed, skipped blocks all-masked (what the compiled kernel uses)."""
    plan, *_, valid = _setup(case)
    rows = valid or (plan.geometry.text_tokens,)
    lists = plan.flex_blocks(block, tuple(rows))
    s = plan.geometry.seq_len
    nb = -(-s // block)
    for r, tv in enumerate(rows):
        m = torch.zeros(nb * block, nb * block, dtype=torch.bool)
        m[:s, :s] = plan.token_mask(tv)
        blocks = m.view(nb, block, nb, block)
        for qb in range(nb):
            full = set(
                lists["full_kv_indices"][r, 0, qb, : lists["full_kv_num_blocks"][r, 0, qb]].tolist()
            )
            part = set(lists["kv_indices"][r, 0, qb, : lists["kv_num_blocks"][r, 0, qb]].tolist())
            assert not full & part
            for kb in range(nb):
                tile = blocks[qb, :, kb, :]
                if kb in full:
                    assert bool(tile.all())
                elif kb not in part:
                    assert not bool(tile.any())


def _stored_positions(plan, tv):
    """Sequence position of each token in the paged key buffer (video, then valid text)."""
    g = plan.geometry
    store = list(range(g.video_start, g.video_start + g.video_tokens))
    return store + list(range(g.text_start, g.text_start + tv))


def _request_keys(lay, store):
    """Per request: (first query row, rows, key sequence positions)."""
    qo, kvp, idx, last = (
        lay[n].tolist() for n in ("qo_indptr", "kv_indptr", "kv_indices", "last_page_len")
    )
    page = lay["page"]
    for r in range(len(qo) - 1):
        pages = idx[kvp[r] : kvp[r + 1]]
        cols = []
        for n, p in enumerate(pages):
            length = last[r] if n == len(pages) - 1 else page
            cols += store[p * page : p * page + length]
        yield qo[r], qo[r + 1] - qo[r], cols


def _coverage(plan, lay, tv, rows=None):
    """How often the layout computes each (query, key) pair; ``rows`` maps the layout's
    query rows to sequence positions (identity when None)."""
    g = plan.geometry
    got = torch.zeros(g.seq_len, g.seq_len, dtype=torch.int32)
    for start, n, cols in _request_keys(lay, _stored_positions(plan, tv)):
        seq = torch.arange(start, start + n) if rows is None else rows[start : start + n]
        got[seq[:, None], torch.tensor(cols, dtype=torch.int64)[None, :]] += 1
    return got


@pytest.mark.parametrize("case", CASES)
def test_paged_layout_reproduces_token_mask(case) -> None:
    """FlashInfer requests/pages cover exactly the allowed (query, key) pairs."""
    plan, *_, valid = _setup(case)
    g = plan.geometry
    for tv in set(valid or (g.text_tokens,)):
        got = _coverage(plan, plan.paged_layout(g.tokens_per_frame, tv), tv)
        assert torch.equal(got.bool(), plan.token_mask(tv)) and int(got.max()) == 1


@pytest.mark.parametrize("q_tile", [8, 16, 128])
@pytest.mark.parametrize("case", CASES)
def test_aligned_layout_computes_each_allowed_pair_once(case, q_tile) -> None:
    """Main + fix requests of the tile-aligned layout cover every allowed pair exactly
    once (the log-sum-exp merge is exact only then), video requests start on tiles."""
    plan, *_, valid = _setup(case)
    g = plan.geometry
    for tv in set(valid or (g.text_tokens,)):
        lay = plan.aligned_layout(g.tokens_per_frame, tv, q_tile)
        got = _coverage(plan, lay["main"], tv)
        if lay["fix"] is not None:
            got += _coverage(plan, lay["fix"], tv, lay["fix_rows"])
        assert torch.equal(got.bool(), plan.token_mask(tv)) and int(got.max()) == 1
        assert len(set(lay["fix_rows"].tolist())) == len(lay["fix_rows"])
        starts = lay["main"]["qo_indptr"].tolist()
        for s in starts:
            if g.video_start <= s < g.video_start + g.video_tokens:
                assert (s - g.video_start) % q_tile == 0


def _emulated_kernel(q, k, v, plan, lay, tv, rows=None):
    """What FlashInfer's paged prefill returns for one sample: output and base-2 LSE."""
    store = _stored_positions(plan, tv)
    n = q.shape[0] if rows is None else len(rows)
    out = q.new_zeros(n, *q.shape[1:])
    lse = torch.full((n, q.shape[1]), float("-inf"))
    for start, count, cols in _request_keys(lay, store):
        seq = torch.arange(start, start + count) if rows is None else rows[start : start + count]
        cols_t = torch.tensor(cols, dtype=torch.int64)
        logits = torch.einsum("qhd,khd->hqk", q[seq], k[cols_t]) * q.shape[-1] ** -0.5
        out[start : start + count] = torch.einsum("hqk,khd->qhd", logits.softmax(-1), v[cols_t])
        lse[start : start + count] = (torch.logsumexp(logits, -1) / math.log(2)).T
    return out, lse


@pytest.mark.parametrize("case", CASES)
def test_aligned_layout_merge_equals_masked_sdpa(case) -> None:
    """The backend's two launches + :func:`merge_partial`, with the kernel emulated on
    CPU, equal masked SDPA."""
    plan, q, k, v, valid = _setup(case, heads=2, dim=8)
    g = plan.geometry
    ref = _reference(q, k, v, plan, valid)
    for b in range(q.shape[0]):
        tv = valid[b] if valid else g.text_tokens
        lay = plan.aligned_layout(g.tokens_per_frame, tv, 24)
        assert lay["fix"] is not None
        out, lse = _emulated_kernel(q[b], k[b], v[b], plan, lay["main"], tv)
        rows = lay["fix_rows"]
        out2, lse2 = _emulated_kernel(q[b], k[b], v[b], plan, lay["fix"], tv, rows)
        merge_partial(out, lse, rows, out2, lse2)
        assert (out - ref[b]).abs().max().item() <= 1e-5


def test_choose_layout_prefers_aligned_tiles_for_wan_480p() -> None:
    """Wan 480p at 6x (121 frames of 1560 tokens): the run layout needs 5.5 % more
    (128 x 96) tiles than the pattern's pairs; the aligned one about 0.6 %. The default
    layout ("auto", timed on an H100) picks the aligned one there."""
    plan = get_plan(frame_pattern(121, 0), Geometry(121, 1560))
    assert choose_layout(plan, 1560, 0, "runs")["fix"] is None
    assert fi_backend.DEFAULT_LAYOUT == "auto" == lvsa.LVSAConfig().query_layout
    pairs = sum(len(k) for k in plan.pattern.key_frames) * 1560 * 1560 / (128 * 96)
    runs = layout_tiles(plan.paged_layout(1560, 0), 128, 96)
    lay = choose_layout(plan, 1560, 0)
    assert lay["fix"] is not None
    aligned = layout_tiles(lay["main"], 128, 96) + layout_tiles(lay["fix"], 128, 96)
    assert 1.05 < runs / pairs < 1.06
    assert 1.0 < aligned / pairs < 1.01
    # a dense pattern is one run with nothing to fix: the runs stay
    dense = get_plan(frame_pattern(21, 0), Geometry(21, 1560))
    assert choose_layout(dense, 1560, 0)["fix"] is None
    # "auto" takes whichever layout counts fewer tiles
    for c in (20, 130, 1560):
        p = get_plan(frame_pattern(41, 2), Geometry(41, c))
        cost = {
            m: sum(layout_tiles(x, 128, 96) for x in (lay["main"], lay["fix"]) if x)
            for m in ("runs", "aligned")
            for lay in [choose_layout(p, c, 0, m)]
        }
        picked = choose_layout(p, c, 0, "auto")
        assert (picked["fix"] is not None) == (cost["aligned"] < cost["runs"])
    with pytest.raises(ValueError):
        choose_layout(p, 1560, 0, "tiles")


def test_bsr_layout_matches_frame_mask() -> None:
    plan = get_plan(frame_pattern(20, 3, anchor_interval=4), Geometry(20, 6))
    indptr, indices = plan.bsr()
    m = torch.zeros(20, 20, dtype=torch.bool)
    for r in range(20):
        m[r, indices[indptr[r] : indptr[r + 1]].long()] = True
    assert torch.equal(m, plan.pattern.mask())
    indptr2, indices2 = plan.bsr(block=3)
    assert len(indptr2) == 41 and len(indices2) == 4 * len(indices)


def test_plan_cache_reuses_objects() -> None:
    g = Geometry(41, 10)
    assert get_plan(frame_pattern(41, 0), g) is get_plan(frame_pattern(41, 3), g)
    assert get_plan(frame_pattern(41, 0), g) is not get_plan(frame_pattern(41, 1), g)
    plan = get_plan(frame_pattern(41, 1), g)
    assert plan.paged_layout(10, 0) is plan.paged_layout(10, 0)


@pytest.mark.parametrize("backend", ["portable", "flex", "auto"])
def test_dense_pattern_equals_plain_attention(backend) -> None:
    g = Geometry(6, 10, 5, False, heads=2, head_dim=8)
    plan = get_plan(frame_pattern(6, 2, reference_frames=21), g)
    assert plan.dense
    q, k, v = (torch.randn(2, g.seq_len, 2, 8) for _ in range(3))
    plain = F.scaled_dot_product_attention(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
    ).transpose(1, 2)
    # default: the dense fast path
    assert torch.equal(lvsa_attention(q, k, v, plan, backend=backend), plain)
    # and the sparse kernels themselves agree with it when forced to run
    if backend == "portable":
        out = portable_attention(q, k, v, plan)
    elif backend == "flex":
        out = flex_attention_lvsa(q, k, v, plan, compiled=False, block=32)
    else:
        out = lvsa_attention(q, k, v, plan, backend=backend, dense_fallback=False)
    assert (out - plain).abs().max().item() <= 1e-5


def test_dense_attention_drops_invalid_text_keys() -> None:
    g = Geometry(3, 4, 6, True, heads=1, head_dim=8)
    plan = get_plan(frame_pattern(3, 0), g)
    q, k, v = (torch.randn(2, g.seq_len, 1, 8) for _ in range(3))
    out = dense_attention(q, k, v, g, (2, 6))
    ref = _reference(q, k, v, plan, (2, 6))
    assert (out - ref).abs().max().item() <= 1e-5


def test_backend_resolution_on_cpu() -> None:
    cpu = torch.device("cpu")
    assert resolve_backend("auto", cpu, torch.float32) == "portable"
    assert resolve_backend("flex", cpu, torch.float32) == "flex"
    cuda = torch.device("cuda")
    # tiny test models (head_dim 8-12) never reach FlashInfer or Flex on CUDA
    assert resolve_backend("auto", cuda, torch.bfloat16, head_dim=8) == "portable"


@pytest.mark.skipif(not flashinfer_available(), reason="needs CUDA and flashinfer")
@pytest.mark.parametrize("layout", ["runs", "aligned"])
def test_flashinfer_matches_masked_sdpa(layout, monkeypatch) -> None:
    """The real kernel, both query layouts (aligned on 24-row tiles so that every case
    has boundary tiles to fix and merge)."""
    from lvsa.backends import flashinfer_attention

    monkeypatch.setattr(fi_backend, "Q_TILE", 24)
    for case in CASES:
        plan, q, k, v, valid = _setup(case, heads=2, dim=128)
        q, k, v = (x.cuda().bfloat16() for x in (q, k, v))
        ref = _reference(q.float(), k.float(), v.float(), plan, valid)
        out = flashinfer_attention(q, k, v, plan, valid, layout=layout).float()
        rel = (out - ref).norm() / ref.norm()
        assert rel.item() <= 1e-2


@pytest.mark.parametrize("tile", [5, 10])
def test_paged_layout_with_tiles_covers_same_pairs(tile) -> None:
    """Finer FlashInfer blocks (tiles dividing a frame) describe the same attention."""
    g = Geometry(9, 20, 13, False, heads=1, head_dim=8)
    plan = get_plan(frame_pattern(9, 2, window=1, anchor_interval=3), g)
    coarse = plan.paged_layout(20, 13)
    fine = plan.paged_layout(tile, 13)
    assert fine["num_pages"] == 9 * 20 // tile + -(-13 // tile)
    assert torch.equal(fine["qo_indptr"], coarse["qo_indptr"])
    per = 20 // tile
    lens = (fine["kv_indptr"][1:] - fine["kv_indptr"][:-1]).tolist()
    coarse_lens = (coarse["kv_indptr"][1:] - coarse["kv_indptr"][:-1]).tolist()
    text_pages_fine, text_pages_coarse = -(-13 // tile), 1
    for lf, lc in zip(lens, coarse_lens):
        assert lf - text_pages_fine == (lc - text_pages_coarse) * per
    with pytest.raises(ValueError):
        plan.paged_layout(7, 13)


def test_config_validation() -> None:
    from lvsa import LVSAConfig

    with pytest.raises(ValueError):
        LVSAConfig(window=-1)
    with pytest.raises(ValueError):
        LVSAConfig(backend="cuda")
    with pytest.raises(ValueError):
        LVSAConfig(scale=0)
    cfg = LVSAConfig(reference_frames=33)
    with pytest.raises(AttributeError):
        cfg.window = 2  # frozen
