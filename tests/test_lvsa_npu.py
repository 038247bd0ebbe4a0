"""The Ascend NPU backend against a stand-in ``torch_npu`` written from Ascend's docs.

No Ascend machine is reachable: ``tests/fake_torch_npu.py`` checks what the
documentation of ``torch_npu.npu_fusion_attention`` says the kernel accepts and computes
the attention with SDPA. These tests show that the backend calls it as documented and
gets the portable backend's result, and that the stand-in rejects what the kernel would.
Real hardware, the real kernel's rounding and its speed are not tested here.
"""

from __future__ import annotations

import sys

import pytest
import torch
import torch.nn.functional as F

from lvsa.backends import lvsa_attention, portable_attention, resolve_backend
from lvsa.backends import npu as npu_backend
from lvsa.pattern import frame_pattern
from lvsa.plan import Geometry, get_plan

from . import fake_torch_npu as fake
from .test_lvsa_backends import CASES, _reference, _setup


@pytest.fixture
def fake_npu(monkeypatch: pytest.MonkeyPatch):
    """The stand-in ``torch_npu`` with one available NPU (undone after the test)."""
    return fake.install(monkeypatch)


def _half_close(out: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype) -> bool:
    """``out`` is ``ref`` rounded once to ``dtype`` (plus float32 noise)."""
    ulp = 2.0**-8 if dtype == torch.bfloat16 else 2.0**-11
    return bool(((out.float() - ref).abs() <= ulp * ref.abs() + 1e-5).all())


def _expected_calls(plan, valid) -> int:
    per_sample = len(plan.gather_groups) + (1 if plan.geometry.text_tokens else 0)
    return per_sample * (len(valid) if valid and len(set(valid)) > 1 else 1)


# ----------------------------------------------------------------------- auto selection
def test_auto_selects_npu_when_the_stand_in_device_is_present(fake_npu) -> None:
    assert torch.npu.is_available()
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        assert resolve_backend("auto", fake.NPU_DEVICE, dtype, head_dim=128) == "npu"
    assert resolve_backend("auto", torch.device("cpu"), torch.bfloat16) == "portable"


def test_auto_does_not_select_npu_without_a_device(monkeypatch) -> None:
    fake.install(monkeypatch, available=False)
    assert resolve_backend("auto", fake.NPU_DEVICE, torch.bfloat16) == "portable"


def test_auto_does_not_select_npu_without_torch_npu(monkeypatch) -> None:
    fake.uninstalled(monkeypatch)
    assert not npu_backend.npu_available()
    assert resolve_backend("auto", fake.NPU_DEVICE, torch.bfloat16) == "portable"


def test_stand_in_is_fully_undone() -> None:
    def state():
        return (
            sys.modules.get("torch_npu", "absent"),
            sys.modules.get("torch_npu.npu", "absent"),
            getattr(torch, "npu", "absent"),
            getattr(torch.Tensor, "npu", "absent"),
            torch.Tensor.__dict__.get("is_npu", "absent"),
        )

    before = state()
    with pytest.MonkeyPatch.context() as mp:
        fake.install(mp)
        assert npu_backend.npu_available() and torch.zeros(1).npu().is_npu
        assert not torch.zeros(1).is_npu
    assert state() == before
    if before[0] == "absent":  # this machine has no real torch_npu
        assert set(before) == {"absent"} and not npu_backend.npu_available()


# --------------------------------------------------------------------- backend results
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("case", CASES)
def test_npu_backend_equals_portable(fake_npu, case, dtype) -> None:
    """Half inputs: the stand-in kernel's output is the portable result rounded once."""
    plan, q, k, v, valid = _setup(case, seed=3)
    q, k, v = (x.to(dtype) for x in (q, k, v))
    out = lvsa_attention(
        q.npu(), k.npu(), v.npu(), plan, backend="npu", text_valid=valid, dense_fallback=False
    )
    ref = portable_attention(q.float(), k.float(), v.float(), plan, valid)
    assert out.dtype == dtype and out.shape == q.shape
    assert _half_close(out, ref, dtype)
    # and the float32 masked-SDPA reference of the same (rounded) inputs
    assert _half_close(out, _reference(q.float(), k.float(), v.float(), plan, valid), dtype)
    # portable in the same half dtype agrees to its own rounding
    assert (out.float() - portable_attention(q, k, v, plan, valid).float()).abs().max() <= 2e-2
    heads = q.shape[2]
    assert len(fake.calls) == _expected_calls(plan, valid)
    for c in fake.calls:
        assert c["layout"] == "BSND" and c["head_num"] == heads and c["dtype"] == dtype
        assert c["keep_prob"] == 1.0 and not c["atten_mask"]
        assert c["scale"] == pytest.approx(q.shape[-1] ** -0.5)


@pytest.mark.parametrize("case", CASES[:3])
def test_float32_inputs_are_cast_to_bf16_for_the_kernel(fake_npu, case) -> None:
    plan, q, k, v, valid = _setup(case, seed=4)
    out = npu_backend.npu_attention(q.npu(), k.npu(), v.npu(), plan, valid)
    assert out.dtype == torch.float32
    assert fake.calls and all(c["dtype"] == torch.bfloat16 for c in fake.calls)
    # exactly the portable result of the bf16-rounded inputs, rounded once to bf16
    qb, kb, vb = (x.bfloat16().float() for x in (q, k, v))
    assert _half_close(out, portable_attention(qb, kb, vb, plan, valid), torch.bfloat16)
    # and within bf16 precision of the float32 portable result
    ref = portable_attention(q, k, v, plan, valid)
    assert ((out - ref).norm() / ref.norm()).item() <= 1e-2


def test_scale_is_passed_to_the_kernel(fake_npu) -> None:
    """The kernel's default scale is 1.0: the backend must pass 1/sqrt(D) or the caller's."""
    plan, q, k, v, valid = _setup(CASES[1], seed=5)
    q, k, v = (x.bfloat16() for x in (q, k, v))
    for scale in (None, 0.3):
        out = npu_backend.npu_attention(q.npu(), k.npu(), v.npu(), plan, valid, scale)
        ref = portable_attention(q.float(), k.float(), v.float(), plan, valid, scale)
        assert _half_close(out, ref, torch.bfloat16)
    assert sorted({c["scale"] for c in fake.calls}) == pytest.approx([0.3, 8**-0.5])


def test_tensors_off_the_npu_take_the_portable_path(fake_npu) -> None:
    plan, q, k, v, valid = _setup(CASES[2], seed=6)
    out = lvsa_attention(q, k, v, plan, backend="npu", text_valid=valid)
    assert torch.equal(out, portable_attention(q, k, v, plan, valid))
    assert fake.calls == []


def test_without_torch_npu_the_npu_backend_is_portable(monkeypatch) -> None:
    fake.uninstalled(monkeypatch)
    plan, q, k, v, valid = _setup(CASES[1], seed=7)
    out = lvsa_attention(q, k, v, plan, backend="npu", text_valid=valid)
    assert torch.equal(out, portable_attention(q, k, v, plan, valid))


def test_dense_pattern_skips_the_kernel(fake_npu) -> None:
    g = Geometry(6, 10, 5, False, heads=2, head_dim=8)
    plan = get_plan(frame_pattern(6, 2, reference_frames=21), g)
    assert plan.dense
    q, k, v = (torch.randn(1, g.seq_len, 2, 8, dtype=torch.bfloat16).npu() for _ in range(3))
    lvsa_attention(q, k, v, plan, backend="npu")
    assert fake.calls == []
    out = lvsa_attention(q, k, v, plan, backend="npu", dense_fallback=False)
    plain = F.scaled_dot_product_attention(
        *(x.float().transpose(1, 2) for x in (q, k, v))
    ).transpose(1, 2)
    assert _half_close(out, plain, torch.bfloat16) and fake.calls


# --------------------------------------------- a wrong call fails through the backend
def test_a_wrong_layout_in_the_backend_would_fail(fake_npu, monkeypatch) -> None:
    plan, q, k, v, valid = _setup(CASES[0], seed=8)
    q, k, v = (x.bfloat16().npu() for x in (q, k, v))
    monkeypatch.setattr(npu_backend, "NPU_LAYOUT", "BNSD")
    with pytest.raises(RuntimeError, match="head_num"):
        npu_backend.npu_attention(q, k, v, plan, valid)


def test_float32_in_the_backend_would_fail(fake_npu, monkeypatch) -> None:
    plan, q, k, v, valid = _setup(CASES[0], seed=9)
    monkeypatch.setattr(npu_backend, "NPU_KERNEL_DTYPES", (torch.float32,))
    with pytest.raises(RuntimeError, match="dtype"):
        npu_backend.npu_attention(q.npu(), k.npu(), v.npu(), plan, valid)


# ------------------------------------------------------- the stand-in itself (contract)
def _bnsd(b=2, n=4, sq=6, skv=9, d=16, dtype=torch.bfloat16, nkv=None, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(b, n, sq, d, generator=gen).to(dtype)
    k = torch.randn(b, nkv or n, skv, d, generator=gen).to(dtype)
    v = torch.randn(b, nkv or n, skv, d, generator=gen).to(dtype)
    return q, k, v


def _sdpa_bnsd(q, k, v, scale, keep=None):
    n, nkv = q.shape[1], k.shape[1]
    k, v = (x.repeat_interleave(n // nkv, dim=1) for x in (k, v))
    return F.scaled_dot_product_attention(
        q.float(), k.float(), v.float(), attn_mask=keep, scale=scale
    )


def _in_layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    """A BNSD tensor in ``layout`` (TND packs the batch along T)."""
    b, n, s, d = x.shape
    if layout == "BNSD":
        return x
    if layout == "BSND":
        return x.transpose(1, 2).contiguous()
    if layout == "BSH":
        return x.transpose(1, 2).reshape(b, s, n * d)
    if layout == "SBH":
        return x.transpose(1, 2).reshape(b, s, n * d).transpose(0, 1).contiguous()
    return x.transpose(1, 2).reshape(b * s, n, d)  # TND


@pytest.mark.parametrize("layout", ["BNSD", "BSND", "BSH", "SBH", "TND"])
@pytest.mark.parametrize("nkv", [4, 2])
def test_stand_in_computes_attention_in_every_layout(layout, nkv) -> None:
    q, k, v = _bnsd(nkv=nkv)
    b, n, sq, _ = q.shape
    skv = k.shape[2]
    extra = {}
    if layout == "TND":
        extra = {
            "actual_seq_qlen": [sq * (i + 1) for i in range(b)],
            "actual_seq_kvlen": [skv * (i + 1) for i in range(b)],
        }
    res = fake.npu_fusion_attention(
        _in_layout(q, layout),
        _in_layout(k, layout),
        _in_layout(v, layout),
        n,
        layout,
        scale=0.25,
        keep_prob=1.0,
        **extra,
    )
    assert isinstance(res, tuple) and len(res) == 7
    out, smax, ssum, sin, seed, offset, numels = res
    ref = _sdpa_bnsd(q, k, v, 0.25)
    assert out.dtype == q.dtype and out.shape == _in_layout(q, layout).shape
    assert _half_close(out, _in_layout(ref, layout), q.dtype)
    lead = (b * sq, n) if layout == "TND" else (b, n, sq)
    assert smax.dtype == ssum.dtype == torch.float32
    assert smax.shape == ssum.shape == (*lead, 8)
    assert sin.numel() == 0 and (seed, offset, numels) == (0, 0, 0)


def test_stand_in_mask_is_one_for_excluded_keys() -> None:
    q, k, v = _bnsd(b=1)
    excluded = torch.rand(q.shape[2], k.shape[2], generator=torch.Generator().manual_seed(1)) < 0.4
    excluded[:, 0] = False  # no empty rows
    for m in (excluded, excluded.to(torch.uint8), excluded[None, None]):
        out = fake.npu_fusion_attention(q, k, v, 4, "BNSD", atten_mask=m, scale=0.25)[0]
        assert _half_close(out, _sdpa_bnsd(q, k, v, 0.25, keep=~excluded), q.dtype)
    with pytest.raises(RuntimeError, match="atten_mask dtype"):
        fake.npu_fusion_attention(q, k, v, 4, "BNSD", atten_mask=excluded.float())
    with pytest.raises(RuntimeError, match="atten_mask shape"):
        fake.npu_fusion_attention(q, k, v, 4, "BNSD", atten_mask=excluded[:, :-1])


@pytest.mark.parametrize("layout", ["BNSD", "bsnd", "BSH", "NSD", "", None])
def test_stand_in_rejects_a_wrong_layout_string(layout) -> None:
    """BSND tensors (S=6, N=4) declared as anything but BSND."""
    q, k, v = (x.transpose(1, 2).contiguous() for x in _bnsd())
    with pytest.raises(RuntimeError):
        fake.npu_fusion_attention(q, k, v, 4, layout, scale=0.25)
    fake.npu_fusion_attention(q, k, v, 4, "BSND", scale=0.25)  # the right one passes


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int8])
def test_stand_in_rejects_non_half_dtypes(dtype) -> None:
    q, k, v = (x.to(dtype) for x in _bnsd())
    with pytest.raises(RuntimeError, match="dtype"):
        fake.npu_fusion_attention(q, k, v, 4, "BNSD", scale=0.25)


def test_stand_in_rejects_mixed_dtypes() -> None:
    q, k, v = _bnsd()
    with pytest.raises(RuntimeError, match="differ"):
        fake.npu_fusion_attention(q, k.half(), v, 4, "BNSD")


@pytest.mark.parametrize("layout", ["BNSD", "BSND", "BSH", "SBH", "TND"])
@pytest.mark.parametrize("head_num", [3, 8, 2, 0, 4.0, True])
def test_stand_in_rejects_a_wrong_head_num(layout, head_num) -> None:
    """Where N is a dimension (BNSD, BSND, TND) any other head_num is rejected.

    In BSH/SBH a head_num dividing H is a valid call with other heads (D = H / head_num):
    the kernel cannot tell, only the result is wrong; the reason the backend uses BSND.
    """
    q, k, v = _bnsd(b=1)  # N = 4, D = 16, H = 64
    extra = {}
    if layout == "TND":
        extra = {"actual_seq_qlen": [q.shape[2]], "actual_seq_kvlen": [k.shape[2]]}
    args = [_in_layout(x, layout) for x in (q, k, v)]
    right = fake.npu_fusion_attention(*args, 4, layout, scale=0.25, **extra)[0]
    if layout in ("BSH", "SBH") and head_num in (8, 2):
        wrong = fake.npu_fusion_attention(*args, head_num, layout, scale=0.25, **extra)[0]
        assert (wrong.float() - right.float()).abs().max() > 1e-2
        return
    with pytest.raises(RuntimeError):
        fake.npu_fusion_attention(*args, head_num, layout, scale=0.25, **extra)


@pytest.mark.parametrize("keep_prob", [0.0, -0.1, 1.5])
def test_stand_in_rejects_keep_prob_outside_0_1(keep_prob) -> None:
    q, k, v = _bnsd()
    with pytest.raises(RuntimeError, match="keep_prob"):
        fake.npu_fusion_attention(q, k, v, 4, "BNSD", keep_prob=keep_prob)


def test_stand_in_does_not_model_dropout() -> None:
    q, k, v = _bnsd()
    with pytest.raises(NotImplementedError):
        fake.npu_fusion_attention(q, k, v, 4, "BNSD", keep_prob=0.9)


def test_stand_in_other_documented_constraints() -> None:
    q, k, v = _bnsd()
    with pytest.raises(RuntimeError, match="value shape"):
        fake.npu_fusion_attention(q, k, v[:, :, :-1], 4, "BNSD")
    with pytest.raises(RuntimeError, match="padding_mask"):
        fake.npu_fusion_attention(q, k, v, 4, "BNSD", padding_mask=torch.zeros(1))
    with pytest.raises(RuntimeError, match="batch"):
        fake.npu_fusion_attention(q[:1], k, v, 4, "BNSD")
    with pytest.raises(RuntimeError, match="head dim"):
        fake.npu_fusion_attention(q[..., :8], k, v, 4, "BNSD")
    with pytest.raises(RuntimeError, match="does not divide"):
        kk, vv = _bnsd(nkv=3)[1:]
        fake.npu_fusion_attention(q, kk, vv, 4, "BNSD")
    with pytest.raises(RuntimeError, match="TND"):
        fake.npu_fusion_attention(q, k, v, 4, "BNSD", actual_seq_qlen=[6, 12])
    with pytest.raises(RuntimeError, match="scale"):
        fake.npu_fusion_attention(q, k, v, 4, "BNSD", scale=None)
    with pytest.raises(TypeError):  # keyword-only after input_layout
        fake.npu_fusion_attention(q, k, v, 4, "BNSD", None, None, None, 0.25)


def test_stand_in_tnd_needs_cumulative_lengths() -> None:
    q, k, v = (_in_layout(x, "TND") for x in _bnsd())  # T = 12 (q), 18 (kv)
    with pytest.raises(RuntimeError, match="actual_seq_qlen"):
        fake.npu_fusion_attention(q, k, v, 4, "TND", actual_seq_kvlen=[9, 18])
    with pytest.raises(RuntimeError, match="cumulative"):
        fake.npu_fusion_attention(
            q, k, v, 4, "TND", actual_seq_qlen=[6, 5], actual_seq_kvlen=[9, 18]
        )
    with pytest.raises(RuntimeError, match="T="):
        fake.npu_fusion_attention(
            q, k, v, 4, "TND", actual_seq_qlen=[6, 13], actual_seq_kvlen=[9, 18]
        )
    # uneven sequences: each attends only to its own keys
    out = fake.npu_fusion_attention(
        q, k, v, 4, "TND", actual_seq_qlen=[4, 12], actual_seq_kvlen=[10, 18], scale=0.25
    )[0]
    for (q0, q1), (k0, k1) in (((0, 4), (0, 10)), ((4, 12), (10, 18))):
        ref = _sdpa_bnsd(*(x.transpose(0, 1)[None] for x in (q[q0:q1], k[k0:k1], v[k0:k1])), 0.25)
        assert _half_close(out[q0:q1], ref[0].transpose(0, 1), q.dtype)
