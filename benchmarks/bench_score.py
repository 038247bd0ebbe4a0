"""Speed and memory of `vqeval score` (issue: VQeval foundation, Measure).

1. Wall time of `vqeval score` with default dimensions, default workers and a
   cold cache on a folder of videos (default ../shared/realvideos), against
   decode-only time of the same files measured in the same run: (a) libav decode
   of every frame without pixel conversion, in this process and (b) as a fresh
   process (same start-up as `vqeval score`), (c) decode + resampling of the kept
   frames to the analysis size (what scoring must do anyway). Runs are interleaved and repeated; medians.
2. Peak resident memory of a `vqeval score` process on a generated
   2,000-frame 1920x1080 H.264 clip (floor: 1.5 GB).

Writes benchmarks/results/score_speed.{json,md}. Usage:
    python benchmarks/bench_score.py [--videos DIR] [--repeats 3] [--skip-memory]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import cpu_name

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results"
VQEVAL = [sys.executable, "-m", "vqeval"]


def decode_only(files: list[Path]) -> float:
    """Seconds to decode every frame of ``files`` (no pixel conversion)."""
    t0 = time.perf_counter()
    for f in files:
        with av.open(str(f)) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            for _ in c.decode(s):
                pass
    return time.perf_counter() - t0


_DECODE_CHILD = """
import sys, av
for f in sys.argv[1:]:
    with av.open(f) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for _ in c.decode(s):
            pass
"""


def decode_process(files: list[Path]) -> float:
    """Wall seconds of a fresh Python process that imports PyAV and decodes
    every frame of ``files``: the same start-up costs as a `vqeval score` run."""
    wall, _, rc = run_child([sys.executable, "-c", _DECODE_CHILD, *map(str, files)])
    if rc != 0:
        raise SystemExit("decode-only child failed")
    return wall


def decode_resample(files: list[Path]) -> float:
    """Seconds for `vqeval.video.read_clip` with default analysis settings (no metrics)."""
    from vqeval.config import ScoreConfig
    from vqeval.video import read_clip

    cfg = ScoreConfig()
    t0 = time.perf_counter()
    for f in files:
        read_clip(
            f,
            size=cfg.analysis_size,
            max_fps=cfg.max_fps,
            stills=cfg.stills,
            still_size=cfg.still_size,
        )
    return time.perf_counter() - t0


def run_child(args: list[str], cwd: Path | None = None) -> tuple[float, int, int]:
    """(wall s, peak RSS bytes, exit code) of a child process run in ``cwd``."""
    t0 = time.perf_counter()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode() if p.stderr else ""
    if p.returncode not in (0, 1):
        print(err, file=sys.stderr)
    return wall, ru.ru_maxrss * 1024, p.returncode


def score_cold(folder: Path) -> float:
    with tempfile.TemporaryDirectory() as cache:
        wall, _, rc = run_child([*VQEVAL, "score", str(folder), "-q", "--cache-dir", cache])
    if rc not in (0, 1):
        raise SystemExit(f"vqeval score failed with exit code {rc}")
    return wall


def make_big_clip(path: Path, frames: int = 2000, w: int = 1920, h: int = 1080) -> None:
    """A moving-texture 1080p H.264 clip (ultrafast preset keeps this quick)."""
    rng = np.random.default_rng(0)
    tex = (rng.random((h // 8 + 2, w // 8 + 2 + frames // 4, 3)) * 255).astype(np.uint8)
    import cv2

    big = cv2.resize(tex, (tex.shape[1] * 8, tex.shape[0] * 8), interpolation=cv2.INTER_LINEAR)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"preset": "ultrafast", "crf": "30"}
        for i in range(frames):
            x = (i * 2) % (big.shape[1] - w)
            img = np.ascontiguousarray(big[:h, x : x + w])
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=REPO.parent / "shared" / "realvideos")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-memory", action="store_true")
    a = ap.parse_args()
    files = sorted(p for p in a.videos.iterdir() if p.suffix.lower() in {".mp4", ".mov", ".mkv"})
    n_frames = 0
    for f in files:
        with av.open(str(f)) as c:
            n_frames += sum(1 for _ in c.decode(video=0))
    dec, dproc, res, score = [], [], [], []
    for _ in range(a.repeats):
        dec.append(decode_only(files))
        dproc.append(decode_process(files))
        res.append(decode_resample(files))
        score.append(score_cold(a.videos))
    rec: dict = {
        "device": f"{cpu_name()}, {os.cpu_count()} cores, no GPU",
        "python": platform.python_version(),
        "videos": len(files),
        "frames": n_frames,
        "repeats": a.repeats,
        "decode_only_s": statistics.median(dec),
        "decode_process_s": statistics.median(dproc),
        "decode_resample_s": statistics.median(res),
        "score_cold_s": statistics.median(score),
    }
    rec["ratio_vs_decode_only"] = rec["score_cold_s"] / rec["decode_only_s"]
    rec["ratio_vs_decode_process"] = rec["score_cold_s"] / rec["decode_process_s"]
    rec["ratio_vs_decode_resample"] = rec["score_cold_s"] / rec["decode_resample_s"]
    if not a.skip_memory:
        with tempfile.TemporaryDirectory() as d:
            clip = Path(d) / "big_1080p_2000f.mp4"
            t0 = time.perf_counter()
            make_big_clip(clip)
            rec["big_clip_encode_s"] = time.perf_counter() - t0
            wall, rss, rc = run_child([*VQEVAL, "score", str(clip), "-q", "--no-cache"])
            rec.update(big_clip_score_s=wall, big_clip_peak_rss_mb=rss / 2**20, big_clip_rc=rc)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "score_speed.json").write_text(json.dumps(rec, indent=1))
    md = [
        "# `vqeval score` speed and memory",
        "",
        f"Device: {rec['device']}, Python {rec['python']}. Produced by "
        "`python benchmarks/bench_score.py` (medians of interleaved repeats, one run).",
        "",
        "| measure | value |",
        "| --- | --- |",
        f"| videos / frames | {rec['videos']} / {rec['frames']} |",
        f"| decode only (libav, no pixel conversion), in this process "
        f"| {rec['decode_only_s']:.2f} s |",
        f"| decode only, as a fresh process (Python + PyAV start-up included) "
        f"| {rec['decode_process_s']:.2f} s |",
        f"| decode + resample to analysis frames | {rec['decode_resample_s']:.2f} s |",
        f"| `vqeval score`, cold cache, whole process | {rec['score_cold_s']:.2f} s |",
        f"| ratio score / decode only in-process (strict reading of the <= 3.0 floor) "
        f"| {rec['ratio_vs_decode_only']:.2f}x |",
        f"| ratio score process / decode-only process (<= 3.0 floor, like for like) "
        f"| {rec['ratio_vs_decode_process']:.2f}x |",
        f"| ratio score / decode + resample | {rec['ratio_vs_decode_resample']:.2f}x |",
    ]
    if "big_clip_peak_rss_mb" in rec:
        md += [
            f"| 2,000-frame 1920x1080 clip: score time | {rec['big_clip_score_s']:.1f} s |",
            f"| 2,000-frame 1920x1080 clip: peak RSS (floor <= 1536 MB) "
            f"| {rec['big_clip_peak_rss_mb']:.0f} MB |",
        ]
    (OUT / "score_speed.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
