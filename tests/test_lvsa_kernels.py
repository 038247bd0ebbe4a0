"""The fused query/key norm + RoPE kernel against the stock torch ops.

On a CUDA machine the Triton kernel runs compiled. Without CUDA the kernel tests run in
Triton's interpreter (numpy on the CPU), so indexing, masking and arithmetic are checked
in CI too: the interpreter must be chosen before Triton is first imported, so
``test_kernel_in_triton_interpreter`` runs this file again in a fresh process with
``TRITON_INTERPRET=1``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lvsa.kernels import norm_rope, rope_interleaved

CUDA = torch.cuda.is_available()
INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"
pytest.importorskip("triton")
if CUDA or INTERPRETED:
    from lvsa.kernels import _triton_norm_rope as kernel_mod
needs_kernel = pytest.mark.skipif(
    not (CUDA or INTERPRETED), reason="runs in the interpreter subprocess without CUDA"
)

DEVICE = "cuda" if CUDA else "cpu"


@pytest.mark.slow  # ~20 s in the Triton interpreter
@pytest.mark.skipif(CUDA or INTERPRETED, reason="CUDA runs the kernel tests directly")
def test_kernel_in_triton_interpreter() -> None:
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    env.pop("PYTEST_XDIST_WORKER", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist"]
    proc = subprocess.run(
        [*cmd, str(Path(__file__)), "-k", "kernel and not interpreter"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def _tables(seq: int, dim: int, dtype: torch.dtype, gen: torch.Generator):
    ang = torch.rand(seq, dim // 2, generator=gen, dtype=torch.float64) * 20
    cos = ang.cos().repeat_interleave(2, -1)[None, :, None].to(dtype)
    sin = ang.sin().repeat_interleave(2, -1)[None, :, None].to(dtype)
    return cos.to(DEVICE), sin.to(DEVICE)


def _reference(x, norm, heads, cos, sin):
    return rope_interleaved(norm(x).unflatten(2, (heads, -1)), cos, sin)


@needs_kernel
@pytest.mark.parametrize(
    ("batch", "seq", "heads", "dim", "dtype", "table_dtype", "strided", "affine"),
    [
        (1, 37, 2, 12, torch.float32, torch.float32, False, True),
        (2, 21, 3, 16, torch.float32, torch.float64, True, True),
        (1, 19, 5, 8, torch.float32, torch.float32, False, False),
        (2, 40, 12, 128, torch.bfloat16, torch.bfloat16, True, True),
        (1, 33, 12, 128, torch.bfloat16, torch.float32, False, True),
    ],
)
@torch.no_grad()
def test_fused_kernel_matches_torch_ops(
    batch, seq, heads, dim, dtype, table_dtype, strided, affine
) -> None:
    gen = torch.Generator().manual_seed(seq)
    chans = heads * dim
    big = torch.randn(batch, seq, 3 * chans, generator=gen).to(dtype).to(DEVICE)
    # a query slice of a fused QKV projection has row stride 3C
    x = big[..., chans : 2 * chans] if strided else big[..., :chans].contiguous()
    norm = torch.nn.RMSNorm(chans, eps=1e-6, elementwise_affine=affine).to(DEVICE, dtype)
    if affine:
        norm.weight.copy_(1 + 0.3 * torch.randn(chans, generator=gen))
    cos, sin = _tables(seq, dim, table_dtype, gen)
    ref = _reference(x, norm, heads, cos, sin).float()
    out = kernel_mod.triton_norm_rope(
        x,
        norm.weight if affine else None,
        1e-6,
        cos.reshape(seq, dim),
        sin.reshape(seq, dim),
        heads,
    ).unflatten(2, (heads, -1))
    assert out.dtype == dtype and out.shape == ref.shape and out.is_contiguous()
    err = (out.float() - ref).abs()
    if dtype == torch.float32:
        assert err.max().item() <= 1e-5 * ref.abs().max().item()
    else:  # the stock ops round each product to bf16; the kernel rounds once
        assert (err.norm() / ref.norm()).item() <= 1e-2
        assert err.max().item() <= 4 * 2**-8 * ref.abs().max().item()


@needs_kernel
def test_kernel_differs_when_tables_are_swapped() -> None:
    """Guards the check above against a kernel that ignores the rotation."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(1, 11, 2 * 16, generator=gen).to(DEVICE)
    norm = torch.nn.RMSNorm(32, eps=1e-6).to(DEVICE)
    cos, sin = _tables(11, 16, torch.float32, gen)
    with torch.no_grad():
        ref = _reference(x, norm, 2, cos, sin)
        out = kernel_mod.triton_norm_rope(
            x, norm.weight, 1e-6, sin.reshape(11, 16), cos.reshape(11, 16), 2
        )
    assert (out.unflatten(2, (2, -1)) - ref).abs().max().item() > 0.1


@pytest.mark.skipif(not CUDA, reason="the dispatcher uses the kernel only on CUDA")
@torch.no_grad()
def test_dispatcher_uses_kernel_on_cuda_and_matches(monkeypatch) -> None:
    calls = []
    real = kernel_mod.triton_norm_rope
    monkeypatch.setattr(
        kernel_mod, "triton_norm_rope", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(1, 64, 12 * 128, generator=gen).to("cuda", torch.bfloat16)
    norm = torch.nn.RMSNorm(12 * 128, eps=1e-6).to("cuda", torch.bfloat16)
    cos, sin = _tables(64, 128, torch.bfloat16, gen)
    fused = norm_rope(x, norm, 12, (cos, sin), fused=True)
    plain = norm_rope(x, norm, 12, (cos, sin), fused=False)
    assert len(calls) == 1
    assert ((fused.float() - plain.float()).norm() / plain.float().norm()).item() <= 1e-2


def test_dispatcher_on_cpu_is_the_stock_ops() -> None:
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(2, 9, 24, generator=gen)
    norm = torch.nn.RMSNorm(24, eps=1e-6)
    cos, sin = _tables(9, 12, torch.float32, gen)
    with torch.no_grad():
        out = norm_rope(x.to(DEVICE), norm.to(DEVICE), 2, (cos, sin))
        ref = _reference(x.to(DEVICE), norm.to(DEVICE), 2, cos, sin)
        assert torch.allclose(out, ref, atol=1e-6)
        assert torch.equal(norm_rope(x, norm.cpu(), 2, None), norm(x).unflatten(2, (2, -1)))
