"""Evidence for the tempo and ``slow_motion`` pair flag of ``vqeval compare``.

Derived pairs, built from every healthy clip of the dev set
(``../shared/realvideos``, label ``healthy``; nothing else): the baseline is
the clip re-encoded (H.264 CRF 20, long side 160 px, at most 24 frames/s);
the method is one of (long side 160 px = the analysis size, x264 preset
veryfast)

==============  ============================================================
variant         the method clip (expected)
==============  ============================================================
``slow_0.5``    the clip played at 0.5x, same length (frame blending) (slow)
``slow_0.67``   played at 0.67x (slow)
``repeat_0.5``  played at 0.5x by repeating each frame (no blending) (slow)
``fast_1.5``    played at 1.5x, 1/1.5 of the length (not slow)
``fast_2``      played at 2x, half the length (not slow)
``reencode``    re-encoded at CRF 32 and 120 px (same tempo, not slow)
``noise``       sensor noise, sigma 4 grey levels (same tempo, not slow)
``crop``        4 % cropped off every side, scaled back (same tempo, not slow)
``offset``      starts 0.5 s later (same tempo, not slow)
==============  ============================================================

Every clip is scored through :func:`vqeval.batch.score_batch` (dimension
``motion_level``; the per-frame signature is always stored), and each pair
goes through the code ``vqeval compare`` runs (:func:`vqeval.compare.pair_tempo`
parts: :func:`metrics.tempo.estimate_tempo`, :func:`metrics.tempo.motion_ratio`).

Calibration, the procedure of ``benchmarks/calibrate.py`` (balanced
accuracy; ties broken towards the middle of the plateau), one threshold at a
time:

1. ``MIN_CONFIDENCE`` (is the tempo to be trusted?): derived pairs whose
   best slope is right (within a factor 1.1 of the variant's true tempo:
   0.5, 0.67, 1.5, 2 or 1.0) against derived pairs whose slope is wrong and
   pairs of two different healthy clips (no tempo exists).
2. ``SLOW_TEMPO``: derived pairs whose tempo is known: slow variants against
   the others.
3. ``SLOW_MOTION_RATIO`` (the fallback without a tempo): pairs without a
   tempo: derived ones (slow against the others) and the real same-prompt
   pairs of the dev set (``slow`` clips against their ``reference``, frozen
   clips against the healthy clip of the same prompt = slow; loop clips
   against the healthy clip of the same prompt = not slow); the derived and
   the real sets count equally.

Leave-one-source-out (``source`` of labels.json, the project before ``:``):
each source's pairs are judged with the thresholds chosen on all other
sources' pairs. Real same-prompt pairs of one clip and its reference share
a source.

Diagnostic only (not calibrated on): the first half of each healthy clip
against its second half (same scene, same tempo, different frames): how
often would the motion-ratio fallback flag it?

Usage::

    python benchmarks/tempo_evidence.py --real ../shared/realvideos --out out/tempo_pairs

writes ``benchmarks/results/tempo.json`` and ``benchmarks/results/tempo.md``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import platform
import sys
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vqeval.metrics import tempo as mt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dev_failures import played_at  # noqa: E402

from vqeval.batch import score_batch  # noqa: E402
from vqeval.calibration import plateau_middle  # noqa: E402
from vqeval.compare import mean_motion  # noqa: E402
from vqeval.config import ScoreConfig  # noqa: E402
from vqeval.results import VideoResult  # noqa: E402
from vqeval.video import read_clip  # noqa: E402

SIZE = 160  # the analysis size: nothing finer is ever read
MAX_FPS = 24.0
SLOW = ("slow_0.5", "slow_0.67", "repeat_0.5")
VARIANTS = (
    "slow_0.5",
    "slow_0.67",
    "repeat_0.5",
    "fast_1.5",
    "fast_2",
    "reencode",
    "noise",
    "crop",
    "offset",
)
CONFIG = ScoreConfig(dimensions=("motion_level",))
GRID_CONF = sorted({round(float(x), 4) for x in np.geomspace(0.001, 0.9, 121)})
GRID_TEMPO = [round(x, 2) for x in np.arange(0.30, 1.31, 0.01)]
GRID_RATIO = [round(x, 2) for x in np.arange(0.05, 1.01, 0.01)]


# --------------------------------------------------------------------------- derived clips


def make_variant(
    name: str, frames: np.ndarray, fps: float, rng: np.random.Generator
) -> tuple[np.ndarray, int, int]:
    """(frames, crf, long side) of variant ``name`` of a clip."""
    if name.startswith("slow_"):
        return played_at(frames, float(name[5:]), len(frames)), 20, SIZE
    if name == "repeat_0.5":
        return frames[np.arange(len(frames)) // 2], 20, SIZE
    if name.startswith("fast_"):
        return played_at(frames, float(name[5:])), 20, SIZE
    if name == "reencode":
        return frames, 32, 120
    if name == "noise":
        noisy = frames.astype(np.float32) + rng.normal(0.0, 4.0, frames.shape)
        return np.clip(noisy + 0.5, 0, 255).astype(np.uint8), 20, SIZE
    if name == "crop":
        h, w = frames.shape[1:3]
        dy, dx = round(0.04 * h), round(0.04 * w)
        out = np.stack(
            [cv2.resize(f[dy : h - dy, dx : w - dx], (w, h), cv2.INTER_AREA) for f in frames]
        )
        return out, 20, SIZE
    if name == "offset":
        return frames[round(0.5 * fps) :], 20, SIZE
    raise ValueError(name)


def write_mp4(path: Path, frames: np.ndarray, fps: float, *, crf: int) -> None:
    """H.264 (yuv420p, preset veryfast) of (T, H, W, 3) uint8 RGB frames."""
    from fractions import Fraction

    import av

    h, w = (frames.shape[1] // 2) * 2, (frames.shape[2] // 2) * 2
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), mode="w", format="mp4") as out:
        st = out.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.options = {"crf": str(crf), "preset": "veryfast", "threads": "1"}
        for f in frames:
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h, :w]), format="rgb24")
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    tmp.replace(path)


def _resize(frames: np.ndarray, side: int) -> np.ndarray:
    h, w = frames.shape[1:3]
    s = side / max(h, w)
    if s >= 1:
        return frames
    size = (max(2, round(w * s)), max(2, round(h * s)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])


def build(real: Path, out: Path) -> dict[str, dict[str, Any]]:
    """Write baseline and variant clips of every healthy clip; returns
    ``{parent: {"source", "base": path, variant: path}}``."""
    labels = json.loads((real / "labels.json").read_text())
    healthy = sorted(n for n, lab in labels.items() if lab.get("label") == "healthy")
    out.mkdir(parents=True, exist_ok=True)
    index: dict[str, dict[str, Any]] = {}
    for name in healthy:
        if not (real / name).exists():
            continue
        stem = Path(name).stem
        entry: dict[str, Any] = {"source": str(labels[name]["source"]).split(":", 1)[0]}
        paths = {v: out / v / f"{stem}.mp4" for v in ("base", *VARIANTS)}
        if not all(p.exists() for p in paths.values()):
            clip = read_clip(real / name, size=SIZE, max_fps=MAX_FPS, stills=0)
            frames, fps = clip.frames, float(clip.fps)
            if not paths["base"].exists():
                write_mp4(paths["base"], frames, fps, crf=20)
            for v in VARIANTS:
                if paths[v].exists():
                    continue
                rng = np.random.default_rng(zlib.crc32(f"{name}:{v}".encode()))
                f, crf, side = make_variant(v, frames, fps, rng)
                write_mp4(paths[v], _resize(f, side), fps, crf=crf)
        entry.update({k: str(p) for k, p in paths.items()})
        index[name] = entry
        print(f"built {name}", flush=True)
    return index


# --------------------------------------------------------------------------- measuring


def measure(base: VideoResult, meth: VideoResult) -> dict[str, Any]:
    """Raw pair measurements (no thresholds): slope, confidence, motion ratio."""
    sa = mt.signature_from_series(base.series)
    sb = mt.signature_from_series(meth.series)
    assert sa is not None and sb is not None, (base.path, meth.path)
    est = mt.estimate_tempo(sa[0], sa[1], sb[0], sb[1], min_confidence=0.0)
    mb, mm = mean_motion(base), mean_motion(meth)
    return {
        "slope": None if est.slope is None else round(est.slope, 4),
        "offset_s": None if est.offset_s is None else round(est.offset_s, 3),
        "confidence": round(est.confidence, 4),
        "cost": None if est.cost is None else round(est.cost, 3),
        "motion_baseline": mb,
        "motion_method": mm,
        "motion_ratio": None
        if mt.motion_ratio(mm, mb) is None
        else round(mt.motion_ratio(mm, mb), 4),  # type: ignore[arg-type]
    }


#: True tempo of each derived variant.
TRUE_TEMPO = {"slow_0.5": 0.5, "slow_0.67": 0.67, "repeat_0.5": 0.5, "fast_1.5": 1.5, "fast_2": 2.0}


def right_slope(p: dict[str, Any]) -> bool:
    """The best slope of derived pair ``p`` is within a factor 1.1 of its true tempo."""
    truth = TRUE_TEMPO.get(p["variant"], 1.0)
    return p["slope"] is not None and abs(math.log(p["slope"] / truth)) <= math.log(1.1)


def decide(p: dict[str, Any], th: dict[str, float]) -> bool:
    """The rule of ``vqeval compare`` with thresholds ``th``."""
    tempo = p["slope"] if p["confidence"] >= th["min_confidence"] else None
    d = mt.slow_motion(
        tempo,
        p["motion_ratio"],
        p["motion_baseline"],
        slow_tempo=th["slow_tempo"],
        slow_ratio=th["slow_ratio"],
    )
    return d.flagged


def choose(
    grid: Sequence[float],
    sets: Sequence[tuple[list[float], list[bool]]],
    predict: Callable[[float, float], bool],
) -> tuple[float, float, list[float]]:
    """Grid value of best balanced accuracy (averaged over the non-empty
    sets), ties broken towards the middle of the plateau.

    Returns (value, accuracy, plateau values)."""

    def bacc(thr: float) -> float:
        accs = []
        for xs, ys in sets:
            pos = [predict(x, thr) for x, y in zip(xs, ys) if y]
            neg = [not predict(x, thr) for x, y in zip(xs, ys) if not y]
            parts = [np.mean(v) for v in (pos, neg) if v]
            if parts:
                accs.append(float(np.mean(parts)))
        return float(np.mean(accs)) if accs else 0.0

    scores = [bacc(g) for g in grid]
    best = max(scores)
    tied = [i for i, s in enumerate(scores) if s >= best - 1e-12]
    pick = tied[plateau_middle(tied)]
    return float(grid[pick]), best, [float(grid[i]) for i in tied]


def calibrate(
    derived: list[dict[str, Any]], unrelated: list[dict[str, Any]], real: list[dict[str, Any]]
) -> dict[str, Any]:
    """Thresholds by the written procedure on these pairs (see module doc)."""
    c, c_acc, c_plat = choose(
        GRID_CONF,
        [
            (
                [p["confidence"] for p in derived + unrelated],
                [right_slope(p) for p in derived] + [False] * len(unrelated),
            )
        ],
        lambda x, t: x >= t,
    )
    known = [p for p in derived if p["confidence"] >= c]
    t, t_acc, t_plat = choose(
        GRID_TEMPO,
        [([p["slope"] for p in known], [p["slow"] for p in known])],
        lambda x, thr: x <= thr,
    )
    null_d = [p for p in derived if p["confidence"] < c and p["motion_ratio"] is not None]
    null_r = [
        p
        for p in real
        if p["confidence"] < c
        and p["motion_ratio"] is not None
        and (p["motion_baseline"] or 0) >= mt.MIN_BASELINE_MOTION
    ]
    r, r_acc, r_plat = choose(
        GRID_RATIO,
        [
            ([p["motion_ratio"] for p in null_d], [p["slow"] for p in null_d]),
            ([p["motion_ratio"] for p in null_r], [p["slow"] for p in null_r]),
        ],
        lambda x, thr: x <= thr,
    )
    return {
        "min_confidence": c,
        "min_confidence_accuracy": round(c_acc, 4),
        "min_confidence_plateau": [min(c_plat), max(c_plat)],
        "slow_tempo": t,
        "slow_tempo_accuracy": round(t_acc, 4),
        "slow_tempo_plateau": [min(t_plat), max(t_plat)],
        "slow_ratio": r,
        "slow_ratio_accuracy": round(r_acc, 4),
        "slow_ratio_plateau": [min(r_plat), max(r_plat)],
        "slow_ratio_pairs": {"derived": len(null_d), "real": len(null_r)},
    }


def rates(pairs: list[dict[str, Any]], key: str = "flagged") -> dict[str, Any]:
    slow = [p for p in pairs if p["slow"]]
    ctrl = [p for p in pairs if not p["slow"]]
    out: dict[str, Any] = {
        "slow_pairs": len(slow),
        "slow_flagged": sum(p[key] for p in slow),
        "recall": round(sum(p[key] for p in slow) / len(slow), 4) if slow else None,
        "control_pairs": len(ctrl),
        "controls_flagged": sum(p[key] for p in ctrl),
        "false_flag_rate": round(sum(p[key] for p in ctrl) / len(ctrl), 4) if ctrl else None,
    }
    by: dict[str, list[int]] = {}
    for p in pairs:
        by.setdefault(p["variant"], [0, 0])
        by[p["variant"]][0] += int(p[key])
        by[p["variant"]][1] += 1
    out["by_variant"] = {k: f"{a}/{n}" for k, (a, n) in sorted(by.items())}
    return out


# --------------------------------------------------------------------------- main


def real_pairs(labels: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    """(method clip, baseline clip, kind, slow?) of the dev set's same-prompt pairs:
    each ``slow`` clip with its ``reference``; frozen and loop clips with the
    healthy clip of the same page and prompt (same project path but for the
    method's file, as labels.json names them)."""
    out = [
        (n, lab["reference"], "slow", True)
        for n, lab in sorted(labels.items())
        if lab.get("label") == "slow"
    ]
    same_prompt = {  # method clip -> healthy clip of the same prompt (labels.json notes)
        "frozen_ultravico_3x5_riflex.mp4": "healthy_ultravico_3x5_ours.mp4",
        "frozen_ultravico_4x3_riflex.mp4": "healthy_ultravico_4x3_ours.mp4",
        "frozen_riflex_spatial_pe.mp4": "healthy_riflex_spatial_ours.mp4",
        "frozen_timelapse_hunyuan_peony.mp4": "healthy_timelapse_repa_peony.mp4",
        "loop_riflex_ntk1.mp4": "healthy_riflex_ntk_ours1.mp4",
        "loop_riflex_ntk2.mp4": "healthy_riflex_ntk_ours2.mp4",
        "loop_riflex_pe.mp4": "healthy_riflex_ours.mp4",
        "loop_riflex_pe2.mp4": "healthy_riflex_ours2.mp4",
    }
    for m, b in same_prompt.items():
        if m in labels and b in labels:
            kind = labels[m]["label"]
            out.append((m, b, kind, kind == "frozen"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--real", type=Path, default=REPO.parent / "shared" / "realvideos")
    ap.add_argument("--out", type=Path, default=REPO / "out" / "tempo_pairs")
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("-j", "--workers", type=int, default=1)
    args = ap.parse_args(argv)
    labels = json.loads((args.real / "labels.json").read_text())
    index = build(args.real, args.out)
    paths = [p for e in index.values() for k, p in e.items() if k != "source"]
    rp = real_pairs(labels)
    real_paths = sorted({str(args.real / n) for m, b, _, _ in rp for n in (m, b)})
    results = score_batch(paths + real_paths, CONFIG, workers=args.workers, progress=False)
    by_path = {r.path: r for r in results}
    bad = [r for r in results if not r.ok]
    if bad:
        raise SystemExit(f"{len(bad)} clips failed: {bad[0].path}: {bad[0].error}")

    derived: list[dict[str, Any]] = []
    for parent, e in sorted(index.items()):
        base = by_path[e["base"]]
        for v in VARIANTS:
            p = measure(base, by_path[e[v]])
            derived.append({"parent": parent, "source": e["source"], "variant": v,
                            "slow": v in SLOW, **p})  # fmt: skip
    unrelated: list[dict[str, Any]] = []
    for a, b in itertools.permutations(sorted(index), 2):
        p = measure(by_path[index[a]["base"]], by_path[index[b]["base"]])
        unrelated.append({"baseline": a, "method": b, "source": index[a]["source"],
                          "source_method": index[b]["source"], **p})  # fmt: skip
    real: list[dict[str, Any]] = []
    for m, b, kind, slow in rp:
        p = measure(by_path[str(args.real / b)], by_path[str(args.real / m)])
        src = str(labels[m]["source"]).split(":", 1)[0]
        real.append({"method": m, "baseline": b, "kind": kind, "slow": slow,
                     "source": src, "variant": kind, **p})  # fmt: skip
    # diagnostic: first half vs second half of each healthy clip (same tempo, other frames)
    halves = []
    for parent, e in sorted(index.items()):
        r = by_path[e["base"]]
        mo = [float(x) for x in r.series.get("motion", [])[1:]]
        h = len(mo) // 2
        if h >= 4:
            a, b = float(np.mean(mo[:h])), float(np.mean(mo[h:]))
            halves.append({"parent": parent, "ratio_late_early": round(mt.motion_ratio(b, a) or 0, 4),
                           "ratio_early_late": round(mt.motion_ratio(a, b) or 0, 4),
                           "motion_first": round(a, 4), "motion_second": round(b, 4)})  # fmt: skip

    th = calibrate(derived, unrelated, real)
    for p in derived + real:
        p["flagged"] = decide(p, th)
        p["tempo"] = p["slope"] if p["confidence"] >= th["min_confidence"] else None
    unrelated_known = sum(p["confidence"] >= th["min_confidence"] for p in unrelated)
    for p in unrelated:
        p["tempo"] = p["slope"] if p["confidence"] >= th["min_confidence"] else None
        p["flagged"] = decide(p, th)
    unrelated_tempo_flags = sum(p["flagged"] and p["tempo"] is not None for p in unrelated)
    unrelated_ratio_flags = sum(p["flagged"] and p["tempo"] is None for p in unrelated)

    # leave one source out
    sources = sorted({p["source"] for p in derived} | {p["source"] for p in real})
    folds = []
    for src in sources:
        tr_d = [p for p in derived if p["source"] != src]
        tr_u = [p for p in unrelated if src not in (p["source"], p["source_method"])]
        tr_r = [p for p in real if p["source"] != src]
        if not tr_d:
            continue
        fth = calibrate(tr_d, tr_u, tr_r)
        for p in derived + real:
            if p["source"] == src:
                p["flagged_loso"] = decide(p, fth)
        folds.append({"source": src, **{k: fth[k] for k in ("min_confidence", "slow_tempo",
                                                              "slow_ratio")}})  # fmt: skip
    half_flags = sum(
        mt.slow_motion(None, min(h["ratio_late_early"], h["ratio_early_late"]),
                       max(h["motion_first"], h["motion_second"]),
                       slow_ratio=th["slow_ratio"]).flagged
        for h in halves
    )  # fmt: skip
    report = {
        "device": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
        "thresholds": th,
        "defaults_in_code": {"min_confidence": mt.MIN_CONFIDENCE, "slow_tempo": mt.SLOW_TEMPO,
                             "slow_ratio": mt.SLOW_MOTION_RATIO,
                             "min_baseline_motion": mt.MIN_BASELINE_MOTION},
        "in_sample": rates(derived),
        "loso": rates(derived, "flagged_loso"),
        "folds": folds,
        "unrelated_pairs": len(unrelated),
        "unrelated_with_tempo": int(unrelated_known),
        "unrelated_confidence_quantiles": {
            q: round(float(np.quantile([p["confidence"] for p in unrelated], q / 100)), 4)
            for q in (50, 90, 99, 100)
        },
        "unrelated_flagged_by_tempo": int(unrelated_tempo_flags),
        "unrelated_flagged_by_motion_ratio": int(unrelated_ratio_flags),
        "unrelated_given_tempo": [
            {k: p[k] for k in ("baseline", "method", "slope", "confidence", "motion_ratio",
                               "flagged")}
            for p in unrelated if p["tempo"] is not None
        ],
        "real": real,
        "real_loso_flagged": {p["method"]: p.get("flagged_loso") for p in real},
        "halves": halves,
        "halves_flagged_by_fallback": int(half_flags),
        "derived": derived,
    }  # fmt: skip
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "tempo.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.results / "tempo.md").write_text(render_md(report))
    print(render_md(report))
    return 0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def render_md(rep: dict[str, Any]) -> str:
    th = rep["thresholds"]
    ins, lo = rep["in_sample"], rep["loso"]
    lines = [
        "# Tempo and slow motion (compare): evidence",
        "",
        f"Device: {rep['device']}. Produced by `python benchmarks/tempo_evidence.py` on "
        "`../shared/realvideos` (method and procedure in the script's docstring).",
        "",
        "## Thresholds (balanced accuracy, ties to the plateau middle)",
        "",
        "| threshold | chosen | plateau | balanced accuracy |",
        "| --- | ---: | --- | ---: |",
        f"| tempo known when confidence >= | {th['min_confidence']:.4f} | "
        f"{th['min_confidence_plateau'][0]:.4f}-{th['min_confidence_plateau'][1]:.4f} | "
        f"{th['min_confidence_accuracy']:.3f} |",
        f"| slow when tempo <= | {th['slow_tempo']:.2f} | "
        f"{th['slow_tempo_plateau'][0]:.2f}-{th['slow_tempo_plateau'][1]:.2f} | "
        f"{th['slow_tempo_accuracy']:.3f} |",
        f"| no tempo: slow when motion ratio <= | {th['slow_ratio']:.2f} | "
        f"{th['slow_ratio_plateau'][0]:.2f}-{th['slow_ratio_plateau'][1]:.2f} | "
        f"{th['slow_ratio_accuracy']:.3f} |",
        "",
        f"Defaults in the code (`metrics/tempo.py`): {rep['defaults_in_code']}.",
        "",
        "## Derived pairs",
        "",
        "| | slow pairs flagged (recall) | controls flagged (false-flag rate) |",
        "| --- | ---: | ---: |",
        f"| in-sample | {ins['slow_flagged']}/{ins['slow_pairs']} ({_pct(ins['recall'])}) | "
        f"{ins['controls_flagged']}/{ins['control_pairs']} ({_pct(ins['false_flag_rate'])}) |",
        f"| leave-one-source-out | {lo['slow_flagged']}/{lo['slow_pairs']} ({_pct(lo['recall'])}) | "
        f"{lo['controls_flagged']}/{lo['control_pairs']} ({_pct(lo['false_flag_rate'])}) |",
        "",
        "Flagged per variant, in-sample: "
        + ", ".join(f"{k} {v}" for k, v in ins["by_variant"].items()),
        "",
        "Flagged per variant, LOSO: " + ", ".join(f"{k} {v}" for k, v in lo["by_variant"].items()),
        "",
        "LOSO folds: "
        + "; ".join(
            f"{f['source']}: conf {f['min_confidence']:.4f}, tempo {f['slow_tempo']:.2f}, "
            f"ratio {f['slow_ratio']:.2f}"
            for f in rep["folds"]
        ),
        "",
        f"Pairs of two different healthy clips (either order) given a tempo: "
        f"{rep['unrelated_with_tempo']} of {rep['unrelated_pairs']} (the rest: tempo null, "
        f"content does not correspond); flagged `slow_motion` through a tempo: "
        f"{rep['unrelated_flagged_by_tempo']}, through the motion-ratio fallback: "
        f"{rep['unrelated_flagged_by_motion_ratio']} (two unrelated clips differ in motion "
        "at random: see the known limit below). Their confidence (median, 90th, 99th "
        "percentile, max): "
        + ", ".join(f"{v:.4f}" for v in rep["unrelated_confidence_quantiles"].values())
        + ".",
        "",
        "## Real same-prompt pairs (dev set)",
        "",
        "| method clip | baseline clip | kind | tempo | slope | confidence | motion ratio | "
        "flagged | flagged (LOSO) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for p in rep["real"]:
        t = "-" if p["tempo"] is None else f"{p['tempo']:.2f}"
        lines.append(
            f"| {p['method']} | {p['baseline']} | {p['kind']} | {t} | {p['slope']:.2f} | "
            f"{p['confidence']:.3f} | {p['motion_ratio']:.3f} | "
            f"{'slow_motion' if p['flagged'] else '-'} | "
            f"{'-' if p.get('flagged_loso') is None else ('slow_motion' if p['flagged_loso'] else 'no')} |"
        )
    hs = rep["halves"]
    lines += [
        "",
        "## Known limit: the motion-ratio fallback",
        "",
        "Without a tempo (the frames do not correspond), only the motion ratio speaks. The "
        "first and second halves of one healthy clip (same scene, same tempo, other frames) "
        f"differ in mean flow speed by a ratio (slower / faster half) of "
        f"{min(min(h['ratio_late_early'], h['ratio_early_late']) for h in hs):.2f} to "
        f"{max(min(h['ratio_late_early'], h['ratio_early_late']) for h in hs):.2f}; the fallback "
        f"at {th['slow_ratio']:.2f} would flag {rep['halves_flagged_by_fallback']} of {len(hs)} "
        "such pairs. Two seeds of one prompt can differ like this, so a `slow_motion` flag "
        "whose reason says 'no tempo; motion ratio ...' is weaker evidence than one that "
        "says 'tempo ...'.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
