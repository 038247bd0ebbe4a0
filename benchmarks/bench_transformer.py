"""Transformer-step benchmark: one full forward, dense vs LVSA, random bf16 weights.

* Wan 2.1 1.3B config (30 blocks, 12 x 128) at 1x, 2x, 4x, 6x the training horizon,
  480p: stock diffusers processors (SDPA, cuDNN preferred) vs ``lvsa.apply`` (auto
  backend: FlashInfer fa3 on Hopper; dense cuDNN path when the pattern is dense).
* HunyuanVideo 1.5 config (54 blocks, 16 x 128) at 1x, 1.5x, 2x, 480p, with peak memory:
  stock (builds a [B, 1, S, S] mask), "dense, no S x S mask" (LVSA processor forced dense:
  padding text keys dropped by length) and LVSA.

Usage (device): ``python benchmarks/bench_transformer.py --out $OUT``.
Writes ``transformer.json`` / ``transformer.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import sys
import time
import traceback
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_attention import device_info, latent_frames

import lvsa


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype):
    """Build modules directly in ``dtype`` (no fp32 copy of the weights)."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(old)


def cudnn_first():
    from torch.nn.attention import SDPBackend, sdpa_kernel

    order = [
        SDPBackend.CUDNN_ATTENTION,
        SDPBackend.FLASH_ATTENTION,
        SDPBackend.EFFICIENT_ATTENTION,
        SDPBackend.MATH,
    ]
    try:
        return sdpa_kernel(order, set_priority=True)
    except TypeError:  # older torch
        return contextlib.nullcontext()


def timed_forward(fn, reps: int) -> dict:
    """Warm-up forward, then ``reps`` timed forwards (CUDA events); peak memory of all."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    with torch.no_grad(), cudnn_first():
        fn()
    torch.cuda.synchronize()
    first = time.perf_counter() - t0
    times = []
    for _ in range(reps if first < 8 else 1):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        with torch.no_grad(), cudnn_first():
            a.record()
            fn()
            b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return {
        "ms": times[len(times) // 2],
        "times_ms": times,
        "first_ms": first * 1e3,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
    }


PARTIAL: Path | None = None


def run_variant(rows, model_name, horizon, frames, tokens, variant, fn, reps, density=None):
    row = {
        "model": model_name,
        "horizon": horizon,
        "latent_frames": frames,
        "tokens": tokens,
        "variant": variant,
        "density": density,
    }
    try:
        row.update(timed_forward(fn, reps))
    except torch.OutOfMemoryError as exc:
        row["error"] = f"OOM: {str(exc)[:160]}"
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        traceback.print_exc()
    gc.collect()
    torch.cuda.empty_cache()
    rows.append(row)
    print(json.dumps(row), flush=True)
    if PARTIAL is not None:
        PARTIAL.write_text(json.dumps({"rows": rows}, indent=1))
    return row


def bench_wan(rows, args, compiled: bool = False):
    from diffusers import WanTransformer3DModel

    with torch.device("cuda"), default_dtype(torch.bfloat16):
        model = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=12,
            attention_head_dim=128,
            in_channels=16,
            out_channels=16,
            text_dim=4096,
            freq_dim=256,
            ffn_dim=8960,
            num_layers=30,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            eps=1e-6,
            rope_max_seq_len=1024,
        )
    model = model.to(torch.bfloat16).eval()
    g = torch.Generator(device="cuda").manual_seed(0)
    text = torch.randn(1, 512, 4096, device="cuda", dtype=torch.bfloat16, generator=g)
    horizons = args.wan_compile_horizons if compiled else args.wan_horizons
    suffix = "_compiled" if compiled else ""
    for h in horizons:
        t = latent_frames(21, h)
        x = torch.randn(1, 16, t, 60, 104, device="cuda", dtype=torch.bfloat16, generator=g)
        ts = torch.tensor([700.0], device="cuda")

        def fwd(x=x, ts=ts):
            return model(x, ts, text, return_dict=False)[0]

        lvsa.remove(model)
        if compiled:
            # eager baseline on the same machine, then regional compilation of the blocks
            run_variant(rows, "wan1.3b", h, t, t * 1560, "dense_stock", fwd, args.reps)
            torch._dynamo.config.cache_size_limit = 64
            model.compile_repeated_blocks(fullgraph=False, dynamic=False)
        run_variant(rows, "wan1.3b", h, t, t * 1560, "dense_stock" + suffix, fwd, args.reps)
        sess = lvsa.apply(model, lvsa.LVSAConfig(reference_frames=21))
        run_variant(rows, "wan1.3b", h, t, t * 1560, "lvsa" + suffix, fwd, args.reps)
        rows[-1]["density"] = sess.last_density
        rows[-1]["plans_seen"] = len(set(sess.steps_seen))
        lvsa.remove(model)
        del x
    gc.collect()
    torch.cuda.empty_cache()


def bench_hunyuan(rows, args):
    from diffusers import HunyuanVideo15Transformer3DModel

    with torch.device("cuda"), default_dtype(torch.bfloat16):
        model = HunyuanVideo15Transformer3DModel()  # 8.3B default config
    model = model.to(torch.bfloat16).eval()
    g = torch.Generator(device="cuda").manual_seed(1)
    bf = dict(device="cuda", dtype=torch.bfloat16)
    n1, n2 = 256, 64
    kw = dict(
        encoder_hidden_states=torch.randn(1, n1, 3584, generator=g, **bf),
        encoder_attention_mask=(torch.arange(n1, device="cuda") < 180)[None].long(),
        encoder_hidden_states_2=torch.randn(1, n2, 1472, generator=g, **bf),
        encoder_attention_mask_2=(torch.arange(n2, device="cuda") < 20)[None].long(),
        image_embeds=torch.zeros(1, 729, 1152, **bf),
    )
    for h in args.hy_horizons:
        t = latent_frames(33, h)
        x = torch.randn(1, 65, t, 30, 53, generator=g, **bf)
        ts = torch.tensor([700.0], device="cuda", dtype=torch.bfloat16)

        def fwd(x=x, ts=ts):
            return model(x, ts, return_dict=False, **kw)[0]

        tokens = t * 1590
        lvsa.remove(model)
        if h <= args.hy_stock_max:
            run_variant(rows, "hunyuan1.5", h, t, tokens, "dense_stock", fwd, args.reps)
        else:
            rows.append(
                {
                    "model": "hunyuan1.5",
                    "horizon": h,
                    "latent_frames": t,
                    "tokens": tokens,
                    "variant": "dense_stock",
                    "error": "not run: [B,1,S,S] mask alone needs "
                    f"{3 * tokens**2 / 2**30:.0f} GiB (3 bool copies)",
                }
            )
        lvsa.apply(model, lvsa.LVSAConfig(reference_frames=10**6))
        run_variant(rows, "hunyuan1.5", h, t, tokens, "dense_no_mask", fwd, args.reps, 1.0)
        sess = lvsa.apply(model, lvsa.LVSAConfig(reference_frames=33))
        run_variant(rows, "hunyuan1.5", h, t, tokens, "lvsa", fwd, args.reps)
        rows[-1]["density"] = sess.last_density
        lvsa.remove(model)
        del x
    gc.collect()
    torch.cuda.empty_cache()


def to_markdown(info, rows, title: str = "# Transformer forward benchmark (dense vs LVSA)") -> str:
    lines = [
        title,
        "",
        f"Device: {info.get('gpu')} (driver {info.get('driver')}, {info.get('memory')}), "
        f"torch {info.get('torch')} (CUDA {info.get('cuda')}, cuDNN {info.get('cudnn')}), "
        f"flashinfer {info.get('flashinfer')}, diffusers {info.get('diffusers')}.",
        "",
        "One forward, batch 1, random bf16 weights, 480p; median of timed forwards after one "
        "warm-up (CUDA events). Speed-up vs the model's dense_stock row (diffusers' processors, "
        "SDPA with cuDNN preferred). Peak = torch max allocated during warm-up + timed runs.",
        "",
        "| model | horizon | latent frames | tokens | variant | density | ms | speed-up | "
        "vs dense, same mode | peak GiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base, base_c = {}, {}
    for r in rows:
        if r["variant"] == "dense_stock" and "ms" in r:
            base[(r["model"], r["horizon"])] = r["ms"]
        if r["variant"] == "dense_stock_compiled" and "ms" in r:
            base_c[(r["model"], r["horizon"])] = r["ms"]
    for r in rows:
        d = "" if r.get("density") is None else f"{r['density']:.3f}"
        if "error" in r:
            lines.append(
                f"| {r['model']} | {r['horizon']}x | {r['latent_frames']} | {r['tokens']} | "
                f"{r['variant']} | {d} | {r['error'][:90]} | | | |"
            )
            continue
        key = (r["model"], r["horizon"])
        b = base.get(key)
        sp = f"{b / r['ms']:.2f}x" if b else ""
        same = base_c.get(key) if r["variant"].endswith("_compiled") else b
        sp2 = f"{same / r['ms']:.2f}x" if same else ""
        lines.append(
            f"| {r['model']} | {r['horizon']}x | {r['latent_frames']} | {r['tokens']} | "
            f"{r['variant']} | {d} | {r['ms']:.0f} | {sp} | {sp2} | {r['peak_gib']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.environ.get("OUT", "benchmarks/results"))
    ap.add_argument("--wan-horizons", nargs="*", type=float, default=[1, 2, 4, 6])
    ap.add_argument("--hy-horizons", nargs="*", type=float, default=[1, 1.5, 2])
    ap.add_argument("--hy-stock-max", type=float, default=2.0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--wan-compile-horizons", nargs="*", type=float, default=[6])
    ap.add_argument(
        "--sections", nargs="*", default=["wan", "hunyuan"], help="wan, hunyuan, wan_compiled"
    )
    ap.add_argument("--merge", nargs="*", default=[], help="merge result JSONs into --out")
    ap.add_argument("--tag", default="transformer")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        runs = [json.loads(Path(p).read_text()) for p in args.merge]
        md = "# Transformer forward benchmark (dense vs LVSA)\n\n" + "\n".join(
            to_markdown(r["device"], r["rows"], f"## Run {i + 1}") for i, r in enumerate(runs)
        )
        (out / f"{args.tag}.json").write_text(json.dumps({"runs": runs}, indent=1))
        (out / f"{args.tag}.md").write_text(md)
        print(md)
        return 0
    global PARTIAL
    PARTIAL = out / f"{args.tag}.partial.json"
    info = device_info()
    print(json.dumps(info), flush=True)
    rows: list[dict] = []
    sections = {
        "wan": lambda: bench_wan(rows, args),
        "hunyuan": lambda: bench_hunyuan(rows, args),
        "wan_compiled": lambda: bench_wan(rows, args, compiled=True),
    }
    for name in args.sections:
        try:
            sections[name]()
        except Exception:
            traceback.print_exc()
        gc.collect()
        torch.cuda.empty_cache()
        (out / f"{args.tag}.json").write_text(json.dumps({"device": info, "rows": rows}, indent=1))
    md = to_markdown(info, rows)
    (out / f"{args.tag}.json").write_text(json.dumps({"device": info, "rows": rows}, indent=1))
    (out / f"{args.tag}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
