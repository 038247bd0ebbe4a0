"""LVSA quality past the training horizon, measured on the tiny video DiT (CPU).

Generates clips with dense attention, LVSA, RIFLEx and UltraViCo at several
multiples of the model's 16-frame training horizon, for several conditions and
seeds (the same initial noise for every method), writes them as

    <out>/<horizon>/<method>/<condition>_s<seed>.mp4

and judges each horizon with ``vqeval compare <out>/<h>/dense <out>/<h>/<method>``
(paired by file name; composite 0-100, mean paired difference with a bootstrap
95% interval and a Wilcoxon p-value). Writes

    benchmarks/results/lvsa_quality.json   every number (timings, densities, comparisons)
    benchmarks/results/lvsa_quality.md     summary tables
    benchmarks/results/lvsa_quality_strip_<condition>.png   frame strips per horizon/method

Usage (about 14 minutes on a 2-core CPU with the defaults, UltraViCo taking half)::

    python benchmarks/lvsa_quality.py --out out/lvsa_quality
    python benchmarks/lvsa_quality.py --horizons 1,4 --seeds 0 --steps 8   # quick look
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lvsa.generators.output import write_mp4  # noqa: E402
from lvsa.generators.tinydit import CONDITIONS, TinyDiTPipeline, sample  # noqa: E402
from lvsa.generators.tinydit.data import to_uint8  # noqa: E402

import lvsa  # noqa: E402

METHODS = ("dense", "lvsa", "riflex", "ultravico")
#: One condition per background photo, four different travel directions.
DEFAULT_CONDITIONS = (0, 2, 4, 6)
RESULTS = ROOT / "benchmarks" / "results"


def install(pipe: TinyDiTPipeline, method: str, frames: int, args: argparse.Namespace) -> None:
    """Install ``method`` for a clip of ``frames`` (latent) frames; dense installs nothing."""
    ref = pipe.config.reference_frames
    if method == "lvsa":
        cfg = lvsa.LVSAConfig(
            reference_frames=ref, window=args.window, sinks=args.sinks, backend="portable"
        )
        lvsa.apply(pipe, cfg)
    elif method == "riflex":
        lvsa.riflex.apply(pipe, num_latent_frames=frames, k=args.riflex_k)
    elif method == "ultravico":
        lvsa.ultravico.apply(pipe, reference_frames=ref, alpha=args.alpha)
    elif method != "dense":
        raise ValueError(f"unknown method {method!r}")


def uninstall(pipe: TinyDiTPipeline) -> None:
    """Remove every attention method: the pipeline is dense with stock RoPE again."""
    lvsa.remove(pipe)
    lvsa.riflex.remove(pipe)
    lvsa.ultravico.remove(pipe)


def generate_cell(
    pipe: TinyDiTPipeline,
    method: str,
    horizon: int,
    conds: list[int],
    seeds: list[int],
    args: argparse.Namespace,
    out: Path,
) -> dict[str, Any]:
    """Generate all (condition, seed) clips of one (horizon, method) cell in one batch.

    Returns timing (seconds) and the LVSA density of the cell.
    """
    cfg = pipe.config
    frames = cfg.reference_frames * horizon
    pairs = [(c, s) for c in conds for s in seeds]
    labels = torch.tensor([c for c, _ in pairs])
    noise = torch.cat(
        [
            torch.randn(
                1, 3, frames, cfg.size, cfg.size, generator=torch.Generator().manual_seed(s)
            )
            for _, s in pairs
        ]
    )
    uninstall(pipe)
    install(pipe, method, frames, args)
    t0 = time.perf_counter()
    clips = sample(pipe.model, labels, frames, args.steps, noise=noise)
    gen_s = time.perf_counter() - t0
    density = lvsa.density(pipe) if method == "lvsa" else 1.0
    uninstall(pipe)
    folder = out / f"{horizon}x" / method
    for (c, s), clip in zip(pairs, clips):
        write_mp4(folder / f"{CONDITIONS[c].name}_s{s}.mp4", to_uint8(clip), cfg.fps)
    np.save(folder / "frames.npy", np.stack([to_uint8(c) for c in clips]))
    return {
        "horizon": horizon,
        "method": method,
        "frames": frames,
        "clips": len(pairs),
        "generate_s": round(gen_s, 2),
        "s_per_clip": round(gen_s / len(pairs), 3),
        "density": None if density is None else round(float(density), 4),
    }


def judge(out: Path, horizon: int, methods: list[str]) -> dict[str, Any]:
    """``vqeval compare`` of every method against dense at one horizon (JSON dict)."""
    from vqeval.compare import compare_sides
    from vqeval.sides import load_side

    root = out / f"{horizon}x"
    sides = [load_side(root / m, workers=1, cache=False) for m in ["dense", *methods]]
    return compare_sides(sides).to_dict()


def clip_stats(clip: np.ndarray, horizon_frames: int) -> dict[str, float]:
    """Pixel diagnostics of one clip (T, H, W, 3) uint8, independent of vqeval.

    Returns:
        detail: mean absolute horizontal + vertical neighbour difference of the frames
            past the training horizon (grey levels 0-255; the first ``horizon_frames``
            frames when the clip is not longer), i.e. how much texture is left.
        motion: mean absolute frame-to-frame difference over the same frames (grey levels).
        detail_ratio: ``detail`` past the horizon over ``detail`` of the first
            ``horizon_frames`` frames (1.0 = no loss of texture).
    """
    x = clip.astype(np.float32).mean(axis=-1)  # (T, H, W) grey

    def det(f: np.ndarray) -> float:
        return float(np.abs(np.diff(f, axis=2)).mean() / 2 + np.abs(np.diff(f, axis=1)).mean() / 2)

    late = x[horizon_frames:] if x.shape[0] > horizon_frames else x
    return {
        "detail": det(late),
        "motion": float(np.abs(np.diff(late, axis=0)).mean()) if len(late) > 1 else 0.0,
        "detail_ratio": det(late) / max(det(x[:horizon_frames]), 1e-6),
    }


def diagnostics(
    out: Path, horizons: list[int], methods: list[str], horizon_frames: int
) -> dict[str, Any]:
    """Per horizon and method: mean pixel diagnostics and paired differences to dense."""
    from vqeval.stats import paired_stats

    res: dict[str, Any] = {}
    for h in horizons:
        per = {}
        for m in ["dense", *methods]:
            clips = np.load(out / f"{h}x" / m / "frames.npy")
            per[m] = [clip_stats(c, horizon_frames) for c in clips]
        cell: dict[str, Any] = {}
        for m in ["dense", *methods]:
            row: dict[str, Any] = {}
            for key in ("detail", "motion", "detail_ratio"):
                vals = [d[key] for d in per[m]]
                row[key] = round(float(np.mean(vals)), 4)
                if m != "dense":
                    st = paired_stats([d[key] for d in per["dense"]], vals, tie_tol=0.0)
                    row[f"{key}_diff"] = [
                        round(st.mean_diff, 4),
                        round(st.ci_low, 4),
                        round(st.ci_high, 4),
                    ]
            cell[m] = row
        res[f"{h}x"] = cell
    return res


def reference_stats(conds: list[int], frames: int, horizon_frames: int) -> dict[str, float]:
    """The same diagnostics on procedural training-distribution clips (what "good" is)."""
    from lvsa.generators.tinydit.data import DataConfig, ProceduralVideos

    data = ProceduralVideos(DataConfig(frames=frames))
    labels = torch.tensor(conds * 3)
    clips, _ = data.sample(len(labels), labels=labels, generator=torch.Generator().manual_seed(0))
    stats = [clip_stats(to_uint8(c), horizon_frames) for c in clips]
    return {k: round(float(np.mean([s[k] for s in stats])), 4) for k in stats[0]}


def frame_strip(
    out: Path, horizons: list[int], methods: list[str], index: int, columns: int = 12
) -> np.ndarray:
    """One image: for each horizon a block of rows (one per method), ``columns`` frames
    evenly spaced over the clip, 3x nearest-neighbour upscaled, labels on the left."""
    import cv2

    blocks = []
    for h in horizons:
        for m in ["dense", *methods]:
            clip = np.load(out / f"{h}x" / m / "frames.npy")[index]
            idx = np.linspace(0, clip.shape[0] - 1, columns).round().astype(int)
            row = np.concatenate(list(clip[idx]), axis=1)
            row = cv2.resize(row, None, fx=3, fy=3, interpolation=cv2.INTER_NEAREST)
            label = np.full((row.shape[0], 150, 3), 255, np.uint8)
            cv2.putText(label, f"{h}x {m}", (4, row.shape[0] // 2 + 5), 0, 0.5, (0, 0, 0), 1)
            blocks.append(np.concatenate([label, row], axis=1))
        blocks.append(np.full((6, blocks[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(blocks[:-1], axis=0)


def summarize(report: dict[str, Any]) -> str:
    """Markdown tables: composite and key dimensions vs dense per horizon, and timings."""
    lines = [
        "# LVSA quality on the tiny video DiT",
        "",
        f"Device: {report['device']}; {report['steps']} Euler steps; "
        f"{len(report['conditions'])} conditions x {len(report['seeds'])} seeds per cell; "
        f"training horizon {report['reference_frames']} frames. "
        "Scores 0-100 (higher is better); diff = method - dense with a bootstrap 95% interval; "
        "p = Wilcoxon signed-rank.",
        "",
        "| horizon | method | composite dense | composite method | diff [95% CI] | p | W/T/L "
        "| freeze diff | motion_decay diff | dynamic_degree diff | flags dense -> method |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def d(stats: dict[str, Any]) -> str:
        if stats.get("mean_diff") is None:
            return "n/a"
        return f"{stats['mean_diff']:+.1f}"

    for h, cmp in report["compare"].items():
        for m in cmp["methods"]:
            dims = m["dimensions"]
            c = dims["composite"]
            flags_a = ", ".join(f"{k} {v}" for k, v in m["flags_baseline"].items() if v) or "-"
            flags_b = ", ".join(f"{k} {v}" for k, v in m["flags_method"].items() if v) or "-"
            p = "n/a" if c["p_value"] is None else f"{c['p_value']:.3f}"
            lines.append(
                f"| {h} | {Path(m['source']).name} | {c['mean_a']:.1f} | {c['mean_b']:.1f} "
                f"| {c['mean_diff']:+.1f} [{c['ci_low']:+.1f}, {c['ci_high']:+.1f}] | {p} "
                f"| {c['wins']}/{c['ties']}/{c['losses']} "
                f"| {d(dims.get('freeze', {}))} | {d(dims.get('motion_decay', {}))} "
                f"| {d(dims.get('dynamic_degree', {}))} | {flags_a} -> {flags_b} |"
            )
    lines += [
        "",
        "Pixel diagnostics past the training horizon (frames 17..end; 1x: frames 1-16): "
        "detail = mean neighbour difference (grey levels), motion = mean frame-to-frame "
        "difference (grey levels), detail / 1x dense = texture kept relative to dense clips "
        "at the training horizon; "
        "diff = method - dense with a bootstrap 95% interval. Procedural training data: "
        + ", ".join(f"{k} {v:.2f}" for k, v in report["pixel_diagnostics_training_data"].items())
        + ".",
        "",
        "| horizon | method | detail | detail diff | motion | motion diff | detail / 1x dense |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]

    def ci(v: list[float] | None) -> str:
        return "-" if v is None else f"{v[0]:+.2f} [{v[1]:+.2f}, {v[2]:+.2f}]"

    diag = report["pixel_diagnostics"]
    base = diag.get("1x", {}).get("dense", {}).get("detail")
    for h, cell in diag.items():
        for m, row in cell.items():
            rel = "-" if not base else f"{row['detail'] / base:.2f}"
            lines.append(
                f"| {h} | {m} | {row['detail']:.2f} | {ci(row.get('detail_diff'))} "
                f"| {row['motion']:.2f} | {ci(row.get('motion_diff'))} | {rel} |"
            )
    lines += [
        "",
        "| horizon | method | frames | clips | generation s (batch) | s per clip | LVSA density |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in report["timings"]:
        dens = "-" if t["method"] != "lvsa" else f"{t['density']:.3f}"
        lines.append(
            f"| {t['horizon']}x | {t['method']} | {t['frames']} | {t['clips']} "
            f"| {t['generate_s']:.1f} | {t['s_per_clip']:.2f} | {dens} |"
        )
    lines += [
        "",
        f"Wall time: generation {report['generate_total_s']:.0f} s + judging "
        f"{report['judge_s']:.0f} s = {report['total_s']:.0f} s.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("out/lvsa_quality"), help="clip root")
    ap.add_argument("--horizons", default="1,2,4,6", help="multiples of 16 frames")
    ap.add_argument("--methods", default="lvsa,riflex,ultravico", help="compared with dense")
    ap.add_argument(
        "--conditions", default=",".join(map(str, DEFAULT_CONDITIONS)), help="class ids"
    )
    ap.add_argument("--seeds", default="0,1,2", help="noise seeds")
    ap.add_argument("--steps", type=int, default=10, help="Euler steps")
    ap.add_argument("--window", type=int, default=3, help="LVSA half window W (frames)")
    ap.add_argument("--sinks", type=int, default=1, help="LVSA sink frames")
    ap.add_argument("--riflex-k", type=int, default=2, help="RIFLEx intrinsic component")
    ap.add_argument("--alpha", type=float, default=0.9, help="UltraViCo logit decay")
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    ap.add_argument("--results", type=Path, default=RESULTS, help="where results go")
    ap.add_argument("--name", default="lvsa_quality", help="results file stem")
    ap.add_argument(
        "--judge-only", action="store_true", help="re-judge clips already in --out (no generation)"
    )
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    horizons = [int(h.strip().rstrip("x")) for h in args.horizons.split(",")]
    methods = [m.strip() for m in args.methods.split(",") if m.strip() and m.strip() != "dense"]
    conds = [int(c) for c in args.conditions.split(",")]
    seeds = [int(s) for s in args.seeds.split(",")]
    pipe = TinyDiTPipeline.from_pretrained()
    t_start = time.perf_counter()
    timing_file = args.out / "timings.json"
    if args.judge_only:
        saved = json.loads(timing_file.read_text())
        timings, gen_total = saved["timings"], saved["generate_total_s"]
    else:
        timings = []
        for h in horizons:
            for m in ["dense", *methods]:
                cell = generate_cell(pipe, m, h, conds, seeds, args, args.out)
                timings.append(cell)
                print(
                    f"{h}x {m:9s} {cell['frames']:3d} frames: {cell['generate_s']:7.1f} s "
                    f"({cell['s_per_clip']:.2f} s/clip) density={cell['density']}",
                    flush=True,
                )
        gen_total = time.perf_counter() - t_start
        timing_file.write_text(
            json.dumps({"timings": timings, "generate_total_s": round(gen_total, 1)}, indent=2)
        )
    t_judge = time.perf_counter()
    compare = {}
    for h in horizons:
        compare[f"{h}x"] = judge(args.out, h, methods)
        for m in compare[f"{h}x"]["methods"]:
            c = m["dimensions"]["composite"]
            print(
                f"{h}x {Path(m['source']).name:9s} composite {c['mean_a']:.1f} -> {c['mean_b']:.1f} "
                f"diff {c['mean_diff']:+.1f} [{c['ci_low']:+.1f}, {c['ci_high']:+.1f}]",
                flush=True,
            )
    ref = pipe.config.reference_frames
    diag = diagnostics(args.out, horizons, methods, ref)
    data_ref = reference_stats(conds, ref * max(horizons), ref)
    judge_s = time.perf_counter() - t_judge
    total = gen_total + judge_s
    report = {
        "benchmark": "lvsa_quality",
        "device": f"CPU ({platform.processor() or platform.machine()}, "
        f"{args.threads} torch threads)",
        "torch": torch.__version__,
        "model": "data/tinydit",
        "reference_frames": pipe.config.reference_frames,
        "steps": args.steps,
        "conditions": [CONDITIONS[c].name for c in conds],
        "seeds": seeds,
        "horizons": horizons,
        "methods": ["dense", *methods],
        "settings": {
            "lvsa": {"window": args.window, "sinks": args.sinks, "scale": 1.0},
            "riflex_k": args.riflex_k,
            "ultravico_alpha": args.alpha,
        },
        "timings": timings,
        "generate_total_s": round(gen_total, 1),
        "judge_s": round(judge_s, 1),
        "total_s": round(total, 1),
        "compare": compare,
        "pixel_diagnostics": diag,
        "pixel_diagnostics_training_data": data_ref,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.results / f"{args.name}.md").write_text(summarize(report))
    import cv2

    pairs = [(c, s) for c in conds for s in seeds]
    for c in conds[:2]:
        img = frame_strip(args.out, horizons, methods, pairs.index((c, seeds[0])))
        path = args.results / f"{args.name}_strip_{CONDITIONS[c].name}.png"
        cv2.imwrite(str(path), img[..., ::-1])
    print(f"total {total:.0f} s; wrote {args.results / args.name}.json/.md and strips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
