"""Cost of `vqeval score` on long clips: time and peak memory against length.

The self-similarity work of repetition and progression is quadratic in the
number of analysis frames; above ``vqeval.analysis.SSM_MAX_FRAMES`` rows the
frame embeddings are pooled in time (see :class:`vqeval.analysis.Trajectory`),
so a 40-minute clip should cost about 4 times a 10-minute one and peak at a
bounded memory. This script measures that, each clip scored by a fresh
``vqeval score`` process (one worker, no cache, default dimensions):

* 10- and 40-minute clips at 8 frames/s (the default analysis rate), 160x90,
  a wandering pan over a procedural texture whose second half loops with a
  20 s period (the loop must still be found, its period within 5 %);
* a 30,000-frame 64x64 clip at 25 frames/s (issue F4 of the fuzzing list).

Writes ``benchmarks/results/long_clips.{json,md}`` with the machine named.
Usage::

    python benchmarks/bench_long.py [--minutes 10,40] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_score import VQEVAL, run_child
from machine import cpu_name

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results"
FPS = 8
LOOP_PERIOD_S = 20.0


def _canvas(seed: int, size: int = 1024) -> np.ndarray:
    """A multi-scale smooth-noise texture, (size, size, 3) uint8."""
    rng = np.random.default_rng(seed)
    acc = np.zeros((size, size, 3), np.float32)
    for cells, amp in ((4, 1.0), (16, 0.6), (64, 0.35), (256, 0.2)):
        small = rng.normal(0, amp, (cells, cells, 3)).astype(np.float32)
        acc += cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
    acc = (acc - acc.min()) / (np.ptp(acc) + 1e-9)
    return (acc * 255).astype(np.uint8)


def _path(n: int, seed: int, speed_px: float = 2.0) -> np.ndarray:
    """(n, 2) wandering camera positions in px (smooth random heading)."""
    rng = np.random.default_rng(seed)
    heading = np.cumsum(rng.normal(0, 0.08, n))
    step = speed_px * np.stack([np.cos(heading), np.sin(heading)], 1)
    return np.cumsum(step, 0)


def make_clip(path: Path, minutes: float, w: int = 160, h: int = 90, fps: int = FPS) -> None:
    """A wandering pan whose second half repeats a ``LOOP_PERIOD_S`` segment."""
    n = int(minutes * 60 * fps)
    canvas = _canvas(7)
    big = canvas.shape[0]
    pos = _path(n, 3)
    period = int(LOOP_PERIOD_S * fps)
    half = n // 2
    src = np.arange(n)
    src[half:] = half - period + (np.arange(n - half) % period)
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"preset": "ultrafast", "crf": "23"}
        for i in range(n):
            x, y = pos[src[i]]
            m = np.float32(
                [[1, 0, -(big / 2 + x - w / 2) % (big - w)], [0, 1, -(big / 2 + y) % (big - h)]]
            )
            fr = cv2.warpAffine(canvas, m, (w, h), borderMode=cv2.BORDER_WRAP)
            for p in st.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def make_tiny(path: Path, frames: int = 30000, size: int = 64, fps: int = 25) -> None:
    """The fuzzing list's 30,000-frame 64x64 clip: a smooth-noise picture that
    keeps evolving (new key pictures every 2 s, blended), never repeating."""
    rng = np.random.default_rng(11)
    every = 2 * fps

    def key() -> np.ndarray:
        small = rng.normal(0, 1, (8, 8, 3)).astype(np.float32)
        return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)

    a, b = key(), key()
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width = st.height = size
        st.pix_fmt = "yuv420p"
        st.options = {"preset": "ultrafast", "crf": "23"}
        for i in range(frames):
            if i and i % every == 0:
                a, b = b, key()
            w = (i % every) / every
            fr = np.clip(128 + 40 * ((1 - w) * a + w * b), 0, 255).astype(np.uint8)
            for p in st.encode(av.VideoFrame.from_ndarray(fr, format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)


def score(path: Path, workdir: Path, tree: Path | None = None) -> dict[str, object]:
    """Wall time, peak RSS and the result record of one `vqeval score` run
    (with the code in ``tree``, a checkout of another commit, if given)."""
    out = workdir / f"{path.stem}{'_baseline' if tree else ''}.json"
    args = [*VQEVAL, "score", str(path), "-j", "1", "-q", "--no-cache", "--json", str(out)]
    wall, rss, rc = run_child(args, cwd=tree)
    rec = json.loads(out.read_text())["results"][0] if out.exists() else {}
    return {
        "clip": path.name,
        "wall_s": round(wall, 2),
        "peak_rss_mb": round(rss / 2**20, 1),
        "exit_code": rc,
        "analysis_frames": (rec.get("analysis") or {}).get("frames"),
        "flags": rec.get("flags"),
        "loop_period_s": rec.get("loop_period_s"),
        "composite": rec.get("composite"),
        "error": rec.get("error"),
    }


def _commit(tree: Path) -> str:
    import subprocess

    res = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    return res.stdout.strip() or "unknown"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", default="10,40", help="clip lengths, minutes")
    ap.add_argument("--keep", type=Path, default=None, help="keep the clips in this folder")
    ap.add_argument("--skip-tiny", action="store_true", help="skip the 30,000-frame 64x64 clip")
    ap.add_argument("--results", type=Path, default=OUT)
    ap.add_argument(
        "--baseline-tree",
        type=Path,
        default=None,
        help="also score the shortest clip with the code of this checkout (e.g. a "
        "`git worktree` of an older commit), for a before/after row",
    )
    args = ap.parse_args()
    minutes = [float(m) for m in args.minutes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for m in minutes:
            clip = work / f"pan_loop_{m:g}min.mp4"
            if not clip.exists():
                t0 = time.perf_counter()
                make_clip(clip, m)
                print(f"made {clip.name} in {time.perf_counter() - t0:.1f} s", flush=True)
            row = {"minutes": m, **score(clip, work)}
            rows.append(row)
            print(row, flush=True)
            if args.baseline_tree and m == minutes[0]:
                base = {"minutes": m, **score(clip, work, args.baseline_tree)}
                base["clip"] = f"{clip.name} (baseline: {args.baseline_tree.name})"
                rows.append(base)
                print(base, flush=True)
        if not args.skip_tiny:
            clip = work / "tiny_30000f_64px.mp4"
            if not clip.exists():
                make_tiny(clip)
            row = {"minutes": 30000 / 25 / 60, **score(clip, work)}
            rows.append(row)
            print(row, flush=True)
    pans = [
        r for r in rows if str(r["clip"]).startswith("pan_loop_") and "baseline" not in r["clip"]
    ]
    ratio = None
    if len(pans) >= 2:
        a, b = pans[0], pans[-1]
        ratio = round(float(b["wall_s"]) / float(a["wall_s"]), 2)
    result = {
        "device": f"{cpu_name()} ({platform.machine()}), {__import__('os').cpu_count()} CPUs",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d"),
        "loop_period_true_s": LOOP_PERIOD_S,
        "baseline_commit": _commit(args.baseline_tree) if args.baseline_tree else None,
        "rows": rows,
        "time_ratio_longest_vs_shortest": ratio,
        "length_ratio": (pans[-1]["minutes"] / pans[0]["minutes"]) if len(pans) >= 2 else None,
    }
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "long_clips.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "# Long clips: time and peak memory of `vqeval score`",
        "",
        f"Device: {result['device']}; Python {result['python']}; {result['date']}. "
        "Each clip scored by a fresh `vqeval score -j 1 --no-cache` process (default "
        "dimensions); peak = the process's maximum resident set size. Generated by "
        "`benchmarks/bench_long.py`."
        + (
            f" Baseline row: the code of commit {result['baseline_commit']} on the same clip."
            if result["baseline_commit"]
            else ""
        ),
        "",
        "| clip | length (min) | analysis frames | wall (s) | peak RSS (MB) | flags | loop period (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['minutes']:g} | {r['analysis_frames']} | {r['wall_s']} | "
            f"{r['peak_rss_mb']} | {', '.join(r['flags'] or []) or '-'} | "
            f"{r['loop_period_s'] if r['loop_period_s'] is not None else '-'} |"
        )
    if ratio is not None:
        lines += [
            "",
            f"Time ratio {pans[-1]['minutes']:g} min / {pans[0]['minutes']:g} min: **{ratio}x** "
            f"for a {result['length_ratio']:g}x longer clip (true loop period "
            f"{LOOP_PERIOD_S:g} s).",
        ]
    (args.results / "long_clips.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
