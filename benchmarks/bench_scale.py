"""Scaling of `vqeval score` over CPUs, and GPU frames/s of a ViT-B backbone (issue 17).

1. Throughput (videos/s) of scoring ``data/samples`` x N (hard-linked copies
   under distinct names, default dimensions, no cache) with k = 1, 2, 4, 8,
   16 CPUs of a Ray cluster on this machine (``ray.init(num_cpus=k)``; k
   worker processes are started and have imported VQeval before the clock
   starts) and, for reference, the local process pool with ``-j k`` (worker
   start-up included). Scaling efficiency = throughput_k / (k x throughput_1),
   1.0 = perfect; the issue's goal is >= 0.8 at 16 CPUs. CPU counts above
   this machine's cores are skipped.
2. ``--gpu``: frames/s of a random-weight ViT-B/16 at 224 x 224 (timm
   ``vit_base_patch16_224`` with ``pretrained=False`` when timm imports, else
   a torch-only ViT-B/16 of the same shape) on CUDA (fp32 and bf16 autocast)
   against the CPU with all its cores as torch threads (fp32). Skipped with a
   note when there is no CUDA device.

Writes benchmarks/results/scale[-TAG].{json,md}. Usage:
    python benchmarks/bench_scale.py [--cpus 1,2,4,8,16] [--copies 10]
        [--executors ray,local] [--repeats 1] [--gpu] [--tag NAME]
"""

from __future__ import annotations

import os

# one thread per worker process, inherited by Ray workers and pool workers
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# a throw-away cluster on this machine only: no token files written to ~/.ray
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

import argparse
import json
import logging
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_name

from vqeval.executors.local import available_cpus

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results"
SAMPLES = REPO / "data" / "samples"


def make_copies(folder: Path, copies: int) -> list[Path]:
    """``copies`` hard links (or copies) of every sample video in ``folder``,
    under distinct names (the same file under two names is still scored twice)."""
    from vqeval.batch import find_inputs

    videos, _ = find_inputs([str(SAMPLES)])
    out = []
    for c in range(copies):
        for v in videos:
            dst = folder / f"c{c:03d}_{Path(v).name}"
            try:
                os.link(v, dst)
            except OSError:
                shutil.copy(v, dst)
            out.append(dst)
    return out


def _warm(_: int) -> int:
    """Ray task: import the scoring code, then hold the CPU a moment so that
    the k warm-up tasks land on k different worker processes."""
    import vqeval.pipeline  # noqa: F401

    time.sleep(1.0)
    return os.getpid()


def run_ray(folder: Path, k: int) -> float:
    """Seconds to score ``folder`` on a fresh local Ray cluster of ``k`` CPUs."""
    import ray

    from vqeval.batch import score_batch
    from vqeval.executors.ray import RayExecutor, local_cluster_options

    ray.init(
        address="local",
        num_cpus=k,
        include_dashboard=False,
        object_store_memory=200 * 1024**2,
        logging_level=logging.ERROR,
        log_to_driver=False,
        **local_cluster_options(),
    )
    try:
        warm = ray.remote(_warm).options(num_cpus=1)
        pids = ray.get([warm.remote(i) for i in range(k)])
        assert len(set(pids)) == k, "warm-up did not start one worker per CPU"
        t0 = time.perf_counter()
        rs = score_batch([folder], executor=RayExecutor(), cache=False, progress=False)
        elapsed = time.perf_counter() - t0
    finally:
        ray.shutdown()
    bad = [r for r in rs if not r.ok]
    if bad:
        raise SystemExit(f"ray run: {len(bad)} error rows, e.g. {bad[0].path}: {bad[0].error}")
    return elapsed


def run_local(folder: Path, k: int) -> float:
    """Seconds to score ``folder`` with the local process pool of ``k`` workers
    (``k = 1`` scores in this process, made a one-CPU worker like the pool's)."""
    from vqeval.batch import score_batch
    from vqeval.executors import one_cpu

    if k == 1:
        one_cpu()

    t0 = time.perf_counter()
    rs = score_batch([folder], workers=k, cache=False, progress=False)
    elapsed = time.perf_counter() - t0
    if any(not r.ok for r in rs):
        raise SystemExit("local run: error rows")
    return elapsed


def scaling(cpus: list[int], executors: list[str], copies: int, repeats: int) -> dict[str, Any]:
    """Throughput and efficiency per executor and CPU count."""
    runners = {"ray": run_ray, "local": run_local}
    rows: dict[str, list[dict[str, Any]]] = {e: [] for e in executors}
    with tempfile.TemporaryDirectory(prefix="vqeval-scale-") as tmp:
        folder = Path(tmp)
        n = len(make_copies(folder, copies))
        # repeats interleaved (every k and executor once per round), so that
        # other load on the machine hits all points alike
        times: dict[tuple[str, int], list[float]] = {(e, k): [] for e in executors for k in cpus}
        for rnd in range(repeats):
            for k in cpus:
                for e in executors:
                    wall = runners[e](folder, k)
                    times[e, k].append(wall)
                    print(f"round {rnd + 1}: {e} k={k}: {n} videos in {wall:.1f} s", flush=True)
        for e in executors:
            for k in cpus:
                wall = statistics.median(times[e, k])
                rows[e].append({"cpus": k, "seconds": round(wall, 3), "videos_per_s": n / wall})
    for e in executors:
        base = rows[e][0]["videos_per_s"] / rows[e][0]["cpus"]  # per CPU at the smallest k
        for r in rows[e]:
            r["efficiency"] = round(r["videos_per_s"] / (r["cpus"] * base), 3)
            r["videos_per_s"] = round(r["videos_per_s"], 3)
    return {"videos": n, "copies": copies, "repeats": repeats, "results": rows}


# --------------------------------------------------------------------------- GPU


def vit_b() -> tuple[Any, str]:
    """A random-weight ViT-B/16 for 224 x 224 images and its description."""
    try:
        import timm

        model = timm.create_model("vit_base_patch16_224", pretrained=False, num_classes=0)
        return model, "timm vit_base_patch16_224 (pretrained=False)"
    except Exception:  # timm missing, or broken by a torchvision mismatch
        return TorchViTB(), "torch-only ViT-B/16 (12 layers, width 768, 12 heads, MLP 3072)"


def _torch_vit_class() -> Any:
    import torch
    from torch import nn

    class _ViTB(nn.Module):
        """ViT-B/16: 16 x 16 patches, CLS token, 12 pre-norm encoder layers."""

        def __init__(self) -> None:
            super().__init__()
            self.patch = nn.Conv2d(3, 768, 16, 16)
            self.cls = nn.Parameter(torch.zeros(1, 1, 768))
            self.pos = nn.Parameter(torch.randn(1, 197, 768) * 0.02)
            layer = nn.TransformerEncoderLayer(
                768, 12, 3072, activation="gelu", batch_first=True, norm_first=True, dropout=0.0
            )
            self.blocks = nn.TransformerEncoder(layer, 12, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(768)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            t = self.patch(x).flatten(2).transpose(1, 2)
            t = torch.cat([self.cls.expand(len(t), -1, -1), t], 1) + self.pos
            return self.norm(self.blocks(t))[:, 0]

    return _ViTB


def TorchViTB() -> Any:  # noqa: N802 (reads like the class it builds)
    return _torch_vit_class()()


def frames_per_s(model: Any, device: str, batch: int, dtype: Any, min_s: float) -> float:
    """Frames/s of ``model`` on random 224 x 224 frames (>= 3 timed batches
    and >= ``min_s`` seconds, after 2 warm-up batches)."""
    import torch

    x = torch.rand(batch, 3, 224, 224, device=device)
    auto = torch.autocast(device_type=device.split(":")[0], dtype=dtype, enabled=dtype is not None)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    with torch.inference_mode(), auto:
        for _ in range(2):
            model(x)
        sync()
        t0, n = time.perf_counter(), 0
        while n < 3 or time.perf_counter() - t0 < min_s:
            model(x)
            sync()
            n += 1
        return n * batch / (time.perf_counter() - t0)


def gpu_section(batch: int, cpu_batch: int, min_s: float) -> dict[str, Any]:
    """ViT-B frames/s on CUDA vs all CPU cores (skipped without CUDA)."""
    try:
        import torch
    except ImportError:
        return {"skipped": "torch is not installed"}
    if not torch.cuda.is_available():
        return {"skipped": "no CUDA device"}
    model, what = vit_b()
    model.eval()
    out: dict[str, Any] = {"model": what, "gpu": torch.cuda.get_device_name(0), "rows": []}
    gpu_model = model.to("cuda")
    for label, dtype in (("fp32", None), ("bf16 autocast", torch.bfloat16)):
        fps = frames_per_s(gpu_model, "cuda", batch, dtype, min_s)
        out["rows"].append(
            {"device": "cuda", "precision": label, "batch": batch, "frames_per_s": round(fps, 1)}
        )
        print(f"ViT-B cuda {label}: {fps:.1f} frames/s", flush=True)
    threads = available_cpus()
    torch.set_num_threads(threads)
    cpu_model = model.to("cpu")
    fps = frames_per_s(cpu_model, "cpu", cpu_batch, None, min_s)
    out["rows"].append(
        {
            "device": f"cpu, {threads} threads",
            "precision": "fp32",
            "batch": cpu_batch,
            "frames_per_s": round(fps, 1),
        }
    )
    print(f"ViT-B cpu ({threads} threads) fp32: {fps:.1f} frames/s", flush=True)
    best = max(r["frames_per_s"] for r in out["rows"][:2])
    out["gpu_over_cpu"] = round(best / fps, 1)
    return out


# ------------------------------------------------------------------------ output


def device_line() -> str:
    gpu = "no GPU"
    try:
        import torch

        if torch.cuda.is_available():
            gpu = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    except ImportError:
        pass
    return f"{cpu_name()}, {available_cpus()} cores, {gpu}"


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in ("ray", "torch", "vqeval"):
        try:
            out[name] = __import__(name).__version__
        except Exception:
            out[name] = "not installed"
    return out


def write(rec: dict[str, Any], tag: str | None) -> None:
    stem = "scale" + (f"-{tag}" if tag else "")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{stem}.json").write_text(json.dumps(rec, indent=1) + "\n")
    v = rec["versions"]
    md = [
        "# `vqeval score` at scale: CPUs of one machine, and a ViT-B on GPU",
        "",
        f"Device: {rec['device']}. Python {v['python']}, Ray {v['ray']}, torch {v['torch']}. "
        f"Produced by `{rec['command']}`. 1-minute load average before / after: "
        f"{rec['load_average_before']} / {rec['load_average_after']} (other work on the machine "
        "shows here; it lowers throughput and efficiency).",
        "",
    ]
    s = rec.get("scaling")
    if s:
        md += [
            f"Scoring `data/samples` x {s['copies']} = {s['videos']} videos (default dimensions, "
            f"no cache), median of {s['repeats']} run(s). Efficiency = videos/s at k CPUs / "
            "(k x videos/s at the smallest k); goal >= 0.8 at 16 CPUs.",
            "",
            "| executor | CPUs | wall (s) | videos/s | efficiency |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for e, rows in s["results"].items():
            name = "Ray (local cluster)" if e == "ray" else "local pool (k=1: in-process)"
            for r in rows:
                md.append(
                    f"| {name} | {r['cpus']} | {r['seconds']:.1f} | {r['videos_per_s']:.2f} | "
                    f"{r['efficiency']:.2f} |"
                )
        if s.get("skipped_cpus"):
            md += [
                "",
                f"Skipped (more than this machine's {available_cpus()} cores): {s['skipped_cpus']}.",
            ]
        md.append("")
    g = rec.get("gpu")
    if g is not None:
        md += ["## ViT-B/16 frames/s (224 x 224, random weights)", ""]
        if "skipped" in g:
            md.append(f"Skipped: {g['skipped']}.")
        else:
            md += [
                f"Model: {g['model']}; GPU: {g['gpu']}.",
                "",
                "| device | precision | batch | frames/s |",
                "| --- | --- | ---: | ---: |",
            ]
            md += [
                f"| {r['device']} | {r['precision']} | {r['batch']} | {r['frames_per_s']:.1f} |"
                for r in g["rows"]
            ]
            md += ["", f"GPU / CPU: {g['gpu_over_cpu']}x."]
        md.append("")
    (OUT / f"{stem}.md").write_text("\n".join(md))
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cpus", default="1,2,4,8,16", help="CPU counts k, comma-separated")
    ap.add_argument("--copies", type=int, default=10, help="copies N of data/samples (>= 1)")
    ap.add_argument("--executors", default="ray,local", help="ray, local or both")
    ap.add_argument("--repeats", type=int, default=1, help="runs per point (median)")
    ap.add_argument("--no-scaling", action="store_true", help="only the --gpu section")
    ap.add_argument("--gpu", action="store_true", help="also ViT-B frames/s on CUDA vs CPU")
    ap.add_argument("--gpu-batch", type=int, default=64, help="frames per CUDA batch")
    ap.add_argument("--cpu-batch", type=int, default=16, help="frames per CPU batch")
    ap.add_argument("--min-seconds", type=float, default=5.0, help="timed seconds per GPU row")
    ap.add_argument("--tag", default=None, help="results go to scale-TAG.{json,md}")
    args = ap.parse_args()

    rec: dict[str, Any] = {
        "device": device_line(),
        "load_average_before": round(os.getloadavg()[0], 2),
        "versions": versions(),
        "command": "python benchmarks/bench_scale.py " + " ".join(sys.argv[1:]),
    }
    if not args.no_scaling:
        wanted = sorted({int(c) for c in args.cpus.split(",") if c.strip()})
        executors = [e.strip() for e in args.executors.split(",") if e.strip()]
        if not wanted or min(wanted) < 1 or args.copies < 1 or set(executors) - {"ray", "local"}:
            raise SystemExit("error: --cpus are counts >= 1, --copies >= 1, --executors ray,local")
        cpus = [k for k in wanted if k <= available_cpus()]
        rec["scaling"] = scaling(cpus, executors, args.copies, max(1, args.repeats))
        rec["scaling"]["skipped_cpus"] = [k for k in wanted if k > available_cpus()]
    if args.gpu:
        rec["gpu"] = gpu_section(args.gpu_batch, args.cpu_batch, args.min_seconds)
    rec["load_average_after"] = round(os.getloadavg()[0], 2)
    write(rec, args.tag)


if __name__ == "__main__":
    main()
