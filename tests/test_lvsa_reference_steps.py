"""LVSA inside a model follows the denoising step the way the reference does.

The reference rotates the anchor grid by ``o = step mod kfi`` with ``step`` the denoising
step index (``../shared/RESEARCH.md`` section 1a). These tests do not ask the session for
its step: the step comes from the pipeline loop itself (``callback_on_step_end``) and
the expected attention from a mask written out here from the reference's rules, so an
LVSA that stopped rotating (or counted steps wrongly) fails them.
"""

from __future__ import annotations

import itertools
import types

import pytest
import torch
import torch.nn.functional as F

import lvsa
from lvsa.integrations.session import AttentionSession
from tests.test_lvsa_diffusers import tiny_wan
from tests.test_lvsa_diffusers import tiny_wan_pipeline as shared_tiny_wan_pipeline

diffusers = pytest.importorskip("diffusers")


def oracle_frame_mask(t: int, step: int, window: int, sinks: int, kfi: int) -> torch.Tensor:
    """Boolean (T, T) frame mask of the reference rule at denoising step ``step``
    (section 1a, written independently of ``lvsa.pattern``)."""
    o = step % kfi
    glob = set(range(min(sinks, t))) | {(o + i * kfi) % t for i in range(-(-t // kfi))}
    m = torch.zeros(t, t, dtype=torch.bool)
    for f in range(t):
        keys = set(glob)
        if window > 0:
            lo = max(0, min(f - window, t - 1 - 2 * window))
            hi = min(t - 1, max(f + window, 2 * window))
            need = min(2 * window + 1, t - len(glob))

            def free(lo=lo, hi=hi):
                return sum(j not in glob for j in range(lo, hi + 1))

            while free(lo, hi) < need and (lo > 0 or hi < t - 1):
                if lo > 0:
                    lo -= 1
                    if free(lo, hi) >= need:
                        break
                if hi < t - 1:
                    hi += 1
            keys |= set(range(lo, hi + 1))
        m[f, sorted(keys)] = True
    return m


def tiny_wan_pipeline():
    """The shared offline ``WanPipeline`` around one tiny transformer."""
    return shared_tiny_wan_pipeline(transformer=tiny_wan())


CFG = lvsa.LVSAConfig(window=1, anchor_interval=3, reference_frames=3, backend="portable")
STEPS = 5  # anchor offsets 0, 1, 2, 0, 1


@torch.no_grad()
def run_and_check(config: lvsa.LVSAConfig, monkeypatch=None) -> dict[int, list[bool]]:
    """Run a 9-latent-frame WanPipeline; per denoising step (counted by the pipeline's
    own callback), whether each self-attention output equals masked attention with the
    oracle mask of that step."""
    pipe = tiny_wan_pipeline()
    pipe.set_progress_bar_config(disable=True)
    session = lvsa.apply(pipe, config)
    real = session.attend
    current = {"step": 0}
    matches: dict[int, list[bool]] = {}

    def checked(q, k, v, geom, valid, s):
        out = real(q, k, v, geom, valid, s)
        frames = oracle_frame_mask(geom.frames, current["step"], 1, 1, 3)
        assert not frames.all(), "the oracle pattern must be sparse for this test"
        c = geom.tokens_per_frame
        mask = frames.repeat_interleave(c, 0).repeat_interleave(c, 1)
        ref = F.scaled_dot_product_attention(
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask
        ).transpose(1, 2)
        ok = (out - ref).abs().max().item() <= 1e-5
        matches.setdefault(current["step"], []).append(ok)
        return out

    session.attend = checked

    def on_step_end(pipeline, i, t, kwargs):
        current["step"] = i + 1
        return kwargs

    g = torch.Generator().manual_seed(0)
    pipe(
        prompt_embeds=torch.randn(1, 7, 32, generator=g),
        negative_prompt_embeds=torch.randn(1, 7, 32, generator=g),
        height=32,
        width=32,
        num_frames=33,  # 9 latent frames of 2 x 2 tokens
        num_inference_steps=STEPS,
        guidance_scale=2.0,
        output_type="latent",
        callback_on_step_end=on_step_end,
    )
    return matches


def test_anchors_rotate_with_the_denoising_step_inside_the_model() -> None:
    """Every self-attention call (2 layers x cond/uncond per step) equals masked
    attention with the reference mask of the pipeline's step index."""
    matches = run_and_check(CFG)
    assert sorted(matches) == list(range(STEPS))
    for step, oks in matches.items():
        assert len(oks) == 4 and all(oks), (step, oks)


def test_the_check_catches_anchors_that_do_not_rotate(monkeypatch) -> None:
    """The same check fails when the anchors stay put: with rotation off, and with a
    step counter that never advances inside the model."""
    off = run_and_check(lvsa.LVSAConfig(**{**CFG.__dict__, "rotate": False}))
    assert [all(off[s]) for s in range(STEPS)] == [s % 3 == 0 for s in range(STEPS)]

    monkeypatch.setattr(AttentionSession, "_scheduler_step", lambda self: None)
    monkeypatch.setattr(AttentionSession, "_count_from_timestep", lambda self, t: None)
    frozen = run_and_check(CFG)
    assert [all(frozen[s]) for s in range(STEPS)] == [s % 3 == 0 for s in range(STEPS)]


def bf16_loop(shift: float, bind_scheduler: bool, steps: int = 50) -> tuple[list, list]:
    """HunyuanVideo 1.5's loop shape: timestep cast to bf16, two transformer calls per
    step (cond, uncond), then ``scheduler.step``. Returns (session steps, bf16 timesteps)."""
    sched = diffusers.FlowMatchEulerDiscreteScheduler(shift=shift)
    model = tiny_wan()
    if bind_scheduler:
        target = types.SimpleNamespace(transformer=model, scheduler=sched)
    else:
        target = model
    session = lvsa.apply(target, lvsa.LVSAConfig(window=1, anchor_interval=3, reference_frames=3))
    sched.set_timesteps(steps)
    g = torch.Generator().manual_seed(3)
    latents = torch.randn(1, 16, 3, 4, 4, generator=g)
    text = torch.randn(1, 7, 32, generator=g)
    seen = []
    with torch.no_grad():
        for t in sched.timesteps:
            ts = t.expand(1).to(torch.bfloat16)  # as the HunyuanVideo 1.5 pipeline does
            seen.append(float(ts))
            cond = model(latents, ts.float(), text).sample
            model(latents, ts.float(), text)
            latents = sched.step(cond, t, latents).prev_sample
    return session.steps_seen, seen


@pytest.mark.parametrize("shift", [7.0, 9.0])
@pytest.mark.parametrize("bind_scheduler", [True, False], ids=["pipeline", "transformer"])
def test_bf16_timesteps_that_tie_do_not_merge_steps(shift, bind_scheduler) -> None:
    steps_seen, ts = bf16_loop(shift, bind_scheduler)
    ties = sum(a == b for a, b in itertools.pairwise(ts))
    assert ties >= 1, "the bf16 schedule must contain equal neighbouring timesteps"
    assert steps_seen == [i for i in range(50) for _ in range(2)]


def test_scheduler_swapped_after_apply_is_followed() -> None:
    pipe = types.SimpleNamespace(
        transformer=tiny_wan(), scheduler=diffusers.FlowMatchEulerDiscreteScheduler()
    )
    session = lvsa.apply(pipe, CFG)
    pipe.scheduler = diffusers.FlowMatchEulerDiscreteScheduler(shift=7.0)
    pipe.scheduler.set_timesteps(4)
    pipe.scheduler._step_index = 2  # as after two scheduler.step calls
    x = torch.randn(1, 16, 3, 4, 4)
    with torch.no_grad():
        pipe.transformer(x, torch.tensor([500.0]), torch.randn(1, 7, 32))
    assert session.step == 2 and session.step_source == "scheduler"
