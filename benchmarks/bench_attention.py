"""Attention-kernel benchmark: dense SDPA (cuDNN, flash) vs LVSA backends on video shapes.

Runs on one CUDA GPU. For each (model, resolution, horizon) it builds the LVSA plan,
checks every sparse backend against an fp32 reference on sampled query frames
(gathered key frames + SDPA in float32; bf16 relative error must be <= 1e-2), then
times each variant with CUDA events (median of repeats, warm-up excluded). FlashInfer
plan time and first-call JIT time are reported apart from run time.

Usage (device): ``python benchmarks/bench_attention.py --out $OUT``.
Writes ``attention.json`` and ``attention.md`` and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lvsa.backends import flashinfer as fi_backend
from lvsa.backends import flex_attention_lvsa, portable_attention
from lvsa.pattern import dense_attention_flops, frame_pattern
from lvsa.plan import Geometry, get_plan

MODELS = {  # name: (heads, head_dim, reference latent frames, {res: tokens per frame})
    "wan1.3b": (12, 128, 21, {"480p": 1560, "720p": 3600}),
    "wan14b": (40, 128, 21, {"480p": 1560, "720p": 3600}),
    "hunyuan1.5": (16, 128, 33, {"480p": 1590, "720p": 3600}),
}
HORIZONS = {"480p": (1, 2, 4, 6), "720p": (1, 2)}


def latent_frames(reference: int, horizon: float) -> int:
    """Latent frames at ``horizon`` x the training length (4x temporal VAE)."""
    pixel = (reference - 1) * 4 + 1
    return round((pixel - 1) * horizon) // 4 + 1


def device_info() -> dict:
    """GPU name, driver, torch / CUDA / cuDNN / flashinfer versions."""
    info = {
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "python": platform.python_version(),
    }
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.strip()
        info["driver"], info["memory"] = (s.strip() for s in out.split(",")[:2])
    except Exception as exc:  # pragma: no cover - device only
        info["driver"] = f"unknown ({exc})"
    try:
        import flashinfer

        info["flashinfer"] = flashinfer.__version__
    except Exception as exc:
        info["flashinfer"] = f"unavailable ({type(exc).__name__}: {exc})"
    try:
        import diffusers

        info["diffusers"] = diffusers.__version__
    except Exception:
        info["diffusers"] = "unavailable"
    return info


def time_cuda(fn, target_ms: float = 400.0, min_reps: int = 3, max_reps: int = 20) -> dict:
    """Median / min time in ms of ``fn`` with CUDA events; one warm-up call excluded."""
    fn()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    est = (time.perf_counter() - t0) * 1e3
    reps = int(max(min_reps, min(max_reps, target_ms / max(est, 1e-3))))
    if est > 1500:
        reps = 2
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    return {"median_ms": statistics.median(times), "min_ms": min(times), "reps": reps}


def sdpa_with(backend):
    from torch.nn.attention import sdpa_kernel

    def run(q, k, v):
        with sdpa_kernel([backend]):
            return F.scaled_dot_product_attention(q, k, v)

    return run


def reference_rows(q, k, v, plan, frames: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """fp32 reference outputs of sampled query frames: (token index, output (H, n, D))."""
    g = plan.geometry
    outs = []
    for f in frames:
        qi = plan.frame_tokens((f,)).to(q.device)
        ki = plan.frame_tokens(plan.pattern.key_frames[f]).to(q.device)
        qq = q[0].index_select(0, qi).transpose(0, 1).float()
        kk = k[0].index_select(0, ki).transpose(0, 1).float()
        vv = v[0].index_select(0, ki).transpose(0, 1).float()
        outs.append((qi, F.scaled_dot_product_attention(qq, kk, vv)))
    del g
    return outs


def rel_error(out: torch.Tensor, refs) -> float:
    """Max over sampled frames of ||out - ref|| / ||ref|| (out: (1, S, H, D))."""
    worst = 0.0
    for qi, ref in refs:
        o = out[0].index_select(0, qi).transpose(0, 1).float()
        if not torch.isfinite(o).all():
            return float("inf")
        worst = max(worst, ((o - ref).norm() / ref.norm()).item())
    return worst


def bench_flashinfer(kernel, layout, plan, q, k, v, row, record, jit_done, flops):
    """One FlashInfer variant: the run layout (``lvsa_flashinfer_<kernel>``) or the
    tile-aligned one (``..._aligned``, see ``AttentionPlan.aligned_layout``)."""
    name = f"lvsa_flashinfer_{kernel}" + ("_aligned" if layout == "aligned" else "")
    if not fi_backend.flashinfer_available():
        row["variants"][name] = {"error": "flashinfer unavailable"}
        return
    g = plan.geometry
    extra = {}
    try:
        t0 = time.perf_counter()
        fi_backend.prepare(plan, q, kernel=kernel, layout=layout)
        torch.cuda.synchronize()
        first = (time.perf_counter() - t0) * 1e3
        if kernel not in jit_done:
            extra["jit_plus_plan_ms"] = first
            jit_done.add(kernel)
            # plan time alone: a fresh plan object (same geometry, other offset)
            pat = plan.pattern
            p2 = get_plan(frame_pattern(g.frames, 1, anchor_interval=pat.anchor_interval), g)
            t0 = time.perf_counter()
            fi_backend.prepare(p2, q, kernel=kernel, layout=layout)
            torch.cuda.synchronize()
            extra["plan_ms"] = (time.perf_counter() - t0) * 1e3
        else:
            extra["plan_ms"] = first
    except Exception as exc:
        row["variants"][name] = {"error": f"{type(exc).__name__}: {exc}"}
        traceback.print_exc()
        return
    record(
        name,
        lambda: fi_backend.flashinfer_attention(q, k, v, plan, kernel=kernel, layout=layout),
        flops,
        extra=extra,
    )


def bench_config(model, res, horizon, args, results, jit_done):
    heads, dim, ref, tpf = (
        MODELS[model][0],
        MODELS[model][1],
        MODELS[model][2],
        MODELS[model][3][res],
    )
    t = latent_frames(ref, horizon)
    geom = Geometry(t, tpf, heads=heads, head_dim=dim)
    pattern = frame_pattern(t, 0, reference_frames=ref)
    plan = get_plan(pattern, geom)
    s = geom.seq_len
    gen = torch.Generator(device="cuda").manual_seed(hash((model, res, horizon)) % 2**31)
    q, k, v = (
        torch.randn(1, s, heads, dim, device="cuda", dtype=torch.bfloat16, generator=gen)
        for _ in range(3)
    )
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    dense_fl = dense_attention_flops(s, heads, dim)
    sparse_fl = plan.flops()
    row = {
        "model": model,
        "res": res,
        "horizon": horizon,
        "latent_frames": t,
        "tokens": s,
        "heads": heads,
        "kfi": pattern.anchor_interval,
        "density": pattern.density,
        "variants": {},
    }
    big = s * heads > 150_000 * 40
    sample = sorted({0, t // 2, t - 1})
    refs = reference_rows(q, k, v, plan, sample)

    def record(name, fn, flops, check=True, extra=None):
        try:
            torch.cuda.synchronize()
            out = fn()
            torch.cuda.synchronize()
            err = rel_error(out, refs) if check else None
            del out
            tm = time_cuda(fn, target_ms=args.target_ms)
            entry = {**tm, "tflops": flops / (tm["median_ms"] * 1e-3) / 1e12, "rel_err": err}
            if extra:
                entry.update(extra)
            row["variants"][name] = entry
        except Exception as exc:
            row["variants"][name] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            traceback.print_exc()
        torch.cuda.empty_cache()

    from torch.nn.attention import SDPBackend

    cudnn = sdpa_with(SDPBackend.CUDNN_ATTENTION)
    flash = sdpa_with(SDPBackend.FLASH_ATTENTION)
    record("dense_cudnn", lambda: cudnn(qt, kt, vt).transpose(1, 2), dense_fl, check=False)
    if not (big and args.skip_big_flash):
        record("dense_flash", lambda: flash(qt, kt, vt).transpose(1, 2), dense_fl, check=False)
    if pattern.dense:
        results.append(row)
        return row
    for kernel in args.fi_kernels:
        for layout in ("runs", "aligned"):
            bench_flashinfer(kernel, layout, plan, q, k, v, row, record, jit_done, sparse_fl)
    key = (model, res, horizon)
    if key in args.flex_configs:
        t0 = time.perf_counter()
        try:
            flex_attention_lvsa(q, k, v, plan)
            torch.cuda.synchronize()
            extra = {"compile_plus_mask_ms": (time.perf_counter() - t0) * 1e3}
        except Exception:
            extra = {}
        record("lvsa_flex", lambda: flex_attention_lvsa(q, k, v, plan), sparse_fl, extra=extra)
    if key in args.portable_configs:
        record("lvsa_portable", lambda: portable_attention(q, k, v, plan), sparse_fl)
    results.append(row)
    torch.cuda.empty_cache()
    return row


def to_markdown(info: dict, rows: list[dict]) -> str:
    lines = [
        "# LVSA attention kernel benchmark",
        "",
        f"Device: {info.get('gpu')} (driver {info.get('driver')}, {info.get('memory')}), "
        f"torch {info.get('torch')} (CUDA {info.get('cuda')}, cuDNN {info.get('cudnn')}), "
        f"flashinfer {info.get('flashinfer')}.",
        "",
        "bf16, batch 1, video tokens only, one latent frame per block. Times are medians of "
        "CUDA-event timings (warm-up excluded); TF/s counts only the FLOPs each variant must "
        "do (dense: all pairs; LVSA: kept pairs) = effective rate. Speed-up vs dense cuDNN. "
        "rel err: max over 3 sampled query frames of ||out - ref|| / ||ref|| against an fp32 "
        "gathered reference.",
        "",
        "| model | res | horizon | frames | tokens | kfi | density | variant | ms | TF/s | "
        "speed-up | rel err | plan ms |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        base = r["variants"].get("dense_cudnn", {}).get("median_ms")
        for name, v in r["variants"].items():
            if "error" in v:
                lines.append(
                    f"| {r['model']} | {r['res']} | {r['horizon']}x | {r['latent_frames']} | "
                    f"{r['tokens']} | {r['kfi']} | {r['density']:.3f} | {name} | error: "
                    f"{v['error'][:80]} | | | | |"
                )
                continue
            sp = f"{base / v['median_ms']:.2f}x" if base else ""
            err = "" if v.get("rel_err") is None else f"{v['rel_err']:.1e}"
            plan_ms = f"{v['plan_ms']:.1f}" if "plan_ms" in v else ""
            lines.append(
                f"| {r['model']} | {r['res']} | {r['horizon']}x | {r['latent_frames']} | "
                f"{r['tokens']} | {r['kfi']} | {r['density']:.3f} | {name} | "
                f"{v['median_ms']:.2f} | {v['tflops']:.0f} | {sp} | {err} | {plan_ms} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.environ.get("OUT", "benchmarks/results"))
    ap.add_argument("--models", nargs="*", default=list(MODELS))
    ap.add_argument("--fi-kernels", nargs="*", default=["fa3", "fa2"])
    ap.add_argument("--target-ms", type=float, default=300.0)
    ap.add_argument("--skip-big-flash", action="store_true")
    ap.add_argument("--budget-s", type=float, default=420.0, help="stop starting configs after")
    ap.add_argument("--tag", default="attention")
    args = ap.parse_args(argv)
    args.flex_configs = {("wan1.3b", "480p", 2), ("wan1.3b", "480p", 6)}
    args.portable_configs = {
        ("wan1.3b", "480p", 2),
        ("wan1.3b", "480p", 6),
        ("hunyuan1.5", "480p", 2),
    }
    torch.backends.cuda.matmul.allow_tf32 = False
    info = device_info()
    print(json.dumps(info), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    jit_done: set[str] = set()
    start = time.perf_counter()
    order = [(m, r, h) for m in args.models for r in ("480p", "720p") for h in HORIZONS[r]]
    # cheap, important configs first
    order.sort(key=lambda c: (c[0] != "wan1.3b", c[1] != "480p", c[2]))
    skipped = []
    for m, r, h in order:
        if time.perf_counter() - start > args.budget_s:
            skipped.append(f"{m} {r} {h}x")
            continue
        t0 = time.perf_counter()
        row = bench_config(m, r, h, args, rows, jit_done)
        summary = {n: round(v.get("median_ms", -1), 2) for n, v in row["variants"].items()}
        print(
            f"[{time.perf_counter() - start:6.1f}s] {m} {r} {h}x T={row['latent_frames']} "
            f"d={row['density']:.3f} {summary} ({time.perf_counter() - t0:.1f}s)",
            flush=True,
        )
        (out / f"{args.tag}.json").write_text(
            json.dumps({"device": info, "rows": rows, "skipped": skipped}, indent=1)
        )
    md = to_markdown(info, rows)
    if skipped:
        md += "\nSkipped for time: " + ", ".join(skipped) + "\n"
    (out / f"{args.tag}.json").write_text(
        json.dumps({"device": info, "rows": rows, "skipped": skipped}, indent=1)
    )
    (out / f"{args.tag}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
