"""A stand-in for ``torch_npu`` (Ascend Extension for PyTorch) on machines without Ascend.

Written from Ascend's documentation of ``torch_npu.npu_fusion_attention`` (function
prototype, parameter list, output list and constraints) and of how ``torch_npu`` exposes
the device (importing it registers the ``npu`` device, ``torch.npu`` with
``is_available()`` / ``device_count()``, and ``Tensor.npu()`` / ``Tensor.is_npu``).

:func:`npu_fusion_attention` checks what the documentation says the kernel accepts and
raises ``RuntimeError`` (what the real op's checks raise) otherwise:

- ``input_layout`` one of ``BSH``, ``SBH``, ``BSND``, ``BNSD``, ``TND`` (exact spelling),
  with tensors of that rank; ``TND`` needs ``actual_seq_qlen`` and ``actual_seq_kvlen``
  (cumulative lengths); other layouts must not pass them;
- query, key, value in float16 or bfloat16, all the same dtype; key and value of the same
  shape; equal batch; ``Dq == Dk`` in 1..768; S >= 1;
- ``head_num`` a Python int equal to the query's N (``H / head_num`` an integer for
  ``BSH``/``SBH``), N in 1..256, and the key/value N dividing it (GQA);
- ``0 < keep_prob <= 1``; ``scale`` a number; ``padding_mask`` must be None (not supported);
- ``atten_mask`` bool or uint8 of shape BNSS, B1SS, 11SS or SS (SS only for TND),
  1 = masked out; ``sparse_mode`` 0..8; ``inner_precise`` 0..2.

It then computes ``softmax(scale * q k^T, masked) v`` with SDPA in float32, casts to the
query dtype, and returns the documented 7-tuple: ``attention_out`` (input layout and
dtype), ``softmax_max`` and ``softmax_sum`` (float32, ``(B, N, Sq, 8)``; ``(Tq, N, 8)`` for
TND), ``softmax_in`` (reserved, empty), and the dropout ``seed``, ``offset``, ``numels``
(0, 0, 0 without dropout).

Stricter than the kernel, so that the backend stays portable across releases: every
argument after ``input_layout`` is keyword-only (the positional order changed when
``actual_seq_qlen``/``actual_seq_kvlen`` were added) and float32 is rejected (newer
releases list it, older ones do not). Not modelled (``NotImplementedError``): dropout
(``keep_prob < 1``), ``pse``, ``prefix``, ``sparse_mode`` other than 0 with a mask, and
``pre_tockens``/``next_tockens`` bands. Not checked: device residency (the tensors are
CPU tensors standing in for NPU memory), contiguity, the ``Atlas A2`` device model, the
kernel's own rounding. Every call is appended to the module's ``calls`` list.

Install it with :func:`install` (a pytest ``monkeypatch``): it puts the module in
``sys.modules["torch_npu"]``, ``torch.npu``, ``Tensor.npu()`` (a marked copy) and
``Tensor.is_npu``; the monkeypatch undoes all of it. Plain torch rejects the device string
``"npu"``, so :data:`NPU_DEVICE` is a stand-in for ``torch.device("npu:0")`` (only
``type`` and ``index``) and NPU tensors are marked CPU tensors.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from typing import Any

import pytest
import torch
import torch.nn.functional as F

LAYOUTS = ("BSH", "SBH", "BSND", "BNSD", "TND")
DTYPES = (torch.float16, torch.bfloat16)
MASK_DTYPES = (torch.bool, torch.uint8)
MAX_INT = 2147483647
_MARK = "_stand_in_npu"


class _Device:
    """What ``torch.device("npu:0")`` is once torch_npu is imported (type and index only)."""

    type = "npu"
    index = 0

    def __str__(self) -> str:
        return "npu:0"

    __repr__ = __str__


#: Stand-in for ``torch.device("npu:0")``.
NPU_DEVICE = _Device()


def _fail(msg: str) -> None:
    raise RuntimeError(f"npu_fusion_attention (stand-in): {msg}")


def _to_bnsd(
    x: torch.Tensor, layout: str, name: str, heads: int | None = None, head_dim: int = 0
) -> torch.Tensor:
    """``(B, N, S, D)`` view of ``x`` given in ``layout`` (not TND).

    For BSH/SBH the query is split into ``heads`` heads, key/value into heads of
    ``head_dim`` channels (the query's D).
    """
    rank = 3 if layout in ("BSH", "SBH") else 4
    if x.dim() != rank:
        _fail(f"{name} has {x.dim()} dims, layout {layout} needs {rank}")
    if layout == "BSND":
        return x.transpose(1, 2)
    if layout == "BNSD":
        return x
    xb = x if layout == "BSH" else x.transpose(0, 1)
    b, s, h = xb.shape
    unit = h // heads if heads else head_dim
    if (heads and h % heads) or unit < 1 or h % unit:
        _fail(f"{name} H={h} does not split into heads (head_num={heads}, D={head_dim})")
    return xb.reshape(b, s, h // unit, unit).transpose(1, 2)


def _check_cumulative(lens: Any, total: int, name: str) -> list[int]:
    if lens is None:
        _fail(f"input_layout TND needs {name}")
    vals = [int(v) for v in lens]
    if not vals:
        _fail(f"{name} is empty")
    last = 0
    ended = False
    for v in vals:  # trailing zeros mark batches that take no part
        if v == 0 and last > 0:
            ended = True
            continue
        if ended or v < last:
            _fail(f"{name} must be a non-decreasing cumulative sum, got {vals}")
        last = v
    if last > total:
        _fail(f"{name} ends at {last} > T={total}")
    return vals


def _mask_bnss(mask: torch.Tensor, b: int, n: int, sq: int, skv: int, tnd: bool) -> torch.Tensor:
    if mask.dtype not in MASK_DTYPES:
        _fail(f"atten_mask dtype {mask.dtype}, expected bool or uint8")
    shape = tuple(mask.shape)
    ok = [(sq, skv)] if tnd else [(b, n, sq, skv), (b, 1, sq, skv), (1, 1, sq, skv), (sq, skv)]
    if shape not in ok:
        _fail(f"atten_mask shape {shape}, expected one of {ok}")
    m = mask.bool()
    return m.reshape(1, 1, sq, skv) if m.dim() == 2 else m


def _attend(q, k, v, scale: float, masked: torch.Tensor | None):
    """float32 attention of BNSD tensors; ``masked`` True = excluded. Returns out, max, sum."""
    n, nkv = q.shape[1], k.shape[1]
    if n != nkv:
        k = k.repeat_interleave(n // nkv, dim=1)
        v = v.repeat_interleave(n // nkv, dim=1)
    qf, kf, vf = q.float(), k.float(), v.float()
    keep = None if masked is None else ~masked
    out = F.scaled_dot_product_attention(qf, kf, vf, attn_mask=keep, scale=scale)
    logits = scale * qf @ kf.transpose(-1, -2)
    if masked is not None:
        logits = logits.masked_fill(masked, float("-inf"))
    mx = logits.amax(-1, keepdim=True)
    sm = (logits - mx).exp().sum(-1, keepdim=True)
    return out, mx.expand(*mx.shape[:-1], 8), sm.expand(*sm.shape[:-1], 8)


def npu_fusion_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    head_num: int,
    input_layout: str,
    *,
    pse: torch.Tensor | None = None,
    padding_mask: torch.Tensor | None = None,
    atten_mask: torch.Tensor | None = None,
    scale: float = 1.0,
    keep_prob: float = 1.0,
    pre_tockens: int = MAX_INT,
    next_tockens: int = MAX_INT,
    inner_precise: int = 0,
    prefix: Sequence[int] | None = None,
    actual_seq_qlen: Sequence[int] | None = None,
    actual_seq_kvlen: Sequence[int] | None = None,
    sparse_mode: int = 0,
    gen_mask_parallel: bool = True,
    sync: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, int, int, int]:
    """Stand-in for ``torch_npu.npu_fusion_attention`` (see the module docstring)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, torch.Tensor):
            _fail(f"{name} must be a Tensor")
        if t.dtype not in DTYPES:
            _fail(f"{name} dtype {t.dtype}, expected float16 or bfloat16")
    if not query.dtype == key.dtype == value.dtype:
        _fail(f"query/key/value dtypes differ: {query.dtype}, {key.dtype}, {value.dtype}")
    if not isinstance(input_layout, str) or input_layout not in LAYOUTS:
        _fail(f"input_layout {input_layout!r}, expected one of {LAYOUTS}")
    if isinstance(head_num, bool) or not isinstance(head_num, int):
        _fail(f"head_num must be an int, got {type(head_num).__name__}")
    if not 1 <= head_num <= 256:
        _fail(f"head_num {head_num} outside 1..256")
    if key.shape != value.shape:
        _fail(f"key shape {tuple(key.shape)} != value shape {tuple(value.shape)}")
    if padding_mask is not None:
        _fail("padding_mask is not supported")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        _fail(f"scale must be a number, got {type(scale).__name__}")
    if isinstance(keep_prob, bool) or not isinstance(keep_prob, (int, float)):
        _fail(f"keep_prob must be a number, got {type(keep_prob).__name__}")
    if not 0 < keep_prob <= 1:
        _fail(f"keep_prob {keep_prob} outside (0, 1]")
    if sparse_mode not in range(9):
        _fail(f"sparse_mode {sparse_mode} outside 0..8")
    if inner_precise not in (0, 1, 2):
        _fail(f"inner_precise {inner_precise} outside 0..2")
    tnd = input_layout == "TND"
    if not tnd and (actual_seq_qlen is not None or actual_seq_kvlen is not None):
        _fail("actual_seq_qlen/actual_seq_kvlen belong to input_layout TND")
    if keep_prob < 1:
        raise NotImplementedError("stand-in: dropout (keep_prob < 1) is not modelled")
    if pse is not None or prefix is not None:
        raise NotImplementedError("stand-in: pse and prefix are not modelled")
    if atten_mask is not None and (
        sparse_mode != 0 or pre_tockens != MAX_INT or next_tockens != MAX_INT
    ):
        raise NotImplementedError("stand-in: only sparse_mode=0 without a band is modelled")

    if tnd:
        res = _tnd(
            query,
            key,
            value,
            head_num,
            atten_mask,
            float(scale),
            actual_seq_qlen,
            actual_seq_kvlen,
        )
    else:
        qb = _to_bnsd(query, input_layout, "query", heads=head_num)
        b, n, sq, d = qb.shape
        if input_layout in ("BSND", "BNSD") and n != head_num:
            _fail(f"head_num={head_num} but the query has N={n} in layout {input_layout}")
        kb = _to_bnsd(key, input_layout, "key", head_dim=d)
        vb = _to_bnsd(value, input_layout, "value", head_dim=d)
        bk, nkv, skv, dk = kb.shape
        _check_dims(b, bk, n, nkv, sq, skv, d, dk)
        masked = None if atten_mask is None else _mask_bnss(atten_mask, b, n, sq, skv, False)
        out, mx, sm = _attend(qb, kb, vb, float(scale), masked)
        out = out.to(query.dtype)
        if input_layout == "BSND":
            out = out.transpose(1, 2)
        elif input_layout in ("BSH", "SBH"):
            out = out.transpose(1, 2).reshape(b, sq, n * d)
            if input_layout == "SBH":
                out = out.transpose(0, 1)
        reserved = torch.empty(0, dtype=query.dtype)
        res = (out.contiguous(), mx.contiguous(), sm.contiguous(), reserved, 0, 0, 0)
    calls.append(
        {
            "layout": input_layout,
            "head_num": head_num,
            "dtype": query.dtype,
            "q_shape": tuple(query.shape),
            "kv_shape": tuple(key.shape),
            "scale": float(scale),
            "keep_prob": float(keep_prob),
            "atten_mask": atten_mask is not None,
        }
    )
    return res


def _check_dims(b, bk, n, nkv, sq, skv, d, dk) -> None:
    if b != bk:
        _fail(f"batch of query ({b}) and key/value ({bk}) differ")
    if d != dk:
        _fail(f"head dim of query ({d}) and key ({dk}) differ")
    if not 1 <= d <= 768:
        _fail(f"head dim {d} outside 1..768")
    if nkv < 1 or n % nkv:
        _fail(f"key/value N={nkv} does not divide query N={n}")
    if sq < 1 or skv < 1:
        _fail(f"empty sequence (Sq={sq}, Skv={skv})")


def _tnd(query, key, value, head_num, atten_mask, scale, qlen, kvlen):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.dim() != 3:
            _fail(f"{name} has {t.dim()} dims, layout TND needs 3")
    tq, n, d = query.shape
    tk, nkv, dk = key.shape
    if n != head_num:
        _fail(f"head_num={head_num} but the query has N={n} in layout TND")
    cq = _check_cumulative(qlen, tq, "actual_seq_qlen")
    ck = _check_cumulative(kvlen, tk, "actual_seq_kvlen")
    if len(cq) != len(ck):
        _fail("actual_seq_qlen and actual_seq_kvlen have different batch sizes")
    _check_dims(len(cq), len(ck), n, nkv, tq, tk, d, dk)
    out = torch.zeros(tq, n, d, dtype=torch.float32)
    mx = torch.zeros(tq, n, 8)
    sm = torch.zeros(tq, n, 8)
    q0 = k0 = 0
    max_q = max(b - a for a, b in zip([0, *cq], cq, strict=False))
    max_k = max(b - a for a, b in zip([0, *ck], ck, strict=False))
    mask = None if atten_mask is None else _mask_bnss(atten_mask, 1, n, max_q, max_k, True)
    for q1, k1 in zip(cq, ck, strict=True):
        if q1 == 0 and q0 > 0:  # trailing batches that take no part
            break
        if q1 > q0 and k1 > k0:
            qs, ks = query[q0:q1], key[k0:k1]
            m = None if mask is None else mask[..., : q1 - q0, : k1 - k0]
            o, a, s = _attend(
                qs.transpose(0, 1)[None],
                ks.transpose(0, 1)[None],
                value[k0:k1].transpose(0, 1)[None],
                scale,
                m,
            )
            out[q0:q1], mx[q0:q1], sm[q0:q1] = (x[0].transpose(0, 1) for x in (o, a, s))
        q0, k0 = q1, k1
    return out.to(query.dtype), mx, sm, torch.empty(0, dtype=query.dtype), 0, 0, 0


#: Every call of :func:`npu_fusion_attention` since :func:`install` (a dict per call).
calls: list[dict[str, Any]] = []


def _to_npu(self: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
    out = self.detach().clone()
    setattr(out, _MARK, True)
    return out


def _is_npu(self: torch.Tensor) -> bool:
    return bool(getattr(self, _MARK, False))


def make_module(available: bool = True) -> types.ModuleType:
    """A fresh ``torch_npu`` stand-in; ``available`` is what ``torch.npu.is_available()`` says."""
    mod = types.ModuleType("torch_npu")
    mod.__version__ = "0+stand-in"
    mod.__file__ = __file__
    npu = types.ModuleType("torch_npu.npu")
    npu.is_available = lambda: available
    npu.device_count = lambda: 1 if available else 0
    npu.current_device = lambda: 0
    mod.npu = npu
    mod.npu_fusion_attention = npu_fusion_attention
    mod.calls = calls
    return mod


def install(monkeypatch: pytest.MonkeyPatch, available: bool = True) -> types.ModuleType:
    """Install the stand-in through ``monkeypatch`` (undone when the monkeypatch is).

    Sets ``sys.modules["torch_npu"]`` and ``sys.modules["torch_npu.npu"]``, ``torch.npu``,
    ``torch.Tensor.npu`` (returns a marked copy) and ``torch.Tensor.is_npu``; clears
    :data:`calls`.
    """
    mod = make_module(available)
    calls.clear()
    monkeypatch.setitem(sys.modules, "torch_npu", mod)
    monkeypatch.setitem(sys.modules, "torch_npu.npu", mod.npu)
    monkeypatch.setattr(torch, "npu", mod.npu, raising=False)
    monkeypatch.setattr(torch.Tensor, "npu", _to_npu, raising=False)
    monkeypatch.setattr(torch.Tensor, "is_npu", property(_is_npu), raising=False)
    return mod


def uninstalled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import torch_npu`` fail (as on a machine without it) until undone."""
    monkeypatch.setitem(sys.modules, "torch_npu", None)
    monkeypatch.delattr(torch, "npu", raising=False)
