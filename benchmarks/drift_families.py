"""Derived drift families and the calibration of the ``drift`` thresholds.

Real drifting clips are few (9 in ``../shared/realvideos_svi``). This script
builds labelled clips from the dev sets' own healthy clips, the way
autoregressive generators drift, plus natural light changes that must pass,
and chooses the :class:`metrics.drift.DriftThresholds` by the procedure of
``benchmarks/calibrate.py``.

==================  =====================================================
transform           what the clip becomes (label)
==================  =====================================================
``drift_saturation`` from 20-60 % of the duration, chroma grows (x3-5 at
                    the end: HSV saturation about x2-3, as the SVI drifts)
                    while playback slows to 10 % speed (drift)
``drift_exposure``  from 20-60 %, contrast stretched around mid-grey
                    (x2-3) with an exposure shift of 10-40 grey
                    levels: clipping grows; playback slows (drift)
``drift_palette``   from 20-60 %, the palette slides towards magenta or
                    green (green gain -25..-45 % or +25..45 % against red
                    and blue) and chroma x1.3; playback slows (drift)
``ctrl_sunrise``    exposure ramps smoothly between 0.35-0.7 and 1 (up or
                    down, i.e. sunrise or sunset) with a white-balance ramp
                    from warm to neutral (or back) along blue-yellow
                    (healthy)
``ctrl_timelapse``  content at 2-3x speed under a smooth random exposure
                    walk (+-25 %) and colour-temperature walk (healthy)
``ctrl_cut``        the first half of the clip, then a hard cut to the
                    first half of another healthy clip of the same dev set
                    (healthy)
==================  =====================================================

Drift needs time to accumulate: the drift transforms skip parents shorter
than :data:`MIN_DRIFT_PARENT_S` (the two 3-s time-lapse clips); the
controls use every healthy clip.

Everything is computed on the analysis frames in memory (160 px, 8
frames/s, as ``vqeval score`` sees them); ``--write DIR`` also writes the
derived clips as mp4 with a ``labels.json`` in the format of the real sets.

Calibration (``benchmarks/calibrate.py``'s written procedure): every grid
point of :data:`GRID` is scored by the balanced accuracy of the verdict
(``failed``: any flag; the other dimensions' flags are taken from a full
default scoring and do not depend on these thresholds), averaged over the
clip kinds (real, derived); ties are broken towards the middle of the
plateau (median grid index per threshold, then the nearest tied point).
Leave-one-source-out: per source (the part of ``source`` before ``:``),
the thresholds are chosen on all other sources and applied to it.

Usage::

    python benchmarks/drift_families.py --json benchmarks/results/drift.json \\
        --md benchmarks/results/drift.md
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import sys
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from vqeval.metrics.drift import (  # noqa: E402
    REPLACED,
    DriftThresholds,
    drift_components,
    drift_stats,
)

from vqeval.calibration import plateau_middle  # noqa: E402
from vqeval.config import ScoreConfig  # noqa: E402
from vqeval.framepass import run_pass  # noqa: E402
from vqeval.video import read_clip  # noqa: E402

SHARED = REPO.parent / "shared"
DEV_SETS = (SHARED / "realvideos_svi", SHARED / "realvideos")
NEEDS = ("colour", "cuts", "flow")
#: Labels counted as failures of the per-clip verdict (``slow`` is a pair
#: property, not asked of the per-clip judge).
FAILURES = ("drift", "collapse", "loop", "frozen")
#: Shortest parent clip (s) the drift transforms use.
MIN_DRIFT_PARENT_S = 5.0

Transform = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


# ------------------------------------------------------------------ transforms


def _ramp(t: int, start: float) -> np.ndarray:
    """0 before ``start`` x t, then linear to 1 at the last frame."""
    k = round(start * t)
    p = np.zeros(t)
    p[k:] = np.linspace(0.0, 1.0, t - k)
    return p


def _slowing(frames: np.ndarray, p: np.ndarray, floor: float = 0.1) -> np.ndarray:
    """Playback speed 1 - (1 - floor) p: motion dies as the drift grows."""
    speed = 1.0 - (1.0 - floor) * p
    pos = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    return frames[np.clip(np.round(pos).astype(int), 0, len(frames) - 1)]


def _luma(x: np.ndarray) -> np.ndarray:
    return (0.299 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2])[..., None]


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def drift_saturation(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Chroma x(1 + (k - 1) p), k 3-5, from 20-60 %; playback slows."""
    p = _ramp(len(frames), rng.uniform(0.2, 0.6))
    k = rng.uniform(3.0, 5.0)
    f = _slowing(frames, p).astype(np.float32)
    y = _luma(f)
    gain = (1.0 + (k - 1.0) * p)[:, None, None, None]
    return _u8(y + (f - y) * gain)


def drift_exposure(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Contrast x(1 + (c - 1) p) around mid-grey, c 2-3, and an exposure
    shift of 10-40 grey levels (either way), from 20-60 %; playback slows."""
    p = _ramp(len(frames), rng.uniform(0.2, 0.6))
    c = rng.uniform(2.0, 3.0)
    shift = rng.uniform(10.0, 40.0) * rng.choice([-1.0, 1.0])
    f = _slowing(frames, p).astype(np.float32)
    pc = p[:, None, None, None]
    return _u8(128.0 + (f - 128.0) * (1.0 + (c - 1.0) * pc) + shift * pc)


def drift_palette(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """The palette slides towards magenta or green (green channel gain
    1 -+ m p against red and blue, m 0.25-0.45) with chroma x(1 + 0.3 p),
    from 20-60 %; playback slows."""
    p = _ramp(len(frames), rng.uniform(0.2, 0.6))
    m = rng.uniform(0.25, 0.45) * rng.choice([-1.0, 1.0])
    f = _slowing(frames, p).astype(np.float32)
    pc = p[:, None, None, None]
    gains = np.stack(
        [1.0 - 0.5 * m * pc[..., 0], 1.0 + m * pc[..., 0], 1.0 - 0.5 * m * pc[..., 0]], -1
    )
    f = f * gains
    y = _luma(f)
    return _u8(y + (f - y) * (1.0 + 0.3 * pc))


def _light(f: np.ndarray, gain: np.ndarray, warm: np.ndarray) -> np.ndarray:
    """Exposure ``gain`` (T,) and a white-balance shift ``warm`` (T,), -1..1,
    along blue-yellow (red up / blue down for warm)."""
    g = gain[:, None, None, None]
    w = warm[:, None, None, None]
    wb = np.concatenate([1.0 + 0.15 * w, np.ones_like(w), 1.0 - 0.2 * w], axis=-1)
    return f * g * wb


def ctrl_sunrise(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Exposure 0.35-0.7 -> 1 with warm -> neutral light (or the reverse: sunset),
    smooth over the whole clip."""
    t = len(frames)
    s = 0.5 - 0.5 * np.cos(np.pi * np.linspace(0.0, 1.0, t))  # smooth 0 -> 1
    g0 = rng.uniform(0.35, 0.7)
    if rng.random() < 0.5:
        gain, warm = g0 + (1.0 - g0) * s, 1.0 - s  # sunrise
    else:
        gain, warm = 1.0 - (1.0 - g0) * s, s  # sunset
    return _u8(_light(frames.astype(np.float32), gain, warm))


def _walk(t: int, rng: np.random.Generator, amp: float, knots: int = 6) -> np.ndarray:
    """A smooth random curve (T,) within +-amp."""
    x = np.linspace(0.0, 1.0, knots)
    y = rng.uniform(-amp, amp, knots)
    return np.interp(np.linspace(0.0, 1.0, t), x, y)


def ctrl_timelapse(frames: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Content at 2-3x speed under smooth exposure (+-25 %) and colour
    temperature walks."""
    k = int(rng.integers(2, 4))
    f = frames[::k].astype(np.float32)
    t = len(f)
    return _u8(_light(f, 1.0 + _walk(t, rng, 0.25), _walk(t, rng, 0.8)))


def ctrl_cut(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The first half of ``a``, a hard cut, then the first half of ``b``."""
    import cv2

    h, w = a.shape[1:3]
    if b.shape[1:3] != (h, w):
        b = np.stack([cv2.resize(x, (w, h), interpolation=cv2.INTER_AREA) for x in b])
    half = len(a) // 2
    return np.concatenate([a[:half], b[: len(a) - half]])


#: transform -> (function, label); ``ctrl_cut`` pairs clips and is separate.
TRANSFORMS: dict[str, tuple[Transform, str]] = {
    "drift_saturation": (drift_saturation, "drift"),
    "drift_exposure": (drift_exposure, "drift"),
    "drift_palette": (drift_palette, "drift"),
    "ctrl_sunrise": (ctrl_sunrise, "healthy"),
    "ctrl_timelapse": (ctrl_timelapse, "healthy"),
}


# ------------------------------------------------------------------ cases


@dataclass
class Case:
    """One labelled clip with what the drift decision needs."""

    name: str
    label: str
    source: str
    kind: str  # "real" | "derived"
    transform: str
    components: Any
    times_s: np.ndarray
    cuts: list[int]
    motion: np.ndarray
    other_flags: tuple[str, ...] = ()
    colour: np.ndarray | None = None

    def comps(self, accumulate: bool, replaced: float = REPLACED, lag_s: float = 1.0) -> Any:
        """:func:`drift_components` for a cut mode, replaced level and lag (cached)."""
        cache = self.__dict__.setdefault("_comps", {})
        key = (bool(accumulate), float(replaced), float(lag_s))
        if key not in cache:
            col = self.colour if self.colour is not None else self.components[1][:, :7]
            cache[key] = drift_components(
                col, self.times_s, self.cuts, accumulate=accumulate, replaced=replaced,
                replaced_lag_s=lag_s,
            )  # fmt: skip
        return cache[key]

    @property
    def failure(self) -> bool:
        return self.label in FAILURES


def _features(
    frames: np.ndarray, times: np.ndarray, fps: float
) -> tuple[Any, list[int], np.ndarray, np.ndarray]:
    feats = run_pass(frames, times, fps, ScoreConfig(), needs=NEEDS)
    comps = drift_components(feats.colour, times, feats.cuts or [])
    mot = np.asarray(feats.flow.mean_mag, dtype=np.float64)
    return comps, list(feats.cuts or []), mot, np.asarray(feats.colour)


def _file_case(
    path: Path,
    label: str,
    source: str,
    kind: str,
    transform: str = "",
    other: tuple[str, ...] = (),
) -> tuple[Case, Any]:
    """A :class:`Case` from a clip file (source: the labels' ``source``),
    with the decoded clip (its frames feed the derived families)."""
    clip = read_clip(path, stills=0)
    comps, cuts, mot, col = _features(clip.frames, clip.times_s, clip.fps)
    src = str(source).split(":", 1)[0]
    case = Case(path.name, label, src, kind, transform, comps, clip.times_s, cuts, mot, other, col)
    return case, clip


def collect_controls(root: Path) -> list[Case]:
    """The ``healthy`` clips of a labelled folder (``benchmarks/dev_failures.py``
    output: slowed, reframed, re-encoded and cut variants of the dev sets'
    healthy clips) as further derived controls; their source is their
    parent's, so leave-one-source-out holds them out with it."""
    labels = json.loads((root / "labels.json").read_text())
    cases = []
    for name, lab in sorted(labels.items()):
        if lab["label"] != "healthy" or not (root / name).exists():
            continue
        tname = str(lab.get("transform", "control"))
        cases.append(_file_case(root / name, "healthy", lab["source"], "derived", tname)[0])
        print(f"{name}: control", flush=True)
    return cases


def collect(
    dev_sets: tuple[Path, ...],
    flags_json: dict[str, tuple[str, ...]],
    write: Path | None = None,
    ignore: tuple[str, ...] = ("drift",),
) -> list[Case]:
    """Real clips of every dev set plus the derived families of their healthy clips."""
    cases: list[Case] = []
    written: dict[str, dict] = {}
    for root in dev_sets:
        if not (root / "labels.json").is_file():
            continue
        labels = json.loads((root / "labels.json").read_text())
        healthy = sorted(n for n, lab in labels.items() if lab["label"] == "healthy")
        clips: dict[str, tuple[np.ndarray, np.ndarray, float]] = {}
        for name, lab in sorted(labels.items()):
            if not (root / name).exists() or lab["label"] == "slow":
                continue
            other = tuple(f for f in flags_json.get(name, ()) if f not in ignore)
            case, clip = _file_case(root / name, lab["label"], lab["source"], "real", "", other)
            cases.append(case)
            if lab["label"] == "healthy":
                clips[name] = (clip.frames, clip.times_s, clip.fps)
            print(f"{name}: {lab['label']}", flush=True)
        for i, name in enumerate(healthy):
            if name not in clips:
                continue
            frames, _times, fps = clips[name]
            src = str(labels[name]["source"]).split(":", 1)[0]
            jobs: list[tuple[str, str, np.ndarray]] = []
            for tname, (fn, label) in TRANSFORMS.items():
                if label == "drift" and len(frames) / fps < MIN_DRIFT_PARENT_S:
                    continue
                rng = np.random.default_rng(zlib.crc32(f"{name}:{tname}".encode()))
                jobs.append((tname, label, fn(frames.copy(), fps, rng)))
            other = healthy[(i + 1) % len(healthy)]
            if other != name and other in clips:
                jobs.append(("ctrl_cut", "healthy", ctrl_cut(frames, clips[other][0])))
            for tname, label, out in jobs:
                tt = np.arange(len(out)) / fps
                comps, cuts, mot, col = _features(out, tt, fps)
                dst = f"{tname}__{Path(name).stem}"
                cases.append(Case(dst, label, src, "derived", tname, comps, tt, cuts, mot, (), col))
                if write is not None:
                    from lvsa.generators.output import write_mp4

                    write.mkdir(parents=True, exist_ok=True)
                    write_mp4(write / f"{dst}.mp4", out, fps, crf=20)
                    written[f"{dst}.mp4"] = {"label": label, "source": labels[name]["source"],
                                             "parent": name, "transform": tname}  # fmt: skip
    if write is not None:
        (write / "labels.json").write_text(json.dumps(written, indent=1, sort_keys=True) + "\n")
    return cases


# ------------------------------------------------------------------ calibration

#: Candidate values per threshold (units: log ratios, a fraction of pixels,
#: CIELAB ΔE, %diag/s).
GRID: dict[str, tuple[float, ...]] = {
    "saturation": (0.3, 0.4, 0.5, 0.6, 0.8),
    "contrast": (0.3, 0.4, 0.5, 0.7, 0.9),
    "clipping": (0.05, 0.1, 0.15, 0.2, 0.3),
    "cast": (4.0, 6.0, 8.0, 11.0, 15.0, 20.0),
    "still_motion": (0.75, 1.5, 3.0, 6.0),
    "min_fraction": (0.1, 0.15, 0.2),
    "moving_factor": (2.0, 3.0, 4.0),
    "replaced": (0.3, 0.4, 0.5, 0.6),
    "replaced_lag_s": (1.0, 2.0, 4.0),
}
KEYS = tuple(GRID)


def combos() -> list[DriftThresholds]:
    base = DriftThresholds()
    return [replace(base, **dict(zip(KEYS, v))) for v in itertools.product(*GRID.values())]


def decide(c: Case, th: DriftThresholds) -> bool:
    """The drift flag of ``c`` under ``th``."""
    return drift_stats(
        np.zeros((len(c.times_s), 7)), c.times_s, cuts=c.cuts, motion=c.motion,
        thresholds=th, components=c.comps(th.accumulate, th.replaced, th.replaced_lag_s),
    ).drifted  # fmt: skip


def decisions(cases: list[Case], grid: list[DriftThresholds]) -> np.ndarray:
    """(combos, cases) bool: drift flag per grid point and clip.

    Vectorised form of :func:`metrics.drift.drift_stats`: a segment (the
    whole clip when accumulating, else each shot) is flagged when, over its
    last ``max(min_s, min_fraction x duration)``, every frame's largest
    growth / threshold (divided by ``moving_factor`` when the median flow
    there exceeds ``still_motion``) is >= 1. :func:`decide` is the reference
    (``--check`` compares them on a sample of grid points).
    """
    keys = ("saturation", "contrast", "clipping", "cast")
    T = np.array([[getattr(th, k) for k in keys] for th in grid])  # (N, 4)
    still = np.array([th.still_motion for th in grid])
    movf = np.array([th.moving_factor for th in grid])
    frac = np.array([th.min_fraction for th in grid])
    mode = np.array([th.accumulate for th in grid])
    repl = np.array([th.replaced for th in grid])
    lags = np.array([th.replaced_lag_s for th in grid])
    base = grid[0]
    out = np.zeros((len(grid), len(cases)), dtype=bool)
    for j, c in enumerate(cases):
        t = c.times_s
        n = len(t)
        if n < 2:
            continue
        step = float(np.median(np.diff(t)))
        duration = float(t[-1] - t[0]) + step
        fm = np.empty(n)
        m = c.motion
        fm[0], fm[-1] = (m[0], m[-1]) if len(m) else (0.0, 0.0)
        if n > 2 and len(m):
            fm[1:-1] = 0.5 * (m[:-1] + m[1:])
        for acc, rp, lg in sorted(
            {(bool(a), float(r), float(x)) for a, r, x in zip(mode, repl, lags)}
        ):
            gd, _, segs = c.comps(acc, rp, lg)
            g = np.stack([gd[k] for k in keys], axis=1)  # (T, 4)
            for f in np.unique(frac):
                sel = (frac == f) & (mode == acc) & (repl == rp) & (lags == lg)
                if not sel.any():
                    continue
                need = max(base.min_s, f * duration)
                k = max(2, int(np.ceil(need / step - 1e-9)))
                for a, b in itertools.pairwise(segs):
                    if b - a < k:
                        continue
                    tail = g[b - k : b]  # (k, 4)
                    mot = float(np.median(fm[b - k : b]))
                    factor = np.where(mot > still[sel], movf[sel], 1.0)
                    lv = (tail[None, :, :] / T[sel][:, None, :]).max(axis=2)  # (Ns, k)
                    out[sel, j] |= lv.min(axis=1) / factor >= 1.0
    return out


def balanced(cases: list[Case], failed: np.ndarray) -> np.ndarray:
    """Balanced accuracy of the verdict per grid point (rows of ``failed``),
    averaged over the clip kinds."""
    per_kind = []
    for kind in sorted({c.kind for c in cases}):
        idx = [i for i, c in enumerate(cases) if c.kind == kind]
        pos = [i for i in idx if cases[i].failure]
        neg = [i for i in idx if not cases[i].failure]
        rates = []
        if pos:
            rates.append(failed[:, pos].mean(axis=1))
        if neg:
            rates.append(1.0 - failed[:, neg].mean(axis=1))
        per_kind.append(np.mean(rates, axis=0))
    return np.mean(per_kind, axis=0)


def select(
    cases: list[Case], grid: list[DriftThresholds], dec: np.ndarray
) -> tuple[int, float, int]:
    """calibrate.py's procedure: best balanced accuracy, plateau middle."""
    other = np.array([bool(c.other_flags) for c in cases])
    acc = balanced(cases, dec | other[None, :])
    best = acc.max()
    tied = np.flatnonzero(acc >= best - 1e-12)
    idx = [[GRID[k].index(getattr(grid[j], k)) for k in KEYS] for j in tied]
    j = tied[plateau_middle(idx)]
    return int(j), float(best), len(tied)


def summary(cases: list[Case], flagged: np.ndarray) -> dict[str, Any]:
    """Per family / label: clips failed (verdict) and drift-flagged."""
    out: dict[str, Any] = {}
    groups: dict[str, list[int]] = {}
    for i, c in enumerate(cases):
        key = f"{c.kind}:{c.transform or c.label}"
        groups.setdefault(key, []).append(i)
    for key, idx in sorted(groups.items()):
        fl = int(flagged[idx].sum())
        failed = int(sum(bool(flagged[i]) or bool(cases[i].other_flags) for i in idx))
        out[key] = {"n": len(idx), "drift_flagged": fl, "failed": failed}
    return out


def report(cases: list[Case]) -> dict[str, Any]:
    grid = combos()
    t0 = time.time()
    dec = decisions(cases, grid)
    j, acc, ties = select(cases, grid, dec)
    chosen = grid[j]
    ins = dec[j]
    held = np.zeros(len(cases), dtype=bool)
    folds = []
    for src in sorted({c.source for c in cases}):
        tr = [i for i, c in enumerate(cases) if c.source != src]
        te = [i for i, c in enumerate(cases) if c.source == src]
        jj, a, n = select([cases[i] for i in tr], grid, dec[:, tr])
        held[te] = dec[jj, te]
        folds.append({"source": src, "chosen": {k: getattr(grid[jj], k) for k in KEYS},
                      "train_accuracy": round(a, 4), "plateau": n, "n_test": len(te)})  # fmt: skip
    return {
        "grid": {k: list(v) for k, v in GRID.items()},
        "fixed": {f.name: getattr(chosen, f.name) for f in fields(chosen) if f.name not in KEYS},
        "chosen": {k: getattr(chosen, k) for k in KEYS},
        "chosen_accuracy": round(acc, 4),
        "plateau": ties,
        "grid_seconds": round(time.time() - t0, 1),
        "in_sample": summary(cases, ins),
        "loso": summary(cases, held),
        "folds": folds,
        "clips": {
            c.name: {
                "label": c.label,
                "source": c.source,
                "kind": c.kind,
                "other_flags": list(c.other_flags),
                "drift_in_sample": bool(ins[i]),
                "drift_loso": bool(held[i]),
            }
            for i, c in enumerate(cases)
        },
    }


#: Candidate blur ratios for the collapse ``blurred`` test (:data:`metrics.detail.BLUR_RATIO`).
BLUR_GRID = (0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9)


def calibrate_blur(rows: list[dict[str, Any]], ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """Choose the collapse blur ratio by the same procedure on the real clips.

    ``rows``: ``vqeval score --json`` records (default dimensions) with
    ``label`` and ``source`` added. A clip is ``blurred`` under ratio ``r``
    when its ``detail`` raw ``sharpness_retention`` (the lowest accumulated
    sharpness over a window of the collapse run length) is below ``r``;
    its verdict fails when it is blurred or has any flag other than a
    ``blurred`` collapse (flags in ``ignore`` left out). Balanced accuracy,
    plateau middle; LOSO by source.
    """

    def failed(r: dict[str, Any], ratio: float) -> bool:
        det = r["raw"].get("detail", {})
        blurred = (det.get("sharpness_retention") or 1.0) < ratio
        others = [
            f
            for f in r["flags"]
            if f not in ignore and not (f == "collapse" and det.get("reason") == "blurred")
        ]
        return blurred or bool(others)

    def choose(sel: list[dict[str, Any]]) -> tuple[float, float, int]:
        accs = []
        for ratio in BLUR_GRID:
            pos = [failed(r, ratio) for r in sel if r["label"] in FAILURES]
            neg = [not failed(r, ratio) for r in sel if r["label"] == "healthy"]
            accs.append(float(np.mean([np.mean(x) for x in (pos, neg) if x])))
        best = max(accs)
        tied = [i for i, a in enumerate(accs) if a >= best - 1e-12]
        return BLUR_GRID[tied[plateau_middle(tied)]], best, len(tied)

    rows = [r for r in rows if r["label"] != "slow"]
    ratio, acc, ties = choose(rows)
    held: dict[str, bool] = {}
    folds = []
    for src in sorted({r["source"] for r in rows}):
        rr, a, n = choose([r for r in rows if r["source"] != src])
        for r in rows:
            if r["source"] == src:
                held[r["name"]] = failed(r, rr)
        folds.append({"source": src, "blur_ratio": rr, "train_accuracy": round(a, 4), "plateau": n})

    def count(label: str, loso: bool) -> list[int]:
        sel = [r for r in rows if r["label"] == label]
        return [sum(held[r["name"]] if loso else failed(r, ratio) for r in sel), len(sel)]

    return {
        "grid": list(BLUR_GRID),
        "chosen": ratio,
        "accuracy": round(acc, 4),
        "plateau": ties,
        "folds": folds,
        "failed": {
            lab: {"in_sample": count(lab, False), "loso": count(lab, True)}
            for lab in ("healthy", *FAILURES)
        },
        "retention": {
            r["name"]: r["raw"].get("detail", {}).get("sharpness_retention") for r in rows
        },
    }


def markdown(rep: dict[str, Any]) -> str:
    """The report as Markdown tables (``benchmarks/results/drift.md``)."""
    lines = [
        "# Drift: derived families and threshold calibration",
        "",
        "Generated by `benchmarks/drift_families.py` (procedure in its docstring and in",
        "`docs/metrics.md#drift`). Derived clips are built from the dev sets' healthy",
        "clips at the analysis size; real clips are `../shared/realvideos_svi` and",
        "`../shared/realvideos` (slow-motion clips are pair failures and are left out).",
        "",
        f"Chosen (in-sample): `{json.dumps(rep['chosen'])}`; fixed: `{json.dumps(rep['fixed'])}`;",
        f"balanced accuracy {rep['chosen_accuracy']}, plateau of {rep['plateau']} grid point(s).",
        "",
        "| set | n | drift-flagged in-sample | failed in-sample | drift-flagged LOSO | failed LOSO |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for key in rep["in_sample"]:
        a, b = rep["in_sample"][key], rep["loso"][key]
        lines.append(
            f"| {key} | {a['n']} | {a['drift_flagged']} | {a['failed']} | "
            f"{b['drift_flagged']} | {b['failed']} |"
        )
    lines += ["", "Leave-one-source-out folds (thresholds chosen without the source):", ""]
    lines += [
        "| held-out source | n | chosen | train accuracy | plateau |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in rep["folds"]:
        lines.append(
            f"| {f['source']} | {f['n_test']} | `{json.dumps(f['chosen'])}` | "
            f"{f['train_accuracy']} | {f['plateau']} |"
        )
    lines += ["", "Real clips (failed = any flag; `drift` = the drift flag):", ""]
    lines += [
        "| clip | label | other flags | drift in-sample | drift LOSO |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, c in rep["clips"].items():
        if c["kind"] == "real":
            lines.append(
                f"| {name} | {c['label']} | {', '.join(c['other_flags']) or '-'} | "
                f"{'yes' if c['drift_in_sample'] else '-'} | {'yes' if c['drift_loso'] else '-'} |"
            )
    blur = rep.get("blur")
    if blur:
        lines += [
            "",
            "## Collapse: blur ratio",
            "",
            f"Grid {blur['grid']}; chosen {blur['chosen']} (balanced accuracy {blur['accuracy']},",
            f"plateau of {blur['plateau']}). Verdict failed (any flag) per label:",
            "",
            "| label | in-sample | LOSO |",
            "| --- | --- | --- |",
        ]
        for lab, v in blur["failed"].items():
            lines.append(f"| {lab} | {v['in_sample'][0]} / {v['in_sample'][1]} | "
                         f"{v['loso'][0]} / {v['loso'][1]} |")  # fmt: skip
        lines += ["", "| held-out source | blur ratio | train accuracy | plateau |",
                  "| --- | --- | --- | --- |"]  # fmt: skip
        for f in blur["folds"]:
            lines.append(
                f"| {f['source']} | {f['blur_ratio']} | {f['train_accuracy']} | {f['plateau']} |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flags", type=Path, action="append", default=[],
                    help="vqeval score --json of a dev set (other dimensions' flags; "
                         "the blur-ratio calibration reads it too)")  # fmt: skip
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--md", type=Path, default=None)
    ap.add_argument(
        "--ignore-flags",
        default="loop",
        help="other flags left out of the verdict (default: loop, reworked concurrently)",
    )
    ap.add_argument("--check", action="store_true", help="compare the vectorised decisions")
    ap.add_argument("--cache", type=Path, default=None, help="pickle of the analysed cases")
    ap.add_argument("--write", type=Path, default=None, help="also write the derived mp4s here")
    ap.add_argument("--controls", type=Path, action="append", default=[],
                    help="a labelled folder whose healthy clips are further derived controls "
                         "(benchmarks/dev_failures.py output)")  # fmt: skip
    a = ap.parse_args(argv)
    ignore = ("drift", *[f for f in a.ignore_flags.split(",") if f])
    flags: dict[str, tuple[str, ...]] = {}
    rows: list[dict[str, Any]] = []
    labels = {}
    for root in DEV_SETS:
        if (root / "labels.json").is_file():
            labels.update(json.loads((root / "labels.json").read_text()))
    for p in a.flags:
        for row in json.loads(p.read_text()).get("results", []):
            name = Path(row["path"]).name
            flags[name] = tuple(row.get("flags") or ())
            if name in labels and row.get("status", "ok") == "ok":
                lab = labels[name]
                rows.append({**row, "name": name, "label": lab["label"],
                             "source": str(lab["source"]).split(":", 1)[0]})  # fmt: skip
    if a.cache is not None and a.cache.is_file():
        cases = pickle.loads(a.cache.read_bytes())
        for c in cases:  # components are recomputed with the current code
            c.__dict__.pop("_comps", None)
        for c in cases:  # the other dimensions' flags as scored now
            if c.kind == "real" and c.name in flags:
                c.other_flags = tuple(f for f in flags[c.name] if f not in ignore)
    else:
        cases = collect(DEV_SETS, flags, a.write, ignore)
        if a.cache is not None:
            a.cache.write_bytes(pickle.dumps(cases))
    for root in a.controls:
        cache = None if a.cache is None else a.cache.with_name(f"{a.cache.stem}-{root.name}.pkl")
        if cache is not None and cache.is_file():
            extra = pickle.loads(cache.read_bytes())
        else:
            extra = collect_controls(root)
            if cache is not None:
                cache.write_bytes(pickle.dumps(extra))
        cases += extra
    if a.check:
        grid = combos()
        rng = np.random.default_rng(0)
        pick = rng.choice(len(grid), 40, replace=False)
        fast = decisions(cases, [grid[i] for i in pick])
        slow = np.array([[decide(c, grid[i]) for c in cases] for i in pick])
        print(f"vectorised == reference on {fast.size} decisions: {bool((fast == slow).all())}")
    rep = report(cases)
    if rows:
        rep["blur"] = calibrate_blur(rows, tuple(f for f in ignore if f != "drift"))
    print(json.dumps({k: v for k, v in rep.items() if k != "clips"}, indent=1))
    if a.json:
        a.json.write_text(json.dumps(rep, indent=1) + "\n")
    if a.md:
        a.md.write_text(markdown(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
