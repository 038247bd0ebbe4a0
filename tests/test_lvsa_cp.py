"""LVSA under diffusers' context parallelism: 2 CPU processes with gloo, tiny Wan models.

Checks, for Ulysses (``ulysses_degree=2``) and a ring configuration (``ring_degree=2``):
the sharded LVSA forward equals the single-process LVSA forward (fp32 tolerance) at
every step of a 3-step run; the LVSA processor (not the stock fallback) ran on every rank
on a head shard of the whole sequence; every rank used the same anchors at every step;
and the sparse output differs from the dense one.
"""

from __future__ import annotations

import socket

import pytest
import torch

pytest.importorskip("diffusers")

WORLD = 2
FRAMES = 30  # 30 latent frames of 16 tokens: S = 480, split in 2 shards
TIMESTEPS = (900.0, 800.0, 700.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(model, x, text, sess=None) -> list[torch.Tensor]:
    outs = []
    with torch.no_grad():
        for t in TIMESTEPS:
            outs.append(model(x, torch.tensor([t]), text, return_dict=False)[0])
    return outs


def _worker(rank: int, port: int) -> None:
    import torch.distributed as dist

    import lvsa
    from lvsa.integrations import enable_context_parallel
    from tests.test_lvsa_diffusers import tiny_wan, wan_inputs

    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD
    )
    try:
        x, _, text = wan_inputs(frames=FRAMES)
        cfg = lvsa.LVSAConfig(reference_frames=8)
        for mode in ("ulysses", "ring"):
            model = tiny_wan(seed=3)
            lvsa.apply(model, cfg)
            single = _run(model, x, text)  # one process, whole sequence
            lvsa.remove(model)
            dense = _run(model, x, text)
            degree = {f"{mode}_degree": WORLD}
            # half the runs install LVSA before enabling parallelism, half after
            if mode == "ulysses":
                enable_context_parallel(model, **degree)
                sess = lvsa.apply(model, cfg)
            else:
                sess = lvsa.apply(model, cfg)
                enable_context_parallel(model, **degree)
            heads_seen: list[int] = []
            attend = sess.attend

            def counting(q, k, v, geometry, text_valid, session, _attend=attend, _seen=heads_seen):
                _seen.append(q.shape[2])
                assert q.shape[1] == FRAMES * 16  # the whole sequence on every rank
                return _attend(q, k, v, geometry, text_valid, session)

            sess.attend = counting
            anchors = []
            sharded = []
            with torch.no_grad():
                for t in TIMESTEPS:
                    sharded.append(model(x, torch.tensor([t]), text, return_dict=False)[0])
                    anchors.append(sess.options.pattern(FRAMES, sess.step).anchors)
            assert heads_seen and set(heads_seen) == {1}, heads_seen  # 2 heads / 2 ranks
            assert sess.last_density < 0.9
            for a, b, d in zip(sharded, single, dense):
                assert (a - b).abs().max().item() <= 1e-4, mode
                assert (a - d).abs().max().item() > 1e-3, mode
            assert len(set(anchors)) == len(TIMESTEPS)  # the anchors rotate
            everyone: list = [None] * WORLD
            dist.all_gather_object(everyone, anchors)
            assert all(a == everyone[0] for a in everyone), everyone
    finally:
        dist.destroy_process_group()


@pytest.mark.slow
def test_sharded_lvsa_equals_single_process_on_every_rank() -> None:
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(_free_port(),), nprocs=WORLD, join=True)
