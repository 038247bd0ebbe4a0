"""End-to-end generation benchmark: the whole diffusers ``WanPipeline`` call, dense vs LVSA.

What runs: ``WanPipeline(...)(prompt, negative_prompt, ...)`` with

* the transformer of the published Wan 2.1 T2V 1.3B config (30 blocks, 12 x 128) and the
  published Wan 2.1 VAE config (``AutoencoderKLWan()`` defaults), random weights, bf16
  transformer and float32 VAE (as ``lvsa-generate`` loads Wan);
* the published scheduler (``UniPCMultistepScheduler``, flow prediction, shift 3.0);
* a random-weight text encoder: by default of the real UMT5-XXL shape
  (``--text-encoder umt5-xxl``: 24 layers, d_model 4096, 5.7B parameters, bf16), or a
  2-layer UMT5 of the same output width (``small``); the tokenizer is a word-level one
  built in memory (the real SentencePiece vocabulary cannot be downloaded). Either way
  the text stage is timed as the pipeline runs it (prompt and negative prompt, 512
  tokens each) and the transformer sees text embeddings of the real shape.

Each configuration (mode eager / compiled, horizon, method dense / LVSA) runs one
``pipe(...)`` call of ``--steps`` denoising steps with classifier-free guidance as the
pipeline does it (two transformer forwards per step), 480 x 832, and records the time of
each stage (CUDA-synchronised at the stage borders): text encoding, every denoising step,
VAE decode, and the rest (latent set-up, post-processing to numpy). Step 0 absorbs
one-off costs (cuDNN / FlashInfer planning, compilation of a new shape), so the
**50-step formula** (a warm pipeline: JIT kernels cached, blocks compiled) is::

    T50 = text + 50 * step + decode + other

with ``step`` the median of the later steps (``first_step - step`` is reported as the
one-off cost, ``T50 + one-off`` as a cold start); ``--check`` runs some configurations with
50 whole steps to compare the formula with a measured generation. ``--vae-check H``
times the VAE decode alone at horizon ``H``, untiled and tiled
(``AutoencoderKLWan.enable_tiling``), with peak memory; slicing only splits a batch and
does nothing at batch 1.

``--tiny`` runs everything with tiny random models on the CPU in seconds (tests use it so
the script cannot rot); its numbers mean nothing.

Usage (device)::

    python benchmarks/bench_e2e.py --out $OUT --modes eager --horizons 1 2 4 6 \\
        --steps 3 --check lvsa:2 --vae-check 6

Writes ``<tag>.json`` and ``<tag>.md`` (default tag ``e2e``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_transformer import build_wan, cudnn_first, default_dtype

import lvsa

#: Steps of the formula's whole generation (the paper's and Wan's default).
FULL_STEPS = 50
PROMPT = "a red fox running through deep snow, tracking shot, golden hour"
NEGATIVE = "static, frozen, blurry, low quality, watermark"


def word_tokenizer(vocab_size: int):
    """A word-level fast tokenizer built in memory (no download): unknown words map to
    ``<unk>``; ids stay below ``vocab_size``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = sorted(set((PROMPT + " " + NEGATIVE).replace(",", " ").split()))
    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for w in words[: max(0, vocab_size - 3)]:
        vocab[w] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def text_encoder(kind: str, device: str, dtype: torch.dtype, d_model: int = 4096):
    """Random-weight UMT5 encoder: ``umt5-xxl`` (the real shape), ``small`` (2 layers,
    same output width) or ``tiny`` (tests)."""
    from transformers import UMT5Config, UMT5EncoderModel

    shapes = {
        "umt5-xxl": dict(d_ff=10240, num_layers=24, num_heads=64, vocab_size=256384),
        "small": dict(d_ff=1024, num_layers=2, num_heads=8, vocab_size=1024),
        "tiny": dict(d_ff=16, num_layers=1, num_heads=2, vocab_size=64),
    }[kind]
    cfg = UMT5Config(
        d_model=d_model,
        d_kv=d_model // shapes["num_heads"],
        feed_forward_proj="gated-gelu",
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
        tie_word_embeddings=False,
        **shapes,
    )
    with torch.device(device), default_dtype(dtype):
        model = UMT5EncoderModel(cfg)
    return model.to(dtype).eval(), shapes["vocab_size"]


def build_pipe(args) -> Any:
    """The ``WanPipeline`` with random weights (published configs, or tiny ones)."""
    import diffusers

    dev = args.device
    if args.tiny:
        torch.manual_seed(0)
        transformer = diffusers.WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=16,
            out_channels=16,
            text_dim=32,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=64,
        ).eval()
        vae = diffusers.AutoencoderKLWan(
            base_dim=3,
            z_dim=16,
            dim_mult=[1, 1, 1, 1],
            num_res_blocks=1,
            temperal_downsample=[False, True, True],
        ).eval()
        enc, vocab = text_encoder("tiny", dev, torch.float32, d_model=32)
    else:
        transformer = build_wan(dev)
        with torch.device(dev):
            vae = diffusers.AutoencoderKLWan().to(torch.float32).eval()
        enc, vocab = text_encoder(args.text_encoder, dev, torch.bfloat16)
    scheduler = diffusers.UniPCMultistepScheduler(
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        num_train_timesteps=1000,
        flow_shift=3.0,
    )
    pipe = diffusers.WanPipeline(
        tokenizer=word_tokenizer(vocab),
        text_encoder=enc,
        vae=vae,
        scheduler=scheduler,
        transformer=transformer,
    )
    pipe.to(dev)
    pipe.set_progress_bar_config(disable=True)
    return pipe


class StageClock:
    """Wall-clock stage borders of one ``pipe(...)`` call, synchronised on ``device``.

    Wraps ``pipe.encode_prompt`` and ``pipe.vae.decode`` (instance attributes, removed by
    :meth:`close`) and gives a ``callback_on_step_end`` that stamps each step's end.
    """

    def __init__(self, pipe, device: str) -> None:
        self.pipe, self.device = pipe, device
        self.marks: dict[str, float] = {}
        self.step_ends: list[float] = []
        enc, dec = pipe.encode_prompt, pipe.vae.decode

        def encode(*a, **k):
            self.marks["enc0"] = self.now()
            out = enc(*a, **k)
            self.marks["enc1"] = self.now()
            return out

        def decode(*a, **k):
            self.marks["dec0"] = self.now()
            out = dec(*a, **k)
            self.marks["dec1"] = self.now()
            return out

        pipe.encode_prompt = encode
        pipe.vae.decode = decode

    def now(self) -> float:
        """Seconds (perf_counter) after the device finished its queued work."""
        if self.device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter()

    def callback(self, pipe, i, t, kwargs):
        self.step_ends.append(self.now())
        return {}

    def close(self) -> None:
        del self.pipe.encode_prompt
        del self.pipe.vae.decode


def stage_times(t0: float, t1: float, clock: StageClock) -> dict:
    """Stage times in seconds of one call from its marks (see :class:`StageClock`)."""
    m, ends = clock.marks, clock.step_ends
    steps = [b - a for a, b in zip([m["enc1"], *ends[:-1]], ends)]
    text = m["enc1"] - m["enc0"]
    decode = m["dec1"] - m["dec0"]
    denoise = ends[-1] - m["enc1"]
    total = t1 - t0
    return {
        "total_s": total,
        "text_s": text,
        "denoise_s": denoise,
        "steps_s": steps,
        "decode_s": decode,
        "other_s": total - text - denoise - decode,
    }


def formula(st: dict, steps: int | None = None) -> dict:
    """The ``steps``-step time (default :data:`FULL_STEPS`) predicted from a few-step
    call (module docstring), seconds: ``pred_<steps>_s`` for a warm pipeline (one-off
    costs paid: FlashInfer JIT cached, blocks compiled), ``pred_<steps>_cold_s`` adds the
    first step's one-off cost ``oneoff_s`` (first step minus a later one)."""
    steps = FULL_STEPS if steps is None else steps
    later = st["steps_s"][1:] or st["steps_s"]
    step = statistics.median(later)
    first = st["steps_s"][0]
    pred = st["text_s"] + steps * step + st["decode_s"] + st["other_s"]
    return {
        "step_s": step,
        "first_step_s": first,
        "oneoff_s": first - step,
        f"pred_{steps}_s": pred,
        f"pred_{steps}_cold_s": pred + first - step,
    }


def latent_count(reference: int, horizon: float) -> int:
    """Latent frames at ``horizon`` x the training length (4x temporal VAE)."""
    pixel = (reference - 1) * 4 + 1
    return round((pixel - 1) * horizon) // 4 + 1


def set_method(pipe, method: str, args) -> None:
    lvsa.remove(pipe)
    if method == "lvsa":
        ref = args.reference_frames  # None: the detected model's default (Wan 21)
        lvsa.apply(pipe, lvsa.LVSAConfig(reference_frames=ref))
    elif method != "dense":
        raise ValueError(f"unknown method {method!r}")


def peak_gib(device: str) -> float | None:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**30
    return None


def one_call(pipe, args, mode, horizon, method, steps, rows, out: Path) -> dict:
    """One ``pipe(...)`` call; appends and returns its row."""
    ref = args.horizon_reference
    t = latent_count(ref, horizon)
    frames = (t - 1) * 4 + 1
    row: dict[str, Any] = {
        "mode": mode,
        "horizon": horizon,
        "method": method,
        "latent_frames": t,
        "frames": frames,
        "steps": steps,
    }
    set_method(pipe, method, args)
    clock = StageClock(pipe, args.device)
    if args.device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    try:
        g = torch.Generator(device="cpu").manual_seed(0)
        t0 = clock.now()
        with torch.no_grad():
            video = pipe(
                prompt=PROMPT,
                negative_prompt=NEGATIVE,
                height=args.height,
                width=args.width,
                num_frames=frames,
                num_inference_steps=steps,
                guidance_scale=5.0,
                generator=g,
                output_type="np",
                callback_on_step_end=clock.callback,
            ).frames
        t1 = clock.now()
        row.update(stage_times(t0, t1, clock))
        row.update(formula(row))
        row["finite"] = bool(torch.isfinite(torch.as_tensor(video)).all())
        row["peak_gib"] = peak_gib(args.device)
        sess = lvsa.session_of(pipe)
        row["density"] = None if sess is None else sess.last_density
        del video
    except Exception as exc:
        row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        traceback.print_exc()
    finally:
        clock.close()
        lvsa.remove(pipe)
        gc.collect()
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    row["context_parallel"] = args.cp
    rows.append(row)
    print(json.dumps(row), flush=True)
    (out / f"{args.tag}.partial.json").write_text(json.dumps({"rows": rows}, indent=1))
    return row


def vae_check(pipe, args, horizon: float) -> dict:
    """VAE decode alone at ``horizon``: untiled, then tiled; seconds and peak GiB."""
    t = latent_count(args.horizon_reference, horizon)
    h, w = args.height // 8, args.width // 8
    z = torch.randn(1, 16, t, h, w, generator=torch.Generator().manual_seed(0))
    z = z.to(args.device, pipe.vae.dtype)
    res: dict[str, Any] = {"horizon": horizon, "latent_frames": t}
    for name in ("untiled", "tiled"):
        if name == "tiled":
            pipe.vae.enable_tiling()
        try:
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            t0 = time.perf_counter()
            with torch.no_grad():
                pipe.vae.decode(z, return_dict=False)
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            res[name] = {"s": time.perf_counter() - t0, "peak_gib": peak_gib(args.device)}
        except Exception as exc:
            res[name] = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
        gc.collect()
        if args.device.startswith("cuda"):
            torch.cuda.empty_cache()
    pipe.vae.disable_tiling()
    print(json.dumps({"vae_check": res}), flush=True)
    return res


def summarize(rows: list[dict]) -> list[dict]:
    """Dense / LVSA pairs per (mode, horizon): measured and 50-step predicted speed-ups."""
    out = []
    by = {(r["mode"], r["horizon"], r["method"], r["steps"]): r for r in rows if "error" not in r}
    few = {k for k in by if k[3] != FULL_STEPS}
    for mode, h, method, steps in sorted(few):
        if method != "dense" or (mode, h, "lvsa", steps) not in by:
            continue
        d, s = by[(mode, h, "dense", steps)], by[(mode, h, "lvsa", steps)]
        key = f"pred_{FULL_STEPS}_s"
        out.append(
            {
                "mode": mode,
                "horizon": h,
                "density": s.get("density"),
                "dense_step_s": d["step_s"],
                "lvsa_step_s": s["step_s"],
                "step_speedup": d["step_s"] / s["step_s"],
                "dense_pred_s": d[key],
                "lvsa_pred_s": s[key],
                "e2e_speedup": d[key] / s[key],
                "measured_speedup_few_steps": d["total_s"] / s["total_s"],
            }
        )
    return out


def checks(rows: list[dict]) -> list[dict]:
    """Whole 50-step calls against the formula of the same configuration's few-step call."""
    out = []
    for r in rows:
        if r["steps"] != FULL_STEPS or "error" in r:
            continue
        few = [
            x
            for x in rows
            if x["steps"] != FULL_STEPS
            and "error" not in x
            and (x["mode"], x["horizon"], x["method"]) == (r["mode"], r["horizon"], r["method"])
        ]
        if not few:
            continue
        pred = few[-1][f"pred_{FULL_STEPS}_s"]
        out.append(
            {
                "mode": r["mode"],
                "horizon": r["horizon"],
                "method": r["method"],
                "measured_s": r["total_s"],
                "predicted_s": pred,
                "error_pct": 100 * (pred - r["total_s"]) / r["total_s"],
            }
        )
    return out


def to_markdown(result: dict) -> str:
    info, args = result["device"], result["args"]
    lines = [
        "# End-to-end generation benchmark (WanPipeline, dense vs LVSA)",
        "",
        f"Device: {info.get('gpu')} (driver {info.get('driver')}, {info.get('memory')}), "
        f"torch {info.get('torch')}, flashinfer {info.get('flashinfer')}, "
        f"diffusers {info.get('diffusers')}."
        + (" **Tiny CPU models: the numbers mean nothing.**" if args["tiny"] else ""),
        "",
        f"Wan 2.1 T2V 1.3B transformer and Wan 2.1 VAE (published configs, random weights; "
        f"transformer bf16, VAE fp32), text encoder `{args['text_encoder']}` with random "
        f"weights and an in-memory word tokenizer, {args['height']}x{args['width']}, "
        f"guidance 5.0 (two forwards a step), {args['steps']} steps per call. "
        f"{FULL_STEPS}-step time (warm pipeline) = text + {FULL_STEPS} x median later step "
        "+ decode + other; one-off = first step - later step (FlashInfer JIT, compilation, "
        "cuDNN plans: paid once per process or machine).",
        "",
        "| mode | horizon | method | frames | density | text s | first step s | step s | "
        f"decode s | other s | total s (few steps) | {FULL_STEPS}-step s (formula) | "
        "one-off s | peak GiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in result["rows"]:
        if r["steps"] == FULL_STEPS:
            continue
        if "error" in r:
            lines.append(
                f"| {r['mode']} | {r['horizon']:g}x | {r['method']} | {r['frames']} | | "
                f"{r['error'][:80]} | | | | | | | | |"
            )
            continue
        d = "" if r.get("density") is None else f"{r['density']:.3f}"
        pk = "" if r.get("peak_gib") is None else f"{r['peak_gib']:.1f}"
        lines.append(
            f"| {r['mode']} | {r['horizon']:g}x | {r['method']} | {r['frames']} | {d} | "
            f"{r['text_s']:.2f} | {r['first_step_s']:.2f} | {r['step_s']:.2f} | "
            f"{r['decode_s']:.2f} | {r['other_s']:.2f} | {r['total_s']:.1f} | "
            f"{r[f'pred_{FULL_STEPS}_s']:.0f} | {r['oneoff_s']:.1f} | {pk} |"
        )
    lines += [
        "",
        "## Speed-up of a whole generation (dense / LVSA, same mode, same call)",
        "",
        f"| mode | horizon | density | step dense s | step LVSA s | step speed-up | "
        f"{FULL_STEPS}-step dense s | {FULL_STEPS}-step LVSA s | **end-to-end speed-up** |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in result["summary"]:
        d = "" if s.get("density") is None else f"{s['density']:.3f}"
        lines.append(
            f"| {s['mode']} | {s['horizon']:g}x | {d} | {s['dense_step_s']:.2f} | "
            f"{s['lvsa_step_s']:.2f} | {s['step_speedup']:.2f}x | {s['dense_pred_s']:.0f} | "
            f"{s['lvsa_pred_s']:.0f} | **{s['e2e_speedup']:.2f}x** |"
        )
    if result["checks"]:
        lines += [
            "",
            f"## Whole {FULL_STEPS}-step generations against the formula",
            "",
            "| mode | horizon | method | measured s | formula s | formula error |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for c in result["checks"]:
            lines.append(
                f"| {c['mode']} | {c['horizon']:g}x | {c['method']} | {c['measured_s']:.1f} | "
                f"{c['predicted_s']:.1f} | {c['error_pct']:+.1f} % |"
            )
    for v in result["vae"]:
        lines += [
            "",
            f"## VAE decode alone, {v['horizon']:g}x ({v['latent_frames']} latent frames)",
        ]
        lines += ["", "| decode | s | peak GiB |", "| --- | --- | --- |"]
        for name in ("untiled", "tiled"):
            x = v.get(name, {})
            if "error" in x:
                lines.append(f"| {name} | {x['error'][:80]} | |")
            else:
                pk = "" if x.get("peak_gib") is None else f"{x['peak_gib']:.1f}"
                lines.append(f"| {name} | {x['s']:.2f} | {pk} |")
    return "\n".join(lines) + "\n"


def merge(paths: list[str], out: Path, tag: str) -> int:
    """Merge result files of the same device (e.g. an eager and a compiled call) into one
    report; rows, VAE checks and notes are concatenated, summary and checks recomputed."""
    runs = [json.loads(Path(p).read_text()) for p in paths]
    gpus = {r["device"].get("gpu") for r in runs}
    if len(gpus) != 1:
        raise SystemExit(f"merge: results of different devices {sorted(gpus)}")
    rows = [row for r in runs for row in r["rows"]]
    for row in rows:  # the formula of this revision, from the recorded stage times
        if "error" not in row:
            row.update(formula(row))
    result = {
        "device": runs[0]["device"],
        "args": runs[0]["args"],
        "calls": [{"args": r["args"], "build_s": r.get("build_s")} for r in runs],
        "rows": rows,
        "summary": summarize(rows),
        "checks": checks(rows),
        "vae": [v for r in runs for v in r.get("vae", [])],
    }
    md = to_markdown(result)
    (out / f"{tag}.json").write_text(json.dumps(result, indent=1))
    (out / f"{tag}.md").write_text(md)
    print(md)
    return 0


def parse_checks(specs: list[str]) -> list[tuple[str, float]]:
    """``method:horizon`` pairs, e.g. ``lvsa:2``."""
    out = []
    for s in specs:
        m, _, h = s.partition(":")
        out.append((m, float(h)))
    return out


def main(argv: list[str] | None = None) -> int:
    global FULL_STEPS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "benchmarks/results"))
    ap.add_argument("--tag", default="e2e")
    ap.add_argument("--tiny", action="store_true", help="tiny random models on the CPU")
    ap.add_argument("--device", default=None, help="default cuda (cpu with --tiny)")
    ap.add_argument("--modes", nargs="*", default=["eager", "compiled"])
    ap.add_argument("--horizons", nargs="*", type=float, default=[1, 2, 4, 6])
    ap.add_argument(
        "--compile-horizons",
        nargs="*",
        type=float,
        default=None,
        help="horizons of the compiled mode (default: --horizons)",
    )
    ap.add_argument("--merge", nargs="*", default=[], help="merge result JSONs into --out/<tag>")
    ap.add_argument(
        "--cp",
        type=int,
        default=1,
        help="context-parallel ranks (run under torchrun --nproc-per-node N; rank 0 reports)",
    )
    ap.add_argument("--methods", nargs="*", default=["dense", "lvsa"])
    ap.add_argument("--steps", type=int, default=3, help="denoising steps per timed call")
    ap.add_argument(
        "--check",
        nargs="*",
        default=[],
        help=f"method:horizon pairs to run once with {FULL_STEPS} whole steps (eager)",
    )
    ap.add_argument("--vae-check", nargs="*", type=float, default=[])
    ap.add_argument("--text-encoder", default="umt5-xxl", choices=["umt5-xxl", "small"])
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--width", type=int, default=832)
    ap.add_argument(
        "--reference-frames",
        type=int,
        default=None,
        help="LVSA reference horizon (default: the model's, Wan 21; --tiny: 9)",
    )
    ap.add_argument(
        "--full-steps",
        type=int,
        default=FULL_STEPS,
        help="steps of the whole generation the formula predicts and --check runs",
    )
    args = ap.parse_args(argv)
    FULL_STEPS = args.full_steps
    if args.tiny:
        args.device = args.device or "cpu"
        args.height, args.width = min(args.height, 32), min(args.width, 32)
        args.reference_frames = args.reference_frames or 9
        args.text_encoder = "tiny"
    args.device = args.device or "cuda"
    args.horizon_reference = args.reference_frames or 21
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.merge:
        return merge(args.merge, out, args.tag)
    rank = 0
    if args.cp > 1:
        import torch.distributed as dist

        if int(os.environ.get("WORLD_SIZE", "1")) != args.cp:
            raise SystemExit(f"--cp {args.cp}: run under torchrun --nproc-per-node {args.cp}")
        if args.device.startswith("cuda"):
            args.device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
            torch.cuda.set_device(args.device)
        dist.init_process_group("nccl" if args.device.startswith("cuda") else "gloo")
        rank = dist.get_rank()
        args.tag = f"{args.tag}" if rank == 0 else f"{args.tag}.rank{rank}"
    if args.device.startswith("cuda"):
        from bench_attention import device_info

        info = device_info()
    else:
        import platform

        import diffusers

        info = {
            "gpu": f"none (CPU {platform.machine()})",
            "torch": torch.__version__,
            "diffusers": diffusers.__version__,
        }
    print(json.dumps(info), flush=True)
    t_build = time.perf_counter()
    pipe = build_pipe(args)
    if args.cp > 1:
        from lvsa.integrations import enable_context_parallel

        enable_context_parallel(pipe, ulysses_degree=args.cp)
    build_s = time.perf_counter() - t_build
    rows: list[dict] = []
    vae: list[dict] = []
    ctx = contextlib.nullcontext()
    if args.device.startswith("cuda"):
        ctx = cudnn_first()
    with ctx:
        for mode in args.modes:
            if mode == "compiled":
                pipe.transformer.compile_repeated_blocks(fullgraph=True, dynamic=False)
            hs = args.compile_horizons if mode == "compiled" else args.horizons
            for h in args.horizons if hs is None else hs:
                for method in args.methods:
                    one_call(pipe, args, mode, h, method, args.steps, rows, out)
            if mode == "eager":
                for method, h in parse_checks(args.check):
                    one_call(pipe, args, mode, h, method, FULL_STEPS, rows, out)
        for h in args.vae_check:
            vae.append(vae_check(pipe, args, h))
    result = {
        "device": info,
        "context_parallel": args.cp,
        "args": {k: v for k, v in vars(args).items() if k not in ("out",)},
        "build_s": build_s,
        "rows": rows,
        "summary": summarize(rows),
        "checks": checks(rows),
        "vae": vae,
    }
    result["context_parallel"] = args.cp
    md = to_markdown(result)
    if rank != 0:  # every rank ran the same calls; rank 0 reports
        return 0
    (out / f"{args.tag}.json").write_text(json.dumps(result, indent=1))
    (out / f"{args.tag}.md").write_text(md)
    partial = out / f"{args.tag}.partial.json"
    if partial.exists():
        partial.unlink()
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
