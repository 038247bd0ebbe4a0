"""Transformer-step benchmark: one full forward, dense vs LVSA, random bf16 weights.

* Wan 2.1 1.3B config (30 blocks, 12 x 128) at 1x, 2x, 4x, 6x the training horizon,
  480p: stock diffusers processors (SDPA, cuDNN preferred) vs ``lvsa.apply`` (auto
  backend: FlashInfer fa3 on Hopper; dense cuDNN path when the pattern is dense); at
  ``--wan-extra-horizons`` the ``--wan-extra-variants`` instead (default all of
  ``WAN_VARIANTS``: also this project's processor forced dense, LVSA without the fused
  norm + RoPE kernel, and LVSA with each FlashInfer query layout forced, ``lvsa_runs`` /
  ``lvsa_aligned``).
* ``wan_compiled``: eager stock baselines, then diffusers' regional compilation and the
  compiled dense / LVSA pair at ``--wan-compile-horizons``.
* ``wan_profile``: CUDA kernel time of one eager forward by kernel class, and the top
  kernels, at ``--profile-horizon``.
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


def build_wan(device: str = "cuda"):
    """Wan 2.1 1.3B transformer (30 blocks, 12 x 128), random bf16 weights, on ``device``."""
    from diffusers import WanTransformer3DModel

    with torch.device(device), default_dtype(torch.bfloat16):
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
    return model.to(torch.bfloat16).eval()


#: LVSA settings of the Wan variants: None = stock processors.
WAN_VARIANTS = {
    "dense_stock": None,
    # this project's processor with the attention forced dense (cuDNN SDPA): the dense
    # forward with the same non-attention code as LVSA
    "dense_lvsa_processor": lvsa.LVSAConfig(reference_frames=10**6),
    "lvsa_unfused": lvsa.LVSAConfig(fused_norm_rope=False),
    "lvsa": lvsa.LVSAConfig(),  # the library defaults (Wan: 21 frames, layout "auto")
    # LVSA with each FlashInfer query layout forced (``LVSAConfig.query_layout``): one
    # request per run of query frames, or requests on 128-row query tiles
    # (``AttentionPlan.aligned_layout``)
    "lvsa_runs": lvsa.LVSAConfig(query_layout="runs"),
    "lvsa_aligned": lvsa.LVSAConfig(query_layout="aligned"),
}


def wan_inputs(model, horizon: float, gen: torch.Generator):
    t = latent_frames(21, horizon)
    x = torch.randn(1, 16, t, 60, 104, device="cuda", dtype=torch.bfloat16, generator=gen)
    text = torch.randn(1, 512, 4096, device="cuda", dtype=torch.bfloat16, generator=gen)
    ts = torch.tensor([700.0], device="cuda")

    def fwd():
        return model(x, ts, text, return_dict=False)[0]

    return t, fwd


def set_variant(model, variant: str):
    lvsa.remove(model)
    cfg = WAN_VARIANTS[variant]
    return None if cfg is None else lvsa.apply(model, cfg)


def bench_wan(rows, args, compiled: bool = False):
    """Eager variants per horizon; or (``compiled``) the eager stock baseline at every
    horizon first, then regional compilation and the compiled dense / LVSA pair."""
    model = build_wan()
    g = torch.Generator(device="cuda").manual_seed(0)
    horizons = args.wan_compile_horizons if compiled else args.wan_horizons
    inputs = {h: wan_inputs(model, h, g) for h in horizons}
    if compiled:
        for h, (t, fwd) in inputs.items():
            set_variant(model, "dense_stock")
            run_variant(rows, "wan1.3b", h, t, t * 1560, "dense_stock", fwd, args.reps)
        # the LVSA attention is one opaque op, so the blocks compile to one graph each
        model.compile_repeated_blocks(fullgraph=True, dynamic=False)
    for h, (t, fwd) in inputs.items():
        names = args.wan_compile_variants if compiled else ["dense_stock", "lvsa"]
        if not compiled and h in args.wan_extra_horizons:
            names = args.wan_extra_variants
        for name in names:
            sess = set_variant(model, name)
            label = name + ("_compiled" if compiled else "")
            run_variant(rows, "wan1.3b", h, t, t * 1560, label, fwd, args.reps)
            if sess is not None:
                rows[-1]["density"] = sess.last_density
    lvsa.remove(model)
    del model, inputs
    gc.collect()
    torch.cuda.empty_cache()


#: Kernel class of everything not matched by :data:`KERNEL_CLASSES`.
OTHER = "other (elementwise, norms, copies)"
KERNEL_CLASSES = (
    ("attention", ("flash", "fmha", "cudnn", "prefill", "attention", "sdpa", "softmax")),
    ("gemm", ("gemm", "nvjet", "cutlass", "xmma", "cublas", "matmul")),
    ("fused norm+rope (Triton)", ("_norm_rope_kernel",)),
)


def kernel_class(name: str) -> str:
    low = name.lower()
    for label, keys in KERNEL_CLASSES:
        if any(k in low for k in keys):
            return label
    return OTHER


def profile_wan(args) -> dict:
    """CUDA kernel time of one eager forward per variant, by kernel class and top kernels."""
    from torch.profiler import ProfilerActivity, profile

    model = build_wan()
    g = torch.Generator(device="cuda").manual_seed(0)
    _, fwd = wan_inputs(model, args.profile_horizon, g)
    result = {"horizon": args.profile_horizon, "variants": {}}
    for name in args.profile_variants:
        set_variant(model, name)
        with torch.no_grad(), cudnn_first():
            fwd()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                fwd()
                torch.cuda.synchronize()
        per = {}
        classes: dict[str, float] = {}
        for ev in prof.key_averages():
            ms = getattr(ev, "device_time_total", getattr(ev, "cuda_time_total", 0)) / 1e3
            if ms <= 0 or ev.key.startswith("ProfilerStep"):
                continue
            per[ev.key] = per.get(ev.key, 0.0) + ms
        for k, ms in per.items():
            c = kernel_class(k)
            classes[c] = classes.get(c, 0.0) + ms
        top = sorted(per.items(), key=lambda kv: -kv[1])[:12]
        result["variants"][name] = {
            "classes_ms": classes,
            "total_ms": sum(per.values()),
            "top": [{"kernel": k[:110], "ms": ms} for k, ms in top],
        }
        print(json.dumps({name: classes}), flush=True)
    lvsa.remove(model)
    del model
    gc.collect()
    torch.cuda.empty_cache()
    return result


def profile_markdown(p: dict) -> str:
    lines = [
        f"## Kernel-time profile, Wan 1.3B at {p['horizon']}x (one eager forward, CUDA time)",
        "",
        "| variant | " + " | ".join(c for c, _ in KERNEL_CLASSES) + " | other | total |",
        "| --- |" + " --- |" * (len(KERNEL_CLASSES) + 2),
    ]
    for name, v in p["variants"].items():
        cls = v["classes_ms"]
        other = cls.get(OTHER, 0.0)
        cells = [f"{cls.get(c, 0.0):.0f} ms" for c, _ in KERNEL_CLASSES]
        lines.append(
            f"| {name} | " + " | ".join(cells) + f" | {other:.0f} ms | {v['total_ms']:.0f} ms |"
        )
    for name, v in p["variants"].items():
        lines += ["", f"Top kernels, {name}:", "", "| kernel | ms |", "| --- | --- |"]
        lines += [f"| `{t['kernel']}` | {t['ms']:.1f} |" for t in v["top"]]
    return "\n".join(lines) + "\n"


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
        sess = lvsa.apply(model, lvsa.LVSAConfig())  # HunyuanVideo 1.5's default: 33
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
        # the first eager stock row of a (model, horizon) is the baseline of the run
        if r["variant"] == "dense_stock" and "ms" in r:
            base.setdefault((r["model"], r["horizon"]), r["ms"])
        if r["variant"] == "dense_stock_compiled" and "ms" in r:
            base_c.setdefault((r["model"], r["horizon"]), r["ms"])
    for r in rows:
        d = "" if r.get("density") is None else f"{r['density']:.3f}"
        if "error" in r:
            lines.append(
                f"| {r['model']} | {r['horizon']:g}x | {r['latent_frames']} | {r['tokens']} | "
                f"{r['variant']} | {d} | {r['error'][:90]} | | | |"
            )
            continue
        key = (r["model"], r["horizon"])
        b = base.get(key)
        sp = f"{b / r['ms']:.2f}x" if b else ""
        same = base_c.get(key) if r["variant"].endswith("_compiled") else b
        sp2 = f"{same / r['ms']:.2f}x" if same else ""
        lines.append(
            f"| {r['model']} | {r['horizon']:g}x | {r['latent_frames']} | {r['tokens']} | "
            f"{r['variant']} | {d} | {r['ms']:.0f} | {sp} | {sp2} | {r['peak_gib']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def run_markdown(run: dict, title: str) -> str:
    """One run: its note (if any), the timing table and its kernel profiles."""
    md = to_markdown(run["device"], run["rows"], title)
    if run.get("note"):
        head, _, rest = md.partition("\n\n")
        md = f"{head}\n\n{run['note']}\n\n{rest}"
    return md + "".join(
        "\n" + profile_markdown(p).replace("## ", "### ") for p in run.get("profiles", [])
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.environ.get("OUT", "benchmarks/results"))
    ap.add_argument("--wan-horizons", nargs="*", type=float, default=[1, 2, 4, 6])
    ap.add_argument("--hy-horizons", nargs="*", type=float, default=[1, 1.5, 2])
    ap.add_argument("--hy-stock-max", type=float, default=2.0)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--wan-compile-horizons", nargs="*", type=float, default=[2, 6])
    ap.add_argument(
        "--wan-extra-horizons",
        nargs="*",
        type=float,
        default=[2, 6],
        help="horizons that run --wan-extra-variants instead of dense_stock and lvsa",
    )
    ap.add_argument("--wan-extra-variants", nargs="*", default=list(WAN_VARIANTS))
    ap.add_argument(
        "--wan-compile-variants",
        nargs="*",
        default=["dense_stock", "lvsa"],
        help="compiled variants, in order, after the eager dense_stock baselines",
    )
    ap.add_argument("--profile-horizon", type=float, default=2)
    ap.add_argument("--profile-variants", nargs="*", default=["dense_stock", "lvsa"])
    ap.add_argument(
        "--sections",
        nargs="*",
        default=["wan", "hunyuan"],
        help="wan, hunyuan, wan_compiled, wan_profile",
    )
    ap.add_argument("--merge", nargs="*", default=[], help="merge result JSONs into --out")
    ap.add_argument(
        "--notes",
        nargs="*",
        default=[],
        help="with --merge: one note per merged file (device, commit, what it measured), "
        "given to its runs that have none ('' for no note)",
    )
    ap.add_argument("--tag", default="transformer")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        runs = []
        notes = list(args.notes) + [""] * (len(args.merge) - len(args.notes))
        for p, note in zip(args.merge, notes):  # a run file, or a merged file's runs in order
            got = json.loads(Path(p).read_text())
            for run in got.get("runs", [got]):
                if note and not run.get("note"):
                    run = {**run, "note": note}
                runs.append(run)
        md = "# Transformer forward benchmark (dense vs LVSA)\n\n" + "\n".join(
            run_markdown(r, f"## Run {i + 1}") for i, r in enumerate(runs)
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
    profiles: list[dict] = []
    sections = {
        "wan": lambda: bench_wan(rows, args),
        "hunyuan": lambda: bench_hunyuan(rows, args),
        "wan_compiled": lambda: bench_wan(rows, args, compiled=True),
        "wan_profile": lambda: profiles.append(profile_wan(args)),
    }
    for name in args.sections:
        try:
            sections[name]()
        except Exception:
            traceback.print_exc()
        gc.collect()
        torch.cuda.empty_cache()
        (out / f"{args.tag}.json").write_text(json.dumps({"device": info, "rows": rows}, indent=1))
    result = {"device": info, "rows": rows, "profiles": profiles}
    md = run_markdown(result, "# Transformer forward benchmark (dense vs LVSA)")
    (out / f"{args.tag}.json").write_text(json.dumps(result, indent=1))
    (out / f"{args.tag}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
